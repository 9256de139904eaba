"""Second moment of MLP keys, C = E[k k^T], for every edited layer in ONE pass over a corpus.

The reference tools (``rome/layer_stats.py``) make one pass per layer over 100k Wikipedia texts;
here one forward per batch records the input of every requested ``mlp_out`` module
(``TraceDict(retain_input=True, stop=True)``: nothing above the highest requested layer is computed).

Which text: ``corpora.py`` (by default WordNet's glosses and ``fortunes``, two Debian packages, shuffled
together; where both are missing the Wikipedia sample the ``gensim`` package ships; text the model generates
where that is missing too; ``corpus=[files]`` takes local files).
Documents are tokenised without special tokens and packed into full windows of ``max_length`` tokens
(the tokenizer's own start tokens, e.g. Gemma's <bos>, lead each window and are not counted), so no
sample sits in a short, context-free tail. Results are cached under ``cache_dir("stats")``, keyed by
the sha256 of the model's weights, the layer, the corpus's content, the sample count, the window and
the dtype, so a changed model or corpus never reuses stale stats.

:class:`KeyStatistics` is the one way methods and jobs get C: a lazy provider that measures each layer the
first time it is asked for (through :func:`key_second_moments`) and keeps it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Protocol

import torch
from tqdm.auto import tqdm

from ..errors import EditError
from ..lm.architectures import architecture_of
from ..lm.cache import read_checked, reject_entry, write_checked
from ..lm.hooks import TraceDict
from ..lm.placement import input_device, state_tensors
from ..paths import cache_dir, remove_stale_temps, sha256_text
from .common.layers import check_layers
from .common.prompts import pad_batch, pad_id
from .corpora import FORTUNES_DIR, WORDNET_DIR, Corpus, read_corpus, statistics_corpus

log = logging.getLogger(__name__)

STATS_FORMAT = "v2"
STATS_SCHEMA = 1  # the checked-entry schema of a statistics file (safetensors bytes {"mom2"} under a header)
DEFAULT_SAMPLES = 100_000
DEFAULT_WINDOW = 256
# Seeds for the generated fallback corpus: many topics and sentence openings.
GENERATION_SEEDS = (
    "The", "In 1850,", "The city of", "Scientists", "She said that", "The history of", "According to",
    "Football", "The river", "His father", "During the war,", "The company", "Music", "The island of",
    "In mathematics,", "The president", "Many people", "The church", "Yesterday", "The novel", "Farmers",
    "The university", "After the election,", "The museum", "In the kitchen,", "The king", "Doctors",
    "The film", "Water", "The language", "Children", "The mountain", "When I was", "The law", "Birds",
    "The team", "Computers", "The old man", "In Japan,", "The recipe", "The army", "Stars", "The painter",
)


def weights_hash(model: torch.nn.Module) -> str:
    """sha256 of the model's config and every parameter's bytes (content, not object identity)."""
    digest = hashlib.sha256(json.dumps(model.config.to_dict(), sort_keys=True, default=str).encode())
    real = state_tensors(model)  # offloaded weights read from their CPU copies
    seen: set[int] = set()
    for name, _ in model.named_parameters():
        param = real[name]
        if param.numel() and param.data_ptr() in seen:  # a tied weight that offloading split in two: hashed once
            continue
        seen.add(param.data_ptr())
        digest.update(name.encode())
        digest.update(str(param.dtype).encode())
        data = param.detach().contiguous().cpu().reshape(-1).view(torch.uint8)
        digest.update(data.numpy().tobytes())
    return digest.hexdigest()


def default_corpus(model: torch.nn.Module, tokenizer, samples: int, max_length: int) -> Corpus:
    """The local corpus (WordNet + ``fortunes``, else the Wikipedia sample), or text the model generates."""
    corpus = statistics_corpus()
    if corpus is not None:
        return corpus
    log.warning("no local statistics corpus (%s, %s, nor gensim's Wikipedia sample): generating %d tokens of "
                "statistics text with the model instead, which is slow on a CPU (make venv installs gensim; "
                "or apt-get install wordnet-base fortunes, or pass corpus files)", WORDNET_DIR, FORTUNES_DIR, samples)
    texts = generate_corpus(model, tokenizer, samples, length=max_length)
    return Corpus("generated", texts, sha256_text("generated", STATS_FORMAT, *GENERATION_SEEDS, str(max_length)))


@torch.no_grad()
def generate_corpus(model: torch.nn.Module, tokenizer, n_tokens: int, *, length: int = 128, seed: int = 0,
                    batch_size: int = 32) -> list[str]:
    """Texts the model samples (top-k 50) from diverse seed openings (fixed seed; the global RNG is restored)."""
    device = input_device(model)
    length = max(1, min(length, context_limit(model) - 8))
    rows = max(1, -(-n_tokens // length))
    seeds = [GENERATION_SEEDS[i % len(GENERATION_SEEDS)] for i in range(rows)]
    state = torch.random.get_rng_state()
    cuda_state = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    texts: list[str] = []
    old_side = tokenizer.padding_side
    try:
        torch.manual_seed(seed)
        tokenizer.padding_side = "left"
        for start in tqdm(range(0, rows, batch_size), desc="generating stats corpus", leave=False):
            batch = tokenizer(seeds[start : start + batch_size], return_tensors="pt", padding=True).to(device)
            out = model.generate(
                **batch, max_new_tokens=length, do_sample=True, top_k=50, pad_token_id=pad_id(tokenizer)
            )
            texts += tokenizer.batch_decode(out, skip_special_tokens=True)
    finally:
        tokenizer.padding_side = old_side
        torch.random.set_rng_state(state)
        if cuda_state is not None:
            torch.cuda.set_rng_state_all(cuda_state)
    return texts


def context_limit(model: torch.nn.Module) -> int:
    """The model's context window in tokens (1024 when the config does not say)."""
    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return int(getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None) or 1024)


