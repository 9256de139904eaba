"""Store fixtures: a real Neo4j 5.26 (official test harness, started once per session) and a parametrized
``store`` fixture running the same tests on LadybugDB and Neo4j.

Import them from a ``conftest.py``: ``from tests.store_fixtures import *  # noqa: F401,F403``.
Without Java/Maven the Neo4j cases skip with one reason, unless ``STYLEKG_REQUIRE_NEO4J=1`` (CI) makes it fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

LAUNCHER = Path(__file__).parent / "neo4j_launcher"
CLASSPATH_FILE = LAUNCHER / "target" / "classpath.txt"
READY = "STYLEKG_NEO4J_READY"
START_TIMEOUT_S = 180

__all__ = ["neo4j_uri", "store", "store_kind", "require_or_skip", "start_harness", "stop_harness"]


def require_or_skip(reason: str, env: str) -> None:
    """Skip with ``reason``, or fail when ``env``=1 says the dependency is required (CI)."""
    if os.environ.get(env) == "1":
        pytest.fail(f"{reason} (required because {env}=1)")
    pytest.skip(reason)


def _build_launcher() -> str:
    """Compile the launcher and resolve neo4j-harness (offline first, then Maven Central); return the classpath."""
    sources = [LAUNCHER / "pom.xml", *LAUNCHER.rglob("*.java")]
    jar = LAUNCHER / "target" / "classes" / "stylekg" / "testing" / "StoreLauncher.class"
    fresh = CLASSPATH_FILE.exists() and jar.exists() and all(
        CLASSPATH_FILE.stat().st_mtime >= s.stat().st_mtime for s in sources
    )
    if not fresh:
        goals = ["package", "dependency:build-classpath", f"-Dmdep.outputFile={CLASSPATH_FILE}", "-DincludeScope=runtime"]
        for extra in (["-o"], []):
            done = subprocess.run(["mvn", "-q", "-B", *extra, *goals], cwd=LAUNCHER, capture_output=True, text=True)
            if done.returncode == 0:
                break
        else:
            tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
            raise RuntimeError("building tests/neo4j_launcher failed: " + " | ".join(tail))
    return f"{LAUNCHER / 'target' / 'classes'}{os.pathsep}{CLASSPATH_FILE.read_text().strip()}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_harness(log_path: Path) -> tuple[subprocess.Popen, str]:
    """Build the launcher if needed and start Neo4j on a free loopback port; returns (process, bolt URI).
    Raises RuntimeError if it does not come up."""
    classpath = _build_launcher()
    port = _free_port()
    log = log_path.open("w")
    proc = subprocess.Popen(
        ["java", "-Xms256m", "-Xmx1g", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", classpath,
         "stylekg.testing.StoreLauncher", str(port)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
    )
    log.close()
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(READY):
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    started = time.monotonic()
    while not ready.wait(0.2):
        if proc.poll() is not None or time.monotonic() - started > START_TIMEOUT_S:
            stop_harness(proc)
            raise RuntimeError(f"Neo4j harness did not start (log {log_path}): {log_path.read_text()[-800:]}")
    return proc, f"bolt://127.0.0.1:{port}"


def stop_harness(proc: subprocess.Popen) -> None:
    """Close the launcher's stdin (it then stops Neo4j cleanly); kill it if it hangs."""
    if proc.stdin is not None and not proc.stdin.closed:
        proc.stdin.close()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def neo4j_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bolt URI of an in-process Neo4j 5.26 (auth off) that lives for the whole test session."""
    if not (shutil.which("java") and shutil.which("mvn")):
        require_or_skip("Neo4j tests need Java 17+ and Maven (apt-get install openjdk-17-jdk-headless maven)", "STYLEKG_REQUIRE_NEO4J")
    log_path = tmp_path_factory.mktemp("neo4j") / "launcher.log"
    try:
        proc, uri = start_harness(log_path)
    except RuntimeError as exc:
        if "building tests/neo4j_launcher" in str(exc):
            require_or_skip(str(exc), "STYLEKG_REQUIRE_NEO4J")
        pytest.fail(str(exc))
    try:
        yield uri
    finally:
        stop_harness(proc)


@pytest.fixture(params=["ladybug", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture()
def store(store_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """An empty store of each kind (LadybugDB in a fresh file; the shared Neo4j wiped before the test)."""
    if store_kind == "ladybug":
        from stylekg.kg.stores.ladybug import LadybugStore

        with LadybugStore(tmp_path / "graph.lbug") as opened:
            yield opened
        return
    import neo4j

    from stylekg.kg.stores.neo4j import Neo4jStore

    uri = request.getfixturevalue("neo4j_uri")
    with neo4j.GraphDatabase.driver(uri, auth=None, notifications_min_severity="OFF") as driver:
        driver.execute_query("MATCH (n) WHERE NOT n:StyleKGMeta DETACH DELETE n")
        with Neo4jStore(driver, location=uri) as opened:
            yield opened
