"""What user Cypher may do: the lexical check behind ``stylekg query`` (read-only unless ``--write``).

The check tokenises the statement (strings, comments, backquoted names and ``$parameters`` are set aside) and
refuses, outside ``--write``:

* clauses that write or manage the database (``CREATE``, ``MERGE``, ``SET``, ``DELETE`` …, ``GRANT``, ``TERMINATE``);
* clauses that reach files, other databases or native code: ``LOAD`` (``LOAD FROM``, ``LOAD CSV``,
  ``LOAD EXTENSION``), ``COPY``, ``EXPORT``, ``IMPORT``, ``INSTALL``, ``ATTACH``, ``USE``;
* transaction control (``BEGIN``, ``COMMIT``, ``ROLLBACK``, ``CHECKPOINT``);
* more than one statement (``MATCH … ; DROP …``): one query is one statement, in every mode;
* every ``CALL`` of a procedure outside :data:`ALLOWED_PROCEDURES` (``CALL { … }`` subqueries are fine: their body
  is checked like the rest), LadybugDB settings (``CALL threads=4``) included;
* file-reading functions (LadybugDB's ``read_csv`` family, ``file_info``) and plugin functions outside the
  built-in namespaces of :data:`ALLOWED_FUNCTION_NAMESPACES` (APOC can read files and run Cypher given as text).

A keyword in an identifier's place is not a clause: after ``.``, ``:``, ``$`` or ``AS``, or before ``:``, ``.``,
``)``, ``,``, an operator or the end of the statement (``RETURN n.name AS create``, ``MATCH (merge:Style) RETURN
merge``). Anything the tokeniser cannot read (an unterminated string or comment) is refused: the check fails
closed. With ``--write`` only what would escape stylekg's own transaction and its validation is refused:
transaction control, native code (``LOAD EXTENSION``, ``INSTALL``, ``UPDATE`` of an extension) and files or other
databases (``COPY``, ``EXPORT``, ``IMPORT``, ``ATTACH``, ``USE``; ``LOAD FROM``/``LOAD CSV`` stay, as data).

The lexical check is followed by the database's own reading of the statement (:class:`StatementKind`): LadybugDB's
physical plan (``EXPLAIN``: the operators it would run, :func:`ladybug_kind`) and Neo4j's query type (``EXPLAIN``:
``r``, ``rw``, ``w`` or ``s``, :data:`NEO4J_KINDS`). :func:`reject_kind` refuses anything but ``READ`` without
``--write`` and anything but ``READ`` or ``WRITE`` (data changes) with it: DDL, extensions, settings and unknown
operators are refused in every mode (fail closed).

The check is the first line of defence. Each database adds its own: the CLI opens LadybugDB read-only without
``--write`` (which stops writes, not ``LOAD FROM`` or ``COPY … TO``: hence this check), and Neo4j runs reads in a
READ transaction (see ``docs/security-queries.md``).

Why not a library lexer: Pygments' ``CypherLexer`` has no block comments and reads ``$name`` as an error, and SQL
lexers take ``--`` (a relationship in Cypher) for a comment, which would hide the rest of the line from the check.
The token rules below follow the openCypher grammar and were checked against both databases (backslash escapes
in both quote styles, non-nesting ``/* */``, doubled backquotes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from ...errors import StoreError

WRITE_CLAUSES = frozenset({
    "CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "DROP", "ALTER", "FOREACH", "INSERT", "COMMENT",
    "GRANT", "DENY", "REVOKE", "START", "STOP", "ENABLE", "DEALLOCATE", "REALLOCATE", "RENAME", "TERMINATE",
})
"""Clauses that change the database or its administration."""

OUTSIDE_CLAUSES = frozenset({"LOAD", "COPY", "EXPORT", "IMPORT", "INSTALL", "UNINSTALL", "ATTACH", "USE"})
"""Clauses that read or write files, fetch URLs, load native code or reach other databases."""

TRANSACTION_CLAUSES = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "CHECKPOINT"})
"""Transaction control: it would escape the transaction stylekg runs (and validates) the statement in."""

NATIVE_CODE = frozenset({"INSTALL", "UNINSTALL", "UPDATE"})
"""Refused even with ``--write`` (as is ``LOAD EXTENSION``): they load or fetch native code (LadybugDB's
``UPDATE json`` downloads and installs the extension again)."""

OUTSIDE_IN_WRITE = frozenset({"COPY", "EXPORT", "IMPORT", "ATTACH", "USE"})
"""Refused with ``--write`` too: they write files, bulk-load outside the transaction or reach other databases
(LadybugDB's ``EXPORT DATABASE`` creates its folder even when only planned)."""

LOAD_DATA = frozenset({"FROM", "CSV", "WITH"})
"""What follows ``LOAD`` when it reads data (``LOAD FROM``, ``LOAD CSV``, ``LOAD WITH HEADERS``); any other
``LOAD`` loads a LadybugDB extension (``LOAD EXTENSION x``, or the short ``LOAD 'lib.so'``), i.e. native code."""

ALLOWED_PROCEDURES = frozenset({
    # LadybugDB: catalogue only
    "show_tables", "table_info", "show_connection", "show_indexes", "db_version",
    # Neo4j: schema only
    "db.labels", "db.relationshiptypes", "db.propertykeys", "db.schema.visualization",
    "db.schema.nodetypeproperties", "db.schema.reltypeproperties",
})
"""The procedures a read-only query may ``CALL`` (lower-case; both stores' names, harmless on the other)."""

ALLOWED_FUNCTION_NAMESPACES = frozenset({
    "date", "datetime", "localdatetime", "localtime", "time", "duration", "point", "vector", "db",
})
"""Namespaces of Neo4j's built-in dotted functions (``date.truncate``, ``point.distance``); any other dotted
function (a plugin's, such as ``apoc.load.json`` or ``apoc.cypher.run``) is refused without ``--write``."""

FILE_FUNCTION = re.compile(r"(read_\w*|file_info|copy_\w*|project_graph\w*)", re.I)
"""LadybugDB table functions that read files (``read_csv``, ``read_parquet``, ``read_npy`` …) or run Cypher."""

# ---- tokens ---------------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<line_comment>//[^\n]*)
  | (?P<block_comment>/\*.*?\*/)
  | (?P<unterminated>/\*)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<quoted>(?:`[^`]*`)+)
  | (?P<param>\$(?:\w+|`[^`]*`))
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<word>[^\W\d]\w*)
  | (?P<punct>->|<-|<>|<=|>=|=~|\.\.|[-+*/%^=<>(){}\[\]:;,.|!?&])
    """,
    re.S | re.X,
)
_OPEN = re.compile(r"'|\"|`|/\*")  # what an unterminated string, name or comment starts with


@dataclass(frozen=True)
class Token:
    kind: str  # word, quoted, punct, number, string, param, other
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    @property
    def name(self) -> str:
        """The identifier's text (backquotes removed, doubled backquotes undone), lower-case."""
        if self.kind == "quoted":
            return self.text[1:-1].replace("``", "`").lower()
        return self.text.lower()