def start_tokens(tokenizer) -> list[int]:
    """The special tokens the tokenizer puts before any text (Gemma's <bos>; none for GPT-2 or SmolLM2)."""
    return list(tokenizer("", add_special_tokens=True)["input_ids"])


def pack_windows(tokenizer, texts: list[str], samples: int, max_length: int) -> list[list[int]]:
    """Documents joined by a blank line and cut into full windows of ``max_length`` tokens (the tokenizer's
    start tokens first), enough to hold ``samples`` text tokens; only the last window may be shorter."""
    head = start_tokens(tokenizer)
    width = max_length - len(head)
    if width < 1:
        raise EditError(f"statistics window of {max_length} tokens is too short")
    sep = tokenizer("\n\n", add_special_tokens=False)["input_ids"]
    stream: list[int] = []
    for start in range(0, len(texts), 256):
        if len(stream) >= samples:
            break
        for ids in tokenizer(texts[start : start + 256], add_special_tokens=False)["input_ids"]:
            stream += (sep + ids) if stream else ids
    stream = stream[:samples]
    return [head + stream[i : i + width] for i in range(0, len(stream), width)]


def _chunks(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    """Every token of ``texts`` as packed windows (used by the benchmark's plain forward)."""
    return pack_windows(tokenizer, texts, 1 << 62, max_length)


@torch.no_grad()
def collect_second_moments(
    model: torch.nn.Module,
    tokenizer,
    layers: Sequence[int],
    texts: list[str],
    samples: int,
    *,
    dtype: torch.dtype = torch.float32,
    batch_size: int = 8,
    max_length: int = DEFAULT_WINDOW,
) -> tuple[dict[int, torch.Tensor], int]:
    """({layer: E[k k^T]}, tokens used) over the first ``samples`` text tokens of the packed corpus, one pass."""
    arch = architecture_of(model)
    device = input_device(model)
    sites = {layer: arch.site("mlp_out", layer) for layer in layers}
    windows = pack_windows(tokenizer, texts, samples, min(max_length, context_limit(model)))
    n_head = len(start_tokens(tokenizer))
    sums: dict[int, torch.Tensor] = {}
    seen = 0
    with tqdm(total=samples, desc=f"key statistics (layers {list(layers)})", unit="tok", leave=False) as bar:
        for start in range(0, len(windows), batch_size):
            ids, mask = pad_batch(windows[start : start + batch_size], pad_id(tokenizer), device)
            counted = mask.bool()
            counted[:, :n_head] = False  # the tokenizer's start tokens are not text
            with TraceDict(model, list(sites.values()), retain_input=True, retain_output=False, stop=True) as tr:
                model(input_ids=ids, attention_mask=mask)
            for layer, site in sites.items():
                inputs = tr[site].input  # on the layer's device (a device map may spread the layers)
                keys = inputs[counted.to(inputs.device)].to(device=device, dtype=dtype)
                if layer not in sums:
                    sums[layer] = torch.zeros(keys.shape[1], keys.shape[1], dtype=dtype, device=device)
                sums[layer].addmm_(keys.T, keys)
            taken = int(counted.sum())
            seen += taken
            bar.update(taken)
    if seen == 0:
        raise EditError("the statistics corpus produced no tokens")
    if seen < samples:
        log.warning("statistics corpus gave %d tokens, fewer than the %d asked", seen, samples)
    return {layer: (s / seen).cpu() for layer, s in sums.items()}, seen


def stats_file(model_class: str, model_id: str, layer: int, corpus_id: str, samples: int, dtype: torch.dtype,
               max_length: int) -> Path:
    """The cache file of one layer's statistics: its name hashes everything the result depends on."""
    key = sha256_text(STATS_FORMAT, model_id, str(layer), corpus_id, str(samples), str(dtype), str(max_length))
    return cache_dir("stats") / f"{model_class}-L{layer}-{key[:24]}.safetensors"


def key_second_moments(
    model: torch.nn.Module,
    tokenizer,
    layers: Sequence[int],
    *,
    samples: int = DEFAULT_SAMPLES,
    corpus: Sequence[str | Path] | None = None,
    dtype: torch.dtype = torch.float32,
    use_cache: bool = True,
    batch_size: int = 8,
    max_length: int = DEFAULT_WINDOW,
) -> dict[int, torch.Tensor]:
    """E[k k^T] (d_in x d_in, on the model's device) for each layer, cached on disk by content."""
    from safetensors.torch import load, save

    arch = architecture_of(model)
    layers = sorted(set(int(x) for x in layers))
    check_layers(model, arch, layers)
    device = input_device(model)
    max_length = min(max_length, context_limit(model))
    found: Corpus | None = None
    if corpus:
        texts, corpus_id = read_corpus(corpus)
        found = Corpus("files", texts, corpus_id)
    else:
        found = statistics_corpus()
        corpus_id = found.identity if found is not None else sha256_text(
            "generated", STATS_FORMAT, *GENERATION_SEEDS, str(max_length))
    model_id = weights_hash(model)
    files = {layer: stats_file(arch.model_class, model_id, layer, corpus_id, samples, dtype, max_length)
             for layer in layers}
    result: dict[int, torch.Tensor] = {}
    for layer, path in files.items():
        payload = read_checked(path, "stats", STATS_SCHEMA) if use_cache else None  # None: missing or damaged
        if payload is not None:
            try:
                result[layer] = load(payload)["mom2"]
            except Exception as exc:  # verified bytes a bug wrote wrongly: rebuilt, never trusted
                reject_entry(path, f"not a statistics file: {exc}")
    missing = [layer for layer in layers if layer not in result]
    if missing:
        if found is None:
            found = default_corpus(model, tokenizer, samples, max_length)
        log.info("key statistics for layers %s: %d tokens of the %s corpus", missing, samples, found.name)
        computed, seen = collect_second_moments(
            model, tokenizer, missing, found.texts, samples, dtype=dtype, batch_size=batch_size, max_length=max_length
        )
        for layer, mom2 in computed.items():
            result[layer] = mom2
            if use_cache:
                remove_stale_temps(files[layer].parent)
                write_checked(files[layer], save({"mom2": mom2.contiguous()},
                                                 metadata={"tokens": str(seen), "layer": str(layer),
                                                           "corpus": found.name}), "stats", STATS_SCHEMA)
    return {layer: result[layer].to(device) for layer in layers}


class StatisticsHparams(Protocol):
    """What a method whose spec needs STATISTICS declares in its hyper-parameters."""

    stats_samples: int  # text tokens behind each C
    stats_dtype: str  # torch dtype name of the accumulation

    def stats_layers(self) -> tuple[int, ...]: ...


class KeyStatistics:
    """C = E[k k^T] per layer, lazily: the first :meth:`get` of a layer measures it (one pass over the corpus
    for every layer missing at that call, disk-cached by :func:`key_second_moments`); later calls return the
    same tensor.

    Built from a model (``corpus=None``: the default corpus), or from a plain ``{layer: C}`` mapping alone
    (``known``), which cannot measure more. ``around`` is entered around each measurement: a job uses it to
    measure the *unedited* weights while its earlier edits are applied (it restores them, then puts them back).
    """

    def __init__(
        self,
        model: torch.nn.Module | None = None,
        tokenizer=None,
        *,
        corpus: Sequence[str | Path] | None = None,
        samples: int = DEFAULT_SAMPLES,
        dtype: torch.dtype = torch.float32,
        known: Mapping[int, torch.Tensor] | None = None,
        around: Callable[[], AbstractContextManager] | None = None,
    ) -> None:
        if model is not None and tokenizer is None:
            raise EditError("KeyStatistics needs the model's tokenizer to measure statistics")
        self.model, self.tokenizer = model, tokenizer
        self.corpus, self.samples, self.dtype = corpus, samples, dtype
        self._around = around
        self._known: dict[int, torch.Tensor] = {int(layer): c for layer, c in (known or {}).items()}

    @classmethod
    def for_hparams(cls, model: torch.nn.Module, tokenizer, hparams: StatisticsHparams, *,
                    corpus: Sequence[str | Path] | None = None, known: Mapping[int, torch.Tensor] | None = None,
                    around: Callable[[], AbstractContextManager] | None = None) -> KeyStatistics:
        """A provider measuring with the method's sample count and dtype."""
        return cls(model, tokenizer, corpus=corpus, samples=hparams.stats_samples,
                   dtype=getattr(torch, hparams.stats_dtype), known=known, around=around)

    @property
    def layers(self) -> tuple[int, ...]:
        """The layers held so far (given or measured)."""
        return tuple(sorted(self._known))

    def known(self) -> dict[int, torch.Tensor]:
        """A copy of what is held so far, measuring nothing."""
        return dict(self._known)

    def __contains__(self, layer: object) -> bool:
        return layer in self._known

    def __getitem__(self, layer: int) -> torch.Tensor:
        return self.get([layer])[int(layer)]

    def get(self, layers: Iterable[int]) -> dict[int, torch.Tensor]:
        """{layer: C} for ``layers``, measuring the missing ones now (together, once)."""
        wanted = sorted({int(layer) for layer in layers})
        missing = [layer for layer in wanted if layer not in self._known]
        if missing:
            if self.model is None:
                raise EditError(f"no key statistics for layer(s) {missing}",
                                hint="give them in the mapping, or pass KeyStatistics(model, tokenizer, ...)")
            with self._around() if self._around is not None else nullcontext():
                self._known.update(key_second_moments(self.model, self.tokenizer, missing, samples=self.samples,
                                                      corpus=self.corpus, dtype=self.dtype))
        return {layer: self._known[layer] for layer in wanted}

    def __repr__(self) -> str:
        source = "mapping" if self.model is None else f"{self.samples} tokens, {self.dtype}"
        return f"KeyStatistics(layers={list(self.layers)}, {source})"
