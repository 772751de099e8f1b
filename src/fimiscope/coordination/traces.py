"""Traces: target extractors that turn canonical rows into actions.

A trace is anything with a ``name``, a ``description``, an ``origin`` and a ``build`` method
that returns a SQL ``SELECT`` producing the action columns

``platform, account_id, trace, target, at, post_id, t0``

where ``t0`` is when the target came into being (the reposted post's ``created_at``), or NULL
when unknown (the engine then takes the first observed action on the target). Targets that
actors *create* themselves (texts, timing) have ``origin = "created"``; targets that exist
before the actors act on them (posts, URLs, tags) have ``origin = "existing"``. Empty targets
must be NULL or ``''``: the engine never matches them.

Built-in traces register through :func:`register_trace`, exactly as a plug-in would.

Examples
--------
>>> sorted(traces())[:4]
['domain', 'hashtag', 'hashtag_seq', 'like']
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol, runtime_checkable

import duckdb

from fimiscope._sql import quote_ident
from fimiscope.errors import ConfigError

__all__ = [
    "ACTION_SELECT_COLUMNS",
    "SQLTrace",
    "Trace",
    "build_actions",
    "check_period",
    "get_trace",
    "register_trace",
    "traces",
]

ACTION_SELECT_COLUMNS = 'platform, account_id, trace, target, "at", post_id, t0'
"""Columns (in order) of the SELECT a trace's ``build`` returns, and of :func:`build_actions`."""

Origin = Literal["existing", "created"]


@runtime_checkable
class Trace(Protocol):
    """What the engine needs from a trace."""

    name: str
    description: str
    origin: Origin
    untimed_name: str | None
    """Trace name the extractor gives rows without a time (set-overlap evidence), if any."""

    def build(self, con: duckdb.DuckDBPyConnection) -> str:
        """Prepare what is needed and return a SELECT producing the action columns."""
        ...


@dataclass(frozen=True)
class SQLTrace:
    """A trace that is one reviewed SQL query over the canonical store."""

    name: str
    description: str
    sql: str
    origin: Origin = "existing"
    untimed_name: str | None = None

    def build(self, con: duckdb.DuckDBPyConnection) -> str:
        return self.sql


_REGISTRY: dict[str, Trace] = {}


def register_trace(trace: Trace, *, replace: bool = False) -> Trace:
    """Add a trace to the registry (built-ins use this too)."""
    if not isinstance(trace, Trace):
        raise ConfigError("trace", "register_trace", "an object with the Trace protocol", trace)
    if trace.name in _REGISTRY and not replace:
        raise ConfigError("trace", "register_trace", "a name not yet registered", trace.name)
    _REGISTRY[trace.name] = trace
    return trace


def traces() -> dict[str, Trace]:
    """Every registered trace by name."""
    _load_builtins()
    return dict(_REGISTRY)


def get_trace(name: str) -> Trace:
    all_ = traces()
    if name not in all_:
        raise ConfigError("traces", "detect", f"names among {sorted(all_)}", name)
    return all_[name]


def check_period(
    since: object, until: object, owner: str = "detect"
) -> tuple[datetime | None, datetime | None]:
    """Validate an optional ``[since, until)`` period; naive datetimes are taken as UTC.

    >>> check_period(datetime(2024, 1, 1), None)
    (datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), None)
    """
    out: list[datetime | None] = []
    for name, v in (("since", since), ("until", until)):
        if v is None:
            out.append(None)
            continue
        if not isinstance(v, datetime):
            raise ConfigError(name, owner, "a datetime, or None", v)
        out.append(v if v.tzinfo is not None else v.replace(tzinfo=UTC))
    lo, hi = out
    if lo is not None and hi is not None and not lo < hi:
        raise ConfigError("until", owner, f"a datetime later than since ({lo.isoformat()})", hi)
    return lo, hi


def _accepts_period(trace: Trace) -> bool:
    try:
        names = inspect.signature(trace.build).parameters
    except (TypeError, ValueError):
        return False
    return "since" in names and "until" in names


