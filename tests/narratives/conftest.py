"""Fixtures of the narratives tests: a small scenario store, built once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fimiscope.store import Store


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A 12k-action election scenario, ingested with its RSS feed, narratives and trends run."""
    from fimiscope.ingest import ingest
    from fimiscope.narratives import detect_trends, run_narratives
    from fimiscope.simulate import generate_scenario

    out = tmp_path_factory.mktemp("narr-scenario")
    files = generate_scenario(out / "scenario", actions=12_000, seed=3)
    db = out / "store.duckdb"
    with Store(db) as s:
        ingest(s, [files.x_v2, files.jetstream, files.articles_rss])
        run_narratives(s, seed=0)
        detect_trends(s)
    return db, files


@pytest.fixture
def scenario_store(scenario: tuple[Path, object], tmp_path: Path) -> Iterator[Store]:
    """A private copy of the scenario store (tests may write to it)."""
    import shutil

    db, _ = scenario
    copy = tmp_path / "store.duckdb"
    shutil.copy(db, copy)
    s = Store(copy)
    yield s
    s.close()
