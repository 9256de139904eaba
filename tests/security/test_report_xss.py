"""Issue 14 item 2: node text never runs as script in the pyvis graph page, and the report frames it in a sandbox.

A marker named ``<img src=x onerror=alert(1) data-href=1>`` (``href`` anywhere in a title made pyvis copy every
tooltip into ``innerHTML``) is opened in headless Chromium: its tooltip is shown by hovering the node with a real
mouse event, and must be text; ``alert`` must never be called. The page's Content-Security-Policy must stop an
event-handler attribute even when one reaches the DOM, and the report's ``<iframe>`` is sandboxed.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from html.parser import HTMLParser

import pytest

from stylekg.kg.schema import Edge, EdgeType, Node, NodeType
from stylekg.run_summary import RunSummary
from stylekg.views.pyvis_view import render_html, write_html
from stylekg.views.report import write_report
from tests.browser import chromium_or_skip, dump_dom
from tests.stores.graphs import edit_run, hierarchy

pytestmark = pytest.mark.browser

PAYLOAD = "<img src=x onerror=alert(1) data-href=1>"

# Runs first in <head>: records any alert() instead of showing it.
ALERT_TRAP = "window.alert = function (m) { document.documentElement.setAttribute('data-alerted', String(m)); };"
# Runs last: waits for the layout, hovers the hostile node with a real mousemove, reads vis-network's tooltip.
HOVER_PROBE = """setTimeout(function () {
  var root = document.documentElement, id = %(id)s;
  network.stopSimulation();
  var canvas = document.querySelector("#mynetwork canvas"), box = canvas.getBoundingClientRect();
  var at = network.canvasToDOM(network.getPositions([id])[id]);
  canvas.dispatchEvent(new MouseEvent("mousemove", {clientX: box.left + at.x, clientY: box.top + at.y, bubbles: true}));
  setTimeout(function () {
    var tips = document.querySelectorAll(".vis-tooltip, .popup");
    var shown = Array.prototype.filter.call(tips, function (t) { return t.style.visibility !== "hidden" && t.textContent; });
    root.setAttribute("data-tooltip", shown.map(function (t) { return t.textContent; }).join(" | "));
    root.setAttribute("data-tooltip-elements", String(document.querySelectorAll(".vis-tooltip img, .popup img").length));
    root.setAttribute("data-label", nodes.get(id).label);
  }, 1500);
}, 2500);"""


def _sha(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def _hostile_graph():
    graph = hierarchy(name=f"graph {PAYLOAD}")
    trait = graph.find("exaggerating").id
    marker = Node(NodeType.MARKER, PAYLOAD)
    graph.add_all([marker], [Edge(EdgeType.EXPRESSED_BY, trait, marker.id)])
    return graph, marker.id


def _instrument(page: str, scripts_head: list[str], scripts_body: list[str]) -> str:
    """``page`` with test scripts added, each allowed by adding its hash to the page's own policy (nothing else)."""
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    head = "".join(f"<script>{s}</script>" for s in scripts_head)
    if policy:  # (the page without a policy is what this test must also catch: no policy needed to pass it)
        allowed = " ".join(_sha(s) for s in scripts_head + scripts_body)
        page = page.replace(policy.group(0), policy.group(0).replace("script-src ", f"script-src {allowed} ", 1) + head, 1)
    else:
        page = page.replace("<head>", "<head>" + head, 1)
    end = page.rindex("</body>")
    return page[:end] + "".join(f"<script>{s}</script>" for s in scripts_body) + page[end:]


def _attr(dom: str, name: str) -> str | None:
    match = re.search(rf'<html[^>]*\b{name}="([^"]*)"', dom)
    return None if match is None else match.group(1)


def test_hostile_marker_shows_as_text_and_raises_no_alert(tmp_path):
    chromium_or_skip()
    graph, marker_id = _hostile_graph()
    page = render_html(graph, edit_run("r1", graph, "2024-03-01", 0.4, 0.2))
    assert PAYLOAD not in page  # in the page only JSON-escaped (\u003c...), never as markup
    probe = HOVER_PROBE % {"id": repr(marker_id).replace("<", "\\u003c").replace(">", "\\u003e")}
    (tmp_path / "graph.html").write_text(_instrument(page, [ALERT_TRAP], [probe]), encoding="utf-8")

    dom, errors = dump_dom(tmp_path / "graph.html", tmp_path, budget_ms=10000)
    assert not errors, errors  # no script error and no CSP refusal: the shipped policy allows the page's scripts
    assert _attr(dom, "data-alerted") is None, "alert() ran from node text"
    tooltip = _attr(dom, "data-tooltip")
    assert tooltip is not None, "the hover probe did not run"
    assert html.unescape(tooltip).startswith(f"{PAYLOAD} (Marker)"), tooltip  # the tooltip is the text itself
    assert _attr(dom, "data-tooltip-elements") == "0"  # no <img> element was made from it
    assert html.unescape(_attr(dom, "data-label") or "") == PAYLOAD  # the label is the name, drawn as text
    assert "<img src=\"x\"" not in dom and "<img src=x" not in dom


def test_graph_page_policy_stops_an_injected_event_handler(tmp_path):
    """Defence in depth: even markup that reached the DOM (a future innerHTML sink) cannot run a handler."""
    chromium_or_skip()
    graph, _ = _hostile_graph()
    write_html(graph, tmp_path / "graph.html")
    page = (tmp_path / "graph.html").read_text(encoding="utf-8")
    found = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert found, "graph.html has no Content-Security-Policy"
    policy = found.group(1)
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert "default-src 'none'" in policy and "'unsafe-eval'" not in policy
    sink = '<img src="data:," onerror="document.documentElement.setAttribute(\'data-pwned\', \'1\')">'
    (tmp_path / "sink.html").write_text(page.replace("</h3>", "</h3>" + sink, 1), encoding="utf-8")

    dom, errors = dump_dom(tmp_path / "sink.html", tmp_path, budget_ms=4000)
    assert _attr(dom, "data-pwned") is None, "an inline event handler ran in graph.html"
    assert any("Refused to" in e or "Content Security" in e for e in errors), errors


class _Frames(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.frames: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "iframe":
            self.frames.append(dict(attrs))


def test_report_sandboxes_the_graph_frame_and_it_still_draws(tmp_path):
    chromium_or_skip()
    graph, _ = _hostile_graph()
    run_dir = tmp_path / "run"
    summary = RunSummary.from_dict({"run_id": "r-xss", "graph": {"name": graph.name, "nodes": len(graph), "edges": 1}})
    html_path, _ = write_report(run_dir, summary, graph, edit_run("r1", graph, "2024-03-01", 0.4, 0.2))
    parser = _Frames()
    parser.feed(html_path.read_text(encoding="utf-8"))
    assert parser.frames, "the report frames no graph"
    for frame in parser.frames:
        tokens = (frame.get("sandbox") or "").split()
        assert frame.get("sandbox") is not None and "allow-scripts" in tokens
        assert "allow-same-origin" not in tokens and "allow-top-navigation" not in tokens

    dom, errors = dump_dom(html_path, tmp_path, budget_ms=6000)
    assert not errors, errors  # the framed page's scripts run inside the sandbox without error or refusal
    assert 'sandbox="allow-scripts"' in dom
