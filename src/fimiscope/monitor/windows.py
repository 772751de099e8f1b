"""Incremental detection over sliding windows of stream time.

The clock is the stream's own (the newest stored event time), so a replay at any speed and a
live firehose behave alike. Every ``every`` seconds of stream time a window
``[end - span, end)`` is examined:

- **coordination**: :func:`fimiscope.coordination.detect` with ``since``/``until`` on the
  window's actions; the Leiden groups joined by significant edges form one incident (Leiden
  may cut one operation into several communities), alerted as ``new_group``;
- **anomalous dissemination**: the boosted-post test of
  :mod:`fimiscope.characterize.dissemination` (densest ``burst_window`` of arrivals against
  the post's own rate, scan-corrected Poisson tail) on the window's engagements, where the
  inauthentic share is the share of the burst from this window's group members;
- **narrative spikes**: trends and claim matches of :mod:`fimiscope.narratives` when that
  subsystem is installed; otherwise hashtag bursts: a tag used ``min_count`` times or more in
  the window's last ``spike_recent`` seconds, ``spike_ratio`` times its rate in the rest of the
  window, with a Bonferroni-corrected Poisson tail <= ``spike_alpha``.

When detection is slower than the stream, ``catch_up="skip"`` jumps to the newest window (the
skipped windows are counted in ``monitor_status``) and ``"cover"`` moves the window end by at
most ``span`` so no stream time goes unexamined (alerts then come later).
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from fimiscope.characterize.dissemination import BurstParams, burst_scan, iet_cv
from fimiscope.coordination import DEFAULT_TRACES, detect
from fimiscope.errors import ConfigError
from fimiscope.monitor.alerts import Finding
from fimiscope.store import Store


def _pos(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0


@dataclass(frozen=True)
class WindowConfig:
    """Parameters of windowed detection (stream seconds unless said otherwise)."""

    span: float = 3600.0
    every: float = 60.0
    catch_up: str = "skip"
    traces: tuple[str, ...] = DEFAULT_TRACES
    window: float | None = None
    min_activity: int = 3
    min_repetitions: int = 3
    expected_false_edges: float = 1.0
    min_group_size: int = 3
    burst_window: float = 60.0
    min_engagements: int = 5
    min_burst: int = 5
    burst_alpha: float = 1e-4
    min_inauthentic_share: float = 0.5
    spike_recent: float | None = None
    """Default: ``span / 6``."""
    spike_min_count: int = 20
    spike_ratio: float = 5.0
    spike_alpha: float = 1e-6
    narratives: bool = False
    """Use :mod:`fimiscope.narratives` (trends, claim matches) when it is installed; off by
    default: it embeds texts, which is too slow for every window of a fast stream."""

    def validate(self) -> None:
        checks: dict[str, tuple[bool, str]] = {
            "span": (_pos(self.span), "a positive number of seconds"),
            "every": (_pos(self.every), "a positive number of seconds"),
            "catch_up": (self.catch_up in ("skip", "cover"), "'skip' or 'cover'"),
            "spike_recent": (
                self.spike_recent is None
                or (_pos(self.spike_recent) and self.spike_recent < self.span),
                "None or a positive number of seconds below span",
            ),
            "min_inauthentic_share": (0 <= self.min_inauthentic_share <= 1, "a share in [0, 1]"),
            "spike_min_count": (self.spike_min_count >= 1, "an integer >= 1"),
            "spike_ratio": (_pos(self.spike_ratio), "a positive number"),
        }
        for name, (ok, expected) in checks.items():
            if not ok:
                raise ConfigError(name, "monitor windows", expected, getattr(self, name))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WindowResult:
    since: datetime
    until: datetime
    detect_run: str | None
    findings: list[Finding]
    seconds: dict[str, float] = field(default_factory=dict)


def _epoch(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


class Scheduler:
    """Decides which window is due, from the stream clock (``time_us`` of stored events)."""

    def __init__(self, config: WindowConfig) -> None:
        self.config = config
        self.last_end_us: int | None = None
        self.skipped = 0

    def due(self, stream_us: int | None) -> tuple[datetime, datetime] | None:
        if stream_us is None:
            return None
        c = self.config
        every_us, span_us = int(c.every * 1e6), int(c.span * 1e6)
        last = self.last_end_us
        if last is None:
            end = stream_us
        elif stream_us - last < every_us:
            return None
        elif c.catch_up == "cover":
            end = min(stream_us, last + span_us)
        else:
            end = stream_us
            self.skipped += max(0, (stream_us - last) // every_us - 1)
        self.last_end_us = end
        # `until` is exclusive: the newest event itself belongs in the window.
        return _epoch(end - span_us), _epoch(end + 1)

    def lag_s(self, stream_us: int | None) -> float:
        if stream_us is None or self.last_end_us is None:
            return 0.0
        return max(0.0, (stream_us - self.last_end_us) / 1e6)


def run_window(
    store: Store, config: WindowConfig, since: datetime, until: datetime
) -> WindowResult:
    """Examine one window; return what it found (nothing is alerted here)."""
    secs: dict[str, float] = {}
    t = time.perf_counter()
    res = detect(
        store,
        since=since,
        until=until,
        traces=config.traces,
        window=config.window,
        min_activity=config.min_activity,
        min_repetitions=config.min_repetitions,
        expected_false_edges=config.expected_false_edges,
        min_group_size=config.min_group_size,
    )
    secs["detect"] = round(time.perf_counter() - t, 3)
    findings = _incidents(store, res.run_id, since, until)
    members = {(f.platform, m) for f in findings for m in f.members}
    t = time.perf_counter()
    findings += _boosted(store, config, since, until, members, res.run_id)
    secs["boosted"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    findings += _narratives(store, config, since, until)
    secs["narratives"] = round(time.perf_counter() - t, 3)
    return WindowResult(since, until, res.run_id, findings, secs)


def _incidents(store: Store, run_id: str, since: datetime, until: datetime) -> list[Finding]:
    """Groups of the run joined by significant edges (union-find), one finding each."""
    groups = store.sql(
        "SELECT group_id, platform, traces, first_at, last_at FROM coord_groups WHERE run_id = ?",
        [run_id],
    )
    if not groups:
        return []
    parent = {g[0]: g[0] for g in groups}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in store.sql(
        "SELECT DISTINCT ma.group_id, mb.group_id FROM coord_edges e "
        "JOIN coord_members ma ON ma.run_id = e.run_id AND ma.platform = e.platform "
        " AND ma.account_id = e.account_a "
        "JOIN coord_members mb ON mb.run_id = e.run_id AND mb.platform = e.platform "
        " AND mb.account_id = e.account_b "
        "WHERE e.run_id = ? AND ma.group_id <> mb.group_id",
        [run_id],
    ):
        parent[find(a)] = find(b)
    members: dict[int, set[str]] = {}
    for gid, account in store.sql(
        "SELECT group_id, account_id FROM coord_members WHERE run_id = ?", [run_id]
    ):
        members.setdefault(find(gid), set()).add(account)
    info: dict[int, dict[str, Any]] = {}
    for gid, platform, traces, first_at, last_at in groups:
        root = find(gid)
        d = info.setdefault(
            root,
            {
                "platform": platform,
                "group_ids": [],
                "traces": [],
                "first_at": first_at,
                "last_at": last_at,
            },
        )
        d["group_ids"].append(gid)
        for tr in (traces or "").split(","):
            if tr and tr not in d["traces"]:
                d["traces"].append(tr)
        d["first_at"] = (
            min(x for x in (d["first_at"], first_at) if x is not None)
            if first_at or d["first_at"]
            else None
        )
        d["last_at"] = (
            max(x for x in (d["last_at"], last_at) if x is not None)
            if last_at or d["last_at"]
            else None
        )
    out = []
    for root, d in info.items():
        m = members.get(root, set())
        size = len(m)
        out.append(
            Finding(
                "new_group",
                d["platform"],
                "",
                "high" if size >= 10 else "medium",
                f"coordinated group of {size} {d['platform']} accounts ({', '.join(d['traces'])})",
                {
                    "detect_run": run_id,
                    "group_ids": sorted(d["group_ids"]),
                    "traces": d["traces"],
                    "first_coaction": d["first_at"],
                    "last_coaction": d["last_at"],
                    "window": [since, until],
                },
                frozenset(m),
                float(size),
            )
        )
    return out


_WINDOW_ENG = """
SELECT platform, ref_post_id AS post_id, account_id, kind, epoch(created_at) AS t FROM posts
 WHERE ref_post_id IS NOT NULL AND kind IN ('repost', 'quote', 'reply')
   AND account_id IS NOT NULL AND created_at >= ? AND created_at < ?
