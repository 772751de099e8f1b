"""A compiled kernel for the pair step (optional: the ``fast`` extra, numba).

Gives exactly the per-pair aggregates of the SQL join in :mod:`fimiscope.coordination.pairs`
(the tests run both on the same inputs), in one pass per account instead of a hash
aggregation over every co-action row: Gustavson's row-by-row sparse product.

1. The actions are sorted by (target, time). Each action's *partners* are the actions of the
   same target within Δt: a contiguous range ``[j0, j1)`` of the sorted actions, found for all
   actions at once by two pointers moving forward through each target's block
   (:func:`_ranges`).
2. *Prefilter* (exact, :func:`_prune`): an action whose range holds only itself and actions
   of its own account (timed: its previous and next action on the target are both more than
   Δt away; set overlap: one account on the target) co-acts with nobody; an account left with
   fewer than ``min_repetitions`` targets reaches that bar with nobody. Two rounds, as in the
   SQL path.
3. For each account ``a`` (in id order), its actions are taken in (target, time) order; each
   partner account ``b > a`` accumulates, in a dense per-account row of four int32 (16 bytes:
   distinct targets, co-actions, last target seen, kept flag), its distinct targets (a target
   counts once: the actions of ``a`` on one target are consecutive) and co-action count. The
   ``b`` that reach ``min_repetitions`` get a second pass for the min / max of the earlier time
   and the sum of gaps; then the touched rows are emitted and reset. Work: one visit per
   (action, partner) with no hashing; memory: a few arrays of one slot per account, per
   worker.

Accounts are split into chunks of about equal work (visits, known from step 1), processed by
a pool of threads (the kernel releases the GIL). Numba compiles the functions once per
process (and caches the machine code on disk, ``cache=True``): the first call in a process
loads them, later calls reuse them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["available", "pair_aggregates"]

_FUNCS: Any = None
_LOCK = threading.Lock()
_NAMES = ("a", "b", "n_targets", "n_coactions", "first_us", "last_us", "gap_us")


def available() -> bool:
    """Whether numba is importable and the kernel is not switched off
    (``FIMISCOPE_PAIR_KERNEL=sql``)."""
    if os.environ.get("FIMISCOPE_PAIR_KERNEL", "").lower() == "sql":
        return False
    return importlib.util.find_spec("numba") is not None


def preload() -> None:
    """Import numba and load the compiled functions in a background thread (a few tenths of
    a second in a fresh process), so that it overlaps the caller's SQL work; the first
    :func:`pair_aggregates` waits for it. Errors surface there, not here."""
    if _FUNCS is not None:
        return

    def load() -> None:
        with contextlib.suppress(Exception):
            import pyarrow.compute  # noqa: F401 - the caller encodes in Arrow meanwhile

            _compile()

    threading.Thread(target=load, name="fimiscope-kernel-load", daemon=True).start()


def _compile() -> Any:
    """The compiled functions, built (or loaded from numba's on-disk cache) once per process."""
    with _LOCK:
        if _FUNCS is None:
            _build()
    return _FUNCS


def _build() -> None:
    global _FUNCS
    import numba

    @numba.njit(nogil=True, cache=True, boundscheck=False)
    def ranges(tid, us, w_us):
        # for each action (sorted by tid, us): [j0, j1) = actions of its target within w_us
        n = len(tid)
        j0 = np.empty(n, np.int64)
        j1 = np.empty(n, np.int64)
        lo = 0
        while lo < n:
            hi = lo + 1
            while hi < n and tid[hi] == tid[lo]:
                hi += 1
            p = lo
            q = lo
            for i in range(lo, hi):
                v = us[i] - w_us
                while us[p] < v:
                    p += 1
                v = us[i] + w_us
                if q <= i:
                    q = i + 1
                while q < hi and us[q] <= v:
                    q += 1
                j0[i] = p
                j1[i] = q
            lo = hi
        return j0, j1

    @numba.njit(nogil=True, cache=True, boundscheck=False)
    def prune_mask(aid, tid, j0, j1, mr, n_acc):
        # keep an action whose range holds another account, and then only the actions of
        # accounts with at least mr targets holding such actions
        n = len(aid)
        ok = np.zeros(n, np.bool_)
        for i in range(n):
            a = aid[i]
            for j in range(j0[i], j1[i]):
                if aid[j] != a:
                    ok[i] = True
                    break
        n_t = np.zeros(n_acc, np.int64)
        last_t = np.full(n_acc, -1, np.int64)
        for i in range(n):
            if ok[i]:
                a = aid[i]
                if last_t[a] != tid[i]:
                    last_t[a] = tid[i]
                    n_t[a] += 1
        for i in range(n):
            if ok[i] and n_t[aid[i]] < mr:
                ok[i] = False
        return ok

    @numba.njit(nogil=True, cache=True, boundscheck=False)
    def kernel(a_lo, a_hi, acct_start, acct_rows, aid, us, j0, j1, tgt, mr, n_acc):
        # per partner b: cnt[b] = (distinct targets, co-actions, last target seen, kept)
        cnt = np.zeros((n_acc, 4), np.int32)
        cnt[:, 2] = -1
        touched = np.empty(n_acc, np.int64)
        first = np.empty(n_acc, np.int64)
        last = np.empty(n_acc, np.int64)
        gap = np.empty(n_acc, np.int64)
        cap = 1024
        out = np.empty((cap, 7), np.int64)
        n_out = 0
        for a in range(a_lo, a_hi):
            n_touched = 0
            for r in range(acct_start[a], acct_start[a + 1]):
                i = acct_rows[r]
                t = tgt[i]
                for j in range(j0[i], j1[i]):
                    b = aid[j]
                    if b <= a:
                        continue
                    if cnt[b, 1] == 0:
                        touched[n_touched] = b
                        n_touched += 1
                    if cnt[b, 2] != t:
                        cnt[b, 2] = t
                        cnt[b, 0] += 1
                    cnt[b, 1] += 1
            n_keep = 0
            for x in range(n_touched):
                b = touched[x]
                if cnt[b, 0] >= mr:
                    cnt[b, 3] = 1
                    first[b] = 9223372036854775807
                    last[b] = -9223372036854775807
                    gap[b] = 0
                    n_keep += 1
            if n_keep > 0:
                for r in range(acct_start[a], acct_start[a + 1]):
                    i = acct_rows[r]
                    ui = us[i]
                    for j in range(j0[i], j1[i]):
                        b = aid[j]
                        if b <= a or cnt[b, 3] == 0:
                            continue
                        uj = us[j]
                        f = ui if ui < uj else uj
                        if f < first[b]:
                            first[b] = f
                        if f > last[b]:
                            last[b] = f
                        gap[b] += ui - uj if ui > uj else uj - ui
                if n_out + n_keep > cap:
                    cap = max(2 * cap, n_out + n_keep)
                    grown = np.empty((cap, 7), np.int64)
                    grown[:n_out] = out[:n_out]
                    out = grown
            for x in range(n_touched):
                b = touched[x]
                if cnt[b, 3] != 0:
                    out[n_out, 0] = a
                    out[n_out, 1] = b
                    out[n_out, 2] = cnt[b, 0]
                    out[n_out, 3] = cnt[b, 1]
                    out[n_out, 4] = first[b]
                    out[n_out, 5] = last[b]
                    out[n_out, 6] = gap[b]
                    n_out += 1
                cnt[b, 0] = 0
                cnt[b, 1] = 0
                cnt[b, 2] = -1
                cnt[b, 3] = 0
        return out[:n_out]

    # compile (or load) now, on a tiny input, so that a cache that cannot be written (a
    # read-only install) costs a warning here, silenced, and not in the caller
    z = np.zeros(1, np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", numba.NumbaWarning)
        j0, j1 = ranges(z, z, 1)
        prune_mask(z, z, j0, j1, 1, 1)
        kernel(0, 1, np.array([0, 1], np.int64), z, z, z, j0, j1, z.astype(np.int32), 1, 1)
    _FUNCS = (ranges, prune_mask, kernel)


def pair_aggregates(
    aid: np.ndarray,
    tid: np.ndarray,
    us: np.ndarray,
    *,
    window_us: int | None,
    min_repetitions: int,
    threads: int = 2,
    presorted: bool = False,
) -> dict[str, np.ndarray]:
    """Per-pair aggregates of one (platform, trace).

    ``aid`` (dense account ids >= 0, ordered like the account strings), ``tid`` (target ids)
    and ``us`` (microseconds; ignored when ``window_us`` is None) are the actions that take
    part, in any order (``presorted``: already sorted by ``tid``, then ``us``). Returns arrays
    ``a``, ``b`` (``a < b``), ``n_targets``, ``n_coactions``, ``first_us``, ``last_us``,
    ``gap_us`` for the pairs with at least ``min_repetitions`` targets, ordered by ``a``.
    """
    ranges, prune_mask, kernel = _compile()
    if len(aid) == 0:
        return {k: np.empty(0, np.int64) for k in _NAMES}
    aid = np.ascontiguousarray(aid, dtype=np.int64)
    tid = np.ascontiguousarray(tid, dtype=np.int64)
    timed = window_us is not None
    # set overlap: every action of a target is a partner of every other (times all 0, Δt 0)
    us = np.ascontiguousarray(us, dtype=np.int64) if timed else np.zeros(len(aid), np.int64)
    w = int(window_us) if timed else 0
    if not presorted:
        order = np.lexsort((us, tid))
        aid, tid, us = aid[order], tid[order], us[order]
    n_acc = int(aid.max()) + 1
    mr = int(min_repetitions)
    for _ in range(2):
        j0, j1 = ranges(tid, us, w)
        keep = prune_mask(aid, tid, j0, j1, mr, n_acc)
        if keep.all():
            break
        aid, tid, us = aid[keep], tid[keep], us[keep]
        if len(aid) == 0:
            return {k: np.empty(0, np.int64) for k in _NAMES}
    else:
        j0, j1 = ranges(tid, us, w)
    n = len(aid)
    # a target's number: the start of its block (fits int32 for < 2**31 actions)
    starts = np.flatnonzero(np.r_[True, tid[1:] != tid[:-1]])
    tgt = np.repeat(starts, np.diff(np.r_[starts, n])).astype(np.int32)
    acct_rows = np.argsort(aid, kind="stable").astype(np.int64)  # (target, time) order kept
    acct_start = np.zeros(n_acc + 1, np.int64)
    np.cumsum(np.bincount(aid, minlength=n_acc), out=acct_start[1:])
    # chunks of accounts of about equal work (partner visits), a few per thread
    work = np.zeros(n_acc + 1, np.int64)
    np.cumsum(np.bincount(aid, weights=j1 - j0, minlength=n_acc).astype(np.int64), out=work[1:])
    n_chunks = max(1, min(n_acc, 8 * max(1, threads)))
    bounds = np.searchsorted(work, np.linspace(0, work[-1], n_chunks + 1)).astype(np.int64)
    bounds[0], bounds[-1] = 0, n_acc
    bounds = np.unique(np.clip(bounds, 0, n_acc))
    jobs = [(int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds) if hi > lo]

    def run(job: tuple[int, int]) -> np.ndarray:
        return kernel(job[0], job[1], acct_start, acct_rows, aid, us, j0, j1, tgt, mr, n_acc)

    if threads > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            parts = list(pool.map(run, jobs))
    else:
        parts = [run(j) for j in jobs]
    res = np.concatenate(parts) if len(parts) > 1 else parts[0]
    return {k: np.ascontiguousarray(res[:, i]) for i, k in enumerate(_NAMES)}
