"""Small helpers shared by format parsers."""

from __future__ import annotations

import re
from typing import Any

import orjson

from fimiscope.ingest.source import SourceFile


def first_json_value(source: SourceFile) -> Any | None:
    """The first JSON value of the file: its first line if that parses, else the whole head."""
    head = source.head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] not in (b"{", b"["):
        return None
    line = source.first_line().lstrip(b"\xef\xbb\xbf")
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        pass
    try:
        return orjson.loads(head)
    except orjson.JSONDecodeError:
        return _Partial(head)


class _Partial:
    """A JSON document larger than the sniffing head: only its raw start is known."""

    def __init__(self, head: bytes) -> None:
        self.head = head

    def has_keys(self, *keys: str) -> bool:
        return all(re.search(rb'"' + re.escape(k.encode()) + rb'"\s*:', self.head) for k in keys)


def as_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a count: {value!r}")
    return int(value)


def is_partial(value: Any) -> bool:
    return isinstance(value, _Partial)
