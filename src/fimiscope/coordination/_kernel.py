"""Compiled kernels for the pair step: C (built at install time) or numba (the ``fast`` extra).

Gives exactly the per-pair aggregates of the SQL join in :mod:`fimiscope.coordination.pairs`
(the tests run every engine and SQL on the same inputs), in one pass per account instead of
a hash aggregation over every co-action row: Gustavson's row-by-row sparse product.

1. The actions are sorted by (target, time, account) (a counting sort on the target; set
   overlap: by target, stable). Accounts with fewer than ``min_activity`` distinct targets
   are dropped, and the actions of *crowd cells* (more than ``max_cell`` actions of one
   target within one Δt bucket, see :mod:`~fimiscope.coordination.pairs`) are set apart:
   they are contiguous runs of the sorted actions.
2. Each action's *partners* are the actions of the same target within Δt: a contiguous range
   ``[j0, j1)`` of the sorted actions, found for all actions at once by two pointers moving
   forward through each target's block.
3. *Prefilter* (exact): an action whose range holds only actions of its own account (found in
   O(1) per action from the run of equal accounts that starts the range) co-acts with
   nobody; an account left with fewer than ``min_repetitions`` targets reaches that bar with
   nobody. One round (the SQL path runs two; a second one saves less than it costs here).
4. For each account ``a`` (in id order), its actions are taken in (target, time) order (a
   stable counting sort by account) and their partners ``b > a`` (in C gathered tile by tile
   without a branch: half the partners are below ``a``) are visited once: all of the pair's
   aggregates (distinct targets, co-actions, first and last time, sum of gaps, last target
   seen) are updated in that one visit, in one 48-byte entry per partner. The entries are
   appended in the order of first visits (at 1M reposts 98 % of the useful visits are the
   first of their pair, so they are written sequentially) and found again through a sparse
   set (``where[b]``: one 4-byte slot per account, valid when it points below the list's
   length at an entry holding ``b``; never cleared). A target counts once because the actions
   of ``a`` on one target are consecutive. The entries that reach ``min_repetitions`` are
   emitted in ``b`` order. Work: one visit per (action, partner), no hashing; memory: one
   slot per account and one entry per partner of the current account, per worker.

Accounts are split into chunks of about equal work (visits, known from step 2) and processed
by a pool of threads (both kernels release the GIL). The output is ordered by (``a``, ``b``)
whatever the engine and the input order.

Engines: the C extension :mod:`fimiscope.coordination._cpairs` (``setup.py`` builds it when a
C compiler is at hand; nothing to load at run time), else numba (compiled once per process,
the machine code cached on disk), else none (the SQL path). ``FIMISCOPE_PAIR_KERNEL=c``,
``numba`` or ``sql`` forces one.
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

from fimiscope.errors import ConfigError, MissingDependencyError

__all__ = ["available", "available_engines", "engine", "pair_aggregates"]

_FUNCS: Any = None
_LOCK = threading.Lock()
_NAMES = ("a", "b", "n_targets", "n_coactions", "first_us", "last_us", "gap_us")
_ENV = "FIMISCOPE_PAIR_KERNEL"
_PRUNE_ROUNDS = 1
"""Rounds of the prefilter: a second one (as the SQL path does) catches actions whose only
partner the first dropped, and costs more than it saves here (1M reposts: 1 % of the visits
fall in the first round, almost none in the second)."""


_C_ABI = 1
"""The ``ABI`` of :mod:`fimiscope.coordination._cpairs` this module calls: a build left over
from another version of ``_cpairs.c`` (an old in-place ``.so``) counts as not built."""


def _c_module() -> Any:
    try:
        from fimiscope.coordination import _cpairs
    except ImportError:
        return None
    return _cpairs if getattr(_cpairs, "ABI", None) == _C_ABI else None


def _has_numba() -> bool:
    return importlib.util.find_spec("numba") is not None


def available_engines() -> list[str]:
    """The compiled engines installed here, fastest first (``"c"``, ``"numba"``)."""
    return [e for e, ok in (("c", _c_module() is not None), ("numba", _has_numba())) if ok]


def engine() -> str | None:
    """The engine :func:`pair_aggregates` uses by default: ``"c"``, ``"numba"``, or None (use
    SQL). ``FIMISCOPE_PAIR_KERNEL`` forces one; forcing an engine that is not installed
    raises."""
    forced = os.environ.get(_ENV, "").strip().lower()
    if forced == "sql":
        return None
    if forced in ("c", "numba"):
        if forced not in available_engines():
            if forced == "numba":
                raise MissingDependencyError("numba", "fast")
            raise ConfigError(
                _ENV, "pair_counts", "an installed engine (the C extension was not built)", forced
            )
        return forced
    if forced:
        raise ConfigError(_ENV, "pair_counts", "one of c, numba, sql", forced)
    engines = available_engines()
    return engines[0] if engines else None


_default_engine = engine


def available() -> bool:
    """Whether a compiled engine is installed and not switched off (``sql``)."""
    return engine() is not None


def preload() -> None:
    """Import numba and load its compiled functions in a background thread (a few tenths of
    a second in a fresh process), so that it overlaps the caller's SQL work; the first
    :func:`pair_aggregates` waits for it. Nothing to do for the C engine. Errors surface
    there, not here."""
    if _FUNCS is not None or engine() != "numba":
        return

    def load() -> None:
        with contextlib.suppress(Exception):
            _compile()

    threading.Thread(target=load, name="fimiscope-kernel-load", daemon=True).start()


def _compile() -> Any:
    """The numba functions, built (or loaded from numba's on-disk cache) once per process."""
    with _LOCK:
        if _FUNCS is None:
            _build()
    return _FUNCS


def _build() -> None:  # the numba twins of _cpairs.c, one closure each
    global _FUNCS
    import numba

    jit = numba.njit(nogil=True, cache=True, boundscheck=False)

    @jit
    def active_mask(aid, tid, ok, n_acc, need):
        # accounts with at least `need` distinct targets among the ok actions (sorted by tid)
        n = len(aid)
        cnt = np.zeros(n_acc, np.int64)
        last = np.full(n_acc, -1, np.int64)
        for i in range(n):
            if ok[i]:
                a = aid[i]
                if last[a] != tid[i]:
                    last[a] = tid[i]
                    cnt[a] += 1
        keep = np.zeros(n, np.bool_)
        for i in range(n):
            keep[i] = ok[i] and cnt[aid[i]] >= need
        return keep

    @jit
    def crowd_mask(tid, us, timed, width, max_cell):
        n = len(tid)
        mask = np.zeros(n, np.bool_)
        lo = 0
        while lo < n:
            # truncated division, as DuckDB's integer // (and C's /)
            bk = (abs(us[lo]) // width) * (1 if us[lo] >= 0 else -1) if timed else 0
            hi = lo + 1
            while hi < n and tid[hi] == tid[lo]:
                if timed and (abs(us[hi]) // width) * (1 if us[hi] >= 0 else -1) != bk:
                    break
                hi += 1
            if hi - lo > max_cell:
                mask[lo:hi] = True
            lo = hi
        return mask

    @jit
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

    @jit
    def near_other(aid, j0, j1):
        # the range of action i holds another account's action (O(1) per action)
        n = len(aid)
        run = np.empty(n, np.int64)
        if n > 0:
            run[n - 1] = n
        for j in range(n - 2, -1, -1):
            run[j] = run[j + 1] if aid[j + 1] == aid[j] else j + 1
        ok = np.empty(n, np.bool_)
        for i in range(n):
            ok[i] = aid[j0[i]] != aid[i] or run[j0[i]] < j1[i]
        return ok

    @jit
    def account_rows(aid, j0, j1, n_acc):
        n = len(aid)
        start = np.zeros(n_acc + 1, np.int64)
        work = np.zeros(n_acc + 1, np.int64)
        for i in range(n):
            start[aid[i] + 1] += 1
            work[aid[i] + 1] += j1[i] - j0[i]
        pos = np.empty(n_acc, np.int64)
        for a in range(n_acc):
            start[a + 1] += start[a]
            work[a + 1] += work[a]
            pos[a] = start[a]
        rows = np.empty(n, np.int64)
        for i in range(n):
            rows[pos[aid[i]]] = i
            pos[aid[i]] += 1
        return start, rows, work

    @jit
    def kernel(a_lo, a_hi, start, rows, aid, tid, us, j0, j1, mr, n_acc):
        # the partners of the current account, in the order of first visits: b, first, last,
        # gap sum, co-actions, distinct targets, last target seen + 1; where[b - a_lo] is b's
        # position, valid only if below n_t and holding b (a sparse set, never cleared)
        span = n_acc - a_lo
        where = np.zeros(span + 1, np.int64)
        lst = np.empty((span + 1, 7), np.int64)
        cap = 4096
        out = np.empty((cap, 7), np.int64)
        n_out = 0
        for a in range(a_lo, a_hi):
            n_t = 0
            for r in range(start[a], start[a + 1]):
                i = rows[r]
                t = tid[i] + 1
                ui = us[i]
                for j in range(j0[i], j1[i]):
                    b = aid[j]
                    if b <= a:
                        continue
                    uj = us[j]
                    f = ui if ui < uj else uj
                    g = uj - ui if ui < uj else ui - uj
                    w = where[b - a_lo]
                    if w < n_t and lst[w, 0] == b:
                        lst[w, 4] += 1
                        if lst[w, 6] != t:
                            lst[w, 6] = t
                            lst[w, 5] += 1
                        if f < lst[w, 1]:
                            lst[w, 1] = f
                        if f > lst[w, 2]:
                            lst[w, 2] = f
                        lst[w, 3] += g
                    else:
                        where[b - a_lo] = n_t
                        lst[n_t, 0] = b
                        lst[n_t, 1] = f
                        lst[n_t, 2] = f
                        lst[n_t, 3] = g
                        lst[n_t, 4] = 1
                        lst[n_t, 5] = 1
                        lst[n_t, 6] = t
                        n_t += 1
            kept = np.flatnonzero(lst[:n_t, 5] >= mr)
            n_k = len(kept)
            if n_k == 0:
                continue
            kept = kept[np.argsort(lst[kept, 0])]  # in b order
            if n_out + n_k > cap:
                cap = max(2 * cap, n_out + n_k)
                grown = np.empty((cap, 7), np.int64)
                grown[:n_out] = out[:n_out]
                out = grown
            for x in range(n_k):
                w = kept[x]
                out[n_out, 0] = a
                out[n_out, 1] = lst[w, 0]
                out[n_out, 2] = lst[w, 5]
                out[n_out, 3] = lst[w, 4]
                out[n_out, 4] = lst[w, 1]
                out[n_out, 5] = lst[w, 2]
                out[n_out, 6] = lst[w, 3]
                n_out += 1
        return out[:n_out]

    # compile (or load) now, on a tiny input, so that a cache that cannot be written (a
    # read-only install) costs a warning here, silenced, and not in the caller
    z = np.zeros(1, np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", numba.NumbaWarning)
        ok = np.ones(1, np.bool_)
        active_mask(z, z, ok, 1, 1)
        crowd_mask(z, z, True, 1, 2)
        j0, j1 = ranges(z, z, 1)
        near_other(z, j0, j1)
        start, rows, _work = account_rows(z, j0, j1, 1)
        kernel(0, 1, start, rows, z, z, z, j0, j1, 1, 1)
    _FUNCS = (active_mask, crowd_mask, ranges, near_other, account_rows, kernel)


def _empty() -> dict[str, np.ndarray]:
    return {k: np.empty(0, np.int64) for k in _NAMES}


def _i64(x: Any) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.int64)


def pair_aggregates(
    aid: np.ndarray,
    tid: np.ndarray,
    us: np.ndarray | None,
    *,
    window_us: int | None,
    min_repetitions: int,
    threads: int = 2,
    presorted: bool = False,
    min_activity: int = 1,
    max_cell: int | None = None,
    cell_us: int = 1,
    n_targets: int | None = None,
    engine: str | None = None,
) -> dict[str, np.ndarray]:
    """Per-pair aggregates of one (platform, trace).

    ``aid`` (account ids >= 0, ordered like the account strings; gaps allowed), ``tid``
    (target ids >= 0, best dense: ``n_targets`` bounds them) and ``us`` (microseconds; ignored
    when ``window_us`` is None) are the actions that take part, in any order (``presorted``:
    already sorted by ``tid``, then ``us``). Accounts with fewer than ``min_activity``
    distinct targets are dropped first; with ``max_cell``, the actions of cells (target,
    ``us // cell_us`` truncated; the target alone in set overlap) holding more than
    ``max_cell`` actions take no part, and are returned as ``crowd_aid``, ``crowd_tid``,
    ``crowd_bk``.

    Returns arrays ``a``, ``b`` (``a < b``), ``n_targets``, ``n_coactions``, ``first_us``,
    ``last_us``, ``gap_us`` for the pairs with at least ``min_repetitions`` targets, ordered
    by (``a``, ``b``). ``engine``: ``"c"`` or ``"numba"`` (default: :func:`engine`).
    """
    eng = engine or _default_engine()
    if eng not in ("c", "numba"):
        raise ConfigError("engine", "pair_aggregates", "c or numba, installed", eng)
    timed = window_us is not None
    aid, tid = _i64(aid), _i64(tid)
    us = _i64(us) if timed and us is not None else np.zeros(len(aid), np.int64)
    if not (len(aid) == len(tid) == len(us)):
        raise ValueError("aid, tid and us differ in length")
    w = int(window_us) if timed else 0
    if w < 0 or int(min_repetitions) < 1:
        raise ValueError("window_us < 0 or min_repetitions < 1")
    mr = int(min_repetitions)
    res: dict[str, np.ndarray] = {}
    if max_cell is not None:
        res.update({f"crowd_{k}": np.empty(0, np.int64) for k in ("aid", "tid", "bk")})
    if len(aid) == 0:
        return {**_empty(), **res}
    if aid.min() < 0 or tid.min() < 0:
        raise ValueError("account and target ids must be >= 0")
    n_acc = int(aid.max()) + 1
    n_tgt = int(tid.max()) + 1 if n_targets is None else int(n_targets)
    c = _c_module() if eng == "c" else None
    f = _compile() if eng == "numba" else None
    if eng == "c" and c is None:
        raise ConfigError("engine", "pair_aggregates", "an installed engine", eng)

    # 1. sort by (target, time, account); drop inactive accounts; set crowd cells apart
    if not presorted:
        if c is not None and n_tgt <= 4 * len(tid) + 1024:
            sa, st, su = np.empty_like(aid), np.empty_like(tid), np.empty_like(us)
            c.sort_actions(aid, tid, us, n_tgt, timed, sa, st, su)
            aid, tid, us = sa, st, su
        else:
            order = np.lexsort((aid, us, tid)) if timed else np.argsort(tid, kind="stable")
            aid, tid, us = aid[order], tid[order], us[order]
    elif c is not None:  # the C functions write in place: never into the caller's arrays
        aid, tid, us = aid.copy(), tid.copy(), us.copy()
    if min_activity > 1:
        if c is not None:
            n = c.activity(aid, tid, us, n_acc, int(min_activity))
            aid, tid, us = aid[:n], tid[:n], us[:n]
        else:
            keep = f[0](aid, tid, np.ones(len(aid), np.bool_), n_acc, int(min_activity))
            aid, tid, us = aid[keep], tid[keep], us[keep]
    if max_cell is not None and len(aid):
        width = max(1, int(cell_us))
        if c is not None:
            mask = np.empty(len(aid), np.uint8)
            n_crowd = c.crowd(tid, us, timed, width, int(max_cell), mask)
            mask = mask.view(np.bool_)
        else:
            mask = f[1](tid, us, timed, width, int(max_cell))
            n_crowd = int(mask.sum())
        if n_crowd:
            cu = us[mask]
            res["crowd_aid"], res["crowd_tid"] = aid[mask], tid[mask]
            res["crowd_bk"] = (np.abs(cu) // width) * np.sign(cu) if timed else np.zeros_like(cu)
            keep = ~mask
            aid, tid, us = aid[keep], tid[keep], us[keep]
    if len(aid) == 0:
        return {**_empty(), **res}

    # 2-3. partner ranges, prefilter (_PRUNE_ROUNDS rounds)
    if c is not None:
        j0, j1 = np.empty_like(aid), np.empty_like(aid)
        n = c.prune(aid, tid, us, n_acc, w, mr, j0, j1, _PRUNE_ROUNDS)
        aid, tid, us, j0, j1 = aid[:n], tid[:n], us[:n], j0[:n], j1[:n]
    else:
        active_mask, _crowd, ranges, near_other = f[:4]
        for _ in range(_PRUNE_ROUNDS):
            j0, j1 = ranges(tid, us, w)
            keep = active_mask(aid, tid, near_other(aid, j0, j1), n_acc, mr)
            if keep.all():
                break
            aid, tid, us = aid[keep], tid[keep], us[keep]
            if len(aid) == 0:
                break
        else:
            j0, j1 = ranges(tid, us, w)
    if len(aid) == 0:
        return {**_empty(), **res}

    # 4. rows of each account; chunks of accounts of about equal work, a few per thread
    if c is not None:
        start, work = np.empty(n_acc + 1, np.int64), np.empty(n_acc + 1, np.int64)
        rows = np.empty(len(aid), np.int64)
        c.account_rows(aid, j0, j1, n_acc, start, rows, work)
    else:
        start, rows, work = f[4](aid, j0, j1, n_acc)
    n_chunks = max(1, min(n_acc, 8 * max(1, threads)))
    bounds = np.searchsorted(work, np.linspace(0, work[-1], n_chunks + 1)).astype(np.int64)
    bounds[0], bounds[-1] = 0, n_acc
    bounds = np.unique(np.clip(bounds, 0, n_acc))
    jobs = [(int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds) if hi > lo]

    if c is not None:
        local = threading.local()  # one slot per account and thread, reused by its jobs

        def run(job: tuple[int, int]) -> np.ndarray:
            ws = getattr(local, "ws", None)
            if ws is None:
                ws = local.ws = np.zeros(n_acc + 1, np.uint32)
            raw = c.kernel(job[0], job[1], start, rows, aid, tid, us, j0, j1, mr, n_acc, ws)
            return np.frombuffer(raw, np.int64).reshape(-1, 7)

    else:
        kern = f[5]

        def run(job: tuple[int, int]) -> np.ndarray:
            return kern(job[0], job[1], start, rows, aid, tid, us, j0, j1, mr, n_acc)

    if threads > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            parts = list(pool.map(run, jobs))
    else:
        parts = [run(j) for j in jobs]
    out = np.concatenate(parts) if len(parts) > 1 else parts[0]
    res.update({k: out[:, i] for i, k in enumerate(_NAMES)})  # views: the caller copies once
    return res
