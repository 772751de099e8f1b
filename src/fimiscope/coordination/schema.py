"""The coordination subsystem's tables, re-exported.

They are defined in :mod:`fimiscope.store.subsystems.coordination`, so that opening a store need
not import the subsystem.
"""

from fimiscope.store.subsystems.coordination import (
    ACCOUNT_A,
    ACCOUNT_B,
    COORD_EDGE_TRACES,
    COORD_EDGES,
    COORD_EVIDENCE,
    COORD_GROUPS,
    COORD_MEMBERS,
    MIGRATIONS,
    PLATFORM,
    RUN_ID,
    TABLES,
)

__all__ = [
    "ACCOUNT_A",
    "ACCOUNT_B",
    "COORD_EDGES",
    "COORD_EDGE_TRACES",
    "COORD_EVIDENCE",
    "COORD_GROUPS",
    "COORD_MEMBERS",
    "MIGRATIONS",
    "PLATFORM",
    "RUN_ID",
    "TABLES",
]
