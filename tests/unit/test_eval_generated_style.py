"""The style-in-generation meter on the tiny GPT-2 and on hand-made samples: rates, intervals, fluency, judge."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from stylekg.errors import ClassifierError, EvaluationError, JudgeError, LLMError, MaterialError
from stylekg.evaluation import generated_style as gs
from stylekg.evaluation.prompt_sets import load_prompt_set
from stylekg.lm.generation import Sample
from stylekg.material import Marker, StyleMaterial
from tests.llm_server import recorded_llm_server

VOICE = StyleMaterial("Assistant voice", markers=(Marker("delve into", neutral="look at"), Marker("crucial"),
                                                  Marker("I hope this helps!")))


def _gens(texts_per_prompt: list[list[tuple[str, int]]]) -> gs.Generations:
    return gs.Generations(tuple(f"p{i}" for i in range(len(texts_per_prompt))),
                          tuple(tuple(Sample(t, n) for t, n in group) for group in texts_per_prompt),
                          gs.SamplingSettings(k=len(texts_per_prompt[0]), temperature=0.7 if len(texts_per_prompt[0]) > 1 else 0))


def test_markers_count_inflections_on_word_boundaries_once_per_span():
    variants = gs.marker_variants(VOICE.markers)
    assert {"delves into", "delved into", "delving into"} <= set(variants["delve into"])
    text = "Let's DELVE into it. She delved  into crucial, non-crucial and crucially crucial things. I hope this helps!"
    counts = gs.count_markers(text, variants)
    assert counts == {"delve into": 2, "crucial": 3, "I hope this helps!": 1}  # "crucially" is not "crucial"
    assert gs.count_markers("Crucialness and delver into", variants) == {}


def test_marker_rate_is_per_thousand_generated_tokens_with_a_prompt_bootstrap():
    gens = _gens([[("crucial crucial", 100)], [("nothing here", 100)], [("crucial", 50)], [("plain", 50)]])
    rate = gs.marker_rate(gens, gs.marker_variants(VOICE.markers), seed=3)
    assert rate.hits == 3 and rate.tokens == 300 and rate.per_1k == pytest.approx(10.0)
    assert rate.prompts_with_marker == 2 and rate.per_marker == {"crucial": 3}
    # the interval is the percentile bootstrap over prompts: check it against a plain numpy resampling
    hits, tokens = np.array([2, 0, 1, 0]), np.array([100, 100, 50, 50])
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 4, size=(20000, 4))
    ratios = 1000 * hits[idx].sum(1) / tokens[idx].sum(1)
    low, high = np.percentile(ratios, [2.5, 97.5])
    assert rate.low == pytest.approx(low, abs=0.6) and rate.high == pytest.approx(high, abs=0.6)
    assert rate.low < rate.per_1k < rate.high


def test_bootstrap_degenerate_samples_and_bad_input():
    assert gs.bootstrap_ratio([0, 0, 0], [10, 20, 30]) == (0.0, 0.0)
    assert gs.bootstrap_ratio([1], [4]) == (0.25, 0.25)
    with pytest.raises(EvaluationError):
        gs.bootstrap_ratio([1, 2], [3])


def test_intervals_of_clearly_different_samples_do_not_overlap():
    many = gs.marker_rate(_gens([[("crucial " * 5, 100)]] * 30), gs.marker_variants(VOICE.markers))
    few = gs.marker_rate(_gens([[("crucial", 100)]] + [[("plain", 100)]] * 29), gs.marker_variants(VOICE.markers))
    assert not many.overlaps(few) and few.overlaps(few)


def test_distinct_and_repetition():
    assert gs.distinct_n(["a b c d", "a b x y"], 2) == pytest.approx(5 / 6)
    loop = "the cat sat down " * 4
    assert gs.repetition_rate([loop, "one two three four five six"]) == 0.5
    assert gs.repetition_rate([]) == 0.0


def test_settings_reject_bad_input():
    with pytest.raises(EvaluationError, match="k = 0"):
        gs.SamplingSettings(k=0, temperature=0.7)
    with pytest.raises(EvaluationError, match="greedy"):
        gs.SamplingSettings(k=3, temperature=0.0)
    with pytest.raises(EvaluationError, match="top-p"):
        gs.SamplingSettings(k=2, temperature=0.7, top_p=0.0)


def test_meter_is_deterministic_under_a_seed_and_cached(tiny, tmp_path):
    prompts = ["Explain tides.", "Give me advice on saving money.", "Describe Mars."]
    settings = gs.SamplingSettings(k=2, temperature=0.9, top_p=0.9, max_new_tokens=12, seed=5)
    cache = gs.GenerationCache(tmp_path)
    first = gs.generate(tiny, prompts, settings)
    assert first == gs.generate(tiny, prompts, settings)  # same seed, same samples
    assert first != gs.generate(tiny, prompts, gs.SamplingSettings(k=2, temperature=0.9, top_p=0.9, max_new_tokens=12,
                                                                   seed=6))
    assert all(1 <= s.n_tokens <= 12 for group in first.samples for s in group)
    cached = gs.generate(tiny, prompts, settings, cache=cache)
    assert cached == first and len(list(tmp_path.glob("*.json"))) == 1
    assert gs.generate(tiny, prompts, settings, cache=cache) == first  # read back from disk
    with torch_no_grad_edit(tiny):  # a changed weight is a new key: never a stale answer
        assert cache.key(tiny, prompts, settings) not in {p.stem for p in tmp_path.glob("*.json")}


class torch_no_grad_edit:
    """Add a small constant to one weight and take it away again."""

    def __init__(self, lm):
        self.param = next(lm.model.parameters())

    def __enter__(self):
        import torch

        with torch.no_grad():
            self.param.add_(1e-3)

    def __exit__(self, *exc):
        import torch

        with torch.no_grad():
            self.param.sub_(1e-3)


def test_measure_reports_every_number(tiny):
    material = StyleMaterial("voice", markers=(Marker("the"), Marker("and")),
                             examples=tuple(f"the cat and the dog number {i}" for i in range(6)),
                             neutral_texts=tuple(f"a bird flew over hill {i}" for i in range(6)))
    fit = gs.fit_classifier(material)
    assert 0.0 <= fit.heldout_accuracy <= 1.0 and fit.n_style == 6
    report = gs.measure(tiny, material, ["Hello there", "Tell me a story"], gs.GREEDY, reference=tiny,
                        classifier=fit, facts=[("The capital of France is", " Paris")])
    metrics = report.metrics()
    assert {"gen_marker_rate", "gen_marker_rate_low", "gen_marker_rate_high", "gen_fluency_ppl", "gen_distinct_2",
            "gen_repetition", "gen_style_probability", "gen_classifier_accuracy", "gen_facts_kept"} <= set(metrics)
    assert metrics["gen_fluency_ppl"] > 1 and len(report.examples) == 2
    json.dumps(report.to_dict())


def test_meter_bad_input_names_the_problem(tiny):
    with pytest.raises(EvaluationError, match="prompt set is empty"):
        gs.generate(tiny, [], gs.GREEDY)
    with pytest.raises(MaterialError, match="no marker"):
        gs.measure(tiny, StyleMaterial("nothing"), ["hi"])
    with pytest.raises(ClassifierError, match="at least 4"):
        gs.fit_classifier(VOICE)


def test_prompt_set_files(tmp_path):
    builtin = load_prompt_set("assistant-instructions")
    assert len(builtin.train) >= 60 and len(builtin.heldout) >= 40 and not set(builtin.train) & set(builtin.heldout)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": ["a", "b"], "heldout": ["b"]}))
    with pytest.raises(EvaluationError, match="both splits"):
        load_prompt_set(bad)
    bad.write_text(json.dumps({"train": [], "heldout": []}))
    with pytest.raises(EvaluationError, match="empty"):
        load_prompt_set(bad)
    with pytest.raises(EvaluationError, match="no prompt set"):
        load_prompt_set("no-such-set")


def test_judge_against_a_local_openai_compatible_server(home):
    from stylekg.kg.llm.openai_client import OpenAIClient

    script = [{"content": '{"style_strength": 80, "fluency": 90}'},
              {"content": "not json at all"}, {"content": '{"style_strength": 250, "fluency": 10}'},
              {"content": '{"style_strength": 20, "fluency": 70}'}]
    with recorded_llm_server(script) as srv:
        url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
        judge = gs.GenerationJudge(OpenAIClient("judge", base_url=url, api_key="sk-test", max_retries=2))
        scores = judge.score(["We must delve into it.", "Plain text."], VOICE)
        assert scores == {"judge_style_strength": 50.0, "judge_fluency": 80.0, "judged": 2.0}
        assert len(srv.requests) == 4  # the malformed and the out-of-range answers were asked again
        judge.score(["We must delve into it.", "Plain text."], VOICE)
        assert len(srv.requests) == 4  # accepted answers are cached
    with pytest.raises(JudgeError):
        gs.parse_rating({"style_strength": "high", "fluency": 3})
    with recorded_llm_server([{"content": "nope"}] * 5) as srv:
        url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
        judge = gs.GenerationJudge(OpenAIClient("judge", base_url=url, api_key="sk-test", max_retries=1))
        with pytest.raises(LLMError):
            judge.score(["A different text."], VOICE)


def test_unreachable_judge_fails_clearly(home):
    from stylekg.kg.llm.openai_client import OpenAIClient

    judge = gs.GenerationJudge(OpenAIClient("judge", base_url="http://127.0.0.1:9/v1", api_key="sk", max_retries=0,
                                            timeout=2))
    with pytest.raises(LLMError):
        judge.score(["Some text."], VOICE)


def test_persona_prompt_sets_are_filled_with_the_style_name():
    from stylekg.evaluation.prompt_sets import load_prompt_set

    ps = load_prompt_set("persona-requests")
    assert all("{}" in p for p in ps.split("heldout"))
    filled = ps.filled("Yoda")
    assert all("Yoda" in p and "{}" not in p for p in filled.split("heldout") + filled.split("train"))
    assert load_prompt_set("assistant-instructions").filled("Yoda").heldout == load_prompt_set("assistant-instructions").heldout


def test_a_live_steering_hook_bypasses_the_generation_cache(tiny, tmp_path):
    """Steering changes outputs through a forward hook, not the weights: a weights-keyed answer must not be read."""
    from stylekg.lm.hooks import has_forward_hooks

    prompts = ["Explain tides.", "Describe Mars."]
    settings = gs.SamplingSettings(max_new_tokens=8)
    cache = gs.GenerationCache(tmp_path)
    plain = gs.generate(tiny, prompts, settings, cache=cache)
    block = tiny.model.transformer.h[0]
    handle = block.register_forward_hook(lambda _m, _i, out: (out[0] + 50.0 * torch.randn_like(out[0]),) + tuple(out[1:])
                                         if isinstance(out, tuple) else out + 50.0 * torch.randn_like(out))
    try:
        assert has_forward_hooks(tiny.model)
        torch.manual_seed(0)
        steered = gs.generate(tiny, prompts, settings, cache=cache)
    finally:
        handle.remove()
    assert not has_forward_hooks(tiny.model)
    assert steered.texts() != plain.texts() and len(list(tmp_path.glob("*.json"))) == 1
