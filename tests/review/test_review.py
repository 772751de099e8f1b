"""The review trail: decisions, status, attribution, audit log, CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from fimiscope import review
from fimiscope.cli import main
from fimiscope.errors import ConfigError
from fimiscope.store import Store


def _rec(store: Store, decision: str, sid: str = "0", **kw: object) -> int:
    args = dict(
        subject_kind="group",
        subject_id=sid,
        decision=decision,
        reason="because",
        analyst="ana",
        run_id="detect-1",
    )
    args.update(kw)
    return review.record(store, **args)  # type: ignore[arg-type]


def test_latest_confirm_or_dismiss_wins(store: Store) -> None:
    assert review.status(store, "group", "0") is None
    assert _rec(store, "confirm") == 1
    assert review.status(store, "group", "0", run_id="detect-1") == "confirmed"
    _rec(store, "annotate")  # a note does not change the status
    assert review.status(store, "group", "0") == "confirmed"
    _rec(store, "dismiss", analyst="ben")
    assert review.status(store, "group", "0") == "dismissed"
    assert review.status(store, "group", "0", run_id="detect-2") is None  # other run
    _rec(store, "confirm", sid="1")
    assert review.statuses(store, "group", run_id="detect-1") == {
        "0": "dismissed",
        "1": "confirmed",
    }


def test_append_only_history(store: Store) -> None:
    ids = [_rec(store, d) for d in ("confirm", "dismiss", "confirm")]
    assert ids == sorted(ids)
    hist = review.history(store, subject_kind="group", subject_id="0")
    assert [h["decision"] for h in hist] == ["confirm", "dismiss", "confirm"][::-1]
    assert {h["analyst"] for h in hist} == {"ana"} and all(h["at"] for h in hist)
    # Paging.
    assert [h["review_id"] for h in review.history(store, limit=1, offset=1)] == [ids[1]]
    # Earlier rows are untouched by later decisions.
    first = store.sql("SELECT * FROM reviews WHERE review_id = ?", [ids[0]])
    _rec(store, "dismiss")
    assert store.sql("SELECT * FROM reviews WHERE review_id = ?", [ids[0]]) == first
    assert review.history(store, subject_kind="post") == []


def test_account_and_post_subjects(store: Store) -> None:
    review.record(
        store,
        subject_kind="account",
        subject_id="42",
        platform="x",
        decision="confirm",
        reason="bot",
        analyst="ana",
    )
    review.record(
        store,
        subject_kind="post",
        subject_id="at://did:plc:a/p/1",
        platform="bluesky",
        decision="dismiss",
        reason="satire",
        analyst="ana",
    )
    assert review.status(store, "account", "42", platform="x") == "confirmed"
    assert review.status(store, "account", "42", platform="bluesky") is None
    assert review.status(store, "post", "at://did:plc:a/p/1") == "dismissed"


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"subject_kind": "user"}, "subject_kind"),
        ({"decision": "approve"}, "decision"),
        ({"reason": " "}, "reason"),
        ({"analyst": ""}, "analyst"),
        ({"decision": "confirm", "attribution": "X"}, "annotate"),
        (
            {"decision": "annotate", "attribution": "X", "attribution_kind": "gang"},
            "attribution_kind",
        ),
        ({"decision": "annotate", "techniques": ["T9999"]}, "DISARM"),
    ],
)
def test_bad_decisions(store: Store, kw: dict, match: str) -> None:
    args = {"decision": "confirm", **kw}
    with pytest.raises(ConfigError, match=match):
        _rec(store, **args)
    assert review.history(store) == []


def test_attributions(store: Store) -> None:
    _rec(
        store,
        "annotate",
        attribution="Storm-1",
        attribution_kind="threat-actor",
        techniques=["T0049.003"],
    )
    _rec(store, "annotate")  # a plain note is not an attribution
    got = review.attributions(store, "group", run_id="detect-1")
    assert list(got) == ["0"] and got["0"][0]["attribution"] == "Storm-1"
    assert got["0"][0]["techniques"] == ["T0049.003"]


def test_audit_log(store: Store) -> None:
    _rec(store, "confirm")
    review.audit(store, actor="ana", action="login", detail={"ip": "127.0.0.1"})
    log = review.audit_log(store)
    assert [e["action"] for e in log] == ["login", "review"]
    assert log[1]["detail"]["decision"] == "confirm" and log[1]["actor"] == "ana"
    assert review.audit_log(store, limit=1, offset=1)[0]["action"] == "review"
    with pytest.raises(ConfigError):
        review.audit(store, actor="", action="x", detail={})
    with pytest.raises(ConfigError):
        review.audit_log(store, limit=0)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "s.duckdb")
    Store(db).close()
    base = ["--store", db, "--analyst", "ana"]
    assert main(["review", "confirm", "group", "3", "-r", "bots", "--run", "detect-9", *base]) == 0
    assert (
        main(
            [
                "review",
                "annotate",
                "group",
                "3",
                "-r",
                "op",
                "--run",
                "detect-9",
                "--attribute",
                "Op X",
                "--technique",
                "T0049.003",
                *base,
            ]
        )
        == 0
    )
    assert (
        main(["review", "dismiss", "account", "77", "-r", "human", "--platform", "x", *base]) == 0
    )
    capsys.readouterr()
    assert main(["review", "list", "--store", db, "--json"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert [r["decision"] for r in rows] == ["dismiss", "annotate", "confirm"]
    assert rows[1]["attribution"] == "Op X" and rows[1]["attribution_kind"] == "intrusion-set"
    assert main(["review", "list", "--store", db, "--audit", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3
    assert main(["review", "confirm", "blob", "1", "-r", "x", *base]) == 2
    assert "subject_kind" in capsys.readouterr().err
