"""The hook utility: reads equal a plain forward, patches change outputs, no hook ever survives."""

from __future__ import annotations

import pytest
import torch

from stylekg.lm import Trace, TraceDict, hook_count, output_tensor, replace_output_tensor


@pytest.fixture()
def batch(tiny):
    return tiny.tokenizer(["The capital of France is"], return_tensors="pt")


def test_reads_equal_plain_forward(tiny, batch) -> None:
    model, arch = tiny.model, tiny.arch
    with torch.no_grad():
        plain = model(**batch, output_hidden_states=True)
        names = [arch.site("residual", i) for i in range(arch.num_layers(model))]
        with TraceDict(model, names) as traces:
            traced = model(**batch)
    assert torch.equal(plain.logits, traced.logits)
    # hidden_states[i + 1] is block i's output (the last one after the final norm in HF, so skip it)
    for i, name in enumerate(names[:-1]):
        assert torch.equal(output_tensor(traces[name].output), plain.hidden_states[i + 1])
    assert hook_count(model) == 0


def test_retain_input_is_the_mlp_out_key(tiny, batch) -> None:
    model, arch = tiny.model, tiny.arch
    with torch.no_grad(), Trace(model, arch.site("mlp_out", 1), retain_input=True) as tr:
        model(**batch)
    mlp = model.get_submodule(arch.site("mlp", 1))
    with torch.no_grad(), Trace(model, arch.site("mlp", 1), retain_input=True) as tr_mlp:
        model(**batch)
    expected = mlp.act(mlp.c_fc(tr_mlp.input))
    assert torch.allclose(tr.input, expected, atol=1e-6)


def test_patch_changes_outputs_and_identity_does_not(tiny, batch) -> None:
    model, arch = tiny.model, tiny.arch
    site = arch.site("residual", 1)
    with torch.no_grad():
        base = model(**batch).logits
        with Trace(model, site, edit_output=lambda out, _: out):
            same = model(**batch).logits
        with Trace(model, site, edit_output=lambda out, _: replace_output_tensor(out, output_tensor(out) * 0)):
            zeroed = model(**batch).logits
    assert torch.equal(base, same)
    assert not torch.allclose(base, zeroed)
    assert hook_count(model) == 0


def test_edit_input_changes_outputs(tiny, batch) -> None:
    model, arch = tiny.model, tiny.arch
    with torch.no_grad():
        base = model(**batch).logits
        with Trace(model, arch.site("mlp_out", 0), edit_input=lambda x, _: x + 1.0):
            moved = model(**batch).logits
    assert not torch.allclose(base, moved)
    assert hook_count(model) == 0


def test_no_hook_survives_an_exception(tiny, batch) -> None:
    model, arch = tiny.model, tiny.arch

    def boom(out, name):
        raise RuntimeError(f"failure inside {name}")

    with pytest.raises(RuntimeError, match="failure inside"):
        with TraceDict(model, [arch.site("mlp", 0), arch.site("attn", 1)], edit_output=boom):
            model(**batch)
    assert hook_count(model) == 0


def test_stop_ends_forward_early(tiny, batch) -> None:
    model, arch = tiny.model, tiny.arch
    names = [arch.site("mlp_out", 0), arch.site("mlp_out", 1)]
    seen: list[str] = []
    with TraceDict(model, names + [arch.site("residual", 3)], retain_input=True, stop=False):
        pass
    with TraceDict(model, names, retain_input=True, stop=True) as traces:
        with Trace(model, arch.site("residual", 3), edit_output=lambda o, n: seen.append(n) or o):
            model(**batch)
    assert traces[names[1]].input is not None
    assert seen == []  # layer 3 never ran
    assert hook_count(model) == 0