def build_actions(
    con: duckdb.DuckDBPyConnection,
    names: Sequence[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    out: str = "_fs_actions",
) -> str:
    """Run the named traces and write their actions into the temp table ``out``.

    With ``since`` and/or ``until`` only actions with ``since <= at < until`` are kept; an
    action without a time (an X like, ``like_untimed``) cannot be placed in the period and is
    dropped whenever a bound is given. Traces whose ``build`` accepts ``since``/``until``
    keywords (the text traces) also restrict their own preparation to the period, which keeps
    near-duplicate clustering proportional to the period, not to the whole store.

    Returns ``out`` with the columns of :data:`ACTION_SELECT_COLUMNS`.
    """
    since, until = check_period(since, until)
    chosen = [get_trace(n) for n in names]
    selects = []
    for t in chosen:
        if _accepts_period(t):
            selects.append(t.build(con, since=since, until=until))  # type: ignore[call-arg]
        else:
            selects.append(t.build(con))
    conds, params = [], []
    if since is not None:
        conds.append('"at" >= ?')
        params.append(since)
    if until is not None:
        conds.append('"at" < ?')
        params.append(until)
    where = (" WHERE " + " AND ".join(conds)) if conds else ""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote_ident(out)} AS "
        + " UNION ALL ".join(f"SELECT {ACTION_SELECT_COLUMNS} FROM ({s}){where}" for s in selects),
        params * len(selects),
    )
    return out


# -- built-ins -----------------------------------------------------------------------------------

# Reposts are excluded from content traces (link, hashtag, ...): an X retweet repeats the
# original's entities, and co-repost already counts it.
_ORIGINAL = "p.kind <> 'repost'"


def _ref_trace(name: str, ref_type: str, what: str) -> SQLTrace:
    return SQLTrace(
        name,
        f"Accounts that {what} the same post (target: the referenced post id).",
        "SELECT r.platform, p.account_id, '" + name + "' AS trace, r.ref_post_id AS target, "
        'p.created_at AS "at", p.post_id, o.created_at AS t0 '
        "FROM post_refs r JOIN posts p ON p.platform = r.platform AND p.post_id = r.post_id "
        "LEFT JOIN posts o ON o.platform = r.platform AND o.post_id = r.ref_post_id "
        "WHERE r.ref_type = '" + ref_type + "'",
    )


def _entity_trace(name: str, description: str, table: str, expr: str, **kw: object) -> SQLTrace:
    # DISTINCT per (post, target): a post that carries the same URL or tag twice is one action
    return SQLTrace(
        name,
        description,
        "SELECT p.platform, p.account_id, '" + name + "' AS trace, e.target, "
        'p.created_at AS "at", p.post_id, CAST(NULL AS TIMESTAMPTZ) AS t0 '
        f"FROM (SELECT DISTINCT e.platform, e.post_id, {expr} AS target FROM {table} e) e "
        "JOIN posts p ON p.platform = e.platform AND p.post_id = e.post_id "
        f"WHERE {_ORIGINAL}",
        **kw,  # type: ignore[arg-type]
    )


