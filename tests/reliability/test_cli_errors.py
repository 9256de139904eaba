"""Issue 14 items 9 and 10, issue 15 item 3: every user error is one line on stderr with exit code 2.

Through the real console entry point (``stylekg.cli.main``): usage errors, rich markup in names and messages,
non-UTF-8 input files, wrongly typed config values, malformed prompt templates, a model name that is a directory.
"""

from __future__ import annotations

import json

import pytest


MARKUP = "rich[/x]name [bold]b[/bold] [link=file:///etc]l[/link]"


def _one_line_error(result, *needles: str) -> str:
    assert result.code == 2, (result.code, result.out, result.err)
    assert "Traceback" not in result.err and "unexpected" not in result.err, result.err
    assert len(result.err_lines) == 1, result.err
    line = result.err_lines[0]
    assert line.startswith("error: "), line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


# ---- usage errors (issue 15 item 3) -------------------------------------------------------------------------
@pytest.mark.parametrize("args, needle", [
    (["run", "--bogus"], "--bogus"),
    (["run", "Yoda", "--propagate"], "--propagate"),
    (["eval", "--batch-size", "abc"], "--batch-size"),
    (["kg", "decompose"], "subject"),
    (["models", "pull"], "name"),
    (["edit", "--graph", "g.json", "--node", "X", "--no-such-flag"], "--no-such-flag"),
    (["no-such-command"], "no-such-command"),
])
def test_usage_errors_are_one_line_exit_2(cli, args, needle):
    _one_line_error(cli(*args), needle)


def test_llm_model_is_the_flag_everywhere_an_llm_is_chosen(cli):
    """The README's `kg decompose … --llm-model` parses (the library provider needs no endpoint)."""
    result = cli("kg", "decompose", "Carl Sagan", "--provider", "library", "--llm-model", "unused", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["subject"] == "Carl Sagan"


# ---- rich markup in names (item 9) --------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["run", MARKUP, "--model", "tiny-gpt2"],  # not in the library: the error names the style
    ["kg", "show", MARKUP],
    ["generate", MARKUP, "hello"],  # an unknown model
    ["run", "Yoda", "--model", "tiny-gpt2", "--method", MARKUP],
])
def test_markup_in_names_is_printed_literally(cli, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    _one_line_error(cli(*args), "rich[/x]name")


# ---- bad input (item 10) ------------------------------------------------------------------------------------
LATIN1 = "Jos\xe9 {} said".encode("latin-1")


def test_non_utf8_request_file(cli, tmp_path):
    bad = tmp_path / "req.jsonl"
    bad.write_bytes(b'{"requested_rewrite": {"prompt": "' + LATIN1 + b'", "subject": "x", "target_new": {"str": "y"}}}\n')
    _one_line_error(cli("edit", "--model", "tiny-gpt2", "--requests", bad, "--out", tmp_path / "out"),
                    str(bad), "UTF-8")
    _one_line_error(cli("eval", "--model", "tiny-gpt2", "--requests", bad), str(bad), "UTF-8")
    assert not (tmp_path / "out").exists()


def test_non_utf8_run_config(cli, tmp_path):
    bad = tmp_path / "run.toml"
    bad.write_bytes(b'[run]\nstyle = "' + LATIN1 + b'"\n')
    _one_line_error(cli("run", "--config", bad), str(bad), "UTF-8")


def test_non_utf8_hyperparameter_file(cli, tmp_path):
    bad = tmp_path / "hp.toml"
    bad.write_bytes(b'# ' + LATIN1 + b'\nlayers = [1]\n')
    requests = tmp_path / "req.jsonl"
    requests.write_text('{"requested_rewrite": {"prompt": "{} lives in", "subject": "x", "target_new": {"str": "y"}}}\n')
    _one_line_error(cli("edit", "--model", "tiny-gpt2", "--requests", requests, "--hparams", bad), "UTF-8")


@pytest.mark.parametrize("body, needle", [
    ("run = 3\n", "'run' must be a table"),
    ('[run]\nstyle = "Yoda"\npresence_threshold = "x"\n', "presence_threshold must be a number"),
    ('[run]\nstyle = "Yoda"\nmax_markers = 2.5\n', "max_markers must be an integer"),
    ('[run]\nstyle = "Yoda"\ninstall_if_absent = "yes"\n', "install_if_absent must be true or false"),
    ('[run]\nstyle = 7\n', "style must be a string"),
    ('[run]\nstyle = "Yoda"\nstore = 1\n', "store must be a string"),
    ('[run]\nstyle = "Yoda"\nextra = "x"\n', "extra must be a table"),
    ('[run]\nstyle = "Yoda"\nseed = true\n', "seed must be an integer"),
])
def test_wrongly_typed_config_values(cli, tmp_path, body, needle):
    path = tmp_path / "run.toml"
    path.write_text(body)
    _one_line_error(cli("run", "--config", path), needle, str(path))


def test_every_run_config_field_is_type_checked():
    import dataclasses

    from stylekg.errors import ConfigError
    from stylekg.pipeline.config import RunConfig

    wrong = {str: 3, int: "3", float: "x", bool: "true", "str | None": 3, "dict[str, Any]": ["x"]}
    for f in dataclasses.fields(RunConfig):
        value = wrong.get(f.type, wrong.get(eval(f.type) if f.type in ("str", "int", "float", "bool") else f.type))
        assert value is not None, f"no wrong value for {f.name}: {f.type}"
        kwargs = {"style": "Yoda", f.name: value}
        with pytest.raises(ConfigError, match=f.name):
            RunConfig(**kwargs)


@pytest.mark.parametrize("prompt", ["{} met {} in Paris", "{} said {", "{} said }", "{name} lives in"])
def test_malformed_prompt_templates_stop_before_the_model(cli, tmp_path, prompt):
    requests = tmp_path / "req.jsonl"
    record = {"requested_rewrite": {"prompt": prompt, "subject": "Danielle Darrieux", "target_new": {"str": "English"},
                                    "target_true": {"str": "French"}}}
    requests.write_text(json.dumps(record) + "\n")
    out = tmp_path / "out"
    needle = f"prompt {prompt!r}"
    _one_line_error(cli("edit", "--method", "rome", "--model", "tiny-gpt2", "--requests", requests, "--out", out),
                    needle)
    _one_line_error(cli("eval", "--model", "tiny-gpt2", "--requests", requests), needle)
    assert not out.exists()


def test_relation_template_is_checked(cli, tmp_path):
    result = cli("edit", "--model", "tiny-gpt2", "--graph", "library", "--node", "Yoda", "--mode", "relation",
                 "--relation-template", "{} and {} speak", "--out", tmp_path / "out")
    _one_line_error(result, "--relation-template")


def test_a_model_name_that_is_a_directory_outside(cli, tmp_path, monkeypatch):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    _one_line_error(cli("generate", "../..", "hello"), "'../..'", "not a model")
    _one_line_error(cli("generate", "/etc", "hello"), "not a model")


def test_a_bad_device_is_a_clear_error(cli):
    _one_line_error(cli("generate", "tiny-gpt2", "hello", "--device", "bogus"), "'bogus' is not a torch device")
