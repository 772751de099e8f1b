"""Any CSV or Parquet file, read through a YAML column mapping the user writes.

The mapping names, for each canonical field, the file's column that holds it::

    platform: x                 # or a column: {column: platform}
    table: posts                # posts (default) or engagements
    time_format: "%Y-%m-%d %H:%M:%S"   # optional; default: ISO 8601 or epoch
    timezone: Asia/Tokyo        # optional; zone of times written without an offset
    columns:
      post_id: id
      account_id: user_id
      created_at: timestamp
      text: body
      kind: type
      ref_post_id: parent_id
      hashtags: tags            # "a b", "a,b", a JSON list or a Python-list string
    kind_values: {RT: repost, QT: quote, RE: reply, OR: post}
    list_separator: ","

The CSV reading helpers here (:func:`csv_records`, :func:`parse_list`) are shared with the
other CSV formats.
"""

from __future__ import annotations

import ast
import csv
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import yaml

from fimiscope.errors import ConfigError, FormatMismatchError
from fimiscope.ingest.normalise import parse_time
from fimiscope.ingest.registry import register
from fimiscope.ingest.sink import POST_KINDS, RECORD_ERRORS, BadRecord, Sink
from fimiscope.ingest.source import SourceFile, TruncatedInput

OWNER = "the generic format's mapping"
MAPPING_HELP = (
    "a YAML column mapping given as options['mapping'] (a path or a dict), e.g. "
    "'platform: x' and 'columns: {post_id: id, account_id: user_id, created_at: timestamp, "
    "text: body}'; see fimiscope.ingest.formats.generic"
)
_ACCOUNT_KEYS = (
    "handle",
    "display_name",
    "description",
    "location",
    "account_created_at",
    "followers_count",
    "following_count",
    "posts_count",
    "verified",
)
_POST_KEYS = frozenset(
    {
        "post_id",
        "account_id",
        "created_at",
        "text",
        "kind",
        "ref_post_id",
        "ref_account_id",
        "conversation_id",
        "lang",
        "client",
        "like_count",
        "repost_count",
        "reply_count",
        "quote_count",
        "view_count",
        "url",
        "hashtags",
        "urls",
        "mentions",
        *_ACCOUNT_KEYS,
    }
)
_ENGAGEMENT_KEYS = frozenset(
    {"account_id", "kind", "target_post_id", "target_account_id", "at", *_ACCOUNT_KEYS}
)
_TIME_KEYS = frozenset({"created_at", "at", "account_created_at"})
_COUNT_KEYS = frozenset(
    {
        "like_count",
        "repost_count",
        "reply_count",
        "quote_count",
        "view_count",
        "followers_count",
        "following_count",
        "posts_count",
    }
)
_TRUE = frozenset({"true", "t", "1", "yes", "y"})
_FALSE = frozenset({"false", "f", "0", "no", "n"})
_EXCERPT_LINES_CHARS = 2000
_PARQUET_BATCH = 16_384


# -- CSV reading (shared) ---------------------------------------------------------------------
@dataclass
class _Lines:
    """Feeds the csv module decoded lines while counting physical lines and bytes."""

    line: int = 0
    offset: int = 0
    bad_utf8_line: int = 0
    recent: list[str] = field(default_factory=list)

    def feed(self, source: SourceFile) -> Iterator[str]:
        with source.open() as f:
            try:
                for raw in f:
                    self.line += 1
                    self.offset += len(raw)
                    try:
                        text = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        self.bad_utf8_line = self.line
                        text = raw.decode("utf-8", "replace")
                    if self.line == 1:
                        text = text.removeprefix("\ufeff")
                    if sum(map(len, self.recent)) < _EXCERPT_LINES_CHARS:
                        self.recent.append(text)
                    yield text
            except (EOFError, OSError) as exc:
                raise TruncatedInput(source.path, self.offset, str(exc)) from exc


@dataclass
class CsvRecord:
    """One CSV record: where it starts, its fields (``None`` when unparseable) and why not."""

    line: int
    offset: int
    fields: list[str] | None
    error: str | None
    _lines: _Lines

    @property
    def excerpt(self) -> str:
        return "".join(self._lines.recent)


