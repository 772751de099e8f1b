"""``characterize``: automation, time zones, state media, dissemination and group dossiers.

Reads the canonical tables and one coordination run; writes the tables of
:mod:`fimiscope.characterize.schema` under a new ``run_id``. Every output states indicators
with their evidence and the innocent explanations that fit the same facts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from fimiscope.characterize import automation as auto
from fimiscope.characterize import timezone as tz
from fimiscope.characterize.dissemination import INNOCENT_BOOST, BurstParams, burst_scan, iet_cv
from fimiscope.characterize.dossier import build_dossiers
from fimiscope.characterize.features import COLUMNS, FEATURES, compute_features, feature_matrix
from fimiscope.characterize.holidays import HOLIDAYS
from fimiscope.characterize.state_media import Registry, load_registry
from fimiscope.errors import ConfigError, NotFoundError
from fimiscope.store import Store

__all__ = ["CharacterizeResult", "characterize"]


def _pos(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _share(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1


def _int_ge(k: int) -> Callable[[object], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= k


_CONSTRAINTS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "automation_threshold": (lambda v: _share(v) and 0 < v < 1, "a number in (0, 1)"),
    "min_timezone_actions": (_int_ge(1), "an integer >= 1"),
    "burst_window": (_pos, "a positive number of seconds"),
    "min_engagements": (_int_ge(2), "an integer >= 2"),
    "min_burst": (_int_ge(2), "an integer >= 2"),
    "alpha": (lambda v: _share(v) and 0 < v < 1, "a probability in (0, 1)"),
    "min_inauthentic_share": (_share, "a share in [0, 1]"),
    "young_days": (_pos, "a positive number of days"),
    "first_amplifiers": (_int_ge(1), "an integer >= 1"),
    "audience_language": (
        lambda v: isinstance(v, str) and 1 < len(v) < 9,
        "a language code such as 'ja'",
    ),
    "bootstrap": (_int_ge(0), "an integer >= 0"),
    "seed": (_int_ge(0), "an integer >= 0"),
}


@dataclass(frozen=True)
class CharacterizeResult:
    """What a run wrote, with its ``run_id``; details are in the tables keyed by it."""

    run_id: str
    coordination_run: str | None
    accounts: int
    flagged_accounts: int
    automation_method: str
    group_timezones: dict[int, dict[str, Any]]
    amplifier_accounts: int
    posts_examined: int
    flagged_posts: list[tuple[str, str]]
    seconds: dict[str, float] = field(default_factory=dict)


def characterize(
    store: Store,
    *,
    coordination_run: str | None = None,
    model: str | Path | auto.BotModel | None = None,
    state_media: Sequence[str | Path] = (),
    holidays: dict[str, list[date]] | None = None,
    automation_threshold: float = 0.5,
    min_timezone_actions: int = 30,
    burst_window: float = 60.0,
    min_engagements: int = 5,
    min_burst: int = 5,
    alpha: float = 1e-4,
    min_inauthentic_share: float = 0.5,
    young_days: float = 180.0,
    first_amplifiers: int = 10,
    audience_language: str = "ja",
    bootstrap: int = 200,
    seed: int = 0,
) -> CharacterizeResult:
    """Characterise accounts, groups and posts of a store under a new ``run_id``.

    Parameters
    ----------
    store
        An open, writable store with ingested data (and, ideally, a detect run).
    coordination_run
        The detect run whose groups are used; None takes the latest successful one (or none).
    model
        A bot model (path or :class:`~fimiscope.characterize.automation.BotModel`) from
        ``train-bot-model``; None uses the documented heuristic score.
    state_media
        Extra registry CSV files, overriding the shipped registry where they overlap.
    holidays
        ``{country: [dates]}`` for the holiday check (default: shipped JP and RU lists).
    automation_threshold
        Scores at or above it are ``flagged`` (an indicator, not a verdict).
    min_timezone_actions
        Timed actions an account needs for its own time-zone estimate.
    burst_window, min_engagements, min_burst, alpha, min_inauthentic_share, young_days
        The anomalous-dissemination rule (see :mod:`fimiscope.characterize.dissemination`).
    first_amplifiers
        How many earliest amplifiers of each outlet post count as its "first amplifiers".
    audience_language
        The language of the audience (for the foreign-working-day check and "domestic").
    bootstrap
        Day-block bootstrap replicates for group time-zone intervals (0: profile interval only).
    seed
        Seed of the bootstrap.

    Returns
    -------
    CharacterizeResult

    Raises
    ------
    ConfigError
        A parameter is out of range, or the model's feature list does not match.
    NotFoundError
        ``coordination_run`` does not exist.
    """
    params = {
        "automation_threshold": automation_threshold,
        "min_timezone_actions": min_timezone_actions,
        "burst_window": burst_window,
        "min_engagements": min_engagements,
        "min_burst": min_burst,
        "alpha": alpha,
        "min_inauthentic_share": min_inauthentic_share,
        "young_days": young_days,
        "first_amplifiers": first_amplifiers,
        "audience_language": audience_language,
        "bootstrap": bootstrap,
        "seed": seed,
    }
    for name, value in params.items():
        check, expected = _CONSTRAINTS[name]
        if not check(value):
            raise ConfigError(name, "characterize", expected, value)
    if coordination_run is None:
        coordination_run = store.latest_run("detect")
    elif store.run(coordination_run)["stage"] != "detect":
        raise NotFoundError(f"{coordination_run!r} is not a detect run")
    bot_model = auto.load_bot_model(model) if isinstance(model, (str, Path)) else model
    registry = load_registry(state_media)
    con = store.con
    t_all = time.perf_counter()
    seconds: dict[str, float] = {}
    run_id = store.start_run(
        "characterize",
        {
            **params,
            "coordination_run": coordination_run,
            "model": bot_model.method if bot_model else auto.HEURISTIC_VERSION,
            "state_media": [str(p) for p in state_media],
        },
        seed=seed,
        input_digest=store.source_digest(),
    )
    try:
        with store.transaction():
            t = time.perf_counter()
            compute_features(con, coordination_run)
            cols = ", ".join(COLUMNS)
            con.execute(
                f"INSERT INTO account_features SELECT ?, {cols} FROM _ch_features",
                [run_id],
            )
            seconds["features"] = time.perf_counter() - t
            t = time.perf_counter()
            method, n_flag = _automation(con, run_id, bot_model, automation_threshold)
            seconds["automation"] = time.perf_counter() - t
            t = time.perf_counter()
            group_tz = _timezones(
                con,
                run_id,
                coordination_run,
                min_timezone_actions,
                holidays or HOLIDAYS,
                audience_language,
                bootstrap,
                seed,
            )
            seconds["timezone"] = time.perf_counter() - t
            t = time.perf_counter()
            n_amp = _state_media(con, run_id, registry, first_amplifiers, audience_language)
            seconds["state_media"] = time.perf_counter() - t
            t = time.perf_counter()
            bp = BurstParams(
                window=burst_window,
                min_engagements=min_engagements,
                min_burst=min_burst,
                alpha=alpha,
                min_inauthentic_share=min_inauthentic_share,
                young_days=young_days,
            )
            n_posts, flagged = _dissemination(con, run_id, bp)
            seconds["dissemination"] = time.perf_counter() - t
            t = time.perf_counter()
            build_dossiers(con, run_id, coordination_run, audience_language)
            seconds["dossier"] = time.perf_counter() - t
            n_acc = int(con.execute("SELECT count(*) FROM _ch_features").fetchall()[0][0])
    except BaseException as exc:
        store.finish_run(run_id, status="failed", message=str(exc)[:500])
        raise
    seconds["total"] = time.perf_counter() - t_all
    store.finish_run(
        run_id,
        message=f"{n_acc} accounts ({n_flag} flagged), {len(group_tz)} group time zones, "
        f"{n_amp} state-media amplifiers, {len(flagged)} of {n_posts} posts flagged",
    )
    return CharacterizeResult(
        run_id=run_id,
        coordination_run=coordination_run,
        accounts=n_acc,
        flagged_accounts=n_flag,
        automation_method=method,
        group_timezones=group_tz,
        amplifier_accounts=n_amp,
        posts_examined=n_posts,
        flagged_posts=flagged,
        seconds={k: round(v, 3) for k, v in seconds.items()},
    )


def _insert(con: Any, table: str, run_id: str, data: dict[str, Any]) -> None:
    """Insert columns (run_id first, then ``data`` in table order) through Arrow."""
    n = len(next(iter(data.values()))) if data else 0
    at = pa.table({"run_id": pa.array([run_id] * n, pa.string()), **data})
    con.register("_ch_insert", at)
    try:
        names = ", ".join(f'"{c}"' for c in at.column_names)
        con.execute(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM _ch_insert')
    finally:
        con.unregister("_ch_insert")


def _json(v: Any) -> str:
    return orjson.dumps(
        v, default=str, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    ).decode()


# -- automation ----------------------------------------------------------------------------
def _automation(con: Any, run_id: str, model: auto.BotModel | None, thr: float) -> tuple[str, int]:
    keys, x = feature_matrix(con)
    if model is None:
        score, contrib = auto.heuristic_score(x)
        method = auto.HEURISTIC_VERSION
    else:
        score, contrib = model.predict(x) if len(x) else (np.zeros(0), None)
        method = model.method
    contribs, expl = [], []
    for i in range(len(keys)):
        if contrib is None:
            contribs.append(None)
            expl.append(f"Model {method}: score {score[i]:.2f} (tree model; see its CV report).")
            continue
        d = {f: round(float(contrib[i, j]), 3) for j, f in enumerate(FEATURES)}
        contribs.append(_json(d))
        expl.append(auto.explain(d))
    flagged = score >= thr
    _insert(
        con,
        "account_automation",
        run_id,
        {
            "platform": [k[0] for k in keys],
            "account_id": [k[1] for k in keys],
            "score": pa.array(score.astype(float)),
            "flagged": pa.array(flagged),
            "method": [method] * len(keys),
            "contributions": pa.array(contribs, pa.string()),
            "explanation": expl,
        },
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ch_flagged AS SELECT platform, account_id "
        "FROM account_automation WHERE run_id = ? AND flagged",
        [run_id],
    )
    return method, int(flagged.sum())


# -- time zones ----------------------------------------------------------------------------
_HOW = """
SELECT a.platform, a.account_id, ((isodow(ts) - 1) * 24 + hour(ts))::INTEGER AS how,
       count(*) AS n
  FROM _ch_actions a JOIN _ch_features f USING (platform, account_id)
 WHERE f.n_actions >= ? GROUP BY ALL ORDER BY a.platform, a.account_id
