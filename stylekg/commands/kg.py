"""``stylekg kg ...``: the built-in library, showing, decomposing, auto-expanding, export and a dry run of the edit
requests (``kg requests``); ``kg import`` and ``kg add`` are in ``kg_merge.py``, the store commands in ``kg_store.py``.

``kg_app`` is module-level so other command modules (e.g. graph stores) can add commands to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.tree import Tree

from ..requests import Propagation, RequestKind
from .common import JsonOpt, StoreOpt, console, echo_data, emit_json
from .common import esc as escape  # control characters and rich markup: names from files and LLMs are data

kg_app = typer.Typer(help="Style graphs: library, show, decompose, auto, export, import.", no_args_is_help=True)

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="tree | json | turtle | jsonld | graphml")]
ProviderOpt = Annotated[str, typer.Option("--provider", "-p", help="openai | local | library")]
ModelOpt = Annotated[str | None, typer.Option("--llm-model", "--model", "-m", help="LLM model (openai: served model name; local: registry name).")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Write the graph here (.json, .ttl, .jsonld, .graphml).")]
GraphOpt = Annotated[str | None, typer.Option(
    "--graph", "-g", help="A graph file (.json, .ttl, .jsonld) or the name of a stored graph (see --store); "
                          "default: the built-in library.")]
ConflictOpt = Annotated[str, typer.Option(
    "--on-conflict", help="refuse (list the conflicts, change nothing) | theirs (the file's values win) | "
                          "ours (the graph's values stay)")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print what would be added and changed; write nothing.")]
RetriesOpt = Annotated[int, typer.Option("--retries", help="Re-asks after invalid or truncated LLM output.")]
MaxTokensOpt = Annotated[int | None, typer.Option(
    "--max-tokens", help="openai: answer budget (default 2048); doubled on each re-ask after a truncated answer.")]


def _base(graph_ref: str | Path | None, store: str | None = None):
    """The built-in library (no ``graph_ref``), a graph file, or a graph stored in ``store``."""
    from ..errors import GraphError
    from ..kg.io import SUFFIX_FORMATS, load_graph
    from ..kg.library import load_library

    if not graph_ref:
        return load_library()
    path = Path(graph_ref)
    if path.is_file():
        return load_graph(path)
    if path.suffix.lower() in SUFFIX_FORMATS or path.parent != Path("."):
        raise GraphError(f"no graph file at {path}", hint="give an existing file, or the name of a stored graph")
    from ..kg.stores import open_store

    with open_store(store) as opened:
        return opened.load_graph(str(graph_ref))


@kg_app.command("library")
def library_cmd(json_out: JsonOpt = False) -> None:
    """List the built-in styles with their abstract parents."""
    from ..kg.inheritance import hierarchy
    from ..kg.library import load_library
    from ..kg.schema import EdgeType, NodeType

    graph = load_library()
    rows = []
    for node in sorted([*graph.nodes(NodeType.STYLE), *graph.nodes(NodeType.NEUTRAL)], key=lambda n: n.name):
        parents = [graph.node(e.target).name for e in graph.out_edges(node.id, EdgeType.SUBCLASS_OF)]
        rows.append({"name": node.name, "id": node.id, "kind": node.properties.get("kind", ""),
                     "parents": parents, "markers": len(hierarchy(graph).effective_markers(node.id))})
    if json_out:
        emit_json({"styles": rows, "stats": graph.stats()})
        return
    table = Table("style", "kind", "abstract parents", "markers (incl. inherited)")
    for r in rows:
        table.add_row(r["name"], r["kind"], ", ".join(r["parents"]), str(r["markers"]))
    console.print(table)
    stats = graph.stats()
    console.print(f"[dim]{stats['nodes']} nodes, {stats['edges']} edges[/]")


TREE_DEPTH = 12  # parent levels drawn as nested branches (48 columns of indent); deeper ones on one line


def _parents(branch: Tree, graph, node_id: str, shown: set[str]) -> None:
    """The SUBCLASS_OF DAG above ``node_id`` as nested branches: each parent its own branch (never one chain);
    a parent reached again is named once more and marked, not expanded twice. Iterative (a depth-first walk with
    an explicit stack, linear in the edges): a 1,000-level chain draws :data:`TREE_DEPTH` levels and names the
    rest on one line."""
    from ..kg.inheritance import ancestors
    from ..kg.schema import EdgeType

    def parents_of(nid: str) -> Iterator[Any]:
        return iter(sorted((graph.node(e.target) for e in graph.out_edges(nid, EdgeType.SUBCLASS_OF)),
                           key=lambda n: n.name.lower()))

    stack: list[tuple[Tree, Iterator[Any], int]] = [(branch, parents_of(node_id), 1)]
    while stack:
        here, pending, depth = stack[-1]
        parent = next(pending, None)
        if parent is None:
            stack.pop()
            continue
        if parent.id in shown:
            here.add(f"{escape(parent.name)} [dim](shown above)[/]")
            continue
        shown.add(parent.id)
        child = here.add(escape(parent.name))
        if depth < TREE_DEPTH:
            stack.append((child, parents_of(parent.id), depth + 1))
            continue
        deeper = [a for a in ancestors(graph, parent.id) if a not in shown]
        shown.update(deeper)
        if deeper:
            names = ", ".join(graph.node(a).name for a in deeper[:5]) + (", …" if len(deeper) > 5 else "")
            child.add(f"[dim]… {len(deeper)} more ancestor(s) above: {escape(names)}[/]")


def _tree(graph, node_id: str) -> Tree:
    from ..kg.inheritance import hierarchy
    from ..kg.schema import EdgeType

    h = hierarchy(graph)
    node = graph.node(node_id)
    root = Tree(f"[bold]{escape(node.name)}[/] [dim]{node.type.value}[/]")
    if graph.out_edges(node_id, EdgeType.SUBCLASS_OF):
        _parents(root.add("[cyan]is a[/]"), graph, node_id, set())
    aliases = graph.aliases_of(node_id)
    if aliases:
        root.add("[cyan]aliases[/] " + escape(", ".join(aliases)))
    for trait in h.effective_traits(node_id):
        t = graph.node(trait.id)
        via = "" if trait.distance == 0 else f" [dim](from {escape(graph.node(trait.via).name)})[/]"
        branch = root.add(f"[green]trait[/] {escape(t.name)}{via}")
        for e in graph.out_edges(t.id, EdgeType.EXPRESSED_BY):
            m = graph.node(e.target)
            neutral = [graph.node(n.target).name for n in graph.out_edges(m.id, EdgeType.NEUTRAL_FORM)]
            arrow = f" [dim]→ {escape(neutral[0])}[/]" if neutral else ""
            branch.add(f"[yellow]{escape(repr(m.name))}[/]{arrow}")
    for e in graph.out_edges(node_id, EdgeType.FACT):
        fact = escape(e.template.replace('{}', node.name))
        root.add(f"[magenta]fact[/] {fact} [bold]{escape(graph.node(e.target).name)}[/]")
    return root


def _emit_graph(graph, fmt: str, focus: str | None = None) -> None:
    from ..errors import GraphError
    from ..kg.io import dumps, save_graph

    if fmt == "tree":
        console.print(_tree(graph, focus or next(iter(graph.nx.nodes))))
    elif fmt == "graphml":
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = save_graph(graph, Path(tmp) / "graph.graphml")
            echo_data(path.read_text(encoding="utf-8"))
    elif fmt in ("json", "turtle", "jsonld"):
        echo_data(dumps(graph, fmt))
    else:
        raise GraphError(f"unknown format {fmt!r}", hint="use tree, json, turtle, jsonld or graphml")


@kg_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Style name, alias or id (e.g. 'Yoda', 'Yodda').")],
    fmt: FormatOpt = "tree",
    graph_file: GraphOpt = None,
    store: StoreOpt = None,
) -> None:
    """Print one style with its parents (a DAG), traits, markers and facts."""
    from ..kg.inheritance import resolve_style
    from ..kg.subgraphs import neighbourhood, subgraph
    from ..kg.library import library_style

    if graph_file is None:
        graph = library_style(name)
    else:
        full = _base(graph_file, store)
        graph = subgraph(full, neighbourhood(full, resolve_style(full, name)))
    from ..kg.inheritance import resolve_style as _resolve

    _emit_graph(graph, fmt, _resolve(graph, name))


@kg_app.command("decompose")
def decompose_cmd(
    subject: Annotated[str, typer.Argument(help="Who or what to decompose, e.g. 'Carl Sagan'.")],
    provider: ProviderOpt = "openai",
    model: ModelOpt = None,
    out: OutOpt = None,
    graph_file: GraphOpt = None,
    retries: RetriesOpt = 2,
    max_tokens: MaxTokensOpt = None,
    fmt: FormatOpt = "tree",
    json_out: JsonOpt = False,
) -> None:
    """Ask an LLM to explain a style as a graph; link it to existing abstract parents."""
    from ..kg.subgraphs import neighbourhood, subgraph
    from ..kg.io import save_graph
    from ..kg.llm import decompose, make_client

    client = make_client(provider, model, max_retries=retries, max_tokens=max_tokens)
    graph, result = decompose(subject, client, _base(graph_file))
    piece = subgraph(graph, neighbourhood(graph, result.style_id), name=subject)
    if out:
        save_graph(piece, out)
    if json_out:
        emit_json({**result.summary(), "out": str(out) if out else None})
        return
    _emit_graph(piece, fmt, result.style_id)
    linked = ", ".join(result.linked_parents) or "none"
    console.print(f"[green]added[/] {len(result.added_nodes)} nodes, {len(result.added_edges)} edges; "
                  f"linked to existing parents: {escape(linked)}; provenance {escape(result.provenance.detail)}"
                  + (f"; written to {escape(out)}" if out else ""))


@kg_app.command("auto")
def auto_cmd(
    subject: Annotated[str, typer.Argument(help="A wide subject, e.g. 'American talk-show hosts'.")],
    provider: ProviderOpt = "openai",
    model: ModelOpt = None,
    n: Annotated[int, typer.Option("--n", "-n", help="At most this many styles.")] = 4,
    out: OutOpt = None,
    graph_file: GraphOpt = None,
    retries: RetriesOpt = 2,
    max_tokens: MaxTokensOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Expand a wide subject into styles, decompose each, merge them into one graph."""
    from ..kg.io import save_graph
    from ..kg.llm import auto, make_client

    client = make_client(provider, model, max_retries=retries, max_tokens=max_tokens)
    base = _base(graph_file)
    graph, result = auto(subject, client, base, n=n, progress=not json_out)
    if out:
        save_graph(graph, out)
    if json_out:
        emit_json({**result.summary(), "out": str(out) if out else None})
        return
    table = Table("style", "new nodes", "new edges", "linked parents")
    for d in result.decompositions:
        table.add_row(escape(d.subject), str(len(d.added_nodes)), str(len(d.added_edges)),
                      escape(", ".join(d.linked_parents)))
    for name, err in result.failed.items():
        table.add_row(escape(name), "-", "-", f"[red]failed:[/] {escape(err)}")
    console.print(table)
    console.print(f"added {len(result.added_nodes)} nodes and {len(result.added_edges)} edges"
                  + (f"; written to {out}" if out else ""))


