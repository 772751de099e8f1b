"""The investigation report: one self-contained, printable HTML file.

Everything is inside the file (inline CSS, figures as ``data:`` PNG/SVG, no script, a
Content-Security-Policy that forbids loading anything), so it opens without a network and
prints to PDF from any browser. Jinja2 renders it with autoescaping on: post texts, handles and
every other string from the data are escaped, never trusted as markup.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from fimiscope.errors import MissingDependencyError
from fimiscope.report import figures
from fimiscope.report.disarm import ATTRIBUTION, load_disarm, rule_descriptions
from fimiscope.report.findings import Collection

__all__ = ["render_html"]

_HIDDEN_PARAMS = {"paths"}


def _env() -> Any:
    try:
        import jinja2
    except ImportError as exc:
        raise MissingDependencyError("jinja2", "report") from exc
    return jinja2.Environment(
        loader=jinja2.PackageLoader("fimiscope.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
    )


def _params(run: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not run:
        return []
    return [
        (k, str(v))
        for k, v in sorted(run["parameters"].items())
        if k not in _HIDDEN_PARAMS and not isinstance(v, dict)
    ]


def _summary(c: Collection) -> dict[str, Any]:
    s = c.store_summary
    plats = ", ".join(s["platforms"]) or "no platform"
    span = (
        f"between {s['first_at']:%d %B %Y} and {s['last_at']:%d %B %Y}"
        if s["first_at"] and s["last_at"]
        else "over an unknown period"
    )
    what = (
        f"We examined {s['posts']:,} posts, reposts and replies by {s['accounts']:,} accounts "
        f"on {plats} {span}, looking for groups of accounts that act together far more often "
        "than chance allows: posting, reposting or liking the same things within seconds of "
        "each other, again and again."
    )
    n = len(c.findings)
    if c.include == "confirmed":
        found = (
            f"The analysis found {c.groups_total} such group(s); an analyst has reviewed the "
            f"evidence and confirmed {c.groups_by_status['confirmed']}. This report describes "
            f"only the confirmed group(s) ({n})."
        )
    else:
        found = (
            f"The analysis found {c.groups_total} such group(s). This draft describes all "
            f"{n} of them, including {c.groups_by_status['unreviewed']} that no analyst has "
            "reviewed yet."
        )
    points = []
    for f in c.findings:
        bits = [f"Group {f.group_id} ({f.size} accounts on {f.platform})"]
        if f.automation:
            bits.append(f"{f.automation['flagged']} of them look automated")
        if f.timezone and f.timezone.get("offset_hours") is not None:
            bits.append(f"they keep the hours of UTC{f.timezone['offset_hours']:+d}")
        outlets = sorted({s["outlet"] for s in f.state_media if s.get("state_controlled")})
        if outlets:
            bits.append("they amplified state-controlled media (" + ", ".join(outlets[:3]) + ")")
        points.append("; ".join(bits) + ".")
    caveat = (
        "Coordinated behaviour is not proof of who is behind it, and none of the indicators "
        "here is an attribution to a state. We list, for every finding, the innocent "
        "explanations we considered. Accounts are shown as pseudonyms unless they are public "
        "institutions."
    )
    return {"what": what, "found": found, "points": points, "caveat": caveat}


def _svg_uri(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def render_html(c: Collection, *, title: str | None = None) -> str:
    """Render the collection to one HTML document."""
    figs: dict[int, dict[str, str | None]] = {}
    for f in c.findings:
        flagged = {m["shown_id"] for m in f.members if m.get("automated")}
        figs[f.group_id] = {
            "network": figures.network_png([m["shown_id"] for m in f.members], f.edges, flagged),
            "timeline": figures.timeline_png(f.timeline),
            "hours": figures.hour_of_week_png(
                (f.timezone or {}).get("hour_of_week"), (f.timezone or {}).get("offset_hours")
            ),
            "clock": _svg_uri(f.clock_svg) if f.clock_svg else None,
        }
    runs = [c.detect_run] + [r for r in (c.characterize_run, c.narrative_run, c.claims_run) if r]
    innocent = list(dict.fromkeys(e for f in c.findings for e in f.innocent_explanations))
    names = {tid: o["name"] for tid, o in load_disarm().techniques.items()}
    return str(
        _env()
        .get_template("report.html.j2")
        .render(
            c=c,
            title=title
            or (
                "Coordinated inauthentic behaviour: investigation report"
                + (" (DRAFT)" if c.include == "all" else "")
            ),
            summary=_summary(c),
            figs=figs,
            detect_params=_params(c.detect_run),
            characterize_params=_params(c.characterize_run),
            rule_text=rule_descriptions(),
            disarm_attribution=ATTRIBUTION,
            technique_names=names,
            runs=runs,
            innocent_all=innocent,
        )
    )


def write_html(c: Collection, out_path: Path, *, title: str | None = None) -> Path:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(render_html(c, title=title), encoding="utf-8")
    return out_path
