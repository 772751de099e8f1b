"""The review trail: analysts' decisions on findings and an audit log of what was done.

Analysts confirm, dismiss or annotate a coordinated group, an account or a post. Each decision
is a new row of ``reviews``; nothing is updated in place, so the trail shows every change of
mind. The *status* of a subject is its latest ``confirm`` or ``dismiss``. Exports, logins and
reviews append to ``audit_log``.

>>> from fimiscope.store import Store
>>> store = Store(":memory:")
>>> record(store, subject_kind="group", subject_id="0", decision="confirm",
...        reason="synchronised reposts", analyst="ana", run_id="detect-1")
1
>>> status(store, "group", "0", run_id="detect-1")
'confirmed'
>>> record(store, subject_kind="group", subject_id="0", decision="dismiss",
...        reason="a fan club's repost party", analyst="ben", run_id="detect-1")
2
>>> status(store, "group", "0")
'dismissed'
>>> [h["decision"] for h in history(store, subject_kind="group")]
['dismiss', 'confirm']
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import orjson

from fimiscope._sql import first_row
from fimiscope.errors import ConfigError
from fimiscope.store import Store

__all__ = [
    "DECISIONS",
    "SUBJECT_KINDS",
    "attributions",
    "audit",
    "audit_log",
    "default_actor",
    "history",
    "record",
    "status",
    "statuses",
]

SUBJECT_KINDS = ("group", "account", "post")
DECISIONS = ("confirm", "dismiss", "annotate")
ATTRIBUTION_KINDS = ("threat-actor", "intrusion-set")
_STATUS = {"confirm": "confirmed", "dismiss": "dismissed"}
_REVIEW_COLS = (
    "review_id",
    "at",
    "analyst",
    "subject_kind",
    "subject_id",
    "platform",
    "run_id",
    "decision",
    "reason",
    "attribution",
    "attribution_kind",
    "techniques",
)


def default_actor() -> str:
    """The operating-system user, for exports made without a named actor."""
    return os.environ.get("FIMISCOPE_ACTOR") or os.environ.get("USER") or "unknown"


def _has(store: Store, table: str) -> bool:
    row = first_row(
        store.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
        )
    )
    return bool(row and row[0])


def _need_text(value: object, parameter: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(parameter, "review.record", "a non-empty string", value)
    return value.strip()


def record(
    store: Store,
    *,
    subject_kind: str,
    subject_id: str | int,
    decision: str,
    reason: str,
    analyst: str,
    run_id: str | None = None,
    platform: str | None = None,
    attribution: str | None = None,
    attribution_kind: str | None = None,
    techniques: list[str] | tuple[str, ...] | None = None,
) -> int:
    """Append an analyst decision and its audit entry; return the new ``review_id``.

    Parameters
    ----------
    subject_kind
        ``"group"``, ``"account"`` or ``"post"``.
    subject_id
        The group number (with ``run_id``), ``account_id`` or ``post_id`` (with ``platform``).
    decision
        ``"confirm"``, ``"dismiss"`` or ``"annotate"``.
    reason, analyst
        Why, and who; both required.
    attribution, attribution_kind
        Only with ``annotate``: the actor the analyst attributes the subject to, and whether
        it is a ``"threat-actor"`` or an ``"intrusion-set"`` (STIX exports name it only then).
    techniques
        Only with ``annotate``: DISARM technique ids the analyst adds to the subject.

    Raises
    ------
    ConfigError
        An unknown kind or decision, an empty reason or analyst, or attribution fields on a
        decision other than ``annotate``.
    """
    if subject_kind not in SUBJECT_KINDS:
        raise ConfigError("subject_kind", "review.record", f"one of {SUBJECT_KINDS}", subject_kind)
    if decision not in DECISIONS:
        raise ConfigError("decision", "review.record", f"one of {DECISIONS}", decision)
    sid = _need_text(str(subject_id) if isinstance(subject_id, int) else subject_id, "subject_id")
    reason = _need_text(reason, "reason")
    analyst = _need_text(analyst, "analyst")
    if (attribution or techniques) and decision != "annotate":
        raise ConfigError(
            "decision",
            "review.record",
            "'annotate' when attributing or adding techniques",
            decision,
        )
    if attribution is not None:
        attribution = _need_text(attribution, "attribution")
        attribution_kind = attribution_kind or "intrusion-set"
        if attribution_kind not in ATTRIBUTION_KINDS:
            raise ConfigError(
                "attribution_kind",
                "review.record",
                f"one of {ATTRIBUTION_KINDS}",
                attribution_kind,
            )
    elif attribution_kind is not None:
        raise ConfigError("attribution", "review.record", "given with attribution_kind", None)
    tech = None
    if techniques:
        from fimiscope.report.disarm import load_disarm

        known = load_disarm()
        bad = [t for t in techniques if t not in known.techniques]
        if bad:
            raise ConfigError(
                "techniques", "review.record", "DISARM v1.6 technique ids (e.g. T0049.003)", bad
            )
        tech = ",".join(techniques)
    now = datetime.now(UTC)
    with store.transaction() as con:
        row = first_row(con.execute("SELECT nextval('review_id_seq')"))
        assert row is not None
        review_id = int(row[0])
        con.execute(
            "INSERT INTO reviews VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                review_id,
                now,
                analyst,
                subject_kind,
                sid,
                platform,
                run_id,
                decision,
                reason,
                attribution,
                attribution_kind,
                tech,
            ],
        )
        _audit(
            con,
            actor=analyst,
            action="review",
            detail={
                "review_id": review_id,
                "subject_kind": subject_kind,
                "subject_id": sid,
                "platform": platform,
                "run_id": run_id,
                "decision": decision,
            },
            at=now,
        )
    return review_id


def _filters(
    subject_kind: str | None,
    subject_id: str | int | None,
    run_id: str | None,
    platform: str | None,
) -> tuple[str, list[Any]]:
    where, params = [], []
    for col, val in (
        ("subject_kind", subject_kind),
        ("subject_id", None if subject_id is None else str(subject_id)),
        ("run_id", run_id),
        ("platform", platform),
    ):
        if val is not None:
            where.append(f"{col} = ?")
            params.append(val)
    return (" WHERE " + " AND ".join(where)) if where else "", params


def _page(limit: int, offset: int, owner: str) -> None:
    if not isinstance(limit, int) or limit < 1:
        raise ConfigError("limit", owner, "a positive integer", limit)
    if not isinstance(offset, int) or offset < 0:
        raise ConfigError("offset", owner, "a non-negative integer", offset)


def history(
    store: Store,
    *,
    subject_kind: str | None = None,
    subject_id: str | int | None = None,
    run_id: str | None = None,
    platform: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Decisions, newest first, optionally for one kind, subject, run or platform."""
    _page(limit, offset, "review.history")
    if not _has(store, "reviews"):
        return []
    where, params = _filters(subject_kind, subject_id, run_id, platform)
    rows = store.con.execute(
        f"SELECT {', '.join(_q(c) for c in _REVIEW_COLS)} FROM reviews{where} "
        "ORDER BY review_id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    out = []
    for r in rows:
        d = dict(zip(_REVIEW_COLS, r, strict=True))
        d["at"] = d["at"].isoformat()
        d["techniques"] = d["techniques"].split(",") if d["techniques"] else []
        out.append(d)
    return out


def _q(col: str) -> str:
    return '"at"' if col == "at" else col


def status(
    store: Store,
    subject_kind: str,
    subject_id: str | int,
    *,
    run_id: str | None = None,
    platform: str | None = None,
) -> str | None:
    """``"confirmed"``, ``"dismissed"`` (the latest of the two decisions wins) or None."""
    if not _has(store, "reviews"):
        return None
    where, params = _filters(subject_kind, subject_id, run_id, platform)
    row = first_row(
        store.con.execute(
            f"SELECT decision FROM reviews{where} AND decision IN ('confirm', 'dismiss') "
            "ORDER BY review_id DESC LIMIT 1",
            params,
        )
    )
    return _STATUS[row[0]] if row else None


def statuses(store: Store, subject_kind: str, *, run_id: str | None = None) -> dict[str, str]:
    """Status of every reviewed subject of a kind (and run): ``{subject_id: status}``."""
    if not _has(store, "reviews"):
        return {}
    where, params = _filters(subject_kind, None, run_id, None)
    rows = store.con.execute(
        f"SELECT subject_id, arg_max(decision, review_id) FROM reviews{where} "
        "AND decision IN ('confirm', 'dismiss') GROUP BY subject_id",
        params,
    ).fetchall()
    return {sid: _STATUS[d] for sid, d in rows}


def attributions(
    store: Store, subject_kind: str, *, run_id: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Annotations with an attribution or techniques, per subject id, oldest first."""
    if not _has(store, "reviews"):
        return {}
    where, params = _filters(subject_kind, None, run_id, None)
    rows = store.con.execute(
        f'SELECT subject_id, analyst, "at", reason, attribution, attribution_kind, techniques '
        f"FROM reviews{where} AND decision = 'annotate' "
        "AND (attribution IS NOT NULL OR techniques IS NOT NULL) ORDER BY review_id",
        params,
    ).fetchall()
    out: dict[str, list[dict[str, Any]]] = {}
    for sid, analyst, at, reason, attr, kind, tech in rows:
        out.setdefault(sid, []).append(
            {
                "analyst": analyst,
                "at": at.isoformat(),
                "reason": reason,
                "attribution": attr,
                "attribution_kind": kind,
                "techniques": tech.split(",") if tech else [],
            }
        )
    return out


def _audit(
    con: Any, *, actor: str, action: str, detail: dict[str, Any], at: datetime | None = None
) -> None:
    row = first_row(con.execute("SELECT nextval('audit_id_seq')"))
    assert row is not None
    con.execute(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?)",
        [
            int(row[0]),
            at or datetime.now(UTC),
            actor,
            action,
            orjson.dumps(detail, default=str, option=orjson.OPT_SORT_KEYS).decode(),
        ],
    )


def audit(store: Store, *, actor: str, action: str, detail: dict[str, Any]) -> None:
    """Append one entry to the audit log."""
    actor = _need_text(actor, "actor")
    action = _need_text(action, "action")
    if not isinstance(detail, dict):
        raise ConfigError("detail", "review.audit", "a dict", type(detail).__name__)
    with store.transaction() as con:
        _audit(con, actor=actor, action=action, detail=detail)


def audit_log(store: Store, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Audit entries, newest first."""
    _page(limit, offset, "review.audit_log")
    if not _has(store, "audit_log"):
        return []
    rows = store.con.execute(
        'SELECT audit_id, "at", actor, action, detail FROM audit_log '
        "ORDER BY audit_id DESC LIMIT ? OFFSET ?",
        [limit, offset],
    ).fetchall()
    return [
        {
            "audit_id": a,
            "at": at.isoformat(),
            "actor": actor,
            "action": action,
            "detail": orjson.loads(detail) if detail else {},
        }
        for a, at, actor, action, detail in rows
    ]
