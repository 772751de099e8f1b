"""Structure of the HTML report (structural snapshot: sections, findings, banners, figures)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fimiscope import review
from fimiscope.errors import ConfigError, NotFoundError
from fimiscope.report import write_report
from fimiscope.store import Store

from ._html import parse, text
from .conftest import confirm, detect_run

SECTIONS = ["summary", "findings", "methods", "innocent", "reproducibility"]


def _doc(path: Path) -> ET.Element:
    return parse(path)


def _one(el: ET.Element, path: str) -> ET.Element:
    found = el.find(path)
    assert found is not None, path
    return found


def test_confirmed_report_structure(astore: Store, key: Path, tmp_path: Path) -> None:
    run = confirm(astore, 0)
    review.record(
        astore,
        subject_kind="group",
        subject_id=1,
        decision="dismiss",
        reason="fan club",
        analyst="tester",
        run_id=run,
    )
    out = write_report(astore, tmp_path / "r.html", key_path=key, actor="tester")
    doc = _doc(out)
    assert [s.get("id") for s in doc.findall(".//body/section")] == SECTIONS
    assert doc.find(".//*[@id='draft-banner']") is None
    banner = text(_one(doc, ".//*[@id='confirmed-banner']"))
    assert "only findings an analyst has confirmed" in banner and "1 dismissed" in banner
    arts = doc.findall(".//article[@class='finding']")
    assert [(a.get("data-group"), a.get("data-status")) for a in arts] == [("0", "confirmed")]
    art = arts[0]
    # Evidence blocks of a finding.
    for cls in (
        "traces",
        "shared-targets",
        "example-posts",
        "indicators",
        "state-media",
        "techniques",
        "members",
    ):
        assert art.find(f".//table[@class='{cls}']") is not None, cls
    assert "T0049.003" in text(_one(art, ".//table[@class='techniques']"))
    imgs = [i.get("src", "") for i in art.iter("img")]
    assert len(imgs) >= 3 and all(s.startswith("data:image/") for s in imgs)
    assert text(_one(art, ".//ul[@class='reviews']/li")).count("confirm") == 1
    # Narratives: none were built in this store, and the report says so.
    assert "No narrative run exists" in text(art)
    # Methods and reproducibility.
    params = text(_one(doc, ".//table[@class='parameters']"))
    assert "min_repetitions" in params and "window_" in params
    repro = text(_one(doc, ".//*[@id='reproducibility']"))
    assert run in repro and astore.source_digest() in repro
    assert doc.findall(".//*[@id='limitations']/li")
    # Self-contained: no script, nothing loaded from elsewhere.
    raw_html = out.read_text(encoding="utf-8")
    assert "<script" not in raw_html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", raw_html)
    assert "@media print" in raw_html
    # The export is in the audit log.
    entry = review.audit_log(astore, limit=1)[0]
    assert entry["action"] == "export" and entry["actor"] == "tester"
    assert entry["detail"]["what"] == "report-html"
    assert entry["detail"]["raw_identifiers"] is False
    assert entry["detail"]["where"] == [str(out.resolve())]
    assert run in entry["detail"]["run_ids"]


def test_draft_includes_every_group_marked(astore: Store, key: Path, tmp_path: Path) -> None:
    confirm(astore, 1)
    n = len(astore.sql("SELECT 1 FROM coord_groups WHERE run_id = ?", [detect_run(astore)]))
    doc = _doc(write_report(astore, tmp_path / "d.html", include="all", key_path=key))
    assert doc.find(".//*[@id='draft-banner']") is not None
    assert "DRAFT" in text(_one(doc, ".//title"))
    statuses = [a.get("data-status") for a in doc.findall(".//article[@class='finding']")]
    assert len(statuses) == n and statuses.count("confirmed") == 1
    assert statuses.count("unreviewed") == n - 1


def test_no_confirmed_finding_says_so(astore: Store, key: Path, tmp_path: Path) -> None:
    doc = _doc(write_report(astore, tmp_path / "e.html", key_path=key))
    assert doc.find(".//article") is None
    assert "no group of this run has been confirmed" in text(_one(doc, ".//*[@id='no-findings']"))


def test_latest_decision_wins_in_report(astore: Store, key: Path, tmp_path: Path) -> None:
    run = confirm(astore, 0)
    review.record(
        astore,
        subject_kind="group",
        subject_id=0,
        decision="dismiss",
        reason="second look: a newsroom",
        analyst="lead",
        run_id=run,
    )
    doc = _doc(write_report(astore, tmp_path / "f.html", key_path=key))
    assert doc.find(".//article") is None


def test_errors(astore: Store, key: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="include"):
        write_report(astore, tmp_path / "x.html", include="some", key_path=key)
    with pytest.raises(NotFoundError):
        write_report(astore, tmp_path / "x.html", run_id="detect-nope", key_path=key)
    empty = Store(tmp_path / "empty.duckdb")
    with pytest.raises(NotFoundError, match="no detect run"):
        write_report(empty, tmp_path / "x.html", key_path=key)
    empty.close()
