"""A small analysed scenario store, built once per session and copied for each test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from fimiscope.store import Store

HOSTILE_SCRIPT = "<script>window.__pwned = 1; document.title = 'pwned'</script>"
HOSTILE_IMG = '<img src=x onerror="window.__pwned = 2">'
HOSTILE_CSV = '=HYPERLINK("http://evil.example/","click")'


@pytest.fixture(scope="session")
def analysed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Scenario (30k actions) ingested, detected and characterised: 3 bot groups on X."""
    from fimiscope.characterize import characterize
    from fimiscope.coordination import detect
    from fimiscope.ingest import ingest
    from fimiscope.simulate import generate_scenario

    base = tmp_path_factory.mktemp("analysed")
    files = generate_scenario(base / "scenario", actions=30_000, seed=7)
    db = base / "store.duckdb"
    with Store(db) as store:
        ingest(store, [files.x_v2, files.x_liking_users, files.jetstream])
        result = detect(store, seed=7)
        assert len(result.groups) >= 2, "the scenario should give at least two groups"
        characterize(store, coordination_run=result.run_id, seed=7)
    return db


@pytest.fixture
def astore(analysed_db: Path, tmp_path: Path) -> Iterator[Store]:
    db = tmp_path / "store.duckdb"
    shutil.copy(analysed_db, db)
    s = Store(db)
    yield s
    s.close()


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return tmp_path / "pseudonym.key"


def detect_run(store: Store) -> str:
    run = store.latest_run("detect")
    assert run is not None
    return run


def confirm(store: Store, *groups: int) -> str:
    from fimiscope import review

    run = detect_run(store)
    for g in groups:
        review.record(
            store,
            subject_kind="group",
            subject_id=g,
            decision="confirm",
            reason="test",
            analyst="tester",
            run_id=run,
        )
    return run


def member_ids(store: Store, group: int) -> list[tuple[str, str, str | None]]:
    return store.sql(
        "SELECT m.platform, m.account_id, a.handle FROM coord_members m LEFT JOIN accounts a "
        "USING (platform, account_id) WHERE m.run_id = ? AND m.group_id = ?",
        [detect_run(store), group],
    )


def plant_hostile_texts(store: Store, group: int) -> None:
    """Replace the texts of a group's own posts with XSS and spreadsheet-formula payloads."""
    members = [a for _p, a, _h in member_ids(store, group)]
    payloads = [HOSTILE_SCRIPT, HOSTILE_IMG, HOSTILE_CSV]
    rows = store.sql(
        "SELECT post_id FROM posts WHERE account_id IN (SELECT unnest(?::VARCHAR[])) "
        "AND kind IN ('post', 'quote', 'reply') ORDER BY post_id",
        [members],
    )
    assert rows, "the group should have posts with text"
    for i, (pid,) in enumerate(rows):
        text = payloads[i % 3]
        store.sql("UPDATE posts SET text = ?, text_norm = ? WHERE post_id = ?", [text, text, pid])
