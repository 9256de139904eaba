"""``stylekg kg mine``: the graph learns a style from the model's own text.

1. Generate the model's answers to neutral instructions (the *train* split of a prompt set).
2. Compare their n-gram counts with a reference: the same model told to answer plainly, and/or a local text,
   by weighted log-odds with an informative Dirichlet prior (:mod:`stylekg.evaluation.phrase_stats`).
3. Propose the most over-used phrases as markers under traits, each with a neutral form (from the built-in
   plain-forms lexicon, or an LLM).
4. Return a graph the user reviews and merges with ``stylekg kg import`` (:mod:`stylekg.kg.mined`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EvaluationError, LLMError
from ..evaluation.generated_style import GREEDY, GenerationCache, Generations, SamplingSettings, generate
from ..evaluation.phrase_stats import PhraseScore, log_odds, occurrences
from ..evaluation.prompt_sets import PromptSet
from ..kg.graph import StyleGraph
from ..kg.mined import DEFAULT_TRAIT, MinedMarker, MinedStyle, mined_graph

PLAIN_SYSTEM = "Answer plainly and briefly. No filler, no flattery, no flowery words."
LEXICON = Path(__file__).resolve().parents[1] / "data" / "lexicon" / "plain_forms.json"


@dataclass
class MineResult:
    graph: StyleGraph
    mined: MinedStyle
    phrases: list[PhraseScore]
    answers: Generations
    reference_size: int


def reference_texts(lm: Any, prompts: tuple[str, ...], reference: str, settings: SamplingSettings,
                    cache: GenerationCache | None) -> tuple[list[str], str]:
    """(texts, description): ``plain`` = the same model told to answer plainly; else a UTF-8 text file
    (paragraphs); ``plain+FILE`` uses both."""
    texts, names = [], []
    for part in reference.split("+"):
        if part == "plain":
            plain = SamplingSettings(**{**settings.__dict__, "system": PLAIN_SYSTEM})
            texts += generate(lm, prompts, plain, cache=cache).texts()
            names.append("plain-instructed answers")
        else:
            path = Path(part)
            if not path.is_file():
                raise EvaluationError(f"reference {part!r} is neither 'plain' nor a text file",
                                      hint="use --reference plain, --reference FILE.txt or plain+FILE.txt")
            try:
                texts += [p.strip() for p in path.read_text("utf-8").split("\n\n") if p.strip()]
            except UnicodeDecodeError:
                raise EvaluationError(f"reference file {path} is not UTF-8 text") from None
            names.append(path.name)
    return texts, " + ".join(names)


def lexicon_forms(phrases: list[str]) -> tuple[dict[str, tuple[str, str | None]], dict[str, str]]:
    """(phrase → (trait, neutral form or None), trait descriptions) from the built-in plain-forms lexicon."""
    data = json.loads(LEXICON.read_text("utf-8"))
    forms = data["forms"]
    out = {}
    for p in phrases:
        hit = forms.get(p.lower())
        out[p] = (hit["trait"], hit["neutral"] or None) if hit else (DEFAULT_TRAIT, None)
    return out, dict(data["traits"])


FORMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"forms": {"type": "array", "items": {
        "type": "object", "properties": {"phrase": {"type": "string"}, "trait": {"type": "string"},
                                         "neutral": {"type": "string"}},
        "required": ["phrase", "trait", "neutral"]}}},
    "required": ["forms"],
}


def llm_forms(client: Any, style: str, phrases: list[str]) -> tuple[dict[str, tuple[str, str | None]], dict[str, str]]:
    """Traits and neutral forms from an LLM (one request; the client validates, re-asks and caches)."""
    prompt = (f"These phrases are over-used in the {style} style: {json.dumps(phrases)}.\n"
              "For each phrase give a short trait name that groups it with similar phrases, and a plain neutral "
              "form a plain writer would use instead (empty string to drop it). Answer as JSON: "
              '{"forms": [{"phrase": ..., "trait": ..., "neutral": ...}]}')
    answer = client.complete_json(prompt, FORMS_SCHEMA)
    given = {str(f["phrase"]).lower(): f for f in answer["forms"]}
    missing = [p for p in phrases if p.lower() not in given]
    if missing:
        raise LLMError(f"the LLM gave no neutral form for {len(missing)} phrase(s), e.g. {missing[0]!r}",
                       hint="try again, or use --provider library")
    return {p: (str(given[p.lower()]["trait"]) or DEFAULT_TRAIT, str(given[p.lower()]["neutral"]) or None)
            for p in phrases}, {}


def mine(lm: Any, style: str, prompts: PromptSet, *, reference: str = "plain", top: int = 20, min_z: float = 1.0,
         provider: str = "library", llm_model: str = "", parent: str | None = None,
         settings: SamplingSettings = GREEDY, cache: GenerationCache | None = None, alpha0: float = 500.0,
         kind: str = "Style") -> MineResult:
    """Mine ``style`` from ``lm``'s answers to the train split of ``prompts`` (see module doc)."""
    train = prompts.split("train")
    answers = generate(lm, train, settings, cache=cache)
    ref, ref_name = reference_texts(lm, train, reference, settings, cache)
    scores = [p for p in log_odds(answers.texts(), ref, alpha0=alpha0) if p.z >= min_z][:top]
    if not scores:
        raise EvaluationError(f"no phrase is over-used at z >= {min_z} against {ref_name}",
                              hint="lower --min-z, use more prompts, or another --reference")
    phrases = [p.phrase for p in scores]
    if provider == "library":
        forms, descriptions = lexicon_forms(phrases)
    else:
        from ..kg.llm import make_client

        forms, descriptions = llm_forms(make_client(provider, llm_model or None), style, phrases)
    pairs = answers.pairs()
    markers = tuple(
        MinedMarker(p.phrase, p.z, p.count, p.count_reference, p.documents, forms[p.phrase][1], forms[p.phrase][0],
                    tuple(o.__dict__ for o in occurrences(pairs, p.phrase)))
        for p in scores)
    mined = MinedStyle(style, str(getattr(lm, "name", "model")), f"{prompts.name}/train", ref_name, markers, parent,
                       descriptions, kind)
    return MineResult(mined_graph(mined), mined, scores, answers, len(ref))
