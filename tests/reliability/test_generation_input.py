"""Issue 12, bad input to the generation meter of ``stylekg run``: an empty prompt set, a style with no markers,
k = 0 and an unreachable judge each stop with one line and exit code 2, before anything is written."""

from __future__ import annotations

import json
import socket

import pytest

RUN = ["run", "Donald Trump", "--erase", "--model", "tiny-gpt2", "--method", "memit"]


def _nothing_written(tmp_path) -> None:
    assert not (tmp_path / "g.lbug").exists(), "the store was created"
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir()), list(runs.iterdir())


def _stops(cli, tmp_path, *args: str, needle: str) -> str:
    result = cli(*RUN, *args, "--store", tmp_path / "g.lbug", "--runs-dir", tmp_path / "runs")
    assert result.code == 2, (result.code, result.out, result.err)
    assert "Traceback" not in result.err and len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith("error: ") and needle in result.err_lines[0], result.err
    _nothing_written(tmp_path)
    return result.err_lines[0]


def test_an_empty_held_out_split(cli, tmp_path):
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps({"train": ["Explain rain."], "heldout": []}))
    _stops(cli, tmp_path, "--prompts", prompts, needle="heldout split")


def test_an_unknown_prompt_set(cli, tmp_path):
    _stops(cli, tmp_path, "--prompts", "no-such-set", needle="no-such-set")


def test_a_style_without_markers(cli, tmp_path):
    _stops(cli, tmp_path, "--prompts", "assistant-instructions", "--node", "Spoken voice", needle="Spoken voice")


@pytest.mark.parametrize("args, needle", [
    (["--samples", "0"], "k = 0"),
    (["--samples", "3"], "greedy"),  # several answers per prompt need a temperature
    (["--temperature", "-1"], "temperature"),
])
def test_bad_sampling(cli, tmp_path, args, needle):
    _stops(cli, tmp_path, "--prompts", "assistant-instructions", *args, needle=needle)


def test_an_unreachable_judge(cli, tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    _stops(cli, tmp_path, "--prompts", "assistant-instructions", "--judge-model", "judge", needle="cannot reach")


def test_a_judge_without_prompts(cli, tmp_path):
    _stops(cli, tmp_path, "--judge-model", "judge", needle="judge_model")


@pytest.mark.parametrize("item", ["bogus", "nomethod=penalty-ft/smollm2-135m-voice", "penalty-ft=no/such"])
def test_compare_hparams_are_checked_before_the_model(cli, item):
    result = cli("compare", "--style", "Assistant-speak", "--model", "tiny-gpt2", "--hparams", item)
    assert result.code == 2 and len(result.err_lines) == 1, result.err