"""


def _account_profiles(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised :func:`timezone.estimate_offset` for many rows: (ll per offset, best template)."""
    idx = (np.arange(168)[None, :] + tz.OFFSETS[:, None]) % 168
    lls = []
    for name in tz.TEMPLATES:
        p = (1 - tz.FLOOR) * tz.TEMPLATES[name] + tz.FLOOR / 168
        lls.append(counts @ np.log(p)[idx].T)
    ll = np.stack(lls)  # templates x accounts x offsets
    prof = ll.max(axis=0)
    best_t = ll.max(axis=2).argmax(axis=0)
    return prof, best_t, ll


def _timezones(
    con: Any,
    run_id: str,
    coord_run: str | None,
    min_actions: int,
    holidays: dict[str, list[date]],
    lang: str,
    reps: int,
    seed: int,
) -> dict[int, dict[str, Any]]:
    rows = con.execute(_HOW, [min_actions]).fetchall()
    keys: dict[tuple[str, str], int] = {}
    for plat, acc, _, _ in rows:
        keys.setdefault((plat, acc), len(keys))
    counts = np.zeros((len(keys), 168))
    for plat, acc, how, n in rows:
        counts[keys[(plat, acc)], how] += n
    names = list(tz.TEMPLATES)
    if len(keys):
        prof, best_t, _ = _account_profiles(counts)
        top = prof.max(axis=1, keepdims=True)
        rel = prof - top
        inside = rel >= -1.92
        offs = tz.OFFSETS
        tie = 1e-9 * (np.abs(offs) * 2 - (offs > 0))  # same tie-break as estimate_offset
        best = offs[(prof - tie).argmax(axis=1)]
        lo = np.array([offs[r].min() for r in inside])
        hi = np.array([offs[r].max() for r in inside])
        _insert(
            con,
            "account_timezone",
            run_id,
            {
                "platform": [k[0] for k in keys],
                "account_id": [k[1] for k in keys],
                "n_actions": pa.array(counts.sum(axis=1).astype(np.int64)),
                "offset_hours": pa.array(best.astype(np.int32)),
                "ci_low": pa.array(lo.astype(np.int32)),
                "ci_high": pa.array(hi.astype(np.int32)),
                "template": [names[i] for i in best_t],
                "loglik": pa.array(top[:, 0]),
                "profile": [
                    _json({int(o): round(float(v), 2) for o, v in zip(offs, r, strict=True)})
                    for r in rel
                ],
            },
        )
    out: dict[int, dict[str, Any]] = {}
    if coord_run is None:
        return out
    groups = con.execute(
        "SELECT group_id, size FROM coord_groups WHERE run_id = ? ORDER BY group_id", [coord_run]
    ).fetchall()
    for gid, _size in groups:
        ts = np.array(
            [
                r[0]
                for r in con.execute(
                    "SELECT epoch(a.ts)::BIGINT FROM _ch_actions a JOIN coord_members m "
                    "USING (platform, account_id) WHERE m.run_id = ? AND m.group_id = ?",
                    [coord_run, gid],
                ).fetchall()
            ],
            dtype=np.int64,
        )
        if len(ts) == 0:
            continue
        how = tz.hour_of_week(ts)
        c = np.bincount(how, minlength=168).astype(float)
        est = tz.estimate_offset(c)
        lo, hi = est.ci_low, est.ci_high
        if reps:
            day = np.floor_divide(ts, 86400)
            udays, inv = np.unique(day, return_inverse=True)
            dc = np.zeros((inv.max() + 1, 168))
            np.add.at(dc, (inv, how), 1)
            blo, bhi = tz.bootstrap_interval(
                dc, weekday=(udays + 3) % 7, template=est.template, reps=reps, seed=seed
            )
            lo, hi = min(lo, blo), max(hi, bhi)
        lrow = con.execute(
            "SELECT p.lang, count(*) AS n FROM posts p JOIN coord_members m "
            "USING (platform, account_id) WHERE m.run_id = ? AND m.group_id = ? "
            "AND p.kind <> 'repost' AND p.lang IS NOT NULL GROUP BY ALL ORDER BY n DESC LIMIT 1",
            [coord_run, gid],
        ).fetchall()
        main_lang = lrow[0][0] if lrow else None
        hol = tz.holiday_check(ts, holidays)
        home = tz.LANGUAGE_HOME_OFFSET.get(main_lang or "")
        foreign = bool(home is not None and not (lo <= home <= hi) and main_lang == lang)
        svg = tz.clock_svg(c, est.offset, f"group {gid}")
        rec = {
            "group_id": gid,
            "n_actions": est.n,
            "offset_hours": est.offset,
            "ci_low": lo,
            "ci_high": hi,
            "template": est.template,
            "loglik": est.loglik,
            "profile": est.profile,
            "hour_of_week": c.astype(int).tolist(),
            "main_language": main_lang,
            "holiday_check": hol,
            "foreign_working_day": foreign,
        }
        out[gid] = rec
        con.execute(
            "INSERT INTO group_timezone VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                coord_run,
                gid,
                est.n,
                est.offset,
                lo,
                hi,
                est.template,
                est.loglik,
                _json(est.profile),
                _json(rec["hour_of_week"]),
                main_lang,
                _json(hol),
                foreign,
                svg,
            ],
        )
        con.execute(
            "INSERT INTO characterize_figures VALUES (?, ?, 'image/svg+xml', ?)",
            [run_id, f"clock-group-{gid}", svg.encode()],
        )
    return out


