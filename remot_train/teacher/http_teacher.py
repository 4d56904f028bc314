"""A teacher behind an OpenAI-compatible ``/v1/chat/completions`` endpoint (vLLM, SGLang, llama.cpp
server, a hosted API), stdlib only (``http.client``), run through the tool loop (``tool_loop``).

Images go as base64 JPEG data URLs in ``image_url`` parts. Each HTTP attempt has a **hard**
deadline of ``timeout_s``: the socket timeout bounds every read, and a timer shuts the socket
down at the deadline, so a server that stalls or trickles bytes cannot hold a call longer.
Failed attempts (timeouts, connection errors, HTTP 429 and 5xx) are retried ``retries`` times
with exponential backoff ``backoff_s * 2**k`` capped at ``max_backoff_s``; other HTTP errors and
malformed bodies are not retried. One tool-loop turn therefore takes at most
``(retries + 1) * timeout_s + sum(backoffs)``. When every attempt fails the call is a fallback:
no patch, counted in ``stats["fallbacks"]`` (and ``http_failures``), never raised.

The model is **not shown the answer** unless ``sees_answer=True`` (a recipe's
``teacher_options: {sees_answer: true}``). Seen or not, every patch goes through the leakage guard
(``leak.check_leak``): a leaking patch is dropped and counted in ``stats["leak_drops"]``.

The API key, if any, is passed in by the caller (read it from the environment in a resource,
not here).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from remot_train.teacher.base import answer_option
from remot_train.teacher.images import data_url
from remot_train.teacher.tool_loop import ToolLoopTeacher, neutral_to_openai


class TeacherUnavailable(RuntimeError):
    """The endpoint did not give a usable reply (after retries)."""


_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class HTTPTeacher(ToolLoopTeacher):
    """``base_url``: ``http://host:port`` or ``http://host:port/v1``; ``model``: the served model's
    name. Timeouts in seconds. ``sees_answer`` shows the model the correct answer (default off; the guard
    runs either way)."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 60.0,
                 retries: int = 2, backoff_s: float = 0.5, max_backoff_s: float = 8.0, max_tokens: int = 512,
                 temperature: float = 0.0, max_response_bytes: int = 8 << 20, sees_answer: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(show_answer=answer_option(sees_answer, kwargs), **kwargs)
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be http(s)://host[:port][/v1], got {base_url!r}")
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        prefix = parts.path if parts.path.endswith("/v1") else parts.path + "/v1"
        self.path = prefix + "/chat/completions"
        self.model_name = model
        self.api_key = api_key
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.max_response_bytes = max_response_bytes
        self.http_failures = 0
        self.attempts = 0

    def worst_case_s(self) -> float:
        """The longest one turn can take: every attempt times out, with every backoff."""
        backoffs = sum(min(self.max_backoff_s, self.backoff_s * 2**k) for k in range(self.retries))
        return (self.retries + 1) * self.timeout_s + backoffs

    # --- HTTP ---------------------------------------------------------------------------------
    def _attempt(self, body: bytes) -> tuple[int, bytes]:
        """One POST with a hard deadline; returns (status, body)."""
        self.attempts += 1
        deadline = time.monotonic() + self.timeout_s
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=self.timeout_s)
        killer = threading.Timer(self.timeout_s, _shutdown, args=(conn,))
        killer.daemon = True
        killer.start()
        try:
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            conn.request("POST", self.path, body=body, headers=headers)
            resp = conn.getresponse()
            chunks, size = [], 0
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no complete reply within {self.timeout_s:g} s")
                if conn.sock is not None:
                    conn.sock.settimeout(remaining)
                chunk = resp.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise TeacherUnavailable(f"reply larger than {self.max_response_bytes} bytes")
                chunks.append(chunk)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no complete reply within {self.timeout_s:g} s")
            return resp.status, b"".join(chunks)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if time.monotonic() >= deadline - 1e-3:
                raise TimeoutError(f"no complete reply within {self.timeout_s:g} s") from exc
            raise
        finally:
            killer.cancel()
            conn.close()

    def post(self, payload: dict) -> dict:
        """POST ``payload`` with retries; the decoded JSON reply, or :class:`TeacherUnavailable`."""
        body = json.dumps(payload).encode()
        last = "no attempt"
        for k in range(self.retries + 1):
            if k:
                time.sleep(min(self.max_backoff_s, self.backoff_s * 2 ** (k - 1)))
            try:
                status, data = self._attempt(body)
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if status in _RETRY_STATUS:
                last = f"HTTP {status}"
                continue
            if status != 200:
                self.http_failures += 1
                raise TeacherUnavailable(f"HTTP {status}: {data[:200]!r}")
            try:
                return json.loads(data)
            except (json.JSONDecodeError, UnicodeDecodeError):
                self.http_failures += 1
                raise TeacherUnavailable(f"the reply is not JSON: {data[:120]!r}") from None
        self.http_failures += 1
        raise TeacherUnavailable(f"{self.retries + 1} attempt(s) failed; last: {last}")

    def complete(self, messages: list[dict]) -> str:
        payload = {"model": self.model_name, "messages": neutral_to_openai(messages, data_url),
                   "max_tokens": self.max_tokens, "temperature": self.temperature}
        reply = self.post(payload)
        try:
            message = reply["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise TeacherUnavailable(f"no choices[0].message in the reply: {str(reply)[:120]}") from None
        calls = message.get("tool_calls") or []
        if calls:  # a server with native tool calling: take the first call
            fn = calls[0].get("function", {})
            return json.dumps({"tool": fn.get("name"), "args": fn.get("arguments") or {}})
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            raise TeacherUnavailable("the reply message has no text content")
        return content


def _shutdown(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
