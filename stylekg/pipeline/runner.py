"""``stylekg run``: graph → store → presence probe → trace → layers → requests → (install) → erase → evaluate
→ write back → report. Each stage's output is cached in the run directory, so a re-run resumes.

Edits happen in memory only; their deltas are saved in the run directory and re-applied on resume.
Nothing is written to the store before the write-back stage, which is one transaction per run node.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..editing import EditResult, get_method
from ..editing.hparams import default_hparams_path, hparams_hash, load_hparams
from ..errors import RunError, StyleKGError
from ..kg.graph import StyleGraph
from ..kg.schema import NodeType, slug
from ..requests import EditRequest, RequestKind
from .config import RunConfig
from .graph_source import build_graph
from .measure import per_style, request_scores
from .stages import StageCache

log = logging.getLogger(__name__)
Event = Callable[[str, str], None]


@dataclass
class RunOutcome:
    run_id: str
    run_dir: Path
    summary: dict[str, Any]
    report_html: Path | None
    report_md: Path | None


def run_id_for(config: RunConfig) -> str:
    return f"{slug(config.style or config.auto)[:40]}-{config.key}"


def _versions() -> dict[str, str]:
    import torch
    import transformers

    return {"stylekg": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "python": platform.python_version()}


def _requests_from(data: list[dict[str, Any]]) -> list[EditRequest]:
    out = []
    for record in data:
        meta = record.pop("meta", {})
        out.append(dataclasses.replace(EditRequest.from_counterfact(record), meta=meta))
    return out


def _requests_to(requests: list[EditRequest]) -> list[dict[str, Any]]:
    return [{**r.to_counterfact(), "meta": r.meta} for r in requests]


class Pipeline:
    """One run of the main job; ``run()`` executes (or resumes) every stage."""

    def __init__(self, config: RunConfig, *, on_event: Event | None = None, run_dir: Path | None = None) -> None:
        self.config = config
        self.run_id = run_id_for(config)
        self.run_dir = Path(run_dir or Path(config.runs_dir) / self.run_id)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.stages = StageCache(self.run_dir, on_event)
        self._lm = None
        self._stats: dict[int, Any] | None = None
        self._applied: dict[str, EditResult] = {}  # delta files re-applied to the in-memory model
        self.graph: StyleGraph | None = None

    # ---- shared objects ------------------------------------------------------------------------
    @property
    def lm(self):
        if self._lm is None:
            from ..lm import load_model

            self._lm = load_model(self.config.model, device=self.config.device)
        return self._lm

    def _method(self):
        method = get_method(self.config.method)
        path = default_hparams_path(self.config.method, self.config.model)
        hparams = load_hparams(method.hparams_class, path) if path.exists() else method.hparams_class()
        return method, hparams

    # ---- stages --------------------------------------------------------------------------------
    def run(self) -> RunOutcome:
        cfg = self.config
        (self.run_dir / "config.toml").write_text(cfg.to_toml())
        graph_info = self.stages.run("graph", cfg.to_dict(), self._stage_graph)
        self.graph = _load_graph(self.run_dir / "graph.json")
        style_id, node_id = graph_info["style_id"], graph_info["node_id"]
        self.traced_style_id = style_id
        method, hparams = self._method()
        presence = self.stages.run("presence", [cfg.model, style_id, cfg.presence_threshold, cfg.generations, cfg.seed],
                                   lambda: self._stage_presence(style_id))
        traces = self.stages.run("trace", [cfg.model, style_id, cfg.trace_samples, cfg.trace_facts, cfg.seed],
                                 lambda: self._stage_trace(style_id))
        layers = self.stages.run("layers", [cfg.model, cfg.method, list(getattr(hparams, "layers", []))],
                                 lambda: self._stage_layers(hparams))
        hparams = _with_layers(hparams, layers["selected"])
        req_data = self.stages.run("requests", [cfg.to_dict(), graph_info], lambda: self._stage_requests(node_id))
        requests = _requests_from([dict(r) for r in req_data["requests"]])
        unrelated = _requests_from([dict(r) for r in req_data["unrelated"]])
        measured = requests + _requests_from([dict(r) for r in req_data.get("probes", [])])
        install = self.stages.run("install", [cfg.to_dict(), hparams_hash(hparams), req_data],
                                  lambda: self._stage_install(method, hparams, measured, presence))
        self._reapply("install.safetensors")
        before = self.stages.run("before", [cfg.to_dict(), install, req_data],
                                 lambda: self._measure(measured, unrelated, style_id))
        edit = self.stages.run("edit", [cfg.to_dict(), hparams_hash(hparams), req_data, install],
                               lambda: self._stage_edit(method, hparams, requests))
        self._reapply("edit.safetensors")
        after = self.stages.run("after", [cfg.to_dict(), edit, req_data],
                                lambda: self._measure(measured, unrelated, style_id))
        summary = self._summary(graph_info, presence, traces, layers, measured, unrelated, install, before, after, edit,
                                hparams)
        written = self.stages.run("writeback", [summary["run_id"], cfg.store],
                                  lambda: self._stage_writeback(summary, node_id, hparams))
        summary["cypher"] = written["cypher"]
        summary["graph_html"] = written["graph_html"]
        summary["timings"] = self.stages.timings
        summary["resumed"] = self.stages.resumed
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        html, md = self._report(summary)
        return RunOutcome(self.run_id, self.run_dir, summary, html, md)

    def _stage_graph(self) -> dict[str, Any]:
        from ..kg.inheritance import resolve_style
        from ..kg.io import to_json
        from ..kg.stores import open_store

        graph, source = build_graph(self.config)
        style_id = resolve_style(graph, self.config.style)
        node_id = self._edited_node(graph, style_id)
        with open_store(self.config.store) as store:
            store.save_graph(graph)
        (self.run_dir / "graph.json").write_text(to_json(graph))
        return {"name": graph.name, "nodes": len(graph), "edges": sum(1 for _ in graph.edges()), "source": source,
                "style_id": style_id, "node_id": node_id}

    def _edited_node(self, graph: StyleGraph, style_id: str) -> str:
        from ..kg.inheritance import ancestors, effective_markers

        if self.config.node:
            return graph.find(self.config.node).id
        if self.config.propagate == "none":
            return style_id
        # the nearest abstract parent that carries markers of its own: erasing it propagates
        for parent in ancestors(graph, style_id):
            own = [m for m in effective_markers(graph, parent) if getattr(m, "via", parent) == parent]
            if graph.node(parent).type is NodeType.ABSTRACT_STYLE and own:
                return parent
        for parent in ancestors(graph, style_id):
            if graph.node(parent).type is NodeType.ABSTRACT_STYLE and effective_markers(graph, parent):
                return parent
        raise RunError(f"style {self.config.style!r} has no abstract parent with markers to propagate through",
                       hint="pass --node NODE or --propagate none")

    def _stage_presence(self, style_id: str) -> dict[str, Any]:
        from ..evaluation.presence import probe_style

        report = probe_style(self.lm, self.graph, style_id, threshold=self.config.presence_threshold,
                             n_samples=self.config.generations, seed=self.config.seed)
        return report.to_dict()

    def _stage_trace(self, style_id: str) -> list[dict[str, Any]]:
        from ..tracing.plots import plot_trace
        from ..tracing.styles import style_spec
        from ..tracing.params import TraceParams
        from ..tracing.targets import style_target, top1_target
        from ..tracing.trace import trace

        out_dir = self.run_dir / "traces"
        out_dir.mkdir(exist_ok=True)
        params = TraceParams(samples=self.config.trace_samples, seed=self.config.seed)
        spec = style_spec(self.graph, style_id)
        jobs = [("style", spec.prompts()[0], spec.name, style_target(self.lm.tokenizer, spec.markers, spec.neutrals))]
        facts = [e for e in self.graph.out_edges(style_id) if e.type.value == "FACT"][: self.config.trace_facts]
        subject = self.graph.node(style_id).name
        for edge in facts:
            prompt = edge.template.format(subject)
            jobs.append(("fact", prompt, subject, top1_target(self.lm, prompt)))
        results = []
        for index, (kind, prompt, subj, target) in enumerate(jobs):
            result = trace(self.lm, prompt, subj, target, params)
            stem = out_dir / f"{index:02d}-{kind}"
            files = plot_trace(result, stem)
            (stem.with_suffix(".json")).write_text(json.dumps(result.to_dict(), default=str))
            layer, token, value = result.peak("mlp")
            results.append({"label": f"{kind}: {prompt}", "kind": kind, "prompt": prompt,
                            "png": str(Path("traces") / f"{stem.name}.png"), "svg": str(Path("traces") / f"{stem.name}.svg"),
                            "peak_layer": int(layer), "peak_token": int(token), "peak_effect": float(value),
                            "high": float(result.high), "low": float(result.low), "files": [str(f) for f in files]})
        return results

    def _stage_layers(self, hparams: Any) -> dict[str, Any]:
        configured = list(getattr(hparams, "layers", []))
        if not self.config.extra.get("layers_from_trace", False) or not configured:
            return {"selected": configured, "source": "config"}
        from ..tracing.params import TraceParams
        from ..tracing.select_layers import select_layers

        suggestion = select_layers(self.lm, params=TraceParams(samples=self.config.trace_samples, kinds=("mlp",)),
                                   size=len(configured))
        return {"selected": list(suggestion.layers), "source": "trace", "configured": configured}

    def _stage_requests(self, node_id: str) -> dict[str, Any]:
        from ..editing.propagation import expand_explicit, implicit_probes, parent_requests, subclass_styles
        from ..kg.to_requests import to_edit_requests

        graph, cfg = self.graph, self.config
        node = graph.node(node_id)
        base = to_edit_requests(graph, node_id, cfg.mode, new_target=cfg.extra.get("new"))
        base = _limit_edges(_style_edges(base) if cfg.mode == "erase" else base, cfg.max_markers)
        probes: list[EditRequest] = []
        if node.type is NodeType.ABSTRACT_STYLE and cfg.propagate != "none":
            parent = parent_requests(base, graph, node_id)
            requests = expand_explicit(graph, parent) if cfg.propagate == "explicit" else parent
            if cfg.propagate == "implicit":  # measured on every subclass, applied to the parent only
                probes = [r for group in implicit_probes(graph, parent).values() for r in group]
        else:
            requests = base
        subclass_ids = set(subclass_styles(graph, node_id)) if node.type is NodeType.ABSTRACT_STYLE else set()
        edited_ids = {r.meta.get("subject_id") for r in requests}
        unrelated: list[EditRequest] = []
        for style in sorted(n.id for n in graph.nodes(NodeType.STYLE)):
            if style in subclass_ids or style in edited_ids or len({r.meta.get("subject_id") for r in unrelated}) >= 2:
                continue
            try:
                unrelated += _limit_edges(_style_edges(to_edit_requests(graph, style, "erase")), 2)
            except StyleKGError:
                continue
        return {"requests": _requests_to(requests), "probes": _requests_to(probes), "unrelated": _requests_to(unrelated),
                "subclasses": sorted(subclass_ids), "node": node_id}

    def _stage_install(self, method, hparams, requests: list[EditRequest], presence: dict) -> dict[str, Any]:
        """Install the markers first when the presence probe shows the model holds too little of the style.

        Decision: fewer than half of the style's marker edges are present (presence gain ≥ threshold over a
        neutral subject). Verification: after the insert edit, each marker beats its neutral form on its own
        prompt (``held``) for at least 80% of the requests. The erase is then scored on the held edges.
        """
        before = request_scores(self.lm, requests)
        n_markers = max(1, len(presence.get("markers", [])))
        present_share = presence.get("n_present", 0) / n_markers
        base = {"present_share": present_share, "held_before": _mean(s["holds"] for s in before)}
        if self.config.mode != "erase" or present_share >= 0.5 or not self.config.install_if_absent:
            return {"installed": False, **base}
        inserts = [r.with_(target_new=r.target_true, target_true=r.target_new, kind=RequestKind.INSERT,
                           case_id="install|" + r.case_id) for r in requests if r.target_new and r.target_true]
        result = method.apply(self.lm.model, self.lm.tokenizer, inserts, hparams, **self._stats_kwargs(method, hparams))
        result.save(self.run_dir / "install.safetensors")
        after = request_scores(self.lm, requests)
        held_after = _mean(s["holds"] for s in after)
        result.restore()  # re-applied from the delta file, the same way a resumed run does
        gain = _mean(a["marker_logprob"] - b["marker_logprob"] for a, b in zip(after, before))
        return {"installed": True, **base, "held_after": held_after, "verified": held_after >= 0.8,
                "marker_logprob_gain": gain, "requests": _requests_to(inserts), "before": before, "after": after,
                "info": result.info}

    def _stage_edit(self, method, hparams, requests: list[EditRequest]) -> dict[str, Any]:
        result = method.apply(self.lm.model, self.lm.tokenizer, requests, hparams, **self._stats_kwargs(method, hparams))
        result.save(self.run_dir / "edit.safetensors")
        info = {"params_changed": result.params_changed, "info": result.info}
        result.restore()
        return info

    def _stats_kwargs(self, method, hparams) -> dict[str, Any]:
        """Key second moments of the *unedited* model (as MEMIT's reference does), computed once per run and
        passed to every closed-form edit, so the install edit does not shift C for the erase."""
        import inspect

        if "stats" not in inspect.signature(method.apply).parameters or not hasattr(hparams, "stats_samples"):
            return {}
        if self._stats is None:
            import torch

            from ..editing.stats import key_second_moments

            layers = list(getattr(hparams, "layers", None) or [hparams.layer])
            applied = list(self._applied.values())
            for result in reversed(applied):  # measure the original weights, then put the edits back
                result.restore()
            try:
                self._stats = key_second_moments(
                    self.lm.model, self.lm.tokenizer, layers, samples=hparams.stats_samples,
                    dtype=getattr(torch, getattr(hparams, "stats_dtype", "float32")))
            finally:
                for name in list(self._applied):
                    self._applied[name] = EditResult.load_and_apply(self.run_dir / name, self.lm.model)
        return {"stats": self._stats}

    def _reapply(self, name: str) -> None:
        path = self.run_dir / name
        if path.exists() and name not in self._applied:
            self._applied[name] = EditResult.load_and_apply(path, self.lm.model)

    def _measure(self, requests: list[EditRequest], unrelated: list[EditRequest], style_id: str) -> dict[str, Any]:
        from ..evaluation.counterfact import evaluate_requests
        from ..lm.generation import generate

        scores = request_scores(self.lm, requests)
        other = request_scores(self.lm, unrelated) if unrelated else []
        cf = evaluate_requests(self.lm, requests, generation_prompts=[], max_new_tokens=0) if requests else {}
        picks = _generation_prompts(requests, unrelated, self.config.generations)
        texts = generate(self.lm, picks, max_new_tokens=16) if picks else []
        return {"scores": scores, "unrelated": other, "counterfact": cf.get("summary", {}),
                "generations": dict(zip(picks, texts))}

    def _summary(self, graph_info, presence, traces, layers, requests, unrelated, install, before, after, edit, hparams):
        cfg = self.config
        styles = []
        edited = per_style(requests, before["scores"], after["scores"])
        node_id = graph_info["node_id"]
        for sid, metrics in edited.items():
            role = "edited" if sid == node_id else "subclass"
            styles.append(self._style_row(sid, role, metrics))
        if unrelated:
            for sid, metrics in per_style(unrelated, before["unrelated"], after["unrelated"]).items():
                styles.append(self._style_row(sid, "unrelated", metrics))
        generations = [{"prompt": p, "before": before["generations"].get(p, ""), "after": after["generations"].get(p, "")}
                       for p in before["generations"]]
        return {
            "run_id": self.run_id,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "config": cfg.to_dict(),
            "versions": _versions(),
            "graph": {k: graph_info[k] for k in ("name", "nodes", "edges", "source")},
            "edited_node": {"id": node_id, "name": self.graph.node(node_id).name, "type": self.graph.node(node_id).type.value},
            "presence": presence,
            "install": install if install.get("installed") else None,
            "requests": _requests_to(requests),
            "metrics": {"before": before["counterfact"], "after": after["counterfact"]},
            "styles": styles,
            "generations": generations,
            "traces": traces,
            "layers": layers,
            "edit": {"method": cfg.method, "hparams": dataclasses.asdict(hparams), "params_changed": edit["params_changed"]},
        }

    def _style_row(self, sid: str, role: str, metrics: dict[str, float]) -> dict[str, Any]:
        name = self.graph.node(sid).name if sid in self.graph else sid
        held_b, held_a = metrics["held_before"], metrics["held_after"]
        metrics = {**metrics, "drift": abs(metrics["marker_logprob_delta"])}
        if role != "unrelated" and "erase_success" in metrics:  # share of held edges the edit flipped (erase only
            metrics["efficacy"] = metrics["erase_success"]          # is scored where the model held the marker)
        return {"node_id": sid, "name": name, "role": role, "presence_before": metrics["marker_logprob_before"],
                "presence_after": metrics["marker_logprob_after"], "marker_rate_before": held_b,
                "marker_rate_after": held_a, "metrics": metrics}

    def _stage_writeback(self, summary: dict[str, Any], node_id: str, hparams) -> dict[str, Any]:
        from .writeback import write_back

        return write_back(self, summary, node_id, hparams)

    def _report(self, summary: dict[str, Any]) -> tuple[Path | None, Path | None]:
        from ..graphs.report import write_report

        return write_report(self.run_dir, summary, self.graph)


def _plain(effect: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(effect):
        return dataclasses.asdict(effect)
    return dict(effect)


def _load_graph(path: Path) -> StyleGraph:
    from ..kg.io import from_json

    return from_json(path.read_text(), source=str(path))


def _with_layers(hparams: Any, layers: list[int]) -> Any:
    if layers and hasattr(hparams, "layers"):
        return dataclasses.replace(hparams, layers=tuple(int(x) for x in layers))
    return hparams


def _mean(values) -> float:
    values = list(values)
    return float(sum(values) / len(values)) if values else 0.0


def _style_edges(requests: list[EditRequest]) -> list[EditRequest]:
    """The marker requests (trait → marker edges) when there are any: a style erase is about markers, not facts."""
    markers = [r for r in requests if (r.edge_id or "").startswith("EXPRESSED_BY")]
    return markers or requests


def _limit_edges(requests: list[EditRequest], max_edges: int) -> list[EditRequest]:
    """Keep the requests of the first ``max_edges`` distinct edges (all subjects of each)."""
    keep: list[str | None] = []
    for r in requests:
        if r.edge_id not in keep and len(keep) < max_edges:
            keep.append(r.edge_id)
    return [r for r in requests if r.edge_id in keep]


def _generation_prompts(requests: list[EditRequest], unrelated: list[EditRequest], n: int) -> list[str]:
    seen: dict[str, str] = {}
    for r in [*requests, *unrelated]:
        seen.setdefault(r.meta.get("subject_id") or r.subject, r.text)
    return list(seen.values())[: max(n, 0)]