# -- state media ---------------------------------------------------------------------------
_OUTLET_ACCOUNTS = """
CREATE OR REPLACE TEMP TABLE _ch_oacc AS
SELECT a.platform, a.account_id, h.oi FROM accounts a
  JOIN _ch_handles h ON h.platform = a.platform AND h.handle_norm = a.handle_norm
"""
_AMP = """
CREATE OR REPLACE TEMP TABLE _ch_amp AS
WITH hop1 AS (
  SELECT p.platform, p.account_id, o.oi, p.kind AS channel, p.created_at AS ts,
         epoch(p.created_at) - epoch(r.created_at) AS delay, p.post_id, r.post_id AS root, 1 AS hop
    FROM posts p
    JOIN posts r ON r.platform = p.platform AND r.post_id = p.ref_post_id
    JOIN _ch_oacc o ON o.platform = r.platform AND o.account_id = r.account_id
   WHERE p.kind IN ('repost', 'quote', 'reply') AND p.account_id IS NOT NULL
), links AS (
  SELECT p.platform, p.account_id, m.oi, 'link' AS channel, p.created_at AS ts,
         NULL::DOUBLE AS delay, p.post_id, NULL AS root, 1 AS hop
    FROM post_urls u JOIN _ch_dommap m ON m.domain = u.domain
    JOIN posts p ON p.platform = u.platform AND p.post_id = u.post_id
   WHERE p.account_id IS NOT NULL AND p.kind <> 'repost'
), mentions AS (
  SELECT p.platform, p.account_id, h.oi, 'mention' AS channel, p.created_at AS ts,
         NULL::DOUBLE AS delay, p.post_id, NULL AS root, 1 AS hop
    FROM post_mentions pm JOIN _ch_handles h ON h.platform = pm.platform
         AND h.handle_norm = pm.handle_norm
    JOIN posts p ON p.platform = pm.platform AND p.post_id = pm.post_id
   WHERE p.account_id IS NOT NULL AND p.kind NOT IN ('repost', 'reply')
), hop2 AS (
  SELECT p.platform, p.account_id, h.oi, p.kind AS channel, p.created_at AS ts,
         NULL::DOUBLE AS delay, p.post_id, h.root, 2 AS hop
    FROM posts p JOIN hop1 h ON h.platform = p.platform AND h.post_id = p.ref_post_id
   WHERE p.kind IN ('repost', 'quote', 'reply') AND p.account_id IS NOT NULL
)
SELECT * FROM (SELECT * FROM hop1 UNION ALL SELECT * FROM links UNION ALL SELECT * FROM mentions
               UNION ALL SELECT * FROM hop2) x
 WHERE NOT EXISTS (SELECT 1 FROM _ch_oacc o WHERE o.platform = x.platform
                   AND o.account_id = x.account_id)
"""
_AMP_ROWS = """
SELECT x.platform, x.account_id, any_value(m.group_id) AS group_id, x.oi, x.channel,
       count(*) AS n, min(x.ts), max(x.ts), min(x.delay), min(x.hop), min(x.post_id)
  FROM _ch_amp x LEFT JOIN _ch_members m USING (platform, account_id)
 GROUP BY x.platform, x.account_id, x.oi, x.channel
"""


