"""Staging of one file's rows in Parquet files beside the store, outside any transaction.

A parser's rows are written, batch by batch, into compressed Parquet files in a private folder
next to the store (``.<store name>.ingest-<pid>-<random>``). The store itself is not touched
until the merge, which reads these files in the file's one transaction. So the transaction
holds only what the file adds to the store, staging never grows DuckDB's transaction-local
storage (which its memory limit does not cap), and a process killed while staging leaves only
the folder, which the next ingest into that store removes (the store's write lock means no
other live process can own it).

The normalised columns (``text_norm``, ``tag_norm``, ``handle_norm``, ``url_norm``,
``domain``) are computed here, batch by batch, with the vectorised functions of
:mod:`fimiscope.ingest.normalise`, for every format alike; the merge is then plain SQL.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fimiscope.ingest.normalise import (
    fold_handle_array,
    fold_hashtag_array,
    normalise_text_array,
    normalise_url_array,
    url_domain_array,
)
from fimiscope.ingest.sink import STAGE_SCHEMAS

_S = pa.string()


def _posts(t: pa.Table) -> list[tuple[str, pa.Array]]:
    return [("text_norm", normalise_text_array(t.column("text")))]


def _urls(t: pa.Table) -> list[tuple[str, pa.Array]]:
    # A non-normalisable expanded link falls back to the short link as written.
    url_norm = normalise_url_array(t.column("expanded_url"))
    missing = pc.is_null(url_norm)
    if pc.any(missing).as_py():  # only those rows: the short link as written
        short = normalise_url_array(pc.if_else(missing, t.column("url").combine_chunks(), None))
        url_norm = pc.coalesce(url_norm, short)
    return [("url_norm", url_norm), ("domain", url_domain_array(url_norm))]


def _handle(t: pa.Table) -> list[tuple[str, pa.Array]]:
    return [("handle_norm", fold_handle_array(t.column("handle")))]


def _tags(t: pa.Table) -> list[tuple[str, pa.Array]]:
    return [("tag_norm", fold_hashtag_array(t.column("tag")))]


# Per staged table: the normalised columns added to each batch, and how.
DERIVED: dict[str, tuple[tuple[str, ...], Callable[[pa.Table], list[tuple[str, pa.Array]]]]] = {
    "posts": (("text_norm",), _posts),
    "post_urls": (("url_norm", "domain"), _urls),
    "post_hashtags": (("tag_norm",), _tags),
    "post_mentions": (("handle_norm",), _handle),
    "accounts": (("handle_norm",), _handle),
}


def staged_schema(table: str) -> pa.Schema:
    schema = STAGE_SCHEMAS[table]
    for name in DERIVED.get(table, ((), None))[0]:
        schema = schema.append(pa.field(name, _S))
    return schema


_PREFIX = ".{name}.ingest-"
_OWN = re.compile(r"\.ingest-(\d+)-[0-9a-f]+$")


def remove_stale(store_path: str) -> None:
    """Remove staging folders that killed ingests left beside the store at ``store_path``.

    Call only while holding the store open for writing: no other process can then be
    staging for it, so every folder not made by this process is stale."""
    if store_path == ":memory:" or not store_path:
        return
    p = Path(store_path)
    with contextlib.suppress(OSError):
        for d in p.parent.glob(_PREFIX.format(name=p.name) + "*"):
            m = _OWN.search(d.name)
            if m and int(m.group(1)) != os.getpid() and d.is_dir():
                shutil.rmtree(d, ignore_errors=True)


class StageFiles:
    """One file's staged rows: a Parquet file per flushed batch per table.

    Use as a context manager; the folder is removed when the block ends, whatever happens.
    """

    def __init__(self, store_path: str, *, compression: str = "lz4") -> None:
        self.compression = compression
        if store_path and store_path != ":memory:":
            p = Path(store_path).resolve()
            self.dir = p.parent / (
                _PREFIX.format(name=p.name) + f"{os.getpid()}-{secrets.token_hex(6)}"
            )
            self.dir.mkdir()
        else:
            self.dir = Path(tempfile.mkdtemp(prefix=f"fimiscope-ingest-{os.getpid()}-"))
        self.files: dict[str, list[str]] = {t: [] for t in STAGE_SCHEMAS}
        self.rows: dict[str, int] = dict.fromkeys(STAGE_SCHEMAS, 0)
        self._n = 0
        self._lock = threading.Lock()  # `append` may be called from several threads
        # An empty file per table, so that every table can be read even when nothing came.
        for table in STAGE_SCHEMAS:
            self._write(table, staged_schema(table).empty_table())

    def __enter__(self) -> StageFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def append(self, table: str, batch: pa.Table) -> None:
        """Stage ``batch`` (columns in :data:`STAGE_SCHEMAS` order) with its normalised
        columns. Safe to call from several threads at once."""
        if not batch.num_rows:
            return
        schema = STAGE_SCHEMAS[table]
        batch = batch.rename_columns(schema.names).cast(schema)
        derived = DERIVED.get(table)
        if derived is not None:
            for name, values in derived[1](batch):
                batch = batch.append_column(pa.field(name, _S), values)
        self._write(table, batch)
        with self._lock:
            self.rows[table] += batch.num_rows

    def _write(self, table: str, batch: pa.Table) -> None:
        with self._lock:
            path = self.dir / f"{table}-{self._n:06d}.parquet"
            self._n += 1
        # Read once, by the merge, whole: no dictionaries or statistics to build.
        pq.write_table(
            batch,
            path,
            compression=self.compression,
            row_group_size=131_072,
            use_dictionary=False,
            write_statistics=False,
        )
        with self._lock:
            self.files[table].append(str(path))

    def params(self, sql: str) -> dict[str, Any]:
        """The file lists a merge statement reads, as named parameters (``$s_<table>``)."""
        return {f"s_{t}": files for t, files in self.files.items() if re.search(rf"\$s_{t}\b", sql)}


def source(table: str) -> str:
    """SQL for the staged rows of ``table`` (its file list is the parameter ``$s_<table>``)."""
    if table not in STAGE_SCHEMAS:
        raise ValueError(f"no staging table {table!r}")
    return f"read_parquet($s_{table})"
