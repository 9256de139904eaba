"""The method contract: one declared MethodSpec per method, one naming rule, one lazy statistics provider."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stylekg.editing import EditContext, registry
from stylekg.editing import stats as st
from stylekg.editing.hparams_files import load_method
from stylekg.editing.registry import CONFIG_ROOT, METHODS, MethodSpec, Need, config_dir, get_method, package_of
from stylekg.errors import EditError

from .edit_helpers import REQUESTS, margins, same_weights, snapshot

TEXTS = [
    "The capital of France is Paris. The capital of Italy is Rome.",
    "Michael Jordan plays the sport of basketball. Lionel Messi plays the sport of soccer.",
    "Believe me, this is the best plan, tremendous, really tremendous.",
] * 4


@pytest.fixture()
def corpus(tmp_path) -> list[str]:
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(TEXTS), "utf-8")
    return [str(path)]


# ---- the naming rule ----------------------------------------------------------------------------------------
def test_the_naming_rule() -> None:
    assert package_of("penalty-ft") == "stylekg.editing.penalty_ft"
    assert config_dir("penalty-ft") == CONFIG_ROOT / "penalty-ft"
    assert list(METHODS) == sorted(METHODS) and "rome" in METHODS and "steer" in METHODS


@pytest.mark.parametrize("name", METHODS)
def test_every_method_resolves_by_the_naming_rule(name) -> None:
    """id → package (main.py's apply, hparams.py's dataclass, METHOD in __init__) → config folder it loads."""
    spec = get_method(name)
    assert isinstance(spec, MethodSpec) and spec.name == name and spec.package == package_of(name)
    assert spec.apply.__module__ == f"{package_of(name)}.main"
    assert spec.hparams_class.__module__ == f"{package_of(name)}.hparams"
    configs = sorted(spec.config_dir.glob("*.toml"))
    assert configs, f"no config folder {spec.config_dir}"
    for path in configs:  # every shipped config of the method loads into its hparams class
        loaded, hp = load_method(name, path.stem)
        assert loaded is spec and isinstance(hp, spec.hparams_class)


def test_packages_and_config_folders_match() -> None:
    """A method package without a config folder, or a config folder without a method, is a broken rule."""
    packages = {p.parent.name.replace("_", "-") for p in registry.PACKAGE_DIR.glob("*/main.py")}
    folders = {p.name for p in CONFIG_ROOT.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    assert packages == set(METHODS) == folders


def test_an_unknown_method_is_named_with_the_choices() -> None:
    with pytest.raises(EditError, match="unknown editing method 'romee'") as err:
        get_method("romee")
    assert "rome" in err.value.hint


def test_importing_editing_imports_no_method() -> None:
    """Listing the methods reads file names; get_method imports only the package asked for (and what it uses)."""
    code = ("import sys, stylekg.editing as e; from stylekg.editing.registry import package_of\n"
            "before = [m for m in e.METHODS if package_of(m) in sys.modules]\n"
            "e.get_method('ft')\n"
            "after = [m for m in e.METHODS if package_of(m) in sys.modules]\n"
            "print(before, after)")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert out.stdout.split() == ["[]", "['ft']"]


# ---- declared needs -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", METHODS)
def test_declared_needs_match_the_hparams(name) -> None:
    """STATISTICS methods say which layers and how many samples; no other method carries statistics settings."""
    spec = get_method(name)
    assert isinstance(spec.needs, frozenset) and all(isinstance(n, Need) for n in spec.needs)
    _, hp = load_method(name, "tiny-gpt2")
    if Need.STATISTICS in spec.needs:
        assert isinstance(hp.stats_samples, int) and hasattr(torch, hp.stats_dtype)
        assert all(isinstance(layer, int) for layer in hp.stats_layers())
    else:
        assert not hasattr(hp, "stats_samples") and not hasattr(hp, "stats_layers")
    if spec.sequential_state is not None:
        assert spec.sequential_state() is not spec.sequential_state()  # a fresh state per sequence
    assert inspect.signature(spec.apply).parameters["context"].default is None


@pytest.mark.parametrize("name", [m for m in METHODS if Need.STATISTICS in get_method(m).needs])
def test_statistics_methods_read_the_provider(tiny, home, corpus, name) -> None:
    """A method that needs statistics asks the context's provider for its layers, which measures each once."""
    spec, hp = load_method(name, "tiny-gpt2")
    provider = st.KeyStatistics.for_hparams(tiny.model, tiny.tokenizer, hp, corpus=corpus)
    before = snapshot(tiny.model)
    result = spec.apply(tiny.model, tiny.tokenizer, REQUESTS, hp, EditContext(stats=provider))
    try:
        assert provider.layers == tuple(hp.stats_layers())
        assert all(m > 0 for m in margins(tiny.model, tiny.tokenizer, REQUESTS))
    finally:
        result.restore()
    assert same_weights(tiny.model, before)


