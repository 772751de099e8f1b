"""Clustering of text vectors into narratives: a protocol and a default that scales.

The default, :class:`KMeansMerge`, over-segments with mini-batch k-means (linear in the
number of texts, a few passes over small batches), then merges segments whose centroids are
close (average-linkage agglomeration over at most a few hundred centroids), so the number of
narratives follows from a distance, not from a guess of k. Given rows in the same order and
the same seed it returns the same labels; the pipeline sorts its input texts, which makes
the result independent of the order in which posts were ingested.

References
----------
.. [1] Sculley (2010). Web-scale k-means clustering. WWW.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from fimiscope.errors import ConfigError


@runtime_checkable
class Clusterer(Protocol):
    """Assigns each row of ``x`` (L2-normalised vectors) a cluster label ``>= 0``."""

    def fit_predict(self, x: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray: ...


def merge_by_centroid(
    centroids: np.ndarray, max_distance: float, *, linkage_method: str = "average"
) -> np.ndarray:
    """Group rows of ``centroids`` whose linkage cosine distance is <= ``max_distance``.

    ``linkage_method`` is scipy's: ``average`` (the mean distance between two groups' rows),
    or ``complete`` (every pair within the distance: no chaining).

    Returns the new label of each row (numbered by first appearance, so deterministic).

    >>> c = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]])
    >>> merge_by_centroid(c, 0.1).tolist()
    [0, 0, 1]
    """
    n = len(centroids)
    if n <= 1:
        return np.zeros(n, np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    d = np.clip(pdist(centroids.astype(np.float64), metric="cosine"), 0.0, 2.0)
    d = np.nan_to_num(d, nan=2.0)
    z = linkage(d, method=linkage_method)
    raw = fcluster(z, t=max_distance, criterion="distance")
    _, first = np.unique(raw, return_index=True)
    order = {raw[i]: k for k, i in enumerate(sorted(first))}
    return np.array([order[r] for r in raw], np.int64)


def _renumber(labels: np.ndarray) -> np.ndarray:
    _, first = np.unique(labels, return_index=True)
    mapping = {labels[i]: k for k, i in enumerate(sorted(first))}
    return np.array([mapping[v] for v in labels], np.int64)


class KMeansMerge:
    """Mini-batch k-means over-segmentation, then centroid merging.

    Parameters
    ----------
    n_segments
        k of the k-means step; ``None`` picks ``1.5 sqrt(n)`` bounded to [2, 500].
    merge_distance
        Cosine distance (1 - cosine) under which segments merge.
    seed
        Random seed of k-means.
    batch_size
        Mini-batch size.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.vstack([rng.normal([5, 0], 0.1, (20, 2)), rng.normal([0, 5], 0.1, (20, 2))])
    >>> x /= np.linalg.norm(x, axis=1, keepdims=True)
    >>> labels = KMeansMerge(n_segments=6, merge_distance=0.2, seed=0).fit_predict(x)
    >>> sorted(set(labels[:20].tolist())), sorted(set(labels[20:].tolist()))
    ([0], [1])
    """

    def __init__(
        self,
        *,
        n_segments: int | None = None,
        merge_distance: float = 0.55,
        seed: int = 0,
        batch_size: int = 4096,
    ) -> None:
        self.n_segments = n_segments
        self.merge_distance = merge_distance
        self.seed = seed
        self.batch_size = batch_size
        self.segments_: np.ndarray | None = None
        self.centroids_: np.ndarray | None = None

    def _k(self, n: int) -> int:
        if self.n_segments is not None:
            if not (isinstance(self.n_segments, int) and self.n_segments >= 1):
                raise ConfigError(
                    "n_segments", "KMeansMerge", "a positive integer or None", self.n_segments
                )
            return min(self.n_segments, n)
        return int(min(n, max(2, min(500, round(1.5 * n**0.5)))))

    def fit_predict(self, x: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        if not 0.0 <= self.merge_distance <= 2.0:
            raise ConfigError(
                "merge_distance", "KMeansMerge", "a cosine distance in [0, 2]", self.merge_distance
            )
        n = len(x)
        if n == 0:
            return np.zeros(0, np.int64)
        # k-means cannot place more centres than there are distinct rows (and warns if asked)
        rows = np.ascontiguousarray(x).view(np.dtype((np.void, x.dtype.itemsize * x.shape[1])))
        k = min(self._k(n), len(np.unique(rows)))
        if k <= 1:
            seg = np.zeros(n, np.int64)
        else:
            from sklearn.cluster import MiniBatchKMeans

            km = MiniBatchKMeans(
                n_clusters=k,
                random_state=self.seed,
                batch_size=self.batch_size,
                n_init=3,
                max_no_improvement=20,
            )
            seg = km.fit_predict(x, sample_weight=weights)
        seg = _renumber(seg)
        nseg = int(seg.max()) + 1
        cent = np.zeros((nseg, x.shape[1]), np.float64)
        np.add.at(cent, seg, x)
        norms = np.linalg.norm(cent, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        cent /= norms
        self.segments_ = seg
        self.centroids_ = cent
        merged = merge_by_centroid(cent, self.merge_distance)
        return merged[seg]
