"""Sequential editing: batches applied one after another on the edited model, one exact undo."""

from __future__ import annotations

import pytest
import torch

from stylekg.editing import EditContext, alphaedit, memit, rome
from stylekg.editing.hparams_files import load_method
from stylekg.editing.sequential import apply_sequentially
from stylekg.errors import EditError
from stylekg.requests import EditRequest

from .edit_helpers import REQUESTS, margins, same_weights, snapshot


@pytest.mark.parametrize("name", ["rome", "memit", "alphaedit"])
def test_batches_add_up_and_restore_exactly(tiny, home, name) -> None:
    module = {"rome": rome, "memit": memit, "alphaedit": alphaedit}[name]
    _, hp = load_method(name, "tiny-gpt2")
    model, tok = tiny.model, tiny.tokenizer
    before = snapshot(model)
    seen: list[int] = []
    result = apply_sequentially(name, module.apply, model, tok, REQUESTS, hp, 1,
                                on_batch=lambda edits, _res: seen.append(edits))
    try:
        assert seen == [1, 2] and len(result.info["batches"]) == 2
        assert all(m > 0 for m in margins(model, tok, REQUESTS))
        for pname, delta in result.deltas.items():  # the combined delta is the total change
            assert torch.allclose(model.get_parameter(pname) - before[pname], delta, atol=1e-5)
    finally:
        result.restore()
    assert same_weights(model, before)


def test_a_failing_batch_undoes_the_earlier_ones(tiny, home) -> None:
    _, hp = load_method("memit", "tiny-gpt2")
    model, tok = tiny.model, tiny.tokenizer
    before = snapshot(model)
    bad = EditRequest("The capital city of {}", "Nowhere-land that is not in the prompt", " Rome", " Paris")
    object.__setattr__(bad, "prompt", "The capital city of")  # break it after validation of the dataclass
    with pytest.raises(EditError):
        apply_sequentially("memit", memit.apply, model, tok, [REQUESTS[0], bad], hp, 1,
                           context=EditContext())
    assert same_weights(model, before)
    with pytest.raises(EditError, match="at least 1"):
        apply_sequentially("memit", memit.apply, model, tok, REQUESTS, hp, 0)
