"""The format registry: every input format, built-in or plug-in, registers here.

A format is an object with ``name``, ``platform``, ``description``, ``expected`` (a phrase
for error messages), ``sniff(source) -> float`` (0 = certainly not, 1 = certainly) and
``parse(source, sink)``. Built-ins register through :func:`register` exactly as a plug-in
would; third-party packages can expose formats under the ``fimiscope.formats`` entry point.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

from fimiscope.errors import ConfigError, FormatMismatchError, UnknownFormatError
from fimiscope.ingest.sink import Sink
from fimiscope.ingest.source import SourceFile

_BUILTIN_MODULES = (
    "fimiscope.ingest.formats.x_v2",
    "fimiscope.ingest.formats.x_v1",
    "fimiscope.ingest.formats.io_archive",
    "fimiscope.ingest.formats.jetstream",
    "fimiscope.ingest.formats.telegram",
    "fimiscope.ingest.formats.line",
    "fimiscope.ingest.formats.generic",
    "fimiscope.ingest.formats.rss",
)
SNIFF_THRESHOLD = 0.5


@runtime_checkable
class Format(Protocol):
    name: str
    platform: str
    description: str
    expected: str

    def sniff(self, source: SourceFile) -> float: ...

    def parse(self, source: SourceFile, sink: Sink) -> None: ...


_FORMATS: dict[str, Format] = {}
_loaded = False


def register(fmt: Format) -> Format:
    """Register a format (usable as a decorator on an instance factory's result)."""
    if not isinstance(fmt, Format):
        raise TypeError(f"{fmt!r} does not implement the Format protocol")
    _FORMATS[fmt.name] = fmt
    return fmt


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    for ep in entry_points(group="fimiscope.formats"):
        register(ep.load())


def formats() -> dict[str, Format]:
    _load()
    return dict(sorted(_FORMATS.items()))


def get(name: str) -> Format:
    _load()
    try:
        return _FORMATS[name]
    except KeyError:
        raise ConfigError("format", "ingest", f"one of {sorted(_FORMATS)}", name) from None


def detect(source: SourceFile, name: str | None = None) -> Format:
    """The format of ``source``: the named one (checked against the content) or the best sniff."""
    _load()
    if name is not None:
        fmt = get(name)
        if fmt.sniff(source) < SNIFF_THRESHOLD:
            raise FormatMismatchError(
                source.path, f"is not {fmt.description}: expected {fmt.expected}"
            )
        return fmt
    scored = sorted(((f.sniff(source), f.name) for f in _FORMATS.values()), reverse=True)
    if not scored or scored[0][0] < SNIFF_THRESHOLD:
        raise UnknownFormatError(
            source.path,
            "no known format recognises this file (known: "
            + ", ".join(sorted(_FORMATS))
            + "); name one with --format",
        )
    return _FORMATS[scored[0][1]]
