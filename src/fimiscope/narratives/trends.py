"""Trends: narratives and hashtags that rise abnormally against their own baseline.

Every series (a narrative of a ``narratives`` run, counting posts and reposts; a hashtag,
counting the posts that carry it and their reposts) is binned in ``step``-second bins. At
the end of each bin, the count of the last ``window`` seconds is compared with what the
series' own history predicts: the larger of its mean rate over the preceding ``baseline``
seconds and its mean count in the same window over the previous three days (so a daily
rhythm is not a burst), never below ``floor``. A window is *bursting* when its count is at
least ``min_count``, at least ``ratio`` times the expectation, and its Poisson upper-tail
probability is at most ``alpha`` divided by the number of windows tested (Bonferroni). The
first bursting window of a run of them is reported as the flag; it is known at the end of that
window, so ``flagged_at`` is the time a live monitor would have raised it.

Defaults: 10-minute steps, a 1-hour window, a 72-hour baseline, ``min_count`` 8, ``ratio`` 5,
``alpha`` 0.5. Real counts are overdispersed, so the Poisson tail alone is no false-alarm
guarantee: the ratio and the minimum count keep flags few, the (Bonferroni-corrected) tail
keeps a handful of posts on a quiet series from counting as a burst.

References
----------
.. [1] Kleinberg (2003). Bursty and hierarchical structure in streams. Data Mining and
   Knowledge Discovery 7(4).
.. [2] Kulldorff (1997). A spatial scan statistic. Communications in Statistics 26(6)
   (the Poisson scan test; here in time only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from fimiscope._sql import first_row
from fimiscope.errors import ConfigError, NotFoundError
from fimiscope.store import Store

_DAY = 86_400


@dataclass
class TrendsResult:
    """What :func:`detect_trends` did: ``run_id`` and the flags (plain dicts)."""

    run_id: str
    narratives_run_id: str | None
    series: int
    flags: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "narratives_run_id": self.narratives_run_id,
            "series": self.series,
            "flags": self.flags,
        }


_NARRATIVE_BINS = """
WITH s AS (
  SELECT np.narrative_id, p.created_at FROM narrative_posts np
  JOIN posts p ON p.platform = np.platform AND p.post_id = np.post_id WHERE np.run_id = $run
  UNION ALL
  SELECT np.narrative_id, r.created_at FROM narrative_posts np
  JOIN posts r ON r.platform = np.platform AND r.ref_post_id = np.post_id AND r.kind = 'repost'
  WHERE np.run_id = $run
)
SELECT CAST(narrative_id AS VARCHAR), CAST(floor((epoch(created_at) - $t0) / $step) AS BIGINT),
       count(*), min(epoch(created_at))
FROM s WHERE created_at >= to_timestamp($t0) AND created_at < to_timestamp($t1)
GROUP BY ALL
"""

_HASHTAG_BINS = """
WITH tagged AS (
  SELECT DISTINCT h.platform, h.post_id, h.tag_norm FROM post_hashtags h
), s AS (
  SELECT t.tag_norm, p.created_at FROM tagged t
  JOIN posts p ON p.platform = t.platform AND p.post_id = t.post_id AND p.kind <> 'repost'
  UNION ALL
  SELECT t.tag_norm, r.created_at FROM tagged t
  JOIN posts r ON r.platform = t.platform AND r.ref_post_id = t.post_id AND r.kind = 'repost'
), kept AS (
  SELECT tag_norm FROM s WHERE created_at >= to_timestamp($t0) AND created_at < to_timestamp($t1)
  GROUP BY tag_norm HAVING count(*) >= $min_total
)
SELECT s.tag_norm, CAST(floor((epoch(created_at) - $t0) / $step) AS BIGINT), count(*),
       min(epoch(created_at))
