"""Issue 24: damaged files heal themselves (fault injection).

Every kind of cache entry and every kind of run-directory file is damaged three ways (cut to half, 64 bytes
garbled, emptied); reading it again must recover (drop it with one warning naming it, compute it again, and give
the same result as before) or, where it cannot be rebuilt (a store), give one line and exit 2. Never a traceback,
never a different result. The run-directory part re-runs a real tiny-model ``stylekg run``.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load

from stylekg.lm import loading
from stylekg.lm.cache import read_checked, verified_sha256, write_checked
from stylekg.lm.errors import CacheCorruptError

from .helpers import write_config

DAMAGES = ("truncate", "garble", "empty")
SAME = ("styles", "metrics", "requests", "presence", "layers", "install")


def damage(path: Path, how: str, where: float = 0.5) -> None:
    """Cut ``path`` to half its size, overwrite 64 bytes at ``where`` of it with 0xFF, or empty it."""
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garble":
        at = min(int(len(data) * where), max(0, len(data) - 64))
        path.write_bytes(data[:at] + b"\xff" * 64 + data[at + 64:])
    else:
        path.write_bytes(b"")


def warned_about(caplog, text: str) -> bool:
    return any(r.levelno == logging.WARNING and text in r.getMessage() for r in caplog.records)


# ---- the checked-entry mechanism -----------------------------------------------------------------------------
@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_checked_entry_is_dropped_with_one_warning(tmp_path, caplog, how):
    path = write_checked(tmp_path / "entry.bin", b"payload " * 100, "demo", 1)
    assert read_checked(path, "demo", 1) == b"payload " * 100
    damage(path, how)
    with caplog.at_level(logging.WARNING):
        assert read_checked(path, "demo", 1) is None
    assert not path.exists()
    assert [r.getMessage() for r in caplog.records if str(path) in r.getMessage()], caplog.text


def test_an_entry_of_another_kind_or_schema_is_not_read(tmp_path):
    path = write_checked(tmp_path / "e", b"x", "demo", 1)
    assert read_checked(path, "demo", 2) is None and not path.exists()  # an older schema: rebuilt
    path = write_checked(tmp_path / "e", b"x", "demo", 1)
    assert read_checked(path, "other", 1) is None


# ---- each cache under $STYLEKG_HOME -------------------------------------------------------------------------
@pytest.mark.parametrize("how", DAMAGES)
def test_tokenizer_cache(home, caplog, how):
    from stylekg.lm.tiny import tiny_tokenizer

    clean = tiny_tokenizer()("The capital of France is").input_ids
    (entry,) = (home / "tokenizers").glob("*.json")
    damage(entry, how)
    with caplog.at_level(logging.WARNING):
        assert tiny_tokenizer()("The capital of France is").input_ids == clean
    assert warned_about(caplog, entry.name)
    assert read_checked(entry, "tokenizer", 1) is not None  # rebuilt and whole again


@pytest.mark.parametrize("how", DAMAGES)
def test_key_statistics_cache(tiny, home, caplog, how):
    from stylekg.editing.stats import key_second_moments

    clean = key_second_moments(tiny.model, tiny.tokenizer, [1], samples=64)[1]
    (entry,) = (home / "stats").glob("*.safetensors")
    damage(entry, how)
    with caplog.at_level(logging.WARNING):
        again = key_second_moments(tiny.model, tiny.tokenizer, [1], samples=64)[1]
    assert warned_about(caplog, entry.name) and torch.equal(again, clean)
    assert torch.isfinite(again).all()


@pytest.mark.parametrize("how", DAMAGES)
def test_generation_cache(tiny, home, caplog, how):
    from stylekg.evaluation.generated_style import GenerationCache, SamplingSettings, generate

    cache, settings = GenerationCache(), SamplingSettings(max_new_tokens=4, chat=False)
    clean = generate(tiny, ["The capital of France is"], settings, cache=cache)
    (entry,) = cache.root.glob("*.json")
    damage(entry, how)
    with caplog.at_level(logging.WARNING):
        assert generate(tiny, ["The capital of France is"], settings, cache=cache) == clean
    assert warned_about(caplog, entry.name)


@pytest.mark.parametrize("how", DAMAGES)
def test_measurement_and_edit_caches(tiny, home, tmp_path, caplog, how):
    from stylekg.pipeline.weights_cache import cached_edit, cached_value, weights_key

    key = weights_key(tiny.model, ["test"])
    calls = []

    def measure() -> dict:
        calls.append(1)
        return {"p_new": float(tiny.model.transformer.wte.weight[0, 0].detach())}

    clean = cached_value("measurements", key, measure)
    (entry,) = (home / "measurements").glob("*.json")
    damage(entry, how)
    with caplog.at_level(logging.WARNING):
        assert cached_value("measurements", key, measure) == clean
    assert len(calls) == 2 and warned_about(caplog, entry.name)

    delta = tmp_path / "edit.safetensors"

    def edit() -> dict:
        from safetensors.torch import save_file

        save_file({"w": tiny.model.transformer.wte.weight[:4].detach().clone()}, str(delta))
        return {"method": "demo"}

    record = cached_edit(key, delta, edit)
    written = delta.read_bytes()
    stored = home / "edits" / key / "delta.safetensors"
    damage(stored, how)
    delta.unlink()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert cached_edit(key, delta, edit) == record
    assert delta.read_bytes() == written and warned_about(caplog, "delta.safetensors")


def test_model_cache_with_blocks_overwritten_keeping_its_size(tiny, tmp_path):
    """The issue's case: 64 blocks of 4 KB overwritten inside the cached weights, the size kept."""
    entry = tmp_path / "models" / "tiny-v2"
    entry.mkdir(parents=True)
    loading._fill_cache(entry, tiny.model, tiny.tokenizer, Path(loading.__file__))
    loading._check_cache(entry)
    weights = entry / loading.WEIGHTS
    verified_sha256(weights)  # memoised: the damage below changes the mtime, so it is hashed again
    size, data = weights.stat().st_size, bytearray(weights.read_bytes())
    block = 4096
    for i in range(64):
        at = 8192 + (i * 7919 * block) % max(block, size - 16384)
        data[at: at + 16] = b"\xff" * 16
    weights.write_bytes(bytes(data))
    assert weights.stat().st_size == size
    with pytest.raises(CacheCorruptError, match="does not match its recorded sha256"):
        loading._check_cache(entry)