def test_steering_is_declared_a_live_hook() -> None:
    assert [m for m in METHODS if not get_method(m).edits_weights] == ["steer"]


# ---- the statistics provider --------------------------------------------------------------------------------
def test_the_provider_measures_each_layer_once(tiny, home, corpus, monkeypatch) -> None:
    calls: list[list[int]] = []
    real = st.key_second_moments

    def counted(model, tokenizer, layers, **kw):
        calls.append(list(layers))
        return real(model, tokenizer, layers, **kw)

    monkeypatch.setattr(st, "key_second_moments", counted)
    entered: list[int] = []

    class Around:
        def __enter__(self):
            entered.append(1)

        def __exit__(self, *exc):
            return False

    provider = st.KeyStatistics(tiny.model, tiny.tokenizer, corpus=corpus, samples=200, around=Around)
    first = provider.get([1])
    both = provider.get([2, 1])
    again = provider.get([1, 2])
    assert calls == [[1], [2]] and len(entered) == 2  # layer 1, then the missing layer 2 only
    assert first[1] is both[1] is again[1] and both[2] is again[2]
    direct = real(tiny.model, tiny.tokenizer, [1, 2], samples=200, corpus=corpus, use_cache=False)
    for layer in (1, 2):  # the same tensors a direct, uncached call gives
        assert torch.allclose(again[layer], direct[layer], rtol=1e-6, atol=1e-9)
    assert provider[2] is again[2] and 2 in provider and 3 not in provider


def test_a_plain_mapping_is_wrapped_and_completed_for_the_model(tiny, home, corpus) -> None:
    c1 = torch.eye(tiny.model.config.n_inner or 4 * tiny.model.config.n_embd)
    context = EditContext(stats={1: c1}, corpus=corpus)
    assert isinstance(context.stats, st.KeyStatistics) and context.stats[1] is c1
    with pytest.raises(EditError, match=r"no key statistics for layer\(s\) \[2\]"):
        context.stats.get([1, 2])  # a mapping alone cannot measure
    _, hp = load_method("memit", "tiny-gpt2")
    bound = context.key_statistics(tiny.model, tiny.tokenizer, hp)
    got = bound.get([1, 2])
    assert got[1] is c1 and got[2].shape == c1.shape  # the given layer kept, the missing one measured
    assert bound.samples == hp.stats_samples and bound.corpus == corpus
    assert EditContext(stats=bound).key_statistics(tiny.model, tiny.tokenizer, hp) is bound
    other = torch.nn.Linear(1, 1)
    with pytest.raises(EditError, match="another model"):
        EditContext(stats=bound).key_statistics(other, tiny.tokenizer, hp)


# ---- the job's session: statistics of the unedited weights --------------------------------------------------
def test_the_session_measures_the_unedited_weights(tiny, home, tmp_path) -> None:
    from stylekg.pipeline.session import ModelSession

    session = ModelSession("tiny-gpt2")
    session._lm = tiny  # the shared tiny model instead of a second load
    spec, hp = load_method("memit", "tiny-gpt2")
    unedited = st.key_second_moments(tiny.model, tiny.tokenizer, [1, 2], samples=hp.stats_samples)
    before = snapshot(tiny.model)
    delta = tmp_path / "edit.safetensors"
    result = spec.apply(tiny.model, tiny.tokenizer, REQUESTS, hp, EditContext(stats=unedited))
    result.save(delta)
    result.restore()
    assert session.reapply(delta)  # an earlier edit of the job is applied, as in a resumed run
    edited = snapshot(tiny.model)
    try:
        on_edited = st.key_second_moments(tiny.model, tiny.tokenizer, [2], samples=hp.stats_samples)
        assert not torch.allclose(on_edited[2], unedited[2])  # the edit at layer 1 moves layer 2's keys
        context = session.context(spec, hp)
        got = context.stats.get([1, 2])  # measured now, with the applied edit taken off
        for layer in (1, 2):
            assert torch.equal(got[layer], unedited[layer])
        assert same_weights(tiny.model, edited)  # the edit is back in place
        assert session.context(spec, hp).stats is context.stats  # one provider per job and setting
        assert session.context(get_method("ft"), load_method("ft", "tiny-gpt2")[1]) is None
    finally:
        for result in session.applied.values():
            result.restore()
    assert same_weights(tiny.model, before)
