"""A real local HTTP server speaking the OpenAI chat-completions protocol, replaying recorded answers.

It runs ``http.server`` in a thread on 127.0.0.1 (a free port), pops one scripted step per request
(``{"content": ...}`` or ``{"status": 400, "error": ...}``) and records every request body, so tests
drive the official ``openai`` client end to end without patching it.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "body": body})
        script = self.server.script
        step = script.pop(0) if script else {"content": "{}"}
        if "status" in step:
            payload = {"error": {"message": step["error"], "type": "invalid_request_error", "code": None}}
            self._send(step["status"], payload)
            return
        self._send(200, {
            "id": f"chatcmpl-{len(self.server.requests)}", "object": "chat.completion", "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": step.get("finish_reason", "stop"),
                         "message": {"role": "assistant", "content": step["content"]}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })

    def _send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)



@contextlib.contextmanager
def recorded_llm_server(script: list[dict] | None = None) -> Iterator[ThreadingHTTPServer]:
    """Start the server with ``script``; ``server.requests`` lists what it received."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.requests, srv.script = [], list(script or [])
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
