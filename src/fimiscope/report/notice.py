"""Notices to platforms: the accounts and posts of the findings on one platform, what they did,
the evidence, and the platform rule the behaviour falls under.

Disinformation as such is not a removal ground under Japan's Information Distribution Platform
Act, and platforms act on behaviour; so a notice rests on coordinated inauthentic behaviour,
platform manipulation and spam rules, never on what the posts say.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson

from fimiscope.errors import ConfigError
from fimiscope.report.findings import Collection, Finding
from fimiscope.report.pseudonymise import csv_safe

__all__ = ["POLICY_BASIS", "notice", "write"]

FORMATS = ("json", "csv")

# Public rule pages each notice cites, by platform. Behaviour-based rules only.
POLICY_BASIS: dict[str, list[dict[str, str]]] = {
    "x": [
        {
            "rule": "X Platform manipulation and spam policy",
            "url": "https://help.x.com/en/rules-and-policies/platform-manipulation",
            "covers": "coordinated activity, inauthentic accounts, artificial amplification "
            "(reposts, likes, hashtags) and automated posting without disclosure",
        },
        {
            "rule": "X Automation rules",
            "url": "https://help.x.com/en/rules-and-policies/x-automation",
            "covers": "bulk or coordinated automated reposting and liking",
        },
    ],
    "bluesky": [
        {
            "rule": "Bluesky Community Guidelines: spam and platform manipulation",
            "url": "https://bsky.social/about/support/community-guidelines",
            "covers": "coordinated inauthentic behaviour, fake engagement and automated spam",
        }
    ],
}
_GENERIC_BASIS = [
    {
        "rule": "The platform's rules on coordinated inauthentic behaviour, platform "
        "manipulation and spam",
        "url": "",
        "covers": "networks of accounts that act together to mislead about who is behind them "
        "or to inflate reach artificially",
    }
]


def _behaviour(f: Finding) -> list[str]:
    out = [
        f"{f.size} accounts acted together on the same targets within seconds, repeatedly "
        f"({', '.join(f.traces)}), far beyond what their own activity explains by chance "
        f"(about {f.expected_chance_edges:.2g} of {f.n_edges} links expected by chance)."
    ]
    if f.automation and f.automation["flagged"]:
        out.append(
            f"{f.automation['flagged']} of the accounts show automated behaviour "
            f"(median automation score {f.automation['median_score']:.2f})."
        )
    if f.boosted_posts:
        out.append(
            f"Members took part in the anomalous engagement bursts of {len(f.boosted_posts)} "
            "post(s) (artificial amplification)."
        )
    for ind in f.indicators:
        if ind.get("name") == "creation_bursts" and ind.get("strength") in ("moderate", "strong"):
            out.append("Many accounts were created within days of each other.")
    return out


def notice(c: Collection, *, platform: str, sender: str) -> dict[str, Any]:
    """The notice as a JSON-ready dict."""
    findings = [f for f in c.findings if f.platform == platform]
    return {
        "notice_type": "coordinated-inauthentic-behaviour",
        "platform": platform,
        "sender": sender,
        "generated_at": c.generated_at.isoformat(),
        "detect_run": c.run_id,
        "runs": c.run_ids,
        "fimiscope_version": c.version,
        "scope": "analyst-confirmed findings only"
        if c.include == "confirmed"
        else "DRAFT: includes findings no analyst has confirmed",
        "identifiers": "keyed pseudonyms (p_…); ask the sender for the raw list"
        if c.pseudonymised
        else "raw platform identifiers",
        "policy_basis": POLICY_BASIS.get(platform, _GENERIC_BASIS),
        "legal_note": "This notice reports behaviour (coordination, automation, artificial "
        "amplification) under the platform's own rules. It does not ask for content to be "
        "removed because it is false: under Japan's Information Distribution Platform Act "
        "disinformation as such is not a removal ground.",
        "findings": [
            {
                "finding": f.key,
                "status": f.status,
                "behaviour": _behaviour(f),
                "evidence": {
                    "summary": f.summary,
                    "traces": f.trace_counts,
                    "first_at": f.first_at.isoformat() if f.first_at else None,
                    "last_at": f.last_at.isoformat() if f.last_at else None,
                    "shared_targets": f.shared_targets[:10],
                    "indicators": [
                        {k: i.get(k) for k in ("name", "strength", "evidence")}
                        for i in f.indicators
                        if i.get("strength") in ("moderate", "strong")
                    ],
                    "innocent_explanations_considered": f.innocent_explanations,
                },
                "accounts": [
                    {
                        "account_id": m["shown_id"],
                        "handle": m["shown_handle"],
                        "automation_score": m.get("automation_score"),
                        "edges_in_group": m.get("degree"),
                    }
                    for m in f.members
                ],
                "posts": [
                    {
                        "post_id": p["post_id"],
                        "url": p["url"],
                        "account_id": p["account_id"],
                        "kind": p["kind"],
                        "created_at": p["created_at"].isoformat() if p["created_at"] else None,
                        "ref_post_id": p["ref_post_id"],
                    }
                    for p in f.posts
                ],
            }
            for f in findings
        ],
    }


_CSV_COLUMNS = (
    "finding",
    "status",
    "row_type",
    "account_id",
    "handle",
    "post_id",
    "url",
    "kind",
    "created_at",
    "behaviour",
    "policy_basis",
)


def write(c: Collection, out: Path, *, platform: str, fmt: str, sender: str) -> Path:
    """Write the notice as JSON or as CSV (one row per account and per post)."""
    if fmt not in FORMATS:
        raise ConfigError("fmt", "write_notice", "'json' or 'csv'", fmt)
    if not platform:
        raise ConfigError("platform", "write_notice", "a platform name such as 'x'", platform)
    data = notice(c, platform=platform, sender=sender)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        out.write_bytes(orjson.dumps(data, default=str, option=orjson.OPT_INDENT_2))
        return out
    basis = "; ".join(b["rule"] for b in data["policy_basis"])
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(_CSV_COLUMNS)
        for f in data["findings"]:
            behaviour = " ".join(f["behaviour"])
            for a in f["accounts"]:
                w.writerow(
                    [
                        csv_safe(v)
                        for v in (
                            f["finding"],
                            f["status"],
                            "account",
                            a["account_id"],
                            a["handle"],
                            "",
                            "",
                            "",
                            "",
                            behaviour,
                            basis,
                        )
                    ]
                )
            for p in f["posts"]:
                w.writerow(
                    [
                        csv_safe(v)
                        for v in (
                            f["finding"],
                            f["status"],
                            "post",
                            p["account_id"],
                            "",
                            p["post_id"],
                            p["url"] or "",
                            p["kind"],
                            p["created_at"] or "",
                            behaviour,
                            basis,
                        )
                    ]
                )
    return out
