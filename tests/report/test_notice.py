"""Platform notices: JSON and CSV, the policy basis, and CSV formula injection."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fimiscope.errors import ConfigError
from fimiscope.report import write_notice
from fimiscope.report.pseudonymise import csv_safe
from fimiscope.store import Store

from .conftest import HOSTILE_CSV, confirm, member_ids


def test_json_notice(astore: Store, key: Path, tmp_path: Path) -> None:
    confirm(astore, 0)
    out = write_notice(astore, tmp_path / "n.json", platform="x", key_path=key)
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["platform"] == "x" and data["scope"] == "analyst-confirmed findings only"
    rules = " ".join(b["rule"] for b in data["policy_basis"])
    assert "manipulation and spam" in rules
    assert "not a removal ground" in data["legal_note"]
    (f,) = data["findings"]
    assert f["finding"] == "group-0" and f["behaviour"]
    assert len(f["accounts"]) == len(member_ids(astore, 0))
    assert all(a["account_id"].startswith("p_") for a in f["accounts"])
    assert f["posts"] and all(
        p["url"] == f"https://x.com/i/web/status/{p['post_id']}" for p in f["posts"]
    )
    assert f["evidence"]["innocent_explanations_considered"]
    empty = json.loads(
        write_notice(astore, tmp_path / "b.json", platform="bluesky", key_path=key).read_text()
    )
    assert empty["findings"] == [] and "Bluesky" in empty["policy_basis"][0]["rule"]


def test_csv_notice_guards_formulas(astore: Store, key: Path, tmp_path: Path) -> None:
    run = confirm(astore, 0)
    victim = member_ids(astore, 0)[0][1]
    astore.sql("UPDATE accounts SET handle = ? WHERE account_id = ?", [HOSTILE_CSV, victim])
    out = write_notice(
        astore, tmp_path / "n.csv", platform="x", fmt="csv", key_path=key, pseudonymise=False
    )
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    handles = [r["handle"] for r in rows if r["row_type"] == "account"]
    assert "'" + HOSTILE_CSV in handles
    for r in rows:
        for v in r.values():
            assert not v.startswith(("=", "+", "-", "@", "\t", "\r")), v
    assert {r["row_type"] for r in rows} == {"account", "post"}
    assert any(r["account_id"] == victim for r in rows)  # raw on request
    assert all("platform manipulation" in r["policy_basis"].lower() for r in rows)
    from fimiscope import review

    entry = review.audit_log(astore, limit=1)[0]["detail"]
    assert entry["raw_identifiers"] is True and entry["what"] == "notice-csv"
    assert run in entry["run_ids"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("plain", "plain"),
        ("", ""),
        (-5, -5),
        (None, None),
    ],
)
def test_csv_safe(cell: object, expected: object) -> None:
    assert csv_safe(cell) == expected


def test_bad_format(astore: Store, key: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fmt"):
        write_notice(astore, tmp_path / "n.xml", platform="x", fmt="xml", key_path=key)
