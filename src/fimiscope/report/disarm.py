"""DISARM Red Framework v1.6 data and the rules that map fimiscope's detections to it.

The official STIX objects ship in ``fimiscope/data/disarm/DISARM.json`` (CC BY-SA 4.0, DISARM
Foundation; see the README there). Techniques are looked up by their DISARM id, which the
upstream bundle keeps in ``external_references`` under ``source_name`` ``"mitre-attack"``.

>>> d = load_disarm()
>>> d.techniques["T0049.003"]["name"]
'Bots Amplify via Automated Forwarding and Reposting'
>>> sorted(default_mapping()["hashtag_flooding"])
['T0049.002']
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from fimiscope.errors import ConfigError

__all__ = [
    "ATTRIBUTION",
    "Disarm",
    "default_mapping",
    "detections",
    "load_disarm",
    "load_mapping",
    "techniques_for",
]

ATTRIBUTION = (
    "DISARM Red Framework v1.6 data © DISARM Foundation, "
    "https://github.com/DISARMFoundation/DISARMframeworks, licensed CC BY-SA 4.0 "
    "(https://creativecommons.org/licenses/by-sa/4.0/)."
)
_PKG = "fimiscope.data.disarm"
# Which co-action traces count as which behaviour.
AMPLIFY_TRACES = frozenset({"repost", "like", "like_untimed"})
TEXT_TRACES = frozenset({"text", "text_near"})
HASHTAG_TRACES = frozenset({"hashtag", "hashtag_seq"})


@dataclass(frozen=True)
class Disarm:
    """The DISARM bundle, indexed: ``techniques`` maps a DISARM id to its STIX object."""

    techniques: dict[str, dict[str, Any]]
    identity: dict[str, Any]
    marking: dict[str, Any]


def _read(name: str) -> bytes:
    return resources.files(_PKG).joinpath(name).read_bytes()


@functools.cache
def load_disarm() -> Disarm:
    """Read the shipped DISARM STIX bundle (once per process)."""
    bundle = orjson.loads(_read("DISARM.json"))
    techniques: dict[str, dict[str, Any]] = {}
    identity = marking = None
    for obj in bundle["objects"]:
        if obj["type"] == "attack-pattern":
            for ref in obj.get("external_references", ()):
                if ref.get("source_name") == "mitre-attack" and ref.get("external_id"):
                    techniques[ref["external_id"]] = obj
        elif obj["type"] == "identity":
            identity = obj
        elif obj["type"] == "marking-definition":
            marking = obj
    if identity is None or marking is None:
        raise RuntimeError("the shipped DISARM.json lacks its identity or marking-definition")
    return Disarm(techniques, identity, marking)


@functools.cache
def _default_rows() -> tuple[tuple[str, str, str, str], ...]:
    text = _read("detection_map.csv").decode("utf-8")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    return tuple(
        (r["rule"], r["technique_id"], r["technique_name"], r["when"])
        for r in csv.DictReader(io.StringIO("\n".join(lines)))
    )


def default_mapping() -> dict[str, tuple[str, ...]]:
    """Rule -> DISARM technique ids, as shipped in ``detection_map.csv``."""
    out: dict[str, list[str]] = {}
    for rule, tid, _name, _when in _default_rows():
        out.setdefault(rule, []).append(tid)
    return {k: tuple(v) for k, v in out.items()}


def rule_descriptions() -> dict[str, str]:
    """Rule -> when it fires, in words."""
    return {rule: when for rule, _t, _n, when in _default_rows()}


def load_mapping(
    override: str | Path | dict[str, list[str]] | None = None,
) -> dict[str, tuple[str, ...]]:
    """The default rules with an analyst's overrides applied and every id checked.

    ``override`` is a dict or a JSON file ``{"rule": ["T0049.003", ...]}``; a rule mapped to
    ``[]`` is switched off; unknown rules and ids that are not in DISARM v1.6 are errors.
    """
    mapping = default_mapping()
    if override is not None:
        if isinstance(override, dict):
            data: Any = override
        else:
            try:
                data = orjson.loads(Path(override).read_bytes())
            except (OSError, orjson.JSONDecodeError) as exc:
                raise ConfigError(
                    "mapping", "DISARM mapping", "a readable JSON object file", str(override)
                ) from exc
        if not isinstance(data, dict):
            raise ConfigError("mapping", "DISARM mapping", "a JSON object", type(data).__name__)
        for rule, ids in data.items():
            if rule not in mapping:
                raise ConfigError(
                    "mapping", "DISARM mapping", f"rules among {sorted(mapping)}", rule
                )
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise ConfigError("mapping", "DISARM mapping", "lists of technique ids", ids)
            mapping[rule] = tuple(ids)
    known = load_disarm().techniques
    bad = sorted({t for ids in mapping.values() for t in ids if t not in known})
    if bad:
        raise ConfigError("mapping", "DISARM mapping", "DISARM v1.6 technique ids", bad)
    return mapping


def detections(
    *,
    traces: set[str] | frozenset[str],
    automated_share: float | None,
    any_automated: bool,
    boosted_posts: int,
    indicators: dict[str, str],
) -> list[str]:
    """Which rules fire for a finding.

    Parameters
    ----------
    traces
        Traces in which the group's edges are significant.
    automated_share
        Share of members flagged as automated (None when not characterised).
    any_automated
        At least one member is flagged.
    boosted_posts
        Flagged anomalously boosted posts whose bursts include members.
    indicators
        Dossier indicator name -> strength (``none``/``weak``/``moderate``/``strong``).

    >>> detections(traces={"repost"}, automated_share=0.9, any_automated=True,
    ...            boosted_posts=0, indicators={})
    ['reposting_bot_network', 'automated_accounts']
    """
    fired = []
    if traces & AMPLIFY_TRACES and (automated_share or 0) >= 0.5:
        fired.append("reposting_bot_network")
    if any_automated:
        fired.append("automated_accounts")
    if traces & TEXT_TRACES or boosted_posts > 0:
        fired.append("flooding")
    if traces & TEXT_TRACES:
        fired.append("copypasta")
    if traces & HASHTAG_TRACES:
        fired.append("hashtag_flooding")
    if boosted_posts > 0:
        fired.append("algorithm_manipulation")
    strong = {"moderate", "strong"}
    if indicators.get("creation_bursts") in strong:
        fired.append("bulk_created_accounts")
    if indicators.get("state_media_amplification") in strong:
        fired.append("state_media_amplification")
    return fired


def techniques_for(rules: list[str], mapping: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """DISARM id -> the rules that led to it, in first-seen order."""
    out: dict[str, list[str]] = {}
    for rule in rules:
        for tid in mapping.get(rule, ()):
            out.setdefault(tid, []).append(rule)
    return out
