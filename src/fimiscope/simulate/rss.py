"""Write the outlet articles as one RSS 2.0 feed."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from fimiscope.simulate.ids import rfc822


def write_rss(path: Path, articles: list[dict[str, object]], built_ms: int) -> int:
    """Write ``articles`` (sorted by publication time) as RSS 2.0; return the item count.

    The channel language is ``ja``; each item carries its own ``dc:language`` and ``source``.
    """
    items = sorted(articles, key=lambda a: (int(a["pub_ms"]), str(a["link"])))
    seen: set[tuple[str, str]] = set()
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">',
        "<channel>",
        "<title>参院選2025 ニュース収集フィード</title>",
        "<link>https://example.org/fimiscope/feeds/sangiin2025</link>",
        "<description>Outlet articles collected during the 2025 upper-house election</description>",
        "<language>ja</language>",
        f"<lastBuildDate>{rfc822(built_ms)}</lastBuildDate>",
    ]
    n = 0
    for a in items:
        key = (str(a["link"]), str(a["outlet"]))
        if key in seen:
            continue
        seen.add(key)
        n += 1
        site = "https://" + str(a["link"]).split("/")[2] + "/"
        out += [
            "<item>",
            f"<title>{escape(str(a['title']))}</title>",
            f"<link>{escape(str(a['link']))}</link>",
            f"<description>{escape(str(a['description']))}</description>",
            f"<pubDate>{rfc822(int(a['pub_ms']))}</pubDate>",
            f'<guid isPermaLink="false">{escape(str(a["link"]))}#{escape(str(a["outlet"]))}</guid>',
            f"<dc:language>{a['lang']}</dc:language>",
            f'<source url="{escape(site)}">{escape(str(a["outlet"]))}</source>',
            "</item>",
        ]
    out += ["</channel>", "</rss>", ""]
    path.write_text("\n".join(out), encoding="utf-8")
    return n
