"""Graph stores: embedded LadybugDB by default, a real Neo4j when pointed at one.

``open_store(spec)`` picks one: ``None`` → the LadybugDB file in the stylekg home, a path → that LadybugDB file,
``neo4j://``, ``neo4j+s://``, ``neo4j+ssc://``, ``bolt://``, ``bolt+s://``, ``bolt+ssc://`` → Neo4j (credentials
and database from ``NEO4J_USERNAME`` / ``NEO4J_PASSWORD`` / ``NEO4J_DATABASE``). ``spec`` may also be the
literal ``neo4j`` to take the URI from ``NEO4J_URI``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import StoreError
from .base import SCHEMA_VERSION, GraphStore, SaveReport, StoreLabel, StoreRel

NEO4J_SCHEMES = ("neo4j://", "neo4j+s://", "neo4j+ssc://", "bolt://", "bolt+s://", "bolt+ssc://")
DEFAULT_FILE = "graph.lbug"

__all__ = ["SCHEMA_VERSION", "GraphStore", "SaveReport", "StoreLabel", "StoreRel", "default_store_path", "open_store"]


def default_store_path() -> Path:
    """The embedded store used when no ``--store`` is given: ``$STYLEKG_HOME/graph.lbug``."""
    from ...paths import stylekg_home

    return stylekg_home() / DEFAULT_FILE


def open_store(spec: str | os.PathLike[str] | None = None, *, read_only: bool = False) -> GraphStore:
    """Open the store ``spec`` names (see the module doc). Close it, e.g. ``with open_store(x) as store:``.

    ``read_only``: the database itself refuses writes (LadybugDB's read-only mode; Neo4j READ transactions), the
    store refuses every write method, nothing is created (a missing LadybugDB file is an error, not a new store)."""
    text = os.fspath(spec) if spec is not None else ""
    if text == "neo4j":
        text = os.environ.get("NEO4J_URI", "")
        if not text:
            raise StoreError("--store neo4j needs NEO4J_URI", hint="export NEO4J_URI=neo4j://host:7687 or pass the URI")
    if text.lower().startswith(NEO4J_SCHEMES):
        return _open_neo4j(text, read_only)
    if "://" in text:
        raise StoreError(f"unknown store URI {text!r}", hint=f"use a file path or one of {', '.join(NEO4J_SCHEMES)}")
    from .ladybug import LadybugStore

    return LadybugStore(Path(text) if text else default_store_path(), read_only=read_only)


def _open_neo4j(uri: str, read_only: bool) -> GraphStore:
    import neo4j

    from .neo4j import Neo4jStore

    user = os.environ.get("NEO4J_USERNAME") or os.environ.get("NEO4J_USER") or "neo4j"
    password = os.environ.get("NEO4J_PASSWORD")
    auth = (user, password) if password else None
    try:
        driver = neo4j.GraphDatabase.driver(uri, auth=auth, notifications_min_severity="OFF")
    except (ValueError, neo4j.exceptions.ConfigurationError) as exc:
        raise StoreError(f"bad Neo4j URI {uri!r}: {exc}") from None
    database = os.environ.get("NEO4J_DATABASE") or None
    return Neo4jStore(driver, database, owns_driver=True, location=f"{uri} (database {database or 'default'})",
                      read_only=read_only)