def tokens(cypher: str) -> list[Token]:
    """The statement's tokens, comments and white space dropped. Raises :class:`StoreError` on text it cannot
    read (an unterminated string, backquoted name or comment), so that nothing hides from the check."""
    out: list[Token] = []
    pos = 0
    while pos < len(cypher):
        match = _TOKEN.match(cypher, pos)
        if match is None or match.lastgroup == "unterminated":
            if _OPEN.match(cypher, pos):
                raise StoreError(f"cannot read the query at character {pos}: an unterminated string, name or comment",
                                 hint="close every quote, backquote and /* comment */")
            out.append(Token("other", cypher[pos]))
            pos += 1
            continue
        kind = match.lastgroup or "other"
        if kind not in ("space", "line_comment", "block_comment"):
            out.append(Token(kind, match.group()))
        pos = match.end()
    return out


# ---- the check -------------------------------------------------------------------------------------------------

_HAS_PROPERTIES = {"word", "quoted"}  # what a '.' before a property name follows (besides ) ] })
_IDENT_AFTER = {":", ".", ")", "]", "}", ",", ";", "=", "<>", "<", ">", "<=", ">=", "=~", "+", "-", "*", "/", "%",
                "^", "|"}
_IDENT_AFTER_WORDS = {"AS", "AND", "OR", "XOR", "IS", "IN", "STARTS", "ENDS", "CONTAINS", "ORDER", "LIMIT", "SKIP",
                      "UNION", "RETURN", "WHERE"}
_ENDS_STATEMENT = TRANSACTION_CLAUSES  # the only refused keywords that may stand last in a statement


