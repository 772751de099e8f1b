"""LINE talk history saved as text ("トーク履歴を保存"): ``[LINE] <chat>のトーク履歴.txt``.

The file looks like this (tabs shown as ``→``)::

    [LINE] 参院選を語る会のトーク履歴
    保存日時：2025/07/21 10:00

    2025/07/10(木)
    12:00→たろう→こんにちは
    12:01→はなこ→"一行目
    二行目"
    12:02→たろうがメッセージの送信を取り消しました

Date lines come as ``2025/07/10(木)``, ``2025.07.10 木曜日`` or ``Thu, 07/10/2025``; a
message is ``HH:MM<TAB>sender<TAB>text`` (``午後1:05`` and ``1:05 PM`` are read too); a
message with line breaks is wrapped in double quotes (inner quotes doubled), and an unquoted
line that is neither a date nor a message continues the message before it. A line with
only a time and one text field is a system line (unsent, joined, ...): counted, not a post.

Representation
--------------
- LINE exports carry **no ids**: the account id is the sender's display name as shown, so
  two people with the same name are one account and a renamed person is two. Names are
  comparable across chats, which co-action detection needs, but treat them as weak ids.
- The post id is ``"<chat name>/<line number>"``: deterministic for the same file, and
  stable across re-exports of the same chat (LINE always exports the history from its start).
- Times are local (``source.options["timezone"]``, default ``Asia/Tokyo``) to the minute.
- Placeholder messages (``[写真]``, ``[スタンプ]``, ``[Photo]``, ...) are posts with no text:
  their text is LINE's label, not the sender's words, and would otherwise "co-text" every
  sticker sent. Links and hashtags (``#`` or full-width ``＃``) are found in the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fimiscope.errors import ConfigError
from fimiscope.ingest.registry import register
from fimiscope.ingest.sink import BadRecord, Sink
from fimiscope.ingest.source import SourceFile, TruncatedInput

PLATFORM = "line"
DEFAULT_TIMEZONE = "Asia/Tokyo"
_BOM = "\ufeff"
_HEADER = re.compile(
    r"\[LINE\]\s*(?:(?P<ja>.+?)のトーク履歴|Chat history (?:with|in) (?P<en>.+?))\s*$"
)
_SAVED = re.compile(r"(?:保存日時[：:]|Saved on:)")
_DATES = (
    (re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})\(\w\)\s*$"), (1, 2, 3)),  # 2025/07/10(木)
    (re.compile(r"(\d{4})\.(\d{1,2})\.(\d{1,2}) \w曜日\s*$"), (1, 2, 3)),  # 2025.07.10 木曜日
    (
        re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\w*, (\d{1,2})/(\d{1,2})/(\d{4})\s*$"),
        (3, 1, 2),
    ),  # Thu, 07/10/2025
)
_TIME = re.compile(r"(?P<ampm_ja>午前|午後)?(?P<h>\d{1,2}):(?P<m>\d{2})(?: ?(?P<ampm>[AP]M))?\t")
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_URL_TAIL = ".,;:!?'\")]"
_TAG = re.compile(r"(?<![\w&/#＃])[#＃](\w+)")
_PLACEHOLDERS = frozenset(
    {
        "[写真]",
        "[スタンプ]",
        "[動画]",
        "[ファイル]",
        "[ボイスメッセージ]",
        "[アルバム]",
        "[連絡先]",
        "[位置情報]",
        "[GIF]",
        "[Photo]",
        "[Sticker]",
        "[Video]",
        "[File]",
        "[Voice message]",
        "[Album]",
        "[Contact]",
        "[Location]",
    }
)
_EXPECTED_LINE = "expected a date line or a message 'HH:MM<TAB>sender<TAB>text'"


def _zone(value: Any) -> tzinfo:
    """An IANA zone name or a fixed offset such as ``+09:00``."""
    match = re.fullmatch(r"(?:UTC)?([+-])(\d{1,2})(?::?(\d{2}))?", str(value))
    if match:
        sign = -1 if match[1] == "-" else 1
        return timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3] or 0)))
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            "timezone",
            "the line format",
            "an IANA time zone such as 'Asia/Tokyo' or an offset such as '+09:00'",
            value,
        ) from None


def _date_of(text: str) -> date | None:
    """The date of a date line; ``None`` if the line is no date line; ValueError if invalid."""
    for pattern, (y, m, d) in _DATES:
        match = pattern.match(text)
        if match:
            return date(int(match[y]), int(match[m]), int(match[d]))
    return None


def _clock(match: re.Match[str]) -> tuple[int, int]:
    hour, minute = int(match["h"]), int(match["m"])
    pm = match["ampm_ja"] == "午後" or match["ampm"] == "PM"
    if match["ampm_ja"] or match["ampm"]:
        if not 1 <= hour <= 12 and not (match["ampm_ja"] and hour == 0):
            raise BadRecord(f"bad time {match[0].strip()!r}")
        hour = hour % 12 + (12 if pm else 0)
    if hour > 23 or minute > 59:
        raise BadRecord(f"bad time {match[0].strip()!r}")
    return hour, minute


def _closes(text: str) -> bool:
    """A quoted message ends on a line ending in an odd run of quotes (``""`` is a quote)."""
    run = len(text) - len(text.rstrip('"'))
    return run % 2 == 1


class _Message:
    """One message (or system line) being read, possibly over several lines."""

    __slots__ = ("day", "line", "offset", "open", "parts", "quoted", "raw", "sender", "time")

    def __init__(
        self,
        line: int,
        offset: int,
        raw: bytes,
        day: date | None,
        time: re.Match[str],
        sender: str | None,
        text: str,
    ) -> None:
        self.line, self.offset, self.raw, self.day = line, offset, [raw], day
        self.time, self.sender = time, sender
        self.quoted = self.open = (
            sender is not None and text.startswith('"') and not _closes(text[1:])
        )
        self.parts = [text[1:] if self.quoted else text]

    def add(self, raw: bytes, text: str) -> None:
        self.raw.append(raw)
        self.parts.append(text)
        if self.open and _closes(text):
            self.open = False
            self.parts[-1] = text[:-1]

    def text(self) -> str:
        text = "\n".join(self.parts)
        return text.replace('""', '"') if self.quoted else text


def _lines(source: SourceFile) -> Iterator[tuple[int, int, bytes]]:
    """Every line with its number and byte offset, blank ones too (they can be content)."""
    offset = 0
    with source.open() as f:
        try:
            for number, raw in enumerate(f, 1):
                yield number, offset, raw
                offset += len(raw)
        except (EOFError, OSError) as exc:
            raise TruncatedInput(source.path, offset, str(exc)) from exc


class LineTalkHistory:
    """The ``line`` format: see the module docstring."""

    name = "line"
    platform = PLATFORM
    description = "a LINE talk history text export"
    expected = (
        "LINE's saved talk history: '[LINE] <chat>のトーク履歴', '保存日時：...', "
        "then date lines and 'HH:MM<TAB>sender<TAB>text' messages"
    )

    def sniff(self, source: SourceFile) -> float:
        lines = source.text_head().splitlines()
        if not lines:
            return 0.0
        if _HEADER.match(lines[0]):
            return 0.95
        # No header (cut or renamed): recognise the body, date lines then tab-separated times.
        dates = sum(1 for t in lines[:200] if _safe_date(t))
        messages = sum(1 for t in lines[:200] if _TIME.match(t))
        return 0.6 if dates and messages >= 2 else 0.0

    def parse(self, source: SourceFile, sink: Sink) -> None:
        zone = _zone(source.options.get("timezone", DEFAULT_TIMEZONE))
        _Reader(source, sink, zone).run()


def _safe_date(text: str) -> bool:
    try:
        return _date_of(text) is not None
    except ValueError:
        return False


class _Reader:
    """The line-by-line state machine of one file."""

    def __init__(self, source: SourceFile, sink: Sink, zone: tzinfo) -> None:
        self.source, self.sink, self.zone = source, sink, zone
        self.chat = Path(source.path).stem.removeprefix("[LINE] ").removesuffix("のトーク履歴")
        self.day: date | None = None
        self.pending: _Message | None = None
        self.blanks: list[tuple[bytes, str]] = []

    def run(self) -> None:
        for number, offset, raw in _lines(self.source):
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                self._bad(number, offset, raw, f"not UTF-8 ({exc.reason} at byte {exc.start})")
                continue
            if number == 1:
                text = text.removeprefix(_BOM)
                header = _HEADER.match(text)
                if header:
                    self.chat = header["ja"] or header["en"]
                    continue
            if number == 2 and _SAVED.match(text):
                continue
            self._line(number, offset, raw, text)
        self._flush()

    def _line(self, number: int, offset: int, raw: bytes, text: str) -> None:
        pending = self.pending
        if pending is not None and pending.open:
            pending.add(raw, text)
            return
        if not text.strip():
            self.blanks.append((raw, text))
            return
        try:
            day = _date_of(text)
        except ValueError as exc:
            self._flush()
            self.day = None  # the messages under it cannot be dated: each is rejected
            self._bad(number, offset, raw, f"bad date line ({exc})")
            return
        if day is not None:
            self._flush()
            self.day = day
            return
        time = _TIME.match(text)
        if time is not None:
            self._flush()
            sender, tab, body = text[time.end() :].partition("\t")
            self.pending = (
                _Message(number, offset, raw, self.day, time, sender, body)
                if tab
                else _Message(number, offset, raw, self.day, time, None, sender)
            )
            return
        if pending is not None:
            for blank_raw, blank in self.blanks:  # blank lines inside a message are its text
                pending.add(blank_raw, blank)
            self.blanks.clear()
            pending.add(raw, text)
            return
        self._bad(number, offset, raw, _EXPECTED_LINE)

    def _bad(self, number: int, offset: int, raw: bytes, reason: str) -> None:
        with self.sink.record(line=number, byte_offset=offset, excerpt=raw):
            raise BadRecord(reason)

    def _flush(self) -> None:
        self.blanks.clear()
        message, self.pending = self.pending, None
        if message is None:
            return
        with self.sink.record(
            line=message.line, byte_offset=message.offset, excerpt=b"".join(message.raw)
        ):
            self._emit(message)

    def _emit(self, m: _Message) -> None:
        if m.open:
            raise BadRecord("a quoted message that never ends (is the file cut short?)")
        if m.day is None:
            raise BadRecord("a message before any valid date line")
        hour, minute = _clock(m.time)
        local = datetime(m.day.year, m.day.month, m.day.day, hour, minute, tzinfo=self.zone)
        if m.sender is None or not m.sender.strip():
            return  # a system line: counted, not a post
        post_id = f"{self.chat}/{m.line}"
        text = m.text()
        placeholder = text.strip() in _PLACEHOLDERS
        sink = self.sink
        sink.account(PLATFORM, m.sender, display_name=m.sender)
        sink.post(
            PLATFORM,
            post_id,
            account_id=m.sender,
            created_at=local.astimezone(UTC),
            text=None if placeholder else text,
        )
        if not placeholder:
            _entities(post_id, text, sink)


def _entities(post_id: str, text: str, sink: Sink) -> None:
    urls = [u.rstrip(_URL_TAIL) for u in _URL.findall(text)]
    for i, url in enumerate(urls):
        sink.url(PLATFORM, post_id, i, url)
    # Hashtags outside links: 'https://x.jp/a#b' has no hashtag 'b'.
    bare = _URL.sub(" ", text)
    tags = [t for t in _TAG.findall(bare) if not t.isdigit()]
    for i, tag in enumerate(tags):
        sink.hashtag(PLATFORM, post_id, i, tag)


register(LineTalkHistory())
