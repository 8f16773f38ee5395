"""A real HTTP server on 127.0.0.1 that speaks OpenAI's chat-completions protocol.

Tests script its answers; the real ``openai`` client talks to it over TCP.

It also plays OpenAI's files and fine-tuning API (``POST /v1/files`` multipart,
``GET /v1/files/{id}/content``, ``POST``/``GET /v1/fine_tuning/jobs``,
``GET /v1/fine_tuning/jobs/{id}`` and ``/events``) with the payload shapes of
the real service: a job validates its files, then trains a few steps each time
it is looked at (``fine_tuning.steps_per_poll``), logging metric events newest
first, and on success leaves a base64-encoded result CSV and a model name.
"""

from __future__ import annotations

import base64
import dataclasses
import email.parser
import email.policy
import itertools
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclasses.dataclass
class Reply:
    content: str = ""
    status: int = 200
    delay_s: float = 0.0
    raw: bytes | None = None  # sent as the body instead of a completion


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": code, "param": None, "code": None}}


class FineTuning:
    """Files and fine-tuning jobs kept in memory, as OpenAI's service would keep them."""

    MIN_EXAMPLES = 10

    def __init__(self) -> None:
        self.files: dict[str, dict] = {}
        self.contents: dict[str, bytes] = {}
        self.jobs: dict[str, dict] = {}
        self.events: dict[str, list[dict]] = {}
        self.progress: dict[str, dict] = {}
        self.steps_per_poll = 10
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    def _id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}test"

    def upload(self, filename: str, purpose: str, content: bytes) -> dict:
        with self._lock:
            file_id = self._id("file")
            self.files[file_id] = {
                "id": file_id,
                "object": "file",
                "bytes": len(content),
                "created_at": int(time.time()),
                "filename": filename,
                "purpose": purpose,
                "status": "processed",
                "status_details": None,
            }
            self.contents[file_id] = content
            return self.files[file_id]

    def _examples(self, file_id: str, role: str) -> int:
        if file_id not in self.files:
            raise ApiError(400, f"invalid {role}: {file_id}")
        lines = [line for line in self.contents[file_id].splitlines() if line.strip()]
        for number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise ApiError(400, f"{role} line {number} is not valid JSON") from None
            if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
                raise ApiError(400, f"{role} line {number} has no messages list")
        return len(lines)

    def create(self, body: dict) -> dict:
        training = self._examples(str(body.get("training_file")), "training_file")
        if training < self.MIN_EXAMPLES:
            raise ApiError(
                400,
                f"Training file has {training} example(s), but must have at least "
                f"{self.MIN_EXAMPLES} examples",
            )
        validation_file = body.get("validation_file")
        if validation_file:
            self._examples(validation_file, "validation_file")
        method = body.get("method") or {}
        wanted = (
            (method.get("supervised") or {}).get("hyperparameters")
            or body.get("hyperparameters")
            or {}
        )
        epochs = wanted.get("n_epochs", "auto")
        batch = wanted.get("batch_size", "auto")
        multiplier = wanted.get("learning_rate_multiplier", "auto")
        n_epochs = 3 if epochs in (None, "auto") else int(epochs)
        batch_size = 1 if batch in (None, "auto") else int(batch)
        used = {
            "n_epochs": n_epochs,
            "batch_size": batch_size,
            "learning_rate_multiplier": 2.0 if multiplier in (None, "auto") else multiplier,
        }
        with self._lock:
            job_id = self._id("ftjob")
            self.jobs[job_id] = {
                "object": "fine_tuning.job",
                "id": job_id,
                "model": body.get("model"),
                "created_at": int(time.time()),
                "finished_at": None,
                "fine_tuned_model": None,
                "organization_id": "org-test",
                "result_files": [],
                "status": "validating_files",
                "validation_file": validation_file,
                "training_file": body.get("training_file"),
                "hyperparameters": used,
                "trained_tokens": None,
                "error": None,
                "seed": body.get("seed") or 42,
                "estimated_finish": None,
                "integrations": [],
                "metadata": None,
                "method": {"type": "supervised", "supervised": {"hyperparameters": used}},
                "suffix": body.get("suffix"),
            }
            self.events[job_id] = []
            self.progress[job_id] = {
                "step": 0,
                "total": math.ceil(training / batch_size) * n_epochs,
                "rows": [],
            }
            self._event(job_id, f"Created fine-tuning job: {job_id}")
            self._event(job_id, f"Validating training file: {body.get('training_file')}")
            return dict(self.jobs[job_id])

    def _event(self, job_id: str, message: str, data: dict | None = None) -> None:
        self.events[job_id].append(
            {
                "object": "fine_tuning.job.event",
                "id": f"ftevent-{next(self._ids):06d}test",
                "created_at": int(time.time()),
                "level": "info",
                "message": message,
                "data": data or {},
                "type": "metrics" if data else "message",
            }
        )

    def _advance(self, job_id: str) -> None:
        """Train `steps_per_poll` more steps: a loss that falls and settles, a little noise."""
        job, state = self.jobs[job_id], self.progress[job_id]
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return
        if job["status"] == "validating_files":
            job["status"] = "running"
            self._event(job_id, "Fine-tuning job started")
            return
        total = state["total"]
        for _ in range(self.steps_per_poll):
            if state["step"] >= total:
                break
            state["step"] += 1
            step = state["step"]
            loss = 0.25 + 1.8 * math.exp(-step / max(total / 5, 1)) + 0.04 * math.sin(step * 1.7)
            data = {
                "step": step,
                "train_loss": round(loss, 5),
                "train_mean_token_accuracy": round(min(0.99, 1.0 - loss / 3), 5),
                "total_steps": total,
            }
            if job["validation_file"] and step % 5 == 0:
                data["valid_loss"] = round(loss + 0.08, 5)
                data["valid_mean_token_accuracy"] = round(min(0.99, 1.0 - (loss + 0.08) / 3), 5)
            state["rows"].append(data)
            self._event(job_id, f"Step {step}/{total}: training loss={loss:.2f}", data)
        if state["step"] >= total:
            self._finish(job_id)

    def _finish(self, job_id: str) -> None:
        job, rows = self.jobs[job_id], self.progress[job_id]["rows"]
        lines = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
        for r in rows:
            cells = [r["step"], r["train_loss"], r["train_mean_token_accuracy"]]
            cells += [r.get("valid_loss", ""), r.get("valid_mean_token_accuracy", "")]
            lines.append(",".join(str(c) for c in cells))
        csv = ("\n".join(lines) + "\n").encode()
        # OpenAI serves a job's result file base64-encoded.
        result = self.upload("step_metrics.csv", "fine-tune-results", base64.b64encode(csv))
        suffix = job.get("suffix") or "quarry"
        job.update(
            status="succeeded",
            finished_at=int(time.time()),
            fine_tuned_model=f"ft:{job['model']}:org-test:{suffix}:{job_id[-10:]}",
            result_files=[result["id"]],
            trained_tokens=1000 * len(rows),
        )
        self._event(job_id, f"New fine-tuned model created: {job['fine_tuned_model']}")
        self._event(job_id, "The job has successfully completed")

    def job(self, job_id: str) -> dict:
        with self._lock:
            if job_id not in self.jobs:
                raise ApiError(404, f"Could not find fine-tuning job {job_id}.")
            self._advance(job_id)
            return {k: v for k, v in self.jobs[job_id].items() if k != "suffix"}

    def list_jobs(self, query: dict) -> dict:
        with self._lock:
            jobs = sorted(self.jobs.values(), key=lambda j: j["id"], reverse=True)
            shown = [{k: v for k, v in j.items() if k != "suffix"} for j in jobs]
        return _page(shown, query)

    def list_events(self, job_id: str, query: dict) -> dict:
        with self._lock:
            if job_id not in self.jobs:
                raise ApiError(404, f"Could not find fine-tuning job {job_id}.")
            self._advance(job_id)
            newest_first = list(reversed(self.events[job_id]))
        return _page(newest_first, query)

    def content(self, file_id: str) -> bytes:
        with self._lock:
            if file_id not in self.contents:
                raise ApiError(404, f"No such File object: {file_id}")
            return self.contents[file_id]