# ---- run-directory files ------------------------------------------------------------------------------------
RUN_DAMAGES = [  # (file in the run directory, damage, the stage that must run again)
    ("graph.json", "truncate", "graph"),
    ("stages/before.json", "garble", "before"),
    ("stages/after.json", "empty", "after"),
    ("edit.safetensors", "truncate", "edit"),
    ("edit.safetensors", "garble", "edit"),
    ("edit.safetensors", "empty", "edit"),
]


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def test_damaged_run_directory_files_are_redone(cli, home, tmp_path, caplog):
    from stylekg.pipeline.config import RunConfig
    from stylekg.pipeline.runner import run_id_for

    config = write_config(tmp_path / "run.toml", store=str(tmp_path / "a.lbug"), runs_dir=str(tmp_path / "runs"))
    run_dir = tmp_path / "runs" / run_id_for(RunConfig.from_toml(config))
    first = cli("run", "--config", config, "--json")
    assert first.code == 0, first.err
    clean = _summary(run_dir)
    clean_deltas = load((run_dir / "edit.safetensors").read_bytes())  # read, not mapped: the file gets damaged
    for name, how, stage in RUN_DAMAGES:
        damage(run_dir / name, how)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            again = cli("run", "--config", config, "--json")
        assert again.code == 0 and "Traceback" not in again.err, (name, how, again.err)
        assert warned_about(caplog, f"stage {stage} runs again"), (name, how, caplog.text)
        redone = _summary(run_dir)
        assert stage not in redone["resumed"], (name, how)
        for key in SAME:
            assert redone.get(key) == clean.get(key), (name, how, key)
        deltas = load((run_dir / "edit.safetensors").read_bytes())  # the same tensors (its metadata holds timings)
        assert deltas.keys() == clean_deltas.keys() and all(torch.equal(deltas[k], clean_deltas[k]) for k in deltas)

    # a garbled measurement-cache entry under $STYLEKG_HOME: dropped, measured again, same results
    (entry, *_) = sorted((home / "measurements").glob("*.json"))
    damage(entry, "garble")
    (run_dir / "stages" / "after.json").unlink()
    (run_dir / "stages" / "before.json").unlink()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again = cli("run", "--config", config, "--json")
    assert again.code == 0 and "Traceback" not in again.err, again.err
    assert warned_about(caplog, entry.name)
    assert all(_summary(run_dir).get(key) == clean.get(key) for key in SAME)


# ---- a damaged store: one line, exit 2 ----------------------------------------------------------------------
@pytest.mark.parametrize("how", ["truncate", "garble"])
def test_a_damaged_store_is_one_line_and_exit_2(cli, home, tmp_path, how):
    store = tmp_path / "g.lbug"
    assert cli("kg", "save", "--library", "--store", store).code == 0
    assert cli("kg", "graphs", "--store", store).code == 0
    damage(store, how, where=32768 / store.stat().st_size)  # the first hash index page
    done = cli("kg", "graphs", "--store", store)
    assert done.code == 2 and "Traceback" not in done.err, done.err
    assert len(done.err_lines) == 1 and "damaged" in done.err and str(store) in done.err, done.err


def test_a_store_written_here_is_not_probed_again(cli, home, tmp_path, monkeypatch):
    from stylekg.kg.stores import file_check

    store = tmp_path / "g.lbug"
    assert cli("kg", "save", "--library", "--store", store).code == 0
    probes = []
    real_run = file_check.subprocess.run
    monkeypatch.setattr(file_check.subprocess, "run", lambda *a, **k: probes.append(a) or real_run(*a, **k))
    assert cli("kg", "graphs", "--store", store).code == 0
    assert probes == []  # closed whole by the save: known
    shutil.copy(store, tmp_path / "copy.lbug")  # a copy has another path: probed once, then known
    assert cli("kg", "graphs", "--store", tmp_path / "copy.lbug").code == 0
    assert cli("kg", "graphs", "--store", tmp_path / "copy.lbug").code == 0
    assert len(probes) == 1



@pytest.mark.parametrize("how", DAMAGES)
def test_llm_answer_cache(home, caplog, how):
    """Against the real local OpenAI-compatible server of ``tests/llm_server.py``: a damaged cached answer is
    dropped and asked again, never used."""
    from stylekg.kg.llm.openai_client import OpenAIClient
    from tests.llm_server import recorded_llm_server

    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    with recorded_llm_server([{"content": '{"ok": true}'}, {"content": '{"ok": true}'}]) as server:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        assert OpenAIClient("m", base_url=url, api_key="sk-test").complete_json("TASK: x", schema) == {"ok": True}
        (entry,) = (home / "llm").glob("*.json")
        damage(entry, how)
        again = OpenAIClient("m", base_url=url, api_key="sk-test")
        with caplog.at_level(logging.WARNING):
            assert again.complete_json("TASK: x", schema) == {"ok": True}
        assert again.cache_hits == 0 and len(server.requests) == 2 and warned_about(caplog, entry.name)
