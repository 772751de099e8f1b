"""The web subsystem's tables, re-exported.

They are defined in :mod:`fimiscope.store.subsystems.web`, so that opening a store need
not import the subsystem.
"""

from fimiscope.store.subsystems.web import (
    MIGRATIONS,
    TABLES,
    WEB_SESSIONS,
    WEB_USERS,
)

__all__ = ["MIGRATIONS", "TABLES", "WEB_SESSIONS", "WEB_USERS"]
