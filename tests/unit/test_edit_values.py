"""The value optimisation (ROME eq. 4 / MEMIT eq. 16) against the reference's loop, on the tiny GPT-2."""

from __future__ import annotations

import pytest
import torch

from stylekg.editing.common import values as vl
from stylekg.editing.common.prompts import (
    ContextPrefixes,
    essence_sequence,
    objective_target,
    rewrite_sequence,
    validate_requests,
)
from stylekg.errors import EditError

from .edit_helpers import REQUESTS

PREFIXES = ContextPrefixes(("", "Because it rained. ", "I think so. "), (0, 1, 1))


def _settings(**changes) -> vl.ValueSettings:
    base = dict(steps=8, lr=1.0, weight_decay=1e-4, clamp_norm_factor=1000.0, kl_factor=0.0625)
    base.update(changes)
    return vl.ValueSettings(**base)


def test_split_forward_equals_a_plain_forward(tiny) -> None:
    """Running only the positions from the subject's last token on (earlier ones cached) changes nothing."""
    model, tok = tiny.model, tiny.tokenizer
    b = vl._assemble(vl._prepare(tok, REQUESTS, list(PREFIXES), "{} is a"), vl.pad_id(tok), torch.device("cpu"))
    with torch.no_grad():
        scored, essence = vl._forward(model, b, vl._cache_before(model, b))
        row = 0
        for i, request in enumerate(REQUESTS):
            target, _ = objective_target(tok, request)
            for prefix in PREFIXES:
                seq = rewrite_sequence(tok, request, prefix, target)
                logits = model(torch.tensor([seq.ids])).logits[0]
                for pos in seq.target_positions:
                    assert torch.allclose(scored[row], logits[pos], atol=1e-4)
                    row += 1
            ess = essence_sequence(tok, request)
            assert ess.target_positions == (ess.lookup,)  # the KL is read at the subject's last token
            plain = model(torch.tensor([ess.ids])).logits[0, ess.lookup]
            assert torch.allclose(essence[i], plain, atol=1e-4)


def test_one_step_means_no_update_as_the_reference(tiny) -> None:
    """The reference evaluates the objective v_num_grad_steps times and updates one time fewer."""
    site = tiny.arch.site("mlp_out", 2)
    deltas, init, logs = vl.optimise_deltas(tiny.model, tiny.tokenizer, REQUESTS, site, PREFIXES, _settings(steps=1))
    assert torch.equal(deltas, torch.zeros_like(deltas))
    assert all(lg["objective_after"] == lg["objective_before"] and lg["steps"] == 0 for lg in logs)
    _, _, logs = vl.optimise_deltas(tiny.model, tiny.tokenizer, REQUESTS, site, PREFIXES, _settings(steps=4, stop_loss=0.0))
    assert all(lg["steps"] == 3 for lg in logs)


def test_batched_requests_equal_single_ones_and_finished_ones_freeze(tiny) -> None:
    """Requests optimised together give each request's own result, also when one finishes early (its delta
    is frozen when its loss falls below stop_loss; Adam's momentum does not keep moving it)."""
    model, tok = tiny.model, tiny.tokenizer
    site = tiny.arch.site("mlp_out", 2)
    free, _, free_logs = vl.optimise_deltas(model, tok, REQUESTS, site, PREFIXES, _settings(steps=10, stop_loss=0.0))
    # stop half-way along the first request's path, so it finishes while the second goes on
    stop = (free_logs[0]["objective_before"] + free_logs[0]["loss"]) / 2
    settings = _settings(steps=10, stop_loss=stop)
    together, _, logs = vl.optimise_deltas(model, tok, REQUESTS, site, PREFIXES, settings)
    assert 0 < logs[0]["steps"] < 9 and logs[0]["loss"] < stop
    for i, request in enumerate(REQUESTS):
        alone, _, _ = vl.optimise_deltas(model, tok, [request], site, PREFIXES, settings)
        assert torch.allclose(together[i], alone[0], atol=1e-5, rtol=1e-4), i
    assert not torch.allclose(together[0], free[0], atol=1e-4)