def _page(items: list[dict], query: dict) -> dict:
    """A cursor page: `after` is the id of the last item of the page before."""
    limit = int(query.get("limit", ["20"])[0])
    after = query.get("after", [None])[0]
    if after is not None:
        ids = [i["id"] for i in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return {"object": "list", "data": items[:limit], "has_more": len(items) > limit}


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Form fields of a multipart body: name -> (file name, bytes)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


class ModelServer:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict] = []
        self.responder: Callable[[dict], Reply] | None = None
        self.default = Reply("I have no scripted answer.")
        self.fine_tuning = FineTuning()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _send(self, status: int, payload: bytes, kind: str = "application/json") -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as a timeout test wants

            def _api(self, answer: Callable[[], dict | bytes]) -> None:
                try:
                    result = answer()
                except ApiError as exc:
                    self._send(exc.status, json.dumps(exc.body).encode())
                    return
                if isinstance(result, bytes):
                    self._send(200, result, "application/octet-stream")
                else:
                    self._send(200, json.dumps(result).encode())

            def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
                url = urlsplit(self.path)
                parts = url.path.rstrip("/").split("/")[2:]  # after "/v1"
                query = parse_qs(url.query)
                server.requests.append({"method": "GET", "path": self.path, "body": {}})
                ft = server.fine_tuning
                if parts == ["fine_tuning", "jobs"]:
                    self._api(lambda: ft.list_jobs(query))
                elif parts[:2] == ["fine_tuning", "jobs"] and len(parts) == 3:
                    self._api(lambda: ft.job(parts[2]))
                elif parts[:2] == ["fine_tuning", "jobs"] and parts[3:] == ["events"]:
                    self._api(lambda: ft.list_events(parts[2], query))
                elif parts[:1] == ["files"] and parts[2:] == ["content"]:
                    self._api(lambda: ft.content(parts[1]))
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                path = urlsplit(self.path).path.rstrip("/")
                if path.endswith("/v1/files"):
                    fields = _multipart(self.headers.get("Content-Type", ""), raw)
                    filename, content = fields.get("file", (None, b""))
                    purpose = fields.get("purpose", (None, b""))[1].decode()
                    server.requests.append(
                        {"method": "POST", "path": self.path, "body": {"purpose": purpose}}
                    )
                    self._api(
                        lambda: server.fine_tuning.upload(filename or "upload", purpose, content)
                    )
                    return
                body = json.loads(raw or b"{}")
                server.requests.append(
                    {"path": self.path, "body": body, "headers": dict(self.headers)}
                )
                if path.endswith("/v1/fine_tuning/jobs"):
                    self._api(lambda: server.fine_tuning.create(body))
                    return
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
                self._send(reply.status, payload)

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
