"""Issue 14 item 1: `stylekg query` without `--write` really is read-only, on LadybugDB and on a real Neo4j.

One test per attack. Each failed before the fix: the old check scanned for a list of write keywords, so `LOAD FROM`
printed the file, `LOAD EXTENSION` ran the library's constructor, `CALL` settings and `CALL dbms.*` ran, Neo4j
fetched a `LOAD CSV` URL, and `RETURN n.name AS create` was refused.
"""

from __future__ import annotations

import http.server
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stylekg.cli import app
from stylekg.errors import StoreError
from stylekg.kg.stores import open_store
from tests.stores.graphs import hierarchy

runner = CliRunner()
SECRET = "topsecret-7f3a"


def _query(*args: str):
    return runner.invoke(app, ["query", *args])


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    """A LadybugDB store holding the test hierarchy (closed: the CLI opens it read-only)."""
    path = tmp_path / "q.lbug"
    with open_store(path) as store:
        store.save_graph(hierarchy("g"))
    return path


@pytest.fixture()
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "passwd"
    path.write_text(f"{SECRET}:x:0:0:root:/root:/bin/bash\nother:x:1:1::/:/bin/sh\n")
    return path


@pytest.fixture()
def evil_library(tmp_path: Path) -> tuple[Path, Path]:
    """A real shared library whose constructor writes a marker file the moment it is loaded."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("needs a C compiler (gcc) to build the test extension")
    marker = tmp_path / "constructor-ran"
    source = tmp_path / "evil.c"
    source.write_text(
        "#include <stdio.h>\n"
        "__attribute__((constructor)) static void ran(void) {\n"
        f'  FILE *f = fopen("{marker}", "w"); if (f) {{ fputs("ran", f); fclose(f); }}\n'
        "}\n"
    )
    library = tmp_path / "evil.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(library), str(source)], check=True, capture_output=True)
    return library, marker


# ---- LadybugDB ---------------------------------------------------------------------------------------------------

def test_load_from_a_file_is_refused_and_prints_nothing(db, secret_file):
    for path in (secret_file, Path("/etc/passwd")):
        cypher = f"LOAD FROM '{path}' (file_format='csv', header=false, delim=':') RETURN * LIMIT 2"
        result = _query(cypher, "--store", str(db))
        assert result.exit_code != 0 and isinstance(result.exception, StoreError)
        assert "LOAD" in str(result.exception) and "read-only" in str(result.exception)
        assert SECRET not in result.output and "root" not in result.output
        assert "root" not in str(result.exception) and SECRET not in str(result.exception)


def test_load_from_is_refused_on_a_store_opened_for_writing(db, secret_file):
    with open_store(db) as store, pytest.raises(StoreError, match="LOAD") as info:
        store.query(f"LOAD FROM '{secret_file}' (file_format='csv', header=false, delim=':') RETURN *")
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("form", ["LOAD EXTENSION '{lib}'", "LOAD '{lib}'", 'load extension "{lib}"',
                                  "/* a comment */ LOAD EXTENSION '{lib}'"])
def test_load_extension_never_runs_native_code(db, evil_library, form):
    library, marker = evil_library
    cypher = form.format(lib=library)
    for extra in ([], ["--write"]):  # not even with --write
        result = _query(cypher, "--store", str(db), *extra)
        assert not marker.exists(), f"the library's constructor ran for {cypher!r} {extra}"
        assert result.exit_code != 0 and isinstance(result.exception, StoreError), result.output
        assert "LOAD EXTENSION" in str(result.exception)


def test_load_extension_through_the_python_api(db, evil_library):
    library, marker = evil_library
    for write in (False, True):
        with open_store(db) as store, pytest.raises(StoreError) as info:  # opened for writing, as a pipeline does
            store.query(f"LOAD EXTENSION '{library}'", write=write)
        assert not marker.exists(), "the library's constructor ran"
        assert "LOAD EXTENSION" in str(info.value)


@pytest.mark.parametrize("cypher", ["CALL threads=1", "CALL timeout=1", "CALL current_setting('threads') RETURN *",
                                    "CALL show_loaded_extensions() RETURN *"])
def test_call_of_settings_and_other_procedures_is_refused(db, cypher):
    result = _query(cypher, "--store", str(db))
    assert result.exit_code != 0 and isinstance(result.exception, StoreError)
    assert "CALL" in str(result.exception)
    # the short allow-list still answers (the catalogue only)
    result = _query("CALL show_tables() WHERE name = 'Style' RETURN name", "--store", str(db), "--json")
    assert result.exit_code == 0 and '"Style"' in result.output, result.output


def test_copy_to_a_file_is_refused_and_writes_no_file(db, tmp_path, secret_file):
    """The other way out: COPY ... TO writes a file even from a read-only database."""
    out = tmp_path / "dump.csv"
    cypher = (f"COPY (LOAD FROM '{secret_file}' (file_format='csv', header=false, delim=':') RETURN *) "
              f"TO '{out}'")
    result = _query(cypher, "--store", str(db))
    assert result.exit_code != 0 and "COPY" in str(result.exception) and "LOAD" in str(result.exception)
    assert not out.exists()


def test_the_cli_opens_ladybug_read_only(db):
    """The database itself refuses a write that got past the check (here: the check is bypassed on purpose)."""
    with open_store(db, read_only=True) as store:
        assert store.read_only
        with pytest.raises(StoreError, match="read-only"):
            store._read_user("CREATE (:Style {key: 'sneaky@g', id: 'sneaky', graph: 'g', type: 'Style', name: 'x'})", {})
        with pytest.raises(StoreError, match="opened read-only"):
            store.save_graph(hierarchy("other"))
    with open_store(db) as store:
        assert store.query("MATCH (s:Style) WHERE s.id = 'sneaky' RETURN s.id") == []


def test_read_only_query_on_the_default_store_creates_no_file(tmp_path, monkeypatch):
    """Issue 15 item 9: a read-only query against the default store created an empty graph.lbug."""
    home = tmp_path / "home"
    monkeypatch.setenv("STYLEKG_HOME", str(home))
    result = _query("MATCH (s:Style) RETURN s.name")
    assert result.exit_code != 0 and "no graph store" in str(result.exception)
    assert not list(home.glob("graph.lbug*"))


# ---- both stores -------------------------------------------------------------------------------------------------

def test_keywords_used_as_names_are_not_refused(store):
    store.save_graph(hierarchy("g"))
    rows = store.query("MATCH (merge:Style {graph: 'g'}) WHERE merge.name = 'Donald Trump' RETURN merge.name AS name, merge")
    assert [r["name"] for r in rows] == ["Donald Trump"] and rows[0]["merge"]["name"] == "Donald Trump"
    rows = store.query("MATCH (load:AbstractStyle {graph: 'g', name: 'Hype'}) RETURN load.name AS name, count(load) AS n")
    assert rows == [{"name": "Hype", "n": 1}]
    if store.__class__.__name__ == "Neo4jStore":  # LadybugDB's own parser reserves `create` as an alias
        assert store.query("MATCH (n:Style {graph: 'g', name: 'P. T. Barnum'}) RETURN n.name AS create") == [
            {"create": "P. T. Barnum"}]


# ---- Neo4j -------------------------------------------------------------------------------------------------------

class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        type(self).hits.append(self.path)
        body = f"{SECRET},1\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def url_server():
    """A loopback HTTP server that records every request (a LOAD CSV that got through would show up here)."""
    _Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.neo4j
def test_neo4j_load_csv_is_refused_and_fetches_nothing(neo4j_uri, url_server):
    for cypher in (f"LOAD CSV FROM '{url_server}/secret.csv' AS line RETURN line",
                   f"LOAD CSV WITH HEADERS FROM '{url_server}/secret.csv' AS row RETURN row",
                   "LOAD CSV FROM 'file:///etc/passwd' AS line RETURN line LIMIT 2"):
        result = _query(cypher, "--store", neo4j_uri)
        assert result.exit_code != 0 and isinstance(result.exception, StoreError), result.output
        assert "LOAD" in str(result.exception)
        assert SECRET not in result.output and "root" not in result.output
    assert _Recorder.hits == []


@pytest.mark.neo4j
@pytest.mark.parametrize("cypher", ["CALL dbms.components() YIELD name RETURN name",
                                    "CALL dbms.info()", "CALL `dbms`.`components`()",
                                    "CALL db.info()"])
def test_neo4j_dbms_procedures_are_refused(neo4j_uri, cypher):
    result = _query(cypher, "--store", neo4j_uri)
    assert result.exit_code != 0 and isinstance(result.exception, StoreError), result.output
    assert "CALL" in str(result.exception)


@pytest.mark.neo4j
def test_neo4j_schema_procedures_and_read_transactions(neo4j_uri):
    with open_store(neo4j_uri) as store:
        store.save_graph(hierarchy("g"))
    result = _query("CALL db.labels() YIELD label RETURN label ORDER BY label", "--store", neo4j_uri, "--json")
    assert result.exit_code == 0 and '"Style"' in result.output, result.output
    with open_store(neo4j_uri, read_only=True) as store:  # the server refuses a write that got past the check
        with pytest.raises(StoreError, match="read access mode|AccessMode|Writing in read"):
            store._read_user("CREATE (:Style {key: 'sneaky'})", {})
        with pytest.raises(StoreError, match="opened read-only"):
            store.save_graph(hierarchy("other"))