_BUILTINS: list[Trace] = [
    SQLTrace(
        "repost",
        "Accounts that reposted the same post (target: the reposted post id): repost posts, "
        "and engagements of kind `repost` (X retweeted-by lists) not already a repost post; "
        "those without a time form the set-overlap trace `repost_untimed`.",
        "SELECT p.platform, p.account_id, 'repost' AS trace, p.ref_post_id AS target, "
        'p.created_at AS "at", p.post_id, o.created_at AS t0 '
        "FROM posts p LEFT JOIN posts o ON o.platform = p.platform AND o.post_id = p.ref_post_id "
        "WHERE p.kind = 'repost' "
        "UNION ALL "
        "SELECT e.platform, e.account_id, "
        "CASE WHEN e.\"at\" IS NULL THEN 'repost_untimed' ELSE 'repost' END, "
        'e.target_post_id, e."at", CAST(NULL AS VARCHAR), o.created_at '
        "FROM engagements e "
        "LEFT JOIN posts o ON o.platform = e.platform AND o.post_id = e.target_post_id "
        "WHERE e.kind = 'repost' AND NOT EXISTS (SELECT 1 FROM posts r WHERE r.kind = 'repost' "
        "  AND r.platform = e.platform AND r.account_id = e.account_id "
        "  AND r.ref_post_id = e.target_post_id)",
        untimed_name="repost_untimed",
    ),
    _ref_trace("quote", "quote", "quoted"),
    _ref_trace("reply", "reply", "replied to"),
    SQLTrace(
        "like",
        "Accounts that liked the same post; likes without a time (X) form the set-overlap "
        "trace `like_untimed`.",
        "SELECT e.platform, e.account_id, "
        "CASE WHEN e.\"at\" IS NULL THEN 'like_untimed' ELSE 'like' END AS trace, "
        'e.target_post_id AS target, e."at", CAST(NULL AS VARCHAR) AS post_id, '
        "o.created_at AS t0 FROM engagements e "
        "LEFT JOIN posts o ON o.platform = e.platform AND o.post_id = e.target_post_id "
        "WHERE e.kind = 'like'",
        untimed_name="like_untimed",
    ),
    _entity_trace(
        "link", "Accounts that shared the same normalised URL.", "post_urls", "e.url_norm"
    ),
    _entity_trace(
        "domain",
        "Accounts that linked the same domain (coarser than `link`).",
        "post_urls",
        "e.domain",
    ),
    _entity_trace(
        "hashtag", "Accounts that used the same normalised hashtag.", "post_hashtags", "e.tag_norm"
    ),
    SQLTrace(
        "hashtag_seq",
        "Accounts whose posts carry the same ordered sequence of two or more hashtags.",
        "SELECT p.platform, p.account_id, 'hashtag_seq' AS trace, s.seq AS target, "
        'p.created_at AS "at", p.post_id, CAST(NULL AS TIMESTAMPTZ) AS t0 FROM ('
        "  SELECT platform, post_id, string_agg(tag_norm, ' ' ORDER BY position) AS seq "
        "  FROM post_hashtags GROUP BY platform, post_id HAVING count(*) >= 2"
        ") s JOIN posts p ON p.platform = s.platform AND p.post_id = s.post_id "
        f"WHERE {_ORIGINAL}",
    ),
    _entity_trace(
        "mention",
        "Accounts that mentioned the same account (by id, else by folded handle).",
        "post_mentions",
        "coalesce(e.mentioned_account_id, '@' || e.handle_norm)",
    ),
    _entity_trace(
        "media",
        "Accounts that posted the same image or video (media key, else media URL).",
        "post_media",
        "coalesce(e.media_key, e.url)",
        origin="created",
    ),
    _entity_trace(
        "media_phash",
        "Accounts that posted a perceptually identical image (needs `post_media.phash`).",
        "post_media",
        "e.phash",
        origin="created",
    ),
    SQLTrace(
        "timing",
        "Accounts that post original content in the same second again and again, whatever "
        "the content (target: the UTC second). Off by default: only with a strict null.",
        "SELECT p.platform, p.account_id, 'timing' AS trace, "
        "CAST(epoch(date_trunc('second', p.created_at)) AS BIGINT)::VARCHAR AS target, "
        'p.created_at AS "at", p.post_id, CAST(NULL AS TIMESTAMPTZ) AS t0 '
        f"FROM posts p WHERE {_ORIGINAL} AND p.created_at IS NOT NULL",
        origin="created",
    ),
]

_loaded = False


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    from fimiscope.coordination.textsim import TEXT_TRACES

    for t in (*_BUILTINS, *TEXT_TRACES):
        if t.name not in _REGISTRY:
            register_trace(t)
