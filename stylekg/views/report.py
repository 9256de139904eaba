"""The run report: ``report.html`` (offline, self-contained but for the pyvis graph page) and ``report.md``.

Reads a run's ``summary`` dict (what ``stylekg run`` writes as ``summary.json``) and optionally the style graph
and the run record, never a model. Every section is built once as plain tables (:class:`Table`) and rendered
twice, as HTML and as Markdown, so both files carry the same numbers. Every optional section is skipped when its
key is absent. All text is escaped; trace PNGs are embedded as ``data:`` URIs; the graph is the pyvis page
(its JavaScript inlined) shown in an ``<iframe>`` next to the report; nothing is fetched from the network.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from ..kg.graph import StyleGraph
from ..kg.schema import RunRecord
from ..run_summary import RunSummary
from ..paths import atomic_write_text

log = logging.getLogger(__name__)

LOWER_IS_BETTER = frozenset({"prob_true"})  # erasing/replacing an edge should lower P(old); others: higher = better
UNRELATED_TOLERANCE = 0.05  # an unrelated style moving less than this (absolute) counts as untouched
GRAPH_METRICS = ("efficacy_score", "efficacy", "erasure", "score", "presence_after")  # preferred colouring metric
ROLE_ORDER = {"edited": 0, "subclass": 1, "unrelated": 2}
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|&])")
TEMPLATES = Path(__file__).parent / "templates"
# The report itself runs no script; images come only from data: URIs and frames only from local files.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self' file:"
_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


@dataclass
class Cell:
    """One table cell: its text (escaped on output) and a CSS class (good/bad/flat/num)."""

    text: str
    cls: str = ""


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    caption: str = ""

    @property
    def numeric(self) -> list[bool]:
        """Per column: every cell is a number (right-aligned)."""
        return [bool(self.rows) and all(i < len(r) and r[i].cls.startswith("num") for r in self.rows)
                for i in range(len(self.headers))]


@dataclass
class Figure:
    """A heatmap embedded as a ``data:`` URI (``uri`` None: the file is missing)."""

    label: str
    path: str
    uri: str | None


@dataclass
class Query:
    """A Cypher query, its parameters (JSON text) and its result rows."""

    title: str
    text: str
    params: str
    table: Table

    @property
    def fence(self) -> str:
        """A Markdown code fence longer than any run of backticks in the query."""
        return "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", self.text)), default=0))


@dataclass
class Section:
    """A report section: notes (plain text), tables, a framed page, figures and queries, rendered by the templates."""

    anchor: str
    title: str
    notes: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    frame: str | None = None  # relative path of a page shown in an <iframe> (the pyvis graph)
    figures: list[Figure] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)


def fmt(value: Any) -> str:
    """A value as report text: floats with 3 decimals, None as a dash, containers as JSON."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(value) if not math.isfinite(value) else f"{value:.1f}" if abs(value) >= 1000 else f"{value:.3f}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _delta(before: Any, after: Any) -> float | None:
    b, a = _num(before), _num(after)
    return None if a is None or b is None else a - b


def delta_class(metric: str, delta: float | None) -> str:
    """``good`` when the metric moved the way an edit should move it, ``bad`` the other way, ``flat`` unchanged."""
    if delta is None:
        return ""
    if abs(delta) < 1e-9:
        return "flat"
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    return "good" if delta * sign > 0 else "bad"


def style_class(role: str, mode: str, delta: float | None) -> str:
    """Edited/subclass styles should fall (erase, replace) or rise (insert); unrelated ones should not move."""
    if delta is None:
        return ""
    if role == "unrelated":
        return "good" if abs(delta) <= UNRELATED_TOLERANCE else "bad"
    if abs(delta) < 1e-9:
        return "flat"
    want = 1.0 if mode == "insert" else -1.0
    return "good" if delta * want > 0 else "bad"


def _kv(mapping: Mapping[str, Any], caption: str = "", unit: str = "") -> Table:
    rows = [[Cell(str(k)), Cell(fmt(v) + unit, "num") if _num(v) is not None else Cell(fmt(v))]
            for k, v in mapping.items()]
    return Table(["key", "value"], rows, caption)


def _arrow(before: Any, after: Any) -> str:
    return f"{fmt(before)} → {fmt(after)}"


