"""``stylekg compare``: every editing method on the same style-erasure task, in one table.

Each method gets the same erase requests (marker → neutral counterpart, from the style graph) and the
same style material; each is measured while its edit is active and restored exactly before the next.
Measured: style strength removed (marker phrase probability, held marker edges, a hidden-state style
probe), specificity (other styles' markers, known facts' top-1, neutral-text perplexity), fluency of
persona generations, and cost (wall time, peak memory growth, parameters changed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

from ..kg.planner import EditPlan
from ..requests import RequestKind
from .measure import request_scores
from .records import compare_records
from ..paths import atomic_path, atomic_write_text

KNOWN_FACTS = (
    ("The capital city of France is", " Paris"),
    ("The capital city of Germany is", " Berlin"),
    ("The capital city of Japan is", " Tokyo"),
    ("The capital city of Italy is", " Rome"),
)
DEFAULT_METHODS = ("ft", "penalty-ft", "classifier-ft", "lora", "rome", "memit", "alphaedit", "steer")


def _facts_measure(lm: Any) -> float:
    from ..lm.generation import next_token_top

    kept = [next_token_top(lm, p, k=1)[0][0] == t for p, t in KNOWN_FACTS]
    return sum(kept) / len(kept)


def compare_plan(graph: Any, style: str, max_markers: int = 2) -> EditPlan:
    """What ``stylekg compare`` edits (:func:`stylekg.kg.planner.plan` with its selection): the style as a reader
    meets it (its own markers and those it inherits), only markers with a neutral form, the first ``max_markers``
    edges; two unrelated styles' first marker each, chosen from the graph."""
    from ..kg.planner import plan

    return plan(graph, style, mode=RequestKind.ERASE, inherited=True, markers_only=True, require_new=True,
                max_markers=max_markers, n_unrelated=2, unrelated_edges=1)


def compare_style(lm: Any, style: str, methods: list[str], *, max_markers: int = 2, store: str | None = None,
                  out_dir: Path | None = None, prompts: str | None = None, edit_data: str = "requests",
                  hparams: dict[str, Any] | None = None, max_new_tokens: int = 96, seed: int = 0) -> dict[str, Any]:
    """Run ``methods`` on erasing ``style``'s markers; write table (Markdown + JSON), plot and runs.

    With ``prompts`` (a prompt set) every row also gets generation columns on its held-out split, and two more
    baselines: ``prompting`` (a system instruction, no weight change) and, when ``steer`` is compared, its strength
    chosen on the train split. ``edit_data = "occurrences"``: the methods train on where the model writes the
    markers in its answers to the train split (requests with the chat's ``assistant`` role as subject).
    """
    from ..editing.context import EditContext
    from ..evaluation.fluency import ngram_entropy
    from ..kg.inheritance import resolve_style
    from ..kg.library import load_library
    from ..kg.material import style_material
    from ..lm.generation import generate
    from .method_runs import MethodRun, compare, style_measures

    graph = load_library()
    style_id = resolve_style(graph, style)
    plan = compare_plan(graph, style_id, max_markers)
    requests, others = plan.requests, plan.unrelated
    material = style_material(graph, style_id)
    columns, search = None, None
    if prompts:
        columns, material, requests = _generation_setup(lm, material, requests, prompts, edit_data, max_new_tokens,
                                                        seed)
    style_measure = style_measures(lm, material)
    base_others = request_scores(lm, others)
    personas = list(material.require_prompts())[:3]

    def measure(current: Any) -> dict[str, float]:
        out = style_measure(current)
        scores = request_scores(current, requests)
        out["held_markers"] = sum(s["holds"] for s in scores) / len(scores)
        moved = request_scores(current, others)
        out["other_styles_drift"] = sum(abs(a["marker_logprob"] - b["marker_logprob"]) for a, b in zip(moved, base_others)) / max(1, len(moved))
        out["facts_kept"] = _facts_measure(current)
        texts = generate(current, personas, max_new_tokens=24)
        out["fluency"] = ngram_entropy(texts)
        if columns is not None:
            out.update(columns(current))
        return out

    context = EditContext(material=material, preserved=plan.preserved)
    chosen = dict(hparams or {})
    if columns is not None and "steer" in methods and "steer" not in chosen:
        from ..editing.hparams_files import load_method
        from .compare_generation import steering_search

        method, steer_hp = load_method("steer", lm.name)
        chosen["steer"], search = steering_search(lm, method, steer_hp, requests, context, columns)
    rows = compare(lm, methods, requests, measure=measure, context=context, hparams=chosen)
    if columns is not None:
        from .compare_generation import PLAIN_INSTRUCTION

        rows.append(MethodRun("prompting", metrics=columns(lm, system=PLAIN_INSTRUCTION),
                              info={"system": PLAIN_INSTRUCTION}))
    table = [dataclasses.asdict(r) for r in rows]
    result = {"style": graph.node(style_id).name, "model": lm.name, "methods": methods, "requests": len(requests),
              "rows": table, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "prompts": prompts, "edit_data": edit_data, "steering_search": search,
              "generation_settings": dataclasses.asdict(columns.settings) if columns else None,
              "heldout_prompts": len(columns.heldout) if columns else 0}
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out_dir / "compare.json", json.dumps(result, indent=2, default=str))
        atomic_write_text(out_dir / "compare.md", markdown(result))
        plot(result, out_dir / "compare.png")
    if store is not None or out_dir is not None:
        _write_runs(result, graph, style_id, store)
    return result


