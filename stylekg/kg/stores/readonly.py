"""Refuse write clauses in user Cypher unless the caller asked for ``--write``.

A clear first line of defence with a clear message; each store also enforces it in the database
(Neo4j: READ access mode; LadybugDB: the statement's transaction is always rolled back).
"""

from __future__ import annotations

import re

from ...errors import StoreError

WRITE_CLAUSES = (
    "CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "DROP", "ALTER", "COPY", "INSTALL",
    "ATTACH", "IMPORT", "EXPORT", "FOREACH", "BEGIN", "COMMIT", "ROLLBACK", "CHECKPOINT",
)
# string literals, quoted names and comments cannot contain clauses
_NOISE = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|//[^\n]*|/\*.*?\*/", re.S)
_CLAUSE = re.compile(r"(?<![.\w$])(" + "|".join(WRITE_CLAUSES) + r")(?![\w:])", re.I)


def write_clauses(cypher: str) -> list[str]:
    """Write keywords used as clauses in ``cypher`` (upper-case, in order of appearance)."""
    return [m.group(1).upper() for m in _CLAUSE.finditer(_NOISE.sub(" ", cypher))]


def reject_writes(cypher: str) -> None:
    """Raise :class:`StoreError` if ``cypher`` would write."""
    found = write_clauses(cypher)
    if found:
        raise StoreError(
            f"query uses {', '.join(dict.fromkeys(found))}, but queries are read-only by default",
            hint="add --write (write=True) to change the store",
        )
