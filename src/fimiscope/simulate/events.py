"""Event tables: the row layout shared by the planner, the engine and the writers.

Every event is a row: time (Unix ms), actor (account index), kind, target (post serial),
narrative, language, role (why the row exists, for rendering and ground truth), ``arg``
(article, campaign or followed account), and origin/target keys of planned rows.
"""

from __future__ import annotations

import numpy as np

from fimiscope.simulate.config import DAY_MS, HOUR_MS

POST, REPLY, QUOTE, REPOST, LIKE, FOLLOW = range(6)
(
    R_ORGANIC,
    R_CAMPAIGN,
    R_COPYPASTA,
    R_CLAIM_BOT,
    R_INTERVIEW,
    R_INTERVIEW_AMP,
    R_STATE_NEWS,
    R_NEWS,
    R_ALERT,
    R_ALERT_SHARE,
    R_IDOL,
    R_FAN,
    R_HASHTAG,
    R_FILLER,
    R_SEED,
    R_CLAIM_ORG,
    R_CLAIM_STATE,
    R_STATE_AMP,
    R_INTERVIEW_ORG,
) = range(19)
COLUMNS = ("t", "actor", "kind", "target", "narr", "lang", "role", "arg", "okey", "tkey")
_DTYPES = (
    np.int64,
    np.int32,
    np.int8,
    np.int64,
    np.int16,
    np.int8,
    np.int16,
    np.int32,
    np.int32,
    np.int32,
)

Events = dict[str, np.ndarray]
JST_PROFILE = np.array(
    [
        0.55,
        0.35,
        0.2,
        0.12,
        0.1,
        0.15,
        0.35,
        0.65,
        0.8,
        0.75,
        0.7,
        0.8,
        1.15,
        0.95,
        0.75,
        0.75,
        0.8,
        0.9,
        0.95,
        1.1,
        1.3,
        1.45,
        1.45,
        1.1,
    ]
)


def empty() -> Events:
    """Return an event table with no rows."""
    return {c: np.zeros(0, dtype=d) for c, d in zip(COLUMNS, _DTYPES, strict=True)}


def rows(n: int, **cols: object) -> Events:
    """Return ``n`` rows; columns not given get -1 (keys, target) or 0."""
    out = {}
    for c, d in zip(COLUMNS, _DTYPES, strict=True):
        v = cols.get(c, -1 if c in ("target", "okey", "tkey", "arg") else 0)
        out[c] = np.broadcast_to(np.asarray(v), (n,)).astype(d)
    return out


def concat(tables: list[Events]) -> Events:
    """Concatenate event tables."""
    if not tables:
        return empty()
    return {c: np.concatenate([t[c] for t in tables]) for c in COLUMNS}


def sort(ev: Events) -> Events:
    """Sort an event table by time (stable)."""
    order = np.argsort(ev["t"], kind="stable")
    return {c: v[order] for c, v in ev.items()}


def bot_weight(ms: np.ndarray, holidays: set[int]) -> np.ndarray:
    """Relative activity of the operators: Moscow (UTC+3) office hours on weekdays."""
    msk = ms + 3 * HOUR_MS
    hour = (msk // HOUR_MS) % 24
    day = msk // DAY_MS
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    w = np.where((hour >= 9) & (hour < 18), 1.0, 0.03)
    w = np.where(hour == 13, 0.6, w)
    w = np.where(weekday >= 5, w * 0.2, w)
    return np.where(np.isin(day, list(holidays)), w * 0.05, w)


def jst_weight(ms: np.ndarray) -> np.ndarray:
    """Relative activity of Japanese users by hour of day (UTC+9)."""
    return JST_PROFILE[((ms + 9 * HOUR_MS) // HOUR_MS) % 24]


def sample_times(rng: np.random.Generator, n: int, lo: int, hi: int, weight) -> np.ndarray:
    """Draw ``n`` times in ``[lo, hi)`` with density proportional to ``weight(ms)``."""
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    grid = np.arange(lo, hi, 15 * 60_000, dtype=np.int64)
    w = weight(grid).astype(float)
    cells = rng.choice(len(grid), size=n, p=w / w.sum())
    return np.minimum(grid[cells] + rng.integers(0, 15 * 60_000, n), hi - 1)


def human_delay(
    rng: np.random.Generator, t0: np.ndarray, median_s: float, sigma: float
) -> np.ndarray:
    """Human reaction times: lognormal, and pushed past the JST night (02-07 JST)."""
    t = t0 + (np.exp(rng.normal(np.log(median_s), sigma, len(t0))) * 1000).astype(np.int64)
    jst_h = ((t + 9 * HOUR_MS) // HOUR_MS) % 24
    night = (jst_h >= 2) & (jst_h < 7)
    return t + np.where(night, (7 - jst_h) * HOUR_MS + rng.integers(0, HOUR_MS, len(t)), 0)
