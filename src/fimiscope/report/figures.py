"""Figures of a report as base64 PNG data URIs (matplotlib, Agg backend, no display)."""

from __future__ import annotations

import base64
import io
from datetime import datetime
from typing import Any

from fimiscope.errors import MissingDependencyError

__all__ = ["hour_of_week_png", "network_png", "timeline_png"]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _plt() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise MissingDependencyError("matplotlib", "report") from exc
    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure


def _uri(fig: Any) -> str:
    buf = io.BytesIO()
    # No timestamps or software metadata in the PNG: same data, same bytes.
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def network_png(
    nodes: list[str], edges: list[tuple[str, str, float]], flagged: set[str], seed: int = 0
) -> str | None:
    """The group's coordination edges, laid out by igraph (Fruchterman-Reingold, fixed seed).

    Nodes flagged as automated are drawn as filled red circles, others as open blue ones; the
    line width follows the edge weight.
    """
    if not nodes:
        return None
    import random

    import igraph as ig

    index = {n: i for i, n in enumerate(nodes)}
    g = ig.Graph(
        n=len(nodes), edges=[(index[a], index[b]) for a, b, _ in edges if a in index and b in index]
    )
    state = random.getstate()
    random.seed(seed)
    try:
        layout = g.layout_fruchterman_reingold(niter=500)
    finally:
        random.setstate(state)
    xy = layout.coords
    Figure = _plt()
    fig = Figure(figsize=(4.2, 3.6))
    ax = fig.add_subplot()
    wmax = max((w for _, _, w in edges), default=1.0) or 1.0
    for a, b, w in edges:
        if a in index and b in index:
            (x1, y1), (x2, y2) = xy[index[a]], xy[index[b]]
            ax.plot([x1, x2], [y1, y2], color="#888", lw=0.5 + 2.5 * w / wmax, zorder=1)
    for n, (x, y) in zip(nodes, xy, strict=True):
        bot = n in flagged
        ax.scatter(
            [x],
            [y],
            s=70,
            zorder=2,
            c="#c0392b" if bot else "white",
            edgecolors="#c0392b" if bot else "#1f5fa8",
            linewidths=1.5,
        )
    ax.set_axis_off()
    ax.set_title(f"{len(nodes)} accounts, {len(edges)} significant edges", fontsize=9)
    return _uri(fig)


def timeline_png(timeline: list[tuple[str, int]]) -> str | None:
    """Hourly co-actions of the group (UTC)."""
    if not timeline:
        return None
    times = [datetime.fromisoformat(t) for t, _ in timeline]
    counts = [n for _, n in timeline]
    Figure = _plt()
    fig = Figure(figsize=(6.4, 2.2))
    ax = fig.add_subplot()
    ax.bar(times, counts, width=1 / 24, color="#1f5fa8")
    ax.set_ylabel("co-actions / hour", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.autofmt_xdate()
    ax.set_title("When the group acted together (UTC)", fontsize=9)
    return _uri(fig)


def hour_of_week_png(hour_of_week: list[int] | None, offset_hours: int | None) -> str | None:
    """Activity by day and hour (UTC) as a heat map, with the estimated offset in the title."""
    if not hour_of_week or len(hour_of_week) != 168:
        return None
    import numpy as np

    grid = np.asarray(hour_of_week, dtype=float).reshape(7, 24)
    Figure = _plt()
    fig = Figure(figsize=(6.4, 2.3))
    ax = fig.add_subplot()
    ax.imshow(grid, aspect="auto", cmap="Blues", interpolation="nearest")
    ax.set_yticks(range(7), _DAYS, fontsize=7)
    ax.set_xticks(range(0, 24, 3), [f"{h:02d}" for h in range(0, 24, 3)], fontsize=7)
    ax.set_xlabel("hour of day (UTC)", fontsize=8)
    tz = "" if offset_hours is None else f"; best fit UTC{offset_hours:+d}"
    ax.set_title(f"Timed actions by weekday and hour{tz}", fontsize=9)
    return _uri(fig)
