"""Exports of a detect run: GEXF and GraphML (Gephi), Parquet and CSV."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

from fimiscope.errors import ConfigError, NotFoundError
from fimiscope.report.pseudonymise import Pseudonymiser, pseudonymised_query
from fimiscope.store import Store

__all__ = ["FORMATS", "export_run"]

FORMATS = ("gexf", "graphml", "parquet", "csv")
_TABLES = ("coord_edges", "coord_edge_traces", "coord_groups", "coord_members", "coord_evidence")


def export_run(
    store: Store,
    run_id: str,
    out_dir: str | Path,
    formats: tuple[str, ...] = FORMATS,
    *,
    pseudonymiser: Pseudonymiser | None = None,
) -> list[Path]:
    """Write the run's edges and groups to ``out_dir``; return the files written.

    Nodes are ``platform:account_id`` with their group; edges carry weight, traces, min p and
    the fast flag. With a ``pseudonymiser`` every account identifier becomes its keyed token,
    and the free-text evidence table (which quotes handles and posts) is left out.
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ConfigError("formats", "export_run", f"a subset of {FORMATS}", bad)
    if not store.sql("SELECT 1 FROM runs WHERE run_id = ? AND stage = 'detect'", [run_id]):
        raise NotFoundError(f"no detect run {run_id!r} in {store.path}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    tables = (
        _TABLES if pseudonymiser is None else tuple(t for t in _TABLES if t != "coord_evidence")
    )
    for fmt in ("parquet", "csv"):
        if fmt in formats:
            for table in tables:
                path = out / f"{table}.{fmt}"
                base = (
                    f"SELECT * FROM {table}"
                    if pseudonymiser is None
                    else pseudonymised_query(store.con, table, pseudonymiser)
                )
                store.export_table(
                    table,
                    path,
                    fmt=fmt,  # type: ignore[arg-type]
                    query=f"SELECT * FROM ({base}) WHERE run_id = ?",
                    params=[run_id],
                )
                written.append(path)
    edges = store.sql(
        "SELECT platform, account_a, account_b, weight, traces, min_p, fast, "
        "group_id FROM coord_edges WHERE run_id = ?",
        [run_id],
    )
    groups = dict(
        ((p, a), g)
        for g, p, a in store.sql(
            "SELECT group_id, platform, account_id FROM coord_members WHERE run_id = ?", [run_id]
        )
    )
    if pseudonymiser is not None:
        tok = pseudonymiser.token
        edges = [(p, tok(p, "account", a), tok(p, "account", b), *rest) for p, a, b, *rest in edges]
        groups = {(p, tok(p, "account", a)): g for (p, a), g in groups.items()}
    nodes = sorted({(e[0], e[1]) for e in edges} | {(e[0], e[2]) for e in edges})
    if "gexf" in formats:
        written.append(_gexf(out / "coordination.gexf", nodes, edges, groups))
    if "graphml" in formats:
        written.append(_graphml(out / "coordination.graphml", nodes, edges, groups))
    return written


def _nid(platform: str, account: str) -> str:
    return quoteattr(f"{platform}:{account}")


def _gexf(path: Path, nodes: list, edges: list, groups: dict) -> Path:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<gexf xmlns="http://gexf.net/1.3" version="1.3">',
        '<graph defaultedgetype="undirected">',
        '<attributes class="node"><attribute id="0" title="platform" type="string"/>'
        '<attribute id="1" title="group" type="integer"/></attributes>',
        '<attributes class="edge"><attribute id="0" title="traces" type="string"/>'
        '<attribute id="1" title="min_p" type="double"/>'
        '<attribute id="2" title="fast" type="boolean"/></attributes>',
        "<nodes>",
    ]
    for p, a in nodes:
        g = groups.get((p, a), -1)
        lines.append(
            f"<node id={_nid(p, a)} label={quoteattr(a)}><attvalues>"
            f'<attvalue for="0" value={quoteattr(p)}/><attvalue for="1" value="{g}"/>'
            "</attvalues></node>"
        )
    lines.append("</nodes><edges>")
    for i, (p, a, b, w, traces, min_p, fast, _g) in enumerate(edges):
        lines.append(
            f'<edge id="{i}" source={_nid(p, a)} target={_nid(p, b)} '
            f'weight="{float(w or 0):.6g}"><attvalues>'
            f'<attvalue for="0" value={quoteattr(traces or "")}/>'
            f'<attvalue for="1" value="{float(min_p):.6g}"/>'
            f'<attvalue for="2" value="{str(bool(fast)).lower()}"/>'
            "</attvalues></edge>"
        )
    lines.append("</edges></graph></gexf>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _graphml(path: Path, nodes: list, edges: list, groups: dict) -> Path:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">',
        '<key id="platform" for="node" attr.name="platform" attr.type="string"/>',
        '<key id="group" for="node" attr.name="group" attr.type="int"/>',
        '<key id="weight" for="edge" attr.name="weight" attr.type="double"/>',
        '<key id="traces" for="edge" attr.name="traces" attr.type="string"/>',
        '<key id="fast" for="edge" attr.name="fast" attr.type="boolean"/>',
        '<graph edgedefault="undirected">',
    ]
    for p, a in nodes:
        lines.append(
            f'<node id={_nid(p, a)}><data key="platform">{_text(p)}</data>'
            f'<data key="group">{groups.get((p, a), -1)}</data></node>'
        )
    for p, a, b, w, traces, _min_p, fast, _g in edges:
        lines.append(
            f"<edge source={_nid(p, a)} target={_nid(p, b)}>"
            f'<data key="weight">{float(w or 0):.6g}</data>'
            f'<data key="traces">{_text(traces or "")}</data>'
            f'<data key="fast">{str(bool(fast)).lower()}</data></edge>'
        )
    lines.append("</graph></graphml>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