def _state_media(con: Any, run_id: str, reg: Registry, k_first: int, lang: str) -> int:
    outlets = reg.outlets
    index = {id(o): i for i, o in enumerate(outlets)}
    handles = [(p, h, index[id(o)]) for (p, h), o in reg.by_handle.items()]
    doms = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT domain FROM post_urls WHERE domain IS NOT NULL"
        ).fetchall()
    ]
    dmap = [(d, index[id(o)]) for d in doms if (o := reg.match_domain(d)) is not None]
    con.register(
        "_ch_handles_a",
        pa.table(
            {
                "platform": [h[0] for h in handles],
                "handle_norm": [h[1] for h in handles],
                "oi": pa.array([h[2] for h in handles], pa.int32()),
            }
        ),
    )
    con.register(
        "_ch_dommap_a",
        pa.table(
            {
                "domain": pa.array([d[0] for d in dmap], pa.string()),
                "oi": pa.array([d[1] for d in dmap], pa.int32()),
            }
        ),
    )
    con.execute("CREATE OR REPLACE TEMP TABLE _ch_handles AS SELECT * FROM _ch_handles_a")
    con.execute("CREATE OR REPLACE TEMP TABLE _ch_dommap AS SELECT * FROM _ch_dommap_a")
    con.unregister("_ch_handles_a")
    con.unregister("_ch_dommap_a")
    con.execute(_OUTLET_ACCOUNTS)
    con.execute(_AMP)
    rows = con.execute(_AMP_ROWS).fetchall()
    if rows:
        o = [outlets[r[3]] for r in rows]
        _insert(
            con,
            "state_media_amplification",
            run_id,
            {
                "platform": [r[0] for r in rows],
                "account_id": [r[1] for r in rows],
                "group_id": pa.array([r[2] for r in rows], pa.int32()),
                "outlet": [x.outlet for x in o],
                "country": [x.country for x in o],
                "typology": [x.typology for x in o],
                "state_controlled": [x.state_controlled for x in o],
                "channel": [r[4] for r in rows],
                "n": pa.array([r[5] for r in rows], pa.int64()),
                "first_at": pa.array([r[6] for r in rows], pa.timestamp("us", tz="UTC")),
                "last_at": pa.array([r[7] for r in rows], pa.timestamp("us", tz="UTC")),
                "min_delay_s": pa.array([r[8] for r in rows], pa.float64()),
                "hop": pa.array([r[9] for r in rows], pa.int32()),
                "example_post_id": [r[10] for r in rows],
            },
        )
    _chains(con, run_id, outlets, k_first, lang)
    n = con.execute("SELECT count(DISTINCT (platform, account_id)) FROM _ch_amp").fetchall()
    return int(n[0][0])


