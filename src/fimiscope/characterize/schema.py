"""The characterize subsystem's tables, re-exported.

They are defined in :mod:`fimiscope.store.subsystems.characterize`, so that opening a store need
not import the subsystem.
"""

from fimiscope.store.subsystems.characterize import (
    ACCOUNT_AUTOMATION,
    ACCOUNT_FEATURES,
    ACCOUNT_ID,
    ACCOUNT_TIMEZONE,
    FIGURES,
    GROUP_DOSSIER,
    GROUP_ID,
    GROUP_TIMEZONE,
    MIGRATIONS,
    PLATFORM,
    POST_DISSEMINATION,
    RUN_ID,
    STATE_MEDIA_AMPLIFICATION,
    STATE_MEDIA_CHAIN,
    TABLES,
)

__all__ = [
    "ACCOUNT_AUTOMATION",
    "ACCOUNT_FEATURES",
    "ACCOUNT_ID",
    "ACCOUNT_TIMEZONE",
    "FIGURES",
    "GROUP_DOSSIER",
    "GROUP_ID",
    "GROUP_TIMEZONE",
    "MIGRATIONS",
    "PLATFORM",
    "POST_DISSEMINATION",
    "RUN_ID",
    "STATE_MEDIA_AMPLIFICATION",
    "STATE_MEDIA_CHAIN",
    "TABLES",
]