def _signed(delta: float | None) -> str:
    return "—" if delta is None else f"{delta:+.3f}"


def _overview(summary: RunSummary) -> Section:
    config = summary.config or {}
    info: dict[str, Any] = {"run": summary.run_id}
    if summary.created:
        info["created"] = summary.created
    for key in ("style", "auto", "mode", "method", "model", "propagate", "node", "device", "seed"):
        if config.get(key) not in (None, ""):
            info[key] = config[key]
    if node := summary.edited_node:
        info["edited node"] = f"{node.get('name', '?')} ({node.get('type', '?')}) {node.get('id', '')}".strip()
    if graph := summary.graph:
        info["graph"] = f"{graph.get('name', '?')}: {graph.get('nodes', '?')} nodes, {graph.get('edges', '?')} edges"
    if layers := summary.layers:
        info["layers"] = f"{', '.join(str(x) for x in layers.get('selected', []))} (from {layers.get('source', '?')})"
    return Section("overview", "Overview", tables=[_kv(info)])


def _graph_section(rel: str | None, metric: str | None, run_dir: Path) -> Section | None:
    if not rel:
        return None
    section = Section("graph", "Style graph")
    section.notes.append(f"node colour and size: {metric or 'the run metric'} (red low → green high, grey not "
                         "measured); the edited node has a thick dark border, so the edit's propagation from the "
                         "edited parent down its subclasses shows at a glance. Hover a node for its numbers.")
    if not (run_dir / rel).exists():
        section.notes.append(f"the graph page {rel} is missing from the run directory.")
    section.frame = rel
    return section


def _metrics_table(before: Mapping[str, Any], after: Mapping[str, Any], caption: str = "") -> Table:
    names = list(dict.fromkeys([*before, *after]))
    rows = []
    for name in names:
        d = _delta(before.get(name), after.get(name))
        rows.append([Cell(name), Cell(fmt(before.get(name)), "num"), Cell(fmt(after.get(name)), "num"),
                     Cell(_signed(d), f"num {delta_class(name, d)}".strip())])
    return Table(["metric", "before", "after", "Δ"], rows, caption)


def _metrics(summary: RunSummary) -> Section | None:
    metrics = summary.metrics
    if not metrics:
        return None
    section = Section("metrics", "Edit metrics (CounterFact)")
    section.notes.append("Scores and probabilities are fractions in [0, 1] averaged over the edit requests (fluency: "
                         "n-gram entropy in bits); green: moved the way an edit should "
                         "(higher, or lower for prob_true), red: the other way.")
    section.tables.append(_metrics_table(metrics.get("before") or {}, metrics.get("after") or {}))
    return section


def _presence_table(presence: Mapping[str, Any], caption: str = "") -> Table:
    rows = []
    for m in presence.get("markers") or []:
        present = bool(m.get("present"))
        rows.append([Cell(fmt(m.get("marker"))), Cell(fmt(m.get("trait"))), Cell(fmt(m.get("delta")), "num"),
                     Cell(fmt(m.get("logprob_subject")), "num"), Cell(fmt(m.get("logprob_neutral")), "num"),
                     Cell(fmt(m.get("gen_rate_subject")), "num"), Cell(fmt(m.get("gen_rate_neutral")), "num"),
                     Cell("present" if present else "absent", "good" if present else "flat"),
                     Cell(fmt(m.get("edge_id")))])
    headers = ["marker", "trait", "Δ (nats)", "log P | subject", "log P | neutral", "gen rate subject",
               "gen rate neutral", "held", "edge"]
    return Table(headers, rows, caption)


def _presence_note(presence: Mapping[str, Any]) -> str:
    markers = presence.get("markers") or []
    n_present = presence.get("n_present", sum(1 for m in markers if m.get("present")))
    held = presence.get("present_markers") or [m.get("marker") for m in markers if m.get("present")]
    return (f"Δ is the per-token log-probability gain of each marker after “{presence.get('subject', '?')}” "
            f"over the neutral subject “{presence.get('neutral_subject', '?')}”; an edge counts as held "
            f"when Δ ≥ {fmt(presence.get('threshold'))} nats. Erasure is scored only on the edges the model holds: "
            f"{n_present} of {len(markers)} here" + (f" ({', '.join(str(h) for h in held)})." if held else "."))


