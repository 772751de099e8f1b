"""Reports and sharing: the HTML investigation report, STIX 2.1 bundles with DISARM
techniques, platform notices, and pseudonymised research exports.

Every writer pseudonymises account identifiers by default (keyed HMAC tokens; the key stays in
a file outside the store and outside every export), includes only analyst-confirmed findings
unless ``include="all"`` (then the output is marked as a draft), and appends an entry to the
store's audit log (who, what, where, which runs, whether identifiers were raw).

>>> from fimiscope.report import write_report, write_stix, write_notice  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fimiscope.report._common import PublicList, prepare, record_export
from fimiscope.store import Store

__all__ = ["write_notice", "write_report", "write_research", "write_stix"]

Mapping = str | Path | dict[str, list[str]] | None


def write_report(
    store: Store,
    out_path: str | Path,
    *,
    run_id: str | None = None,
    include: str = "confirmed",
    pseudonymise: bool = True,
    key_path: str | Path | None = None,
    actor: str | None = None,
    public_accounts: PublicList = None,
    state_media_public: bool = True,
    mapping: Mapping = None,
    title: str | None = None,
) -> Path:
    """Write the self-contained HTML investigation report of a detect run.

    Parameters
    ----------
    store
        The store (opened writable: the export is recorded in its audit log).
    out_path
        The ``.html`` file to write.
    run_id
        The detect run (default: the latest successful one).
    include
        ``"confirmed"`` (default): only groups an analyst confirmed; ``"all"``: a draft with
        every group, each marked with its review status.
    pseudonymise
        Replace account identifiers and handles by keyed tokens (default). Public-interest
        accounts (state-affiliated outlets of the registry, ``public_accounts``) stay named.
    key_path
        The pseudonymisation key file (default ``~/.config/fimiscope/pseudonym.key``; created
        on first use).
    actor
        Who exports, for the audit log (default: ``$FIMISCOPE_ACTOR`` or ``$USER``).
    public_accounts
        An analyst's list of accounts that stay named: a file of ``platform:handle`` lines
        (see :func:`fimiscope.report.pseudonymise.read_public_list`) or triples.
    mapping
        Analyst overrides of the DISARM mapping rules (dict or JSON file).

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    NotFoundError
        The store has no (such) detect run.
    ConfigError
        A bad ``include``, mapping or public-accounts file.
    """
    from fimiscope.report.html import write_html

    c = prepare(
        store,
        run_id=run_id,
        include=include,
        pseudonymise=pseudonymise,
        key_path=key_path,
        public_accounts=public_accounts,
        state_media_public=state_media_public,
        mapping=mapping,
    )
    out = write_html(c, Path(out_path), title=title)
    record_export(
        store, actor=actor, what="report-html", where=out, collection=c, pseudonymised=pseudonymise
    )
    return out


def write_stix(
    store: Store,
    out_path: str | Path,
    *,
    run_id: str | None = None,
    include: str = "confirmed",
    tlp: str = "amber",
    pseudonymise: bool = True,
    key_path: str | Path | None = None,
    actor: str | None = None,
    public_accounts: PublicList = None,
    state_media_public: bool = True,
    mapping: Mapping = None,
    producer: str = "fimiscope analyst",
) -> Path:
    """Write a STIX 2.1 bundle of the findings, with DISARM attack-patterns.

    ``tlp`` is ``clear``/``white``, ``green``, ``amber`` (default) or ``red``; ``producer``
    names the identity the objects are created by. Other parameters as :func:`write_report`.
    """
    from fimiscope.report.stix import build_bundle

    c = prepare(
        store,
        run_id=run_id,
        include=include,
        pseudonymise=pseudonymise,
        key_path=key_path,
        public_accounts=public_accounts,
        state_media_public=state_media_public,
        mapping=mapping,
    )
    bundle = build_bundle(c, tlp=tlp, producer=producer)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(bundle, encoding="utf-8")
    record_export(
        store,
        actor=actor,
        what="stix",
        where=out,
        collection=c,
        pseudonymised=pseudonymise,
        extra={"tlp": tlp},
    )
    return out


def write_notice(
    store: Store,
    out_path: str | Path,
    *,
    platform: str,
    fmt: str = "json",
    run_id: str | None = None,
    include: str = "confirmed",
    pseudonymise: bool = True,
    key_path: str | Path | None = None,
    actor: str | None = None,
    public_accounts: PublicList = None,
    state_media_public: bool = True,
    sender: str = "fimiscope analyst",
) -> Path:
    """Write a notice to one platform (``fmt`` ``"json"`` or ``"csv"``): the accounts and posts
    of the findings on that platform, the behaviour observed, the evidence and the policy
    basis (coordinated inauthentic behaviour, platform manipulation and spam rules).

    A notice for the platform's trust-and-safety team usually needs raw identifiers
    (``pseudonymise=False``), which the audit log records. Other parameters as
    :func:`write_report`.
    """
    from fimiscope.report.notice import write as write_notice_file

    c = prepare(
        store,
        run_id=run_id,
        include=include,
        pseudonymise=pseudonymise,
        key_path=key_path,
        public_accounts=public_accounts,
        state_media_public=state_media_public,
        mapping=None,
    )
    out = write_notice_file(c, Path(out_path), platform=platform, fmt=fmt, sender=sender)
    record_export(
        store,
        actor=actor,
        what=f"notice-{fmt}",
        where=out,
        collection=c,
        pseudonymised=pseudonymise,
        extra={"platform": platform},
    )
    return out


def write_research(
    store: Store,
    out_dir: str | Path,
    *,
    run_id: str | None = None,
    key_path: str | Path | None = None,
    actor: str | None = None,
) -> list[Path]:
    """Pseudonymised Parquet tables and a GEXF graph of a detect run for researchers.

    Coordination tables and the graph come from
    :func:`fimiscope.coordination.export.export_run` (free-text evidence left out); the
    characterisation tables of the run's latest characterisation are added, every account
    identifier and handle replaced by its keyed token, profile text dropped.
    """
    from fimiscope.coordination.export import export_run
    from fimiscope.errors import NotFoundError
    from fimiscope.report.findings import _characterize_run
    from fimiscope.report.pseudonymise import Pseudonymiser, pseudonymised_query

    run_id = run_id or store.latest_run("detect")
    if run_id is None:
        raise NotFoundError(f"no detect run in {store.path}")
    pseudo = Pseudonymiser.from_key_file(Path(key_path) if key_path else None)
    out = Path(out_dir)
    written = export_run(store, run_id, out, ("gexf", "parquet"), pseudonymiser=pseudo)
    ch = _characterize_run(store, run_id)
    runs = [run_id]
    if ch is not None:
        runs.append(ch["run_id"])
        for table in (
            "account_automation",
            "account_timezone",
            "group_timezone",
            "state_media_amplification",
            "group_dossier",
        ):
            if table not in store.tables():
                continue
            base = pseudonymised_query(store.con, table, pseudo)
            if table == "state_media_amplification":
                # Post ids of Bluesky are AT-URIs that carry the author's DID.
                base = f"SELECT * EXCLUDE (example_post_id) FROM ({base})"
            path = out / f"{table}.parquet"
            store.export_table(
                table,
                path,
                fmt="parquet",
                query=f"SELECT * FROM ({base}) WHERE run_id = ?",
                params=[ch["run_id"]],
            )
            written.append(path)
    # group_dossier's evidence text names outlets, never accounts; the automation explanation
    # names features only. Both are kept.
    detail: dict[str, Any] = {
        "what": "research",
        "where": [str(p.resolve()) for p in written],
        "run_ids": runs,
        "raw_identifiers": False,
    }
    from fimiscope import review

    review.audit(store, actor=actor or review.default_actor(), action="export", detail=detail)
    return written
