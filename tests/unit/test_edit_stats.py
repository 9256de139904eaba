"""Key statistics: one pass equals per-layer passes, the disk cache is keyed by content."""

from __future__ import annotations

import json

import torch

from stylekg.editing import stats as st
from stylekg.lm.tiny import tiny_gpt2

TEXTS = [
    "The capital of France is Paris. The capital of Italy is Rome.",
    "Michael Jordan plays the sport of basketball. Lionel Messi plays the sport of soccer.",
    "Believe me, this is the best plan, tremendous, really tremendous.",
] * 4


def test_one_pass_equals_per_layer_passes(tiny) -> None:
    together, seen = st.collect_second_moments(tiny.model, tiny.tokenizer, [0, 2, 3], TEXTS, 200, batch_size=4)
    assert seen == 200
    for layer in (0, 2, 3):
        alone, _ = st.collect_second_moments(tiny.model, tiny.tokenizer, [layer], TEXTS, 200, batch_size=4)
        assert torch.allclose(together[layer], alone[layer], rtol=1e-6, atol=1e-9)
    # E[k k^T]: symmetric and positive semi-definite
    c = together[2].double()
    assert torch.allclose(c, c.T)
    assert torch.linalg.eigvalsh(c).min() > -1e-6


def test_second_moment_matches_a_direct_computation(tiny) -> None:
    from stylekg.lm.hooks import Trace

    model, tok = tiny.model, tiny.tokenizer
    got, seen = st.collect_second_moments(model, tok, [1], TEXTS[:1], 10_000)
    ids = tok(TEXTS[0], return_tensors="pt")
    with torch.no_grad(), Trace(model, tiny.arch.site("mlp_out", 1), retain_input=True) as tr:
        model(**ids)
    keys = tr.input[0]
    assert seen == keys.shape[0]
    assert torch.allclose(got[1], keys.T @ keys / seen, atol=1e-7)


def test_cache_is_keyed_by_content(home, tiny) -> None:
    model, tok = tiny.model, tiny.tokenizer
    first = st.key_second_moments(model, tok, [1, 2], samples=120)
    files = sorted((home / "stats").glob("*.safetensors"))
    assert len(files) == 2
    # a fresh, identical model hashes the same and reuses the cache; an edited one does not
    twin, _ = tiny_gpt2()
    assert st.weights_hash(twin) == st.weights_hash(model)
    again = st.key_second_moments(twin, tok, [1, 2], samples=120)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert len(list((home / "stats").glob("*.safetensors"))) == 2
    with torch.no_grad():
        twin.transformer.h[0].mlp.c_fc.weight[0, 0] += 1.0
    assert st.weights_hash(twin) != st.weights_hash(model)
    st.key_second_moments(twin, tok, [1], samples=120)
    assert len(list((home / "stats").glob("*.safetensors"))) == 3
    # other sample counts and another corpus are other entries too
    st.key_second_moments(model, tok, [1], samples=60)
    corpus = home / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps({"text": t}) for t in TEXTS))
    from_file = st.key_second_moments(model, tok, [1], samples=60, corpus=[corpus])
    assert len(list((home / "stats").glob("*.safetensors"))) == 5
    assert not torch.allclose(from_file[1], st.key_second_moments(model, tok, [1], samples=60)[1])


def test_windows_are_full_and_start_tokens_are_not_counted(tiny) -> None:
    """Documents are packed into full windows: no short, context-free tails (only the last window may be short)."""
    tok = tiny.tokenizer
    texts = [t for t in TEXTS for _ in range(3)]
    windows = st.pack_windows(tok, texts, 150, 32)
    assert all(len(w) == 32 for w in windows[:-1]) and 0 < len(windows[-1]) <= 32
    assert sum(len(w) - len(st.start_tokens(tok)) for w in windows) == 150
    _, seen = st.collect_second_moments(tiny.model, tok, [1], texts, 150, max_length=32)
    assert seen == 150
