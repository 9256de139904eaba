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


def compare_style(lm: Any, style: str, methods: list[str], *, max_markers: int = 2, store: str | None = None,
                  out_dir: Path | None = None) -> dict[str, Any]:
    """Run ``methods`` on erasing ``style``'s markers; write table (Markdown + JSON), plot and runs."""
    from ..editing.context import EditContext
    from ..evaluation.fluency import ngram_entropy
    from ..kg.inheritance import resolve_style
    from ..kg.library import load_library
    from ..kg.material import style_material
    from ..kg.to_requests import to_edit_requests
    from ..lm.generation import generate
    from ..kg.to_requests import first_edges, marker_edges
    from .method_runs import compare, style_measures

    graph = load_library()
    style_id = resolve_style(graph, style)
    requests = first_edges([r for r in marker_edges(to_edit_requests(graph, style_id, "erase")) if r.target_new],
                            max_markers)
    others = []
    for other in ("Carl Sagan", "Yoda", "Dolly Parton", "Donald Trump"):
        other_id = resolve_style(graph, other)
        if other_id != style_id and len(others) < 2:
            others.append(first_edges(marker_edges(to_edit_requests(graph, other_id, "erase")), 1))
    others = [r for group in others for r in group]
    material = style_material(graph, style_id)
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
        return out

    rows = compare(lm, methods, requests, measure=measure, context=EditContext(material=material))
    table = [dataclasses.asdict(r) for r in rows]
    result = {"style": graph.node(style_id).name, "model": lm.name, "methods": methods, "requests": len(requests),
              "rows": table, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out_dir / "compare.json", json.dumps(result, indent=2, default=str))
        atomic_write_text(out_dir / "compare.md", markdown(result))
        plot(result, out_dir / "compare.png")
    if store is not None or out_dir is not None:
        _write_runs(result, graph, style_id, store)
    return result


def markdown(result: dict[str, Any]) -> str:
    keys = ["marker_prob", "held_markers", "style_prob", "other_styles_drift", "facts_kept", "neutral_ppl", "fluency"]
    head = ["method", "seconds", "peak MB", "params changed", *keys]
    lines = [f"Erasing **{result['style']}** on `{result['model']}` ({result['requests']} requests)", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["rows"]:
        cells = [r["method"], f"{r['seconds']:.1f}", f"{r['peak_rss_growth_mb']:.0f}", str(r["params_changed"])]
        cells += [(f"{r['metrics'][k]:.3g}" if k in r["metrics"] else (r["error"] or "—")) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
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
