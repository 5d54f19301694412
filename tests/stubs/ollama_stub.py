"""A stub that speaks the part of Ollama's documented HTTP API the assistant uses
(GET /api/tags, POST /api/chat streaming NDJSON, GET /api/version). It records every request.

Not a model: it replies with a scripted answer, so the backend's wiring (options such as num_ctx,
streaming, token counts, errors) can be checked exactly.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OllamaStub:
    def __init__(self, models: list[str], reply: str = "Daniel Ek joined him [1].") -> None:
        self.models = models
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        self.die_after_chunks: int | None = None
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/api/tags":
                    self._json(200, {"models": [
                        {"name": m, "model": m, "modified_at": "2024-08-23T00:00:00Z",
                         "size": 1, "digest": "0" * 64, "details": {}} for m in stub.models]})
                elif self.path == "/api/version":
                    self._json(200, {"version": "0.5.0"})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append({"path": self.path, "body": body})
                if self.path != "/api/chat":
                    self._json(404, {"error": "not found"})
                    return
                if body.get("model") not in stub.models:
                    self._json(404, {"error": f"model '{body.get('model')}' not found"})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.end_headers()
                words = stub.reply.split(" ")
                # Like Ollama: at most num_predict tokens (a word each here), then done_reason
                # "length" instead of "stop".
                limit = (body.get("options") or {}).get("num_predict") or len(words)
                reason = "length" if len(words) > limit else "stop"
                words = words[:limit]
                for i, word in enumerate(words):
                    if stub.die_after_chunks is not None and i >= stub.die_after_chunks:
                        # The server going away mid-answer: cut the connection without a final line.
                        self.wfile.flush()
                        self.connection.shutdown(2)
                        return
                    piece = word if i == 0 else " " + word
                    line = {"model": body["model"], "created_at": "2024-08-23T00:00:00Z",
                            "message": {"role": "assistant", "content": piece}, "done": False}
                    self.wfile.write((json.dumps(line) + "\n").encode())
                    self.wfile.flush()
                final = {"model": body["model"], "created_at": "2024-08-23T00:00:00Z",
                         "message": {"role": "assistant", "content": ""}, "done": True,
                         "done_reason": reason, "total_duration": 1, "load_duration": 1,
                         "prompt_eval_count": 321, "prompt_eval_duration": 1,
                         "eval_count": len(words), "eval_duration": 1}
                self.wfile.write((json.dumps(final) + "\n").encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OllamaStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
