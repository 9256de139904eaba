"""Read and write CounterFact-style JSONL request files (one record per line).

Each line: ``{"case_id", "requested_rewrite": {"prompt", "subject", "target_new": {"str"},
"target_true": {"str"}}, "paraphrase_prompts", "neighborhood_prompts"}`` (docs/editing.md).
A plain JSON array of records (the published CounterFact file) is accepted too. A request's ``meta`` (the graph
ids it came from, propagation, role...) travels as a ``"meta"`` object, so nothing is lost on a round trip
(:func:`stylekg.requests.to_record` / :func:`stylekg.requests.from_record`, re-exported here).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import EditError
from ..requests import MAX_TEXT_CHARS, EditRequest, from_record, to_record

MAX_RECORD_CHARS = 40 * MAX_TEXT_CHARS
"""The longest JSONL line (one request with its paraphrases and neighbours); a longer line is refused before it is
parsed (a 10 MB line used to be parsed and tokenised for a minute before its length was checked)."""
from ..paths import atomic_write_text

__all__ = ["from_record", "from_records", "read_requests", "to_record", "to_records", "write_requests"]


def to_records(requests: Iterable[EditRequest]) -> list[dict[str, Any]]:
    return [to_record(r) for r in requests]


def from_records(records: Iterable[dict[str, Any]]) -> list[EditRequest]:
    return [from_record(r) for r in records]


def read_requests(path: str | Path) -> list[EditRequest]:
    """Requests from a CounterFact-style JSONL (or JSON array) file; errors name the line."""
    path = Path(path)
    if not path.is_file():
        raise EditError(f"request file {path} does not exist", hint="pass a CounterFact-style .jsonl file")
    text = path.read_text("utf-8")
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EditError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        numbered = [(f"record {i}", r) for i, r in enumerate(records, 1)]
    else:
        numbered = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            if len(line) > MAX_RECORD_CHARS:
                raise EditError(f"{path}:{number}: the line is {len(line)} characters, more than one request may "
                                f"hold ({MAX_RECORD_CHARS})", hint="one request per line, each text at most "
                                                                    f"{MAX_TEXT_CHARS} characters")
            try:
                numbered.append((f"line {number}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise EditError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
    requests = []
    for where, record in numbered:
        if not isinstance(record, dict):
            raise EditError(f"{path} {where}: expected a JSON object, got {type(record).__name__}")
        try:
            request = from_record(record)
        except EditError as exc:
            raise EditError(f"{path} {where}: {exc}") from None
        except (AttributeError, TypeError, ValueError) as exc:
            raise EditError(f"{path} {where}: malformed record ({exc})", hint="see docs/editing.md") from None
        if not request.case_id:
            request = request.with_(case_id=str(len(requests)))
        requests.append(request)
    if not requests:
        raise EditError(f"request file {path} holds no records")
    return requests


def write_requests(requests: Iterable[EditRequest], path: str | Path) -> Path:
    """Write requests as JSONL (round-trips through :func:`read_requests`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(to_record(r), ensure_ascii=False) for r in requests]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
