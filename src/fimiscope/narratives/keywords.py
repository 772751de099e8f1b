"""Keywords per narrative by class-based TF-IDF (c-TF-IDF).

All documents of a class are one document: a term's weight in class *c* is its frequency
there, ``tf(t, c) / |c|``, times ``log(1 + A / f(t))`` where ``A`` is the average number of
tokens per class and ``f(t)`` the term's frequency over all classes. Terms frequent in one
narrative and rare elsewhere rank first.

References
----------
.. [1] Grootendorst (2022). BERTopic: Neural topic modeling with a class-based TF-IDF
   procedure. arXiv:2203.05794.
"""

from __future__ import annotations

import math
from collections import Counter

from fimiscope.narratives.text import tokens


def ctfidf_keywords(
    docs: dict[int, list[tuple[str, str]]], n: int = 10, *, min_df: int = 2
) -> dict[int, list[tuple[str, float]]]:
    """Top ``n`` terms per class of ``docs`` (class -> list of ``(text, lang)``).

    A term must occur in at least ``min_df`` documents of its class (one-off words are noise).

    >>> docs = {0: [("制裁解除が始まった", "ja"), ("対露制裁の解除", "ja")],
    ...         1: [("物価高がつらい", "ja"), ("物価が上がった", "ja")]}
    >>> [k for k, _ in ctfidf_keywords(docs, 1)[0]], [k for k, _ in ctfidf_keywords(docs, 1)[1]]
    (['制裁'], ['物価'])
    """
    tf: dict[int, Counter[str]] = {}
    df: dict[int, Counter[str]] = {}
    for c, items in docs.items():
        counts: Counter[str] = Counter()
        dfc: Counter[str] = Counter()
        for text, lang in items:
            toks = tokens(text, lang)
            counts.update(toks)
            dfc.update(set(toks))
        tf[c] = counts
        df[c] = dfc
    total: Counter[str] = Counter()
    for counts in tf.values():
        total.update(counts)
    sizes = [sum(c.values()) for c in tf.values()]
    avg = (sum(sizes) / len(sizes)) if sizes else 0.0
    out: dict[int, list[tuple[str, float]]] = {}
    for c, counts in tf.items():
        size = sum(counts.values()) or 1
        need = min(min_df, len(docs[c]))
        scored = [
            (term, (k / size) * math.log(1.0 + avg / total[term]))
            for term, k in counts.items()
            if df[c][term] >= need
        ]
        scored.sort(key=lambda kv: (-kv[1], kv[0]))
        out[c] = scored[:n]
    return out
