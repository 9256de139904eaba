"""Request tokenisation and context prefixes shared by ROME, MEMIT and AlphaEdit.

ROME/MEMIT average keys and optimise values over the request's prompt preceded by a few short
texts the model itself generates (the "context templates" of the papers), so an edit does not
depend on the exact start of the sentence. As in the reference (``get_context_templates``), the
texts are sampled with top-k 5 from the seed words "The", "Therefore", "Because", "I", "You";
``(length, count)`` gives ``count`` texts of ``length`` tokens *including* the seed word (the
reference's ``max_out_len``). Each (length, count) pair is one *context type*; the unprefixed
prompt is type 0. Prefixes are generated deterministically (fixed seed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from ...errors import EditError
from ...lm.placement import input_device
from ...lm.tokens import SpanError, encode, target_ids
from ...requests import EditRequest

log = logging.getLogger(__name__)

SEED_WORDS = ("The", "Therefore", "Because", "I", "You")


@dataclass(frozen=True)
class Tokenised:
    """One sequence to run: token ids, the subject's last token and the positions to score."""

    ids: list[int]
    lookup: int  # index of the subject's last token (where keys are read and deltas added)
    target_positions: tuple[int, ...] = ()  # positions whose next-token prediction is scored
    target_tokens: tuple[int, ...] = ()  # the tokens those positions should (not) predict


def _check_in_vocab(tokenizer, ids: list[int], what: str) -> None:
    if any(i >= len(tokenizer) for i in ids):
        raise EditError(f"{what} tokenises to ids outside the vocabulary")


def subject_lookup(tokenizer, text: str, subject: str, char_start: int) -> tuple[list[int], int]:
    """Token ids of ``text`` and the index of the last token of ``subject`` starting at ``char_start``."""
    occurrence, pos = 0, text.find(subject)
    while pos != -1 and pos < char_start:
        occurrence += 1
        pos = text.find(subject, pos + 1)
    try:
        enc = encode(tokenizer, text, subject, occurrence=occurrence)
    except (SpanError, IndexError) as exc:
        raise EditError(f"cannot locate subject {subject!r} in {text!r}: {exc}") from None
    assert enc.subject_span is not None
    return enc.ids.tolist(), enc.subject_span[1] - 1


def prompt_ids(tokenizer, request: EditRequest, prefix: str = "", template: str | None = None) -> tuple[list[int], int]:
    """Ids of ``prefix + template.format(subject)`` and the subject's last-token index."""
    template = request.prompt if template is None else template
    if "{}" not in template:
        raise EditError(
            f"request {request.case_id or request.subject!r}: subject {request.subject!r} is missing from prompt {template!r}",
            hint="write the prompt with '{}' where the subject goes",
        )
    text = prefix + template.format(request.subject)
    leading = len(request.subject) - len(request.subject.lstrip())
    char_start = len(prefix) + template.index("{}") + leading
    return subject_lookup(tokenizer, text, request.subject.strip(), char_start)


def objective_target(tokenizer, request: EditRequest) -> tuple[list[int], bool]:
    """(target token ids, unlikelihood?) of a request.

    ``target_new`` is made likely; an erase request without a new object lowers ``target_true``
    instead (unlikelihood objective, -log(1 - p)), see docs/editing.md.
    """
    try:
        if request.target_new is not None:
            ids = target_ids(tokenizer, request.target_new)
            _check_in_vocab(tokenizer, ids, f"target {request.target_new!r}")
            return ids, False
        ids = target_ids(tokenizer, request.target_true or "")
        return ids, True
    except SpanError as exc:
        raise EditError(f"request {request.case_id or request.text!r}: {exc}") from None


def rewrite_sequence(tokenizer, request: EditRequest, prefix: str, target: list[int]) -> Tokenised:
    """``prefix + prompt + target[:-1]``: each target token is scored at the position before it."""
    ids, lookup = prompt_ids(tokenizer, request, prefix)
    start = len(ids) - 1
    full = ids + target[:-1]
    return Tokenised(full, lookup, tuple(range(start, start + len(target))), tuple(target))


