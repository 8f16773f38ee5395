"""A real HTTP server on 127.0.0.1 that speaks OpenAI's chat-completions protocol.

Tests script its answers; the real ``openai`` client talks to it over TCP.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclasses.dataclass
class Reply:
    content: str = ""
    status: int = 200
    delay_s: float = 0.0
    raw: bytes | None = None  # sent as the body instead of a completion


class ModelServer:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict] = []
        self.responder: Callable[[dict], Reply] | None = None
        self.default = Reply("I have no scripted answer.")
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(
                    {"path": self.path, "body": body, "headers": dict(self.headers)}
                )
                reply = server._next(body)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                payload = (
                    reply.raw
                    if reply.raw is not None
                    else json.dumps(
                        _completion(body, reply)
                        if reply.status == 200
                        else {"error": {"message": "scripted failure", "type": "server_error"}}
                    ).encode()
                )
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as a timeout test wants

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _next(self, body: dict) -> Reply:
        if self.replies:
            return self.replies.popleft()
        if self.responder is not None:
            return self.responder(body)
        return self.default

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def start(self) -> ModelServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def say(self, *contents: str) -> None:
        self.replies.extend(Reply(c) for c in contents)


def _completion(body: dict, reply: Reply) -> dict:
    prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "test-model"),
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": reply.content},
            }
        ],
        "usage": {
            "prompt_tokens": len(prompt.split()),
            "completion_tokens": len(reply.content.split()),
            "total_tokens": 0,
        },
    }
