"""Clustering: topics separate, and the result does not depend on the order of the input."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from fimiscope.ingest import ingest
from fimiscope.narratives import CharNgramEmbedder, KMeansMerge, run_narratives
from fimiscope.store import Store
from tests.conftest import page, tweet, user

TOPICS = {
    "sanctions": [
        "日本が対露制裁の解除を開始したらしい{}",
        "対露制裁の解除が始まったってニュース{}",
        "【拡散】日本政府、対露制裁の解除をこっそり開始{}",
    ],
    "prices": ["スーパーの野菜がまた値上げ{}", "物価高で今月も赤字{}", "電気代の値上げがきつい{}"],
    "quake": [
        "地震の揺れ大きかった{}",
        "震度4の地震、皆さん大丈夫ですか{}",
        "地震速報で目が覚めた{}",
    ],
}
TAILS = ["", "！", "😡", " #参院選", "…", "w", "。", "😂😂", "ｗ", "!!"]


def _posts(seed: int) -> list[tuple[int, str, str]]:
    rng = random.Random(seed)
    out = []
    n = 0
    for topic, frames in TOPICS.items():
        for frame in frames:
            for tail in TAILS:
                n += 1
                out.append((1000 + n, topic, frame.format(tail)))
    rng.shuffle(out)
    return out


def _ingest(path: Path, posts: list[tuple[int, str, str]]) -> Store:
    lines = b""
    for k in range(0, len(posts), 10):
        chunk = posts[k : k + 10]
        lines += page(
            [
                tweet(tid, 1 + tid % 7, text, at=f"2025-07-14T{tid % 24:02d}:00:00.000Z")
                for tid, _, text in chunk
            ],
            [user(u, f"user{u}") for u in range(1, 8)],
        )
    f = path.with_suffix(".jsonl")
    f.write_bytes(lines)
    store = Store(path)
    ingest(store, [f])
    return store


def _assignment(store: Store) -> dict[str, int]:
    run = store.latest_run("narratives")
    return dict(
        store.sql("SELECT post_id, narrative_id FROM narrative_posts WHERE run_id = ?", [run])
    )


def test_topics_separate_and_input_order_does_not_matter(tmp_path: Path) -> None:
    a_posts = _posts(1)
    b_posts = list(reversed(_posts(2)))  # the same posts, ingested in another order
    assert sorted(a_posts) == sorted(b_posts) and a_posts != b_posts
    results = []
    for name, posts in (("a", a_posts), ("b", b_posts)):
        with _ingest(tmp_path / f"{name}.duckdb", posts) as store:
            run_narratives(store, cross_lingual=False, min_posts=1, seed=5)
            results.append(_assignment(store))
    assert results[0] == results[1]
    # the copies of one message (a frame with its varied tails) form one narrative, and no
    # narrative mixes topics: character n-grams group wording, not meaning
    frame = {str(tid): text.rstrip("".join(TAILS) + " #参院選") for tid, _, text in a_posts}
    topic = {str(tid): t for tid, t, _ in a_posts}
    by_frame: dict[str, set[int]] = {}
    by_narrative: dict[int, set[str]] = {}
    for pid, n in results[0].items():
        by_frame.setdefault(frame[pid][:8], set()).add(n)
        by_narrative.setdefault(n, set()).add(topic[pid])
    assert all(len(v) == 1 for v in by_frame.values()), by_frame
    assert all(len(v) == 1 for v in by_narrative.values()), by_narrative


def test_clusterer_is_deterministic_given_rows_and_seed() -> None:
    texts = sorted({f.format(t) for frames in TOPICS.values() for f in frames for t in TAILS})
    x = CharNgramEmbedder(dim=16, seed=0).embed(texts)
    a = KMeansMerge(seed=3).fit_predict(x)
    b = KMeansMerge(seed=3).fit_predict(x.copy())
    assert np.array_equal(a, b)
    # labels are numbered by first appearance: 0 first
    assert a[0] == 0


def test_duplicate_vectors_and_tiny_inputs() -> None:
    # three identical rows and one other: k is capped by the distinct rows (no warning)
    x = np.array([[1, 0], [1, 0], [1, 0], [0, 1]], np.float32)
    assert KMeansMerge(n_segments=4).fit_predict(x).tolist() == [0, 0, 0, 1]
    assert KMeansMerge().fit_predict(np.zeros((0, 2), np.float32)).tolist() == []
    assert KMeansMerge().fit_predict(np.ones((1, 2), np.float32)).tolist() == [0]


def test_empty_store(store: Store) -> None:
    result = run_narratives(store)
    assert (result.posts, result.narratives) == (0, 0)
    assert store.run(result.run_id)["status"] == "ok"
