"""A tiny randomly initialised GPT-2 with an offline-trained tokenizer, for fast unit tests.

Nothing is downloaded: the byte-level BPE tokenizer is trained on a small corpus shipped with
stylekg, and the weights come from a fixed seed, so every machine builds the same model.
"""

from __future__ import annotations

import hashlib

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from .cache import cache_dir, read_checked, write_checked

SPECIAL = "<|endoftext|>"
TOKENIZER_SCHEMA = 1  # the checked-entry schema of the cached tokenizer JSON


@dataclass(frozen=True)
class TinyConfig:
    n_layer: int = 4
    n_embd: int = 64
    n_head: int = 4
    n_positions: int = 128
    vocab_size: int = 512
    seed: int = 0


def _corpus() -> str:
    return resources.files("stylekg.data").joinpath("tiny_corpus.txt").read_text("utf-8")


def tiny_tokenizer(vocab_size: int = 512):
    """A byte-level BPE tokenizer trained (once, then cached on disk as a checked entry) on the shipped corpus."""
    from tokenizers import ByteLevelBPETokenizer, Tokenizer
    from transformers import PreTrainedTokenizerFast

    corpus = _corpus()
    key = hashlib.sha256(f"tiny-tokenizer-v1|{vocab_size}|{corpus}".encode()).hexdigest()[:16]
    path: Path = cache_dir("tokenizers") / f"tiny-bpe-{key}.json"
    payload = read_checked(path, "tokenizer", TOKENIZER_SCHEMA)  # None: missing or damaged (then removed)
    if payload is None:
        bpe = ByteLevelBPETokenizer(add_prefix_space=False)
        bpe.train_from_iterator(
            corpus.splitlines(), vocab_size=vocab_size, min_frequency=1, special_tokens=[SPECIAL]
        )
        payload = bpe.to_str().encode("utf-8")
        write_checked(path, payload, "tokenizer", TOKENIZER_SCHEMA)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(payload.decode("utf-8")),
        bos_token=SPECIAL, eos_token=SPECIAL, unk_token=SPECIAL, pad_token=SPECIAL,
    )
    return tok


def tiny_gpt2(config: TinyConfig = TinyConfig()):
    """(model, tokenizer): a seeded random GPT-2 (Conv1D layout) in eval mode."""
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = tiny_tokenizer(config.vocab_size)
    hf_config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=config.n_positions,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(config.seed)
        model = GPT2LMHeadModel(hf_config)
    finally:
        torch.random.set_rng_state(generator_state)
    model.eval()
    return model, tokenizer