def _generation_setup(lm: Any, material: Any, requests: list[Any], prompts: str, edit_data: str,
                      max_new_tokens: int, seed: int) -> tuple[Any, Any, list[Any]]:
    """The generation columns, and (``occurrences``) the material and requests from the model's own answers."""
    from ..evaluation.generated_style import GenerationCache, SamplingSettings, generate as answer
    from ..evaluation.prompt_sets import load_prompt_set
    from .compare_generation import GenerationColumns
    from .occurrences import context_requests, with_occurrences

    prompt_set = load_prompt_set(prompts)
    settings = SamplingSettings(max_new_tokens=max_new_tokens, seed=seed)
    cache = GenerationCache()
    columns = GenerationColumns(lm, material, prompt_set, settings, cache, seed)
    if edit_data == "occurrences":
        material = with_occurrences(material, lm.tokenizer, answer(lm, columns.train, settings, cache=cache))
        requests = context_requests(material.contexts)
    return columns, material, requests


def markdown(result: dict[str, Any]) -> str:
    keys = ["marker_prob", "held_markers", "style_prob", "other_styles_drift", "facts_kept", "neutral_ppl", "fluency"]
    head = ["method", "seconds", "peak MB", "params changed", *keys]
    gen = bool(result.get("prompts"))
    if gen:
        head += ["generated markers /1k [95% CI]", "classifier P(style)", "fluency ppl", "distinct-2", "repetition",
                 "facts kept (gen)"]
    lines = [f"Erasing **{result['style']}** on `{result['model']}` ({result['requests']} requests)", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["rows"]:
        m = r["metrics"]
        cells = [r["method"], f"{r['seconds']:.1f}", f"{r['peak_rss_growth_mb']:.0f}", str(r["params_changed"])]
        cells += [(f"{m[k]:.3g}" if k in m else (r["error"] or "—")) for k in keys]
        if gen:
            rate = (f"{m['gen_marker_rate']:.1f} [{m['gen_marker_rate_low']:.1f}, {m['gen_marker_rate_high']:.1f}]"
                    if "gen_marker_rate" in m else (r["error"] or "—"))
            cells += [rate] + [(f"{m[k]:.3g}" if k in m else "—") for k in
                               ("gen_style_probability", "gen_fluency_ppl", "gen_distinct_2", "gen_repetition",
                                "gen_facts_kept")]
        lines.append("| " + " | ".join(cells) + " |")
    if gen:
        lines += ["", f"Generated columns: {result.get('heldout_prompts')} held-out prompts of "
                      f"'{result['prompts']}', greedy; fluency ppl is the answers' perplexity under the unedited model; "
                      f"classifier held-out accuracy "
                      f"{next((r['metrics'].get('gen_classifier_accuracy') for r in result['rows'] if 'gen_classifier_accuracy' in r['metrics']), float('nan')):.2f}."]
        if result.get("steering_search"):
            picks = ", ".join(f"{t['strength']:g}: {t['gen_marker_rate']:.1f}/1k ppl {t['gen_fluency_ppl']:.2f}"
                              for t in result["steering_search"])
            lines.append(f"Steering strength search on train prompts (strength: markers, perplexity): {picks}.")
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result["rows"] if not r.get("error")]
    names = [r["method"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, key, title in zip(axes, ("marker_prob", "facts_kept", "seconds"),
                              ("marker phrase probability (lower: erased)", "known facts kept (top-1)", "wall time (s)")):
        values = [r["seconds"] if key == "seconds" else r["metrics"].get(key, float("nan")) for r in rows]
        ax.bar(names, values, color="#4a7ab5")
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="x", rotation=45, labelsize=8)
        if key == "marker_prob":
            ax.set_yscale("log")
    fig.suptitle(f"erasing {result['style']} on {result['model']}", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path


def _write_runs(result: dict[str, Any], graph: Any, style_id: str, store: str | None) -> None:
    from ..kg.stores import open_store

    with open_store(store) as st:
        st.save_graph(graph)
        for record in compare_records(style=result["style"], style_id=style_id, model=result["model"],
                                      graph=graph.name, created=result["created"], rows=result["rows"]):
            st.write_run(record)
