"""The `rss` ingest format: RSS 2.0, Atom and RSS 1.0 news feeds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fimiscope.ingest import ingest
from fimiscope.store import Store

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
<title>テストフィード</title><link>https://example.org/</link><language>ja</language>
<item>
 <title>日本が対露制裁の解除を開始 関係筋</title>
 <link>https://sputniknews.jp/20250714/sanctions-19901234.html?utm_source=rss</link>
 <description>&lt;p&gt;日本が対露制裁の解除を開始 関係筋。&lt;b&gt;詳細&lt;/b&gt;&lt;/p&gt;
 </description>
 <pubDate>Mon, 14 Jul 2025 08:30:00 GMT</pubDate>
 <guid isPermaLink="false">sput-1</guid>
 <source url="https://sputniknews.jp/">スプートニク日本</source>
</item>
<item>
 <title>Токио начал снимать санкции против России</title>
 <link>https://ria-sputnik.ru/20250714/sanktsii-yaponiya-1987654.html</link>
 <pubDate>Mon, 14 Jul 2025 10:10:00 +0300</pubDate>
 <dc:language>ru</dc:language>
</item>
<item><title>no link and no guid</title></item>
<item>
 <title>bad date</title><link>https://www.nhk.or.jp/a</link><pubDate>yesterday-ish</pubDate>
</item>
</channel></rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
 <title>Example Wire</title>
 <entry>
  <title>Japan quietly begins lifting Russia sanctions, sources say</title>
  <link rel="alternate" href="https://www.example-wire.com/world/123"/>
  <link rel="enclosure" href="https://www.example-wire.com/img.jpg"/>
  <id>tag:example-wire.com,2025:123</id>
  <published>2025-07-14T09:00:00Z</published>
  <updated>2025-07-14T12:00:00Z</updated>
  <summary type="html">&lt;p&gt;Officials deny it.&lt;/p&gt;</summary>
 </entry>
</feed>
"""

RDF = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
 <channel rdf:about="https://news.example.jp/"><title>RDF</title></channel>
 <item rdf:about="https://news.example.jp/a/1">
  <title>参院選 情勢調査</title><link>https://news.example.jp/a/1</link>
  <dc:date>2025-07-15T12:00:00+09:00</dc:date><dc:language>ja</dc:language>
 </item>
</rdf:RDF>
"""


def test_rss_atom_rdf(store: Store, tmp_path: Path) -> None:
    files = []
    for name, body in (("feed.xml", RSS), ("atom.xml", ATOM), ("rdf.rdf", RDF)):
        p = tmp_path / name
        p.write_text(body, encoding="utf-8")
        files.append(p)
    infos = ingest(store, files)
    assert [i.format for i in infos] == ["rss", "rss", "rss"]
    assert [(i.posts, i.rejected) for i in infos] == [(2, 2), (1, 0), (1, 0)]
    rows = {
        r[0]: r[1:]
        for r in store.sql(
            "SELECT post_id, account_id, created_at, lang, text, url, kind FROM posts "
            "WHERE platform = 'news' ORDER BY post_id"
        )
    }
    acct, at, lang, text, url, kind = rows["sput-1"]
    # the outlet is the account (domain of <source url>); a repeated headline is not doubled
    assert (acct, lang, kind) == ("sputniknews.jp", "ja", "post")
    assert at == datetime(2025, 7, 14, 8, 30, tzinfo=UTC)
    assert text == "日本が対露制裁の解除を開始 関係筋。 詳細"
    assert url.startswith("https://sputniknews.jp/20250714/sanctions-19901234.html")
    ru = rows["https://ria-sputnik.ru/20250714/sanktsii-yaponiya-1987654.html"]
    assert (
        ru[0] == "ria-sputnik.ru"
        and ru[2] == "ru"
        and ru[1] == datetime(2025, 7, 14, 7, 10, tzinfo=UTC)
    )
    atom = rows["tag:example-wire.com,2025:123"]
    assert atom[0] == "example-wire.com" and atom[2] == "en"
    assert atom[1] == datetime(2025, 7, 14, 9, 0, tzinfo=UTC)  # published, not updated
    assert (
        atom[3].endswith("Officials deny it.")
        and atom[4] == "https://www.example-wire.com/world/123"
    )
    rdf = rows["https://news.example.jp/a/1"]
    assert rdf[0] == "news.example.jp" and rdf[2] == "ja"
    # links are in post_urls, normalised (tracking parameters dropped)
    urls = dict(store.sql("SELECT post_id, url_norm FROM post_urls WHERE platform = 'news'"))
    assert "utm_source" not in urls["sput-1"]
    reasons = sorted(r[0] for r in store.sql("SELECT reason FROM rejects"))
    assert reasons == [
        "an item with neither a guid/id nor a link",
        "unreadable date 'yesterday-ish'",
    ]
    names = dict(store.sql("SELECT account_id, display_name FROM accounts WHERE platform='news'"))
    assert (
        names["sputniknews.jp"] == "スプートニク日本"
        and names["example-wire.com"] == "Example Wire"
    )


def test_scenario_feed(scenario: tuple[Path, object]) -> None:
    db, files = scenario
    with Store(db, read_only=True) as s:
        n_items = files.articles_rss.read_text(encoding="utf-8").count("<item>")  # type: ignore[attr-defined]
        assert s.count("rejects") == 0
        assert s.sql("SELECT count(*) FROM posts WHERE platform = 'news'")[0][0] == n_items
        langs = dict(
            s.sql("SELECT lang, count(*) FROM posts WHERE platform = 'news' GROUP BY lang")
        )
        assert set(langs) == {"ja", "ru"}


def test_feed_declaring_entities_is_refused(store: Store, tmp_path: Path) -> None:
    import pytest

    from fimiscope.errors import FormatMismatchError

    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        '<rss version="2.0"><channel><item><title>&b;</title><link>https://x.example/1</link>'
        "</item></channel></rss>\n"
    )
    p = tmp_path / "bomb.xml"
    p.write_text(bomb, encoding="utf-8")
    with pytest.raises(FormatMismatchError, match="declares XML entities"):
        ingest(store, [p])
    assert store.sql("SELECT count(*) FROM posts")[0][0] == 0
