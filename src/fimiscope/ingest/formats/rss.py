"""News feeds: RSS 2.0, RSS 1.0 (RDF) and Atom 1.0, as outlets publish them.

Representation
--------------
- Every item (RSS ``<item>``, Atom ``<entry>``) is a post of kind ``post`` on the platform
  ``news`` (``source.options["platform"]`` overrides it).
- The **outlet is the account**: its id is the host (without ``www.``) of the item's
  ``<source url>`` when given, else of the item's link; its display name is the ``<source>``
  text, else the feed's title. Outlets are thus comparable across feeds and with the link
  domains of social-media posts (``post_urls.domain``).
- The post id is the item's ``<guid>`` (Atom ``<id>``), else its link. The text is the title,
  a line break, and the description (``<description>``, Atom ``<summary>``/``<content>``) with
  HTML tags removed. The link is the post's ``url`` and its ``post_urls`` row 0.
- Times: RSS ``pubDate`` (RFC 822) or ``dc:date``; Atom ``published``, else ``updated``.
- The language is the item's ``dc:language``, else ``xml:lang``, else the channel's
  ``<language>``.

An item without an id and a link, or with an unreadable date, is rejected with its position.
Parsing uses the standard library's expat parser, which resolves no external entities and
refuses entity-expansion bombs.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from fimiscope.errors import FormatMismatchError
from fimiscope.ingest.normalise import parse_time
from fimiscope.ingest.registry import register
from fimiscope.ingest.sink import BadRecord, Sink
from fimiscope.ingest.source import SourceFile

PLATFORM = "news"
_ATOM = "{http://www.w3.org/2005/Atom}"
_RSS1 = "{http://purl.org/rss/1.0/}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_TAGS = re.compile(r"<[^>]{0,2000}>")
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_SNIFF = re.compile(
    rb"<(?:rss[\s>]|rdf:RDF[\s>]|feed[^>]*http://www\.w3\.org/2005/Atom)", re.IGNORECASE
)


def _text(el: ET.Element | None) -> str | None:
    if el is None:
        return None
    value = "".join(el.itertext()).strip()
    return value or None


def _strip_html(value: str | None) -> str | None:
    if not value:
        return None
    out = html.unescape(_TAGS.sub(" ", value))
    out = " ".join(out.split())
    return out or None


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    value = value.strip()
    try:
        return parse_time(value)
    except ValueError:
        pass
    try:
        t = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as exc:
        raise BadRecord(f"unreadable date {value[:60]!r}") from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host.lower().removeprefix("www.")


class NewsFeed:
    """The ``rss`` format: see the module docstring."""

    name = "rss"
    platform = PLATFORM
    description = "an RSS or Atom news feed"
    expected = "an XML document whose root is <rss>, <rdf:RDF> or an Atom <feed>"

    def sniff(self, source: SourceFile) -> float:
        head = source.head[:4096]
        return 0.9 if _SNIFF.search(head) else 0.0

    def parse(self, source: SourceFile, sink: Sink) -> None:
        platform = str(source.options.get("platform", PLATFORM))
        if _ENTITY.search(source.head):
            # Feeds never need their own entities; refusing them rules out entity expansion.
            raise FormatMismatchError(source.path, "declares XML entities (<!ENTITY>): refused")
        channel_title: str | None = None
        channel_lang: str | None = None
        position = 0
        try:
            with source.open() as fh:
                # expat resolves no external entities; internal ones were refused above
                for event, el in ET.iterparse(fh, events=("start", "end")):  # noqa: S314
                    tag = el.tag
                    if event == "start":
                        if tag in ("feed", f"{_ATOM}feed"):
                            channel_lang = el.get(_XML_LANG) or channel_lang
                        continue
                    if tag in ("item", f"{_RSS1}item", f"{_ATOM}entry"):
                        position += 1
                        with sink.record(
                            location=f"item {position}", excerpt=ET.tostring(el, encoding="unicode")
                        ):
                            _item(el, sink, platform, channel_title, channel_lang)
                        el.clear()
                    elif tag in ("title", f"{_RSS1}title", f"{_ATOM}title"):
                        if channel_title is None and position == 0:
                            channel_title = _text(el)
                    elif tag in ("language", f"{_DC}language") and position == 0:
                        channel_lang = channel_lang or _text(el)
        except ET.ParseError as exc:
            raise FormatMismatchError(source.path, f"not well-formed XML ({exc})") from exc


def _item(
    el: ET.Element, sink: Sink, platform: str, feed_title: str | None, feed_lang: str | None
) -> None:
    atom = el.tag == f"{_ATOM}entry"
    if atom:
        link = None
        for ln in el.findall(f"{_ATOM}link"):
            if ln.get("rel", "alternate") == "alternate" and ln.get("href"):
                link = ln.get("href")
                break
        guid = _text(el.find(f"{_ATOM}id"))
        title = _strip_html(_text(el.find(f"{_ATOM}title")))
        body = _text(el.find(f"{_ATOM}summary")) or _text(el.find(f"{_ATOM}content"))
        when = _time(_text(el.find(f"{_ATOM}published")) or _text(el.find(f"{_ATOM}updated")))
        src = el.find(f"{_ATOM}source")
        source_name = _text(src.find(f"{_ATOM}title")) if src is not None else None
        source_url = None
        author = _text(el.find(f"{_ATOM}author/{_ATOM}name"))
    else:
        ns = _RSS1 if el.tag == f"{_RSS1}item" else ""
        link = _text(el.find(f"{ns}link")) or el.get(
            "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about"
        )
        guid = _text(el.find("guid"))
        title = _strip_html(_text(el.find(f"{ns}title")))
        body = _text(el.find(f"{ns}description")) or _text(el.find(f"{_CONTENT}encoded"))
        when = _time(_text(el.find("pubDate")) or _text(el.find(f"{_DC}date")))
        src = el.find("source")
        source_name = _text(src)
        source_url = src.get("url") if src is not None else None
        author = _text(el.find(f"{_DC}creator")) or _text(el.find("author"))
    post_id = guid or link
    if not post_id:
        raise BadRecord("an item with neither a guid/id nor a link")
    outlet = _host(source_url) or _host(link)
    if outlet is None:
        raise BadRecord("an item whose outlet is unknown (no link and no <source url>)")
    lang = _text(el.find(f"{_DC}language")) or el.get(_XML_LANG) or feed_lang
    summary = _strip_html(body)
    if title and summary and summary.startswith(title):
        title = None  # feeds often repeat the headline as the summary's first sentence
    text = "\n".join(t for t in (title, summary) if t) or None
    sink.account(
        platform, outlet, handle=outlet, display_name=source_name or feed_title or author or outlet
    )
    sink.post(
        platform,
        post_id,
        account_id=outlet,
        created_at=when,
        text=text,
        lang=lang.strip().lower() if lang else None,
        url=link,
    )
    if link:
        sink.url(platform, post_id, 0, link.strip())


register(NewsFeed())
