"""The dashboard in real headless Chromium (Debian's /usr/bin/chromium, never a downloaded
browser): the analyst's journey, a hostile post that must stay inert, Japanese text."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.web.conftest import HOSTILE_POST, JAPANESE, JAPANESE_POST, PASSWORDS, Server

CHROMIUM = os.environ.get("FIMISCOPE_CHROMIUM", "/usr/bin/chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is not installed (Debian package `chromium`; `make browser`)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright (Python package of the dev extra) is not installed")
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(accept_downloads=True, locale="ja-JP")
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.errors = errors
    yield p
    context.close()


def _login(page: Any, server: Server, name: str) -> None:
    page.goto(server.url + "/groups")
    assert re.search(r"/login\?next=", page.url), page.url
    page.fill("#username", name)
    page.fill("#password", PASSWORDS[name])
    page.click("#login")
    page.wait_for_url(server.url + "/groups")


def test_analyst_journey(page: Any, server: Server, tmp_path: Path) -> None:
    _login(page, server, "ana")
    page.click("a.grouplink >> nth=0")
    page.wait_for_selector("svg#network[data-ready]")
    # The picture is drawn: nodes with real on-screen size, and our script ran under the CSP.
    drawn = page.eval_on_selector_all(
        "svg#network circle.node",
        "cs => cs.filter(c => { const b = c.getBoundingClientRect(); "
        "return b.width > 2 && b.height > 2; }).length",
    )
    assert drawn >= 3
    assert int(page.get_attribute("svg#network", "data-ready")) == drawn
    assert page.locator("svg#network line").count() >= 2
    # Picking a node dims the rest of the graph (the interactive part).
    page.dispatch_event("svg#network circle.node >> nth=0", "click")
    assert page.locator("svg#network circle.sel").count() == 1
    members = page.eval_on_selector_all(
        "table a[href^='/accounts/x/']", "as => as.map(a => a.href.split('/').pop())"
    )
    assert members
    # Confirm the group with a reason.
    page.fill("textarea[name=reason]", "同じ分に同じ投稿をリポスト (synchronised reposts)")
    page.click("#review-confirm")
    page.wait_for_selector("#review-status:text('confirmed')")
    assert "同じ分に同じ投稿" in page.inner_text("section.review")
    # Export the report of confirmed groups: a download, pseudonymised.
    with page.expect_download() as dl:
        page.click("#export-report")
    out = tmp_path / "report.html"
    dl.value.save_as(out)
    html = out.read_text(encoding="utf-8")
    assert "<html" in html.lower()
    leaked = [m for m in members if m in html]
    assert not leaked, f"raw account ids in a pseudonymised report: {leaked[:3]}"
    # Log out: the session is gone.
    page.click("#logout")
    page.wait_for_url(re.compile(r".*/login$"))
    page.goto(server.url + "/groups")
    assert "/login?next=" in page.url
    assert not page.errors, page.errors


def test_hostile_post_renders_inert(page: Any, server: Server) -> None:
    _login(page, server, "vic")
    for path in (f"/posts/x/{HOSTILE_POST}", "/search?q=__pwned", "/accounts/x/880001"):
        page.goto(server.url + path)
        page.wait_for_load_state("load")
        assert page.evaluate("typeof window.__pwned") == "undefined", path
        assert "pwned" not in page.title(), path
        assert page.locator(".posttext script, .posttext img, .posttext svg").count() == 0
    page.goto(server.url + f"/posts/x/{HOSTILE_POST}")
    shown = page.inner_text("#post-text")
    assert "<script>window.__pwned=1" in shown and "onerror=" in shown
    assert not page.errors, page.errors


def test_japanese_renders_with_a_cjk_font(page: Any, server: Server) -> None:
    _login(page, server, "vic")
    page.goto(server.url + f"/posts/x/{JAPANESE_POST}")
    assert page.inner_text("#post-text") == JAPANESE
    assert page.get_attribute("#post-text .posttext", "lang") == "ja"
    assert page.evaluate("document.characterSet") == "UTF-8"
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#post-text .posttext"})
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
    families = [f["familyName"] for f in fonts]
    assert any("CJK" in f or "JP" in f for f in families), families  # real glyphs, not boxes
