"""STIX 2.1 bundles: valid under stix2-validator 3.2.0, and the expected shape."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from stix2validator import ValidationOptions, validate_string

from fimiscope import review
from fimiscope.errors import ConfigError
from fimiscope.report import write_stix
from fimiscope.report.disarm import load_disarm
from fimiscope.store import Store

from .conftest import confirm

TLP_AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
TLP_RED = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
DISARM_MARKING = "marking-definition--f79f25d2-8b96-4580-b169-eb7b613a7c31"


def _valid(text: str) -> None:
    result = validate_string(text, ValidationOptions(version="2.1"))
    assert result.is_valid, [str(e) for e in result.errors]


def _objs(path: Path) -> list[dict[str, Any]]:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    assert bundle["type"] == "bundle"
    return bundle["objects"]


def test_bundle_shape_and_validity(astore: Store, key: Path, tmp_path: Path) -> None:
    confirm(astore, 0, 1)
    out = write_stix(astore, tmp_path / "b.json", key_path=key, actor="tester")
    _valid(out.read_text(encoding="utf-8"))
    objs = _objs(out)
    by_id = {o["id"]: o for o in objs}
    types = Counter(o["type"] for o in objs)
    assert types["campaign"] == 2 and types["report"] == 1 and types["observed-data"] == 2
    assert types["note"] == 2 and types["user-account"] >= 6 and types["indicator"] >= 2
    assert types["threat-actor"] == 0 and types["intrusion-set"] == 0  # nobody attributed
    # DISARM attack-patterns are the official objects, found by their DISARM id.
    disarm = load_disarm()
    aps = {
        o["external_references"][0]["external_id"]: o for o in objs if o["type"] == "attack-pattern"
    }
    assert {"T0049.003", "T0146.007"} <= set(aps)
    for tid, ap in aps.items():
        assert ap["id"] == disarm.techniques[tid]["id"]
        assert ap["external_references"][0]["source_name"] == "mitre-attack"
        assert ap["object_marking_refs"] == [DISARM_MARKING]
    assert DISARM_MARKING in by_id and "CC-BY-SA-4.0" in json.dumps(by_id[DISARM_MARKING])
    # Campaigns use the techniques; sightings tie techniques to observed data.
    uses = [o for o in objs if o["type"] == "relationship" and o["relationship_type"] == "uses"]
    assert {by_id[r["source_ref"]]["type"] for r in uses} == {"campaign"}
    assert {r["target_ref"] for r in uses} == {ap["id"] for ap in aps.values()}
    for s in (o for o in objs if o["type"] == "sighting"):
        assert by_id[s["sighting_of_ref"]]["type"] == "attack-pattern"
        assert all(by_id[r]["type"] == "observed-data" for r in s["observed_data_refs"])
    indicates = [o for o in objs if o.get("relationship_type") == "indicates"]
    assert indicates and all(by_id[r["source_ref"]]["type"] == "indicator" for r in indicates)
    # Every object fimiscope made is TLP:AMBER and refers only to objects in the bundle.
    for o in objs:
        if (
            o["type"] in ("marking-definition",)
            or o["id"] in (disarm.identity["id"],)
            or o["type"] == "attack-pattern"
        ):
            continue
        assert o.get("object_marking_refs") == [TLP_AMBER], o["id"]
    report = next(o for o in objs if o["type"] == "report")
    assert all(r in by_id for r in report["object_refs"])
    assert report["labels"] == ["confirmed"]
    assert "DISARM Foundation" in report["description"]
    notes = [o for o in objs if o["type"] == "note"]
    assert all("Innocent explanations considered" in n["content"] for n in notes)
    # Pseudonymised: user ids are tokens.
    assert all(o["user_id"].startswith("p_") for o in objs if o["type"] == "user-account")
    entry = review.audit_log(astore, limit=1)[0]
    assert entry["detail"]["what"] == "stix" and entry["detail"]["tlp"] == "amber"


def test_attribution_only_when_an_analyst_attributes(
    astore: Store, key: Path, tmp_path: Path
) -> None:
    run = confirm(astore, 0)
    review.record(
        astore,
        subject_kind="group",
        subject_id=0,
        decision="annotate",
        reason="infrastructure overlaps with earlier reports",
        analyst="lead",
        run_id=run,
        attribution="Storm-0000",
        attribution_kind="intrusion-set",
        techniques=["T0049.005"],
    )
    out = write_stix(astore, tmp_path / "a.json", key_path=key, tlp="red")
    _valid(out.read_text(encoding="utf-8"))
    objs = _objs(out)
    sets = [o for o in objs if o["type"] == "intrusion-set"]
    assert [s["name"] for s in sets] == ["Storm-0000"]
    rel = [o for o in objs if o.get("relationship_type") == "attributed-to"]
    assert len(rel) == 1 and rel[0]["target_ref"] == sets[0]["id"]
    assert sets[0]["object_marking_refs"] == [TLP_RED]
    techs = {
        o["external_references"][0]["external_id"] for o in objs if o["type"] == "attack-pattern"
    }
    assert "T0049.005" in techs  # added by the analyst


def test_ids_are_stable_and_draft_marked(astore: Store, key: Path, tmp_path: Path) -> None:
    confirm(astore, 0)
    a = _objs(write_stix(astore, tmp_path / "1.json", key_path=key))
    b = _objs(write_stix(astore, tmp_path / "2.json", key_path=key))
    ids = lambda objs: sorted(o["id"] for o in objs if o["type"] != "report")  # noqa: E731
    assert ids(a) == ids(b)
    draft = write_stix(astore, tmp_path / "3.json", key_path=key, include="all")
    _valid(draft.read_text(encoding="utf-8"))
    objs = _objs(draft)
    report = next(o for o in objs if o["type"] == "report")
    assert report["labels"] == ["draft"] and report["name"].startswith("DRAFT")
    assert any(n["content"].startswith("DRAFT") for n in objs if n["type"] == "note")


def test_empty_bundle_is_valid(astore: Store, key: Path, tmp_path: Path) -> None:
    out = write_stix(astore, tmp_path / "e.json", key_path=key)
    _valid(out.read_text(encoding="utf-8"))
    assert not [o for o in _objs(out) if o["type"] == "campaign"]


def test_bad_tlp(astore: Store, key: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tlp"):
        write_stix(astore, tmp_path / "x.json", key_path=key, tlp="purple")
