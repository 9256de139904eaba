"""An interactive, offline pyvis page of a style hierarchy coloured by one run's metrics.

Reads data only (a :class:`StyleGraph` and optionally a :class:`RunRecord`); it never touches models.
Node colour and size encode the chosen metric (red = low, green = high; grey = not measured); with the audit's
``effect_direction`` the colour says which way a node moved (fell, rose, unchanged, absent, not measured). The edited
nodes get a thick dark border, so an edit's propagation from a parent down its subclasses shows at a glance.
All JavaScript is inlined: the page works without network access.

Node and edge text (names from users, graph files and LLMs) is data, never markup:

* tooltips never reach pyvis, which copies a title into ``innerHTML`` as soon as any title contains ``href``; a
  small script of ours hands them to vis-network as elements filled with ``textContent``;
* labels travel in pyvis's ``tojson`` data (``<``, ``>``, ``&`` and ``'`` escaped) and are drawn on the canvas as
  text; the page's own heading and legend are HTML-escaped;
* a Content-Security-Policy allows exactly the page's inline scripts (by their sha256), so an event-handler
  attribute that reached the DOM some other way still could not run; nothing is loaded from anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from pathlib import Path

from pyvis.network import Network

from ..kg.graph import StyleGraph
from ..kg.schema import EdgeType, NodeType, RunRecord
from ..paths import atomic_write_text

SHAPES = {
    NodeType.ABSTRACT_STYLE: "diamond", NodeType.STYLE: "dot", NodeType.NEUTRAL: "star", NodeType.TRAIT: "triangle",
    NodeType.MARKER: "square", NodeType.ALIAS: "triangleDown", NodeType.ENTITY: "box",
}
EDGE_COLOURS = {
    EdgeType.SUBCLASS_OF: "#444444", EdgeType.HAS_TRAIT: "#8a6bbf", EdgeType.EXPRESSED_BY: "#5b9bd5",
    EdgeType.ALIAS_OF: "#aaaaaa", EdgeType.NEUTRAL_FORM: "#c9a227", EdgeType.FACT: "#2a9d8f",
}
UNMEASURED = "#d0d0d0"
DIRECTION_METRIC = "effect_direction"  # the audit's metric: coloured by category, not on the red-green scale
DIRECTION_COLOURS = {  # docs/evaluation.md, "The audit"
    "fell": "#1f77b4", "rose": "#e8590c", "unchanged": "#f2d94c", "absent": "#ffffff", "not measured": UNMEASURED,
}
_EXTERNAL = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"'][^\"']*[\"'][^>]*>\s*</script>|<link\b[^>]*\bhref\s*=\s*[\"'][^\"']*[\"'][^>]*/?>",
    re.I | re.S,
)


def colour(value: float) -> str:
    """Red (0) → yellow (0.5) → green (1), clamped."""
    v = min(1.0, max(0.0, float(value)))
    red, green = (255, int(510 * v)) if v < 0.5 else (int(510 * (1 - v)), 200)
    return f"#{red:02x}{min(green, 255):02x}40"


def direction_of(metrics: dict[str, float] | None) -> str:
    """The audit's word for a measured node: fell, rose, unchanged, absent (never written, before or after), or
    ``not measured`` (no ``effect_direction`` in ``metrics``)."""
    if not metrics or DIRECTION_METRIC not in metrics:
        return "not measured"
    code = metrics[DIRECTION_METRIC]
    if code < 0:
        return "fell"
    if code > 0:
        return "rose"
    if not metrics.get("effect_hits_before") and not metrics.get("effect_hits_after"):
        return "absent"
    return "unchanged"


def size(value: float | None) -> float:
    return 12.0 if value is None else 12.0 + 28.0 * min(1.0, max(0.0, float(value)))


def _legend(metric: str, run: RunRecord | None) -> str:
    if metric == DIRECTION_METRIC:
        return _direction_legend(run)
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
        f"<div>{shapes}</div>{_edge_legend()}</div>"
    )


def _direction_legend(run: RunRecord | None) -> str:
    """The audit's legend: one swatch per direction (``DIRECTION_COLOURS``)."""
    what = f"run <b>{html.escape(run.id)}</b> ({html.escape(run.method)} on {html.escape(run.model)})" if run else "no run"
    rows = "".join(f'<div><span style="color:{c};-webkit-text-stroke:1px #777">&#9632;</span> {html.escape(d)}</div>'
                   for d, c in DIRECTION_COLOURS.items())
    shapes = " ".join(f"<span>{html.escape(t.value)}: {s}</span>;" for t, s in SHAPES.items())
    return (
        '<div id="stylekg-legend" style="position:absolute;top:40px;right:20px;z-index:10;background:#fff;'
        'border:1px solid #ccc;padding:8px;font:12px sans-serif;max-width:340px">'
        f"<div>{what}</div><div>colour: each node's own markers on its family's held-out answers, before against "
        "after (95% intervals apart or not); absent: never written</div>"
        f"{rows}<div>thick border: edited</div><div>{shapes}</div>{_edge_legend()}</div>"
    )