FROM s JOIN kept USING (tag_norm)
WHERE created_at >= to_timestamp($t0) AND created_at < to_timestamp($t1)
GROUP BY ALL
"""


def _span(store: Store, since: datetime | None, until: datetime | None) -> tuple[float, float]:
    row = first_row(
        store.con.execute("SELECT epoch(min(created_at)), epoch(max(created_at)) FROM posts")
    )
    if row is None or row[0] is None:
        return 0.0, 0.0
    t0 = since.timestamp() if since else float(row[0])
    t1 = until.timestamp() if until else float(row[1]) + 1
    return t0, t1


def burst_flags(
    counts: np.ndarray,
    *,
    window_bins: int,
    baseline_bins: int,
    day_bins: int,
    min_count: int,
    ratio: float,
    alpha: float,
    floor: float,
    min_history_bins: int,
) -> list[list[tuple[int, int, float, float, int, int]]]:
    """Burst episodes of each row of ``counts`` (series x bins).

    Returns per series a list of ``(first_bin, count, expected, p, last_bin, peak)``.

    >>> c = np.zeros((1, 60), np.int64); c[0, :] = 1; c[0, 50] = 30
    >>> burst_flags(c, window_bins=1, baseline_bins=24, day_bins=1000, min_count=5, ratio=3,
    ...             alpha=0.01, floor=0.5, min_history_bins=6)[0][0][:2]
    (50, 30)
    """
    from scipy.stats import poisson

    n_series, n_bins = counts.shape
    cs = np.zeros((n_series, n_bins + 1), np.float64)
    np.cumsum(counts, axis=1, out=cs[:, 1:])
    j = np.arange(n_bins)
    lo = np.maximum(j + 1 - window_bins, 0)
    win = cs[:, j + 1] - cs[:, lo]
    b_hi = lo
    b_lo = np.maximum(b_hi - baseline_bins, 0)
    b_len = np.maximum(b_hi - b_lo, 1)
    trailing = (cs[:, b_hi] - cs[:, b_lo]) / b_len * window_bins
    # Mean count of the same window on each of the previous days available (at most three).
    seasonal = np.zeros_like(win)
    days = np.zeros(n_bins)
    for d in (1, 2, 3):
        jj = j - d * day_bins
        ok = jj >= window_bins - 1
        if not ok.any():
            continue
        seasonal[:, ok] += cs[:, jj[ok] + 1] - cs[:, jj[ok] + 1 - window_bins]
        days[ok] += 1
    seasonal /= np.maximum(days, 1)
    expected = np.maximum(np.maximum(trailing, seasonal), floor)
    tested = j >= min_history_bins
    n_tests = max(1, int(tested.sum()) * n_series)
    cand = (win >= min_count) & (win >= ratio * expected) & tested[None, :]
    out: list[list[tuple[int, int, float, float, int, int]]] = [[] for _ in range(n_series)]
    for s in range(n_series):
        bins = np.flatnonzero(cand[s])
        if len(bins) == 0:
            continue
        p = poisson.sf(win[s, bins] - 1, expected[s, bins])
        bins = bins[p <= alpha / n_tests]
        p = p[p <= alpha / n_tests]
        k = 0
        while k < len(bins):
            start = k
            while k + 1 < len(bins) and bins[k + 1] - bins[k] <= window_bins:
                k += 1
            first = int(bins[start])
            peak = int(win[s, bins[start] : bins[k] + 1].max())
            out[s].append(
                (
                    first,
                    int(win[s, first]),
                    float(expected[s, first]),
                    float(p[start]),
                    int(bins[k]),
                    peak,
                )
            )
            k += 1
    return out


def detect_trends(
    store: Store,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    narratives_run: str | None = None,
    hashtags: bool = True,
    step: int = 600,
    window: int = 3600,
    baseline: int = 72 * 3600,
    min_count: int = 8,
    ratio: float = 5.0,
    alpha: float = 0.5,
    floor: float = 1.0,
    min_history: int = 24 * 3600,
) -> TrendsResult:
    """Flag bursts of narratives (of the latest or given narratives run) and hashtags.

    Parameters
    ----------
    store
        An open, writable store.
    since, until
        Span examined (UTC); default: the whole store.
    narratives_run
        The narratives run whose narratives are watched (default: the latest one; none:
        hashtags only).
    hashtags
        Also watch hashtags (those with at least ``min_count`` uses in the span).
    step, window, baseline, min_count, ratio, alpha, floor, min_history
        See the module docstring; times in seconds. No window is tested before
        ``min_history`` seconds of the span have passed.

    Returns
    -------
    TrendsResult
        ``run_id`` and the flags, earliest first; also written to the ``trends`` table.
    """
    checks = [
        ("step", step > 0, "a positive number of seconds"),
        ("window", window >= step, "at least `step` seconds"),
        ("baseline", baseline >= window, "at least `window` seconds"),
        ("min_count", min_count >= 1, "a positive integer"),
        ("ratio", ratio >= 1, "at least 1"),
        ("alpha", 0 < alpha < 1, "a probability in (0, 1)"),
        ("floor", floor > 0, "positive"),
    ]
    for name, ok, expected in checks:
        if not ok:
            raise ConfigError(name, "detect_trends", expected, locals()[name])
    if narratives_run is None:
        narratives_run = store.latest_run("narratives")
    elif not store.sql("SELECT 1 FROM runs WHERE run_id = ?", [narratives_run]):
        raise NotFoundError(f"no narratives run {narratives_run!r}")
    params = {
        "since": since,
        "until": until,
        "narratives_run": narratives_run,
        "hashtags": hashtags,
        "step": step,
        "window": window,
        "baseline": baseline,
        "min_count": min_count,
        "ratio": ratio,
        "alpha": alpha,
        "floor": floor,
        "min_history": min_history,
    }
    run_id = store.start_run("trends", params, input_digest=store.source_digest())
    try:
        result = _detect(store, run_id, narratives_run, since, until, hashtags, params)
    except BaseException as exc:
        store.finish_run(run_id, status="failed", message=str(exc)[:500])
        raise
    store.finish_run(run_id, message=f"{len(result.flags)} bursts in {result.series} series")
    return result


def _detect(
    store: Store,
    run_id: str,
    narratives_run: str | None,
    since: datetime | None,
    until: datetime | None,
    hashtags: bool,
    p: dict[str, Any],
) -> TrendsResult:
    t0, t1 = _span(store, since, until)
    step = int(p["step"])
    t0 = float(np.floor(t0 / step) * step)
    n_bins = max(1, int(np.ceil((t1 - t0) / step)))
    series: list[tuple[str, str]] = []
    rows: list[tuple[str, str, int, int, float]] = []
    args = {"t0": t0, "t1": t1, "step": step}
    if narratives_run is not None:
        rows += [
            ("narrative", *r) for r in store.sql(_NARRATIVE_BINS, {**args, "run": narratives_run})
        ]
    if hashtags:
        rows += [
            ("hashtag", *r)
            for r in store.sql(_HASHTAG_BINS, {**args, "min_total": int(p["min_count"])})
        ]
    keys = sorted({(r[0], r[1]) for r in rows})
    index = {k: i for i, k in enumerate(keys)}
    series = keys
    counts = np.zeros((len(keys), n_bins), np.int64)
    first = np.full(len(keys), np.inf)
    for kind, key, b, c, tmin in rows:
        i = index[(kind, key)]
        if 0 <= b < n_bins:
            counts[i, b] += c
        first[i] = min(first[i], tmin)
    labels = {}
    if narratives_run is not None:
        labels = dict(
            store.sql(
                "SELECT CAST(narrative_id AS VARCHAR), label FROM narratives WHERE run_id = ?",
                [narratives_run],
            )
        )
    episodes = burst_flags(
        counts,
        window_bins=max(1, int(p["window"]) // step),
        baseline_bins=max(1, int(p["baseline"]) // step),
        day_bins=_DAY // step,
        min_count=int(p["min_count"]),
        ratio=float(p["ratio"]),
        alpha=float(p["alpha"]),
        floor=float(p["floor"]),
        min_history_bins=int(p["min_history"]) // step,
    )
    flags: list[dict[str, Any]] = []

    def at(x: float) -> datetime:
        return datetime.fromtimestamp(x, UTC)

    w_bins = max(1, int(p["window"]) // step)
    for (kind, key), eps in zip(series, episodes, strict=True):
        i = index[(kind, key)]
        for b, count, expected, pval, last, peak in eps:
            flagged = at(t0 + (b + 1) * step)
            seen = at(first[i])
            flags.append(
                {
                    "kind": kind,
                    "key": key,
                    "narratives_run_id": narratives_run if kind == "narrative" else None,
                    "narrative_id": int(key) if kind == "narrative" else None,
                    "label": labels.get(key) if kind == "narrative" else f"#{key}",
                    "flagged_at": flagged,
                    "window_start": at(t0 + (b + 1 - w_bins) * step),
                    "count": count,
                    "expected": round(expected, 3),
                    "p_value": pval,
                    "first_seen_at": seen,
                    "delay_s": (flagged - seen) / timedelta(seconds=1),
                    "episode_end": at(t0 + (last + 1) * step),
                    "peak_count": peak,
                }
            )
    flags.sort(key=lambda f: (f["flagged_at"], f["kind"], f["key"]))
    cols = (
        "kind",
        "key",
        "narratives_run_id",
        "narrative_id",
        "label",
        "flagged_at",
        "window_start",
        "count",
        "expected",
        "p_value",
        "first_seen_at",
        "delay_s",
        "episode_end",
        "peak_count",
    )
    if flags:
        with store.transaction() as con:
            con.executemany(
                f"INSERT INTO trends (run_id, {', '.join(cols)}) VALUES "
                f"(?, {', '.join('?' * len(cols))})",
                [[run_id, *(f[c] for c in cols)] for f in flags],
            )
    return TrendsResult(run_id, narratives_run, len(series), flags)
