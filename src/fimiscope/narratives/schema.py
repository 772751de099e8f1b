"""The narratives subsystem's tables, re-exported.

They are defined in :mod:`fimiscope.store.subsystems.narratives`, so that opening a store need
not import the subsystem.
"""

from fimiscope.store.subsystems.narratives import (
    CLAIM_MATCHES,
    CLAIMS,
    MIGRATIONS,
    NARRATIVE_ID,
    NARRATIVE_POSTS,
    NARRATIVE_VOLUME,
    NARRATIVES,
    RUN_ID,
    TABLES,
    TRENDS,
)

__all__ = [
    "CLAIMS",
    "CLAIM_MATCHES",
    "MIGRATIONS",
    "NARRATIVES",
    "NARRATIVE_ID",
    "NARRATIVE_POSTS",
    "NARRATIVE_VOLUME",
    "RUN_ID",
    "TABLES",
    "TRENDS",
]
