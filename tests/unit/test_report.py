"""The run report (report.html + report.md) on a synthetic run summary: numbers, colours, escaping, offline."""

from __future__ import annotations

import base64
import copy
import html
import json
import re
from html.parser import HTMLParser

import pytest

from stylekg.run_summary import RunSummary
from stylekg.views.report import graph_metric, reproduce_command, write_report
from tests.stores.graphs import edit_run, hierarchy

NASTY = "O'Brien \"the\" <script>alert('x')</script> & | `tick` *star* [link](http://x)"
PNG = "traces/fact.png"


def _marker(name: str, delta: float, present: bool) -> dict:
    return {"marker": name, "edge_id": f"EXPRESSED_BY:Trait:exaggerating->Marker:{name}", "trait": "exaggerating",
            "delta": delta, "logprob_subject": -2.0 + delta, "logprob_neutral": -2.0, "gen_rate_subject": 0.5,
            "gen_rate_neutral": 0.0, "present": present}


def synthetic_summary() -> dict:
    """A full run summary of an erase of Exaggeration whose subject has a name that tries to break HTML/Markdown."""
    request = {"case_id": 7, "requested_rewrite": {
        "prompt": "{} said it was", "subject": NASTY, "target_new": {"str": "large"},
        "target_true": {"str": "tremendous"}, "kind": "erase",
        "edge_id": "EXPRESSED_BY:Trait:exaggerating->Marker:tremendous"},
        "paraphrase_prompts": ["p1", "p2"], "neighborhood_prompts": ["n1"], "alias_prompts": []}
    presence = {"subject": NASTY, "neutral_subject": "a person", "threshold": 1.0,
                "markers": [_marker("tremendous", 2.5, True), _marker("huge", 0.25, False)],
                "n_present": 1, "present_markers": ["tremendous"]}
    return {
        "run_id": "run-2024-abc", "created": "2024-01-01T00:00:00+00:00",
        "config": {"style": NASTY, "mode": "erase", "node": "Exaggeration", "propagate": "explicit", "method": "memit",
                   "model": "tiny-gpt2", "device": "cpu", "store": None, "seed": 3},
        "versions": {"stylekg": "0.1.0", "torch": "2.5.1", "transformers": "5.0.0", "python": "3.11.9"},
        "graph": {"name": "test graph", "nodes": 11, "edges": 10},
        "edited_node": {"id": "AbstractStyle:exaggeration", "name": "Exaggeration", "type": "AbstractStyle"},
        "presence": presence, "install": None, "requests": [request],
        "metrics": {"before": {"efficacy_score": 0.25, "neighborhood_score": 0.9, "prob_true": 0.4, "fluency": 5.125},
                    "after": {"efficacy_score": 0.75, "neighborhood_score": 0.8, "prob_true": 0.1, "fluency": 5.125}},
        "styles": [
            {"node_id": "Style:yoda", "name": "Yoda", "role": "unrelated", "presence_before": 0.5,
             "presence_after": 0.52, "marker_rate_before": None, "marker_rate_after": None, "metrics": {}},
            {"node_id": "AbstractStyle:exaggeration", "name": "Exaggeration", "role": "edited", "presence_before": 0.8,
             "presence_after": 0.1, "marker_rate_before": 0.6, "marker_rate_after": 0.0,
             "metrics": {"efficacy_score": 1.0}},
            {"node_id": "Style:nasty", "name": NASTY, "role": "subclass", "presence_before": 0.7, "presence_after": 0.9,
             "marker_rate_before": 0.4, "marker_rate_after": 0.2, "metrics": {"efficacy_score": 0.5}},
        ],
        "generations": [{"prompt": "Tell me about <b>it</b>", "before": "It was tremendous,\nthe best.",
                         "after": "It was large & plain."}],
        "traces": [{"label": f"fact of {NASTY}", "kind": "fact", "png": PNG, "svg": "traces/fact.svg",
                    "peak_layer": 3, "peak_effect": 0.42},
                   {"label": "style trace", "kind": "style", "png": "traces/gone.png", "svg": None,
                    "peak_layer": None, "peak_effect": None}],
        "layers": {"selected": [3, 4], "source": "trace"},
        "cypher": [{"title": "subclass effects",
                    "query": "MATCH (s:Style {name: $name}) RETURN s.name AS name, s.`x` AS x",
                    "params": {"name": NASTY},
                    "rows": [{"name": NASTY, "x": 0.5}, {"name": "Bombast", "x": None}]}],
        "timings": {"trace": 12.5, "edit": 3.0}, "resumed": ["decompose", "store"],
    }