def csv_records(source: SourceFile, *, delimiter: str = ",") -> Iterator[CsvRecord]:
    """The records of a CSV file with the physical line (1-based) and byte offset where each
    starts. Blank lines are skipped; a record the csv module cannot parse, or one with bytes
    that are not UTF-8, comes with ``fields=None`` and the reason, and reading goes on."""
    lines = _Lines()
    reader = csv.reader(lines.feed(source), delimiter=delimiter, strict=False)
    while True:
        start, offset = lines.line + 1, lines.offset
        lines.recent = []
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield CsvRecord(start, offset, None, f"malformed CSV: {exc}", lines)
            continue
        if not row:
            continue
        if lines.bad_utf8_line >= start:
            yield CsvRecord(start, offset, None, "bytes that are not UTF-8", lines)
            continue
        yield CsvRecord(start, offset, row, None, lines)


def csv_like(head: bytes, delimiter: str | None = None) -> list[str] | None:
    """The header fields when ``head`` looks like UTF-8 delimited text, else ``None``."""
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not merely a character cut by the head's end
            return None
        text = head[: exc.start].decode("utf-8")
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    if not first.strip() or first.lstrip()[:1] in ("{", "["):
        return None
    delims = [delimiter] if delimiter else [",", "\t", ";", "|"]
    for d in delims:
        fields = next(csv.reader([first], delimiter=d))
        if len(fields) >= 2 or (delimiter and fields):
            return fields
    return None


def parse_list(value: Any, separator: str | None = None) -> list[str]:
    """Items of a list-valued cell: a real list, a JSON list, a Python-list string (read with
    :func:`ast.literal_eval`, never ``eval``), ``[a, b]`` without quotes, or ``a b`` / ``a,b``.

    >>> parse_list("['#a', 'b']"), parse_list("[]"), parse_list("x y"), parse_list("[1, 2]")
    (['#a', 'b'], [], ['x', 'y'], ['1', '2'])
    """
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    s = str(value).strip()
    if not s:
        return []
    if separator:
        items: Any = s.split(separator)
    elif s[0] == "[" and s[-1] == "]":
        items = _bracketed(s)
    elif "," in s:
        items = s.split(",")
    else:
        items = s.split()
    return [str(v).strip() for v in items if v is not None and str(v).strip()]


def _bracketed(s: str) -> list[Any]:
    try:
        out = orjson.loads(s)
    except orjson.JSONDecodeError:
        try:
            out = ast.literal_eval(s)
        except (ValueError, SyntaxError, RecursionError, MemoryError):
            inner = s[1:-1]
            if any(c in inner for c in "'\"[]{}()"):
                raise BadRecord(f"not a list: {s[:80]!r}") from None
            out = inner.split(",")  # '[a, b]': the unquoted form some exports write
    if not isinstance(out, list | tuple) or any(isinstance(v, list | tuple | dict) for v in out):
        raise BadRecord(f"not a flat list: {s[:80]!r}")
    return list(out)


