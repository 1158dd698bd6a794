"""A small OpenAI-compatible chat server for the tests (stdlib only, 127.0.0.1, no network).

``POST /v1/chat/completions`` (or ``/chat/completions``) answers, streaming (SSE) or not,
with usage, so litellm's real HTTP path runs. The reply is made from the request so tests
can check what was sent:

- by default: ``echo: <last user message> (<n> messages)``;
- a last user message starting with ``slow`` streams 200 words, 50 ms apart (to interrupt);
- a last user message starting with ``long`` streams 40 numbered words at once;
- model ``fail-<NNN>`` answers HTTP NNN (``fail-401``, ``fail-429``, ``fail-500``...);
- model ``fail-leak`` answers HTTP 500 with a message quoting the request's API key (so
  tests can check that no secret reaches the history or the terminal);
- model ``fail-timeout`` waits ``LLMServer.hang_seconds`` (3 s) before answering;
- model ``fail-cut`` streams a few words, then drops the connection (a stream cut off).

Run it alone with ``python tests/support/llm_server.py [PORT]`` (prints its base URL) to try the loop
by hand: ``OPENAI_API_BASE=<url> OPENAI_API_KEY=x neurolink loop --model openai/test``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _words(text: str) -> list[str]:
    parts = text.split(" ")
    return [p + (" " if i < len(parts) - 1 else "") for i, p in enumerate(parts)]


def reply_for(messages: list[dict[str, Any]]) -> tuple[str, float]:
    """The answer text and the delay between streamed words."""
    last = next((m.get("content") or "" for m in reversed(messages) if m["role"] == "user"), "")
    if str(last).startswith("slow"):
        return " ".join(f"w{i}" for i in range(200)), 0.05
    if str(last).startswith("long"):
        return " ".join(f"word{i}" for i in range(40)), 0.0
    return f"echo: {last} ({len(messages)} messages)", 0.0


class _Handler(BaseHTTPRequestHandler):
    server: LLMServer.HTTP
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._json(200, {"object": "list", "data": [{"id": "test", "object": "model"}]})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        req = json.loads(self.rfile.read(length) or b"{}")
        self.server.owner.requests.append(req)
        model = req.get("model", "test")
        if model == "fail-timeout":
            time.sleep(self.server.owner.hang_seconds)
            model = "test"
        if model == "fail-leak":
            auth = self.headers.get("Authorization") or ""
            self._json(
                500,
                {
                    "error": {
                        "message": f"bad key {auth} for sk-proj-abcdefghijklmnop1234",
                        "type": "t",
                    }
                },
            )
            return
        if model.startswith("fail-") and model[5:].isdigit():
            status = int(model[5:])
            self._json(
                status,
                {"error": {"message": f"test failure {status}", "type": "test", "code": status}},
            )
            return
        messages = req.get("messages", [])
        text, delay = reply_for(messages)
        prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in messages) + 1
        completion_tokens = len(text.split())
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        rid, created = f"chatcmpl-{time.time_ns()}", int(time.time())
        if not req.get("stream"):
            self._json(
                200,
                {
                    "id": rid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                },
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
            body = {
                "id": rid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            self.wfile.write(b"data: " + json.dumps(body).encode() + b"\n\n")
            self.wfile.flush()

        if model == "fail-cut":
            chunk({"role": "assistant", "content": ""})
            for word in ("partial ", "answer ", "then "):
                chunk({"content": word})
            self.wfile.write(b"data: {not json")  # cut off mid-event
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        try:
            chunk({"role": "assistant", "content": ""})
            for word in _words(text):
                chunk({"content": word})
                if delay:
                    time.sleep(delay)
            chunk({}, "stop")
            if (req.get("stream_options") or {}).get("include_usage"):
                body = {
                    "id": rid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
                self.wfile.write(b"data: " + json.dumps(body).encode() + b"\n\n")
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (an interrupted stream)


class LLMServer:
    """The server on a free port of 127.0.0.1, served from a daemon thread."""

    class HTTP(ThreadingHTTPServer):
        daemon_threads = True
        owner: LLMServer

    def __init__(self, port: int = 0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.hang_seconds = 3.0
        self.httpd = self.HTTP(("127.0.0.1", port), _Handler)
        self.httpd.owner = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def start(self) -> LLMServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":
    srv = LLMServer(int(sys.argv[1]) if len(sys.argv) > 1 else 0).start()
    print(srv.base_url, flush=True)
    try:
        srv.thread.join()
    except KeyboardInterrupt:
        srv.stop()
