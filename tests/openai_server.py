"""A local HTTP server that speaks OpenAI's chat-completions protocol, serving a synthwright engine.

Each request consumes the next scripted action ('429', '500', '400', 'timeout', 'malformed', 'canned': a valid
ClassificationSample at once, without the engine);
when the script is empty it serves the engine, constrained to the schema named in
`response_format`. It records every request and the peak number in flight. With `models` set, a request for a
model not in it is answered 404 model_not_found, as OpenAI does (by default every model name is served).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from synthwright.core.samples import SCHEMAS
from synthwright.engines import ChatRequest, Sampling

SCHEMA_BY_NAME = {cls.__name__: cls for cls in SCHEMAS.values()}


class FakeOpenAI:
    def __init__(self, engine, *, timeout_sleep: float = 2.0, serve_delay: float = 0.0,
                 models: set[str] | None = None):
        self.engine = engine
        self.models = models
        self.script: list[str] = []
        self.requests: list[dict] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.timeout_sleep = timeout_sleep
        self.serve_delay = serve_delay
        self._lock = threading.Lock()
        self._engine_lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> "FakeOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _next_action(self, body: dict) -> str:
        with self._lock:
            self.requests.append(body)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            return self.script.pop(0) if self.script else "serve"

    def _completion(self, body: dict) -> dict:
        fmt = body.get("response_format") or {}
        schema = None
        if fmt.get("type") == "json_schema":
            schema = SCHEMA_BY_NAME.get(fmt["json_schema"]["name"])
        sampling = Sampling(temperature=body.get("temperature", 0.8) or 0.0,
                            max_new_tokens=body.get("max_tokens") or body.get("max_completion_tokens") or 256)
        request = ChatRequest(messages=[{"role": m["role"], "content": m["content"]} for m in body["messages"]])
        with self._engine_lock:
            gen = self.engine.generate([request], schema=schema, sampling=sampling)[0]
        time.sleep(self.serve_delay)
        return self._wrap(gen.text, gen.prompt_tokens, gen.completion_tokens,
                          "length" if gen.finish_reason == "length" else "stop")

    @staticmethod
    def _wrap(content: str, prompt_tokens: int, completion_tokens: int, finish: str = "stop") -> dict:
        return {
            "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": "tiny",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to answer

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                action = fake._next_action(body)
                try:
                    if fake.models is not None and body.get("model") not in fake.models:
                        self._send(404, {"error": {
                            "message": f"The model `{body.get('model')}` does not exist or you do not have access to it.",
                            "type": "invalid_request_error", "param": None, "code": "model_not_found"}})
                    elif action in ("429", "500", "400", "503"):
                        error = {"error": {"message": f"scripted {action}", "type": "test", "code": action}}
                        self._send(int(action), error, {"Retry-After": "0"} if action == "429" else None)
                    elif action == "timeout":
                        time.sleep(fake.timeout_sleep)
                        self._send(200, fake._wrap('{"text": "late"}', 1, 1))
                    elif action == "canned":
                        self._send(200, fake._wrap('{"text": "where is my refund", "label": "refund"}', 9, 12))
                    elif action == "malformed":
                        self._send(200, fake._wrap('{"text": "unterminated', 5, 3))
                    else:
                        self._send(200, fake._completion(body))
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

        return Handler
