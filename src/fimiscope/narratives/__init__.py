"""Narratives, trends, claim matching and provenance (issue #6); see ``docs/narratives.md``.

Write side (each records a run): :func:`run_narratives`, :func:`detect_trends`,
:func:`load_claims` (no run: claims are reference data), :func:`match_claims`.
Read side (plain dicts and lists): :func:`list_narratives`, :func:`get_narrative`,
:func:`list_trends`, :func:`list_claims`, :func:`list_claim_matches`, :func:`claim_spread`,
:func:`narrative_provenance`.
"""

from fimiscope.narratives.api import (
    claim_spread,
    get_narrative,
    list_claim_matches,
    list_claims,
    list_narratives,
    list_trends,
)
from fimiscope.narratives.claims import (
    DEFAULT_CROSS_LINGUAL_THRESHOLD,
    DEFAULT_THRESHOLD,
    MatchResult,
    load_claims,
    match_claims,
)
from fimiscope.narratives.cluster import Clusterer, KMeansMerge
from fimiscope.narratives.embed import (
    CharNgramEmbedder,
    Embedder,
    SentenceTransformerEmbedder,
    UniversalSentenceEncoder,
)
from fimiscope.narratives.pipeline import NarrativesResult, run_narratives
from fimiscope.narratives.provenance import narrative_provenance
from fimiscope.narratives.trends import TrendsResult, detect_trends

__all__ = [
    "DEFAULT_CROSS_LINGUAL_THRESHOLD",
    "DEFAULT_THRESHOLD",
    "CharNgramEmbedder",
    "Clusterer",
    "Embedder",
    "KMeansMerge",
    "MatchResult",
    "NarrativesResult",
    "SentenceTransformerEmbedder",
    "TrendsResult",
    "UniversalSentenceEncoder",
    "claim_spread",
    "detect_trends",
    "get_narrative",
    "list_claim_matches",
    "list_claims",
    "list_narratives",
    "list_trends",
    "load_claims",
    "match_claims",
    "narrative_provenance",
    "run_narratives",
]
