"""The built wheel, installed in a fresh venv, finds its shipped hyper-parameter files (and fails loudly without).

The wheel is built from a copy of the project (so the checkout gets no ``build/``), installed with ``--no-deps``
into a new venv whose dependencies come from the project venv through a ``.pth`` line (that adds the directory to
``sys.path`` without running its ``.pth`` files, so the editable install of the checkout is not active there).
Every command runs from a temporary working directory, so nothing can be found relative to the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from stylekg.editing.registry import get_method
from stylekg.editing.requests_io import write_requests

from ..unit.edit_helpers import REQUESTS

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _check(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"{proc.args}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> tuple[Path, Path]:
    """(the new venv, its site-packages) with the stylekg wheel installed."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "stylekg", src / "stylekg", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = base / "dist"
    _check(_run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                 "--quiet", "-w", str(dist), str(src)], cwd=base))
    wheels = list(dist.glob("stylekg-*.whl"))
    assert len(wheels) == 1, wheels

    venv = base / "venv"
    _check(_run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base))
    python = venv / "bin" / "python"
    site = Path(_check(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            cwd=base)).stdout.strip())
    deps = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "project-deps.pth").write_text("".join(f"{d}\n" for d in deps))
    _check(_run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "--quiet",
                 str(wheels[0])], cwd=base))
    return venv, site


@pytest.fixture()
def workdir(tmp_path) -> tuple[Path, dict[str, str]]:
    """An empty working directory and an environment with an isolated stylekg home, offline."""
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(STYLEKG_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               TRANSFORMERS_NO_ADVISORY_WARNINGS="1")
    return work, env


def test_installed_wheel_is_imported_and_ships_its_configs(wheel_venv, workdir) -> None:
    venv, site = wheel_venv
    work, env = workdir
    out = _check(_run([str(venv / "bin" / "python"), "-c",
                       "import stylekg, stylekg.editing.hparams_files as h; print(stylekg.__file__); print(h.CONFIG_ROOT)"],
                      cwd=work, env=env)).stdout.split()
    package = Path(out[0]).parent
    assert package == site / "stylekg", f"stylekg imported from {out[0]}, not the wheel in {site}"
    assert Path(out[1]) == package / "configs"
    shipped = {p.relative_to(ROOT / "stylekg" / "configs") for p in (ROOT / "stylekg" / "configs").rglob("*.toml")}
    installed = {p.relative_to(package / "configs") for p in (package / "configs").rglob("*.toml")}
    assert shipped and installed == shipped


def test_edit_from_the_wheel_uses_the_shipped_config(wheel_venv, workdir) -> None:
    venv, site = wheel_venv
    work, env = workdir
    requests = write_requests(REQUESTS, work / "req.jsonl")
    config = site / "stylekg" / "configs" / "rome" / "tiny-gpt2.toml"
    layer = tomllib.loads(config.read_text("utf-8"))["layer"]
    assert layer != get_method("rome").hparams_class().layer  # the defaults would not give this layer
    proc = _check(_run([str(venv / "bin" / "stylekg"), "-v", "edit", "--method", "rome", "--model", "tiny-gpt2",
                        "--requests", str(requests), "--out", "out", "--stats-samples", "300", "--json"],
                       cwd=work, env=env))
    summary = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert summary["method"] == "rome" and summary["layers"] == [layer]
    assert f"rome hyper-parameters for tiny-gpt2 from {config}" in proc.stderr, proc.stderr
    assert (work / "out" / "edit.safetensors").is_file()


def test_edit_from_the_wheel_without_a_shipped_config_fails_in_one_line(wheel_venv, workdir) -> None:
    venv, site = wheel_venv
    work, env = workdir
    requests = write_requests(REQUESTS, work / "req.jsonl")
    assert not (site / "stylekg" / "configs" / "ft" / "gemma3-270m.toml").exists()
    proc = _run([str(venv / "bin" / "stylekg"), "edit", "--method", "ft", "--model", "gemma3-270m",
                 "--requests", str(requests), "--out", "out"], cwd=work, env=env)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "no shipped hyper-parameters for ft on 'gemma3-270m'" in lines[0]
    assert "ft/gemma3-270m.toml" in lines[0] and "--hparams" in lines[0]
    assert not (work / "out").exists()
