"""`fimiscope report` and `fimiscope export --format stix|notice|research`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fimiscope.cli import main
from fimiscope.store import Store

from .conftest import confirm


def test_report_and_exports(
    astore: Store, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    confirm(astore, 0)
    db = astore.path
    astore.close()
    common = ["--store", db, "--key-file", str(key), "--actor", "cli-user"]
    assert main(["report", "-o", str(tmp_path / "r.html"), *common]) == 0
    assert "confirmed findings" in capsys.readouterr().out
    assert (
        main(
            [
                "export",
                "--format",
                "stix",
                "-o",
                str(tmp_path / "b.json"),
                "--tlp",
                "green",
                *common,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "export",
                "--format",
                "notice",
                "--platform",
                "x",
                "-o",
                str(tmp_path / "n.csv"),
                *common,
            ]
        )
        == 0
    )
    assert main(["export", "--format", "research", "-o", str(tmp_path / "res"), *common]) == 0
    assert main(["export", "posts", "-o", str(tmp_path / "posts.parquet"), *common]) == 0
    assert (tmp_path / "n.csv").read_text().startswith("finding,status,row_type")
    assert (tmp_path / "res" / "coordination.gexf").exists()
    capsys.readouterr()
    assert main(["export", "--format", "notice", "-o", str(tmp_path / "x.json"), *common]) == 2
    assert "--platform" in capsys.readouterr().err
    assert main(["review", "list", "--audit", "--json", "--store", db]) == 0
    log = json.loads(capsys.readouterr().out)
    exports = [e["detail"]["what"] for e in log if e["action"] == "export"]
    assert exports == ["table-parquet", "research", "notice-csv", "stix", "report-html"]
    assert {e["actor"] for e in log if e["action"] == "export"} == {"cli-user"}