def _is_identifier(toks: list[Token], i: int) -> bool:
    """Whether the keyword at ``i`` stands where only an identifier can (so it cannot be a clause)."""
    prev = toks[i - 1] if i else None
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    word = toks[i].upper
    if prev is not None and prev.upper == "AS":
        return True
    if prev is not None and prev.text == ":":
        return True
    if prev is not None and prev.text == "." and i >= 2:
        before = toks[i - 2]
        if before.kind in _HAS_PROPERTIES or before.text in (")", "]", "}"):
            return True  # a property (n.create), never '1.CREATE'
    if nxt is None or nxt.text == ";":
        return word not in _ENDS_STATEMENT
    if word == "CALL" or word in OUTSIDE_CLAUSES:
        # Neo4j takes keywords as names (CALL order.x(), USE order): only punctuation proves an identifier here
        return nxt.text in (":", ".", ")", "]", "}", ",")
    return nxt.text in _IDENT_AFTER or nxt.upper in _IDENT_AFTER_WORDS


def _dotted_name(toks: list[Token], i: int) -> tuple[str, int]:
    """The dotted name starting at ``i`` (words and backquoted parts) and the index after it."""
    parts = []
    while i < len(toks) and toks[i].kind in ("word", "quoted"):
        parts.append(toks[i].name)
        if i + 1 < len(toks) and toks[i + 1].text == "." and i + 2 < len(toks) and toks[i + 2].kind in ("word", "quoted"):
            i += 2
        else:
            i += 1
            break
    return ".".join(parts), i


def problems(cypher: str, *, write: bool = False) -> list[str]:
    """What in ``cypher`` a query may not do (empty: it may run). ``write``: the statement runs with ``--write``."""
    toks = tokens(cypher)
    found: list[str] = []
    semis = [i for i, t in enumerate(toks) if t.text == ";"]
    if semis and any(t.text != ";" for t in toks[semis[0]:]):
        found.append("more than one statement")
    for i, tok in enumerate(toks):
        if tok.kind not in ("word", "quoted"):
            continue
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        word = tok.upper
        if word == "LOAD" and not _is_identifier(toks, i) and (nxt is None or nxt.upper not in LOAD_DATA):
            found.append("LOAD EXTENSION")  # LOAD EXTENSION x, LOAD 'lib.so', LOAD x: native code, in every mode
            continue
        if word in NATIVE_CODE and not _is_identifier(toks, i):
            found.append(word)
            continue
        if word in TRANSACTION_CLAUSES and not _is_identifier(toks, i):
            found.append(word)
            continue
        if write:
            if word in OUTSIDE_IN_WRITE and not _is_identifier(toks, i):
                found.append(word)
            continue
        if word == "CALL" and not _is_identifier(toks, i):
            if nxt is not None and nxt.text in ("{", "("):
                continue  # a subquery: its body is checked token by token
            name, _ = _dotted_name(toks, i + 1)
            if name not in ALLOWED_PROCEDURES:
                found.append(f"CALL {name or (nxt.text if nxt else '')}".strip())
            continue
        if (word in WRITE_CLAUSES or word in OUTSIDE_CLAUSES) and not _is_identifier(toks, i):
            found.append(word)
            continue
        # a function call: NAME( or NS.NAME( (not a property: nothing before it is a '.')
        if i and toks[i - 1].text == ".":
            continue
        name, after = _dotted_name(toks, i)
        if after < len(toks) and toks[after].text == "(" and (i == 0 or toks[i - 1].upper != "CALL"):
            if "." in name and name.split(".")[0] not in ALLOWED_FUNCTION_NAMESPACES:
                found.append(f"function {name}")
            elif "." not in name and FILE_FUNCTION.fullmatch(name):
                found.append(f"function {name}")
    return list(dict.fromkeys(found))


def reject_unsafe(cypher: str, *, write: bool = False) -> None:
    """Raise :class:`StoreError` naming what ``cypher`` may not do (see the module doc)."""
    found = problems(cypher, write=write)
    if not found:
        return
    what = ", ".join(found)
    if write:
        raise StoreError(f"query uses {what}, which stylekg never runs",
                         hint="a --write statement runs inside stylekg's own transaction, validated before it commits")
    never = problems(cypher, write=True)  # what --write does not allow either
    raise StoreError(
        f"query uses {what}, but queries are read-only by default and never reach files, settings or procedures",
        hint=(f"{', '.join(never)}: refused even with --write, which accepts data changes only" if never else
              "add --write to change the store; allowed procedures: " + ", ".join(sorted(ALLOWED_PROCEDURES))),
    )


# ---- the database's own reading of the statement --------------------------------------------------------------

class StatementKind(str, Enum):
    """What a statement does, as the database plans it."""

    READ = "read"
    WRITE = "write"  # data changes only: nodes, relationships, properties
    SCHEMA = "schema"  # DDL: tables, columns, indexes, constraints, macros, sequences
    OTHER = "other"  # extensions, settings, transactions, files, other databases, unknown operators


