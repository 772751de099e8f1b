"""Large files are hashed while they are parsed; bytes already ingested are still a no-op."""

from __future__ import annotations

from pathlib import Path

import pytest

from fimiscope.ingest import api
from fimiscope.ingest.api import ingest_file
from fimiscope.store import Store
from tests.ingest.test_x_v2_paths import clean_pages, lines_of, write


@pytest.mark.parametrize("ahead", [True, False])
def test_hash_ahead_keeps_ingest_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ahead: bool
) -> None:
    if ahead:
        monkeypatch.setattr(api, "HASH_AHEAD_BYTES", 0)
    data = write(tmp_path / "pages.jsonl", lines_of(clean_pages()))
    copy = write(tmp_path / "copy.jsonl", lines_of(clean_pages()))
    with Store(tmp_path / "s.duckdb") as st:
        first = ingest_file(st, data)
        assert not first.skipped and first.posts > 0
        assert len(first.sha256) == 64
        posts = st.con.execute("SELECT count(*) FROM posts").fetchall()
        again = ingest_file(st, copy)  # same bytes, another name
        assert again.skipped and again.sha256 == first.sha256
        assert again.source_id == first.source_id
        assert st.con.execute("SELECT count(*) FROM posts").fetchall() == posts
        assert st.con.execute("SELECT count(*) FROM sources").fetchall() == [(1,)]
        assert not list(tmp_path.glob(".s.duckdb.ingest-*"))


def test_known_bytes_stop_the_parse_early(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the hash says the bytes are known, the next batch stops the parse."""
    monkeypatch.setattr(api, "HASH_AHEAD_BYTES", 0)
    pages = clean_pages() * 50
    data = write(tmp_path / "pages.jsonl", lines_of(pages))
    with Store(tmp_path / "s.duckdb") as st:
        ingest_file(st, data)
        seen = []
        info = ingest_file(st, data, batch_size=1, progress=lambda p, n: seen.append(n))
        assert info.skipped
        assert seen == [] or max(seen) < len(pages)


@pytest.mark.parametrize("ahead", [True, False])
def test_the_runs_input_digest_covers_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ahead: bool
) -> None:
    import hashlib

    from fimiscope.ingest import ingest
    from fimiscope.ingest.source import sha256_file

    if ahead:
        monkeypatch.setattr(api, "HASH_AHEAD_BYTES", 0)
    good = write(tmp_path / "pages.jsonl", lines_of(clean_pages()))
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\x00\x01 not a known format\n")
    errors: list[str] = []
    with Store(tmp_path / "s.duckdb") as st:
        ingest(st, [good, bad], on_error=lambda e: errors.append(str(e)))
        run = st.run(st.con.execute("SELECT run_id FROM runs").fetchall()[0][0])
    assert len(errors) == 1 and "bad.jsonl" in errors[0]
    hashes = sorted([sha256_file(good), sha256_file(bad)])
    assert run["input_digest"] == hashlib.sha256("".join(hashes).encode()).hexdigest()
    assert run["status"] == "failed"