def _presence(summary: RunSummary) -> Section | None:
    presence = summary.presence
    if not presence:
        return None
    section = Section("presence", "Style presence before the edit")
    section.notes.append("Which marker edges of the style does the model actually hold before any edit?")
    section.notes.append(_presence_note(presence))
    section.tables.append(_presence_table(presence))
    return section


def _requests_table(requests: Sequence[Mapping[str, Any]], caption: str = "") -> Table:
    rows = []
    for req in requests:
        rw = req.get("requested_rewrite") or {}
        rows.append([Cell(fmt(req.get("case_id"))), Cell(fmt(rw.get("kind"))), Cell(fmt(rw.get("subject"))),
                     Cell(fmt(rw.get("prompt"))), Cell(fmt((rw.get("target_true") or {}).get("str"))),
                     Cell(fmt((rw.get("target_new") or {}).get("str"))),
                     *(Cell(str(len(req.get(k) or [])), "num") for k in
                       ("paraphrase_prompts", "neighborhood_prompts", "alias_prompts")),
                     Cell(fmt(rw.get("edge_id")))])
    headers = ["case", "kind", "subject", "prompt", "old", "new", "paraphrases", "neighbours", "aliases", "edge"]
    return Table(headers, rows, caption)


def _install(summary: RunSummary) -> Section | None:
    install = summary.install
    if not install:
        return None
    section = Section("install", "Style installed first")
    section.notes.append("The presence probe found too little of the style in the model, so its markers were inserted "
                         f"with an edit before the erasure (verified: {fmt(bool(install.get('verified')))}); every "
                         "number below the install is measured on the model that holds them.")
    if install.get("requests"):
        section.tables.append(_requests_table(install["requests"], "insert requests"))
    if metrics := install.get("metrics"):
        nested = isinstance(metrics.get("before"), Mapping) and isinstance(metrics.get("after"), Mapping)
        section.tables.append(_metrics_table(metrics["before"], metrics["after"], "install metrics") if nested
                              else _kv(metrics, "install metrics"))
    if after := install.get("presence_after"):
        section.notes.append("After the install: " + _presence_note(after))
        section.tables.append(_presence_table(after, "presence after the install"))
    return section


def _styles(summary: RunSummary) -> Section | None:
    styles = summary.styles
    if not styles:
        return None
    mode = str((summary.config or {}).get("mode", "erase"))
    extra = list(dict.fromkeys(k for s in styles for k in s.metrics))
    rows = []
    for s in sorted(styles, key=lambda s: ROLE_ORDER.get(s.role, 3)):
        cells = [Cell(fmt(s.name)), Cell(s.role)]
        for before, after in ((s.presence_before, s.presence_after), (s.marker_rate_before, s.marker_rate_after)):
            d = _delta(before, after)
            cells += [Cell(_arrow(before, after), "num"), Cell(_signed(d), f"num {style_class(s.role, mode, d)}".strip())]
        cells += [Cell(fmt(s.metrics.get(k)), "num") for k in extra]
        rows.append(cells + [Cell(fmt(s.node_id))])
    headers = ["style", "role", "presence before → after", "Δ", "marker rate before → after", "Δ", *extra, "node"]
    section = Section("styles", "Propagation to subclasses and unrelated styles", tables=[Table(headers, rows)])
    want = "rise" if mode == "insert" else "fall"
    section.notes.append(f"Mode {mode}: the edited node and its subclasses should {want} (green); unrelated styles "
                         f"should stay within ±{UNRELATED_TOLERANCE} (green) — red marks the opposite.")
    return section


def _generations(summary: RunSummary) -> Section | None:
    gens = summary.generations
    if not gens:
        return None
    rows = [[Cell(fmt(g.prompt)), Cell(fmt(g.before), "text"), Cell(fmt(g.after), "text")] for g in gens]
    return Section("generations", "Sample generations, before and after",
                   tables=[Table(["prompt", "before the edit", "after the edit"], rows)])


def _interval(rate: Mapping[str, Any]) -> str:
    return f"{fmt(rate.get('per_1k'))} [{fmt(rate.get('low'))}, {fmt(rate.get('high'))}]"


