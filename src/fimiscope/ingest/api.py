"""Ingest files into the store: one transaction per file, idempotent by content hash."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from fimiscope._sql import first_row
from fimiscope.errors import FimiscopeError, IngestError
from fimiscope.ingest import merge as _merge
from fimiscope.ingest import registry
from fimiscope.ingest import staging as _staging
from fimiscope.ingest.sink import Sink
from fimiscope.ingest.source import SourceFile, sha256_file
from fimiscope.store import Store

Progress = Callable[[Path, int], None]
"""Called as ``progress(path, records_so_far)`` after each flushed batch."""


@dataclass(frozen=True)
class IngestInfo:
    """What one file's ingest did."""

    path: str
    format: str
    sha256: str
    source_id: int | None
    run_id: str | None
    records: int
    posts: int
    accounts: int
    engagements: int
    rejected: int
    skipped: bool
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def expand_paths(
    paths: Iterable[str | Path], on_error: Callable[[IngestError], None] | None = None
) -> list[Path]:
    """Files named, found under folders (recursively, hidden files skipped) or matched by globs.

    A name that matches nothing raises :class:`IngestError`, or is passed to ``on_error``.
    """
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(
                sorted(
                    q
                    for q in p.rglob("*")
                    if q.is_file()
                    and not any(part.startswith(".") for part in q.relative_to(p).parts)
                )
            )
        elif p.exists():
            out.append(p)
        else:
            matches = sorted(Path(m) for m in glob.glob(str(raw), recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                err = IngestError(raw, "no such file, folder or glob match")
                if on_error is None:
                    raise err
                on_error(err)
            out.extend(files)
    seen: set[Path] = set()
    unique = []
    for p in out:
        rp = p.resolve()
        if rp not in seen:
            seen.add(rp)
            unique.append(p)
    return unique


def ingest(
    store: Store,
    paths: Sequence[str | Path] | str | Path,
    *,
    format: str | None = None,
    options: dict[str, Any] | None = None,
    batch_size: int = 100_000,
    progress: Progress | None = None,
    on_error: Callable[[IngestError], None] | None = None,
) -> list[IngestInfo]:
    """Ingest files, folders or globs into ``store``.

    Parameters
    ----------
    store
        An open, writable store.
    paths
        Files, folders (read recursively) or glob patterns.
    format
        Format name from :func:`fimiscope.ingest.formats`; sniffed from content when omitted.
    options
        Format options (e.g. ``{"mapping": "cols.yaml"}`` for generic CSV).
    on_error
        Called with the error of a file that cannot be ingested; the other files go on.
        When omitted, the first such error is raised (earlier files stay ingested).

    Returns
    -------
    list of IngestInfo, one per file, in order.

    Raises
    ------
    IngestError
        A file is missing, unreadable or not in a known format (unless ``on_error`` is given).
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    if format is not None:
        registry.get(format)  # an unknown name is an error even when every file is known
    files = expand_paths(paths, on_error)
    params = {
        "paths": [str(p) for p in files],
        "format": format,
        "options": options or {},
        "batch_size": batch_size,
    }
    readable = []
    for p in files:
        try:
            with open(p, "rb"):
                pass
            readable.append(p)
        except OSError as exc:
            err = IngestError(p, f"cannot read the file ({exc.strerror or exc})")
            if on_error is None:
                raise err from exc
            on_error(err)
    # The run's input digest covers every readable file; the hashes come from the ingest
    # itself (a large file is hashed while it is parsed), so the digest is set at the end.
    run_id = store.start_run("ingest", params)
    infos: list[IngestInfo] = []
    failed: list[str] = []
    digests: list[str] = []
    try:
        for p in readable:
            try:
                info = ingest_file(
                    store,
                    p,
                    format=format,
                    options=options,
                    run_id=run_id,
                    batch_size=batch_size,
                    progress=progress,
                )
                infos.append(info)
                digests.append(info.sha256)
            except IngestError as exc:
                with contextlib.suppress(OSError):
                    digests.append(sha256_file(p))
                failed.append(str(exc))
                if on_error is None:
                    raise
                on_error(exc)
    except BaseException as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        store.finish_run(run_id, status="failed", message=message, input_digest=_digest(digests))
        raise
    rejected = sum(i.rejected for i in infos)
    store.finish_run(
        run_id,
        input_digest=_digest(digests),
        status="failed" if failed else "ok",
        message=f"{len(infos)} files, {sum(i.posts for i in infos)} posts, {rejected} rejected"
        + (f"; {len(failed)} failed" if failed else ""),
    )
    return infos


def _digest(hashes: list[str]) -> str:
    """One digest over files' SHA-256 (their order does not matter)."""
    return hashlib.sha256("".join(sorted(hashes)).encode()).hexdigest()


HASH_AHEAD_BYTES = 32 * 1024 * 1024
"""Files at least this large are hashed while they are parsed, not before."""


class _AlreadyKnown(Exception):
    def __init__(self, sha: str, known: tuple[Any, ...]) -> None:
        super().__init__(sha)
        self.sha, self.known = sha, known


class _Hasher:
    """SHA-256 of a file, computed in a thread (hashlib releases the GIL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.checked = False
        self._sha: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        try:
            self._sha = sha256_file(path)
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise IngestError(self.path, f"cannot be read: {self._error}") from self._error
        assert self._sha is not None
        return self._sha


def ingest_file(
    store: Store,
    path: str | Path,
    *,
    format: str | None = None,
    options: dict[str, Any] | None = None,
    sha256: str | None = None,
    run_id: str | None = None,
    batch_size: int = 100_000,
    progress: Progress | None = None,
) -> IngestInfo:
    """Ingest one file in one transaction (all of it or none); a no-op if its bytes are known."""
    started = time.perf_counter()
    path = Path(path)
    if not path.is_file():
        raise IngestError(path, "no such file")
    con = store.con

    def skipped(sha: str, known: tuple[Any, ...]) -> IngestInfo:
        return IngestInfo(
            str(path), known[1], sha, known[0], run_id, 0, 0, 0, 0, 0, True,
            time.perf_counter() - started,
        )  # fmt: skip

    def known_source(sha: str) -> tuple[Any, ...] | None:
        return first_row(
            con.execute("SELECT source_id, format FROM sources WHERE sha256 = ?", [sha])
        )

    # A large file is hashed in a thread while it is parsed (the hash is needed only for the
    # merge); bytes already ingested are noticed when the hash is done, and parsing stops.
    hasher = None
    if sha256 is None and path.stat().st_size >= HASH_AHEAD_BYTES:
        hasher = _Hasher(path)
        sha = ""
    else:
        sha = sha256 or sha256_file(path)
        known = known_source(sha)
        if known is not None:
            return skipped(sha, known)
    source = SourceFile(path.resolve(), dict(options or {}))
    if path.stat().st_size == 0:
        raise IngestError(path, "the file is empty")
    fmt = registry.detect(source, format)
    # Parsed rows are staged in Parquet files outside the store; the store changes only in
    # the merge, one transaction per file (see `staging`).
    _staging.remove_stale(store.path)
    with _staging.StageFiles(store.path) as stage:

        def check_known() -> None:
            if hasher is not None and hasher.done() and not hasher.checked:
                hasher.checked = True
                known = known_source(hasher.result())
                if known is not None:
                    raise _AlreadyKnown(hasher.result(), known)

        def on_batch(table: str, batch: Any) -> None:
            check_known()
            stage.append(table, batch)
            if progress is not None:
                progress(path, sink.records)

        def on_progress() -> None:
            check_known()
            if progress is not None:
                progress(path, sink.records)

        sink = Sink(on_batch, batch_size=batch_size, con=con)
        sink.stage_direct = stage.append
        sink.on_progress = on_progress
        try:
            fmt.parse(source, sink)
        except _AlreadyKnown as already:
            return skipped(already.sha, already.known)
        except FimiscopeError:
            raise
        except (
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            IndexError,
            OSError,
            EOFError,
            UnicodeDecodeError,
            duckdb.Error,
        ) as exc:
            raise IngestError(
                path, f"cannot be read as {fmt.description}: {type(exc).__name__}: {exc}"
            ) from exc
        if hasher is not None:
            sha = hasher.result()
            known = known_source(sha)
            if known is not None:
                return skipped(sha, known)
        sink.flush()
        if sink.records == 0:
            raise IngestError(path, f"no records found; expected {fmt.expected}")
        if sink.rejected == sink.records:
            raise IngestError(
                path,
                f"every one of its {sink.records} records was rejected; "
                f"is it really {fmt.description}? (expected {fmt.expected})",
            )
        try:
            with store.transaction():
                row = first_row(con.execute("SELECT nextval('source_id_seq')"))
                assert row is not None
                source_id = int(row[0])
                counts = _merge.merge(con, stage, source_id)
                now = datetime.now(UTC)
                _merge.insert_rejects(con, stage, source_id, str(source.path), fmt.name, now)
                con.execute(
                    "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        source_id,
                        str(source.path),
                        sha,
                        fmt.name,
                        path.stat().st_size,
                        sink.records,
                        counts["posts"],
                        counts["accounts"],
                        counts["engagements"],
                        sink.rejected,
                        sink.cursor,
                        now,
                        run_id,
                    ],
                )
        except duckdb.Error as exc:
            raise IngestError(
                path, f"the store refused the data: {str(exc).splitlines()[0]}"
            ) from exc
    return IngestInfo(
        str(path),
        fmt.name,
        sha,
        source_id,
        run_id,
        sink.records,
        counts["posts"],
        counts["accounts"],
        counts["engagements"],
        sink.rejected,
        False,
        time.perf_counter() - started,
    )