@kg_app.command("export")
def export_cmd(
    dest: Annotated[Path, typer.Argument(help="Output file; the suffix picks the format (.json .ttl .jsonld .graphml).")],
    name: Annotated[str | None, typer.Option("--style", "-s", help="Only this style (default: the whole graph).")] = None,
    graph_file: GraphOpt = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="Override the format.")] = None,
) -> None:
    """Write the library (or a graph file, or one style) as JSON, Turtle, JSON-LD or GraphML."""
    from ..kg.inheritance import resolve_style
    from ..kg.subgraphs import neighbourhood, subgraph
    from ..kg.io import save_graph

    graph = _base(graph_file)
    if name:
        graph = subgraph(graph, neighbourhood(graph, resolve_style(graph, name)), name=name)
    path = save_graph(graph, dest, fmt)
    console.print(f"[green]wrote[/] {escape(path)} ({len(graph)} nodes, {graph.number_of_edges()} edges)")


class Job(str, Enum):
    """The job whose plan ``kg requests`` prints (each selects edges its own way)."""

    EDIT = "edit"
    RUN = "run"
    COMPARE = "compare"


@kg_app.command("requests")
def requests_cmd(
    node: Annotated[str, typer.Argument(help="A style, abstract style, trait or marker (name, alias or id), or an "
                                             "edge id; with --job run, the run's style.")] = "",
    mode: Annotated[RequestKind, typer.Option("--mode", help="What the edit does to each edge.")] = RequestKind.ERASE,
    propagate: Annotated[Propagation | None, typer.Option(
        "--propagate", help="From an abstract NODE to its subclasses (default: none; --job run: explicit).",
        show_default=False)] = None,
    new: Annotated[str | None, typer.Option("--new", help="New object (replace/insert).")] = None,
    relation: Annotated[str | None, typer.Option("--relation-template", help="New prompt template (relation).")] = None,
    inherited: Annotated[bool, typer.Option("--inherited", help="Also the markers a style inherits from its "
                                                                "parents.")] = False,
    job: Annotated[Job, typer.Option(
        "--job", help="Print what this job edits with the same flags: edit (stylekg edit --graph G --node NODE), "
                      "run (stylekg run NODE: markers only for an erase, the first --max-markers edges, the "
                      "style's abstract parent when propagating) or compare (stylekg compare NODE).")] = Job.EDIT,
    max_markers: Annotated[int | None, typer.Option(
        "--max-markers", help="--job run / compare: edit the first N edges (default: the job's, 4 / 2).",
        show_default=False)] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="--job run: a run config TOML (replaces the other flags); print what "
                         "stylekg run --config FILE edits.")] = None,
    graph_file: GraphOpt = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print the plan of an edit of NODE (requests applied, probes and unrelated styles measured, the preserved
    set), exactly as the chosen job builds it, as JSON or tables; loads no model."""
    from ..errors import EditError

    if job is not Job.RUN and config is not None:
        raise EditError("--config is a run config: it goes with --job run")
    if job is not Job.EDIT and (inherited or relation is not None):
        raise EditError(f"--inherited and --relation-template select edges for --job edit, not --job {job.value}")
    if job is Job.EDIT and max_markers is not None:
        raise EditError("--max-markers goes with --job run or --job compare", hint="stylekg edit edits every edge")
    if not node and config is None:
        raise EditError("name the NODE to edit", hint="e.g. stylekg kg requests Yoda")
    graph = _base(graph_file, store)
    if job is Job.RUN:
        from ..pipeline.config import RunConfig
        from ..pipeline.stages import run_plan

        given = {"mode": mode.value, "propagate": propagate.value if propagate else None,
                 "max_markers": max_markers, "extra": {"new": new} if new else None}
        cfg = (RunConfig.from_toml(config) if config is not None else  # the file replaces the flags, as in run
               RunConfig(style=node, **{k: v for k, v in given.items() if v is not None}))
        plan = run_plan(graph, cfg)
    elif job is Job.COMPARE:
        from ..kg.inheritance import resolve_style
        from ..pipeline.compare import compare_plan

        if mode is not RequestKind.ERASE or propagate not in (None, Propagation.NONE) or new:
            raise EditError("stylekg compare erases a style's markers: --job compare takes no --mode, --propagate "
                            "or --new")
        plan = compare_plan(graph, resolve_style(graph, node), 2 if max_markers is None else max_markers)
    else:
        from ..kg.planner import plan as make_plan

        plan = make_plan(graph, node, mode=mode, propagate=propagate, new_target=new, relation_template=relation,
                         inherited=inherited)
    if json_out:
        emit_json({"job": job.value, **plan.to_json()})
        return
    _print_plan(plan, job)


def _print_plan(plan, job: Job) -> None:
    """The plan as two tables: requests (edited, propagated, probes, unrelated), then the preserved set."""
    rows = [("propagated" if r.meta.get("propagated_from") else "edited", r) for r in plan.requests]
    rows += [("probe", r) for r in plan.probe_list] + [("unrelated", r) for r in plan.unrelated]
    table = Table("role", "prompt", "old → new", "paraphrase / alias prompts",
                  title=f"{escape(job.value)}: {len(plan.requests)} request(s) applied, {len(plan.probe_list)} "
                        f"probe(s) and {len(plan.unrelated)} unrelated measured ({escape(plan.mode.value)}, "
                        f"propagation {escape(plan.propagate.value)}); no model loaded; --json for every field")
    for role, r in rows:
        old, new_text = (r.target_true or "").strip() or "∅", (r.target_new or "").strip() or "(lowered)"
        table.add_row(role, escape(r.text), escape(f"{old} → {new_text}"),
                      f"{len(r.paraphrase_prompts)} / {len(r.alias_prompts)}")
    console.print(table)
    kept = Table("kind", "prompt", "keeps", "from", title=f"preserved set: {len(plan.preserved)} prompt(s) the edit "
                                                           f"must keep (from the graph)")
    for p in plan.preserved:
        kept.add_row(p.kind.value, escape(p.prompt), escape(p.target.strip()), escape(p.source))
    console.print(kept)


def register(app: typer.Typer) -> None:
    app.add_typer(kg_app, name="kg")
