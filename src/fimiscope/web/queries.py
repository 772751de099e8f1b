"""Read helpers behind the dashboard's pages.

Every list is one page (``LIMIT ? OFFSET ?`` over a stated order, asking for one row more than
shown to know whether a next page exists); nothing reads a whole table into Python. Values are
bound parameters; the only identifiers built into SQL come from fixed allow-lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import orjson

from fimiscope._sql import first_row, quote_ident

MAX_PER_PAGE = 200


@dataclass(frozen=True)
class Page:
    """A page of a list: 1-based ``number`` of ``size`` rows."""

    number: int = 1
    size: int = 50

    @classmethod
    def of(cls, number: int | None, size: int | None, default: int = 50) -> Page:
        n = max(1, min(int(number or 1), 1_000_000))
        s = max(1, min(int(size or default), MAX_PER_PAGE))
        return cls(n, s)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


@dataclass
class Rows:
    """One page of rows, and whether there is a next page."""

    rows: list[dict[str, Any]]
    page: Page
    more: bool


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = cur.fetchall()
    names = [d[0] for d in cur.description] if cur.description else []
    return [dict(zip(names, r, strict=True)) for r in rows]


def paged(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any], page: Page) -> Rows:
    """Run ``sql`` (which must end in its ORDER BY) for one page."""
    cur = con.execute(f"{sql} LIMIT ? OFFSET ?", [*params, page.size + 1, page.offset])
    rows = _dicts(cur)
    return Rows(rows[: page.size], page, len(rows) > page.size)


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> dict[str, Any] | None:
    rows = _dicts(con.execute(sql, params))
    return rows[0] if rows else None


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = first_row(
        con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_name = ?",
            [name],
        )
    )
    return bool(row and row[0])


def loads(value: Any) -> Any:
    if value is None or isinstance(value, dict | list):
        return value
    return orjson.loads(value)


# -- runs -------------------------------------------------------------------------------------
def latest_run(con: duckdb.DuckDBPyConnection, stage: str) -> str | None:
    row = first_row(
        con.execute(
            "SELECT run_id FROM runs WHERE stage = ? AND status = 'ok' "
            "ORDER BY finished_at DESC NULLS LAST, run_id DESC LIMIT 1",
            [stage],
        )
    )
    return row[0] if row else None


def run_ids(con: duckdb.DuckDBPyConnection, stage: str, limit: int = 30) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT run_id FROM runs WHERE stage = ? AND status = 'ok' "
            "ORDER BY finished_at DESC NULLS LAST LIMIT ?",
            [stage, limit],
        ).fetchall()
    ]


def characterize_run_for(con: duckdb.DuckDBPyConnection, detect_run: str | None) -> str | None:
    """The latest characterisation run made on ``detect_run`` (else the latest of all)."""
    if detect_run:
        row = first_row(
            con.execute(
                "SELECT run_id FROM runs WHERE stage = 'characterize' AND status = 'ok' "
                "AND json_extract_string(parameters, '$.coordination_run') = ? "
                "ORDER BY finished_at DESC NULLS LAST LIMIT 1",
                [detect_run],
            )
        )
        if row:
            return str(row[0])
    return latest_run(con, "characterize")


def runs(con: duckdb.DuckDBPyConnection, page: Page, stage: str | None = None) -> Rows:
    where, params = ("WHERE stage = ?", [stage]) if stage else ("", [])
    return paged(
        con,
        "SELECT run_id, stage, status, message, seed, fimiscope_version, started_at, finished_at, "
        f"parameters FROM runs {where} ORDER BY started_at DESC, run_id DESC",
        params,
        page,
    )


# -- overview ---------------------------------------------------------------------------------
def overview(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    counts = {}
    for t in ("posts", "accounts", "engagements", "rejects"):
        row = first_row(con.execute(f"SELECT count(*) FROM {quote_ident(t)}"))
        counts[t] = int(row[0]) if row else 0
    sources = _dicts(
        con.execute(
            "SELECT source_id, path, format, records, posts, accounts, engagements, rejected, "
            "ingested_at FROM sources ORDER BY source_id DESC LIMIT 20"
        )
    )
    latest = _dicts(
        con.execute(
            "SELECT run_id, stage, status, message, started_at, finished_at FROM runs "
            "ORDER BY started_at DESC LIMIT 10"
        )
    )
    alerts: list[dict[str, Any]] | None = None
    if table_exists(con, "alerts"):
        alerts = _dicts(
            con.execute(
                "SELECT alert_id, kind, severity, title, first_at, last_at, updates, run_id "
                "FROM alerts ORDER BY last_at DESC NULLS LAST LIMIT 20"
            )
        )
    return {"counts": counts, "sources": sources, "runs": latest, "alerts": alerts}


# -- groups -----------------------------------------------------------------------------------
GROUP_SORTS: dict[str, str] = {
    "group": "group_id",
    "size": "size",
    "edges": "n_edges",
    "density": "density",
    "chance": "expected_chance_edges",
    "first": "first_at",
    "last": "last_at",
}


def groups(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    page: Page,
    *,
    platform: str | None = None,
    min_size: int | None = None,
    trace: str | None = None,
    sort: str = "group",
    descending: bool = False,
) -> Rows:
    where, params = ["run_id = ?"], [run_id]
    if platform:
        where.append("platform = ?")
        params.append(platform)
    if min_size:
        where.append("size >= ?")
        params.append(int(min_size))
    if trace:
        where.append("list_contains(string_split(traces, ','), ?)")
        params.append(trace)
    col = quote_ident(GROUP_SORTS.get(sort, "group_id"))
    order = "DESC" if descending else "ASC"
    return paged(
        con,
        "SELECT group_id, platform, size, n_edges, density, traces, expected_chance_edges, "
        f"first_at, last_at, summary FROM coord_groups WHERE {' AND '.join(where)} "
        f"ORDER BY {col} {order} NULLS LAST, group_id",
        params,
        page,
    )


def group_platforms(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT platform FROM coord_groups WHERE run_id = ? AND platform IS NOT NULL "
            "ORDER BY 1",
            [run_id],
        ).fetchall()
    ]


def group(con: duckdb.DuckDBPyConnection, run_id: str, group_id: int) -> dict[str, Any] | None:
    g = one(con, "SELECT * FROM coord_groups WHERE run_id = ? AND group_id = ?", [run_id, group_id])
    if g is None:
        return None
    ev = one(
        con,
        "SELECT evidence FROM coord_evidence WHERE run_id = ? AND group_id = ?",
        [run_id, group_id],
    )
    g["evidence"] = loads(ev["evidence"]) if ev else {}
    return g


def group_members(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    group_id: int,
    char_run: str | None,
    page: Page,
) -> Rows:
    return paged(
        con,
        "SELECT m.platform, m.account_id, m.degree, m.strength, a.handle, a.display_name, "
        "a.created_at, au.score AS automation, au.flagged AS automated, "
        "tz.offset_hours, tz.ci_low, tz.ci_high, tz.template "
        "FROM coord_members m "
        "LEFT JOIN accounts a ON a.platform = m.platform AND a.account_id = m.account_id "
        "LEFT JOIN account_automation au ON au.run_id = ? AND au.platform = m.platform "
        "  AND au.account_id = m.account_id "
        "LEFT JOIN account_timezone tz ON tz.run_id = ? AND tz.platform = m.platform "
        "  AND tz.account_id = m.account_id "
        "WHERE m.run_id = ? AND m.group_id = ? "
        "ORDER BY m.strength DESC NULLS LAST, m.account_id",
        [char_run, char_run, run_id, group_id],
        page,
    )


def group_graph(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    group_id: int,
    *,
    max_nodes: int = 200,
    max_edges: int = 600,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """Nodes (the strongest ``max_nodes`` members) and the edges among them."""
    nodes = _dicts(
        con.execute(
            "SELECT m.platform, m.account_id, m.degree, m.strength, a.handle FROM coord_members m "
            "LEFT JOIN accounts a ON a.platform = m.platform AND a.account_id = m.account_id "
            "WHERE m.run_id = ? AND m.group_id = ? "
            "ORDER BY m.strength DESC NULLS LAST, m.account_id LIMIT ?",
            [run_id, group_id, max_nodes + 1],
        )
    )
    truncated = len(nodes) > max_nodes
    nodes = nodes[:max_nodes]
    keep = {n["account_id"] for n in nodes}
    edges = _dicts(
        con.execute(
            "SELECT account_a, account_b, weight, traces, fast FROM coord_edges "
            "WHERE run_id = ? AND group_id = ? ORDER BY weight DESC LIMIT ?",
            [run_id, group_id, max_edges],
        )
    )
    edges = [e for e in edges if e["account_a"] in keep and e["account_b"] in keep]
    return nodes, edges, truncated


def group_context(
    con: duckdb.DuckDBPyConnection, char_run: str | None, run_id: str, group_id: int
) -> dict[str, Any]:
    """Characterisation of a group: its time zone and its dossier of indicators."""
    out: dict[str, Any] = {"timezone": None, "dossier": None, "clock": None}
    if not char_run:
        return out
    out["timezone"] = one(
        con,
        "SELECT n_actions, offset_hours, ci_low, ci_high, template, main_language, "
        "foreign_working_day FROM group_timezone "
        "WHERE run_id = ? AND group_id = ? AND coordination_run_id = ?",
        [char_run, group_id, run_id],
    )
    d = one(
        con,
        "SELECT size, indicators, summary FROM group_dossier "
        "WHERE run_id = ? AND group_id = ? AND coordination_run_id = ?",
        [char_run, group_id, run_id],
    )
    if d:
        d["indicators"] = loads(d["indicators"]) or []
    out["dossier"] = d
    fig = one(
        con,
        "SELECT name FROM characterize_figures WHERE run_id = ? AND name = ?",
        [char_run, f"clock-group-{group_id}"],
    )
    out["clock"] = fig["name"] if fig else None
    return out


def figure(con: duckdb.DuckDBPyConnection, run_id: str, name: str) -> dict[str, Any] | None:
    return one(
        con,
        "SELECT mime, content FROM characterize_figures WHERE run_id = ? AND name = ?",
        [run_id, name],
    )


# -- accounts and posts -----------------------------------------------------------------------
def account(
    con: duckdb.DuckDBPyConnection, platform: str, account_id: str
) -> dict[str, Any] | None:
    return one(
        con,
        "SELECT * FROM accounts WHERE platform = ? AND account_id = ?",
        [platform, account_id],
    )


def account_context(
    con: duckdb.DuckDBPyConnection, char_run: str | None, platform: str, account_id: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"automation": None, "timezone": None, "features": None}
    out["groups"] = _dicts(
        con.execute(
            "SELECT m.run_id, m.group_id, m.degree, m.strength, g.size FROM coord_members m "
            "LEFT JOIN coord_groups g ON g.run_id = m.run_id AND g.group_id = m.group_id "
            "WHERE m.platform = ? AND m.account_id = ? ORDER BY m.run_id DESC LIMIT 20",
            [platform, account_id],
        )
    )
    if not char_run:
        out["state_media"] = []
        return out
    auto = one(
        con,
        "SELECT score, flagged, method, contributions, explanation FROM account_automation "
        "WHERE run_id = ? AND platform = ? AND account_id = ?",
        [char_run, platform, account_id],
    )
    if auto:
        contrib = loads(auto["contributions"]) or {}
        auto["contributions"] = sorted(contrib.items(), key=lambda kv: -abs(kv[1] or 0))[:8]
    out["automation"] = auto
    out["timezone"] = one(
        con,
        "SELECT n_actions, offset_hours, ci_low, ci_high, template FROM account_timezone "
        "WHERE run_id = ? AND platform = ? AND account_id = ?",
        [char_run, platform, account_id],
    )
    out["state_media"] = _dicts(
        con.execute(
            "SELECT outlet, country, typology, state_controlled, channel, n, first_at, "
            "min_delay_s, hop, example_post_id FROM state_media_amplification "
            "WHERE run_id = ? AND platform = ? AND account_id = ? ORDER BY n DESC LIMIT 50",
            [char_run, platform, account_id],
        )
    )
    return out


POST_COLUMNS = (
    "platform, post_id, account_id, created_at, kind, ref_post_id, ref_account_id, text, lang, "
    "like_count, repost_count, reply_count, quote_count, url"
)


def account_posts(
    con: duckdb.DuckDBPyConnection, platform: str, account_id: str, page: Page
) -> Rows:
    return paged(
        con,
        f"SELECT {POST_COLUMNS} FROM posts WHERE platform = ? AND account_id = ? "
        "ORDER BY created_at DESC NULLS LAST, post_id DESC",
        [platform, account_id],
        page,
    )


def post(con: duckdb.DuckDBPyConnection, platform: str, post_id: str) -> dict[str, Any] | None:
    p = one(
        con,
        f"SELECT {POST_COLUMNS}, is_stub, withheld FROM posts WHERE platform = ? AND post_id = ?",
        [platform, post_id],
    )
    if p is None:
        return None
    a = account(con, platform, p["account_id"]) if p["account_id"] else None
    p["handle"] = a["handle"] if a else None
    return p


def post_engagers(con: duckdb.DuckDBPyConnection, platform: str, post_id: str, page: Page) -> Rows:
    """Reposts, quotes and replies of a post, and likes, in time order."""
    return paged(
        con,
        'SELECT kind, account_id, created_at AS "at", post_id FROM posts '
        "WHERE platform = ? AND ref_post_id = ? "
        'UNION ALL SELECT kind, account_id, "at", NULL FROM engagements '
        "WHERE platform = ? AND target_post_id = ? "
        'ORDER BY "at" NULLS LAST, account_id',
        [platform, post_id, platform, post_id],
        page,
    )


def post_timeline(
    con: duckdb.DuckDBPyConnection, platform: str, post_id: str
) -> list[tuple[str, dict[str, int]]]:
    """Engagement counts by time bucket and kind; the bucket (minute to day) fits the span."""
    span = first_row(
        con.execute(
            "SELECT min(t), max(t) FROM (SELECT created_at AS t FROM posts WHERE platform = ? "
            'AND ref_post_id = ? UNION ALL SELECT "at" FROM engagements WHERE platform = ? '
            "AND target_post_id = ?)",
            [platform, post_id, platform, post_id],
        )
    )
    if not span or span[0] is None:
        return []
    seconds = (span[1] - span[0]).total_seconds()
    unit = "minute" if seconds <= 6 * 3600 else "hour" if seconds <= 14 * 86400 else "day"
    rows = con.execute(
        "SELECT date_trunc(?, t) AS b, kind, count(*) FROM (SELECT created_at AS t, kind "
        'FROM posts WHERE platform = ? AND ref_post_id = ? UNION ALL SELECT "at", kind '
        "FROM engagements WHERE platform = ? AND target_post_id = ?) WHERE t IS NOT NULL "
        "GROUP BY ALL ORDER BY b LIMIT 5000",
        [unit, platform, post_id, platform, post_id],
    ).fetchall()
    out: dict[str, dict[str, int]] = {}
    for b, kind, n in rows:
        out.setdefault(b.isoformat(), {})[kind] = int(n)
    return list(out.items())


def post_dissemination(
    con: duckdb.DuckDBPyConnection, char_run: str | None, platform: str, post_id: str
) -> dict[str, Any] | None:
    if not char_run:
        return None
    d = one(
        con,
        "SELECT n_engagements, n_timed, coordinated_share, automated_share, burst_count, "
        "burst_start, burst_expected, burst_p, burst_inauthentic_share, burst_young_share, "
        "flagged, evidence FROM post_dissemination WHERE run_id = ? AND platform = ? "
        "AND post_id = ?",
        [char_run, platform, post_id],
    )
    if d:
        d["evidence"] = loads(d["evidence"]) or {}
    return d


def search_posts(
    con: duckdb.DuckDBPyConnection, needle: str, page: Page, platform: str | None = None
) -> Rows:
    """Posts whose normalised text contains ``needle`` (normalised the same way), newest first.

    ``contains`` is a bound, literal substring test: no pattern language to escape, and since
    ``text_norm`` is already case-folded it finds what ``ILIKE '%needle%'`` finds, 5-8 times
    faster (measured on 600k posts: 100 ms against 770 ms for a word that is not there).
    """
    where, params = ["contains(text_norm, ?)"], [needle]
    if platform:
        where.append("platform = ?")
        params.append(platform)
    return paged(
        con,
        f"SELECT {POST_COLUMNS} FROM posts WHERE {' AND '.join(where)} "
        "ORDER BY created_at DESC NULLS LAST, post_id DESC",
        params,
        page,
    )


# -- state media and boosted posts ------------------------------------------------------------
def state_media_chain(con: duckdb.DuckDBPyConnection, char_run: str) -> list[dict[str, Any]]:
    rows = _dicts(
        con.execute(
            "SELECT outlet, typology, stage, accounts, actions, coordinated_share, domestic_share, "
            "median_delay_s, groups FROM state_media_chain WHERE run_id = ? "
            "ORDER BY outlet, stage LIMIT 400",
            [char_run],
        )
    )
    for r in rows:
        r["groups"] = loads(r["groups"]) or {}
    return rows


def state_media_outlets(con: duckdb.DuckDBPyConnection, char_run: str, page: Page) -> Rows:
    return paged(
        con,
        "SELECT outlet, country, typology, bool_or(state_controlled) AS state_controlled, "
        "count(DISTINCT account_id) AS accounts, sum(n) AS actions, "
        "count(DISTINCT account_id) FILTER (WHERE group_id IS NOT NULL) AS coordinated_accounts, "
        "min(first_at) AS first_at FROM state_media_amplification WHERE run_id = ? "
        "GROUP BY outlet, country, typology ORDER BY actions DESC, outlet",
        [char_run],
        page,
    )


def state_media_amplifiers(
    con: duckdb.DuckDBPyConnection, char_run: str, page: Page, outlet: str | None = None
) -> Rows:
    where, params = ["run_id = ?"], [char_run]
    if outlet:
        where.append("outlet = ?")
        params.append(outlet)
    return paged(
        con,
        "SELECT platform, account_id, any_value(group_id) AS group_id, sum(n) AS actions, "
        "string_agg(DISTINCT outlet, ', ') AS outlets, min(min_delay_s) AS min_delay_s, "
        "min(hop) AS hop FROM state_media_amplification "
        f"WHERE {' AND '.join(where)} GROUP BY platform, account_id "
        "ORDER BY actions DESC, account_id",
        params,
        page,
    )


def boosted_posts(con: duckdb.DuckDBPyConnection, char_run: str, page: Page) -> Rows:
    rows = paged(
        con,
        "SELECT platform, post_id, author_id, n_engagements, burst_count, burst_start, burst_p, "
        "burst_inauthentic_share FROM post_dissemination WHERE run_id = ? AND flagged "
        "ORDER BY burst_p ASC NULLS LAST, post_id",
        [char_run],
        page,
    )
    attach_texts(con, rows.rows)
    return rows


def attach_texts(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    """Add ``text`` and ``lang`` of the posts of one page of rows: a semi-join on the page's ids
    (measured at 6M posts: 170 ms, against 235 ms for ``IN (...)`` and 1.2 s for point lookups)."""
    by_platform: dict[str, list[str]] = {}
    for r in rows:
        by_platform.setdefault(r["platform"], []).append(r["post_id"])
    found: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for platform, ids in by_platform.items():
        for pid, text, lang in con.execute(
            "SELECT p.post_id, p.text, p.lang FROM posts p "
            "SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS id) q ON p.post_id = q.id "
            "WHERE p.platform = ?",
            [ids, platform],
        ).fetchall():
            found[(platform, pid)] = (text, lang)
    for r in rows:
        r["text"], r["lang"] = found.get((r["platform"], r["post_id"]), (None, None))


# -- narratives, trends and claims (tables of migration 30, read directly) ---------------------
def _has_rows_for(con: duckdb.DuckDBPyConnection, table: str, run_id: str | None) -> bool:
    return bool(run_id) and table_exists(con, table)


def narratives(con: duckdb.DuckDBPyConnection, run_id: str, page: Page) -> Rows:
    return paged(
        con,
        "SELECT narrative_id, label, n_posts, n_reposts, n_accounts, first_at, last_at, peak_at, "
        "coordinated_share, automated_share, state_media_share, languages FROM narratives "
        "WHERE run_id = ? ORDER BY narrative_id",
        [run_id],
        page,
    )


def narrative(
    con: duckdb.DuckDBPyConnection, run_id: str, narrative_id: int
) -> dict[str, Any] | None:
    n = one(
        con,
        "SELECT * FROM narratives WHERE run_id = ? AND narrative_id = ?",
        [run_id, narrative_id],
    )
    if n is None:
        return None
    for k in ("keywords", "languages", "platforms", "representatives"):
        n[k] = loads(n.get(k)) or ([] if k in ("keywords", "representatives") else {})
    n["volume"] = [
        (b.isoformat(), int(p or 0) + int(r or 0))
        for b, p, r in con.execute(
            "SELECT bucket, posts, reposts FROM narrative_volume WHERE run_id = ? "
            "AND narrative_id = ? ORDER BY bucket LIMIT 5000",
            [run_id, narrative_id],
        ).fetchall()
    ]
    return n


def narrative_posts(
    con: duckdb.DuckDBPyConnection, run_id: str, narrative_id: int, page: Page
) -> Rows:
    return paged(
        con,
        f"SELECT np.similarity, {', '.join('p.' + c.strip() for c in POST_COLUMNS.split(','))} "
        "FROM narrative_posts np JOIN posts p ON p.platform = np.platform "
        "AND p.post_id = np.post_id WHERE np.run_id = ? AND np.narrative_id = ? "
        "ORDER BY np.similarity DESC NULLS LAST, np.post_id",
        [run_id, narrative_id],
        page,
    )


def trends(con: duckdb.DuckDBPyConnection, page: Page) -> Rows | None:
    run_id = latest_run(con, "trends")
    if not _has_rows_for(con, "trends", run_id):
        return None
    return paged(
        con,
        "SELECT kind, key, narratives_run_id, narrative_id, label, flagged_at, window_start, "
        '"count", expected, p_value, delay_s, peak_count FROM trends WHERE run_id = ? '
        "ORDER BY flagged_at DESC, key",
        [run_id],
        page,
    )


def group_narratives(
    con: duckdb.DuckDBPyConnection, narr_run: str | None, run_id: str, group_id: int
) -> list[dict[str, Any]]:
    """Narratives the group's members posted in, most posts first."""
    if not _has_rows_for(con, "narrative_posts", narr_run):
        return []
    return _dicts(
        con.execute(
            "SELECT n.narrative_id, n.label, count(*) AS member_posts, n.n_posts "
            "FROM coord_members m JOIN posts p ON p.platform = m.platform "
            "AND p.account_id = m.account_id "
            "JOIN narrative_posts np ON np.run_id = ? AND np.platform = p.platform "
            "AND np.post_id = p.post_id "
            "JOIN narratives n ON n.run_id = np.run_id AND n.narrative_id = np.narrative_id "
            "WHERE m.run_id = ? AND m.group_id = ? GROUP BY ALL "
            "ORDER BY member_posts DESC, n.narrative_id LIMIT 20",
            [narr_run, run_id, group_id],
        )
    )