_CHAIN = """
WITH ranked AS (
  SELECT x.*, row_number() OVER (
           PARTITION BY x.platform, x.root ORDER BY x.delay, x.account_id) AS rk
    FROM _ch_amp x WHERE x.hop = 1 AND x.root IS NOT NULL
), staged AS (
  SELECT platform, account_id, oi, CASE WHEN rk <= ? THEN 'first' ELSE 'wider' END AS stage, delay
    FROM ranked
  UNION ALL
  SELECT platform, account_id, oi, 'wider', NULL FROM _ch_amp WHERE hop = 2
), lang AS (
  SELECT platform, account_id, mode(lang) AS main_lang FROM posts
   WHERE kind <> 'repost' AND lang IS NOT NULL AND account_id IS NOT NULL GROUP BY ALL
)
SELECT o.outlet, any_value(o.typology), s.stage,
       count(DISTINCT (s.platform, s.account_id)), count(*),
       count(DISTINCT CASE WHEN m.group_id IS NOT NULL THEN (s.platform, s.account_id) END),
       count(DISTINCT CASE WHEN l.main_lang = ? THEN (s.platform, s.account_id) END),
       median(s.delay),
       list(DISTINCT CASE WHEN m.group_id IS NOT NULL
                          THEN m.group_id::VARCHAR || ':' || s.account_id END)
  FROM staged s JOIN _ch_onames o USING (oi)
  LEFT JOIN _ch_members m USING (platform, account_id)
  LEFT JOIN lang l USING (platform, account_id)
 GROUP BY o.outlet, s.stage ORDER BY o.outlet, s.stage
"""


