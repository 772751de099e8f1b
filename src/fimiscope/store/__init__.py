"""The canonical store (DuckDB): schema, migrations and the :class:`Store` handle."""

from fimiscope.store.store import Store

__all__ = ["Store"]
