"""`view --serve`: a live dashboard of a run, read from its store while the run writes (or after it ended).

A local HTTP server (127.0.0.1 by default) with one page and three read-only endpoints: `/api/state`
(progress per label and slot, the funnel, tokens/s and ETA, tokens and cost, the quality loop's steps,
plots), `/api/samples` (the latest samples and rejections, filtered by status, label and text) and
`/plots/NAME.png` (the run's own plots, nothing else). Every other path is 404 and every other method 405.
The store is opened read-only for each request, so a run that writes is never slowed by a lock.
"""

from __future__ import annotations

import html
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from synthwright.core.errors import ConfigError
from synthwright.core.store import RunStore
from synthwright.publish.view import embed_json
from synthwright.rundir.lock import writer_of
from synthwright.rundir.reader import open_run
from synthwright.rundir.usage import usage

RATE_WINDOW = 60.0  # the last seconds of stored batches behind samples/s, tokens/s and the ETA


class Dashboard:
    """What the server reads; one per served run."""

    def __init__(self, run_dir: str | Path):
        self.run = open_run(run_dir)
        self.path = self.run.path

    def _store(self) -> RunStore:
        return RunStore.reader(self.path / "run.sqlite")

    def state(self) -> dict[str, Any]:
        store = self._store()
        try:
            slots = store.slots()
            accepted = store.accepted_per_slot()
            fates = store.fate_counts()
            spent = usage(store, self.run.recipe.budget)
            steps = store.loop_steps()
            rounds = store.rounds_done()
            planned = store.get("plan") is not None
            now = time.time()
            recent = store.activity_since(now - RATE_WINDOW)
        finally:
            store.close()
        labels: dict[str, dict[str, int]] = {}
        for s in slots:
            row = labels.setdefault(s["category"], {"target": 0, "accepted": 0, "slots": 0, "slots_done": 0})
            got = min(accepted.get(s["slot_id"], 0), s["quota"])
            row["target"] += s["quota"]
            row["accepted"] += got
            row["slots"] += 1
            row["slots_done"] += int(got >= s["quota"])
        target = sum(r["target"] for r in labels.values())
        done = sum(r["accepted"] for r in labels.values())
        span = now - recent["first"] if recent["first"] else 0.0  # since the first batch of the window was stored
        rate = round(recent["accepted"] / span, 3) if span >= 1.0 else None
        tokens_per_s = round(recent["completion_tokens"] / span, 1) if span >= 1.0 else None
        writer = writer_of(self.path)
        return {
            "name": self.run.name, "task": self.run.kind, "running": writer is not None,
            "writer": {k: writer.get(k) for k in ("pid", "host", "since")} if writer else None,
            "phase": "generating" if planned else "planning", "rounds": rounds, "updated": now,
            "target": target, "accepted": done, "generated": sum(fates.values()),
            "funnel": dict(sorted(fates.items(), key=lambda kv: -kv[1])),
            "labels": labels, "slots": {"total": len(slots), "done": sum(r["slots_done"] for r in labels.values())},
            "samples_per_s": rate, "tokens_per_s": tokens_per_s,
            "eta_s": (target - done) / rate if rate and target > done else None,
            "usage": spent,
            "loop": [{"step": s.step, "score": s.signal.get("score"), "action": s.decision.action,
                      "why": s.decision.stop_reason} for s in steps],
            "plots": sorted(p.name for p in (self.path / "plots").glob("*.png")) if (self.path / "plots").is_dir() else [],
        }

    def samples(self, status: str | None, label: str | None, query: str | None, limit: int) -> list[dict[str, Any]]:
        store = self._store()
        try:
            rows = store.latest_samples(limit, status=status or None, category=label or None, query=query or None)
        finally:
            store.close()
        task = self.run.task
        out = []
        for r in rows:
            data = r["data"]
            text = data.get("raw") if r["filter"] == "parse" else None
            if text is None:
                try:
                    text = task.text_of(data)
                except (KeyError, TypeError):
                    text = json.dumps(data, ensure_ascii=False)
            out.append({"id": r["sample_id"], "label": r["category"], "status": r["status"], "filter": r["filter"],
                        "reason": r["reason"], "text": text[:2000]})
        return out

    def plot(self, name: str) -> bytes | None:
        """A plot of this run by file name; None for anything else (other folders, `..`, other suffixes)."""
        folder = (self.path / "plots").resolve()
        candidate = (folder / name).resolve()
        if candidate.parent != folder or candidate.suffix != ".png" or not candidate.is_file():
            return None
        return candidate.read_bytes()

    def page(self) -> str:
        template = resources.files("synthwright.publish").joinpath("dashboard.html").read_text(encoding="utf-8")
        return (template.replace("{{TITLE}}", html.escape(f"{self.run.name} · live"))
                        .replace("{{STATE}}", embed_json(self.state())))


def make_server(run_dir: str | Path, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """The dashboard's server, bound but not yet serving (`serve_forever()`); port 0 picks a free one."""
    board = Dashboard(run_dir)

    class Handler(BaseHTTPRequestHandler):
        server_version = "synthwright-dashboard"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the CLI prints the URL only
            pass

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline' 'self'; img-src 'self'")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, data: Any) -> None:
            self._send(200, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

        def do_GET(self) -> None:  # noqa: N802 (the http.server name)
            url = urlparse(self.path)
            route = unquote(url.path)
            try:
                if route in ("/", "/index.html"):
                    self._send(200, board.page().encode("utf-8"), "text/html; charset=utf-8")
                elif route == "/api/state":
                    self._json(board.state())
                elif route == "/api/samples":
                    q = {k: v[0] for k, v in parse_qs(url.query).items()}
                    limit = max(1, min(int(q["limit"]), 500)) if q.get("limit", "").isdigit() else 50
                    self._json(board.samples(q.get("status"), q.get("label"), q.get("q"), limit))
                elif route.startswith("/plots/") and (png := board.plot(route[len("/plots/"):])) is not None:
                    self._send(200, png, "image/png")
                else:
                    self._send(404, b"not found", "text/plain; charset=utf-8")
            except ConfigError as exc:
                self._send(503, str(exc).encode("utf-8"), "text/plain; charset=utf-8")

        do_HEAD = do_GET

        def _refuse(self) -> None:
            self.send_response(405)
            self.send_header("Allow", "GET, HEAD")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

    return ThreadingHTTPServer((host, port), Handler)


def serve(run_dir: str | Path, host: str = "127.0.0.1", port: int = 8765, on_ready: Any = None) -> None:
    """Serve the dashboard until interrupted; `on_ready(url)` is called once it listens."""
    server = make_server(run_dir, host, port)
    url = f"http://{server.server_address[0]}:{server.server_address[1]}/"
    if on_ready is not None:
        on_ready(url)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
