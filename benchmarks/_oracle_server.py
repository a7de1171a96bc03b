"""The oracle teacher: a local HTTP server that speaks OpenAI's chat-completions protocol and answers every executor
request with a *real* training message of the label the request asks for.

An executor request is one whose constrained schema (`response_format`, json_schema) asks for a text and nothing
else; its label is read from the prompt by the categories' own words (each label's description, else its name), so
a rephrased template still works: the label named first outside quotation marks is the one asked for (the labels
the message must *not* be about are quoted after it), else the first named at all. Its answer is the next unused
real message of that label (drawn without replacement, in an order fixed by the seed), as the JSON object the
schema asks for. Every other request (the planner's phrases, a judge's verdict) goes to `forward`, the benchmark
teacher, batched as requests arrive together; without `forward` they are answered with nothing usable, so the
planner's built-in personas and situations fill in.

The server records every executor prompt with the label it read from it, so a benchmark can check each reading
against the slot the pipeline stored (`misread`).
"""

from __future__ import annotations

import json
import queue
import random
import re
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self

from pydantic import BaseModel, Field, create_model

QUOTES = "\"'“”‘’«»"
JSON_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool}


def label_patterns(categories: list[Any]) -> list[tuple[re.Pattern, str]]:
    """How a prompt names each label: its description without the closing full stop, else its name (also with
    spaces for underscores), matched case-insensitively as whole words."""
    out = []
    for c in categories:
        phrases = {c.description.strip().rstrip(".").strip()} if c.description.strip() else {c.name, c.name.replace("_", " ")}
        for phrase in phrases:
            words = r"\s+".join(re.escape(w) for w in phrase.split())
            out.append((re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE), c.name))
    return out


def requested_label(prompt: str, patterns: list[tuple[re.Pattern, str]]) -> str | None:
    """The label a prompt asks for: of the labels it names (a longer name covering a shorter one wins), the first
    not wrapped in quotation marks, else the first; None when it names none."""
    spans = sorted(((m.start(), m.end(), label) for pattern, label in patterns for m in pattern.finditer(prompt)),
                   key=lambda s: (s[0], -(s[1] - s[0])))
    kept: list[tuple[int, int, str]] = []
    for start, end, label in spans:
        if not any(s <= start and end <= e for s, e, _ in kept):
            kept.append((start, end, label))
    if not kept:
        return None

    def quoted(start: int, end: int) -> bool:
        before, after = prompt[:start].rstrip()[-1:], prompt[end:].lstrip()[:1]
        return bool(before) and before in QUOTES and bool(after) and after in QUOTES + ".;,"

    free = [label for start, end, label in kept if not quoted(start, end)]
    return free[0] if free else kept[0][2]


def schema_model(response_format: dict) -> type[BaseModel] | None:
    """A pydantic model for a flat json_schema response format (strings, numbers, booleans, enums), else None."""
    spec = (response_format or {}).get("json_schema") or {}
    props = (spec.get("schema") or {}).get("properties")
    if not props:
        return None
    fields: dict[str, Any] = {}
    for key, p in props.items():
        kind = Literal[tuple(p["enum"])] if p.get("enum") else JSON_TYPES.get(p.get("type"), str)
        limits = {name: p[js] for js, name in (("minLength", "min_length"), ("maxLength", "max_length")) if js in p}
        fields[key] = (kind, Field(**limits))
    return create_model(spec.get("name") or "Answer", **fields)


def is_executor(body: dict) -> bool:
    """An executor request: its schema asks for a text and nothing else."""
    spec = (body.get("response_format") or {}).get("json_schema") or {}
    return set((spec.get("schema") or {}).get("properties") or {}) == {"text"}


