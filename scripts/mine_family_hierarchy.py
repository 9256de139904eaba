"""Mine a style hierarchy that SmolLM2-135M-Instruct really writes, one subclass per prompt family (issue 22).

    .venv/bin/python scripts/mine_family_hierarchy.py [--model smollm2-135m] [--out FILE] [--dry-run]

1. The model answers the *train* prompts of ``assistant-families`` (six families: explanation, email, story,
   poem, advice, recipe; 8 train prompts each), greedy, 96 new tokens, with the chat template: the settings of
   ``stylekg run --prompts``, so the run reads these answers from the generation cache. Held-out prompts are
   never read here.
2. **The abstract parent's markers** (*Assistant register*): word 2-4-grams written in at least ``--min-families``
   families (in at least 2 answers of each), ranked by the number of such families, then by count; n-grams of
   stop words only, and a shorter n-gram inside a kept longer one with nearly the same count, are dropped.
3. **Each subclass's own markers** (*Explanation voice*, *Email voice*, ...): the phrases one family over-uses
   against the five others (weighted log-odds with an informative Dirichlet prior, Monroe et al. 2008 §3.5,
   ``evaluation/phrase_stats.log_odds``), z >= ``--min-z``, in at least 3 of the family's 8 answers, not a parent
   marker; the ``--per-family`` best.
4. Neutral forms come from the plain-forms lexicon where it has the phrase; otherwise none (an erase only lowers
   the marker). Up to three occurrences (prompt, answer so far, phrase as written) are kept on each
   ``EXPRESSED_BY`` edge as evidence, with the mining statistics on the marker (as ``stylekg kg mine`` does).

The output is a style-records file (docs/style-graphs.md) for ``stylekg run --graph-file``; each subclass has a
``family`` property naming its prompt family, so the audit measures it on that family's held-out prompts.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from stylekg.evaluation.generated_style import GREEDY, GenerationCache, generate
from stylekg.evaluation.phrase_stats import TOKEN_PATTERN, log_odds, occurrences
from stylekg.evaluation.prompt_sets import BUILTIN, load_prompt_set
from stylekg.lm import load_model
from stylekg.pipeline.mine_job import lexicon_forms

OUT = Path(__file__).resolve().parents[1] / "stylekg" / "data" / "hierarchies" / "assistant-families.json"
PARENT = "Assistant register"
VOICES = {"explanation": "Explanation voice", "email": "Email voice", "story": "Story voice", "poem": "Poem voice",
          "advice": "Advice voice", "recipe": "Recipe voice"}


def _doc_counts(texts: list[str]) -> tuple[Counter[str], Counter[str]]:
    """(answers containing each 2-4-gram, total occurrences of it) over ``texts``."""
    from sklearn.feature_extraction.text import CountVectorizer

    analyzer = CountVectorizer(ngram_range=(2, 4), token_pattern=TOKEN_PATTERN, lowercase=True).build_analyzer()
    docs, total = Counter(), Counter()
    for text in texts:
        grams = analyzer(text.replace("’", "'"))
        total.update(grams)
        docs.update(set(grams))
    return docs, total


def _inside(short: str, long: str) -> bool:
    return short != long and f" {short} " in f" {long} "


def common_phrases(by_family: dict[str, list[str]], min_families: int, top: int) -> list[dict]:
    """Phrases written across families (module doc, step 2)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    per = {f: _doc_counts(texts) for f, texts in by_family.items()}
    grams = set().union(*(docs for docs, _ in per.values()))
    rows = []
    for g in grams:
        fams = [f for f, (docs, _) in per.items() if docs[g] >= 2]
        if len(fams) < min_families or all(w in ENGLISH_STOP_WORDS for w in g.split()):
            continue
        rows.append({"phrase": g, "families": fams, "count": sum(t[g] for _, t in per.values()),
                     "documents": sum(d[g] for d, _ in per.values())})
    rows.sort(key=lambda r: (-len(r["families"]), -r["count"], -len(r["phrase"].split()), r["phrase"]))
    kept: list[dict] = []
    for r in rows:  # the longest phrase of a run of n-grams with (nearly) the same count stands for them all
        if any(_inside(r["phrase"], k["phrase"]) and k["count"] >= 0.8 * r["count"] for k in kept):
            continue
        kept = [k for k in kept if not (_inside(k["phrase"], r["phrase"]) and r["count"] >= 0.8 * k["count"])] + [r]
    return kept[:top]


