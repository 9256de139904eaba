"""The demo's wall time: cold (empty stylekg home: GGUF dequantization, statistics, everything) and warm
(caches present, a fresh run directory), plus a resumed re-run. Targets: < 10 min cold, < 2 min warm.

    python benchmarks/bench_demo.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import write


def run_demo(home: Path, runs: Path) -> float:
    env = {**os.environ, "STYLEKG_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "stylekg.cli", "demo", "--runs-dir", str(runs), "--store", str(home / "demo.lbug")]
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        cold = run_demo(home, Path(tmp) / "runs-cold")
        warm = run_demo(home, Path(tmp) / "runs-warm")
        resumed = run_demo(home, Path(tmp) / "runs-warm")
    write("demo", {"cold_s": cold, "warm_s": warm, "resumed_s": resumed, "target_cold_s": 600, "target_warm_s": 120})


if __name__ == "__main__":
    main()