class Forwarder:
    """Answers requests with a local engine, one `generate` call for the requests that arrive together."""

    def __init__(self, engine: Any, *, batch_size: int = 32, wait_s: float = 0.2):
        self.engine, self.batch_size, self.wait_s = engine, batch_size, wait_s
        self.queue: queue.Queue = queue.Queue()
        self.calls = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def answer(self, body: dict) -> Any:
        done, box = threading.Event(), []
        self.queue.put((body, done, box))
        done.wait()
        return box[0]

    def _loop(self) -> None:
        from synthwright.engines import ChatRequest, Generation, Sampling

        while True:
            items = [self.queue.get()]
            deadline = time.monotonic() + self.wait_s
            while len(items) < self.batch_size and (left := deadline - time.monotonic()) > 0:
                try:
                    items.append(self.queue.get(timeout=left))
                except queue.Empty:
                    break
            groups: dict[str, list] = defaultdict(list)
            for item in items:
                body = item[0]
                groups[json.dumps([body.get("response_format"), body.get("temperature"), body.get("top_p"),
                                   body.get("max_tokens") or body.get("max_completion_tokens")])].append(item)
            for group in groups.values():
                body = group[0][0]
                sampling = Sampling(temperature=body.get("temperature") or 0.0, top_p=body.get("top_p") or 1.0,
                                    max_new_tokens=body.get("max_tokens") or body.get("max_completion_tokens") or 256)
                requests = [ChatRequest(messages=[{"role": m["role"], "content": m["content"]} for m in b["messages"]])
                            for b, _, _ in group]
                try:
                    gens = self.engine.generate(requests, schema=schema_model(body.get("response_format")),
                                                sampling=sampling)
                except Exception as exc:  # noqa: BLE001 the client sees an HTTP 500 and retries
                    gens = [Generation(error=f"{type(exc).__name__}: {exc}", finish_reason="error")] * len(group)
                self.calls += len(group)
                for (_, done, box), gen in zip(group, gens):
                    box.append(gen)
                    done.set()


class OracleTeacher:
    """The server. `categories`: the recipe's; `train`: real {text, label} rows to answer from; `seed`: the order
    they are drawn in; `forward`: the engine for every other request (None: answer those with nothing usable).

    Each label's messages come in an order fixed by the seed and the label; a label whose real messages are all used
    starts over in a new order (`recycled` counts those restarts)."""

    def __init__(self, categories: list[Any], train: list[dict], *, seed: int, forward: Any = None,
                 forward_batch: int = 32):
        self.patterns = label_patterns(categories)
        self.pools: dict[str, list[str]] = defaultdict(list)
        for row in train:
            self.pools[row["label"]].append(row["text"])
        self.seed = seed
        self.order: dict[str, list[str]] = {}
        self.forwarder = Forwarder(forward, batch_size=forward_batch) if forward is not None else None
        self.offered: list[tuple[str, str]] = []  # (label, text) of every executor answer
        self.read: dict[str, str | None] = {}  # executor prompt → the label read from it
        self.recycled = self.unread = self.declined = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @property
    def forwarded(self) -> int:
        return self.forwarder.calls if self.forwarder is not None else 0

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def next_text(self, label: str) -> str:
        with self._lock:
            if not self.order.get(label):
                if label in self.order:
                    self.recycled += 1
                rng = random.Random(f"{self.seed}/{label}/{label in self.order}/{self.recycled}")
                self.order[label] = rng.sample(self.pools[label], len(self.pools[label]))
            return self.order[label].pop()

    def executor_answer(self, body: dict) -> str:
        prompt = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
        label = requested_label(prompt, self.patterns)
        with self._lock:
            self.read[prompt] = label
        if label is None or not self.pools.get(label):
            with self._lock:
                self.unread += 1
            return ""  # no label read: an answer that does not parse, so the run counts it as a parse failure
        text = self.next_text(label)
        with self._lock:
            self.offered.append((label, text))
        return json.dumps({"text": text}, ensure_ascii=False)

    def completion(self, body: dict) -> tuple[int, dict]:
        """(HTTP status, payload) for one chat-completions request."""
        if is_executor(body):
            content, finish = self.executor_answer(body), "stop"
        elif self.forwarder is not None:
            gen = self.forwarder.answer(body)
            if gen.finish_reason == "error":
                return 500, {"error": {"message": gen.error, "type": "server_error", "code": "engine_error"}}
            content, finish = gen.text, "length" if gen.finish_reason == "length" else "stop"
        else:
            with self._lock:
                self.declined += 1
            content, finish = "{}", "stop"
        words_in = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        return 200, {"id": "chatcmpl-oracle", "object": "chat.completion", "created": int(time.time()),
                     "model": body.get("model", "oracle"),
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                  "finish_reason": finish}],
                     "usage": {"prompt_tokens": words_in, "completion_tokens": len(content.split()),
                               "total_tokens": words_in + len(content.split())}}


def _handler(oracle: OracleTeacher) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            try:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, payload = oracle.completion(body)
            except Exception as exc:  # noqa: BLE001 a bug here must reach the run as an error, not hang it
                status, payload = 500, {"error": {"message": f"{type(exc).__name__}: {exc}", "type": "server_error"}}
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler
