"""Ingest of platform exports into the canonical store.

>>> from fimiscope.ingest import formats
>>> "x-v2" in formats()
True
"""

from fimiscope.ingest.api import IngestInfo, expand_paths, ingest, ingest_file
from fimiscope.ingest.registry import Format, formats, register
from fimiscope.ingest.sink import BadRecord, Sink
from fimiscope.ingest.source import SourceFile, iter_json_lines

__all__ = [
    "BadRecord",
    "Format",
    "IngestInfo",
    "Sink",
    "SourceFile",
    "expand_paths",
    "formats",
    "ingest",
    "ingest_file",
    "iter_json_lines",
    "register",
]
