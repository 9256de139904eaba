"""Issue 14 item 6: caches survive interrupts and concurrent writers.

* the model cache builds an entry under a unique temporary folder, removes it on an interrupt, removes the ones a
  killed builder left (~0.5 GB each for SmolLM2), and builds an entry once however many processes ask for it;
* the key-statistics and LLM caches write under unique temporary names and remove stale temporaries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stylekg.lm import loading

ROOT = Path(__file__).resolve().parents[2]


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def _folders(models: Path) -> list[str]:
    return sorted(p.name for p in models.iterdir() if p.is_dir())


def test_an_interrupted_model_cache_build_leaves_nothing(tiny, tmp_path, monkeypatch):
    import safetensors.torch

    source = tmp_path / "src.gguf"
    source.write_bytes(b"stand-in source")
    models = tmp_path / "models"
    models.mkdir()
    real_save = safetensors.torch.save_model

    def save_then_interrupt(model, filename, *args, **kwargs):
        real_save(model, filename, *args, **kwargs)  # the weights are on disk ...
        raise KeyboardInterrupt  # ... when Ctrl-C arrives, before the manifest and the rename

    monkeypatch.setattr(safetensors.torch, "save_model", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        loading._write_cache(models / "tiny-entry", tiny.model, tiny.tokenizer, source)
    assert _folders(models) == []  # neither the entry nor a temporary folder


def test_build_folders_of_dead_builders_are_removed(tmp_path):
    models = tmp_path / "models"
    dead, live = _dead_pid(), os.getpid()
    stale = [models / f".smollm2-abc-v1.{dead}-0a1b.tmp", models / f"smollm2-abc-v1.tmp{dead}",  # new / old names
             models / ".smollm2-abc-v1.old-123-ffee"]  # an entry moved aside by a replace that was killed
    kept = [models / f".gemma-def-v1.{live}-0c0d.tmp", models / "smollm2-abc-v1"]  # a live build; a real entry
    for folder in stale + kept:
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"\0" * 1024)

    def build(folder: Path) -> None:
        (folder / loading.MANIFEST).write_text("{}")

    assert loading.build_entry(models / "tiny-xyz-v1", build)
    assert _folders(models) == sorted([p.name for p in kept] + ["tiny-xyz-v1"])


BUILDER = """
import json, os, sys, time
from pathlib import Path
from stylekg.lm import loading

def build(folder):
    time.sleep(1.5)  # a slow dequantization
    (folder / "weights").write_text("w")
    (folder / loading.MANIFEST).write_text(json.dumps({"builder": os.getpid()}))

print(json.dumps({"pid": os.getpid(), "built": loading.build_entry(Path(sys.argv[1]), build)}), flush=True)
"""


def test_concurrent_processes_build_an_entry_once(tmp_path):
    entry = tmp_path / "models" / "tiny-abc-v1"
    entry.parent.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", BUILDER, str(entry)], stdout=subprocess.PIPE, text=True,
                              env=env) for _ in range(3)]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    built = [r["pid"] for r in results if r["built"]]
    assert len(built) == 1, results  # the others waited for the lock and found the entry published
    assert json.loads((entry / loading.MANIFEST).read_text())["builder"] == built[0]
    assert _folders(entry.parent) == ["tiny-abc-v1"]  # no temporary folder of any of them


def test_forced_rebuild_replaces_an_entry_whole(tmp_path):
    entry = tmp_path / "models" / "tiny-abc-v1"

    def build(version: str):
        def fill(folder: Path) -> None:
            (folder / "weights").write_text(version)
            (folder / loading.MANIFEST).write_text("{}")
        return fill

    assert loading.build_entry(entry, build("one"))
    assert not loading.build_entry(entry, build("two"))  # complete: kept
    assert loading.build_entry(entry, build("three"), force=True)
    assert (entry / "weights").read_text() == "three" and _folders(entry.parent) == ["tiny-abc-v1"]


def _stale_temps(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    dead = folder / f".x.safetensors.{_dead_pid()}-00ff.tmp"
    fixed = folder / "y-L1-abc.tmp"  # the fixed name of older versions, left by a crash a day ago
    for path in (dead, fixed):
        path.write_bytes(b"partial")
    os.utime(fixed, (time.time() - 2 * 86400,) * 2)
    return [dead, fixed]


def test_key_statistics_cache_cleans_stale_temporaries(tiny, home):
    from stylekg.editing.stats import key_second_moments

    stale = _stale_temps(home / "stats")
    stats = key_second_moments(tiny.model, tiny.tokenizer, [1], samples=64, max_length=16)
    assert 1 in stats
    names = [p.name for p in (home / "stats").iterdir()]
    assert not any(p.name in names for p in stale), names
    assert len(names) == 1 and names[0].endswith(".safetensors")  # the entry, and no temporary of this write


def test_llm_cache_cleans_stale_temporaries(home):
    from stylekg.kg.llm.openai_client import OpenAIClient
    from tests.llm_server import recorded_llm_server

    stale = _stale_temps(home / "llm")
    schema = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}
    with recorded_llm_server([{"content": '{"ok": true}'}]) as server:
        client = OpenAIClient("m", base_url=f"http://127.0.0.1:{server.server_port}/v1", api_key="x")
        assert client.complete_json("TASK: x", schema) == {"ok": True}
    names = [p.name for p in (home / "llm").iterdir()]
    assert not any(p.name in names for p in stale), names
    assert len(names) == 1 and names[0].endswith(".json")
