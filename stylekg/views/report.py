"""The run report: ``report.html`` (offline, self-contained but for the pyvis graph page) and ``report.md``.

Reads a run's ``summary`` dict (what ``stylekg run`` writes as ``summary.json``) and optionally the style graph
and the run record, never a model. Every section is built once as plain tables (``report_sections.py``, from the
blocks of ``report_tables.py``) and rendered twice, as HTML and as Markdown, so both files carry the same numbers.
All text is escaped; trace PNGs are embedded as ``data:`` URIs; the graph is the pyvis page (its JavaScript
inlined) shown in an ``<iframe>`` next to the report; nothing is fetched from the network.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import jinja2

from ..kg.graph import StyleGraph
from ..kg.schema import RunRecord
from ..paths import atomic_write_text
from ..run_summary import RunSummary
from .report_sections import build_sections
from .report_tables import Section, md_escape

log = logging.getLogger(__name__)

GRAPH_METRICS = ("effect_direction", "efficacy_score", "efficacy", "erasure", "score", "presence_after")  # preferred colouring metric
TEMPLATES = Path(__file__).parent / "templates"
# The report itself runs no script; images come only from data: URIs and frames only from local files.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self' file:"


def reproduce_command(run_dir: Path) -> str:
    return f"stylekg run --config {shlex.quote(str(Path(run_dir) / 'config.toml'))}"


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
