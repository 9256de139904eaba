"""CounterFact metrics against hand-computed NLLs from plain, unbatched forwards on tiny GPT-2."""

from __future__ import annotations

import json
import math

import pytest
import torch

from stylekg.errors import StyleKGError
from stylekg.evaluation.counterfact import evaluate, evaluate_requests, load_requests
from stylekg.errors import EvaluationError
from stylekg.evaluation.results import METRIC_NAMES
from stylekg.evaluation.scoring import score_continuations
from stylekg.requests import EditRequest, RequestKind


@torch.no_grad()
def hand_nll(lm, prefix: str, target: str) -> tuple[float, bool]:
    """Per-token mean NLL of ``target`` after ``prefix`` and whether greedy decoding writes it (no batching)."""
    tok = lm.tokenizer
    p = tok(prefix)["input_ids"]
    t = tok(target, add_special_tokens=False)["input_ids"]
    logits = lm.model(torch.tensor([p + t])).logits[0]
    total, greedy = 0.0, True
    for j, tid in enumerate(t):
        row = torch.log_softmax(logits[len(p) + j - 1].double(), dim=-1)
        total -= float(row[tid])
        greedy &= int(row.argmax()) == tid
    return total / len(t), greedy


@pytest.fixture()
def request_():
    return EditRequest(
        prompt="{} lives in",
        subject="Alice",
        target_new=" the city of Paris",
        target_true=" London",
        case_id="c1",
        paraphrase_prompts=("Alice is a resident of", "The home of Alice is"),
        neighborhood_prompts=("Bob lives in", "The old man named Carol lives in"),
        alias_prompts=("Alicia lives in",),
    )


def test_metrics_match_hand_computed_values(tiny, request_):
    report = evaluate(tiny, [request_], batch_size=3)
    case = report.cases[0]
    groups = {"rewrite": [request_.text], "paraphrase": list(request_.paraphrase_prompts),
              "neighborhood": list(request_.neighborhood_prompts), "alias": list(request_.alias_prompts)}
    hand = {}
    for group, prompts in groups.items():
        hand[group] = [(hand_nll(tiny, p, request_.target_new), hand_nll(tiny, p, request_.target_true)) for p in prompts]
    recs = {(r.group, r.prompt): r for r in case.prompts}
    for group, prompts in groups.items():
        for p, ((nn, gn), (nt, gt)) in zip(prompts, hand[group]):
            r = recs[(group, p)]
            assert r.nll_new == pytest.approx(nn, abs=1e-5)
            assert r.nll_true == pytest.approx(nt, abs=1e-5)
            assert (r.new_top1, r.true_top1) == (gn, gt)

    def expect(group, keep_truth=False):
        pairs = hand[group]
        if keep_truth:
            score = sum(t[0] < n[0] for n, t in pairs) / len(pairs)
            mag = sum(math.exp(-t[0]) - math.exp(-n[0]) for n, t in pairs) / len(pairs)
        else:
            score = sum(n[0] < t[0] for n, t in pairs) / len(pairs)
            mag = sum(math.exp(-n[0]) - math.exp(-t[0]) for n, t in pairs) / len(pairs)
        return score, mag

    m = case.metrics
    for name, group, keep in (("efficacy", "rewrite", False), ("paraphrase", "paraphrase", False),
                              ("neighborhood", "neighborhood", True), ("alias", "alias", False)):
        score, mag = expect(group, keep)
        assert getattr(m, f"{name}_score") == pytest.approx(score)
        assert getattr(m, f"{name}_magnitude") == pytest.approx(mag, abs=1e-6)
    assert m.prob_new == pytest.approx(math.exp(-hand["rewrite"][0][0][0]), rel=1e-4)
    assert m.prob_true == pytest.approx(math.exp(-hand["rewrite"][0][1][0]), rel=1e-4)
    # the summary of one case is that case; "score" is the harmonic mean of the three headline scores
    s = report.summary
    assert s.efficacy_score == m.efficacy_score and s.neighborhood_magnitude == m.neighborhood_magnitude
    vals = [s.efficacy_score, s.paraphrase_score, s.neighborhood_score]
    assert s.score == (0.0 if 0 in vals else pytest.approx(3 / sum(1 / v for v in vals)))


