"""Reading an input file: hashing, transparent gzip, the head for sniffing, lines with offsets."""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from fimiscope.errors import FormatMismatchError, IngestError

HEAD_BYTES = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass
class SourceFile:
    """One input file as a format parser sees it.

    ``options`` carries format options from the caller (e.g. a column mapping, a platform).
    """

    path: Path
    options: dict[str, Any] = field(default_factory=dict)
    _head: bytes | None = None
    _first_line: bytes | None = None

    @property
    def compressed(self) -> bool:
        with self.path.open("rb") as f:
            return f.read(2) == _GZIP_MAGIC

    def open(self) -> IO[bytes]:
        """The file's bytes, decompressed when it is gzip."""
        if self.compressed:
            return gzip.open(self.path, "rb")  # type: ignore[return-value]
        return self.path.open("rb")

    @property
    def head(self) -> bytes:
        """Up to the first 64 KiB of (decompressed) content, for sniffing."""
        if self._head is None:
            try:
                with self.open() as f:
                    self._head = f.read(HEAD_BYTES)
            except (OSError, EOFError) as exc:
                raise IngestError(self.path, f"cannot read the file ({exc})") from exc
        return self._head

    def first_line(self, max_bytes: int = 16 * 1024 * 1024) -> bytes:
        """The first non-blank line (up to ``max_bytes``), read past the sniffing head if needed."""
        if self._first_line is None:
            line = b""
            with self.open() as f:
                while not line.strip():
                    line = f.readline(max_bytes)
                    if not line:
                        break
            self._first_line = line.strip()
        return self._first_line

    def text_head(self) -> str:
        return self.head.decode("utf-8", "replace").lstrip("\ufeff")

    def iter_lines(
        self, first_line: int = 1, first_offset: int = 0
    ) -> Iterator[tuple[int, int, bytes]]:
        """Yield ``(line_number, byte_offset, line)`` for non-blank lines, 1-based numbers.

        ``first_line`` and ``first_offset`` place a chunk of a larger file inside it.
        """
        offset = first_offset
        with self.open() as f:
            reader = (
                io.BufferedReader(f, buffer_size=1 << 20)
                if not isinstance(f, io.BufferedReader)
                else f
            )
            try:
                for number, line in enumerate(reader, first_line):
                    start = offset
                    offset += len(line)
                    if line.strip():
                        yield number, start, line
            except (EOFError, OSError) as exc:
                # A truncated gzip stream: what was read stands, the rest is reported.
                raise TruncatedInput(self.path, offset, str(exc)) from exc

    def read_json(self) -> Any:
        """Parse the whole file as one JSON document (for formats that are one document)."""
        with self.open() as f:
            data = f.read()
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise FormatMismatchError(
                self.path, f"not valid JSON ({exc}); the file may be truncated"
            ) from exc


class TruncatedInput(IngestError):
    """The compressed stream ended early; ``offset`` bytes were read."""

    def __init__(self, path: Path | str, offset: int, detail: str) -> None:
        self.offset = offset
        super().__init__(path, f"the compressed stream ends early after {offset} bytes ({detail})")


def iter_json_lines(
    source: SourceFile, sink: Any, first_line: int = 1, first_offset: int = 0
) -> Iterator[tuple[int, int, bytes, Any]]:
    """JSON Lines reader: yields ``(line, offset, raw, obj)``; a line that is not JSON is
    rejected through ``sink`` with its place (and a truncated last line is one of those)."""
    for number, offset, raw in source.iter_lines(first_line, first_offset):
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            sink.reject(f"invalid JSON: {exc}", line=number, byte_offset=offset, excerpt=raw)
            sink.records += 1
            continue
        yield number, offset, raw, obj
