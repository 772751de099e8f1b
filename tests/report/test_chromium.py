"""Hostile post texts render as text in a real headless Chromium, and no script runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fimiscope.report import write_report
from fimiscope.store import Store

from .conftest import HOSTILE_IMG, HOSTILE_SCRIPT, confirm, plant_hostile_texts

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"Debian chromium is not installed at {CHROMIUM}"
)


@pytest.mark.parametrize("pseudonymise", [True, False], ids=["pseudonymised", "raw"])
def test_hostile_text_is_inert(
    astore: Store, key: Path, tmp_path: Path, pseudonymise: bool
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    plant_hostile_texts(astore, 0)
    # A hostile handle too (shown when identifiers are raw).
    astore.sql(
        "UPDATE accounts SET handle = ? WHERE account_id = (SELECT account_id FROM coord_members "
        "WHERE group_id = 0 ORDER BY account_id LIMIT 1)",
        ["<img src=x onerror=window.__pwned=3>"],
    )
    confirm(astore, 0)
    out = write_report(astore, tmp_path / "hostile.html", key_path=key, pseudonymise=pseudonymise)
    requests: list[str] = []
    dialogs: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(out.as_uri())
            page.wait_for_load_state("load")
            pwned = page.evaluate("() => window.__pwned === undefined ? null : window.__pwned")
            title = page.title()
            texts = page.eval_on_selector_all(
                "article.finding pre.post-text", "els => els.map(e => e.textContent)"
            )
            n_scripts = page.eval_on_selector_all("script", "els => els.length")
            bad_imgs = page.eval_on_selector_all(
                "img", "els => els.filter(e => !e.src.startsWith('data:')).length"
            )
            members = page.inner_text("table.members")
        finally:
            browser.close()
    assert pwned is None and not dialogs
    assert title != "pwned"
    assert n_scripts == 0 and bad_imgs == 0
    # The payloads are shown, character for character, as text.
    assert HOSTILE_SCRIPT in texts and HOSTILE_IMG in texts
    if not pseudonymise:
        assert "<img src=x onerror=window.__pwned=3>" in members
    # Nothing but the file itself and its data: URIs was requested.
    assert all(u == out.as_uri() or u.startswith("data:") for u in requests), requests