def test_weight_decay_is_the_reference_form(tiny, monkeypatch) -> None:
    """wd * ||delta|| / ||v||^2: with a huge weight decay and no other term the loss is exactly that."""
    model, tok = tiny.model, tiny.tokenizer
    site = tiny.arch.site("mlp_out", 2)
    _, init, logs = vl.optimise_deltas(model, tok, REQUESTS[:1], site, PREFIXES,
                                       _settings(steps=2, kl_factor=0.0, weight_decay=3.0, stop_loss=0.0))
    delta_norm, nll = logs[0]["delta_norm"], logs[0]["objective_after"]
    assert delta_norm > 0
    expected = nll + 3.0 * delta_norm / float(init[0].pow(2).sum())
    assert logs[0]["loss"] == pytest.approx(expected, rel=1e-4)


def test_essence_template_is_used_and_checked(tiny) -> None:
    tok = tiny.tokenizer
    custom = essence_sequence(tok, REQUESTS[0], "Facts about {}:")
    assert tok.decode(custom.ids).startswith("Facts about")
    b = vl._assemble(vl._prepare(tok, REQUESTS, [""], "Facts about {}:"), vl.pad_id(tok), torch.device("cpu"))
    n = len(REQUESTS)
    tail = b.ids[n:]
    assert tok.decode(tail[0][tail[0] != vl.pad_id(tok)]).endswith(":")
    with pytest.raises(EditError, match="exactly one"):
        _settings(essence_template="no subject here")
    with pytest.raises(EditError, match="exactly one"):
        validate_requests(tok, REQUESTS, "{} and {}")


def test_batches_are_bounded_in_positions_and_equal_one_batch(tiny) -> None:
    """Long prompts or targets (a style's occurrences in chat) are split so that a batch holds at most
    ``max_positions`` padded positions (memory); the split changes no result (the objectives are separable)."""
    model, tok = tiny.model, tiny.tokenizer
    site = tiny.arch.site("mlp_out", 2)
    requests = REQUESTS + [r.with_(target_new=(r.target_new or "x") + " and then some more words") for r in REQUESTS]
    loose = _settings(steps=6, stop_loss=0.0)
    prepared = vl._prepare(tok, requests, list(PREFIXES), loose.essence_template)
    assert len(vl._chunks(prepared, loose)) == 1
    tight = _settings(steps=6, stop_loss=0.0, max_positions=250)
    chunks = vl._chunks(prepared, tight)
    assert [len(c) for c in chunks] == [2, 1, 1] and [p.request for c in chunks for p in c] == requests
    for chunk in chunks:
        if len(chunk) > 1:
            b = vl._assemble(chunk, vl.pad_id(tok), torch.device("cpu"))
            assert b.before_ids.numel() + b.ids.numel() <= 250
    one, _, _ = vl.optimise_deltas(model, tok, requests, site, PREFIXES, loose)
    split, _, _ = vl.optimise_deltas(model, tok, requests, site, PREFIXES, tight)
    assert torch.allclose(one, split, atol=1e-5, rtol=1e-4)
    with pytest.raises(EditError, match="max_positions"):
        _settings(max_positions=0)


def test_long_work_shows_progress(tiny, capsys, monkeypatch) -> None:
    """A batch of many requests shows a bar over its steps, a split run one over its batches; one request none."""
    model, tok = tiny.model, tiny.tokenizer
    site = tiny.arch.site("mlp_out", 2)
    monkeypatch.setattr(vl, "_STEP_BAR_FROM", 4)
    many = [r.with_(case_id=f"{r.case_id}-{i}") for i in range(2) for r in REQUESTS]
    vl.optimise_deltas(model, tok, many, site, PREFIXES, _settings(steps=3, stop_loss=0.0))
    err = capsys.readouterr().err
    assert f"values at {site} (4 requests)" in err and "step" in err
    vl.optimise_deltas(model, tok, many, site, PREFIXES, _settings(steps=3, stop_loss=0.0, max_positions=250))
    assert "values (4 requests)" in capsys.readouterr().err
    vl.optimise_deltas(model, tok, REQUESTS[:1], site, PREFIXES, _settings(steps=3))
    assert "values" not in capsys.readouterr().err
