"""Fixtures of the monitor tests: a small scenario, its plain ingest, and store comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fimiscope.ingest import ingest
from fimiscope.simulate import generate_scenario
from fimiscope.store import Store

# Canonical content that must be identical however the events arrived (source_id excluded).
CANONICAL = {
    "posts": "SELECT platform, post_id, account_id, created_at, kind, ref_post_id, text, "
    "is_stub FROM posts",
    "engagements": 'SELECT platform, account_id, kind, target_post_id, target_account_id, "at" '
    "FROM engagements",
    "accounts": "SELECT platform, account_id, handle, display_name, first_seen_at FROM accounts",
    "post_hashtags": "SELECT platform, post_id, position, tag_norm FROM post_hashtags",
    "post_urls": "SELECT platform, post_id, position, url_norm FROM post_urls",
    "post_refs": "SELECT platform, post_id, ref_type, ref_post_id FROM post_refs",
}


def canonical(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for table, sql in CANONICAL.items():
        rows = store.sql(sql)
        out[table] = sorted(rows, key=repr)
    return out


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("scenario")
    files = generate_scenario(out, actions=20_000, seed=7, bluesky_share=0.5)
    truth = json.loads(files.ground_truth.read_text())
    ops = {
        op["id"]: {a["account_id"] for a in op["accounts"] if a["platform"] == "bluesky"}
        for op in truth["operations"]
    }
    lines = [ln for ln in files.jetstream.read_bytes().splitlines() if ln.strip()]
    return {"jetstream": files.jetstream, "ops": ops, "lines": lines, "dir": out}


@pytest.fixture(scope="session")
def reference(
    scenario: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[tuple[Any, ...]]]:
    """The canonical rows of a plain `ingest` of the same Jetstream file."""
    path = tmp_path_factory.mktemp("ref") / "ref.duckdb"
    with Store(path) as s:
        ingest(s, [scenario["jetstream"]])
        return canonical(s)


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def ingest_lines(path: Path, lines: list[bytes]) -> dict[str, list[tuple[Any, ...]]]:
    """Canonical rows of a plain ingest of ``lines`` (written to ``path``.jsonl)."""
    src = write_lines(path.with_suffix(".jsonl"), lines)
    with Store(path) as s:
        ingest(s, [src])
        return canonical(s)
