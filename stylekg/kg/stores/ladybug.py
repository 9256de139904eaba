"""The embedded default store: an on-disk LadybugDB (the maintained Kùzu fork) database file.

LadybugDB allows one read-write process per database file; a second process gets a :class:`StoreError`
naming the file and the fix. The schema is created on first use and upgraded through
:data:`cypher_ladybug.MIGRATIONS` using the version kept in the ``StyleKGMeta`` table.

``read_only=True`` opens the file with LadybugDB's own read-only mode (``ladybug.Database(read_only=True)``):
the database refuses every write, several read-only processes may share the file, and a missing file is an
error instead of a new empty store. Read-only mode does **not** stop ``LOAD FROM`` (reading any file the process
can read), ``COPY … TO`` (writing files), ``CALL`` settings or ``LOAD EXTENSION`` (running native code): those
are refused by :mod:`.readonly` before the statement reaches the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ladybug

from ...errors import StoreError
from . import cypher_ladybug
from .file_check import check_store_file, damage_error, record_whole
from .base import SCHEMA_VERSION, GraphStore, Tx
from .readonly import StatementKind, ladybug_kind, ladybug_operators

log = logging.getLogger(__name__)

MAX_WALK_DEFAULT = 30  # LadybugDB's default var_length_extend_max_depth
SUFFIX = ".lbug"  # LadybugDB's own name for its single-file databases (+ .wal/.shadow/.tmp beside it)


class LadybugStore(GraphStore):
    """A style-graph store in one LadybugDB file. Open with ``with LadybugStore(path) as store: ...``."""

    cypher = cypher_ladybug

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.location = str(self.path)
        self.read_only = read_only
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a directory, not a LadybugDB file", hint=f"pass a file such as {self.path / 'graph.lbug'}")
        if read_only and not self.path.exists():
            raise StoreError(f"there is no graph store at {self.path} yet",
                             hint="save a graph first (stylekg kg save --library), or pass --store with an existing store")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        check_store_file(self.path, read_only)  # a damaged file can crash the process: probed apart first
        try:
            self._db = ladybug.Database(str(self.path), read_only=read_only)
        except (MemoryError, UnicodeDecodeError) as exc:
            raise damage_error(self.path, f"{type(exc).__name__}: {exc}") from None
        except RuntimeError as exc:
            if "lock" in str(exc).lower():
                raise StoreError(
                    f"the graph store {self.path} is in use by another process (LadybugDB allows one writer per file)",
                    hint="wait for or close the other stylekg command, or pass --store with another path",
                ) from None
            if "corrupt" in str(exc).lower() or "not a valid" in str(exc).lower():
                raise damage_error(self.path, str(exc)) from None
            raise StoreError(f"cannot open LadybugDB store {self.path}: {exc}") from None
        self._conn: ladybug.Connection | None = ladybug.Connection(self._db)
        self._walk_cap = MAX_WALK_DEFAULT
        try:
            self._ensure_schema()
        except BaseException:
            self.close()
            raise

    # ---- connection ----------------------------------------------------------------------
    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._db.close()
            self._conn = None
            if not self.read_only and self.path.is_file():
                record_whole(self.path)  # written by us: the next open skips the probe

    def _exec(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self._conn is None:
            raise StoreError(f"store {self.location} is closed")
        result = self._conn.execute(query, params)
        results = result if isinstance(result, list) else [result]
        rows = list(results[-1].rows_as_dict())
        for res in results:
            res.close()
        return rows

    def _write(self, work: Callable[[Tx], Any]) -> Any:
        self._exec("BEGIN TRANSACTION", {})
        try:
            out = work(self._exec)
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, RuntimeError):
                raise StoreError(f"LadybugDB refused the write: {exc}") from exc
            raise
        self._exec("COMMIT", {})
        return out

    def _rollback(self) -> None:
        try:
            self._exec("ROLLBACK", {})
        except RuntimeError as exc:  # the database may already have aborted the transaction itself
            log.debug("rollback: %s", exc)

    def _read(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            return self._exec(query, params)
        except RuntimeError as exc:
            raise StoreError(f"LadybugDB query failed: {exc}") from None

    def _read_user(self, cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """On a read-only database the database refuses writes itself; on one opened for writing the statement
        runs in a transaction that is always rolled back, so nothing it does can persist."""
        if self.read_only:
            return self._plain_rows(self._read(cypher, params))
        self._exec("BEGIN TRANSACTION", {})
        try:
            return self._plain_rows(self._exec(cypher, params))
        except RuntimeError as exc:
            raise StoreError(f"LadybugDB query failed: {exc}") from None
        finally:
            self._rollback()

    def _statement_kind(self, cypher: str, params: dict[str, Any], write: bool) -> tuple[StatementKind, str]:
        """LadybugDB's physical plan (``EXPLAIN``, planned, never run): its operators decide the kind. The Python
        binding exposes no statement type (the C++ ``PreparedStatement::getStatementType`` is not bound)."""
        try:
            rows = self._exec("EXPLAIN " + cypher, params)
        except RuntimeError as exc:
            raise StoreError(f"LadybugDB query failed: {exc}") from None
        plan = "\n".join(str(v) for row in rows for v in row.values())
        kind, operators = ladybug_kind(ladybug_operators(plan))
        return kind, ", ".join(operators)

    def _allow_walks(self, hops: int) -> None:
        """LadybugDB refuses a walk bound above its connection's ``var_length_extend_max_depth`` (default 30)."""
        if hops > self._walk_cap:
            self._exec(f"CALL var_length_extend_max_depth={int(hops)}", {})
            self._walk_cap = int(hops)

    def _plain_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: _plain(v) for k, v in row.items()} for row in rows]

    # ---- schema --------------------------------------------------------------------------
    def _ensure_schema(self) -> None:
        if self.read_only:
            self._check_schema_read_only()
            return
        if not self._exec(*cypher_ladybug.META_TABLE_EXISTS):
            log.info("creating the stylekg schema (v%d) in %s", SCHEMA_VERSION, self.path)

            def create(tx: Tx) -> None:
                for stmt in cypher_ladybug.schema_statements():
                    tx(stmt, {})
                tx(*cypher_ladybug.set_meta("schema_version", str(SCHEMA_VERSION)))

            self._write(create)
            return
        version = self._schema_version()
        while version < SCHEMA_VERSION:
            stmts = cypher_ladybug.MIGRATIONS.get(version, ())
            target = version + 1
            log.info("migrating %s: schema v%d → v%d", self.path, version, target)

            def migrate(tx: Tx, stmts: tuple[str, ...] = stmts, target: int = target) -> None:
                for stmt in stmts:
                    tx(stmt, {})
                tx(*cypher_ladybug.set_meta("schema_version", str(target)))

            self._write(migrate)
            version = target


    def _schema_version(self) -> int:
        """The store's stylekg schema version (0 before any), refused when newer than this stylekg's."""
        rows = self._exec(*cypher_ladybug.get_meta("schema_version"))
        version = int(rows[0]["value"]) if rows else 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has stylekg schema v{version}, newer than this stylekg (v{SCHEMA_VERSION})",
                hint="upgrade stylekg, or pass --store with another path",
            )
        return version

    def _check_schema_read_only(self) -> None:
        """A read-only open creates and migrates nothing: it reads any schema version up to this stylekg's."""
        if not self._exec(*cypher_ladybug.META_TABLE_EXISTS):
            raise StoreError(f"{self.path} is not a stylekg graph store (no stylekg schema in it)",
                             hint="pass --store with a store stylekg wrote, or save a graph into this one first")
        version = self._schema_version()
        if version < SCHEMA_VERSION:
            log.info("%s has schema v%d (current v%d); a command that writes will upgrade it", self.path, version,
                     SCHEMA_VERSION)


def _plain(value: Any) -> Any:
    """LadybugDB node/rel dicts → properties plus ``_label`` (internal ids dropped), like the Neo4j store."""
    if isinstance(value, dict):
        if "_LABEL" in value:
            return {**{k: _plain(v) for k, v in value.items() if not k.startswith("_")}, "_label": value["_LABEL"]}
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