UNION ALL
SELECT platform, target_post_id, account_id, 'like', epoch("at") FROM engagements
 WHERE kind = 'like' AND target_post_id IS NOT NULL AND "at" >= ? AND "at" < ?
"""


def _boosted(
    store: Store,
    config: WindowConfig,
    since: datetime,
    until: datetime,
    members: set[tuple[str | None, str]],
    run_id: str,
) -> list[Finding]:
    tab = store.con.sql(
        f"SELECT * FROM ({_WINDOW_ENG}) QUALIFY count(*) OVER (PARTITION BY platform, post_id) "
        ">= ? ORDER BY platform, post_id, t, account_id",
        params=[since, until, since, until, config.min_engagements],
    ).fetchall()
    if not tab:
        return []
    plat = np.array([r[0] for r in tab], dtype=object)
    pid = np.array([r[1] for r in tab], dtype=object)
    acc = [r[2] for r in tab]
    t = np.array([float(r[4]) for r in tab])
    inauth = np.array([(r[0], r[2]) in members for r in tab], dtype=bool)
    newpost = np.r_[True, (plat[1:] != plat[:-1]) | (pid[1:] != pid[:-1])]
    post_idx = np.cumsum(newpost) - 1
    n_posts = int(post_idx[-1]) + 1
    firsts = np.flatnonzero(newpost)
    bp = BurstParams(
        window=config.burst_window,
        min_engagements=config.min_engagements,
        min_burst=config.min_burst,
        alpha=config.burst_alpha,
        min_inauthentic_share=config.min_inauthentic_share,
    )
    r = burst_scan(post_idx, t - t[firsts][post_idx], n_posts, bp)
    start = r["start"].astype(int)
    cnt = r["count"].astype(int)
    cs = np.r_[0, np.cumsum(inauth)]
    share = (cs[start + cnt] - cs[start]) / np.maximum(cnt, 1)
    ok = (
        (cnt >= bp.min_burst)
        & (r["p"] <= bp.alpha)
        & (cnt >= bp.min_ratio * r["expected"])
        & (share >= bp.min_inauthentic_share)
    )
    out = []
    for i in np.flatnonzero(ok):
        s, e = int(start[i]), int(start[i] + cnt[i])
        platform, post_id = str(plat[firsts[i]]), str(pid[firsts[i]])
        boosters = sorted(set(acc[s:e]))
        out.append(
            Finding(
                "boosted_post",
                platform,
                post_id,
                "high" if share[i] >= 0.8 else "medium",
                f"{platform} post boosted by {int(cnt[i])} arrivals in {int(bp.window)} s, "
                f"{share[i]:.0%} from coordinated accounts",
                {
                    "post_id": post_id,
                    "burst_count": int(cnt[i]),
                    "burst_start": _epoch(int(t[s] * 1e6)),
                    "expected": round(float(r["expected"][i]), 3),
                    "p": float(r["p"][i]),
                    "inauthentic_share": round(float(share[i]), 3),
                    "iet_cv": iet_cv(t[s:e]),
                    "boosters": boosters[:100],
                    "detect_run": run_id,
                    "window": [since, until],
                },
                frozenset(),
                float(cnt[i]),
            )
        )
    return out


def _narratives(
    store: Store, config: WindowConfig, since: datetime, until: datetime
) -> list[Finding]:
    if config.narratives and importlib.util.find_spec("fimiscope.narratives") is not None:
        mod = importlib.import_module("fimiscope.narratives")
        trends = getattr(mod, "detect_trends", None)
        claims = getattr(mod, "match_claims", None)
        if callable(trends) and callable(claims):
            return _from_narratives(store, trends, claims, since, until)
    return _hashtag_spikes(store, config, since, until)


def _plain(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return dict(item)
    as_dict = getattr(item, "as_dict", None)
    if callable(as_dict):
        return dict(as_dict())
    if hasattr(item, "__dataclass_fields__"):
        return asdict(item)
    return {"value": repr(item)}


def _from_narratives(
    store: Store, trends: Any, claims: Any, since: datetime, until: datetime
) -> list[Finding]:
    """Findings from the narratives subsystem: trend flags and per-claim match counts."""
    from fimiscope.errors import NotFoundError

    out = []
    result = trends(store, since, until)
    for d in getattr(result, "flags", None) or []:
        d = _plain(d)
        key = str(d.get("narrative_id", d.get("series", d.get("label", d.get("id", "")))))
        size = float(d.get("count", d.get("n_posts", 0)) or 0)
        out.append(
            Finding(
                "narrative_spike",
                d.get("platform"),
                key,
                "medium",
                f"narrative spike: {d.get('label', key)}",
                d,
                frozenset(),
                size,
            )
        )
    try:
        matched = claims(store, since, until)
    except NotFoundError:
        return out  # no fact-checks loaded: nothing to match against
    for claim_id, n in (getattr(matched, "per_claim", None) or {}).items():
        if n:
            out.append(
                Finding(
                    "false_claim",
                    None,
                    str(claim_id),
                    "high",
                    f"{n} posts match the known false claim {claim_id}",
                    {
                        "claim_id": claim_id,
                        "matches": n,
                        "claims_run": getattr(matched, "run_id", None),
                        "window": [since, until],
                    },
                    frozenset(),
                    float(n),
                )
            )
    return out


def _hashtag_spikes(
    store: Store, config: WindowConfig, since: datetime, until: datetime
) -> list[Finding]:
    from scipy.stats import poisson

    recent_s = config.spike_recent or config.span / 6
    cut = until - timedelta(seconds=recent_s)
    rows = store.sql(
        "SELECT h.platform, h.tag_norm, count(*) FILTER (WHERE p.created_at >= ?) AS recent, "
        "count(*) AS total, count(DISTINCT p.account_id) FILTER (WHERE p.created_at >= ?) "
        "FROM post_hashtags h JOIN posts p USING (platform, post_id) "
        "WHERE p.created_at >= ? AND p.created_at < ? AND h.tag_norm IS NOT NULL "
        "GROUP BY ALL",
        [cut, cut, since, until],
    )
    if not rows:
        return []
    n_tests = len(rows)
    before_s = config.span - recent_s
    out = []
    for platform, tag, recent, total, authors in rows:
        if recent < config.spike_min_count:
            continue
        # The tag's rate in the rest of the window, floored at one use per window.
        expected = max(total - recent, 1) / before_s * recent_s
        p = min(1.0, float(poisson.sf(recent - 1, expected)) * n_tests)
        if recent >= config.spike_ratio * expected and p <= config.spike_alpha:
            out.append(
                Finding(
                    "narrative_spike",
                    platform,
                    f"#{tag}",
                    "medium",
                    f"hashtag #{tag} spiking on {platform}: {recent} posts in the last "
                    f"{int(recent_s)} s (expected {expected:.1f})",
                    {
                        "hashtag": tag,
                        "recent": int(recent),
                        "expected": round(expected, 3),
                        "p": p,
                        "authors": int(authors),
                        "window_total": int(total),
                        "recent_seconds": recent_s,
                        "method": "hashtag burst (narratives not installed)",
                        "window": [since, until],
                    },
                    frozenset(),
                    float(recent),
                )
            )
    return out
