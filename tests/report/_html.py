"""Parse the report's HTML into an ElementTree (stdlib only) for structural assertions."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

_VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr", "area", "base"}


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tb = ET.TreeBuilder()
        self.tb.start("root", {})
        self.stack = ["root"]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tb.start(tag, {k: v or "" for k, v in attrs})
        if tag in _VOID:
            self.tb.end(tag)
        else:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tb.start(tag, {k: v or "" for k, v in attrs})
        self.tb.end(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        assert self.stack[-1] == tag, f"unbalanced </{tag}>, open: {self.stack[-3:]}"
        self.stack.pop()
        self.tb.end(tag)

    def handle_data(self, data: str) -> None:
        self.tb.data(data)


def parse(path: Path) -> ET.Element:
    b = _Builder()
    b.feed(path.read_text(encoding="utf-8"))
    b.close()
    b.tb.end("root")
    return b.tb.close()


def text(el: ET.Element) -> str:
    return "".join(el.itertext())
