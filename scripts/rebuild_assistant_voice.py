"""Rebuild the library's assistant voice from what SmolLM2-135M-Instruct really writes (issue 12).

    .venv/bin/python scripts/rebuild_assistant_voice.py [--model smollm2-135m] [--dry-run]

1. ``stylekg kg mine``'s job on the train split of ``assistant-instructions`` against the same model told to
   answer plainly: the phrases it over-uses (weighted log-odds, informative Dirichlet prior).
2. The candidate markers: the mined phrases with a plain form in the lexicon, plus every hand-written marker of
   the library's Assistant-speak and of the lexicon that the model also writes (at least ``--min-count`` times in
   its train answers). Markers the model never writes are dropped.
3. Each marker goes to the trait the lexicon names, and every trait the model writes goes to the abstract parent
   *Formulaic register*: the voice SmolLM2 writes is the templated register it shares with institutional prose
   (importance, imagery, praise, buzzwords, service reassurance, signposting). Assistant-speak keeps its name,
   aliases and parent, and none of its own markers survive: the hand-written ones ("Overall,", "delve into",
   "I hope this helps!") are not what this model writes. Measured first with traits left on Assistant-speak:
   erasing the parent moved the model onto the subclass's own markers (with reassurance there, "I'm here to
   help" 4 → 16 times in the 48 held-out answers; with signposting there, "Here's a" 5 → 12), so the subclass
   kept its rate (7.2 → 6.2 and → 3.4 per 1,000 tokens, intervals overlapping) while the parent's fell to
   0.5-0.7. A voice split across parent and child is erased only where the edit reaches.
   Up to three occurrences are kept on each marker as evidence.

The library files are written (``stylekg/data/library/_abstract.json`` for the parent's traits,
``assistant-speak.json``) unless ``--dry-run``; the table of what was kept is printed either way.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from stylekg.evaluation.generated_style import GenerationCache, count_markers, marker_variants
from stylekg.evaluation.phrase_stats import occurrences
from stylekg.evaluation.prompt_sets import load_prompt_set
from stylekg.lm import load_model
from stylekg.material import Marker
from stylekg.pipeline.mine_job import LEXICON, mine

LIBRARY = Path(__file__).resolve().parents[1] / "stylekg" / "data" / "library"
PARENT = "Formulaic register"
# which lexicon traits are the shared voice (the parent's) and which the chatbot's own (Assistant-speak's)
PARENT_TRAITS = ("Grand importance", "Flowery imagery", "Effusive praise", "Buzzwords", "Supportive reassurance",
                 "Formulaic structure")
OWN_TRAITS: tuple[str, ...] = ()
TEMPLATE = "Asked a plain question, {} answers that it is"


def candidates(lexicon: dict, hand: dict[str, str], mined: list) -> dict[str, dict]:
    """phrase → {trait, neutral, z?} for every lexicon phrase, hand-written marker and mined phrase with a form."""
    out = {p: {"trait": f["trait"], "neutral": f["neutral"]} for p, f in lexicon["forms"].items()}
    for phrase, neutral in hand.items():
        key = phrase.lower().rstrip(",.!")
        trait = out.get(key, {}).get("trait", "Formulaic structure")
        out[key] = {"trait": trait, "neutral": neutral, "text": phrase}
    for m in mined:
        key = m.phrase.lower()
        if key in out:
            out[key]["z"] = round(m.z, 2)
    return out


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--model", default="smollm2-135m")
    args.add_argument("--min-count", type=int, default=2)
    args.add_argument("--dry-run", action="store_true")
    opts = args.parse_args()
    lm = load_model(opts.model)
    prompts = load_prompt_set("assistant-instructions")
    result = mine(lm, "Assistant voice", prompts, reference="plain", top=60, min_z=0.5, cache=GenerationCache())
    lexicon = json.loads(LEXICON.read_text("utf-8"))
    speak = json.loads((LIBRARY / "assistant-speak.json").read_text("utf-8"))
    hand = {m["text"]: m.get("neutral") or "" for t in speak["traits"] for m in t["markers"]}
    pool = candidates(lexicon, hand, result.phrases)
    answers = result.answers.pairs()
    texts = [a for _, a in answers]
    variants = marker_variants([Marker(info.get("text", p)) for p, info in pool.items()])
    counts: Counter[str] = Counter()
    for text in texts:
        counts += count_markers(text, variants)
    kept = {p: {**info, "count": counts[info.get("text", p)]} for p, info in pool.items()
            if counts[info.get("text", p)] >= opts.min_count}
    print(f"{len(texts)} train answers; {len(kept)} of {len(pool)} candidate markers written ≥ {opts.min_count} times")
    for p, info in sorted(kept.items(), key=lambda kv: -kv[1]["count"]):
        print(f"  {info['count']:3d}  z={info.get('z', '-')!s:>5}  {info['trait']:<22} {p!r} → {info['neutral']!r}")
    traits: dict[str, list[dict]] = {}
    for p, info in kept.items():
        text = info.get("text", p)
        evidence = [o.__dict__ for form in variants[text] for o in occurrences(answers, form)][:3]
        example = next((o["prefix"].rsplit(". ", 1)[-1] + o["written"] for o in evidence), "")
        record = {"text": re.sub(r"\bi'm\b", "I'm", text), "kind": "mined", "neutral": info["neutral"] or None, "example": example.strip(),
                  "mined": {"count": info["count"], "z": info.get("z"), "answers": len(texts)},
                  "evidence": evidence, "evidence_model": opts.model}
        traits.setdefault(info["trait"], []).append({k: v for k, v in record.items() if v not in (None, "")})
    descriptions = lexicon["traits"]
    parent_traits = [{"name": t, "description": descriptions[t], "template": TEMPLATE, "markers": traits[t]}
                     for t in PARENT_TRAITS if t in traits]
    own_traits = [{"name": t, "description": descriptions[t], "template": TEMPLATE, "markers": traits[t]}
                  for t in OWN_TRAITS if t in traits]
    if opts.dry_run:
        return
    abstract = json.loads((LIBRARY / "_abstract.json").read_text("utf-8"))
    for entry in abstract["abstract_styles"]:
        if entry["name"] == PARENT:
            entry["traits"] = parent_traits
            entry["subject"] = "a chat assistant"
            entry["description"] = ("Templated prose of chat assistants and institutions: everything is vital, "
                                    "intricate and a journey (mined from SmolLM2-135M-Instruct's answers).")
    (LIBRARY / "_abstract.json").write_text(json.dumps(abstract, indent=2, ensure_ascii=False) + "\n", "utf-8")
    speak["traits"] = own_traits  # none: see 3. above
    speak["description"] = ("The chat-assistant voice. As SmolLM2-135M-Instruct writes it, it is the formulaic "
                            "register it inherits (mined from its answers); the ChatGPT habits once listed here "
                            "('Overall,', 'delve into') are not what this model writes.")
    (LIBRARY / "assistant-speak.json").write_text(json.dumps(speak, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {LIBRARY / '_abstract.json'} ({PARENT}) and {LIBRARY / 'assistant-speak.json'}")


if __name__ == "__main__":
    main()