def _style_in_generation(summary: RunSummary) -> Section | None:
    gen = summary.generation
    if not gen:
        return None
    section = Section("generation", "The style in generated text (held-out prompts)")
    settings = gen.get("settings") or {}
    decoding = "greedy" if not settings.get("temperature") else f"T={settings.get('temperature')}, top-p={settings.get('top_p')}"
    section.notes.append(
        f"Answers of the model to the {gen.get('n_prompts', '?')} held-out prompts of '{gen.get('prompts', '?')}' "
        f"({decoding}, {settings.get('k', 1)} per prompt, up to {settings.get('max_new_tokens', '?')} tokens, seed "
        f"{settings.get('seed', 0)}; none of these prompts was used to build the edit). Marker rate: the style's markers "
        "and their inflections per 1,000 generated tokens, with a bootstrap 95% interval over prompts.")
    names = {r.node_id: (r.name, r.role) for r in summary.styles}
    mode = str((summary.config or {}).get("mode", "erase"))
    rows = []
    for sid, rate in (gen.get("rates") or {}).items():
        name, role = names.get(sid, (sid, ""))
        b, a = rate.get("before") or {}, rate.get("after") or {}
        d = _delta(b.get("per_1k"), a.get("per_1k"))
        overlap = b.get("low", 0) <= a.get("high", 0) and a.get("low", 0) <= b.get("high", 0)
        rows.append([Cell(fmt(name)), Cell(role), Cell(_interval(b), "num"), Cell(_interval(a), "num"),
                     Cell(_signed(d), f"num {style_class(role, mode, d)}".strip()),
                     Cell("overlap" if overlap else "apart", "flat" if overlap else "good")])
    section.tables.append(Table(["style", "role", "markers / 1k tokens before", "after", "Δ", "intervals"], rows))
    fluency = gen.get("fluency") or {}
    section.tables.append(_metrics_table(fluency.get("before") or {}, fluency.get("after") or {},
                                         "fluency (perplexity under the unedited model), diversity, facts kept, classifier"))
    tf = gen.get("teacher_forced_heldout") or {}
    if (tf.get("before") or {}).get("n"):
        section.notes.append(
            f"Teacher-forced at the {int(tf['before']['n'])} held-out places where the unedited model wrote a marker: "
            f"P(marker) > P(neutral form) in {fmt(tf['before'].get('held'))} of them before the edit and "
            f"{fmt((tf.get('after') or {}).get('held'))} after (compare with the generated rates above).")
    for verdict in gen.get("guard") or []:
        section.notes.append(
            f"fluency guard ({'passed' if verdict.get('passed') else 'refused'}): perplexity "
            f"{fmt(verdict.get('ppl_before'))} → {fmt(verdict.get('ppl_after'))}, repetition "
            f"{fmt(verdict.get('repetition_before'))} → {fmt(verdict.get('repetition_after'))} on train prompts.")
    examples = gen.get("examples") or []
    if examples:
        section.tables.append(Table(["held-out prompt", "before the edit", "after the edit"],
                                    [[Cell(fmt(p)), Cell(fmt(b), "text"), Cell(fmt(a), "text")] for p, b, a in examples],
                                    "answers, side by side"))
    return section


def _data_uri(path: Path) -> str | None:
    mime = _MIME.get(path.suffix.lower())
    if mime is None or not path.is_file():
        return None
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _traces(summary: RunSummary, run_dir: Path) -> Section | None:
    traces = summary.traces
    if not traces:
        return None
    section = Section("traces", "Causal traces")
    rows = []
    for t in traces:
        label = str(t.label)
        rows.append([Cell(label), Cell(fmt(t.kind)), Cell(fmt(t.peak_layer), "num"), Cell(fmt(t.peak_effect), "num")])
        image = next((str(p) for p in (t.png, t.svg) if p), None)
        if image:
            section.figures.append(Figure(label, image, _data_uri(run_dir / image)))
        else:
            section.notes.append(f"no heatmap for {label}")
    section.tables.append(Table(["trace", "kind", "peak layer", "peak effect"], rows))
    return section