def claim_matches(
    con: duckdb.DuckDBPyConnection,
    *,
    post: tuple[str, str] | None = None,
    group: tuple[str, int] | None = None,
    limit: int = 20,
) -> list[dict[str, Any]] | None:
    """Fact-checked claims matched by one post, or by a group's members' posts."""
    claims_run = latest_run(con, "claims")
    if not _has_rows_for(con, "claim_matches", claims_run):
        return None
    where, params = ["cm.run_id = ?"], [claims_run]
    join = ""
    if post is not None:
        where += ["cm.platform = ?", "cm.post_id = ?"]
        params += list(post)
    if group is not None:
        join = (
            "JOIN coord_members m ON m.platform = cm.platform AND m.account_id = cm.account_id "
            "AND m.run_id = ? AND m.group_id = ? "
        )
        params = [group[0], group[1], *params]
    return _dicts(
        con.execute(
            "SELECT cm.claim_id, cm.platform, cm.post_id, cm.account_id, cm.score, cm.reposts, "
            "c.text AS claim_text, c.verdict, c.rating_text, c.reviewer, c.review_url, c.lang "
            f"FROM claim_matches cm {join}LEFT JOIN claims c ON c.claim_id = cm.claim_id "
            f"WHERE {' AND '.join(where)} ORDER BY cm.score DESC, cm.post_id LIMIT ?",
            [*params, limit],
        )
    )
