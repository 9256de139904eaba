"""The run report's sections, each built from a run's ``summary`` (and its run directory for trace images).

Every optional section is skipped (``None``) when its key is absent from the summary.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..run_summary import RunSummary
from .report_effects import classifier_note, classifier_shown, effects_section, without_weak_classifier
from .report_tables import (
    UNRELATED_TOLERANCE, Cell, Figure, Query, Section, Table, _arrow, _delta, _kv, _num, _signed, delta_class, fmt,
    style_class,
)

ROLE_ORDER = {"edited": 0, "subclass": 1, "unrelated": 2}
_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


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
    if metric == "effect_direction" or metric is None and (run_dir / "effects.json").exists():
        section.notes.append("node colour: which way each measured node moved on its family's held-out answers "
                             "(blue fell, orange rose, yellow unchanged, white absent: never written, grey not "
                             "measured; markers too); the edited node has a thick dark border. Hover a node for its "
                             "numbers.")
        section.frame = rel
        return section
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
    before, after = fluency.get("before") or {}, fluency.get("after") or {}
    if "gen_style_probability" in before and not classifier_shown(before):
        section.notes.append(classifier_note(before))
    section.tables.append(_metrics_table(without_weak_classifier(before), without_weak_classifier(after),
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


def build_sections(run_dir: Path, summary: RunSummary, graph_rel: str | None = None,
                   metric: str | None = None) -> list[Section]:
    """Every present section of the report, in reading order."""
    requests = summary.requests
    builders: Iterable[Section | None] = (
        _overview(summary), _graph_section(graph_rel, metric, run_dir), _style_in_generation(summary),
        effects_section(summary),
        _metrics(summary), _styles(summary),
        _presence(summary), _install(summary),
        Section("requests", "Edit requests", tables=[_requests_table(requests)]) if requests else None,
        _generations(summary), _traces(summary, run_dir),
        _cypher(summary), _reproduce(summary),
    )
    return [s for s in builders if s is not None]


