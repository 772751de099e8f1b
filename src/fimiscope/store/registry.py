"""Where subsystems declare their derived tables as migrations.

Each subsystem keeps its table definitions in its own ``schema`` module; the list below
fixes their order (and so their migration numbers). Keep it append-only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fimiscope.store.migrations import Migration

# Each subsystem owns a block of migration numbers, so that they never collide:
# core 1-9, coordination 10-19, characterize 20-29, narratives 30-39, review 40-49, monitor 50-59,
# web 60-69.
_SUBSYSTEMS: tuple[str, ...] = (
    "fimiscope.store.subsystems.coordination",
    "fimiscope.store.subsystems.characterize",
    "fimiscope.store.subsystems.narratives",
    "fimiscope.store.subsystems.review",
    "fimiscope.store.subsystems.monitor",
    "fimiscope.store.subsystems.web",
)


def subsystem_migrations() -> list[Migration]:
    """Migrations contributed by subsystems.

    A subsystem module defines ``MIGRATIONS``: a list of
    ``(version, description, tables, statements)`` tuples, versions inside its own block.
    """
    from fimiscope.store.migrations import Migration

    out: list[Migration] = []
    for name in _SUBSYSTEMS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # The subsystem (or its schema module) is not part of this installation.
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
                continue
            raise
        for version, description, tables, statements in module.MIGRATIONS:
            out.append(Migration(version, description, tuple(tables), tuple(statements)))
    return out