def _edge_legend() -> str:
    """One coloured line per edge type (the colours of :data:`EDGE_COLOURS`)."""
    line = "display:inline-block;width:24px;height:0;vertical-align:middle;margin-right:4px;border-top:3px solid"
    rows = "".join(f'<div class="stylekg-edge"><span style="{line} {c}"></span>{html.escape(t.value)}</div>'
                   for t, c in EDGE_COLOURS.items())
    return f'<div style="margin-top:4px"><b>edges</b>{rows}</div>'



def tooltips(graph: StyleGraph, run: RunRecord | None = None) -> dict[str, dict[str, str]]:
    """The hover text of every node and edge (by their ids), as plain text: name, type, id and ``run``'s metrics."""
    measured = {t.target_id: t for t in run.targets} if run else {}
    nodes, edges = {}, {}
    for node in graph.nodes():
        target = measured.get(node.id)
        lines = [f"{node.name} ({node.type.value})", node.id]
        if target:
            lines.append(f"role: {target.role}")
            if DIRECTION_METRIC in target.metrics:
                lines.append(f"direction: {direction_of(target.metrics)}")
            lines += [f"{k}: {v:.3f}" for k, v in sorted(target.metrics.items())]
        nodes[node.id] = "\n".join(lines)
    for edge in graph.edges():
        target = measured.get(edge.id)
        tip = [edge.type.value + (f" {edge.relation}" if edge.relation else "")]
        if target:
            tip += [f"{k}: {v:.3f}" for k, v in sorted(target.metrics.items())]
        edges[edge.id] = "\n".join(tip)
    return {"nodes": nodes, "edges": edges}


def build_network(graph: StyleGraph, run: RunRecord | None = None, metric: str = "efficacy") -> Network:
    """The pyvis network (nodes with colour/size from ``run``'s ``metric``; ids as the graph's). It carries no
    tooltips: :func:`render_html` adds them as text (see the module doc)."""
    measured = {t.target_id: t for t in run.targets} if run else {}
    net = Network(height="900px", width="100%", directed=True, cdn_resources="in_line", select_menu=False)
    for node in sorted(graph.nodes(), key=lambda n: n.id):
        target = measured.get(node.id)
        value = target.metrics.get(metric) if target else None
        edited = bool(target and target.role == "edited")
        if metric == DIRECTION_METRIC:
            fill, grow = DIRECTION_COLOURS[direction_of(target.metrics if target else None)], 0.5 if target else None
        else:
            fill, grow = UNMEASURED if value is None else colour(value), value
        net.add_node(
            node.id, label=node.name, shape=SHAPES[node.type],
            color={"background": fill, "border": "#111111" if edited else "#777777"},
            size=size(grow), borderWidth=5 if edited else 1,
        )
    for edge in graph.edges():
        net.add_edge(edge.source, edge.target, id=edge.id, color=EDGE_COLOURS[edge.type],
                     width=3 if edge.type is EdgeType.SUBCLASS_OF else 1, arrows="to")
    net.set_options('{"physics": {"stabilization": {"iterations": 200}}, "interaction": {"hover": true}}')
    return net


def script_json(value: object) -> str:
    """JSON that is safe inside an inline ``<script>``: ``<``, ``>`` and ``&`` as ``\\u`` escapes, so no text can
    close the script element or open a comment."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_TOOLTIP_SCRIPT = """(function () {
  var tips = %s;
  function box(text) {
    var div = document.createElement("div");
    div.style.whiteSpace = "pre-line";
    div.textContent = text;
    return div;
  }
  nodes.update(Object.keys(tips.nodes).map(function (id) { return {id: id, title: box(tips.nodes[id])}; }));
  edges.update(Object.keys(tips.edges).map(function (id) { return {id: id, title: box(tips.edges[id])}; }));
})();"""
_INLINE_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.I | re.S)


def content_security_policy(page: str) -> str:
    """A policy allowing exactly ``page``'s inline scripts (by sha256), inline styles and ``data:`` images; no
    event-handler attribute, no ``eval``, nothing fetched, no form, no base URL."""
    hashes = sorted({"'sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode() + "'"
                     for body in _INLINE_SCRIPT.findall(page)})
    return ("default-src 'none'; script-src " + " ".join(hashes) + "; style-src 'unsafe-inline'; img-src data:; "
            "base-uri 'none'; form-action 'none'")


def render_html(graph: StyleGraph, run: RunRecord | None = None, metric: str = "efficacy") -> str:
    """The self-contained HTML page (no external scripts or stylesheets) with its Content-Security-Policy."""
    page = build_network(graph, run, metric).generate_html()
    page = _EXTERNAL.sub("", page)
    title = html.escape(f"{graph.name}" + (f" — {run.id}" if run else ""))
    page = page.replace("<body>", f"<body><h3 style=\"font:16px sans-serif\">{title}</h3>{_legend(metric, run)}", 1)
    end = page.rindex("</body>")
    page = f"{page[:end]}<script>{_TOOLTIP_SCRIPT % script_json(tooltips(graph, run))}</script>\n{page[end:]}"
    csp = html.escape(content_security_policy(page), quote=False)  # no double quote can occur in it
    return page.replace("<head>", f'<head>\n<meta http-equiv="Content-Security-Policy" content="{csp}">', 1)


def write_html(graph: StyleGraph, out: Path, run: RunRecord | None = None, metric: str = "efficacy") -> Path:
    return atomic_write_text(Path(out), render_html(graph, run, metric))
