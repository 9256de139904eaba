"""The report's building blocks: cells, tables, figures, queries and sections, and how values read as text.

Every section of the run report is built once from these plain objects and rendered twice (HTML and Markdown) by
``report.py``; the classes say whether a number moved the way an edit should move it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LOWER_IS_BETTER = frozenset({"prob_true"})  # erasing/replacing an edge should lower P(old); others: higher = better
UNRELATED_TOLERANCE = 0.05  # an unrelated style moving less than this (absolute) counts as untouched
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|&])")


@dataclass
class Cell:
    """One table cell: its text (escaped on output) and a CSS class (good/bad/flat/num)."""

    text: str
    cls: str = ""


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    caption: str = ""

    @property
    def numeric(self) -> list[bool]:
        """Per column: every cell is a number (right-aligned)."""
        return [bool(self.rows) and all(i < len(r) and r[i].cls.startswith("num") for r in self.rows)
                for i in range(len(self.headers))]


@dataclass
class Figure:
    """A heatmap embedded as a ``data:`` URI (``uri`` None: the file is missing)."""

    label: str
    path: str
    uri: str | None


@dataclass
class Query:
    """A Cypher query, its parameters (JSON text) and its result rows."""

    title: str
    text: str
    params: str
    table: Table

    @property
    def fence(self) -> str:
        """A Markdown code fence longer than any run of backticks in the query."""
        return "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", self.text)), default=0))


@dataclass
class Section:
    """A report section: notes (plain text), tables, a framed page, figures and queries, rendered by the templates."""

    anchor: str
    title: str
    notes: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    frame: str | None = None  # relative path of a page shown in an <iframe> (the pyvis graph)
    figures: list[Figure] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)


def fmt(value: Any) -> str:
    """A value as report text: floats with 3 decimals, None as a dash, containers as JSON."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(value) if not math.isfinite(value) else f"{value:.1f}" if abs(value) >= 1000 else f"{value:.3f}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _delta(before: Any, after: Any) -> float | None:
    b, a = _num(before), _num(after)
    return None if a is None or b is None else a - b


def delta_class(metric: str, delta: float | None) -> str:
    """``good`` when the metric moved the way an edit should move it, ``bad`` the other way, ``flat`` unchanged."""
    if delta is None:
        return ""
    if abs(delta) < 1e-9:
        return "flat"
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    return "good" if delta * sign > 0 else "bad"


def style_class(role: str, mode: str, delta: float | None) -> str:
    """Edited/subclass styles should fall (erase, replace) or rise (insert); unrelated ones should not move."""
    if delta is None:
        return ""
    if role == "unrelated":
        return "good" if abs(delta) <= UNRELATED_TOLERANCE else "bad"
    if abs(delta) < 1e-9:
        return "flat"
    want = 1.0 if mode == "insert" else -1.0
    return "good" if delta * want > 0 else "bad"


def _kv(mapping: Mapping[str, Any], caption: str = "", unit: str = "") -> Table:
    rows = [[Cell(str(k)), Cell(fmt(v) + unit, "num") if _num(v) is not None else Cell(fmt(v))]
            for k, v in mapping.items()]
    return Table(["key", "value"], rows, caption)


def _arrow(before: Any, after: Any) -> str:
    return f"{fmt(before)} → {fmt(after)}"


def _signed(delta: float | None) -> str:
    return "—" if delta is None else f"{delta:+.3f}"


def md_escape(text: Any) -> str:
    """Markdown-escape ``text`` (CommonMark backslash escapes); newlines become ``<br>`` (table cells)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\r", "").replace("\n", "<br>")


