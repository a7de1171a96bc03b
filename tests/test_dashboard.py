"""`view --serve`: the live dashboard, read from the store while a real tiny-model run writes, in headless
Chromium (installed by .ci/run), and its server's limits: read-only, the run's own plots only."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from synthwright.publish.dashboard import make_server

from .publish_helpers import RECIPE, tiny_run
from .test_view import chromium, needs_chromium

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def served():
    """Start the dashboard for a run directory on a free port; stop it afterwards."""
    servers = []

    def start(run_dir: Path) -> str:
        server = make_server(run_dir, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def get(url: str, method: str = "GET") -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture(scope="module")
def finished(tiny_model_dir, tmp_path_factory):
    return tiny_run(tiny_model_dir, tmp_path_factory.mktemp("dash"))


def test_a_finished_run_and_the_servers_limits(finished, served):
    url = served(finished)
    assert url.startswith("http://127.0.0.1:")
    stats = json.loads((finished / "stats.json").read_text())
    code, body = get(url + "api/state")
    state = json.loads(body)
    assert code == 200 and state["accepted"] == stats["accepted"] and state["running"] is False
    assert sum(state["funnel"].values()) == state["generated"] and state["plots"]
    code, body = get(url + "api/samples?status=rejected&limit=5")
    rejected = json.loads(body)
    assert code == 200 and 0 < len(rejected) <= 5 and all(s["status"] == "rejected" and s["filter"] for s in rejected)
    word = next(w for s in json.loads(get(url + "api/samples?status=accepted")[1]) for w in s["text"].split() if len(w) > 3)
    found = json.loads(get(url + "api/samples?q=" + urllib.request.quote(word))[1])
    assert found and all(word.lower() in (s["text"] + (s["reason"] or "")).lower() for s in found)
    assert get(url + "plots/" + state["plots"][0])[1][:8] == b"\x89PNG\r\n\x1a\n"
    for path in ("plots/../run.sqlite", "plots/%2e%2e/run.sqlite", "plots/..%2frecipe.yaml", "../recipe.yaml",
                 "run.sqlite", "recipe.yaml", "plots/../../etc/passwd", "plots/%2fetc%2fpasswd", "stats.json"):
        assert get(url + path)[0] == 404, path
    for method in ("POST", "PUT", "DELETE"):
        assert get(url + "api/state", method)[0] == 405


@needs_chromium
def test_the_page_moves_while_a_real_run_writes(tiny_model_dir, tmp_path, served):
    recipe = {**RECIPE, "name": "live", "count": {"per_category": 40}, "budget": {"max_rounds": 1, "overgenerate": 1.0},
              "teacher": {"model": str(tiny_model_dir), "options": {"dtype": "float32", "batch_size": 4}}}
    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "synthwright.cli.app", "run", str(path), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                            env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (out / "run.sqlite").is_file():
            time.sleep(0.2)
        url = served(out)

        def generated() -> int:
            dom = chromium("--virtual-time-budget=1500", "--dump-dom", url, tmp_path=tmp_path)
            assert dom.returncode == 0, dom.stderr[-2000:]
            assert "running" in dom.stdout and "live (classification)" in dom.stdout
            return int(re.search(r'id="generated" data-value="(\d+)"', dom.stdout).group(1))

        first = generated()
        while time.time() < deadline and proc.poll() is None and generated() == first:
            time.sleep(1.0)
        later = generated()
        assert later > first, "the page's numbers did not move while the run wrote"
        shot = tmp_path / "dashboard.png"
        result = chromium(f"--screenshot={shot}", "--window-size=1280,1000", "--virtual-time-budget=1500", url,
                          tmp_path=tmp_path)
        assert result.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    finally:
        proc.kill()
        proc.wait()
