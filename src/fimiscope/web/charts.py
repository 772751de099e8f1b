"""Geometry for the pictures the templates draw as SVG: network layout and timelines.

Positions are computed here (igraph's Fruchterman-Reingold layout, seeded, so the same group
always looks the same); the browser only draws them and lets the analyst pan, zoom and pick a
node (``static/graph.js``). No inline script or style is needed, which keeps the
Content-Security-Policy strict.
"""

from __future__ import annotations

import math
from typing import Any

TRACE_COLOURS = {
    "repost": "#d1495b",
    "like": "#edae49",
    "like_untimed": "#c9b27c",
    "quote": "#00798c",
    "reply": "#30638e",
    "link": "#6a4c93",
    "hashtag": "#8ab17d",
    "hashtag_seq": "#5b8e7d",
    "text": "#e76f51",
    "text_near": "#e76f51",
    "mention": "#577590",
}


def network(
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]],
    *,
    width: float = 640,
    height: float = 420,
) -> dict[str, Any]:
    """Node circles and edge lines in SVG coordinates."""
    import igraph as ig

    if not nodes:
        return {"nodes": [], "edges": [], "width": width, "height": height}
    index = {n["account_id"]: i for i, n in enumerate(nodes)}
    pairs = [(index[e["account_a"]], index[e["account_b"]]) for e in edges]
    g = ig.Graph(n=len(nodes), edges=pairs)
    weights = [max(float(e["weight"] or 1.0), 0.1) for e in edges]
    seeds = [
        [math.cos(i * 2.39996) * (i + 1), math.sin(i * 2.39996) * (i + 1)]
        for i in range(len(nodes))
    ]
    layout = g.layout_fruchterman_reingold(weights=weights or None, seed=seeds, niter=500)
    xs = [p[0] for p in layout.coords]
    ys = [p[1] for p in layout.coords]
    pad = 24.0
    span_x = (max(xs) - min(xs)) or 1.0
    span_y = (max(ys) - min(ys)) or 1.0
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    off_x = (width - scale * span_x) / 2 - scale * min(xs)
    off_y = (height - scale * span_y) / 2 - scale * min(ys)
    max_strength = max((float(n["strength"] or 0) for n in nodes), default=1.0) or 1.0
    out_nodes = []
    for i, n in enumerate(nodes):
        out_nodes.append(
            {
                **n,
                "x": round(xs[i] * scale + off_x, 1),
                "y": round(ys[i] * scale + off_y, 1),
                "r": round(4 + 8 * math.sqrt(float(n["strength"] or 0) / max_strength), 1),
                "i": i,
            }
        )
    max_w = max(weights, default=1.0)
    out_edges = []
    for (a, b), e, w in zip(pairs, edges, weights, strict=True):
        first = (e.get("traces") or "").split(",")[0]
        out_edges.append(
            {
                "a": a,
                "b": b,
                "x1": out_nodes[a]["x"],
                "y1": out_nodes[a]["y"],
                "x2": out_nodes[b]["x"],
                "y2": out_nodes[b]["y"],
                "w": round(0.6 + 2.4 * w / max_w, 2),
                "colour": TRACE_COLOURS.get(first, "#888888"),
                "traces": e.get("traces") or "",
                "weight": e["weight"],
            }
        )
    return {"nodes": out_nodes, "edges": out_edges, "width": width, "height": height}


def bars(
    series: list[tuple[str, int]], *, width: float = 640, height: float = 120, max_bars: int = 400
) -> dict[str, Any]:
    """Bar rectangles for a (label, count) series in time order; merges bars beyond ``max_bars``."""
    if not series:
        return {"bars": [], "width": width, "height": height, "max": 0}
    step = math.ceil(len(series) / max_bars)
    merged: list[tuple[str, int]] = []
    for i in range(0, len(series), step):
        chunk = series[i : i + step]
        merged.append((chunk[0][0], sum(c for _, c in chunk)))
    top = max(c for _, c in merged) or 1
    bw = width / len(merged)
    out = []
    for i, (label, count) in enumerate(merged):
        h = (height - 14) * count / top
        out.append(
            {
                "x": round(i * bw, 2),
                "y": round(height - 14 - h, 2),
                "w": round(max(bw - 0.5, 0.5), 2),
                "h": round(h, 2),
                "label": label,
                "count": count,
            }
        )
    return {
        "bars": out,
        "width": width,
        "height": height,
        "max": top,
        "first": merged[0][0],
        "last": merged[-1][0],
    }
