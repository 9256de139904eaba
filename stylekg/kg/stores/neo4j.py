"""A store in a real Neo4j database through the official driver.

The caller owns the driver (``Neo4jStore(driver)``); :func:`stylekg.kg.stores.open_store` creates one from a
URI and hands ownership to the store it returns. Uniqueness constraints and indexes are created on first use;
writes are batched ``UNWIND $rows`` statements inside one managed write transaction; reads use READ routing.

A user's read-only query runs in a READ transaction (``routing_=READ``, so the server's READ access mode): the
server refuses writes and schema changes. A READ transaction can still read every graph of the database,
``LOAD CSV`` from the server's import directory or from URLs the server can reach, call read-mode procedures
(``dbms.*``, ``db.*``, plugins such as APOC) and run ``SHOW`` commands; :mod:`.readonly` refuses ``LOAD``, ``CALL``
outside a short allow-list and plugin functions before the statement is sent. ``read_only=True`` opens the store
without creating constraints or upgrading the schema, and refuses every write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import neo4j
from neo4j import Driver, RoutingControl
from neo4j.exceptions import Neo4jError, ServiceUnavailable, SessionExpired
from neo4j.graph import Node as NeoNode
from neo4j.graph import Path as NeoPath
from neo4j.graph import Relationship as NeoRel

from ...errors import StoreError
from . import cypher_neo4j
from .base import SCHEMA_VERSION, GraphStore, Tx
from .readonly import NEO4J_KINDS, StatementKind

log = logging.getLogger(__name__)


class Neo4jStore(GraphStore):
    """A style-graph store in a Neo4j database (``database=None``: the server's default database)."""

    cypher = cypher_neo4j

    def __init__(self, driver: Driver, database: str | None = None, *, owns_driver: bool = False, location: str = "",
                 read_only: bool = False) -> None:
        self._driver: Driver | None = driver
        self.database = database or None
        self._owns = owns_driver
        self.read_only = read_only
        self.location = location or f"Neo4j database {self.database or '(default)'}"
        try:
            driver.verify_connectivity()
        except (ServiceUnavailable, Neo4jError, OSError) as exc:
            self.close()
            raise StoreError(
                f"cannot reach {self.location}: {_msg(exc)}",
                hint="check the URI, NEO4J_USERNAME/NEO4J_PASSWORD and that the server is running",
            ) from None
        try:
            self._ensure_schema()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._driver is not None and self._owns:
            self._driver.close()
        self._driver = None

    @property
    def driver(self) -> Driver:
        if self._driver is None:
            raise StoreError(f"store {self.location} is closed")
        return self._driver

    # ---- execution -----------------------------------------------------------------------
    def _write(self, work: Callable[[Tx], Any]) -> Any:
        def unit(tx: neo4j.ManagedTransaction) -> Any:
            return work(lambda q, p: [_plain_record(r) for r in tx.run(q, p)])

        try:
            with self.driver.session(database=self.database) as session:
                return session.execute_write(unit)
        except (Neo4jError, ServiceUnavailable, SessionExpired) as exc:
            raise StoreError(f"Neo4j refused the write: {_msg(exc)}") from exc

    def _read(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            records, _, _ = self.driver.execute_query(
                query, params, database_=self.database, routing_=RoutingControl.READ
            )
        except (Neo4jError, ServiceUnavailable, SessionExpired) as exc:
            raise StoreError(f"Neo4j query failed: {_msg(exc)}") from None
        return [_plain_record(r) for r in records]

    def _read_user(self, cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """A READ transaction: the server refuses any write in it (see the module doc for what it still allows)."""
        return self._read(cypher, params)

    def _statement_kind(self, cypher: str, params: dict[str, Any], write: bool) -> tuple[StatementKind, str]:
        """Neo4j's own query type for the statement (``EXPLAIN``: planned, never run): ``r``, ``rw``, ``w``, ``s``."""
        routing = RoutingControl.WRITE if write else RoutingControl.READ
        try:
            _, summary, _ = self.driver.execute_query("EXPLAIN " + cypher, params, database_=self.database,
                                                      routing_=routing)
        except (Neo4jError, ServiceUnavailable, SessionExpired) as exc:
            raise StoreError(f"Neo4j query failed: {_msg(exc)}") from None
        query_type = str(summary.query_type or "")
        return NEO4J_KINDS.get(query_type, StatementKind.OTHER), f"query type {query_type or 'unknown'}"

    def _plain_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return rows  # the transaction already made them plain

    # ---- schema --------------------------------------------------------------------------
    def _ensure_schema(self) -> None:
        rows = self._read(*cypher_neo4j.get_meta("schema_version"))
        version = int(rows[0]["value"]) if rows else None
        if self.read_only:  # create and migrate nothing; an empty database reads as an empty store
            if version is not None and version > SCHEMA_VERSION:
                raise StoreError(f"{self.location} has stylekg schema v{version}, newer than this stylekg "
                                 f"(v{SCHEMA_VERSION})", hint="upgrade stylekg")
            return
        if version is None:
            log.info("creating stylekg constraints and indexes (schema v%d) in %s", SCHEMA_VERSION, self.location)
            self._schema(cypher_neo4j.schema_statements(), SCHEMA_VERSION)
            return
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.location} has stylekg schema v{version}, newer than this stylekg (v{SCHEMA_VERSION})",
                hint="upgrade stylekg, or point NEO4J_DATABASE at another database",
            )
        while version < SCHEMA_VERSION:
            self._schema(list(cypher_neo4j.MIGRATIONS.get(version, ())), version + 1)
            version += 1

    def _schema(self, statements: list[str], version: int) -> None:
        # schema commands cannot share a transaction with data writes in Neo4j: run each on its own
        try:
            for stmt in statements:
                self.driver.execute_query(stmt, database_=self.database, routing_=RoutingControl.WRITE)
        except Neo4jError as exc:
            raise StoreError(f"cannot create the stylekg schema in {self.location}: {_msg(exc)}") from None
        self._write(lambda tx: tx(*cypher_neo4j.set_meta("schema_version", str(version))))


def _msg(exc: Exception) -> str:
    """The server's message on one line."""
    return " ".join((getattr(exc, "message", None) or str(exc)).split())


def _plain(value: Any) -> Any:
    """Driver graph objects → plain dicts/lists (same shape as LadybugDB rows: properties plus ``_label``)."""
    if isinstance(value, NeoNode):
        return {**dict(value.items()), "_label": next(iter(value.labels), "")}
    if isinstance(value, NeoRel):
        return {**dict(value.items()), "_label": value.type}
    if isinstance(value, NeoPath):
        return {"nodes": [_plain(n) for n in value.nodes], "rels": [_plain(r) for r in value.relationships]}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _plain_record(record: neo4j.Record) -> dict[str, Any]:
    return {k: _plain(v) for k, v in record.items()}
