"""The lexical check behind read-only queries (issue 14 item 1), without a database: what it lets through and what
it refuses, including the tricks a substring scan missed or got wrong."""

from __future__ import annotations

import pytest

from stylekg.errors import StoreError
from stylekg.kg.stores.readonly import problems, reject_unsafe, tokens

PASS = [
    "RETURN n.name AS create",  # a keyword as an alias
    "MATCH (merge:Style) RETURN merge",  # ... as a variable, bare at the end
    "MATCH (merge:Style) RETURN merge.name AS name ORDER BY name",
    "MATCH (load:Style) WITH load.name AS name, count(load) AS n WHERE n > 0 RETURN name, n",
    "MATCH (n {create: 1, `delete`: 2}) RETURN n.set AS remove",
    "RETURN 'CREATE and DELETE; LOAD FROM x' AS text, \"CALL dbms.x()\" AS other",
    "MATCH (n) /* CREATE (x) */ // LOAD FROM '/etc/passwd'\nRETURN `create x` AS `load`",
    "MATCH (s)-[:SUBCLASS_OF*1..30]->(p:AbstractStyle {name: $p, graph: $g}) RETURN s.name AS style",
    "CALL show_tables() WHERE name = 'Style' RETURN name",
    "CALL db.labels() YIELD label RETURN label",
    "CALL { MATCH (n) RETURN n } RETURN n",
    "RETURN date.truncate('day', date()) AS d, point.distance(point({x: 0, y: 0}), point({x: 1, y: 1})) AS p",
    "MATCH (r:Run)-[m:MEASURED]->(s) WHERE m.name IN $metrics RETURN s.name AS style, m.value AS value",
]

REFUSED = {
    "LOAD FROM '/etc/passwd' (file_format='csv', header=false, delim=':') RETURN * LIMIT 2": "LOAD",
    "load from '/etc/passwd' RETURN *": "LOAD",
    "LOAD WITH HEADERS (a STRING) FROM 'x.csv' RETURN *": "LOAD",
    "LOAD CSV FROM 'http://127.0.0.1:1/x.csv' AS line RETURN line": "LOAD",
    "LOAD EXTENSION '/tmp/x.so'": "LOAD EXTENSION",
    "LOAD '/tmp/x.so'": "LOAD EXTENSION",
    "INSTALL json": "INSTALL",
    "CALL threads=4": "CALL threads",
    "CALL current_setting('threads') RETURN *": "CALL current_setting",
    "CALL dbms.components() YIELD name RETURN name": "CALL dbms.components",
    "CALL `dbms`.`components`()": "CALL dbms.components",
    "CALL `dbms.components`()": "CALL dbms.components",
    "CALL apoc.load.json('file:///etc/passwd')": "CALL apoc.load.json",
    "CALL read_csv('/etc/passwd') RETURN *": "CALL read_csv",
    "RETURN apoc.cypher.runFirstColumnSingle('LOAD CSV FROM $u AS l RETURN l', {u: 'x'}) AS x": "function apoc.",
    "COPY (MATCH (n) RETURN n) TO '/tmp/out.csv'": "COPY",
    "EXPORT DATABASE '/tmp/db'": "EXPORT",
    "ATTACH '/tmp/other.lbug' AS other (dbtype lbug)": "ATTACH",
    "USE system SHOW USERS": "USE",
    "MATCH (n) DETACH DELETE n": "DELETE",
    "MATCH (s:Style) CALL { MATCH (t:Trait) DELETE t } RETURN s": "DELETE",
    "MATCH (merge:Style) MERGE (merge)-[:FACT]->(merge)": "MERGE",
    "FOREACH (x IN [1] | CREATE (:Style))": "CREATE",
    "RETURN 1; COMMIT": "COMMIT",
    "BEGIN TRANSACTION": "BEGIN",
    "RETURN 1.CREATE (n)": "CREATE",
    "TERMINATE TRANSACTIONS 'neo4j-transaction-1'": "TERMINATE",
    "GRANT ROLE admin TO me": "GRANT",
}


@pytest.mark.parametrize("cypher", PASS)
def test_read_queries_and_keywords_used_as_names_pass(cypher):
    assert problems(cypher) == []
    reject_unsafe(cypher)


@pytest.mark.parametrize("cypher, named", sorted(REFUSED.items()))
def test_reads_of_files_settings_procedures_and_writes_are_refused(cypher, named):
    found = problems(cypher)
    assert any(named in p for p in found), found
    with pytest.raises(StoreError, match="read-only"):
        reject_unsafe(cypher)


@pytest.mark.parametrize("cypher", ["RETURN 'unterminated", "RETURN 'a\\' LOAD FROM x", "RETURN /* open LOAD",
                                    "RETURN `open"])
def test_what_cannot_be_read_is_refused(cypher):
    """A string, name or comment left open could hide a clause from the check: fail closed."""
    with pytest.raises(StoreError, match="cannot read the query"):
        problems(cypher)


def test_with_write_only_native_code_and_transaction_control_are_refused():
    assert problems("LOAD FROM 'x.csv' RETURN *", write=True) == []
    assert problems("MATCH (n:Style) SET n.description = 'x'", write=True) == []
    assert problems("LOAD EXTENSION '/tmp/x.so'", write=True) == ["LOAD EXTENSION"]
    assert problems("LOAD '/tmp/x.so'", write=True) == ["LOAD EXTENSION"]
    assert problems("CREATE (:Style); COMMIT", write=True) == ["more than one statement", "COMMIT"]
    with pytest.raises(StoreError, match="never runs"):
        reject_unsafe("INSTALL httpfs", write=True)


def test_tokens_set_strings_comments_and_names_aside():
    toks = tokens("MATCH (n) // CREATE\nWHERE n.x = 'DELETE' /* MERGE */ RETURN `LOAD` AS $p")
    assert [t.kind for t in toks if t.text.upper() in ("CREATE", "DELETE", "MERGE")] == []
    assert [t.name for t in toks if t.kind == "quoted"] == ["load"]
