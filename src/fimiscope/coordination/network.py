"""Fusion of per-trace edges, Leiden groups, and the evidence a person can read.

References
----------
.. [1] Traag, V. A., Waltman, L., & van Eck, N. J. (2019). From Louvain to Leiden:
   guaranteeing well-connected communities. *Scientific Reports*, 9, 5233.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import duckdb

__all__ = ["Group", "find_groups", "group_evidence"]


@dataclass(frozen=True)
class Group:
    """One group of a run (a row of ``coord_groups``)."""

    group_id: int
    platform: str
    members: tuple[str, ...]
    n_edges: int
    density: float
    traces: tuple[str, ...]
    summary: str = ""

    @property
    def size(self) -> int:
        return len(self.members)


def find_groups(
    edges: list[tuple[str, str, str, float]],
    *,
    resolution: float,
    seed: int,
    min_size: int,
) -> dict[tuple[str, str], int]:
    """Leiden (modularity with a resolution, RB configuration model) on the fused graph.

    ``edges`` are (platform, account_a, account_b, weight). Returns {(platform, account):
    group_id}, groups numbered from 0 by decreasing size; groups below ``min_size`` dropped.
    """
    import igraph as ig
    import leidenalg

    names: dict[tuple[str, str], int] = {}
    pairs, weights = [], []
    for platform, a, b, w in edges:
        ia = names.setdefault((platform, a), len(names))
        ib = names.setdefault((platform, b), len(names))
        pairs.append((ia, ib))
        weights.append(float(w))
    if not pairs:
        return {}
    g = ig.Graph(n=len(names), edges=pairs)
    g.es["weight"] = weights
    part = leidenalg.find_partition(
        g,
        leidenalg.RBConfigurationVertexPartition,
        weights="weight",
        resolution_parameter=resolution,
        seed=seed,
        n_iterations=-1,
    )
    inv = {i: key for key, i in names.items()}
    comms = sorted((sorted(c) for c in part if len(c) >= min_size), key=lambda c: (-len(c), c[0]))
    return {inv[v]: gid for gid, c in enumerate(comms) for v in c}


def group_evidence(
    con: duckdb.DuckDBPyConnection,
    actions: str,
    members: str,
    edge_traces: str,
    *,
    window: float,
    top: int = 10,
) -> dict[int, dict[str, Any]]:
    """Evidence per group: per-trace edge counts, top shared targets, hourly timeline.

    ``members`` has (group_id, platform, account_id); ``edge_traces`` the significant per-trace
    rows with a ``group_id``; ``actions`` the action rows.
    """
    ev: dict[int, dict[str, Any]] = {}
    for gid, trace, n, k, exp in con.execute(
        f"SELECT group_id, trace, count(*), sum(k), sum(expected) FROM {edge_traces} "
        "GROUP BY ALL ORDER BY group_id, count(*) DESC"
    ).fetchall():
        ev.setdefault(gid, {"traces": {}, "shared_targets": [], "timeline": []})
        ev[gid]["traces"][trace] = {"edges": n, "coactions": int(k), "expected": float(exp)}
    rows = con.execute(
        'WITH g AS (SELECT m.group_id, a.trace, a.target, a.account_id, a."at", a.post_id '
        f"  FROM {actions} a JOIN {members} m ON a.platform = m.platform "
        "   AND a.account_id = m.account_id WHERE a.target IS NOT NULL AND a.target <> ''), "
        "t AS (SELECT group_id, trace, target, count(DISTINCT account_id) AS accounts, "
        '  count(*) AS actions, min("at") AS first_at, max("at") AS last_at, '
        '  list(post_id ORDER BY "at") FILTER (WHERE post_id IS NOT NULL)[1:5] AS posts '
        "  FROM g GROUP BY ALL HAVING count(DISTINCT account_id) >= 2), "
        # Top targets per trace, so every trace's evidence is shown (not only the busiest).
        "r AS (SELECT *, row_number() OVER (PARTITION BY group_id, trace ORDER BY accounts "
        "  DESC, actions DESC, target) AS rn FROM t) "
        "SELECT group_id, trace, target, accounts, actions, first_at, last_at, posts "
        "FROM r WHERE rn <= ? ORDER BY group_id, trace, rn",
        [top],
    ).fetchall()
    for gid, trace, target, accounts, actions_n, first, last, posts in rows:
        ev.setdefault(gid, {"traces": {}, "shared_targets": [], "timeline": []})
        ev[gid]["shared_targets"].append(
            {
                "trace": trace,
                "target": target,
                "accounts": accounts,
                "actions": actions_n,
                "first_at": first.isoformat() if first else None,
                "last_at": last.isoformat() if last else None,
                "posts": list(posts or []),
            }
        )
    for gid, hour, n in con.execute(
        "SELECT m.group_id, date_trunc('hour', a.\"at\") AS h, count(*) "
        f"FROM {actions} a JOIN {members} m ON a.platform = m.platform "
        'AND a.account_id = m.account_id WHERE a."at" IS NOT NULL GROUP BY ALL ORDER BY 1, 2'
    ).fetchall():
        ev.setdefault(gid, {"traces": {}, "shared_targets": [], "timeline": []})
        ev[gid]["timeline"].append([hour.isoformat(), n])
    for e in ev.values():
        e["window_s"] = window
    return ev


_INNOCENT = {
    "repost": "a fan base or a newsroom's followers reposting the same accounts promptly",
    "like": "a close community liking the same posts as they appear",
    "like_untimed": "shared tastes (likes without times carry no timing evidence)",
    "text": "a shared template, a petition text or a quoted slogan",
    "text_near": "a shared template, a petition text or a quoted slogan",
    "link": "news bots of one publisher posting the same article feed",
    "hashtag": "an organised but open campaign using an agreed hashtag",
    "hashtag_seq": "an organised but open campaign using an agreed hashtag set",
    "quote": "a community of commentators reacting to the same posts",
    "reply": "a community of commentators reacting to the same posts",
}


def summary(size: int, evidence: dict[str, Any], expected_chance: float) -> str:
    """One paragraph a person can read."""
    traces = evidence.get("traces", {})
    if not traces:
        return f"{size} accounts."
    primary = [t for t in traces if not t.endswith("_untimed")] or list(traces)
    main = max(primary, key=lambda t: traces[t]["edges"])
    targets = [t for t in evidence.get("shared_targets", []) if t["trace"] == main]
    n_t = len(targets)
    counts = Counter({t: v["edges"] for t, v in traces.items()})
    parts = ", ".join(f"{t} ({n} pairs)" for t, n in counts.most_common())
    return (
        f"{size} accounts acted together: {parts}. The most shared {main} targets were each "
        f"acted on by up to {max((t['accounts'] for t in targets), default=0)} members "
        f"(top {n_t} listed) within {evidence.get('window_s', 0):g} s of each other. Under the "
        f"null model (each account keeps its own activity and timing, synchrony broken) about "
        f"{expected_chance:.2g} of these pairs would be expected by chance. An innocent "
        f"explanation to rule out: {_INNOCENT.get(main, 'a shared interest or schedule')}."
    )