def _cypher(summary: RunSummary) -> Section | None:
    queries = summary.cypher
    if not queries:
        return None
    section = Section("cypher", "Cypher queries behind these tables")
    section.notes.append("Each query, with its parameters, returns the rows below from the store the run wrote to "
                         "(run it again with stylekg query QUERY --param key=value).")
    for q in queries:
        title, query, params, rows = str(q.title), str(q.query), q.params or {}, q.rows or []
        columns = list(dict.fromkeys(k for r in rows for k in r))
        cells = [[Cell(fmt(r.get(c)), "num" if _num(r.get(c)) is not None else "") for c in columns] for r in rows]
        table = Table(columns, cells, f"{len(rows)} row(s)")
        section.queries.append(Query(title, query, json.dumps(params, ensure_ascii=False, default=str), table))
    return section


def _reproduce(summary: RunSummary) -> Section:
    section = Section("reproduce", "Config, versions and timings")
    for values, caption in ((summary.config, "config"), (summary.versions, "versions")):
        if values:
            section.tables.append(_kv(values, caption))
    if summary.timings:
        section.tables.append(_kv(summary.timings, "stage timings", " s"))
    if summary.resumed:
        section.notes.append("Resumed from the stage cache: " + ", ".join(str(s) for s in summary.resumed) + ".")
    return section


def reproduce_command(run_dir: Path) -> str:
    return f"stylekg run --config {shlex.quote(str(Path(run_dir) / 'config.toml'))}"


def md_escape(text: Any) -> str:
    """Markdown-escape ``text`` (CommonMark backslash escapes); newlines become ``<br>`` (table cells)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\r", "").replace("\n", "<br>")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    env.filters["url"] = quote
    return env


def render(template: str, sections: Sequence[Section], summary: RunSummary, command: str) -> str:
    """Render ``report.html.j2`` or ``report.md.j2``."""
    return _environment().get_template(template).render(
        title=f"stylekg run {summary.run_id}", sections=sections, command=command, csp=CSP)


def graph_metric(run: RunRecord | None) -> str:
    """The metric to colour the graph by: a preferred name the run's edited targets carry, else the most common."""
    if run is None or not run.targets:
        return "efficacy"
    names = [k for t in run.targets for k in t.metrics]
    return next((m for m in GRAPH_METRICS if m in names), max(set(names), key=names.count) if names else "efficacy")


def build_sections(run_dir: Path, summary: RunSummary, graph_rel: str | None = None,
                   metric: str | None = None) -> list[Section]:
    """Every present section of the report, in reading order."""
    requests = summary.requests
    builders: Iterable[Section | None] = (
        _overview(summary), _graph_section(graph_rel, metric, run_dir), _style_in_generation(summary),
        _metrics(summary), _styles(summary),
        _presence(summary), _install(summary),
        Section("requests", "Edit requests", tables=[_requests_table(requests)]) if requests else None,
        _generations(summary), _traces(summary, run_dir),
        _cypher(summary), _reproduce(summary),
    )
    return [s for s in builders if s is not None]


def _write(path: Path, text: str) -> None:
    atomic_write_text(path, text)


def write_report(run_dir: Path, summary: RunSummary, graph: StyleGraph | None = None,
                 run_record: RunRecord | None = None) -> tuple[Path, Path]:
    """Write ``run_dir/report.html`` and ``run_dir/report.md`` from a run summary; return their paths.

    Every section of ``summary`` but its ``run_id`` is optional. When ``summary`` names no
    ``graph_html`` and ``graph`` is given, the pyvis page is written as ``run_dir/graph.html`` (coloured by
    ``run_record``'s metrics when given) and embedded.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not summary.run_id:
        raise ValueError("a run summary needs a run_id")
    graph_rel, metric = summary.graph_html, None
    if not graph_rel and graph is not None:
        from .pyvis_view import write_html

        metric = graph_metric(run_record)
        write_html(graph, run_dir / "graph.html", run_record, metric)
        graph_rel = "graph.html"
    sections = build_sections(run_dir, summary, graph_rel, metric)
    command = reproduce_command(run_dir)
    html_path, md_path = run_dir / "report.html", run_dir / "report.md"
    _write(html_path, render("report.html.j2", sections, summary, command))
    _write(md_path, render("report.md.j2", sections, summary, command))
    log.info("wrote %s and %s", html_path, md_path)
    return html_path, md_path
