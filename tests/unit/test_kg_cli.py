"""``stylekg kg ...`` through Typer's CliRunner (and the real entry point for error exits)."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from stylekg.cli import app
from stylekg.errors import GraphError

runner = CliRunner()


def test_library_lists_every_style():
    res = runner.invoke(app, ["kg", "library", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    names = {s["name"] for s in data["styles"]}
    assert {"Yoda", "Carl Sagan", "Neutral", "Assistant-speak", "Stephenie Meyer"} <= names
    assert data["stats"]["nodes"] > 300


def test_show_tree_by_misspelling_and_formats():
    res = runner.invoke(app, ["kg", "show", "Yodda"])
    assert res.exit_code == 0 and "Inverted syntax" in res.output and "Wise Jedi counsel" in res.output
    res = runner.invoke(app, ["kg", "show", "Carl Sagan", "--format", "turtle"])
    assert res.exit_code == 0 and "stylekg:Style" in res.output
    res = runner.invoke(app, ["kg", "show", "Carl Sagan", "--format", "graphml"])
    assert res.exit_code == 0 and "<graphml" in res.output
    res = runner.invoke(app, ["kg", "show", "Carl Sagan", "--format", "json"])
    assert json.loads(res.output)["format"] == "stylekg-graph"


def test_decompose_export_import_roundtrip(tmp_path, home):
    out = tmp_path / "sagan.jsonld"
    res = runner.invoke(app, ["kg", "decompose", "Carl Sagan", "--provider", "library", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["linked_parents"] == {"Cosmic wonder": "AbstractStyle:cosmic-wonder"}
    merged = tmp_path / "merged.json"
    res = runner.invoke(app, ["kg", "import", str(out), "--into", str(merged), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["nodes"] > 10
    res = runner.invoke(app, ["kg", "export", str(tmp_path / "yoda.ttl"), "--style", "Yoda"])
    assert res.exit_code == 0 and (tmp_path / "yoda.ttl").read_text().startswith("@prefix")
    res = runner.invoke(app, ["kg", "auto", "American talk-show hosts", "--provider", "library", "--json"])
    assert res.exit_code == 0 and "Oprah Winfrey" in json.loads(res.output)["styles"]


def test_user_errors_are_exceptions_here_and_one_line_from_the_entry_point(tmp_path):
    res = runner.invoke(app, ["kg", "show", "Nobody"])
    assert isinstance(res.exception, GraphError)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "stylekg-graph",\n "version": 1,\n "nodes": [}')
    proc = subprocess.run([sys.executable, "-m", "stylekg.cli", "kg", "import", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "bad.json: invalid JSON at line 3" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
