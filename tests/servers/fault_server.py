"""A small OpenAI-compatible server (stdlib only) with scripted replies and injected faults.

It serves ``/v1/models``, ``/v1/chat/completions`` and ``/v1/completions`` in the vLLM response format
(log-probabilities included: one token per whitespace-separated piece, so tests can check their plumbing)
and runs in a background thread of the test process::

    with FaultServer(reply=lambda req: "Paris", faults=FaultPlan(rate=0.3)) as srv:
        ... srv.url ...  # http://127.0.0.1:PORT/v1

Faults are decided per *request body* (the same logical request gets the same sequence of faults on each
retry), deterministically from a seed:

* ``429``: Too Many Requests with ``Retry-After: 0``;
* ``500``: Internal Server Error;
* ``slow``: the reply comes after ``slow_s`` seconds (beyond the client's timeout);
* ``drop``: the connection is closed without a response;
* ``truncate``: the headers promise a body that is cut off half-way.

A request body hit by faults fails its first ``fails_per_request`` attempts and then succeeds; bodies whose
prompt contains one of ``always_fail`` fail every time (until the test clears ``always_fail``). Every request
is logged in ``log`` as ``(key, outcome)`` for the test's accounting.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

FAULT_KINDS = ("429", "500", "slow", "drop", "truncate")


@dataclass
class FaultPlan:
    rate: float = 0.0  # fraction of logical requests that get faults
    kinds: tuple[str, ...] = FAULT_KINDS
    fails_per_request: int = 1  # attempts that fail before the request succeeds
    always_fail: set[str] = field(default_factory=set)  # prompt substrings that fail on every attempt
    slow_s: float = 2.0
    seed: int = 0


def prompt_text(body: dict) -> str:
    """The text of a request: the completions prompt, or the chat messages joined."""
    if "prompt" in body:
        return str(body["prompt"])
    return "\n".join(f"{m['role']}: {m['content']}" for m in body.get("messages", []))


def request_key(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


class FaultServer:
    """Serve ``reply(body) -> str`` with the faults of ``faults`` (each reply delayed by ``latency_s``); use as a
    context manager."""

    def __init__(
        self,
        reply: Callable[[dict], str],
        faults: FaultPlan | None = None,
        *,
        models: tuple[str, ...] = ("scripted-model",),
        host: str = "127.0.0.1",
        latency_s: float = 0.0,
    ):
        self.reply = reply
        self.latency_s = latency_s  # every reply takes this long (a stand-in for generation time)
        self.faults = faults or FaultPlan()
        self.models = models
        self.log: list[tuple[str, str]] = []
        self.attempts: dict[str, int] = {}
        self.headers_seen: list[dict] = []
        self.bodies: list[dict] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                if self.path.rstrip("/") == "/v1/models":
                    self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in server.models]})
                else:
                    self._json(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                if self.path.rstrip("/") not in ("/v1/chat/completions", "/v1/completions"):
                    return self._json(404, {"error": {"message": f"no route {self.path}"}})
                is_chat = self.path.rstrip("/").endswith("/chat/completions")
                if ("messages" in body) != is_chat or ("prompt" in body) == is_chat:
                    return self._json(400, {"error": {"message": "prompt/messages do not fit the endpoint"}})
                with server.lock:
                    server.headers_seen.append(dict(self.headers))
                    server.bodies.append(body)
                server.handle(self, body)

            def _json(self, status: int, obj: dict, headers: dict | None = None):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}/v1"
        self._thread: threading.Thread | None = None

    # -- fault decisions -----------------------------------------------------------------------------
    def fault_for(self, body: dict, attempt: int) -> str | None:
        text = prompt_text(body)
        if any(s in text for s in self.faults.always_fail):
            return self.faults.kinds[attempt % len(self.faults.kinds)]
        rng = random.Random(f"{self.faults.seed}:{request_key(body)}")
        if rng.random() >= self.faults.rate or attempt >= self.faults.fails_per_request:
            return None
        return rng.choice(self.faults.kinds)

    def handle(self, h: BaseHTTPRequestHandler, body: dict) -> None:
        key = request_key(body)
        with self.lock:
            attempt = self.attempts.get(key, 0)
            self.attempts[key] = attempt + 1
        fault = self.fault_for(body, attempt)
        with self.lock:
            self.log.append((key, fault or "ok"))
        if fault == "429":
            return h._json(429, {"error": {"message": "rate limited"}}, {"Retry-After": "0"})
        if fault == "500":
            return h._json(500, {"error": {"message": "injected server error"}})
        if fault == "drop":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return None
        if fault == "slow":
            time.sleep(self.faults.slow_s)
        if self.latency_s:
            time.sleep(self.latency_s)
        obj = self.completion(body)
        if fault == "truncate":
            data = json.dumps(obj).encode()
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return None
        h._json(200, obj)

    def completion(self, body: dict) -> dict:
        """A vLLM-style response to ``body`` with the scripted reply, cut at the first stop string."""
        text = self.reply(body)
        for s in body.get("stop") or []:
            if s in text:
                text = text[: text.index(s)]
        pieces = [p for p in text.replace(" ", "\x00 ").split("\x00") if p]  # keep the spaces on the tokens
        pieces = pieces[: int(body.get("max_tokens") or 16)]
        text = "".join(pieces)
        lps = [-0.25 * (i + 1) for i in range(len(pieces))]
        usage = {"prompt_tokens": len(prompt_text(body).split()), "completion_tokens": len(pieces)}
        if "prompt" in body:
            logprobs = (
                {"tokens": pieces, "token_logprobs": lps, "top_logprobs": None, "text_offset": []}
                if body.get("logprobs")
                else None
            )
            choice = {"index": 0, "text": text, "logprobs": logprobs, "finish_reason": "stop"}
            return {
                "id": "cmpl-1",
                "object": "text_completion",
                "model": body.get("model"),
                "choices": [choice],
                "usage": usage,
            }
        logprobs = (
            {"content": [{"token": p, "logprob": lp, "top_logprobs": []} for p, lp in zip(pieces, lps)]}
            if body.get("logprobs")
            else None
        )
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "logprobs": logprobs,
            "finish_reason": "stop",
        }
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": body.get("model"),
            "choices": [choice],
            "usage": usage,
        }

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> "FaultServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="fault-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "FaultServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
