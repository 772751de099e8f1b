"""Lazy bridges to the subsystems the dashboard shows but does not own.

The review trail and the report writers are optional parts of an installation. Each bridge
returns ``None`` (or nothing) when its subsystem is missing, so a page says so instead of
failing. (Narratives, trends and claims are read straight from their documented tables by
:mod:`fimiscope.web.queries`, and pages say "no narrative run yet" when there is none.)
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from fimiscope.store import Store


def module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            return None
        raise


def review() -> ModuleType | None:
    return module("fimiscope.review")


def report() -> ModuleType | None:
    return module("fimiscope.report")


def audit(store: Store, *, actor: str, action: str, detail: dict[str, Any]) -> bool:
    """Append to the audit log when the review trail is installed; ``False`` when it is not."""
    mod = review()
    if mod is None:
        return False
    mod.audit(store, actor=actor, action=action, detail=detail)
    return True


def statuses(store: Store, kind: str, *, run_id: str | None = None) -> dict[str, str]:
    mod = review()
    if mod is None:
        return {}
    return dict(mod.statuses(store, kind, run_id=run_id))
