"""Runs on a local Ray cluster (CPU, 2 actors, the tiny model): same counts, actor death, driver kill."""

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

import synthwright
from synthwright.store import RunStore

from .recipes import classification_recipe

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths have a length limit
    port = free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    subprocess.run(["ray", "start", "--head", f"--port={port}", "--num-cpus=2", "--num-gpus=0",
                    "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats"],
                   check=True, env=env, capture_output=True)
    address = f"127.0.0.1:{port}"
    ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    yield address
    ray.shutdown()
    subprocess.run(["ray", "stop", "--force"], env=env, capture_output=True)
    shutil.rmtree(temp, ignore_errors=True)


def accepted_texts(out: Path) -> dict[int, str]:
    store = RunStore(out / "run.sqlite")
    try:
        return {s["sample_id"]: s["data"]["text"] for s in store.samples("accepted")}
    finally:
        store.close()


def test_two_actors_give_the_same_counts_as_one_process(cluster, tiny_model_dir, tmp_path):
    recipe = classification_recipe(tiny_model_dir, count={"per_category": 6})
    single = synthwright.run(recipe, out=tmp_path / "single")
    on_ray = synthwright.run(recipe, out=tmp_path / "ray", ray={"address": cluster, "actors": 2})
    assert on_ray.stats["per_category"] == single.stats["per_category"]
    assert on_ray.stats["accepted"] == on_ray.stats["target"] == 18
    assert on_ray.stats["splits"] == single.stats["splits"]
    store = RunStore(tmp_path / "ray" / "run.sqlite")
    engines = {s["engine"]["ray"]["actors"] for s in store.samples("accepted")}
    store.close()
    assert engines == {2}


def test_an_actor_killed_mid_batch_has_its_batch_rerun(cluster, tiny_model_dir, tmp_path):
    from synthwright.scale import RayConfig, RayEnginePool

    recipe = classification_recipe(tiny_model_dir, count={"per_category": 16},
                                   teacher={"model": str(tiny_model_dir), "options": {"dtype": "float32", "batch_size": 4}})
    pool = RayEnginePool(str(tiny_model_dir), {"dtype": "float32", "batch_size": 4},
                         RayConfig(address=cluster, actors=2, in_flight_per_actor=2))
    killed = []

    def kill_one(report):
        if not killed:
            ray.kill(pool.actors[0])  # its queued batches are still in flight
            killed.append(True)

    try:
        result = synthwright.run(recipe, out=tmp_path / "run", engine=pool, on_batch=kill_one)
    finally:
        pool.close()
    assert pool.restarts >= 1
    texts = accepted_texts(tmp_path / "run")
    assert result.stats["accepted"] == 48 and len(texts) == 48 and len(set(texts.values())) == 48
    store = RunStore(tmp_path / "run" / "run.sqlite")
    assert store.call_stats()["calls"] == len(store.samples())  # a re-run batch was stored once
    store.close()


def test_resume_after_the_driver_is_killed(cluster, tiny_model_dir, tmp_path):
    recipe_path = tmp_path / "recipe.yaml"
    recipe = classification_recipe(tiny_model_dir, count={"per_category": 40}, budget={"max_rounds": 8})
    recipe_path.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "synthwright.cli", "run", str(recipe_path), "--out", str(out),
                             "--ray", cluster, "--actors", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db, count, deadline = out / "run.sqlite", 0, time.time() + 180
    while time.time() < deadline and proc.poll() is None and count < 16:
        if db.exists():
            try:
                with sqlite3.connect(db) as con:
                    count = con.execute("SELECT COUNT(*) FROM samples WHERE status='accepted'").fetchone()[0]
            except sqlite3.Error:
                pass
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before the driver could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = accepted_texts(out)
    assert 16 <= len(before) < 120
    result = synthwright.run(recipe_path, out=out, ray={"address": cluster, "actors": 2})
    after = accepted_texts(out)
    assert result.stats["accepted"] == 120 and len(set(after.values())) == 120
    assert all(after[i] == text for i, text in before.items())
