"""Read-side API and the `fimiscope narratives` / `fimiscope claims` commands on the scenario."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from fimiscope.cli import main
from fimiscope.errors import NotFoundError
from fimiscope.narratives import get_narrative, list_narratives, list_trends
from fimiscope.store import Store


def test_list_and_get_narrative(scenario: tuple[Path, object]) -> None:
    db, _ = scenario
    with Store(db, read_only=True) as s:
        rows = list_narratives(s, limit=100)
        assert rows and [r["narrative_id"] for r in rows] == list(range(len(rows)))
        assert list_narratives(s, limit=2, offset=1) == rows[1:3]
        vol = [r["n_posts"] + r["n_reposts"] for r in rows if r["n_posts"] + r["n_reposts"] >= 3]
        assert vol == sorted(vol, reverse=True)
        top = rows[0]
        assert top["keywords"] and top["label"] and top["representatives"]
        assert set(top["languages"]) <= {"ja", "en", "ru", "und"}
        assert 0 <= top["coordinated_share"] <= 1 and 0 <= top["automated_share"] <= 1
        # the false claim's narrative: Russian state outlets are its origin
        claim = next(
            r for r in rows if any("対露制裁" in (p["text"] or "") for p in r["representatives"])
        )
        n = get_narrative(s, claim["narrative_id"])
        assert n["volume"] and sum(v["posts"] + v["reposts"] for v in n["volume"]) == (
            n["n_posts"] + n["n_reposts"]
        )
        assert n["state_media_share"] > 0
        prov = n["provenance"]
        assert "news" in prov["first_by_platform"] and prov["articles"]
        path = prov["outlet_path"]
        assert path["article"]["lang"] == "ru" or path["article"]["state_controlled"]
        assert path["first_japanese_posts"]
        assert all(p["delay_s"] >= 0 for p in path["first_japanese_posts"])
        assert isinstance(orjson.dumps(n), bytes)  # plain data
        with pytest.raises(NotFoundError):
            get_narrative(s, 10_000)
        assert list_trends(s, limit=5)


def test_cli(
    scenario: tuple[Path, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    db, files = scenario
    copy = tmp_path / "s.duckdb"
    shutil.copy(db, copy)
    key = tmp_path / "key"
    assert main(["narratives", "list", "-s", str(copy), "--limit", "5"]) == 0
    assert "label" in capsys.readouterr().out
    assert main(["narratives", "show", "0", "-s", str(copy), "--json", "--key-file", str(key)]) == 0
    shown = orjson.loads(capsys.readouterr().out)
    assert shown["narrative_id"] == 0 and "provenance" in shown
    ids = [
        p["account_id"]
        for g in shown["provenance"]["first_by_platform"].values()
        for p in g
        if p["platform"] != "news"
    ]
    assert ids and all(i.startswith("p_") for i in ids)  # pseudonymised by default
    assert main(["claims", "load", str(files.factchecks), "-s", str(copy)]) == 0  # type: ignore[attr-defined]
    assert "5 claims (3 known false)" in capsys.readouterr().out
    assert main(["claims", "match", "-s", str(copy), "--scope", "narratives", "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["matches"] > 0
    assert main(["claims", "spread", "-s", str(copy), "--raw"]) == 0
    out = capsys.readouterr().out
    assert "[false] 日本が対露制裁の解除を開始した" in out
    # the ClaimReview's first appearance (the Russian article) is found in the ingested feed
    assert "first seen (appearance)" in out and "ria-sputnik.ru" in out
    assert (
        main(
            ["claims", "matches", "-s", str(copy), "--limit", "3", "--json", "--key-file", str(key)]
        )
        == 0
    )
    assert len(orjson.loads(capsys.readouterr().out)) == 3
    assert main(["narratives", "trends", "-s", str(copy), "--json"]) == 0
    assert isinstance(orjson.loads(capsys.readouterr().out), list)
    assert main(["narratives", "show", "999", "-s", str(copy)]) == 2
    assert "no narrative 999" in capsys.readouterr().err