NEO4J_KINDS = {"r": StatementKind.READ, "rw": StatementKind.WRITE, "w": StatementKind.WRITE,
               "s": StatementKind.SCHEMA}
"""Neo4j's ``ResultSummary.query_type`` (from ``EXPLAIN``) → kind; an unknown type is ``OTHER``."""

LADYBUG_READ_OPERATORS = frozenset({
    "AGGREGATE", "AGGREGATE_FINALIZE", "AGGREGATE_SCAN", "COUNT_REL_TABLE", "CROSS_PRODUCT", "DUMMY_SINK",
    "EMPTY_RESULT", "FILTER", "FLATTEN", "HASH_JOIN_BUILD", "HASH_JOIN_PROBE", "INDEX_LOOKUP", "INTERSECT",
    "INTERSECT_BUILD", "LIMIT", "MULTIPLICITY_REDUCER", "OFFSET_SCAN_NODE_TABLE", "ORDER_BY", "ORDER_BY_MERGE",
    "ORDER_BY_SCAN", "PATH_PROPERTY_PROBE", "PRIMARY_KEY_SCAN_NODE_TABLE", "PROJECTION", "RECURSIVE_EXTEND",
    "RESULT_COLLECTOR", "SCAN_NODE_TABLE", "SCAN_REL_TABLE", "SEMI_MASKER", "SKIP", "TABLE_FUNCTION_CALL", "TOP_K",
    "TOP_K_SCAN", "UNION_ALL_SCAN", "UNWIND",
})
"""LadybugDB plan operators that only read (``TABLE_FUNCTION_CALL`` includes file readers such as ``read_csv``:
the lexical check refuses those by name)."""

LADYBUG_WRITE_OPERATORS = frozenset({"INSERT", "SET_PROPERTY", "DELETE", "MERGE"})
"""LadybugDB plan operators that change data (``CREATE``, ``SET``, ``DELETE``, ``MERGE``)."""

LADYBUG_SCHEMA_OPERATORS = frozenset({"ALTER", "DROP", "CREATE_TABLE", "CREATE_MACRO", "CREATE_SEQUENCE",
                                      "CREATE_TYPE"})
"""LadybugDB plan operators that change the schema (DDL, ``COMMENT ON`` included: it plans as ``ALTER``)."""

_OPERATOR = re.compile(r"\b([A-Z][A-Z_]+)\[\d+\]")


def ladybug_operators(plan: str) -> list[str]:
    """The operator names in the text of a LadybugDB ``EXPLAIN`` (each printed as ``NAME[id]``)."""
    return _OPERATOR.findall(plan)


def ladybug_kind(operators: list[str]) -> tuple[StatementKind, list[str]]:
    """The kind of a LadybugDB plan and the operators that make it so (empty for ``READ``); an operator stylekg
    does not know counts as ``OTHER``, so that a new database version fails closed."""
    other = sorted({op for op in operators if op not in LADYBUG_READ_OPERATORS | LADYBUG_WRITE_OPERATORS
                    | LADYBUG_SCHEMA_OPERATORS})
    if other:
        return StatementKind.OTHER, other
    schema = sorted({op for op in operators if op in LADYBUG_SCHEMA_OPERATORS})
    if schema:
        return StatementKind.SCHEMA, schema
    writes = sorted({op for op in operators if op in LADYBUG_WRITE_OPERATORS})
    if writes:
        return StatementKind.WRITE, writes
    if not operators:
        return StatementKind.OTHER, ["(no plan)"]
    return StatementKind.READ, []


def reject_kind(kind: StatementKind, what: str, *, write: bool = False) -> None:
    """Refuse a statement the database reads as ``kind`` (``what``: the operators or query type behind it):
    without ``write`` only ``READ`` runs; with it ``READ`` and ``WRITE`` (data changes), never DDL or the rest."""
    if kind is StatementKind.READ or (write and kind is StatementKind.WRITE):
        return
    detail = f" ({what})" if what else ""
    if kind is StatementKind.SCHEMA:
        raise StoreError(f"the database reads this query as a schema change{detail}, which stylekg never runs for a "
                         "query", hint="stylekg owns the schema; --write accepts data changes only (CREATE, MERGE, "
                                       "SET, DELETE on nodes and relationships)")
    if kind is StatementKind.OTHER:
        raise StoreError(f"the database reads this query as an operation outside data reads and writes{detail}, "
                         "which stylekg never runs", hint="queries may read (and with --write change) nodes and "
                                                          "relationships, nothing else")
    raise StoreError(f"the database reads this query as a write{detail}, but queries are read-only by default",
                     hint="add --write to change the store")
