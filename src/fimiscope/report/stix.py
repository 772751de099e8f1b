"""STIX 2.1 bundles of findings, with DISARM techniques as attack-patterns.

Per finding: a ``campaign``; ``user-account`` and ``url`` observables in an ``observed-data``;
``indicator`` objects for the accounts and the links the group pushed; the DISARM
``attack-pattern`` objects its detections map to (the official DISARM objects, reused with
their ids) with ``uses`` relationships and ``sighting`` objects; a ``note`` with the evidence
summary; and a ``threat-actor`` or ``intrusion-set`` only when an analyst attributed the group
(``fimiscope review annotate --attribute``). Everything fimiscope creates carries the chosen
TLP marking; the DISARM objects keep their own CC BY-SA 4.0 marking, identity and attribution.
Ids of fimiscope's objects are UUIDv4-shaped hashes of the run and group, so re-exporting
updates the same objects in OpenCTI or MISP instead of duplicating them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fimiscope.errors import ConfigError, MissingDependencyError
from fimiscope.report.disarm import ATTRIBUTION, load_disarm
from fimiscope.report.findings import Collection, Finding

__all__ = ["TLP_LEVELS", "build_bundle"]

TLP_LEVELS = ("clear", "white", "green", "amber", "red")
_NS = uuid.UUID("6f1b4d5e-8a0c-5b8e-9a53-3c3f8c1e9b21")
_ACCOUNT_TYPE = {"x": "twitter", "twitter": "twitter", "facebook": "facebook"}


def _stix() -> Any:
    try:
        import stix2
    except ImportError as exc:
        raise MissingDependencyError("stix2", "report") from exc
    return stix2


def _id(kind: str, *parts: object) -> str:
    """A stable id: the random bits of a version-4 UUID taken from a hash of ``parts``, so
    that ids have the form STIX asks for and re-exports keep them."""
    digest = uuid.uuid5(_NS, kind + "|" + "|".join(str(p) for p in parts)).bytes
    return f"{kind}--{uuid.UUID(bytes=digest, version=4)}"


def _pattern_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ts(value: Any, default: datetime) -> datetime:
    if value is None:
        return default
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def build_bundle(c: Collection, *, tlp: str = "amber", producer: str = "fimiscope analyst") -> str:
    """Serialise the collection as a STIX 2.1 bundle (JSON text)."""
    stix2 = _stix()
    if tlp not in TLP_LEVELS:
        raise ConfigError("tlp", "write_stix", f"one of {TLP_LEVELS}", tlp)
    marking = {
        "clear": stix2.TLP_WHITE,
        "white": stix2.TLP_WHITE,
        "green": stix2.TLP_GREEN,
        "amber": stix2.TLP_AMBER,
        "red": stix2.TLP_RED,
    }[tlp]
    disarm = load_disarm()
    now = c.generated_at
    key = f"{c.run_id}|{'pseudo' if c.pseudonymised else 'raw'}"
    common = {"object_marking_refs": [marking.id]}
    me = stix2.Identity(
        id=_id("identity", producer),
        name=producer,
        identity_class="organization",
        description="Producer of this bundle (fimiscope coordination analysis).",
        **common,
    )
    base = {"created_by_ref": me.id, **common}
    objects: list[Any] = [marking, me]
    used_patterns: dict[str, Any] = {}
    draft = c.include == "all"
    for f in c.findings:
        objects.extend(_finding(stix2, c, f, key, base, now, disarm, used_patterns, draft))
    if used_patterns:
        objects.append(stix2.parse(disarm.identity, allow_custom=True))
        objects.append(stix2.parse(disarm.marking, allow_custom=True))
        objects.extend(used_patterns.values())
    refs = [o.id for o in objects if o.type not in ("marking-definition",)]
    report = stix2.Report(
        id=_id("report", key, c.include),
        name=("DRAFT — " if draft else "")
        + f"Coordinated inauthentic behaviour, detect run {c.run_id}",
        description=(
            (
                "Draft: includes findings no analyst has confirmed. "
                if draft
                else "Only analyst-confirmed findings are included. "
            )
            + f"{len(c.findings)} finding(s) of {c.groups_total} group(s) detected. "
            + (
                "Account identifiers are keyed pseudonyms (p_…); public-interest accounts keep "
                "their names. "
                if c.pseudonymised
                else "Account identifiers are raw. "
            )
            + f"Runs: {', '.join(c.run_ids)}; fimiscope {c.version}. "
            + (ATTRIBUTION if used_patterns else "")
        ),
        published=now,
        report_types=["campaign", "attack-pattern"]
        + (["threat-actor"] if any(f.attributions for f in c.findings) else []),
        labels=["draft"] if draft else ["confirmed"],
        object_refs=refs,
        **base,
    )
    objects.append(report)
    bundle = stix2.Bundle(objects=objects, allow_custom=True)
    return str(bundle.serialize(pretty=True, ensure_ascii=False))


def _finding(
    stix2: Any,
    c: Collection,
    f: Finding,
    key: str,
    base: dict[str, Any],
    now: datetime,
    disarm: Any,
    used: dict[str, Any],
    draft: bool,
) -> list[Any]:
    fk = f"{key}|{f.group_id}"
    first = _ts(f.first_at, now)
    last = max(_ts(f.last_at, now), first)
    out: list[Any] = []
    campaign = stix2.Campaign(
        id=_id("campaign", fk),
        name=f"Coordinated group {f.group_id} on {f.platform} ({c.run_id})",
        description=f.summary,
        first_seen=first,
        last_seen=last,
        labels=[f.status, "coordinated-inauthentic-behaviour"],
        **base,
    )
    out.append(campaign)
    account_type = _ACCOUNT_TYPE.get(f.platform)
    scos: list[Any] = []
    for m in f.members:
        props: dict[str, Any] = {"user_id": m["shown_id"]}
        if m.get("shown_handle"):
            props["account_login"] = m["shown_handle"]
        if account_type:
            props["account_type"] = account_type
        scos.append(stix2.UserAccount(**props, object_marking_refs=base["object_marking_refs"]))
    post_urls = [p["url"] for p in f.posts if p.get("url")][:50]
    link_urls = [lk["url"] for lk in f.links if lk.get("url")]
    for u in dict.fromkeys(post_urls + link_urls):
        scos.append(stix2.URL(value=u, object_marking_refs=base["object_marking_refs"]))
    out.extend(scos)
    observed = stix2.ObservedData(
        id=_id("observed-data", fk),
        first_observed=first,
        last_observed=last,
        number_observed=max(1, len(f.posts)),
        object_refs=[s.id for s in scos],
        **base,
    )
    out.append(observed)
    indicators = []
    accounts = [m["shown_id"] for m in f.members if m.get("shown_id")]
    if accounts:
        indicators.append(
            stix2.Indicator(
                id=_id("indicator", fk, "accounts"),
                name=f"Accounts of coordinated group {f.group_id}",
                description=f"{len(accounts)} {f.platform} accounts that acted together "
                f"({', '.join(f.traces)}).",
                indicator_types=["attribution"],
                pattern=" OR ".join(
                    f"[user-account:user_id = {_pattern_str(a)}]" for a in accounts
                ),
                pattern_type="stix",
                valid_from=first,
                **base,
            )
        )
    if link_urls:
        indicators.append(
            stix2.Indicator(
                id=_id("indicator", fk, "links"),
                name=f"Links pushed by coordinated group {f.group_id}",
                description="Links that several members of the group posted.",
                indicator_types=["anomalous-activity"],
                pattern=" OR ".join(f"[url:value = {_pattern_str(u)}]" for u in link_urls),
                pattern_type="stix",
                valid_from=first,
                **base,
            )
        )
    out.extend(indicators)
    for ind in indicators:
        out.append(
            stix2.Relationship(
                id=_id("relationship", ind.id, "indicates", campaign.id),
                relationship_type="indicates",
                source_ref=ind.id,
                target_ref=campaign.id,
                **base,
            )
        )
    for tid, why in f.techniques.items():
        obj = disarm.techniques.get(tid)
        if obj is None:
            continue
        if tid not in used:
            used[tid] = stix2.parse(obj, allow_custom=True)
        ap = used[tid]
        out.append(
            stix2.Relationship(
                id=_id("relationship", campaign.id, "uses", ap.id),
                relationship_type="uses",
                source_ref=campaign.id,
                target_ref=ap.id,
                description=f"DISARM {tid} because: {', '.join(why)}.",
                **base,
            )
        )
        out.append(
            stix2.Sighting(
                id=_id("sighting", fk, tid),
                sighting_of_ref=ap.id,
                observed_data_refs=[observed.id],
                where_sighted_refs=[base["created_by_ref"]],
                first_seen=first,
                last_seen=last,
                count=max(1, f.size),
                description=f"{tid} observed in coordinated group {f.group_id}.",
                **base,
            )
        )
    seen_actors: set[str] = set()
    for a in f.attributions:
        name = a.get("attribution")
        if not name or name in seen_actors:
            continue
        seen_actors.add(name)
        cls = stix2.IntrusionSet if a["attribution_kind"] == "intrusion-set" else stix2.ThreatActor
        actor = cls(
            id=_id(a["attribution_kind"], name),
            name=name,
            description=f"Attributed by analyst {a['analyst']} on {a['at']}: {a['reason']}",
            **base,
        )
        out.append(actor)
        out.append(
            stix2.Relationship(
                id=_id("relationship", campaign.id, "attributed-to", actor.id),
                relationship_type="attributed-to",
                source_ref=campaign.id,
                target_ref=actor.id,
                **base,
            )
        )
    content = [f.summary]
    if f.dossier_summary:
        content.append(f.dossier_summary)
    for ind in f.indicators:
        if ind.get("strength") in ("moderate", "strong"):
            content.append(f"- {ind.get('name')} ({ind.get('strength')}): {ind.get('evidence')}")
    if f.automation:
        content.append(
            f"Automation: {f.automation['flagged']} of {f.size} members flagged "
            f"(median score {f.automation['median_score']:.2f})."
        )
    if f.innocent_explanations:
        content.append("Innocent explanations considered: " + "; ".join(f.innocent_explanations))
    if draft and f.status != "confirmed":
        content.insert(0, f"DRAFT: this finding is {f.status}, not confirmed by an analyst.")
    out.append(
        stix2.Note(
            id=_id("note", fk),
            abstract=f"Evidence summary, group {f.group_id}",
            content="\n".join(c for c in content if c),
            object_refs=[campaign.id, observed.id],
            **base,
        )
    )
    return out
