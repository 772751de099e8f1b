"""Collect the ground truth while batches are written, and serialise it at the end."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from fimiscope.simulate.events import (
    LIKE,
    POST,
    QUOTE,
    R_ALERT,
    R_ALERT_SHARE,
    R_CAMPAIGN,
    R_CLAIM_BOT,
    R_CLAIM_ORG,
    R_CLAIM_STATE,
    R_COPYPASTA,
    R_FAN,
    R_FILLER,
    R_HASHTAG,
    R_IDOL,
    R_INTERVIEW,
    R_INTERVIEW_AMP,
    R_NEWS,
    R_STATE_AMP,
    R_STATE_NEWS,
    REPLY,
)
from fimiscope.simulate.population import STATE, Population
from fimiscope.simulate.text import LABELS, LANGS, NARRATIVES

_GROUPS = {
    "op_bot_network": (
        R_CAMPAIGN,
        R_COPYPASTA,
        R_CLAIM_BOT,
        R_INTERVIEW_AMP,
        R_STATE_AMP,
        R_FILLER,
    ),
    "op_state_media": (R_STATE_NEWS, R_INTERVIEW, R_CLAIM_STATE),
    # organic users who repeat the claim are listed under claims[].posts, not as operators
    "op_false_narrative": (R_CLAIM_BOT, R_CLAIM_STATE),
    "benign_fans": (R_IDOL, R_FAN),
    "benign_news": (R_NEWS,),
    "benign_breaking": (R_ALERT, R_ALERT_SHARE),
    "benign_hashtag": (R_HASHTAG,),
}
_AMPLIFY = (R_CAMPAIGN, R_INTERVIEW_AMP, R_STATE_AMP)
_KIND_NAMES = ("post", "reply", "quote", "repost")


class TruthCollector:
    """Accumulate (serial, role, kind, narrative) of the rows of one platform."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.chunks: list[np.ndarray] = []
        self.amplified: dict[str, set[int]] = defaultdict(set)
        self.actors: dict[str, set[int]] = defaultdict(set)

    def add(self, ev: dict[str, np.ndarray], deleted: np.ndarray) -> None:
        """Record one batch; ``deleted`` marks posts absent from the files."""
        s = ev["serial"]
        ip = s >= 0
        if self.platform == "x":
            ip &= ~deleted[np.maximum(s, 0)]
        self.chunks.append(
            np.stack(
                [
                    s[ip].astype(np.int32),
                    ev["role"][ip].astype(np.int32),
                    ev["kind"][ip].astype(np.int32),
                    ev["narr"][ip].astype(np.int32),
                    ev["lang"][ip].astype(np.int32),
                ],
                axis=1,
            )
        )
        for name, roles in _GROUPS.items():
            m = np.isin(ev["role"], roles)
            self.actors[name].update(ev["actor"][m].tolist())
        m = np.isin(ev["role"], _AMPLIFY) & (ev["target"] >= 0)
        self.amplified["op_bot_network"].update(ev["target"][m].tolist())
        m = (ev["role"] == R_INTERVIEW_AMP) & (ev["kind"] != LIKE)
        self.amplified["op_state_media"].update(ev["target"][m].tolist())

    def table(self) -> np.ndarray:
        """All recorded rows: serial, role, kind, narrative, lang."""
        return np.concatenate(self.chunks) if self.chunks else np.zeros((0, 5), np.int32)


