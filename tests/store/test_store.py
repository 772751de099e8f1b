"""The store: migrations, transactions, runs, exports and the schema documentation."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from fimiscope.errors import NotFoundError, SchemaVersionError
from fimiscope.store import Store
from fimiscope.store import docs as schema_docs
from fimiscope.store.migrations import Migration, all_migrations, applied_versions, migrate
from fimiscope.store.schema import CANONICAL_TABLES, C, Table


def test_new_store_has_every_table_and_version(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as s:
        for table in CANONICAL_TABLES:
            assert table.name in s.tables()
        assert applied_versions(s.con) == {m.version for m in all_migrations()}


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    Store(tmp_path / "s.duckdb").close()
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    assert migrate(con) == []
    rows = con.execute("SELECT count(*), count(DISTINCT version) FROM schema_meta").fetchall()
    assert rows[0][0] == rows[0][1]


def test_forward_migration_adds_a_table_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        s.con.execute(
            "INSERT INTO posts (platform, post_id, kind, text) VALUES ('x','1','post','a')"
        )
    extra = Migration(
        999, "test table", tables=(Table("t_extra", "doc", (C("a", "INTEGER", "doc"),)),)
    )
    con = duckdb.connect(str(path))
    assert migrate(con, [*all_migrations(), extra]) == [999]
    assert con.execute("SELECT text FROM posts").fetchall() == [("a",)]
    assert con.execute("SELECT count(*) FROM t_extra").fetchall() == [(0,)]
    con.close()
    # A fimiscope that does not know migration 999 must refuse the newer store.
    with pytest.raises(SchemaVersionError, match="999"):
        Store(path)


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    bad = Migration(1, "bad", statements=("CREATE TABLE a (x INT)", "THIS IS NOT SQL"))
    with pytest.raises(duckdb.Error):
        migrate(con, [bad])
    assert con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'a'"
    ).fetchall() == [(0,)]


def test_transaction_is_all_or_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as con:
        con.execute("INSERT INTO posts (platform, post_id, kind) VALUES ('x','1','post')")
        raise RuntimeError("crash")
    assert store.count("posts") == 0


def test_runs_record_parameters_and_status(store: Store) -> None:
    run_id = store.start_run(
        "detect", {"window": 30, "traces": ["repost"]}, seed=7, input_digest="abc"
    )
    store.finish_run(run_id, message="done")
    run = store.run(run_id)
    assert run["parameters"] == {"traces": ["repost"], "window": 30}
    assert (run["seed"], run["status"], run["input_digest"]) == (7, "ok", "abc")
    assert run["fimiscope_version"]
    assert store.latest_run("detect") == run_id
    with pytest.raises(NotFoundError):
        store.run("nope")


def test_csv_export_neutralises_formulas_and_parquet_keeps_bytes(
    store: Store, tmp_path: Path
) -> None:
    texts = ['=HYPERLINK("http://evil")', "+1", "-2", "@SUM(A1)", "\tx", "plain", "日本語"]
    for i, t in enumerate(texts):
        store.con.execute(
            "INSERT INTO posts (platform, post_id, kind, text) VALUES ('x', ?, 'post', ?)",
            [str(i), t],
        )
    store.export_table("posts", tmp_path / "p.csv", fmt="csv")
    csv_text = (tmp_path / "p.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in csv_text and "'+1" in csv_text and "'@SUM" in csv_text
    assert ",plain," in csv_text and "日本語" in csv_text
    store.export_table("posts", tmp_path / "p.parquet")
    got = pq.read_table(tmp_path / "p.parquet").sort_by("post_id").column("text").to_pylist()
    assert got == texts


def test_schema_doc_is_generated_from_the_code() -> None:
    committed = (Path(__file__).parents[2] / "docs" / "schema.md").read_text(encoding="utf-8")
    assert committed == schema_docs.render(), "run: python -m fimiscope.store.docs"


def test_every_column_is_documented() -> None:
    for m in all_migrations():
        for t in m.tables:
            assert t.doc
            for c in t.columns:
                assert c.doc.strip(), f"{t.name}.{c.name} has no documentation"
