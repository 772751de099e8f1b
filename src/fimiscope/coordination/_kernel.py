"""A compiled kernel for the pair step (optional: the ``fast`` extra, numba).

Gives exactly the per-pair aggregates of the SQL join in :mod:`fimiscope.coordination.pairs`
(the tests run both on the same inputs), in one pass per account instead of a hash
aggregation over every co-action row: Gustavson's row-by-row sparse product. For each
account ``a`` (in id order), its actions are taken in (target, time) order; each action's
partners are the actions of the same target within Δt -- a contiguous range of the
(target, time)-sorted actions, found by binary search -- and each partner account ``b > a``
accumulates, in dense per-account arrays, its distinct targets (a target counts once: the
actions of ``a`` on one target are consecutive), its co-action count, the min / max of the
earlier time and the sum of gaps. Then the touched ``b`` that reach ``min_repetitions`` are
emitted and their slots reset. Work: the number of co-action rows, with no hashing; memory:
a few arrays of one slot per account, per worker.

Accounts are split into chunks processed by a pool of threads (the kernel releases the GIL).
"""

from __future__ import annotations

import itertools
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["available", "pair_aggregates"]

_KERNEL: Any = None


def available() -> bool:
    """Whether numba is importable and the kernel is not switched off
    (``FIMISCOPE_PAIR_KERNEL=sql``)."""
    if os.environ.get("FIMISCOPE_PAIR_KERNEL", "").lower() == "sql":
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _compile() -> Any:
    global _KERNEL
    if _KERNEL is not None:
        return _KERNEL
    import numba

    @numba.njit(nogil=True, cache=True, boundscheck=False)
    def kernel(a_lo, a_hi, acct_start, acct_rows, aid, us, blk_lo, blk_hi, w_us, timed, mr, n_acc):
        # pass 1 per account a: a 16-byte row per partner account (n_targets, n_coactions,
        # last target seen), small enough to stay in cache; pass 2 only for the partners
        # that reached min_repetitions: first, last, gap sum
        cnt = np.zeros((n_acc, 4), np.int32)
        cnt[:, 2] = -1
        mark = np.zeros(n_acc, np.bool_)
        first = np.zeros(n_acc, np.int64)
        last = np.zeros(n_acc, np.int64)
        gap = np.zeros(n_acc, np.int64)
        touched = np.empty(n_acc, np.int64)
        j0s = np.empty(0, np.int64)
        j1s = np.empty(0, np.int64)
        cap = 1024
        o_a = np.empty(cap, np.int64)
        o_b = np.empty(cap, np.int64)
        o_t = np.empty(cap, np.int64)
        o_c = np.empty(cap, np.int64)
        o_f = np.empty(cap, np.int64)
        o_l = np.empty(cap, np.int64)
        o_g = np.empty(cap, np.int64)
        n_out = 0
        for a in range(a_lo, a_hi):
            r0 = acct_start[a]
            r1 = acct_start[a + 1]
            if r1 - r0 > len(j0s):
                j0s = np.empty(2 * (r1 - r0), np.int64)
                j1s = np.empty(2 * (r1 - r0), np.int64)
            n_touched = 0
            for r in range(r0, r1):
                i = acct_rows[r]
                lo = blk_lo[i]
                hi = blk_hi[i]
                ui = us[i]
                if timed:
                    # first j in [lo, hi) with us[j] >= ui - w_us; first with us[j] > ui + w_us
                    x, y, v = lo, hi, ui - w_us
                    while x < y:
                        m = (x + y) >> 1
                        if us[m] < v:
                            x = m + 1
                        else:
                            y = m
                    j0 = x
                    x, y, v = j0, hi, ui + w_us
                    while x < y:
                        m = (x + y) >> 1
                        if us[m] <= v:
                            x = m + 1
                        else:
                            y = m
                    j1 = x
                else:
                    j0 = lo
                    j1 = hi
                j0s[r - r0] = j0
                j1s[r - r0] = j1
                t32 = np.int32(lo)
                for j in range(j0, j1):
                    b = aid[j]
                    if b <= a:
                        continue
                    if cnt[b, 1] == 0:
                        touched[n_touched] = b
                        n_touched += 1
                    if cnt[b, 2] != t32:  # the block start identifies the target
                        cnt[b, 2] = t32
                        cnt[b, 0] += 1
                    cnt[b, 1] += 1
            n_keep = 0
            for x in range(n_touched):
                b = touched[x]
                if cnt[b, 0] >= mr:
                    mark[b] = True
                    first[b] = 9223372036854775807
                    last[b] = -9223372036854775807
                    gap[b] = 0
                    n_keep += 1
            if n_keep > 0:
                for r in range(r0, r1):
                    ui = us[acct_rows[r]]
                    for j in range(j0s[r - r0], j1s[r - r0]):
                        b = aid[j]
                        if b <= a or not mark[b]:
                            continue
                        uj = us[j]
                        f = ui if ui < uj else uj
                        if f < first[b]:
                            first[b] = f
                        if f > last[b]:
                            last[b] = f
                        gap[b] += ui - uj if ui > uj else uj - ui
            for x in range(n_touched):
                b = touched[x]
                if mark[b]:
                    if n_out == cap:
                        cap *= 2
                        o_a = np.concatenate((o_a, np.empty(cap - n_out, np.int64)))
                        o_b = np.concatenate((o_b, np.empty(cap - n_out, np.int64)))
                        o_t = np.concatenate((o_t, np.empty(cap - n_out, np.int64)))
                        o_c = np.concatenate((o_c, np.empty(cap - n_out, np.int64)))
                        o_f = np.concatenate((o_f, np.empty(cap - n_out, np.int64)))
                        o_l = np.concatenate((o_l, np.empty(cap - n_out, np.int64)))
                        o_g = np.concatenate((o_g, np.empty(cap - n_out, np.int64)))
                    o_a[n_out] = a
                    o_b[n_out] = b
                    o_t[n_out] = cnt[b, 0]
                    o_c[n_out] = cnt[b, 1]
                    o_f[n_out] = first[b]
                    o_l[n_out] = last[b]
                    o_g[n_out] = gap[b]
                    n_out += 1
                    mark[b] = False
                cnt[b, 0] = 0
                cnt[b, 1] = 0
                cnt[b, 2] = -1
        return (
            o_a[:n_out],
            o_b[:n_out],
            o_t[:n_out],
            o_c[:n_out],
            o_f[:n_out],
            o_l[:n_out],
            o_g[:n_out],
        )

    # compile now, on a tiny input, so that a cache that cannot be written (a read-only
    # install) costs a warning here, silenced, and not in the caller
    z = np.zeros(1, np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", numba.NumbaWarning)
        kernel(0, 1, np.array([0, 1], np.int64), z, z, z, z, z + 1, 1, True, 1, 1)
    _KERNEL = kernel
    return kernel


def pair_aggregates(
    aid: np.ndarray,
    tid: np.ndarray,
    us: np.ndarray,
    *,
    window_us: int | None,
    min_repetitions: int,
    threads: int = 2,
) -> dict[str, np.ndarray]:
    """Per-pair aggregates of one (platform, trace).

    ``aid`` (dense account ids, 0..n-1, ordered like the account strings), ``tid`` and ``us``
    (microseconds; ignored when ``window_us`` is None) are the actions that take part, in any
    order. Returns arrays ``a``, ``b`` (``a < b``), ``n_targets``, ``n_coactions``,
    ``first_us``, ``last_us``, ``gap_us`` for the pairs with at least ``min_repetitions``
    targets.
    """
    kernel = _compile()
    n = len(aid)
    names = ("a", "b", "n_targets", "n_coactions", "first_us", "last_us", "gap_us")
    if n == 0:
        return {k: np.empty(0, np.int64) for k in names}
    aid = np.ascontiguousarray(aid, dtype=np.int64)
    tid = np.ascontiguousarray(tid, dtype=np.int64)
    us = np.ascontiguousarray(us, dtype=np.int64)
    order = np.lexsort((us, tid))
    aid, tid, us = aid[order], tid[order], us[order]
    starts = np.flatnonzero(np.r_[True, tid[1:] != tid[:-1]])
    sizes = np.diff(np.r_[starts, n])
    blk_lo = np.repeat(starts, sizes).astype(np.int64)
    blk_hi = blk_lo + np.repeat(sizes, sizes)
    n_acc = int(aid.max()) + 1
    acct_rows = np.argsort(aid, kind="stable").astype(np.int64)  # (target, time) order kept
    acct_start = np.zeros(n_acc + 1, np.int64)
    np.cumsum(np.bincount(aid, minlength=n_acc), out=acct_start[1:])
    timed = window_us is not None
    w = int(window_us) if timed else 0
    # chunks of accounts of about equal work (rows), a few per thread
    n_chunks = max(1, min(n_acc, 8 * max(1, threads)))
    bounds = np.searchsorted(acct_start, np.linspace(0, n, n_chunks + 1)).astype(np.int64)
    bounds[0], bounds[-1] = 0, n_acc
    bounds = np.unique(np.clip(bounds, 0, n_acc))
    jobs = [(int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds) if hi > lo]

    def run(job: tuple[int, int]) -> tuple[np.ndarray, ...]:
        return kernel(
            job[0],
            job[1],
            acct_start,
            acct_rows,
            aid,
            us,
            blk_lo,
            blk_hi,
            w,
            timed,
            int(min_repetitions),
            n_acc,
        )

    if threads > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            parts = list(pool.map(run, jobs))
    else:
        parts = [run(j) for j in jobs]
    return {k: np.concatenate([p[i] for p in parts]) for i, k in enumerate(names)}
