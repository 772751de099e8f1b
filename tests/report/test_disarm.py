"""The shipped DISARM data and the mapping table from detections to techniques."""

from __future__ import annotations

import csv
import hashlib
import io
from importlib import resources
from pathlib import Path

import pytest

from fimiscope.errors import ConfigError
from fimiscope.report.disarm import (
    default_mapping,
    detections,
    load_disarm,
    load_mapping,
    techniques_for,
)

PKG = resources.files("fimiscope.data.disarm")


def test_shipped_data_is_the_verbatim_copy_with_its_licence() -> None:
    digest = hashlib.sha256(PKG.joinpath("DISARM.json").read_bytes()).hexdigest()
    assert digest == "f372a5b70e540022c5ffae41d1e1bd04fb79dd6b94aa0ea2fcce4712d600bf3f"
    assert "Attribution-ShareAlike 4.0" in PKG.joinpath("LICENSE.md").read_text("utf-8")
    readme = PKG.joinpath("README.md").read_text("utf-8")
    assert "CC BY-SA 4.0" in readme and "DISARM Foundation" in readme
    d = load_disarm()
    assert len(d.techniques) == 391
    assert d.marking["definition"]["statement"] == "CC-BY-SA-4.0 DISARM Foundation"


def test_every_mapped_id_exists_with_the_name_in_the_table() -> None:
    d = load_disarm()
    text = PKG.joinpath("detection_map.csv").read_text("utf-8")
    rows = list(
        csv.DictReader(
            io.StringIO("\n".join(ln for ln in text.splitlines() if not ln.startswith("#")))
        )
    )
    assert rows
    for r in rows:
        assert r["technique_id"] in d.techniques, r
        assert d.techniques[r["technique_id"]]["name"] == r["technique_name"], r


def test_documented_rules() -> None:
    m = default_mapping()
    assert m["reposting_bot_network"] == ("T0049.003",)
    assert m["automated_accounts"] == ("T0146.007",)
    assert m["flooding"] == ("T0049",)
    assert m["hashtag_flooding"] == ("T0049.002",)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        # co-reposting, 90 % automated: bot amplification and automated accounts
        (
            dict(traces={"repost"}, automated_share=0.9, any_automated=True),
            ["reposting_bot_network", "automated_accounts"],
        ),
        # co-reposting, 40 % automated: no bot network, but automated accounts
        (dict(traces={"repost"}, automated_share=0.4, any_automated=True), ["automated_accounts"]),
        # co-liking humans: nothing fires
        (dict(traces={"like_untimed"}, automated_share=0.0, any_automated=False), []),
        # near-duplicate texts: flooding and copypasta
        (
            dict(traces={"text_near"}, automated_share=None, any_automated=False),
            ["flooding", "copypasta"],
        ),
        # hashtag sequences
        (
            dict(traces={"hashtag_seq"}, automated_share=None, any_automated=False),
            ["hashtag_flooding"],
        ),
        # boosted posts: flooding and algorithm manipulation
        (
            dict(traces={"reply"}, automated_share=None, any_automated=False, boosted_posts=3),
            ["flooding", "algorithm_manipulation"],
        ),
        # dossier indicators: weak ones do not count
        (
            dict(
                traces={"reply"},
                automated_share=None,
                any_automated=False,
                indicators={"creation_bursts": "strong", "state_media_amplification": "weak"},
            ),
            ["bulk_created_accounts"],
        ),
    ],
)
def test_rules_fire(kwargs: dict, expected: list[str]) -> None:
    kwargs = {"boosted_posts": 0, "indicators": {}, **kwargs}
    assert detections(**kwargs) == expected


def test_analyst_overrides(tmp_path: Path) -> None:
    m = load_mapping({"reposting_bot_network": ["T0049.003", "T0093.002"], "flooding": []})
    assert m["reposting_bot_network"] == ("T0049.003", "T0093.002")
    assert techniques_for(["reposting_bot_network", "flooding"], m) == {
        "T0049.003": ["reposting_bot_network"],
        "T0093.002": ["reposting_bot_network"],
    }
    f = tmp_path / "m.json"
    f.write_text('{"automated_accounts": ["T0091.003"]}')
    assert load_mapping(f)["automated_accounts"] == ("T0091.003",)
    with pytest.raises(ConfigError, match=r"DISARM v1\.6"):
        load_mapping({"flooding": ["T0019.002"]})  # deprecated "Hijack Hashtags"
    with pytest.raises(ConfigError, match="rules among"):
        load_mapping({"no_such_rule": ["T0049"]})
    f.write_text("not json")
    with pytest.raises(ConfigError):
        load_mapping(f)
