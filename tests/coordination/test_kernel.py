"""The compiled pair kernels: the C extension is really built, engines are chosen as
documented, bad input is refused, and times before 1970 fall in the same crowd cells as in
SQL."""

from __future__ import annotations

import importlib.util
import random
import shutil

import duckdb
import numpy as np
import pytest

from fimiscope.coordination import _kernel
from fimiscope.coordination.pairs import pair_counts
from fimiscope.errors import ConfigError

from ._reference import at, load


def test_c_extension_is_built_when_a_compiler_is_at_hand():
    """``pip install -e .`` (``make test``) compiles ``_cpairs`` when a C compiler is on PATH;
    a build that fails silently there must not hide behind the numba/SQL fallbacks."""
    if not (shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")):
        pytest.skip("no C compiler on PATH: the C kernel is optional")
    assert importlib.util.find_spec("fimiscope.coordination._cpairs") is not None, (
        "a C compiler is on PATH but fimiscope.coordination._cpairs was not built: "
        "run `pip install -e .` and read its warnings"
    )
    assert _kernel.available_engines()[0] == "c", (
        "fimiscope.coordination._cpairs is a stale build (another ABI than _kernel.py "
        "expects): run `pip install -e .` again"
    )


def test_engine_choice_and_the_environment(monkeypatch):
    engines = _kernel.available_engines()
    monkeypatch.delenv("FIMISCOPE_PAIR_KERNEL", raising=False)
    assert _kernel.engine() == (engines[0] if engines else None)
    monkeypatch.setenv("FIMISCOPE_PAIR_KERNEL", "SQL")
    assert _kernel.engine() is None and not _kernel.available()
    con = duckdb.connect()
    load(con, [("x", "u1", "repost", "p", at(0), "r1"), ("x", "u2", "repost", "p", at(1), "r2")])
    pair_counts(con, "acts", window=10)
    assert pair_counts.last_engine == "sql"  # type: ignore[attr-defined]
    assert con.execute("SELECT account_a, account_b FROM pairs").fetchall() == [("u1", "u2")]
    monkeypatch.setenv("FIMISCOPE_PAIR_KERNEL", "gpu")
    with pytest.raises(ConfigError):
        _kernel.engine()
    for name in engines:
        monkeypatch.setenv("FIMISCOPE_PAIR_KERNEL", name)
        assert _kernel.engine() == name
        pair_counts(con, "acts", window=10)
        assert pair_counts.last_engine == name  # type: ignore[attr-defined]
        pair_counts(con, "acts", window=10, kernel=False)
        assert pair_counts.last_engine == "sql"  # type: ignore[attr-defined]


def test_c_functions_refuse_bad_input():
    """Lengths and every value used as an index are checked in C: ValueError, never a read or
    write out of bounds."""
    c = pytest.importorskip("fimiscope.coordination._cpairs")
    z = np.zeros(4, np.int64)
    e = np.empty(4, np.int64)
    with pytest.raises(ValueError, match="tid"):
        c.sort_actions(z, np.array([0, 1, 9, 2]), z, 3, True, e.copy(), e.copy(), e.copy())
    with pytest.raises(ValueError, match="bytes"):
        c.sort_actions(z, z, z[:3], 3, True, e.copy(), e.copy(), e.copy())
    with pytest.raises(ValueError, match="aid"):
        c.prune(np.array([0, 7, 1, 1]), z.copy(), z.copy(), 2, 5, 1, e.copy(), e.copy(), 1)
    big = np.arange(8, dtype=np.int64) % 3
    with pytest.raises(ValueError, match="overlaps"):  # an output over an input
        c.sort_actions(z, big[:4], z, 3, True, e.copy(), big[2:6], e.copy())
    with pytest.raises(ValueError, match="overlaps"):
        c.prune(z.copy(), z.copy(), z.copy(), 2, 5, 1, big[:4], big[3:7], 1)
    with pytest.raises(ValueError, match="aid"):
        c.activity(np.array([0, -1, 1, 1]), z.copy(), z.copy(), 2, 2)
    with pytest.raises(ValueError):
        c.crowd(z, z, True, 0, 2, np.zeros(4, np.uint8))  # width < 1
    st = np.array([0, 2, 4], np.int64)
    rows = np.array([0, 1, 2, 3], np.int64)
    j0, j1 = np.zeros(4, np.int64), np.full(4, 4, np.int64)
    aid = np.array([0, 0, 1, 1], np.int64)
    ws = np.full(3, 12345, np.uint32)  # any content: a sparse set
    raw = c.kernel(0, 2, st, rows, aid, z, z, j0, j1, 1, 2, ws)
    assert np.frombuffer(raw, np.int64).tolist() == [0, 1, 1, 4, 0, 0, 0]
    bad = {
        "rows": (st, np.array([0, 1, 2, 99]), aid, j0, j1),
        "range end": (st, rows, aid, j0, np.full(4, 5, np.int64)),
        "partner": (st, rows, np.array([0, 0, 1, 5]), j0, j1),
        "start": (np.array([0, 3, 2]), rows, aid, j0, j1),
    }
    for what, (s, r, a, x0, x1) in bad.items():
        with pytest.raises(ValueError, match="out of range"):
            c.kernel(0, 2, s, r, a, z, z, x0, x1, 1, 2, ws)
        assert what
    with pytest.raises(ValueError):
        c.kernel(0, 3, st, rows, aid, z, z, j0, j1, 1, 2, ws)  # a_hi > n_acc
    with pytest.raises(ValueError, match="workspace"):
        c.kernel(0, 2, st, rows, aid, z, z, j0, j1, 1, 2, ws[:2])
    with pytest.raises((BufferError, ValueError), match="contiguous"):
        c.kernel(0, 2, st, rows, aid, z, z, np.zeros(8, np.int64)[::2], j1, 1, 2, ws)  # strided


@pytest.mark.parametrize("window", [None, 30, 45.5])
def test_times_before_1970_fall_in_the_crowd_cells_sql_uses(window, engine):
    """Crowd cells are ``us // window_us`` as DuckDB divides integers (towards zero): times
    just before and after the epoch share bucket 0. Each engine agrees with SQL on pairs,
    crowd pairs and crowd members."""
    from datetime import UTC, datetime, timedelta

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rnd = random.Random(5)

    def t(seconds: float) -> datetime:
        return epoch + timedelta(microseconds=round(seconds * 1e6))

    # 12 accounts on 40 ordinary posts around the epoch, and 3 hot posts that 20 accounts
    # repost within +-20 s of it: one cell (> max_cell) when buckets truncate towards zero,
    # two cells of ~10 when they floor
    acts = [
        ("x", f"u{rnd.randrange(12)}", "repost", f"p{rnd.randrange(40)}", t(rnd.uniform(-99, 99)))
        for _ in range(400)
    ]
    acts += [
        ("x", f"u{k}", "repost", hot, t(rnd.uniform(-20, 20)))
        for hot in ("h1", "h2", "h3")
        for k in range(20)
    ]
    con = duckdb.connect()
    load(con, [(*a, f"r{i}") for i, a in enumerate(acts)])
    kw = {"window": window, "min_repetitions": 2, "max_cell": 12}
    rows = {}
    for kernel in (False, True):
        sfx = int(kernel)
        pair_counts(
            con, "acts", kernel=kernel, out=f"p{sfx}", crowd_out=f"c{sfx}",
            crowd_members_out=f"m{sfx}", **kw,
        )  # fmt: skip
        rows[kernel] = [
            con.execute(f"SELECT * FROM {t}{sfx} ORDER BY ALL").fetchall() for t in "pcm"
        ]
    assert pair_counts.last_engine == engine  # type: ignore[attr-defined]
    assert len(rows[False][0]) >= 5 and len(rows[False][2]) >= 60
    assert rows[True] == rows[False]


def test_engines_write_the_same_rows_in_the_same_order(monkeypatch):
    """Whatever the engine and the input order, ``out`` lists each (platform, trace)'s pairs
    ordered by (account_a, account_b): a run is reproducible from one machine to another."""
    engines = _kernel.available_engines()
    if not engines:
        pytest.skip("no compiled pair kernel installed")
    rnd = random.Random(8)
    acts = [
        ("x", f"u{rnd.randrange(30)}", "repost", f"p{rnd.randrange(20)}", at(rnd.randrange(90)))
        for _ in range(1200)
    ]
    con = duckdb.connect()
    got = []
    for k, name in enumerate(engines * 2):
        monkeypatch.setenv("FIMISCOPE_PAIR_KERNEL", name)
        rows = [(*a, f"r{i}") for i, a in enumerate(acts)]
        rnd.shuffle(rows)
        load(con, rows)
        pair_counts(con, "acts", window=20, min_repetitions=2, out=f"p{k}")
        got.append(con.execute(f"SELECT * FROM p{k}").fetchall())
    assert len(got[0]) >= 20
    assert [(r[2], r[3]) for r in got[0]] == sorted((r[2], r[3]) for r in got[0])
    assert all(g == got[0] for g in got)
