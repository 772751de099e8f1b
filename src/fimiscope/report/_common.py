"""What every export does: choose identities, collect findings, record the audit entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fimiscope.report.findings import Collection, collect
from fimiscope.report.pseudonymise import (
    Identities,
    Pseudonymiser,
    public_interest,
)
from fimiscope.store import Store

PublicList = str | Path | list[tuple[str, str, str]] | None


def identities(
    store: Store,
    *,
    pseudonymise: bool,
    key_path: str | Path | None,
    public_accounts: PublicList = None,
    state_media_public: bool = True,
) -> Identities:
    if not pseudonymise:
        return Identities(None)
    pseudo = Pseudonymiser.from_key_file(Path(key_path) if key_path else None)
    public = public_interest(store, listed=public_accounts, state_media=state_media_public)
    return Identities(pseudo, public)


def prepare(
    store: Store,
    *,
    run_id: str | None,
    include: str,
    pseudonymise: bool,
    key_path: str | Path | None,
    public_accounts: PublicList,
    state_media_public: bool,
    mapping: str | Path | dict[str, list[str]] | None,
) -> Collection:
    from fimiscope.report.disarm import load_mapping

    ids = identities(
        store,
        pseudonymise=pseudonymise,
        key_path=key_path,
        public_accounts=public_accounts,
        state_media_public=state_media_public,
    )
    return collect(
        store, run_id=run_id, include=include, identities=ids, mapping=load_mapping(mapping)
    )


def record_export(
    store: Store,
    *,
    actor: str | None,
    what: str,
    where: Path | list[Path],
    collection: Collection | None,
    pseudonymised: bool,
    extra: dict[str, Any] | None = None,
) -> None:
    from fimiscope import review

    paths = where if isinstance(where, list) else [where]
    detail: dict[str, Any] = {
        "what": what,
        "where": [str(p.resolve()) for p in paths],
        "run_ids": collection.run_ids if collection else [],
        "raw_identifiers": not pseudonymised,
    }
    if collection is not None:
        detail["include"] = collection.include
        detail["findings"] = [f.group_id for f in collection.findings]
        detail["public_interest_accounts"] = collection.public_accounts
    detail.update(extra or {})
    review.audit(store, actor=actor or review.default_actor(), action="export", detail=detail)
