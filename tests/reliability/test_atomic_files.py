"""Issue 14 item 5: files are replaced atomically, never written in place.

Each writer runs in a process whose file-size limit (``RLIMIT_FSIZE``) makes its write fail half way, as a full
disk would: the file it was replacing must be left exactly as it was, with no temporary file beside it. Written in
place, the old file would be truncated and half-written instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 64 * 1024  # bytes a process may write into one file
OLD = "the previous, complete content\n"

# name → (files it replaces, relative to the folder; code writing them, with `folder` a Path)
WRITERS = {
    # (safetensors >= 0.6 replaces its file whole by itself; older versions wrote in place)
    "delta file": (["edit.safetensors"], """
        import torch
        from stylekg.editing.result import EditResult
        EditResult("memit", [], deltas={"w": torch.ones(100_000)}).save(folder / "edit.safetensors")"""),
    "summary.json": (["summary.json"], """
        from stylekg.pipeline.runner import finish
        from stylekg.pipeline.stage_cache import StageCache
        from stylekg.run_summary import RunSummary
        summary = RunSummary.from_dict({"run_id": "r1", "config": {"note": "x" * 200_000}})
        finish(folder, summary, StageCache(folder), None)"""),
    "stylekg edit outputs": (["summary.json"], """
        import torch
        from stylekg.editing.result import EditResult
        from stylekg.evaluation.results import EditMetrics, EvalReport
        from stylekg.pipeline.edit_job import EditOutcome, write_outcome
        report = EvalReport("m", EditMetrics(), [])
        outcome = EditOutcome(EditResult("memit", [], deltas={"w": torch.ones(10)}), report, report)
        write_outcome(outcome, folder, {"method": "memit", "note": "x" * 200_000})"""),
    "graph.html": (["graph.html"], """
        from stylekg.views.pyvis_view import write_html
        from tests.stores.graphs import hierarchy
        write_html(hierarchy(), folder / "graph.html")"""),
    "stage output": (["stages/edit.json"], """
        from stylekg.pipeline.stage_cache import StageCache
        StageCache(folder).put("edit", "k", {"x": "y" * 200_000})"""),
}


def _limited(code: str, folder: Path) -> subprocess.CompletedProcess:
    prologue = textwrap.dedent(f"""
        import resource, signal, sys
        from pathlib import Path
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit raises OSError (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({LIMIT}, {LIMIT}))
        folder = Path(sys.argv[1])
    """)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", prologue + textwrap.dedent(code), str(folder)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", list(WRITERS))
def test_a_failed_write_leaves_the_previous_file_whole(tmp_path, name):
    files, code = WRITERS[name]
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(OLD)
    done = _limited(code, tmp_path)
    assert done.returncode != 0 and "File too large" in done.stderr, done.stderr[-2000:]  # the write did fail
    for rel in files:
        assert (tmp_path / rel).read_text() == OLD, f"{rel} was changed in place"
    leftovers = [p.name for p in tmp_path.rglob("*") if re.search(r"\.tmp\d*$", p.name)]
    assert not leftovers, leftovers


def test_the_helpers_replace_whole_files_under_unique_names(tmp_path):
    from stylekg.paths import atomic_path, atomic_write_text, temp_path

    target = tmp_path / "a.json"
    target.write_text(OLD)
    names = {temp_path(target).name for _ in range(100)}
    assert len(names) == 100 and all(n.startswith(".a.json.") and n.endswith(".tmp") for n in names)
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt  # an interrupt between writing and renaming
    assert target.read_text() == OLD and [p.name for p in tmp_path.iterdir()] == ["a.json"]
    atomic_write_text(target, "new ☃")
    assert target.read_text("utf-8") == "new ☃" and [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_stale_temporaries_are_removed_and_live_ones_kept(tmp_path):
    from stylekg.paths import remove_stale_temps

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".x.json.{dead_pid}-00ab.tmp"  # its writer exited
    live = tmp_path / f".y.json.{os.getpid()}-00cd.tmp"  # this process is writing it
    old_fixed = tmp_path / "z.tmp"  # the fixed name older versions used, left a day ago
    for path in (stale, live, old_fixed):
        path.write_text("partial")
    os.utime(old_fixed, (0, 0))
    keep = tmp_path / "z.json"
    keep.write_text("{}")
    assert remove_stale_temps(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, keep.name])


WRITER_MODULES = ["pipeline/runner.py", "pipeline/auto.py", "pipeline/stages.py", "pipeline/writeback.py",
                  "pipeline/edit_job.py", "pipeline/stage_cache.py", "editing/result.py", "views/pyvis_view.py",
                  "commands/edit.py", "commands/eval.py", "commands/run.py", "kg/llm/openai_client.py",
                  "editing/stats.py"]


@pytest.mark.parametrize("module", WRITER_MODULES)
def test_run_and_edit_writers_write_through_the_atomic_helpers(module):
    """The modules that write run, edit and cache files call no in-place writer (``write_text``, ``write_bytes``,
    ``open(..., "w")``); their ``save_file`` calls write to a temporary path."""
    source = (ROOT / "stylekg" / module).read_text(encoding="utf-8")
    assert not re.search(r"\.write_(text|bytes)\(|open\([^)]*[\"'][wa]b?[\"']", source), module
    for call in re.findall(r"save_file\([^\n]*", source):
        assert "str(tmp)" in call, (module, call)
