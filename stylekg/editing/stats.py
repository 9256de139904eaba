"""Second moment of MLP keys, C = E[k k^T], for every edited layer in ONE pass over a corpus.

The reference tools make one pass per layer; here one forward per batch records the input of
every requested ``mlp_out`` module (``TraceDict(retain_input=True, stop=True)``: nothing above the
highest requested layer is computed). The corpus is, by default, text the model itself generates
from a few neutral seed words (nothing is downloaded), or local text/JSONL files. Results are
cached under ``cache_dir("stats")``, keyed by the sha256 of the model's weights, the layer, the
corpus, the sample count and the dtype, so a changed model or corpus never reuses stale stats.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..errors import EditError
from ..lm.architectures import architecture_of
from ..lm.hooks import TraceDict
from ..paths import cache_dir, sha256_text
from .common.layers import check_layers
from .common.prompts import pad_batch, pad_id

log = logging.getLogger(__name__)

STATS_FORMAT = "v1"
NEUTRAL_SEEDS = ("The", "In", "It", "A", "When", "There", "This", "One", "We", "After", "Many", "For")


def weights_hash(model: torch.nn.Module) -> str:
    """sha256 of the model's config and every parameter's bytes (content, not object identity)."""
    digest = hashlib.sha256(json.dumps(model.config.to_dict(), sort_keys=True, default=str).encode())
    for name, param in model.named_parameters():
        digest.update(name.encode())
        digest.update(str(param.dtype).encode())
        data = param.detach().contiguous().cpu().reshape(-1).view(torch.uint8)
        digest.update(data.numpy().tobytes())
    return digest.hexdigest()


def read_corpus(paths: Sequence[str | Path]) -> tuple[list[str], str]:
    """(texts, content hash) of local ``.txt`` files (paragraphs) or ``.jsonl`` files (``text`` fields)."""
    texts: list[str] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise EditError(f"corpus file {path} does not exist", hint="pass text or JSONL files to --corpus")
        if path.suffix == ".jsonl":
            for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise EditError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
                text = record if isinstance(record, str) else record.get("text") if isinstance(record, dict) else None
                if not isinstance(text, str):
                    raise EditError(f"{path}:{number}: expected a string or an object with a 'text' field")
                texts.append(text)
        else:
            body = path.read_text("utf-8")
            parts = [p.strip() for p in body.split("\n\n")]
            texts += [p for p in parts if p]
    if not texts:
        raise EditError("the statistics corpus is empty", hint="pass files with some text")
    return texts, sha256_text(*texts)  # the corpus's identity is its content


@torch.no_grad()
def generate_corpus(model: torch.nn.Module, tokenizer, n_tokens: int, *, length: int = 128, seed: int = 0) -> list[str]:
    """Texts the model samples from neutral seed words (fixed seed; the global RNG is restored)."""
    device = next(model.parameters()).device
    length = max(1, min(length, context_limit(model) - 8))
    rows = max(1, -(-n_tokens // length))
    seeds = [NEUTRAL_SEEDS[i % len(NEUTRAL_SEEDS)] for i in range(rows)]
    state = torch.random.get_rng_state()
    cuda_state = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    texts: list[str] = []
    old_side = tokenizer.padding_side
    try:
        torch.manual_seed(seed)
        tokenizer.padding_side = "left"
        for start in tqdm(range(0, rows, 16), desc="generating stats corpus", leave=False):
            batch = tokenizer(seeds[start : start + 16], return_tensors="pt", padding=True).to(device)
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


def _chunks(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    out = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=True)["input_ids"]
        out += [ids[i : i + max_length] for i in range(0, len(ids), max_length) if ids[i : i + max_length]]
    return out


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
    max_length: int = 128,
) -> tuple[dict[int, torch.Tensor], int]:
    """({layer: E[k k^T]}, tokens used) over the first ``samples`` non-padding tokens, one pass."""
    arch = architecture_of(model)
    device = next(model.parameters()).device
    sites = {layer: arch.site("mlp_out", layer) for layer in layers}
    sums: dict[int, torch.Tensor] = {}
    seen = 0
    chunks = _chunks(tokenizer, texts, min(max_length, context_limit(model)))
    with tqdm(total=samples, desc=f"key statistics (layers {list(layers)})", unit="tok", leave=False) as bar:
        for start in range(0, len(chunks), batch_size):
            if seen >= samples:
                break
            ids, mask = pad_batch(chunks[start : start + batch_size], pad_id(tokenizer), torch.device("cpu"))
            take = min(int(mask.sum()), samples - seen)
            count = mask.reshape(-1).clone()
            count[count.cumsum(0) > take] = 0  # the first ``take`` real tokens (row-major) count
            ids, mask = ids.to(device), mask.to(device)
            with TraceDict(model, list(sites.values()), retain_input=True, retain_output=False, stop=True) as tr:
                model(input_ids=ids, attention_mask=mask)
            weight = count.to(device=device, dtype=dtype).reshape(-1, 1)
            for layer, site in sites.items():
                keys = tr[site].input.reshape(-1, tr[site].input.shape[-1]).to(dtype) * weight  # pads count 0
                sums[layer] = sums.get(layer, 0) + keys.T @ keys
            seen += take
            bar.update(take)
    if seen == 0:
        raise EditError("the statistics corpus produced no tokens")
    if seen < samples:
        log.warning("statistics corpus gave %d tokens, fewer than the %d asked", seen, samples)
    return {layer: (s / seen).cpu() for layer, s in sums.items()}, seen


def key_second_moments(
    model: torch.nn.Module,
    tokenizer,
    layers: Sequence[int],
    *,
    samples: int = 4000,
    corpus: Sequence[str | Path] | None = None,
    dtype: torch.dtype = torch.float32,
    use_cache: bool = True,
    batch_size: int = 8,
    max_length: int = 128,
) -> dict[int, torch.Tensor]:
    """E[k k^T] (d_in x d_in, on the model's device) for each layer, cached on disk by content."""
    from safetensors.torch import load_file, save_file

    arch = architecture_of(model)
    layers = sorted(set(int(x) for x in layers))
    check_layers(model, arch, layers)
    device = next(model.parameters()).device
    texts: list[str] | None = None
    if corpus:
        texts, corpus_id = read_corpus(corpus)
    else:
        corpus_id = sha256_text("generated", STATS_FORMAT, ",".join(NEUTRAL_SEEDS), str(max_length))
    model_id = weights_hash(model)
    files = {
        layer: cache_dir("stats")
        / f"{arch.model_class}-L{layer}-{sha256_text(STATS_FORMAT, model_id, str(layer), corpus_id, str(samples), str(dtype))[:24]}.safetensors"
        for layer in layers
    }
    result: dict[int, torch.Tensor] = {}
    for layer, path in files.items():
        if use_cache and path.exists():
            try:
                result[layer] = load_file(str(path))["mom2"]
            except Exception as exc:  # a damaged cache file is rebuilt, never trusted
                log.warning("ignoring unreadable stats cache %s (%s)", path, exc)
    missing = [layer for layer in layers if layer not in result]
    if missing:
        if texts is None:
            texts = generate_corpus(model, tokenizer, samples, length=max_length)
        computed, seen = collect_second_moments(
            model, tokenizer, missing, texts, samples, dtype=dtype, batch_size=batch_size, max_length=max_length
        )
        for layer, mom2 in computed.items():
            result[layer] = mom2
            if use_cache:
                tmp = files[layer].with_suffix(".tmp")
                save_file({"mom2": mom2.contiguous()}, str(tmp), metadata={"tokens": str(seen), "layer": str(layer)})
                tmp.replace(files[layer])
    return {layer: result[layer].to(device) for layer in layers}
