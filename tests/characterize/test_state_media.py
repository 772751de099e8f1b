"""Registry matching: domains, subdomains, handles, URL variants, typology, user lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from fimiscope.characterize.state_media import load_registry
from fimiscope.errors import ConfigError


@pytest.fixture(scope="module")
def reg():
    return load_registry()


@pytest.mark.parametrize(
    ("url", "outlet"),
    [
        ("https://www.rt.com/news/1234-x/", "RT International"),
        ("http://RT.com:443/", "RT International"),
        ("rt.com/russia", "RT International"),
        ("https://russian.rt.com/world/news/1", "RT на русском"),  # more specific entry wins
        ("https://nauka.tass.ru/nauka/1", "TASS"),
        ("https://sputniknews.jp/20250709/x.html", "Sputnik Japan"),
        ("https://x.com/sputnik_jp/status/1", "Sputnik Japan"),
        ("https://mobile.twitter.com/Sputnik_JP", "Sputnik Japan"),
        ("https://t.me/s/rt_russian/4567", "RT International"),
    ],
)
def test_url_variants(reg, url: str, outlet: str) -> None:
    o = reg.match_url(url)
    assert o is not None and o.outlet == outlet


@pytest.mark.parametrize(
    "url",
    ["https://notrt.com/", "https://rt.com.example.org/", "https://x.com/", "https://example.jp/"],
)
def test_non_matches(reg, url: str) -> None:
    assert reg.match_url(url) is None


def test_handles_and_typology(reg) -> None:
    assert reg.match_handle("twitter", "@TASS_agency").outlet == "TASS"
    assert reg.match_handle("x", "SputnikInt").state_controlled
    nhk = reg.match_url("https://www3.nhk.or.jp/news/")
    assert nhk.outlet == "NHK" and nhk.typology == "CaPu" and not nhk.state_controlled


def test_user_list_extends_and_overrides(tmp_path: Path) -> None:
    p = tmp_path / "mine.csv"
    p.write_text(
        "outlet,company,country,typology,domains,handles,source\n"
        "Example State TV,Ministry,Examplestan,SC,tv.example.org,bluesky:extv.bsky.social,me\n"
        "NHK,NHK,Japan,IP,www3.nhk.or.jp,,me\n",
        encoding="utf-8",
    )
    reg = load_registry([p])
    assert reg.match_url("https://news.tv.example.org/a").country == "Examplestan"
    assert reg.match_handle("bluesky", "EXTV.bsky.social").outlet == "Example State TV"
    assert reg.match_url("https://www3.nhk.or.jp/").typology == "IP"


def test_bad_user_list(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("name,site\nfoo,foo.org\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="columns"):
        load_registry([p])
    with pytest.raises(ConfigError, match="existing CSV"):
        load_registry([tmp_path / "missing.csv"])


def test_shipped_files_keep_licence_and_attribution() -> None:
    from importlib import resources

    base = resources.files("fimiscope") / "data" / "state_media"
    assert "MIT License" in (base / "LICENSE").read_text(encoding="utf-8")
    head = (base / "registry.csv").read_text(encoding="utf-8")[:400]
    assert "ASD-at-GMF" in head and "MIT" in head
