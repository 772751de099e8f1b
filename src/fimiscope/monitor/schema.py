"""The monitor subsystem's tables, re-exported.

They are defined in :mod:`fimiscope.store.subsystems.monitor`, so that opening a store need
not import the subsystem.
"""

from fimiscope.store.subsystems.monitor import (
    ALERT_KINDS,
    ALERTS,
    MIGRATIONS,
    MONITOR_CURSORS,
    MONITOR_STATUS,
)

__all__ = ["ALERTS", "ALERT_KINDS", "MIGRATIONS", "MONITOR_CURSORS", "MONITOR_STATUS"]
