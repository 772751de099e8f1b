"""The command line: data on stdout, one-line errors on stderr, exit codes, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from fimiscope.cli import main
from tests.conftest import FIXTURES, page, tweet, user

SEARCH = FIXTURES / "x_v2" / "search_page.jsonl"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fimiscope", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "FIMISCOPE_NO_PROGRESS": "1"},
        timeout=120,
    )


def test_ingest_info_and_json(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    r = cli("ingest", str(SEARCH), "--store", db, "--json")
    assert r.returncode == 0, r.stderr
    data = orjson.loads(r.stdout)
    assert data["files"][0]["posts"] == 3 and data["files"][0]["rejected"] == 2
    r = cli("info", "--store", db, "--json")
    assert orjson.loads(r.stdout)["counts"]["posts"] == 4


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00garbage", b"a,b\n1,2\n", b'{"x":'])
def test_bad_files_give_one_line_and_exit_2(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.dat"
    bad.write_bytes(content)
    r = cli("ingest", str(bad), "--store", str(tmp_path / "s.duckdb"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fimiscope: error: ") and str(bad) in lines[0]
    assert "Traceback" not in r.stderr


def test_good_and_bad_files_together(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    r = cli("ingest", str(SEARCH), str(tmp_path / "missing.jsonl"), "--store", db)
    assert r.returncode == 2 and "missing.jsonl" in r.stderr
    assert "3 posts" in r.stdout  # the good file still went in


def test_usage_errors(tmp_path: Path) -> None:
    r = cli("ingest", str(SEARCH), "--store", str(tmp_path / "s.duckdb"), "--format", "nope")
    assert r.returncode == 2 and "must be one of" in r.stderr and "Traceback" not in r.stderr
    r = cli("info", "--store", str(tmp_path / "absent.duckdb"))
    assert r.returncode == 2 and "no such store" in r.stderr
    assert cli("no-such-command").returncode == 2


def test_export_pseudonymises_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIMISCOPE_PSEUDONYM_KEY_FILE", str(tmp_path / "key"))
    db = str(tmp_path / "s.duckdb")
    src = tmp_path / "in.jsonl"
    src.write_bytes(
        page(
            [
                tweet(
                    1,
                    424242,
                    "hello @secret_handle",
                    entities={
                        "mentions": [
                            {"start": 6, "end": 20, "username": "secret_handle", "id": "515151"}
                        ]
                    },
                )
            ],
            [user(424242, "very_secret_user", description="my bio")],
        )
    )
    assert main(["ingest", str(src), "--store", db]) == 0
    for table in ("accounts", "posts", "post_mentions"):
        out = tmp_path / f"{table}.parquet"
        assert main(["export", table, "--store", db, "--out", str(out)]) == 0
        blob = out.read_bytes()
        for raw in (b"424242", b"very_secret_user", b"515151", b"my bio"):
            assert raw not in blob, (table, raw)
    # Same key, same token: exports made on different days still join.
    a = pq.read_table(tmp_path / "accounts.parquet").column("account_id").to_pylist()
    p = pq.read_table(tmp_path / "posts.parquet").column("account_id").to_pylist()
    assert set(p) <= set(a) and all(t.startswith("p_") for t in a)
    assert (
        main(
            [
                "export",
                "accounts",
                "--store",
                db,
                "--out",
                str(tmp_path / "raw.csv"),
                "--format",
                "csv",
                "--raw",
            ]
        )
        == 0
    )
    assert "424242" in (tmp_path / "raw.csv").read_text()