def _chains(con: Any, run_id: str, outlets: list[Any], k: int, lang: str) -> None:
    con.register(
        "_ch_onames",
        pa.table(
            {
                "oi": pa.array(range(len(outlets)), pa.int32()),
                "outlet": [o.outlet for o in outlets],
                "typology": [o.typology for o in outlets],
            }
        ),
    )
    try:
        rows = con.execute(_CHAIN, [k, lang]).fetchall()
    finally:
        con.unregister("_ch_onames")
    for name, typ, stage, accts, acts, coord, dom, med, gl in rows:
        groups: dict[str, int] = {}
        for item in gl or []:
            if item:
                g = item.split(":", 1)[0]
                groups[g] = groups.get(g, 0) + 1
        con.execute(
            "INSERT INTO state_media_chain VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                name,
                typ,
                stage,
                accts,
                acts,
                coord / accts if accts else None,
                dom / accts if accts else None,
                med,
                _json(groups),
            ],
        )


# -- dissemination -------------------------------------------------------------------------
_ENG = """
CREATE OR REPLACE TEMP TABLE _ch_eng AS
SELECT platform, ref_post_id AS post_id, account_id, kind, created_at AS ts FROM posts
 WHERE ref_post_id IS NOT NULL AND kind IN ('repost', 'quote', 'reply') AND account_id IS NOT NULL
UNION ALL
SELECT platform, target_post_id, account_id, 'like', "at" FROM engagements
 WHERE kind = 'like' AND target_post_id IS NOT NULL
"""
_ENG_POSTS = """
CREATE OR REPLACE TEMP TABLE _ch_engpost AS
SELECT e.platform, e.post_id, count(*) AS n_eng, count(e.ts) AS n_timed,
       avg(CASE WHEN m.account_id IS NOT NULL THEN 1.0 ELSE 0.0 END) AS coord_share,
       avg(CASE WHEN f.account_id IS NOT NULL THEN 1.0 ELSE 0.0 END) AS auto_share
  FROM _ch_eng e LEFT JOIN _ch_members m USING (platform, account_id)
  LEFT JOIN _ch_flagged f USING (platform, account_id)
 GROUP BY ALL HAVING count(e.ts) >= ?
"""
_ENG_ROWS = """
SELECT ep.platform, ep.post_id, epoch(e.ts) AS t, e.account_id, e.kind,
       (m.account_id IS NOT NULL OR f.account_id IS NOT NULL) AS inauth,
       coalesce(a.created_at > e.ts - to_days(CAST(? AS INTEGER)), FALSE) AS young
  FROM _ch_engpost ep JOIN _ch_eng e USING (platform, post_id)
  LEFT JOIN _ch_members m ON m.platform = e.platform AND m.account_id = e.account_id
  LEFT JOIN _ch_flagged f ON f.platform = e.platform AND f.account_id = e.account_id
  LEFT JOIN accounts a ON a.platform = e.platform AND a.account_id = e.account_id
 WHERE e.ts IS NOT NULL
 ORDER BY ep.platform, ep.post_id, t, e.account_id
"""