def build_truth(
    plan_info: dict[str, Any],
    parts: list[tuple[TruthCollector, Population, Callable[[int], str]]],
    state_extra: dict[str, Any],
) -> dict[str, Any]:
    """Assemble the ground-truth document from the collectors of both platforms."""
    ops: dict[str, dict[str, Any]] = {
        "op_bot_network": {
            "kind": "bot_network",
            "description": "Bot network run on Moscow office hours: like/repost pile-ons on "
            "government-critical posts, copy-paste posts, amplification of the state outlet.",
        },
        "op_state_media": {
            "kind": "state_media_amplification",
            "description": "Russian state outlet accounts and the amplified candidate interview.",
        },
        "op_false_narrative": {
            "kind": "false_narrative",
            "description": "False claim that Japan has started lifting its sanctions on Russia.",
        },
    }
    benign: dict[str, dict[str, Any]] = {
        "benign_fans": {"kind": "fan_community"},
        "benign_news": {"kind": "news_bots"},
        "benign_breaking": {"kind": "breaking_news"},
        "benign_hashtag": {"kind": "hashtag_campaign"},
    }
    for d in (*ops.values(), *benign.values()):
        d.update(accounts=[], posts=[])
    narratives: dict[str, dict[str, Any]] = {
        n: {"label": LABELS[n], "languages": set(), "posts": {"x": [], "bluesky": []}}
        for n in NARRATIVES
    }
    claims: list[dict[str, str]] = []
    state_accounts = []
    for col, pop, pid in parts:
        plat = col.platform
        tab = col.table()
        for name, d in {**ops, **benign}.items():
            accts = col.actors[name]
            d["accounts"] += [
                {"platform": plat, "account_id": pop.account_id(a)} for a in sorted(accts)
            ]
            m = np.isin(tab[:, 1], _GROUPS[name])
            d["posts"] += [
                {"platform": plat, "post_id": pid(int(s)), "kind": _KIND_NAMES[int(k)]}
                for s, k in tab[m][:, [0, 2]]
            ]
            if name.startswith("op_"):
                d.setdefault("amplified_posts", [])
                d["amplified_posts"] += [
                    {"platform": plat, "post_id": pid(s)}
                    for s in sorted(col.amplified.get(name, ()))
                ]
        state_accounts += [
            {"platform": plat, "account_id": pop.account_id(int(a)), "handle": pop.handle[a]}
            for a in pop.members(STATE)
        ]
        ops["op_bot_network"].setdefault("created_bursts", []).append(
            {"platform": plat, "bursts": pop.bursts}
        )
        orig = tab[np.isin(tab[:, 2], (POST, REPLY, QUOTE))]
        for n_id in np.unique(orig[:, 3]):
            sel = orig[orig[:, 3] == n_id]
            nd = narratives[NARRATIVES[int(n_id)]]
            nd["posts"][plat].append((sel[:, 0].copy(), pid))
            nd["languages"].update(LANGS[int(x)] for x in np.unique(sel[:, 4]))
        cl = tab[np.isin(tab[:, 1], (R_CLAIM_BOT, R_CLAIM_ORG, R_CLAIM_STATE))]
        claims += [{"platform": plat, "post_id": pid(int(s))} for s in cl[:, 0]]
    for d in ops.values():
        d["timezone"] = "Europe/Moscow"
        d["utc_offset_hours"] = 3
    for nd in narratives.values():
        nd["languages"] = sorted(nd["languages"])
    return {
        **plan_info,
        "operations": [{"id": k, **v} for k, v in ops.items()],
        "benign": [{"id": k, **v} for k, v in benign.items()],
        "narratives": {
            k: v for k, v in narratives.items() if v["posts"]["x"] or v["posts"]["bluesky"]
        },
        "state_media_accounts": state_accounts,
        "claims": [{**state_extra, "posts": claims}],
        "repost_kind_note": "X retweets are posts with their own ids; Bluesky reposts are "
        "at://did/app.bsky.feed.repost/rkey records.",
    }


def write_truth(path: Path, truth: dict[str, Any]) -> None:
    """Write the ground truth, streaming the (large) per-narrative post lists.

    In ``truth["narratives"]`` each platform's posts are (serials, id function) pairs, so the
    millions of post ids of a large scenario never sit in memory as one document.
    """
    narratives = truth["narratives"]
    head = orjson.dumps(
        {k: v for k, v in truth.items() if k != "narratives"}, option=orjson.OPT_INDENT_2
    )
    with path.open("wb") as fh:
        fh.write(head[:-2] + b',\n  "narratives": {')
        for i, (name, nd) in enumerate(narratives.items()):
            meta = orjson.dumps({"label": nd["label"], "languages": nd["languages"]})
            fh.write(b"," if i else b"")
            fh.write(b"\n    " + orjson.dumps(name) + b": " + meta[:-1] + b', "posts": {')
            for j, plat in enumerate(("x", "bluesky")):
                fh.write(b", " if j else b"")
                fh.write(orjson.dumps(plat) + b": [")
                first = True
                for serials, pid in nd["posts"][plat]:
                    for k in range(0, len(serials), 50_000):
                        ids = [pid(int(s)) for s in serials[k : k + 50_000]]
                        if ids:
                            fh.write((b"" if first else b", ") + orjson.dumps(ids)[1:-1])
                            first = False
                fh.write(b"]")
            fh.write(b"}}")
        fh.write(b"\n  }\n}\n")