def as_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def as_count(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a count: {value!r}")
    if isinstance(value, float) or (isinstance(value, str) and "." in value):
        number = float(value)
        if not number.is_integer():
            raise ValueError(f"not a count: {value!r}")
        return int(number)
    return int(value)


def as_id(value: Any) -> str | None:
    """An id as text; a float id (pandas writes them when a column has gaps) loses its '.0'."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- the mapping ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnMapping:
    """A validated column mapping (see the module docstring)."""

    columns: dict[str, str]
    table: str = "posts"
    platform: str | None = None
    platform_column: str | None = None
    kind: str | None = None
    kind_values: dict[str, str] = field(default_factory=dict)
    time_format: str | None = None
    zone: tzinfo | None = None
    list_separator: str | None = None


def load_mapping(spec: Any) -> ColumnMapping:
    """Read and check a mapping given as a path to YAML or as a dict.

    Raises
    ------
    ConfigError
        The mapping is missing, unreadable, or names an unknown field or table.
    """
    if spec is None:
        raise ConfigError("mapping", "the generic format", MAPPING_HELP, None)
    if isinstance(spec, str | Path):
        try:
            spec = yaml.safe_load(Path(spec).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else ""
            raise ConfigError(
                "mapping",
                "the generic format",
                f"a readable YAML file ({type(exc).__name__}: {detail})",
                str(spec),
            ) from exc
    if not isinstance(spec, Mapping):
        raise ConfigError("mapping", "the generic format", MAPPING_HELP, spec)
    table = spec.get("table", "posts")
    if table not in ("posts", "engagements"):
        raise ConfigError("table", OWNER, "'posts' or 'engagements'", table)
    columns = spec.get("columns")
    if not isinstance(columns, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in columns.items()
    ):
        raise ConfigError("columns", OWNER, "a mapping of field names to column names", columns)
    allowed = _POST_KEYS if table == "posts" else _ENGAGEMENT_KEYS
    unknown = sorted(set(columns) - allowed)
    if unknown:
        raise ConfigError("columns", OWNER, f"keys among {sorted(allowed)}", unknown)
    platform, platform_column = _platform(spec.get("platform"))
    kind = spec.get("kind")
    _check_required(dict(columns), table, kind)
    return ColumnMapping(
        columns=dict(columns),
        table=table,
        platform=platform,
        platform_column=platform_column,
        kind=kind,
        kind_values=_kind_values(spec.get("kind_values"), table),
        time_format=_optional_str(spec, "time_format"),
        zone=_zone(spec.get("timezone")),
        list_separator=_optional_str(spec, "list_separator"),
    )


def _platform(value: Any) -> tuple[str | None, str | None]:
    if isinstance(value, str) and value:
        return value, None
    if isinstance(value, Mapping) and isinstance(value.get("column"), str) and value["column"]:
        return None, value["column"]
    raise ConfigError("platform", OWNER, "a platform name such as 'x' or {column: NAME}", value)


def _check_required(columns: dict[str, str], table: str, kind: Any) -> None:
    if table == "posts":
        if "post_id" not in columns:
            raise ConfigError("columns.post_id", OWNER, "the column of post ids", None)
        if "ref_post_id" in columns and "kind" not in columns:
            raise ConfigError(
                "columns.kind",
                OWNER,
                "given when ref_post_id is (a reference needs its kind)",
                None,
            )
        return
    if "account_id" not in columns:
        raise ConfigError("columns.account_id", OWNER, "the column of acting accounts", None)
    if "target_post_id" not in columns and "target_account_id" not in columns:
        raise ConfigError(
            "columns.target_post_id", OWNER, "given (or target_account_id) for engagements", None
        )
    if "kind" not in columns and not (isinstance(kind, str) and kind):
        raise ConfigError(
            "kind", OWNER, "an engagement kind such as 'like' (or columns.kind)", kind
        )


def _kind_values(value: Any, table: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError("kind_values", OWNER, "a mapping of file values to kinds", value)
    out = {str(k): v for k, v in value.items()}
    bad = [
        v
        for v in out.values()
        if not isinstance(v, str) or (table == "posts" and v not in POST_KINDS)
    ]
    if bad:
        raise ConfigError("kind_values", OWNER, f"values among {sorted(POST_KINDS)}", bad)
    return out


def _optional_str(spec: Mapping[str, Any], key: str) -> str | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(key, OWNER, "a non-empty string", value)
    return value


def _zone(value: Any) -> tzinfo | None:
    if value is None:
        return None
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            "timezone", OWNER, "an IANA time zone such as 'Asia/Tokyo'", value
        ) from exc


# -- the format -------------------------------------------------------------------------------
class GenericTable:
    """CSV or Parquet posts or engagements, read through a user-given column mapping.

    Never claims a file on its own: it sniffs only when ``options['mapping']`` is given, and
    then below every platform-specific format.
    """

    name = "generic"
    platform = "any"
    description = "a CSV or Parquet file with a column mapping"
    expected = "a CSV (header row) or Parquet file, with " + MAPPING_HELP

    def validate_options(self, source: SourceFile) -> ColumnMapping:
        """The mapping of ``source.options``; ``ConfigError`` explains it when missing."""
        return load_mapping(source.options.get("mapping"))

    def sniff(self, source: SourceFile) -> float:
        if "mapping" not in source.options:
            return 0.0
        head = source.head
        if head[:4] != b"PAR1" and csv_like(head, source.options.get("delimiter")) is None:
            return 0.0
        self.validate_options(source)  # a broken mapping is the user's error, say so now
        return 0.6

    def parse(self, source: SourceFile, sink: Sink) -> None:
        mapping = self.validate_options(source)
        if source.head[:4] == b"PAR1":
            self._parquet(source, sink, mapping)
        else:
            self._csv(source, sink, mapping)

    def _csv(self, source: SourceFile, sink: Sink, mapping: ColumnMapping) -> None:
        records = csv_records(source, delimiter=source.options.get("delimiter") or ",")
        header = next(records, None)
        if header is None or header.fields is None:
            raise FormatMismatchError(source.path, "no readable CSV header row")
        index = _column_index(source, header.fields, mapping)
        width = len(header.fields)
        for rec in records:
            with sink.record(line=rec.line, byte_offset=rec.offset) as scope:
                try:
                    if rec.fields is None:
                        raise BadRecord(rec.error or "unreadable record")
                    if len(rec.fields) != width:
                        raise BadRecord(f"expected {width} fields, got {len(rec.fields)}")
                    values = {key: _blank(rec.fields[i]) for key, i in index}
                    _emit(values, mapping, sink)
                except RECORD_ERRORS:
                    scope.excerpt = rec.excerpt  # built only for rejects
                    raise

    def _parquet(self, source: SourceFile, sink: Sink, mapping: ColumnMapping) -> None:
        import pyarrow.parquet as pq  # only Parquet input needs it

        with source.open() as f:
            pf = pq.ParquetFile(f)
            names = pf.schema_arrow.names
            index = _column_index(source, names, mapping)
            wanted = sorted({names[i] for _, i in index})
            row = 0
            for batch in pf.iter_batches(batch_size=_PARQUET_BATCH, columns=wanted):
                cols = [(key, batch.column(names[i]).to_pylist()) for key, i in index]
                for r in range(batch.num_rows):
                    row += 1
                    values = {key: col[r] for key, col in cols}
                    with sink.record(location=f"row {row}") as scope:
                        try:
                            _emit(values, mapping, sink)
                        except RECORD_ERRORS as exc:
                            scope.excerpt = repr(values)
                            if isinstance(exc, BadRecord) and exc.location:
                                # Parquet has no lines: say the row and the column.
                                exc.location = f"row {row}, column {exc.location}"
                            raise


def _column_index(
    source: SourceFile, present: list[str], mapping: ColumnMapping
) -> list[tuple[str, int]]:
    """(mapping key, column position) pairs; a mapped column the file lacks is a mismatch."""
    positions: dict[str, int] = {}
    for i, name in enumerate(present):
        positions.setdefault(name, i)
    wanted = list(mapping.columns.items())
    if mapping.platform_column:
        wanted.append(("platform", mapping.platform_column))
    out = []
    for key, col in wanted:
        if col not in positions:
            shown = ", ".join(repr(c) for c in present[:60])
            shown += ", ..." if len(present) > 60 else ""
            raise FormatMismatchError(
                source.path,
                f"the mapping's column {col!r} (for {key}) is not in the file; "
                f"columns present: {shown}",
            )
        out.append((key, positions[col]))
    return out


def _blank(value: str) -> str | None:
    return value if value != "" else None


def _emit(v: dict[str, Any], m: ColumnMapping, sink: Sink) -> None:
    platform = m.platform or as_id(v.get("platform"))
    if not platform:
        raise BadRecord("no platform", m.platform_column)
    account_id = as_id(v.get("account_id"))
    if account_id and any(v.get(k) is not None for k in _ACCOUNT_KEYS):
        _account(platform, account_id, v, m, sink)
    if m.table == "engagements":
        kind = _kind(v.get("kind"), m) if "kind" in v else m.kind
        sink.engagement(
            platform,
            account_id or "",
            kind or "",
            target_post_id=as_id(v.get("target_post_id")),
            target_account_id=as_id(v.get("target_account_id")),
            at=_time(v.get("at"), m, "at"),
        )
        return
    _post(platform, account_id, v, m, sink)


def _account(
    platform: str, account_id: str, v: dict[str, Any], m: ColumnMapping, sink: Sink
) -> None:
    sink.account(
        platform,
        account_id,
        handle=_text(v.get("handle")),
        display_name=_text(v.get("display_name")),
        description=_text(v.get("description")),
        location=_text(v.get("location")),
        created_at=_time(v.get("account_created_at"), m, "account_created_at"),
        followers_count=as_count(v.get("followers_count")),
        following_count=as_count(v.get("following_count")),
        posts_count=as_count(v.get("posts_count")),
        verified=as_bool(v.get("verified")),
    )


def _post(
    platform: str, account_id: str | None, v: dict[str, Any], m: ColumnMapping, sink: Sink
) -> None:
    pid = as_id(v.get("post_id"))
    if not pid:
        raise BadRecord("post without an id", m.columns["post_id"])
    kind = _kind(v.get("kind"), m) if "kind" in v else "post"
    sink.post(
        platform,
        pid,
        account_id=account_id,
        created_at=_time(v.get("created_at"), m, "created_at"),
        kind=kind,
        ref_post_id=as_id(v.get("ref_post_id")) if kind != "post" else None,
        ref_account_id=as_id(v.get("ref_account_id")) if kind != "post" else None,
        conversation_id=as_id(v.get("conversation_id")),
        text=_text(v.get("text")),
        lang=_text(v.get("lang")),
        client=_text(v.get("client")),
        like_count=as_count(v.get("like_count")),
        repost_count=as_count(v.get("repost_count")),
        reply_count=as_count(v.get("reply_count")),
        quote_count=as_count(v.get("quote_count")),
        view_count=as_count(v.get("view_count")),
        url=_text(v.get("url")),
    )
    sep = m.list_separator
    for i, tag in enumerate(parse_list(v.get("hashtags"), sep)):
        sink.hashtag(platform, pid, i, tag.lstrip("#＃"))
    for i, url in enumerate(parse_list(v.get("urls"), sep)):
        sink.url(platform, pid, i, url)
    for i, handle in enumerate(parse_list(v.get("mentions"), sep)):
        sink.mention(platform, pid, i, handle.lstrip("@＠"))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _kind(value: Any, m: ColumnMapping) -> str:
    if value is None or value == "":
        return "post" if m.table == "posts" else (m.kind or "")
    raw = str(value)
    kind = m.kind_values.get(raw, raw)
    if m.table == "posts" and kind not in POST_KINDS:
        known = ", ".join(itertools.chain(m.kind_values, sorted(POST_KINDS)))
        raise BadRecord(f"unknown kind {raw!r} (known: {known})", m.columns.get("kind"))
    return kind


def _time(value: Any, m: ColumnMapping, key: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return _to_utc(value, m)
    except (ValueError, OverflowError, OSError) as exc:
        raise BadRecord(f"bad {key} {value!r}: {exc}", m.columns.get(key)) from exc


def _to_utc(value: Any, m: ColumnMapping) -> datetime | None:
    zone = m.zone or UTC
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return parse_time(value)  # epochs are absolute: no zone applies
    elif m.time_format:
        dt = datetime.strptime(str(value).strip(), m.time_format)
    else:
        s = str(value).strip()
        if s.isdigit() or m.zone is None:
            return parse_time(s)
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            return parse_time(s)  # Twitter v1.1 form carries its own offset
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    return dt.astimezone(UTC)


register(GenericTable())