def _dissemination(con: Any, run_id: str, bp: BurstParams) -> tuple[int, list[tuple[str, str]]]:
    con.execute(_ENG)
    con.execute(_ENG_POSTS, [bp.min_engagements])
    tab = con.sql(_ENG_ROWS, params=[int(bp.young_days)]).to_arrow_table()
    if tab.num_rows == 0:
        return 0, []
    plat = np.asarray(tab["platform"].to_numpy(zero_copy_only=False))
    pid = np.asarray(tab["post_id"].to_numpy(zero_copy_only=False))
    t = tab["t"].to_numpy().astype(float)
    acc = np.asarray(tab["account_id"].to_numpy(zero_copy_only=False))
    kind = np.asarray(tab["kind"].to_numpy(zero_copy_only=False))
    inauth = tab["inauth"].to_numpy(zero_copy_only=False).astype(bool)
    young = tab["young"].to_numpy(zero_copy_only=False).astype(bool)
    newpost = np.r_[True, (plat[1:] != plat[:-1]) | (pid[1:] != pid[:-1])]
    post_idx = np.cumsum(newpost) - 1
    n_posts = int(post_idx[-1]) + 1
    firsts = np.flatnonzero(newpost)
    t_rel = t - t[firsts][post_idx]  # seconds since the post's first timed engagement
    r = burst_scan(post_idx, t_rel, n_posts, bp)
    cs_in = np.r_[0, np.cumsum(inauth)]
    cs_y = np.r_[0, np.cumsum(young)]
    base_young: dict[str, float] = {}
    for p in np.unique(plat):
        sel = plat == p
        base_young[str(p)] = float(young[sel].mean()) if sel.any() else 0.0
    start = r["start"].astype(int)
    cnt = r["count"].astype(int)
    end = start + cnt
    in_share = (cs_in[end] - cs_in[start]) / np.maximum(cnt, 1)
    y_share = (cs_y[end] - cs_y[start]) / np.maximum(cnt, 1)
    pl_post = plat[firsts]
    by = np.array([base_young[str(p)] for p in pl_post])
    burst_ok = (cnt >= bp.min_burst) & (r["p"] <= bp.alpha) & (cnt >= bp.min_ratio * r["expected"])
    young_ok = (y_share >= bp.min_young_share) & (y_share >= 5 * by)
    flag = burst_ok & ((in_share >= bp.min_inauthentic_share) | young_ok)
    meta = {
        (str(a), str(b)): (c, d, e, f)
        for a, b, c, d, e, f in con.execute(
            "SELECT ep.platform, ep.post_id, p.account_id, ep.n_eng, ep.coord_share, ep.auto_share "
            "FROM _ch_engpost ep LEFT JOIN posts p USING (platform, post_id)"
        ).fetchall()
    }
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "platform",
            "post_id",
            "author_id",
            "n_engagements",
            "n_timed",
            "coordinated_share",
            "automated_share",
            "burst_count",
            "burst_start",
            "burst_expected",
            "burst_p",
            "burst_inauthentic_share",
            "burst_young_share",
            "burst_iet_cv",
            "flagged",
            "evidence",
        )
    }
    flagged: list[tuple[str, str]] = []
    for i in range(n_posts):
        f0 = firsts[i]
        key = (str(pl_post[i]), str(pid[f0]))
        author, n_eng, cshare, ashare = meta.get(key, (None, 0, None, None))
        s, e = start[i], start[i] + cnt[i]  # global indices of the burst's arrivals
        cv = iet_cv(t[s:e]) if burst_ok[i] else None
        ev: dict[str, Any] = {
            "rule": {
                "burst_count": int(cnt[i]),
                "expected": round(float(r["expected"][i]), 3),
                "p": float(r["p"][i]),
                "burst_significant": bool(burst_ok[i]),
                "inauthentic_share": round(float(in_share[i]), 3),
                "young_share": round(float(y_share[i]), 3),
                "young_base_rate": round(float(by[i]), 4),
            },
        }
        if burst_ok[i]:
            lo, hi = f0, (firsts[i + 1] if i + 1 < n_posts else len(t))
            minute = np.floor_divide(t[lo:hi] - t[f0], 60).astype(int)
            tl: dict[str, dict[str, int]] = {}
            for mnt, kd in zip(minute[minute < 120], kind[lo:hi][minute < 120], strict=True):
                tl.setdefault(str(int(mnt)), {}).setdefault(str(kd), 0)
                tl[str(int(mnt))][str(kd)] += 1
            ev["timeline_by_minute"] = tl
            ev["burst_accounts"] = [str(a) for a in acc[s:e][:100]]
            ev["innocent_explanations"] = list(INNOCENT_BOOST)
        if flag[i]:
            flagged.append(key)
        rows["platform"].append(key[0])
        rows["post_id"].append(key[1])
        rows["author_id"].append(author)
        rows["n_engagements"].append(int(n_eng or 0))
        rows["n_timed"].append(int(r["n"][i]))
        rows["coordinated_share"].append(cshare)
        rows["automated_share"].append(ashare)
        rows["burst_count"].append(int(cnt[i]))
        rows["burst_start"].append(float(t[s]))
        rows["burst_expected"].append(float(r["expected"][i]))
        rows["burst_p"].append(float(r["p"][i]))
        rows["burst_inauthentic_share"].append(float(in_share[i]))
        rows["burst_young_share"].append(float(y_share[i]))
        rows["burst_iet_cv"].append(cv)
        rows["flagged"].append(bool(flag[i]))
        rows["evidence"].append(_json(ev))
    data: dict[str, Any] = {k: v for k, v in rows.items() if k != "burst_start"}
    data["burst_start"] = pa.array(
        (np.array(rows["burst_start"]) * 1e6).astype("int64"), pa.timestamp("us", tz="UTC")
    )
    data["coordinated_share"] = pa.array(rows["coordinated_share"], pa.float64())
    data["automated_share"] = pa.array(rows["automated_share"], pa.float64())
    data["burst_iet_cv"] = pa.array(rows["burst_iet_cv"], pa.float64())
    _insert(con, "post_dissemination", run_id, data)
    return n_posts, flagged


def result_dict(result: CharacterizeResult) -> dict[str, Any]:
    """The result as plain data (for ``--json`` output)."""
    return asdict(result)
