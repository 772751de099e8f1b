"""The review subsystem's tables, re-exported.

They are defined in :mod:`fimiscope.store.subsystems.review`, so that opening a store need
not import the subsystem.
"""

from fimiscope.store.subsystems.review import (
    AUDIT_LOG,
    MIGRATIONS,
    REVIEWS,
    TABLES,
)

__all__ = ["AUDIT_LOG", "MIGRATIONS", "REVIEWS", "TABLES"]