class Page(HTMLParser):
    """The parts of report.html the tests read: headings, tables of (text, class) cells, paragraphs, resources."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.h2: list[str] = []
        self.tables: list[list[list[tuple[str, str]]]] = []
        self.paragraphs: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self._text: list[str] | None = None
        self._cls = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "br" and self._text is not None:
            self._text.append("\n")
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th", "h2", "p"):
            self._text, self._cls = [], attrs.get("class") or ""

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if self._text is None:
            return
        text = "".join(self._text)
        if tag in ("td", "th"):
            self.tables[-1][-1].append((text, self._cls))
        elif tag == "h2":
            self.h2.append(text)
        elif tag == "p":
            self.paragraphs.append(text)
        else:
            return
        self._text = None

    def table(self, header: str) -> list[list[tuple[str, str]]]:
        """The first table whose first header cell is ``header`` (rows after the header)."""
        return next(t[1:] for t in self.tables if t and t[0] and t[0][0][0] == header)

    def row(self, header: str, first: str) -> list[tuple[str, str]]:
        """The first row starting with ``first`` of any table whose first header cell is ``header``."""
        return next(r for t in self.tables if t and t[0] and t[0][0][0] == header for r in t[1:] if r[0][0] == first)


@pytest.fixture()
def report(tmp_path):
    run_dir = tmp_path / "runs" / "run 1"
    png = run_dir / PNG
    png.parent.mkdir(parents=True)
    png.write_bytes(_png_bytes())
    html_path, md_path = write_report(run_dir, RunSummary.from_dict(synthetic_summary()))
    return run_dir, html_path.read_text("utf-8"), md_path.read_text("utf-8")


def _png_bytes() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 4), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_metrics_rendered_with_deltas_and_direction_colours(report):
    _, text, md = report
    page = Page(text)
    assert page.row("metric", "efficacy_score") == [("efficacy_score", ""), ("0.250", "num"), ("0.750", "num"),
                                                    ("+0.500", "num good")]
    assert page.row("metric", "neighborhood_score")[3] == ("-0.100", "num bad")
    assert page.row("metric", "prob_true")[3] == ("-0.300", "num good")  # erasing lowers P(old): good
    assert page.row("metric", "fluency")[3] == ("+0.000", "num flat")
    assert "| efficacy_score | 0.250 | 0.750 | +0.500 |" in md
    assert "| prob_true | 0.400 | 0.100 | -0.300 |" in md


def test_propagation_table_orders_roles_and_colours_the_effect(report):
    _, text, md = report
    rows = Page(text).table("style")
    assert [r[1][0] for r in rows] == ["edited", "subclass", "unrelated"]
    edited, subclass, unrelated = rows
    assert edited[2:4] == [("0.800 → 0.100", "num"), ("-0.700", "num good")]  # erase: presence fell
    assert subclass[3] == ("+0.200", "num bad")  # the subclass gained the style: wrong way
    assert unrelated[3] == ("+0.020", "num good") and unrelated[4][0] == "— → —"  # untouched within tolerance
    assert subclass[0][0] == NASTY and subclass[6][0] == "0.500"  # the per-style metric column
    assert "| Exaggeration | edited | 0.800 → 0.100 | -0.700 | 0.600 → 0.000 | -0.600 | 1.000 |" in md


def test_presence_table_says_erasure_is_scored_on_held_edges_only(report):
    _, text, md = report
    page = Page(text)
    assert page.row("marker", "tremendous")[2:8] == [("2.500", "num"), ("0.500", "num"), ("-2.000", "num"),
                                                    ("0.500", "num"), ("0.000", "num"), ("present", "good")]
    assert page.row("marker", "huge")[7] == ("absent", "flat")
    note = next(p for p in page.paragraphs if "Erasure is scored only" in p)
    assert "1 of 2 here (tremendous)" in note and "Δ ≥ 1.000 nats" in note and NASTY in note
    assert "Erasure is scored only on the edges the model holds: 1 of 2 here (tremendous)." in md


def test_all_text_is_escaped_in_html_and_markdown(report):
    _, text, md = report
    assert "<script" not in text and "<b>it</b>" not in text  # nothing from the data becomes markup
    page = Page(text)
    assert page.row("key", "style")[1][0] == NASTY  # ... and every character survives the round trip
    assert page.table("prompt")[0][0][0] == "Tell me about <b>it</b>"
    assert not re.search(r"(?<!\\)<(?!br>)", md)  # every < is escaped, but the <br> of multi-line cells
    assert not re.search(r"(?<!\\)\]\(http", md)  # the name's [link](...) is no link
    for table in re.findall(r"(?:^\|.*\|$\n?)+", md, flags=re.M):  # no cell's | breaks a Markdown table
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in table.strip().splitlines()}
        assert len(widths) == 1, table


def test_markdown_renders_to_the_same_tables_as_the_html(report):
    """report.md through a CommonMark renderer (raw HTML on, as in notebooks) gives the HTML report's tables."""
    from markdown_it import MarkdownIt

    _, text, md = report
    rendered = Page(MarkdownIt("commonmark").enable("table").render(md))
    cells = lambda page: [[[c[0] for c in row] for row in t] for t in page.tables]  # noqa: E731
    assert cells(rendered) == cells(Page(text)) and len(rendered.tables) == 11
    assert not [t for t, _ in rendered.tags if t in ("script", "b")]  # the data's markup stayed text
    assert rendered.h2 == Page(text).h2