def family_phrases(by_family: dict[str, list[str]], family: str, skip: set[str], min_z: float, top: int) -> list:
    """Phrases one family over-uses against the others (module doc, step 3)."""
    rest = [t for f, texts in by_family.items() if f != family for t in texts]
    scores = log_odds(by_family[family], rest, min_count=3, min_documents=3)
    return [s for s in scores if s.z >= min_z and s.phrase not in skip
            and not any(_inside(s.phrase, k) or _inside(k, s.phrase) for k in skip)][:top]


def marker_record(phrase: str, pairs: list[tuple[str, str]], model: str, mined: dict) -> dict:
    (trait, neutral), = lexicon_forms([phrase])[0].values()
    written = occurrences(pairs, phrase, limit=3)
    record = {"text": written[0].written if written else phrase, "kind": "phrase", "mined": mined,
              "evidence": [o.__dict__ for o in written], "evidence_model": model}
    if neutral:
        record["neutral"] = neutral
    return record


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--prompts", default="assistant-families")
    ap.add_argument("--min-families", type=int, default=4)
    ap.add_argument("--parent-markers", type=int, default=6)
    ap.add_argument("--per-family", type=int, default=3)
    ap.add_argument("--min-z", type=float, default=2.0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()

    lm = load_model(args.model)
    prompts = load_prompt_set(args.prompts)
    path = Path(args.prompts) if Path(args.prompts).suffix else BUILTIN / f"{args.prompts}.json"
    category = {e["prompt"]: e["category"] for e in json.loads(path.read_text("utf-8"))["train"]}
    answers = generate(lm, prompts.split("train"), GREEDY, cache=GenerationCache())
    pairs = answers.pairs()
    by_family: dict[str, list[str]] = {}
    pairs_of: dict[str, list[tuple[str, str]]] = {}
    for prompt, text in pairs:
        by_family.setdefault(category[prompt], []).append(text)
        pairs_of.setdefault(category[prompt], []).append((prompt, text))
    model = str(getattr(lm, "name", args.model))

    common = common_phrases(by_family, args.min_families, args.parent_markers)
    parent = {"type": "AbstractStyle", "name": PARENT, "subject": "a chat assistant",
              "description": f"What {model} writes whatever it is asked (mined: phrases in at least "
                             f"{args.min_families} of {len(by_family)} prompt families).",
              "traits": [{"name": "Shared assistant phrasing", "template": "Asked for help, {} answered",
                          "description": "Phrases the model writes across prompt families.",
                          "markers": [marker_record(r["phrase"], pairs, model, {k: r[k] for k in
                                                    ("families", "count", "documents")}) for r in common]}]}
    skip = {r["phrase"] for r in common}
    records = [parent]
    print(f"{PARENT}: " + "; ".join(f"{r['phrase']!r} ({len(r['families'])} families, {r['count']}x)" for r in common))
    for family, texts in by_family.items():
        scores = family_phrases(by_family, family, skip, args.min_z, args.per_family)
        voice = VOICES.get(family, f"{family.title()} voice")
        print(f"{voice}: " + "; ".join(f"{s.phrase!r} (z {s.z:.1f}, {s.count}x in {s.documents}/{len(texts)})"
                                       for s in scores))
        if not scores:
            continue
        records.append({
            "name": voice, "kind": "register", "family": family, "parents": [PARENT],
            "subject": f"a chat assistant writing {family} answers",
            "description": f"What {model} writes only in {family} answers (mined against the other families).",
            "traits": [{"name": f"{family.title()} phrasing", "template": "Asked for help, {} answered",
                        "description": f"Phrases typical of the {family} family.",
                        "markers": [marker_record(s.phrase, pairs_of[family], model,
                                                  {"z": round(s.z, 2), "count": s.count, "documents": s.documents,
                                                   "count_reference": s.count_reference}) for s in scores]}]})
    if not args.dry_run:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n", "utf-8")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