def test_batched_scoring_equals_one_at_a_time(tiny):
    items = [("Alice lives in", " Paris"), ("A much longer prompt about the old town where Bob lives", " London town"),
             ("Carol", " went home"), ("Alice lives in", " the city of Paris")]
    one = score_continuations(tiny, items, batch_size=1)
    many = score_continuations(tiny, items, batch_size=4)
    for a, b in zip(one, many):
        assert len(a.token_logprobs) == len(b.token_logprobs)
        assert a.nll == pytest.approx(b.nll, abs=1e-5)
        assert a.greedy_hits == b.greedy_hits


def test_bos_is_kept_on_the_prefix_only(tiny):
    """A Llama-style tokenizer adds BOS: the prefix keeps it, the continuation never gets one."""
    import copy

    from tokenizers.processors import TemplateProcessing

    tok = copy.deepcopy(tiny.tokenizer)
    bos = tok.bos_token
    tok._tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, tok.bos_token_id)]
    )
    assert tok("Alice")["input_ids"][0] == tok.bos_token_id

    class WithBos:
        model, tokenizer = tiny.model, tok

    got = score_continuations(WithBos(), [("Alice lives in", " Paris"), ("Bob", " is here now")], batch_size=2)
    for (prefix, target), score in zip([("Alice lives in", " Paris"), ("Bob", " is here now")], got):
        ids = [tok.bos_token_id] + tiny.tokenizer(prefix)["input_ids"]
        t = tiny.tokenizer(target, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = tiny.model(torch.tensor([ids + t])).logits[0]
        lp = torch.log_softmax(logits, -1)
        expected = -sum(float(lp[len(ids) + j - 1, tid]) for j, tid in enumerate(t)) / len(t)
        assert score.nll == pytest.approx(expected, abs=1e-5)


def test_insert_and_erase_requests_leave_undefined_metrics_none(tiny):
    insert = EditRequest("{} says", "Yoda", " hmm", None, kind=RequestKind.INSERT, paraphrase_prompts=("Yoda often says",))
    erase = EditRequest("{} says", "Trump", None, " tremendous", kind=RequestKind.ERASE)
    report = evaluate(tiny, [insert, erase])
    a, b = report.cases[0].metrics, report.cases[1].metrics
    assert a.efficacy_score is None and a.prob_new is not None and a.prob_true is None
    assert a.efficacy_top1 is not None and a.paraphrase_top1 is not None
    assert b.efficacy_score is None and b.prob_true is not None and b.prob_new is None
    assert report.summary.efficacy_score is None and report.summary.score is None


def test_evaluate_requests_returns_fixed_metric_names(tiny, request_):
    out = evaluate_requests(tiny, [request_], generation_prompts=["Alice lives in"],
                            reference_texts=["Alice lives in Paris in France"], max_new_tokens=8)
    assert set(out) >= {"summary", "cases", "n_cases", "model"}
    assert tuple(out["summary"]) == METRIC_NAMES
    assert out["summary"]["fluency"] is not None and 0.0 <= out["summary"]["consistency"] <= 1.0
    gen = out["cases"][0]["generations"]
    assert len(gen) == 1 and gen[0].startswith("Alice lives in")  # texts include the prompt, as the reference's
    json.dumps(out)  # serialisable


def test_generation_is_seeded(tiny, request_):
    kw = dict(generation_prompts=["Alice lives in", "Bob is"], reference_texts=["Paris"], max_new_tokens=6, seed=3)
    a, b = evaluate(tiny, [request_], **kw), evaluate(tiny, [request_], **kw)
    assert a.cases[0].generations == b.cases[0].generations
    assert a.summary.fluency == b.summary.fluency


def test_bad_inputs_raise_clear_errors(tiny, request_, tmp_path):
    with pytest.raises(EvaluationError, match="no requests"):
        evaluate(tiny, [])
    with pytest.raises(EvaluationError, match="2 lists for 1 requests"):
        evaluate(tiny, [request_], generation_prompts=[["a"], ["b"]])
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(StyleKGError, match="not valid JSON"):
        load_requests(bad)
    with pytest.raises(EvaluationError, match="does not exist"):
        load_requests(tmp_path / "missing.jsonl")


def test_load_requests_reads_counterfact_jsonl(tmp_path):
    path = tmp_path / "r.jsonl"
    rec = {"case_id": 7, "requested_rewrite": {"prompt": "{} plays", "subject": "Messi", "target_new": {"str": "tennis"},
                                               "target_true": {"str": "football"}},
           "paraphrase_prompts": ["Messi is a"], "neighborhood_prompts": ["Ronaldo plays"],
           "generation_prompts": ["Messi is known for"]}
    path.write_text(json.dumps(rec) + "\n\n")
    (req,) = load_requests(path)
    assert req.case_id == "7" and req.target_new == " tennis" and req.target_true == " football"
    assert req.meta["generation_prompts"] == ["Messi is known for"]


def test_neighbours_with_their_own_answers_and_kept(tiny, request_):
    """A neighbour {prompt, target} is scored on its own answer; neighbours_kept compares with the baseline."""
    from stylekg.lm.generation import generate
    from stylekg.requests import Neighbour

    own = (Neighbour("Bob lives in", " Berlin"), Neighbour("Carol works as a", " doctor"))
    req = request_.with_(neighborhood_prompts=(*request_.neighborhood_prompts, *own))
    before = evaluate(tiny, [req])
    case = before.cases[0]
    records = [r for r in case.prompts if r.group == "locality"]
    assert [(r.prompt, r.target) for r in records] == [(n.prompt, n.target) for n in own]
    for r, n in zip(records, own):
        nll, top1 = hand_nll(tiny, n.prompt, n.target)
        assert r.nll_own == pytest.approx(nll, abs=1e-5) and r.own_top1 == top1
    # the CounterFact neighbourhood score still only reads the plain prompts (which keep target_true)
    assert {r.prompt for r in case.prompts if r.group == "neighborhood"} == set(request_.neighborhood_prompts)
    answers = [math.exp(-r.nll_own) for r in records] + [math.exp(-r.nll_true) for r in case.prompts
                                                          if r.group == "neighborhood"]
    assert case.metrics.neighbours_own_prob == pytest.approx(sum(answers) / len(answers), rel=1e-4)
    assert case.metrics.neighbours_kept is None  # needs a baseline
    same = evaluate(tiny, [req], baseline=before)
    assert same.cases[0].metrics.neighbours_kept == 1.0  # nothing changed: every neighbour is kept
    # a baseline whose answers were twice as likely: every neighbour lost half its probability or more
    import copy

    higher = copy.deepcopy(before)
    for r in higher.cases[0].prompts:
        if r.nll_own is not None:
            r.nll_own -= math.log(2.5)
        if r.group == "neighborhood":
            r.nll_true -= math.log(2.5)
    assert evaluate(tiny, [req], baseline=higher).cases[0].metrics.neighbours_kept == 0.0
    # generation-based efficacy: greedy continuations of the rewrite and paraphrase prompts
    rewrite = [r for r in case.prompts if r.group == "rewrite"][0]
    assert rewrite.generated == generate(tiny, [req.text], max_new_tokens=8)[0]
    expected = float(req.target_new.strip().lower() in rewrite.generated.lower())
    assert case.metrics.efficacy_generation == expected
    assert case.metrics.paraphrase_generation is not None


def test_neighbour_records_need_the_right_types():
    from stylekg.errors import EditError

    base = {"requested_rewrite": {"prompt": "{} lives in", "subject": "Alice", "target_new": {"str": "Paris"}}}
    req = EditRequest.from_counterfact({**base, "neighborhood_prompts": [{"prompt": "Bob lives in", "target": "Rome"}]})
    assert req.neighborhood_prompts[0].target == " Rome"
    assert req.to_counterfact()["neighborhood_prompts"] == [{"prompt": "Bob lives in", "target": "Rome"}]
    for bad, match in (([3], "string or an object"), ([{"prompt": "x"}], "exactly 'prompt' and 'target'"),
                       ([{"prompt": "x", "target": 5}], "must be strings"), ("abc", "must be a JSON list")):
        with pytest.raises(EditError, match=match):
            EditRequest.from_counterfact({**base, "neighborhood_prompts": bad})
    with pytest.raises(EditError, match="must be a JSON list"):
        EditRequest.from_counterfact({**base, "paraphrase_prompts": "abc"})
    for prompt, match in (("{} and {}", "2 '{}'"), ("{} lives in {", "stray brace"), ("lives in", "no '{}'")):
        with pytest.raises(EditError, match=match):
            EditRequest(prompt, "Alice", " Paris")
