"""An interactive, offline pyvis page of a style hierarchy coloured by one run's metrics.

Reads data only (a :class:`StyleGraph` and optionally a :class:`RunRecord`); it never touches models.
Node colour and size encode the chosen metric (red = low, green = high; grey = not measured), the edited
nodes get a thick dark border, so an edit's propagation from a parent down its subclasses shows at a glance.
All JavaScript is inlined: the page works without network access.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from pyvis.network import Network

from ..kg.graph import StyleGraph
from ..kg.schema import EdgeType, NodeType, RunRecord

SHAPES = {
    NodeType.ABSTRACT_STYLE: "diamond", NodeType.STYLE: "dot", NodeType.NEUTRAL: "star", NodeType.TRAIT: "triangle",
    NodeType.MARKER: "square", NodeType.ALIAS: "triangleDown", NodeType.ENTITY: "box",
}
EDGE_COLOURS = {
    EdgeType.SUBCLASS_OF: "#444444", EdgeType.HAS_TRAIT: "#8a6bbf", EdgeType.EXPRESSED_BY: "#5b9bd5",
    EdgeType.ALIAS_OF: "#aaaaaa", EdgeType.NEUTRAL_FORM: "#c9a227", EdgeType.FACT: "#2a9d8f",
}
UNMEASURED = "#d0d0d0"
_EXTERNAL = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"'][^\"']*[\"'][^>]*>\s*</script>|<link\b[^>]*\bhref\s*=\s*[\"'][^\"']*[\"'][^>]*/?>",
    re.I | re.S,
)


def colour(value: float) -> str:
    """Red (0) → yellow (0.5) → green (1), clamped."""
    v = min(1.0, max(0.0, float(value)))
    red, green = (255, int(510 * v)) if v < 0.5 else (int(510 * (1 - v)), 200)
    return f"#{red:02x}{min(green, 255):02x}40"


def size(value: float | None) -> float:
    return 12.0 if value is None else 12.0 + 28.0 * min(1.0, max(0.0, float(value)))


def _legend(metric: str, run: RunRecord | None) -> str:
    stops = ", ".join(colour(v / 4) for v in range(5))
    what = f"run <b>{html.escape(run.id)}</b> ({html.escape(run.method)} on {html.escape(run.model)})" if run else "no run"
    shapes = " ".join(f"<span>{html.escape(t.value)}: {s}</span>;" for t, s in SHAPES.items())
    return (
        '<div id="stylekg-legend" style="position:absolute;top:40px;right:20px;z-index:10;background:#fff;'
        'border:1px solid #ccc;padding:8px;font:12px sans-serif;max-width:340px">'
        f"<div>{what}</div><div>colour and size: <b>{html.escape(metric)}</b></div>"
        f'<div style="height:12px;background:linear-gradient(to right,{stops})"></div>'
        '<div style="display:flex;justify-content:space-between"><span>0</span><span>0.5</span><span>1</span></div>'
        f'<div><span style="color:{UNMEASURED}">&#9632;</span> not measured; thick border: edited</div>'
        f"<div>{shapes}</div></div>"
    )


def build_network(graph: StyleGraph, run: RunRecord | None = None, metric: str = "efficacy") -> Network:
    """The pyvis network (nodes with colour/size/tooltip from ``run``'s ``metric``)."""
    measured = {t.target_id: t for t in run.targets} if run else {}
    net = Network(height="900px", width="100%", directed=True, cdn_resources="in_line", select_menu=False)
    for node in sorted(graph.nodes(), key=lambda n: n.id):
        target = measured.get(node.id)
        value = target.metrics.get(metric) if target else None
        lines = [f"{node.name} ({node.type.value})", node.id]
        if target:
            lines.append(f"role: {target.role}")
            lines += [f"{k}: {v:.3f}" for k, v in sorted(target.metrics.items())]
        edited = bool(target and target.role == "edited")
        net.add_node(
            node.id, label=node.name, title="\n".join(lines), shape=SHAPES[node.type],
            color={"background": UNMEASURED if value is None else colour(value),
                   "border": "#111111" if edited else "#777777"},
            size=size(value), borderWidth=5 if edited else 1,
        )
    for edge in graph.edges():
        target = measured.get(edge.id)
        tip = [edge.type.value + (f" {edge.relation}" if edge.relation else "")]
        if target:
            tip += [f"{k}: {v:.3f}" for k, v in sorted(target.metrics.items())]
        net.add_edge(edge.source, edge.target, title="\n".join(tip), color=EDGE_COLOURS[edge.type],
                     width=3 if edge.type is EdgeType.SUBCLASS_OF else 1, arrows="to")
    net.set_options('{"physics": {"stabilization": {"iterations": 200}}, "interaction": {"hover": true}}')
    return net


def render_html(graph: StyleGraph, run: RunRecord | None = None, metric: str = "efficacy") -> str:
    """The self-contained HTML page (no external scripts or stylesheets)."""
    page = build_network(graph, run, metric).generate_html()
    page = _EXTERNAL.sub("", page)
    title = html.escape(f"{graph.name}" + (f" — {run.id}" if run else ""))
    page = page.replace("<body>", f"<body><h3 style=\"font:16px sans-serif\">{title}</h3>{_legend(metric, run)}", 1)
    return page


def write_html(graph: StyleGraph, out: Path, run: RunRecord | None = None, metric: str = "efficacy") -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(graph, run, metric), encoding="utf-8")
    return out