def test_generations_side_by_side(report):
    _, text, md = report
    page = Page(text)
    header = next(t[0] for t in page.tables if t[0][0][0] == "prompt")
    assert [h for h, _ in header] == ["prompt", "before the edit", "after the edit"]
    prompt, before, after = page.table("prompt")[0]
    assert prompt[0] == "Tell me about <b>it</b>"
    assert before == ("It was tremendous,\nthe best.", "text") and after == ("It was large & plain.", "text")
    assert r"| Tell me about \<b\>it\</b\> | It was tremendous,<br>the best. | It was large \& plain. |" in md


def test_trace_png_is_embedded_and_a_missing_one_is_named(report):
    run_dir, text, md = report
    srcs = [a["src"] for t, a in Page(text).tags if t == "img"]
    assert len(srcs) == 1 and srcs[0].startswith("data:image/png;base64,")
    assert base64.b64decode(srcs[0].split(",", 1)[1]) == (run_dir / PNG).read_bytes()
    assert "no heatmap for style trace (traces/gone.png is missing)" in text
    assert f"]({PNG})" in md and "| style trace | style | — | — |" in md
    assert Page(text).row("trace", "style trace")[2:] == [("—", "num"), ("—", "num")]


def _codes(text: str) -> list[str]:
    return [html.unescape(c) for c in re.findall(r"<code>(.*?)</code>", text, re.S)]


def test_cypher_queries_with_params_and_rows(report):
    _, text, md = report
    query = "MATCH (s:Style {name: $name}) RETURN s.name AS name, s.`x` AS x"
    assert query in _codes(text) and json.dumps({"name": NASTY}) in _codes(text)
    assert Page(text).table("name") == [[(NASTY, ""), ("0.500", "num")], [("Bombast", ""), ("—", "")]]
    assert f"```cypher\n{query}\n```" in md  # verbatim in a fence
    assert "*2 row(s)*" in md


