"""Anomalous dissemination: posts whose boost is inconsistent with organic spread.

For every post with at least ``min_engagements`` timed engagements (reposts, quotes, replies,
timed likes) the densest ``window``-second interval of arrivals is compared with the post's
own audience: the expected count is the post's arrival rate in the hour around the window
(excluding it), floored at one arrival per hour. The Poisson upper tail is multiplied by the
number of arrivals (the windows scanned) as a conservative scan-statistic correction.

A post is **flagged** when all hold:

1. the burst has at least ``min_burst`` arrivals, is ``min_ratio`` times its expectation, and
   its corrected p-value is at most ``alpha``;
2. at least ``min_inauthentic_share`` of the burst comes from coordinated-group members or
   automation-flagged accounts, **or** at least ``min_young_share`` of it comes from accounts
   younger than ``young_days`` and that share is at least five times the platform's base rate.

Breaking news passes (1) but not (2): its crowd is old, diverse and outside any group. A fan
community passes (2) only where fans were grouped, and its arrivals spread over minutes to
hours, so (1) fails. Inter-arrival regularity (CV) inside the burst is reported as evidence.

References
----------
.. [1] Kulldorff, M. (1997). A spatial scan statistic. *Communications in Statistics*.
.. [2] Pacheco, D., et al. (2021). Uncovering coordinated networks on social media. *ICWSM*.
.. [3] Giglietto, F., et al. (2020). It takes a village to manipulate the media. *ICS*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import poisson


@dataclass(frozen=True)
class BurstParams:
    window: float = 60.0
    context: float = 3600.0
    min_engagements: int = 5
    min_burst: int = 5
    min_ratio: float = 5.0
    alpha: float = 1e-4
    min_inauthentic_share: float = 0.5
    min_young_share: float = 0.5
    young_days: float = 180.0


def burst_scan(
    post_idx: np.ndarray, t: np.ndarray, n_posts: int, p: BurstParams
) -> dict[str, np.ndarray]:
    """Densest window per post, its expectation from the post's surrounding rate, and p-value.

    ``post_idx`` and ``t`` (seconds) must be sorted by (post, time). Returns arrays of length
    ``n_posts``: ``count``, ``start`` (index of the first arrival of the window), ``expected``,
    ``p``, ``n``.

    Examples
    --------
    Ten arrivals within 5 s, then one per 10 minutes for five hours:

    >>> t = np.r_[np.arange(10) * 0.5, 600.0 * np.arange(1, 31)]
    >>> r = burst_scan(np.zeros(40, int), t, 1, BurstParams())
    >>> int(r["count"][0]), bool(r["p"][0] < 1e-4)
    (10, True)
    """
    n = np.bincount(post_idx, minlength=n_posts)
    out = {k: np.zeros(n_posts) for k in ("count", "start", "expected", "p")}
    out["n"] = n
    if len(t) == 0:
        out["p"][:] = 1.0
        return out
    big = 1e10  # posts apart by far more than any window
    key = post_idx * big + t
    end = np.searchsorted(key, key + p.window, side="right")
    cnt = end - np.arange(len(t))
    starts = np.r_[0, np.cumsum(n)[:-1]]
    has = n > 0
    # index of the max window within each post
    order = np.lexsort((-cnt, post_idx))
    first = np.r_[0, np.cumsum(n[has])[:-1]]
    best = order[first]
    ph = np.flatnonzero(has)
    c = cnt[best].astype(float)
    lo = np.searchsorted(key, key[best] - p.context / 2, side="left")
    hi = np.searchsorted(key, key[best] + p.window + p.context / 2, side="right")
    around = (hi - lo) - c
    rate = np.maximum(around, 1.0) / p.context
    exp = rate * p.window
    pv = np.minimum(1.0, poisson.sf(c - 1, exp) * np.maximum(n[has], 1))
    out["count"][ph] = c
    out["start"][ph] = best
    out["expected"][ph] = exp
    out["p"][ph] = pv
    out["p"][~has] = 1.0
    del starts
    return out


def iet_cv(ts: np.ndarray) -> float | None:
    """Coefficient of variation of inter-arrival times (None below 3 arrivals)."""
    if len(ts) < 3:
        return None
    d = np.diff(np.sort(ts))
    m = d.mean()
    return float(d.std() / m) if m > 0 else 0.0


INNOCENT_BOOST = (
    "breaking news or a live event drawing a sudden crowd",
    "a fan community's agreed 'repost party' at a set time",
    "an organisation asking its members or staff to share",
    "a scheduler of a newsroom or a brand posting its own accounts' reposts",
)
