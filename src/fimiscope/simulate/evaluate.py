"""Scoring detected groups against the scenario's ground truth.

* A *coordination operation* is a ground-truth operation of kind ``bot_network``, taken per
  platform (the same operator's X and Bluesky accounts form two graphs). Operations of other
  kinds (state outlet accounts that are amplified, a false narrative posted by many organic
  users) are not coordinated behaviour among their own accounts: reported, not scored.
* A detected group is *correct* when >= 50 % of its members belong to one coordination
  operation. Group precision = correct groups / groups.
* An operation is *recovered* when the correct groups of that operation together contain
  >= 50 % of its accounts. Group recall = recovered operations / operations.
* A benign look-alike (fans, news bots, breaking news, hashtag campaign) is *flagged* when a
  group has >= 50 % of its members from it.
* Account precision / recall: members of any group vs. all coordination-operation accounts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

Account = tuple[str, str]


@dataclass(frozen=True)
class Truth:
    operations: dict[tuple[str, str], set[Account]]
    """(operation id, platform) -> accounts, for ``bot_network`` operations."""
    other_operations: dict[tuple[str, str], set[Account]]
    benign: dict[str, set[Account]]


def load_truth(path: str | Path) -> Truth:
    t = orjson.loads(Path(path).read_bytes())
    ops: dict[tuple[str, str], set[Account]] = {}
    other: dict[tuple[str, str], set[Account]] = {}
    for o in t["operations"]:
        bucket = ops if o["kind"] == "bot_network" else other
        for a in o["accounts"]:
            bucket.setdefault((o["id"], a["platform"]), set()).add((a["platform"], a["account_id"]))
    benign: dict[str, set[Account]] = {}
    for b in t["benign"]:
        for a in b["accounts"]:
            benign.setdefault(b["id"], set()).add((a["platform"], a["account_id"]))
    return Truth(ops, other, benign)


def score_groups(groups: list[set[Account]], truth: Truth, min_size: int = 3) -> dict[str, Any]:
    """Group- and account-level precision and recall, and benign look-alikes flagged."""
    ops = {k: v for k, v in truth.operations.items() if len(v) >= min_size}
    op_accounts: set[Account] = set().union(*ops.values()) if ops else set()
    correct, flagged = 0, Counter[str]()
    covered: dict[tuple[str, str], set[Account]] = {k: set() for k in ops}
    for g in groups:
        best = max(ops, key=lambda k: len(g & ops[k]), default=None)
        if best is not None and len(g & ops[best]) >= 0.5 * len(g):
            correct += 1
            covered[best] |= g & ops[best]
        for name, accts in truth.benign.items():
            if len(g & (accts - op_accounts)) >= 0.5 * len(g):
                flagged[name] += 1
    recovered = [k for k in ops if len(covered[k]) >= 0.5 * len(ops[k])]
    members: set[Account] = set().union(*groups) if groups else set()
    tp = len(members & op_accounts)
    return {
        "groups": len(groups),
        "group_precision": correct / len(groups) if groups else 1.0,
        "group_recall": len(recovered) / len(ops) if ops else 1.0,
        "operations": {f"{k[0]}@{k[1]}": f"{len(covered[k])}/{len(ops[k])}" for k in ops},
        "account_precision": tp / len(members) if members else 1.0,
        "account_recall": tp / len(op_accounts) if op_accounts else 1.0,
        "benign_groups_flagged": dict(flagged),
        "benign_accounts_in_groups": {
            n: len(members & (a - op_accounts)) for n, a in truth.benign.items()
        },
    }
