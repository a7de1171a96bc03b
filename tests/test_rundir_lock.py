"""One writer per run directory: a second writer is refused in one sentence naming the first; readers go on;
a lock left by a killed process never blocks."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from synthwright.cli.app import app
from synthwright.core.store import RunStore
from synthwright.rundir.lock import LOCK_NAME, RunDirBusy, hold_writer, lock_path

from .recipes import classification_recipe

ROOT = Path(__file__).parent.parent
runner = CliRunner()


def said(result) -> str:
    return " ".join(result.output.split())


def test_second_writer_is_refused_and_a_released_or_stale_lock_never_blocks(tmp_path):
    folder = tmp_path / "run"
    with hold_writer(folder) as first:
        assert json.loads((folder / LOCK_NAME).read_text())["pid"] == os.getpid()
        with pytest.raises(RunDirBusy) as busy:
            hold_writer(folder)
        message = str(busy.value)
        assert f"pid {os.getpid()} on {socket.gethostname()}, since " in message and "pass another --out" in message
        assert busy.value.exit_code == 2 and busy.value.holder["pid"] == os.getpid()
    assert not first.held and not (folder / LOCK_NAME).exists()
    # What a killed writer leaves behind: the file, but no lock (the kernel dropped it with the process).
    (folder / LOCK_NAME).write_text(json.dumps({"pid": 999999, "host": "elsewhere", "since": 0}))
    with hold_writer(folder):
        assert json.loads((folder / LOCK_NAME).read_text())["pid"] == os.getpid()
    beside = lock_path(tmp_path / "export", beside=True)
    with hold_writer(tmp_path / "export", beside=True):
        assert beside.parent == tmp_path and beside.is_file() and not (tmp_path / "export").exists()


def test_a_forked_child_does_not_keep_the_lock_alive(tmp_path):
    folder = tmp_path / "run"
    lock = hold_writer(folder)
    pid = os.fork()
    if pid == 0:  # the child: the lock must not be its to hold
        time.sleep(3)
        os._exit(0)
    try:
        lock.release()
        with hold_writer(folder):  # the child still runs, yet the lock is free
            pass
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


@pytest.mark.parametrize("command", ["export", "distill", "tabular fit", "image fit"])
def test_every_writing_command_is_refused_while_its_folder_is_written(command, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.sqlite").write_bytes(b"")
    target = tmp_path / "target"
    args = {"export": ["export", str(run_dir), "--to", str(target)],
            "distill": ["distill", str(run_dir), "--out", str(target)],
            "tabular fit": ["tabular", "fit", str(tmp_path / "t.csv"), "--out", str(target)],
            "image fit": ["image", "fit", str(tmp_path / "imgs"), "--out", str(target)]}[command]
    (tmp_path / "t.csv").write_text("a,b\n" + "".join(f"{i},{i % 3}\n" for i in range(40)))
    with hold_writer(target, beside=True):
        result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "is being written by another synthwright process" in said(result) and "Traceback" not in result.output
    assert not target.exists()


def accepted_count(db: Path) -> int:
    try:
        with sqlite3.connect(db) as con:
            return con.execute("SELECT COUNT(*) FROM samples WHERE status='accepted'").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_two_processes_one_run_directory(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(yaml.safe_dump(classification_recipe(tiny_model_dir, count={"per_category": 40})))
    out = tmp_path / "run"
    errors = tmp_path / "first.err"
    stderr = errors.open("w")
    first = subprocess.Popen([sys.executable, "-m", "synthwright.cli.app", "run", str(recipe_path), "--out", str(out)],
                             stdout=subprocess.DEVNULL, stderr=stderr,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.time() + 180
        while time.time() < deadline and first.poll() is None and accepted_count(out / "run.sqlite") < 3:
            time.sleep(0.05)
        assert first.poll() is None, f"the first run ended before a second could start: {errors.read_text()[-600:]}"

        for args in (["run", str(recipe_path), "--out", str(out)], ["plan", str(recipe_path), "--out", str(out)],
                     ["run", str(recipe_path), "--out", str(out), "--restart"]):
            second = runner.invoke(app, args)
            assert second.exit_code == 2, second.output
            text = said(second)
            assert f"'{out}' is being written by another synthwright process (pid {first.pid} on" in text, text
            assert "wait for it to finish or stop it" in text and "Traceback" not in second.output
            assert len(second.output.strip().splitlines()) <= 4  # one sentence, wrapped by rich at most
        for args in (["report", str(out), "--embedder", "tfidf"], ["view", str(out)]):  # readers go on
            reader = runner.invoke(app, args)
            assert reader.exit_code == 0, reader.output
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
        stderr.close()
    assert (out / LOCK_NAME).exists()  # what kill -9 leaves behind: a file, no lock
    again = runner.invoke(app, ["plan", str(recipe_path), "--out", str(out)])  # (a full resume: test_pipeline)
    assert again.exit_code == 0, again.output
    assert not (out / LOCK_NAME).exists()
    store = RunStore(out / "run.sqlite")
    quotas = {s["slot_id"]: s["quota"] for s in store.slots()}
    assert all(n <= quotas[slot] for slot, n in store.accepted_per_slot().items())  # nothing over quota
    store.close()
    assert not list(out.glob("previous-*"))  # the refused --restart set nothing aside
