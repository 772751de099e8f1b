"""Collect what every export says about a detect run: findings with their evidence.

One function, :func:`collect`, reads the coordination, characterisation, narrative and review
tables and returns a :class:`Collection`; the HTML report, the STIX bundle and the platform
notices render the same collection, so they never disagree. Identifiers are turned into what
the export may show (tokens, or names for public-interest accounts) here, once.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson

from fimiscope import __version__
from fimiscope._sql import first_row
from fimiscope.errors import ConfigError, NotFoundError
from fimiscope.report import disarm
from fimiscope.report.pseudonymise import Identities
from fimiscope.store import Store

__all__ = ["INCLUDE", "Collection", "Finding", "collect"]

INCLUDE = ("confirmed", "all")
EXAMPLE_POSTS = 6
NOTICE_POSTS = 200


@dataclass
class Finding:
    """One coordinated group with its evidence, identifiers already as the export shows them."""

    group_id: int
    platform: str
    status: str  # confirmed / dismissed / unreviewed
    size: int
    n_edges: int
    density: float
    traces: list[str]
    expected_chance_edges: float
    first_at: datetime | None
    last_at: datetime | None
    summary: str
    members: list[dict[str, Any]]
    edges: list[tuple[str, str, float]]
    trace_counts: dict[str, dict[str, Any]]
    shared_targets: list[dict[str, Any]]
    timeline: list[tuple[str, int]]
    example_posts: list[dict[str, Any]]
    posts: list[dict[str, Any]]
    links: list[dict[str, Any]]
    hashtags: list[dict[str, Any]]
    automation: dict[str, Any] | None
    timezone: dict[str, Any] | None
    clock_svg: bytes | None
    state_media: list[dict[str, Any]]
    indicators: list[dict[str, Any]]
    dossier_summary: str | None
    boosted_posts: list[dict[str, Any]]
    narratives: list[dict[str, Any]]
    fact_checks: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    attributions: list[dict[str, Any]]
    rules: list[str]
    techniques: dict[str, list[str]]
    innocent_explanations: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"group-{self.group_id}"


@dataclass
class Collection:
    """Everything an export needs about one detect run."""

    run_id: str
    detect_run: dict[str, Any]
    characterize_run: dict[str, Any] | None
    narrative_run: dict[str, Any] | None
    claims_run: dict[str, Any] | None
    include: str
    findings: list[Finding]
    groups_total: int
    groups_by_status: dict[str, int]
    store_summary: dict[str, Any]
    sources: list[dict[str, Any]]
    generated_at: datetime
    version: str
    pseudonymised: bool
    public_accounts: int
    mapping: dict[str, tuple[str, ...]]
    identities: Identities = field(repr=False)

    @property
    def run_ids(self) -> list[str]:
        runs = [self.run_id]
        for r in (self.characterize_run, self.narrative_run, self.claims_run):
            if r:
                runs.append(r["run_id"])
        return runs


def _tables(store: Store) -> set[str]:
    return set(store.tables())


def _columns(store: Store, table: str) -> set[str]:
    return {
        r[0]
        for r in store.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
        ).fetchall()
    }


def _dicts(store: Store, query: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = store.con.execute(query, params)
    rows = cur.fetchall()
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in rows]


def _characterize_run(store: Store, run_id: str) -> dict[str, Any] | None:
    rows = store.sql(
        "SELECT run_id FROM runs WHERE stage = 'characterize' AND status = 'ok' "
        "AND json_extract_string(parameters, '$.coordination_run') = ? "
        "ORDER BY finished_at DESC LIMIT 1",
        [run_id],
    )
    return store.run(rows[0][0]) if rows else None


def _latest(store: Store, stage: str) -> dict[str, Any] | None:
    run = store.latest_run(stage)
    return store.run(run) if run else None


def collect(
    store: Store,
    *,
    run_id: str | None = None,
    include: str = "confirmed",
    identities: Identities,
    mapping: dict[str, tuple[str, ...]] | None = None,
) -> Collection:
    """Gather the findings of a detect run (default: the latest) for an export.

    Parameters
    ----------
    include
        ``"confirmed"``: only groups whose latest review confirms them; ``"all"``: every group,
        each marked with its review status (a draft).
    identities
        How identifiers are shown (see :class:`Identities`); members are registered with it so
        free text is scrubbed of them.

    Raises
    ------
    NotFoundError
        No detect run (or not the given one).
    ConfigError
        ``include`` is neither value.
    """
    from fimiscope import review

    if include not in INCLUDE:
        raise ConfigError("include", "report", "'confirmed' or 'all'", include)
    run_id = run_id or store.latest_run("detect")
    if run_id is None:
        raise NotFoundError(f"no detect run in {store.path}; run `fimiscope detect` first")
    detect_run = store.run(run_id)
    if detect_run["stage"] != "detect":
        raise NotFoundError(f"run {run_id!r} is a {detect_run['stage']} run, not a detect run")
    tables = _tables(store)
    ch = _characterize_run(store, run_id)
    nar = _latest(store, "narratives")
    claims_run = _latest(store, "claims")
    mapping = mapping if mapping is not None else disarm.load_mapping()
    statuses = review.statuses(store, "group", run_id=run_id)
    attributions = review.attributions(store, "group", run_id=run_id)
    groups = _dicts(
        store, "SELECT * FROM coord_groups WHERE run_id = ? ORDER BY group_id", [run_id]
    )
    by_status: dict[str, int] = {"confirmed": 0, "dismissed": 0, "unreviewed": 0}
    for g in groups:
        by_status[statuses.get(str(g["group_id"]), "unreviewed")] += 1
    chosen = [
        g for g in groups if include == "all" or statuses.get(str(g["group_id"])) == "confirmed"
    ]
    # Register every member (and mentioned account) first, so that scrubbing free text of any
    # finding knows all of them.
    members_by_group: dict[int, list[dict[str, Any]]] = {}
    for g in chosen:
        members_by_group[g["group_id"]] = _members(store, run_id, g["group_id"], ch)
        for m in members_by_group[g["group_id"]]:
            identities.add(m["platform"], m["account_id"], m["handle"])
    findings = [
        _finding(
            store,
            run_id,
            g,
            members_by_group[g["group_id"]],
            ch,
            nar,
            claims_run,
            tables,
            identities,
            statuses.get(str(g["group_id"]), "unreviewed"),
            attributions.get(str(g["group_id"]), []),
            mapping,
        )
        for g in chosen
    ]
    span = first_row(
        store.con.execute(
            "SELECT count(*), count(DISTINCT account_id), min(created_at), max(created_at) "
            "FROM posts"
        )
    )
    platforms = [r[0] for r in store.sql("SELECT DISTINCT platform FROM posts ORDER BY 1")]
    sources = _dicts(
        store,
        "SELECT format, sha256, records, posts, rejected, ingested_at FROM sources "
        "ORDER BY source_id",
        [],
    )
    return Collection(
        run_id=run_id,
        detect_run=detect_run,
        characterize_run=ch,
        narrative_run=nar,
        claims_run=claims_run,
        include=include,
        findings=findings,
        groups_total=len(groups),
        groups_by_status=by_status,
        store_summary={
            "posts": span[0] if span else 0,
            "accounts": span[1] if span else 0,
            "first_at": span[2] if span else None,
            "last_at": span[3] if span else None,
            "platforms": platforms,
            "input_digest": store.source_digest(),
        },
        sources=sources,
        generated_at=datetime.now(UTC),
        version=__version__,
        pseudonymised=not identities.raw,
        public_accounts=len(identities.public.accounts),
        mapping=mapping,
        identities=identities,
    )


def _members(
    store: Store, run_id: str, gid: int, ch: dict[str, Any] | None
) -> list[dict[str, Any]]:
    ch_id = ch["run_id"] if ch else None
    return _dicts(
        store,
        "SELECT m.platform, m.account_id, a.handle, m.degree, m.strength, a.created_at, "
        "aa.score AS automation_score, aa.flagged AS automated, aa.explanation, "
        "tz.offset_hours "
        "FROM coord_members m "
        "LEFT JOIN accounts a ON a.platform = m.platform AND a.account_id = m.account_id "
        "LEFT JOIN account_automation aa ON aa.run_id = ? AND aa.platform = m.platform "
        "  AND aa.account_id = m.account_id "
        "LEFT JOIN account_timezone tz ON tz.run_id = ? AND tz.platform = m.platform "
        "  AND tz.account_id = m.account_id "
        "WHERE m.run_id = ? AND m.group_id = ? ORDER BY m.strength DESC, m.account_id",
        [ch_id, ch_id, run_id, gid],
    )


def _show_target(ids: Identities, trace: str, platform: str, target: str) -> str:
    if trace in ("mention",):
        return ids.account(platform, target) or target
    if trace in ("repost", "like", "like_untimed", "quote", "reply"):
        return ids.post(platform, target) or target
    return ids.scrub(target, platform) or target


def _finding(
    store: Store,
    run_id: str,
    g: dict[str, Any],
    members: list[dict[str, Any]],
    ch: dict[str, Any] | None,
    nar: dict[str, Any] | None,
    claims_run: dict[str, Any] | None,
    tables: set[str],
    ids: Identities,
    status: str,
    attributions: list[dict[str, Any]],
    mapping: dict[str, tuple[str, ...]],
) -> Finding:
    from fimiscope import review

    gid = g["group_id"]
    platform = g["platform"]
    member_ids = [m["account_id"] for m in members]
    ev_row = first_row(
        store.con.execute(
            "SELECT evidence FROM coord_evidence WHERE run_id = ? AND group_id = ?", [run_id, gid]
        )
    )
    ev = orjson.loads(ev_row[0]) if ev_row and ev_row[0] else {}
    edges = [
        (ids.account(platform, a) or a, ids.account(platform, b) or b, float(w or 0))
        for a, b, w in store.sql(
            "SELECT account_a, account_b, weight FROM coord_edges WHERE run_id = ? "
            "AND group_id = ?",
            [run_id, gid],
        )
    ]
    shown_members = [
        {
            **m,
            "shown_id": ids.account(m["platform"], m["account_id"]),
            "shown_handle": ids.handle(m["platform"], m["account_id"], m["handle"]),
            "public_interest": ids.public.reason(m["platform"], m["account_id"]),
            "explanation": ids.scrub(m["explanation"], platform),
        }
        for m in members
    ]
    shared = []
    post_ids: list[str] = []
    for t in ev.get("shared_targets", []):
        post_ids.extend(t.get("posts") or [])
        shared.append(
            {
                "trace": t.get("trace"),
                "target": _show_target(ids, t.get("trace", ""), platform, str(t.get("target"))),
                "accounts": t.get("accounts"),
                "actions": t.get("actions"),
                "first_at": t.get("first_at"),
                "last_at": t.get("last_at"),
            }
        )
    examples = _dicts(
        store,
        "SELECT any_value(post_id ORDER BY created_at) AS post_id, "
        "any_value(text ORDER BY created_at) AS text, count(*) AS copies, "
        "count(DISTINCT account_id) AS accounts, min(created_at) AS first_at, "
        "max(created_at) AS last_at, any_value(lang) AS lang "
        "FROM posts WHERE platform = ? AND account_id IN (SELECT unnest(?::VARCHAR[])) "
        "AND kind IN ('post', 'quote', 'reply') AND coalesce(text_norm, '') <> '' "
        "GROUP BY text_norm ORDER BY copies DESC, first_at LIMIT ?",
        [platform, member_ids, EXAMPLE_POSTS],
    )
    for e in examples:
        e["text"] = ids.scrub(e["text"], platform)
        e["post_id"] = ids.post(platform, e["post_id"])
    posts = _dicts(
        store,
        "SELECT post_id, account_id, kind, created_at, url, ref_post_id, text FROM posts "
        "WHERE platform = ? AND (post_id IN (SELECT unnest(?::VARCHAR[])) OR "
        "(account_id IN (SELECT unnest(?::VARCHAR[])) AND kind IN ('post', 'quote', 'reply'))) "
        "ORDER BY created_at LIMIT ?",
        [platform, post_ids, member_ids, NOTICE_POSTS],
    )
    for p in posts:
        p["url"] = ids.post_url(platform, p["post_id"], p["url"])
        p["post_id"] = ids.post(platform, p["post_id"])
        p["ref_post_id"] = ids.post(platform, p["ref_post_id"])
        p["account_id"] = ids.account(platform, p["account_id"])
        p["text"] = ids.scrub(p["text"], platform)
    links = _dicts(
        store,
        "SELECT u.url_norm AS url, u.domain, count(DISTINCT p.account_id) AS accounts, "
        "count(*) AS posts FROM post_urls u JOIN posts p USING (platform, post_id) "
        "WHERE p.platform = ? AND p.account_id IN (SELECT unnest(?::VARCHAR[])) "
        "GROUP BY ALL HAVING count(DISTINCT p.account_id) >= 2 ORDER BY accounts DESC, posts DESC "
        "LIMIT 10",
        [platform, member_ids],
    )
    for lk in links:
        lk["url"] = ids.scrub(lk["url"], platform)
    hashtags = _dicts(
        store,
        "SELECT h.tag_norm AS tag, count(DISTINCT p.account_id) AS accounts, count(*) AS posts "
        "FROM post_hashtags h JOIN posts p USING (platform, post_id) "
        "WHERE p.platform = ? AND p.account_id IN (SELECT unnest(?::VARCHAR[])) "
        "GROUP BY ALL HAVING count(DISTINCT p.account_id) >= 2 ORDER BY accounts DESC, posts DESC "
        "LIMIT 10",
        [platform, member_ids],
    )
    automation = tz = None
    clock = None
    state_media: list[dict[str, Any]] = []
    indicators: list[dict[str, Any]] = []
    dossier_summary = None
    boosted: list[dict[str, Any]] = []
    if ch is not None:
        ch_id = ch["run_id"]
        scores = [m["automation_score"] for m in members if m["automation_score"] is not None]
        if scores:
            flagged = sum(1 for m in members if m["automated"])
            automation = {
                "flagged": flagged,
                "scored": len(scores),
                "share": flagged / len(members),
                "median_score": statistics.median(scores),
                "method": ch["parameters"].get("model"),
                "threshold": ch["parameters"].get("automation_threshold"),
            }
        tzr = _dicts(
            store,
            "SELECT n_actions, offset_hours, ci_low, ci_high, template, hour_of_week, "
            "main_language, holiday_check, foreign_working_day FROM group_timezone "
            "WHERE run_id = ? AND group_id = ?",
            [ch_id, gid],
        )
        if tzr:
            tz = tzr[0]
            tz["hour_of_week"] = orjson.loads(tz["hour_of_week"]) if tz["hour_of_week"] else None
            tz["holiday_check"] = orjson.loads(tz["holiday_check"]) if tz["holiday_check"] else {}
        fig = first_row(
            store.con.execute(
                "SELECT content FROM characterize_figures WHERE run_id = ? AND name = ?",
                [ch_id, f"clock-group-{gid}"],
            )
        )
        clock = bytes(fig[0]) if fig and fig[0] else None
        state_media = _dicts(
            store,
            "SELECT outlet, country, typology, any_value(state_controlled) AS state_controlled, "
            "channel, count(DISTINCT account_id) AS accounts, sum(n) AS actions, "
            "min(min_delay_s) AS min_delay_s FROM state_media_amplification "
            "WHERE run_id = ? AND platform = ? AND account_id IN (SELECT unnest(?::VARCHAR[])) "
            "GROUP BY outlet, country, typology, channel ORDER BY actions DESC",
            [ch_id, platform, member_ids],
        )
        d = first_row(
            store.con.execute(
                "SELECT indicators, summary FROM group_dossier WHERE run_id = ? AND group_id = ?",
                [ch_id, gid],
            )
        )
        if d:
            indicators = orjson.loads(d[0]) if d[0] else []
            for ind in indicators:
                ind["evidence"] = ids.scrub(ind.get("evidence"), platform)
            dossier_summary = ids.scrub(d[1], platform)
        mset = set(member_ids)
        for pid, author, n, burst, p, start, evj in store.sql(
            "SELECT post_id, author_id, n_engagements, burst_count, burst_p, burst_start, "
            "evidence FROM post_dissemination WHERE run_id = ? AND platform = ? AND flagged "
            "ORDER BY burst_p",
            [ch_id, platform],
        ):
            members_in = mset & set(orjson.loads(evj).get("burst_accounts", []) if evj else [])
            if members_in:
                boosted.append(
                    {
                        "post_id": ids.post(platform, pid),
                        "author": ids.account(platform, author),
                        "engagements": n,
                        "burst_count": burst,
                        "burst_p": p,
                        "burst_start": start,
                        "members_in_burst": len(members_in),
                    }
                )
    narratives, fact_checks = _narratives(store, tables, nar, claims_run, platform, member_ids, ids)
    traces = [t for t in (g["traces"] or "").split(",") if t]
    rules = disarm.detections(
        traces=set(traces),
        automated_share=automation["share"] if automation else None,
        any_automated=bool(automation and automation["flagged"]),
        boosted_posts=len(boosted),
        indicators={i.get("name", ""): i.get("strength", "none") for i in indicators},
    )
    techniques = disarm.techniques_for(rules, mapping)
    for a in attributions:
        for t in a["techniques"]:
            techniques.setdefault(t, []).append(f"analyst {a['analyst']}")
    innocent = []
    summary = ids.scrub(g["summary"] or ev.get("summary") or "", platform) or ""
    if "innocent explanation to rule out:" in summary:
        innocent.append(summary.split("innocent explanation to rule out:", 1)[1].strip(" ."))
    for ind in indicators:
        if ind.get("strength") in ("moderate", "strong"):
            innocent.extend(ind.get("innocent_explanations") or [])
    innocent = list(dict.fromkeys(innocent))
    return Finding(
        group_id=gid,
        platform=platform,
        status=status,
        size=g["size"],
        n_edges=g["n_edges"],
        density=g["density"],
        traces=traces,
        expected_chance_edges=g["expected_chance_edges"],
        first_at=g["first_at"],
        last_at=g["last_at"],
        summary=summary,
        members=shown_members,
        edges=edges,
        trace_counts=ev.get("traces", {}),
        shared_targets=shared,
        timeline=[(str(h), int(n)) for h, n in ev.get("timeline", [])],
        example_posts=examples,
        posts=posts,
        links=links,
        hashtags=hashtags,
        automation=automation,
        timezone=tz,
        clock_svg=clock,
        state_media=state_media,
        indicators=indicators,
        dossier_summary=dossier_summary,
        boosted_posts=boosted[:20],
        narratives=narratives,
        fact_checks=fact_checks,
        reviews=[
            {**r, "reason": ids.scrub(r["reason"], platform)}
            for r in review.history(
                store, subject_kind="group", subject_id=str(gid), run_id=run_id, limit=50
            )
        ],
        attributions=attributions,
        rules=rules,
        techniques=techniques,
        innocent_explanations=innocent,
    )


def _member_posts_sql() -> str:
    """Posts of the members and the originals they reposted (a repost belongs to its
    original's narrative). Parameters: platform, member ids, platform, member ids."""
    return (
        "SELECT post_id FROM posts WHERE platform = ? AND account_id IN "
        "(SELECT unnest(?::VARCHAR[])) UNION SELECT ref_post_id FROM posts WHERE platform = ? "
        "AND kind = 'repost' AND ref_post_id IS NOT NULL AND account_id IN "
        "(SELECT unnest(?::VARCHAR[]))"
    )


def _narratives(
    store: Store,
    tables: set[str],
    nar: dict[str, Any] | None,
    claims_run: dict[str, Any] | None,
    platform: str,
    member_ids: list[str],
    ids: Identities,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Narratives the members' posts belong to, and fact-checked claims their posts match.

    Read defensively: the narratives subsystem may be absent, or its tables of another shape;
    then the report says no narrative run exists rather than failing.
    """
    narratives: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    mp = _member_posts_sql()
    mparams = [platform, member_ids, platform, member_ids]
    if (
        nar is not None
        and {"narratives", "narrative_posts"} <= tables
        and {"run_id", "platform", "post_id", "narrative_id"} <= _columns(store, "narrative_posts")
        and {"run_id", "narrative_id", "label"} <= _columns(store, "narratives")
    ):
        try:
            rows = store.sql(
                "SELECT np.narrative_id, count(*) AS posts, any_value(n.label) AS label, "
                "any_value(n.n_posts) AS total FROM narrative_posts np JOIN narratives n "
                "ON n.run_id = np.run_id AND n.narrative_id = np.narrative_id "
                f"WHERE np.run_id = ? AND np.platform = ? AND np.post_id IN ({mp}) "
                "GROUP BY np.narrative_id ORDER BY posts DESC LIMIT 5",
                [nar["run_id"], platform, *mparams],
            )
        except duckdb.Error:  # an unexpected narratives schema must not stop a report
            rows = []
        narratives = [
            {
                "narrative_id": nid,
                "posts": n,
                "total": total,
                "label": ids.scrub(lbl, platform) if lbl is not None else None,
            }
            for nid, n, lbl, total in rows
        ]
    if (
        claims_run is not None
        and {"claims", "claim_matches"} <= tables
        and {"run_id", "claim_id", "platform", "post_id"} <= _columns(store, "claim_matches")
        and {"claim_id", "text", "verdict", "reviewer", "review_url"} <= _columns(store, "claims")
    ):
        try:
            checks = _dicts(
                store,
                "SELECT c.text AS claim, c.verdict, c.rating_text, c.reviewer, c.review_url, "
                "count(*) AS posts, max(cm.score) AS best_score FROM claim_matches cm "
                "JOIN claims c USING (claim_id) "
                f"WHERE cm.run_id = ? AND cm.platform = ? AND cm.post_id IN ({mp}) "
                "GROUP BY ALL ORDER BY posts DESC LIMIT 10",
                [claims_run["run_id"], platform, *mparams],
            )
        except duckdb.Error:  # see above
            checks = []
        for c in checks:
            c["claim"] = ids.scrub(c["claim"], platform)
    return narratives, checks