def test_offline_no_script_no_external_resource(report):
    _, text, _ = report
    page = Page(text)
    assert not [t for t, _ in page.tags if t in ("script", "link", "object", "embed")]
    for tag, attrs in page.tags:
        for key in ("src", "href"):
            value = attrs.get(key)
            if value is not None:
                assert not re.match(r"[a-z]+://|//", value), (tag, value)
    csp = next(a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "script-src" not in csp


def test_config_versions_timings_and_the_reproduce_command(report):
    run_dir, text, md = report
    page = Page(text)
    assert page.row("key", "seed")[1] == ("3", "num") and page.row("key", "store")[1][0] == "—"
    assert page.row("key", "torch")[1][0] == "2.5.1"
    assert page.row("key", "trace")[1] == ("12.500 s", "num")
    assert "Resumed from the stage cache: decompose, store." in page.paragraphs
    command = f"stylekg run --config '{run_dir / 'config.toml'}'"  # the run dir has a space: quoted
    assert command == reproduce_command(run_dir) and command in md
    assert command in _codes(text)


def test_minimal_summary_renders_only_what_is_present(tmp_path):
    html_path, md_path = write_report(tmp_path, RunSummary.from_dict({"run_id": "r1", "config": {"style": "Yoda", "mode": "insert"}}))
    page = Page(html_path.read_text())
    assert page.h2 == ["Overview", "Config, versions and timings"]
    assert not [t for t, _ in page.tags if t in ("iframe", "img")]
    assert page.row("key", "mode")[1][0] == "insert"
    md = md_path.read_text()
    assert md.startswith("# stylekg run r1\n") and "## Edit metrics" not in md and "stylekg run --config" in md
    with pytest.raises(ValueError, match="run_id"):
        write_report(tmp_path, RunSummary.from_dict({"config": {}}))


def test_install_section_only_when_the_style_was_installed(tmp_path):
    summary = synthetic_summary()
    after = copy.deepcopy(summary["presence"])
    after["markers"][1]["present"], after["n_present"], after["present_markers"] = True, 2, ["tremendous", "huge"]
    summary["install"] = {"requests": summary["requests"], "metrics": {"efficacy_score": 1.0}, "verified": True,
                          "presence_after": after}
    page = Page(write_report(tmp_path, RunSummary.from_dict(summary))[0].read_text())
    assert "Style installed first" in page.h2
    assert any("verified: yes" in p for p in page.paragraphs)
    assert any(p.startswith("After the install:") and "2 of 2 here (tremendous, huge)" in p for p in page.paragraphs)
    assert "Style installed first" not in Page(write_report(tmp_path, RunSummary.from_dict(synthetic_summary()))[0].read_text()).h2


def test_graph_page_written_from_graph_and_run(tmp_path):
    graph = hierarchy()
    run = edit_run("new", graph, "2024-03-01T00:00:00+00:00", 0.4, 0.2)
    html_path, md_path = write_report(tmp_path, RunSummary.from_dict(synthetic_summary()), graph, run)
    graph_page = (tmp_path / "graph.html").read_text()
    assert "efficacy: 0.400" in graph_page and "run <b>new</b>" in graph_page  # coloured by the run
    page = Page(html_path.read_text())
    assert [a["src"] for t, a in page.tags if t == "iframe"] == ["graph.html"]
    assert any("node colour and size: efficacy" in p for p in page.paragraphs)
    assert "[graph.html](graph.html)" in md_path.read_text()
    assert graph_metric(run) == "efficacy" and graph_metric(None) == "efficacy"


def test_graph_frame_is_sandboxed_and_the_graph_page_allows_only_its_own_scripts(tmp_path):
    """Issue 14 item 2 (the browser checks are in tests/security/test_report_xss.py)."""
    import base64
    import hashlib

    graph = hierarchy()
    html_path, _ = write_report(tmp_path, RunSummary.from_dict(synthetic_summary()), graph,
                                edit_run("new", graph, "2024-03-01T00:00:00+00:00", 0.4, 0.2))
    (frame,) = [a for t, a in Page(html_path.read_text()).tags if t == "iframe"]
    assert frame["sandbox"] == "allow-scripts"  # scripts run, in an opaque origin: no access to the report
    text = (tmp_path / "graph.html").read_text()
    csp = next(a["content"] for t, a in Page(text).tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", text, re.S)
    assert scripts and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    for body in scripts:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert '"title"' not in re.search(r"nodes = new vis.DataSet\((.*?)\);", text, re.S).group(1)


def test_summary_graph_page_is_used_as_given(tmp_path):
    summary = synthetic_summary() | {"graph_html": "pages/my graph.html"}
    page = Page(write_report(tmp_path, RunSummary.from_dict(summary), hierarchy())[0].read_text())
    assert [a["src"] for t, a in page.tags if t == "iframe"] == ["pages/my%20graph.html"]
    assert not (tmp_path / "graph.html").exists()
    assert any("pages/my graph.html is missing" in p for p in page.paragraphs)