def essence_sequence(tokenizer, request: EditRequest, template: str = "{} is a") -> Tokenised:
    """The KL "essence" prompt of ROME eq. 4. As in the reference (``compute_v``/``compute_z``: the KL
    logits are read at ``lookup_idxs[-1]``), the distribution compared is the one at the subject's
    last token of ``template``, where the delta is also added."""
    ids, lookup = prompt_ids(tokenizer, request, "", template)
    return Tokenised(ids, lookup, (lookup,))


def validate_requests(tokenizer, requests: list[EditRequest], essence_template: str | None = None) -> None:
    """Fail early, naming the request, before any weight changes."""
    if not requests:
        raise EditError("no edit requests given", hint="pass at least one EditRequest")
    if essence_template is not None and essence_template.count("{}") != 1:
        raise EditError(f"essence_template {essence_template!r} needs exactly one '{{}}' for the subject",
                        hint='use e.g. "{} is a"')
    for request in requests:
        prompt_ids(tokenizer, request)
        objective_target(tokenizer, request)
        if essence_template is not None:
            prompt_ids(tokenizer, request, "", essence_template)


def pad_batch(seqs: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded (ids, attention mask); positions before the padding are unaffected."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids.to(device), mask.to(device)


def pad_id(tokenizer) -> int:
    pid = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return int(pid if pid is not None else 0)


@dataclass(frozen=True)
class ContextPrefixes:
    """Prefix texts and the context type of each (type 0 is the unprefixed prompt ``""``)."""

    texts: tuple[str, ...]
    types: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.texts)

    def __iter__(self):
        return iter(self.texts)

    def groups(self) -> list[list[int]]:
        """Indices of the prefixes of each context type, in type order."""
        out: dict[int, list[int]] = {}
        for i, t in enumerate(self.types):
            out.setdefault(t, []).append(i)
        return [out[t] for t in sorted(out)]

    @classmethod
    def plain(cls, texts: list[str] | tuple[str, ...]) -> "ContextPrefixes":
        """Every text its own type 0 (one flat group), e.g. for tests that give prefixes by hand."""
        return cls(tuple(texts), tuple(0 for _ in texts))


def as_prefixes(prefixes: "ContextPrefixes | list[str] | tuple[str, ...]") -> ContextPrefixes:
    return prefixes if isinstance(prefixes, ContextPrefixes) else ContextPrefixes.plain(prefixes)


@torch.no_grad()
def context_prefixes(model, tokenizer, lengths_counts: tuple[tuple[int, int], ...], seed: int = 0) -> ContextPrefixes:
    """``""`` plus model-generated prefixes ending in ``". "`` (ROME/MEMIT context templates).

    ``lengths_counts`` holds (tokens including the seed word, how many) pairs, one context type each;
    sampling (top-k 5, as the reference's ``generate_fast``) uses a fixed seed and restores the global
    RNG afterwards, so the prefixes are reproducible and the caller's RNG is untouched.
    """
    prefixes = [""]
    types = [0]
    device = input_device(model)
    state = torch.random.get_rng_state()
    cuda_state = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        for kind, (length, count) in enumerate(lengths_counts, 1):
            if count <= 0 or length <= 1:
                continue
            torch.manual_seed(seed + length)
            words = [SEED_WORDS[i % len(SEED_WORDS)] for i in range(count)]
            old_side = tokenizer.padding_side
            tokenizer.padding_side = "left"
            try:
                batch = tokenizer(words, return_tensors="pt", padding=True).to(device)
            finally:
                tokenizer.padding_side = old_side
            out = model.generate(
                **batch, max_new_tokens=length - 1, do_sample=True, top_k=5, pad_token_id=pad_id(tokenizer)
            )
            for row in out:
                text = tokenizer.decode(row, skip_special_tokens=True).replace("{", " ").replace("}", " ")
                prefixes.append(text.strip() + ". ")
                types.append(kind)
    finally:
        torch.random.set_rng_state(state)
        if cuda_state is not None:
            torch.cuda.set_rng_state_all(cuda_state)
    log.debug("context prefixes: %s", prefixes)
    return ContextPrefixes(tuple(prefixes), tuple(types))
