"""The report reads the narratives subsystem's tables (when a narratives run exists)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fimiscope.report import write_report
from fimiscope.store import Store

from ._html import parse, text
from .conftest import confirm, member_ids

pytest.importorskip("fimiscope.narratives.schema", reason="narratives subsystem not installed")


def test_narratives_and_fact_checks_in_report(astore: Store, key: Path, tmp_path: Path) -> None:
    confirm(astore, 0)
    members = [a for _p, a, _h in member_ids(astore, 0)]
    (pid,) = astore.sql(
        "SELECT post_id FROM posts WHERE account_id IN (SELECT unnest(?::VARCHAR[])) "
        "AND kind = 'post' ORDER BY post_id LIMIT 1",
        [members],
    )[0]
    nrun = astore.start_run("narratives", {"test": True})
    astore.sql(
        "INSERT INTO narratives (run_id, narrative_id, label, n_posts) VALUES (?, 7, ?, 40)",
        [nrun, "制裁 / 解除 <b>bold</b>"],
    )
    astore.sql(
        "INSERT INTO narrative_posts (run_id, platform, post_id, narrative_id) "
        "VALUES (?, 'x', ?, 7)",
        [nrun, pid],
    )
    astore.finish_run(nrun)
    crun = astore.start_run("claims", {"test": True})
    astore.sql(
        "INSERT INTO claims (claim_id, text, verdict, rating_text, reviewer, review_url) "
        "VALUES ('c1', 'Sanctions were lifted', 'false', '誤り', 'JFC', 'javascript:alert(1)')"
    )
    astore.sql(
        "INSERT INTO claim_matches (run_id, claim_id, platform, post_id, score) "
        "VALUES (?, 'c1', 'x', ?, 0.9)",
        [crun, pid],
    )
    astore.finish_run(crun)
    out = write_report(astore, tmp_path / "n.html", key_path=key)
    doc = parse(out)
    art = doc.find(".//article[@data-group='0']")
    assert art is not None
    nar = art.find(".//table[@class='narratives']")
    fc = art.find(".//table[@class='fact-checks']")
    assert nar is not None and "制裁 / 解除 <b>bold</b>" in text(nar)
    assert fc is not None and "Sanctions were lifted" in text(fc) and "誤り" in text(fc)
    assert 'href="javascript' not in out.read_text(encoding="utf-8")
    repro = text(doc.find(".//*[@id='reproducibility']"))  # type: ignore[arg-type]
    assert nrun in repro and crun in repro
