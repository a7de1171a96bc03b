"""`compare`: teacher and student runs side by side, from the stores alone."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import synthwright
from synthwright.cli.app import app
from synthwright.core.errors import ConfigError
from synthwright.evaluators.metrics import distinct_n, self_similarity
from synthwright.finetune import compare_runs

from .distill_helpers import (  # noqa: F401 (fixtures)
    distill_base,
    one_thread,
    student,
    teacher_recipe,
    teacher_run,
)
from .scripted import ScriptedEngine, recipe_dict

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def student_run(student, distill_base, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student-run") / "run"
    with one_thread():
        synthwright.run(teacher_recipe(distill_base, count={"per_category": 8}), teacher=str(student.out_dir), out=out)
    return out


@pytest.fixture
def real(tmp_path) -> Path:
    path = tmp_path / "real.jsonl"
    rows = [("I lost my card", "lost_card"), ("card lost yesterday", "lost_card"), ("I want a refund", "refund"),
            ("money back please", "refund"), ("why this fee", "fees"), ("the charge on my account", "fees")]
    path.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in rows))
    return path


def test_report_side_by_side(teacher_run, student_run, student, real, tmp_path):
    report = compare_runs(teacher_run, student_run, real=real, out=tmp_path / "cmp")
    data = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    t, s = data["teacher"], data["student"]
    for run, path, engine in ((t, teacher_run, None), (s, student_run, str(student.out_dir))):
        assert run["run"] == str(path) and run["recipe"] == "tiny-intents"
        assert 0 < run["acceptance_rate"] <= 1 and run["accepted"] <= run["calls"]
        assert run["acceptance_rate"] == pytest.approx(run["accepted"] / run["calls"])
        assert run["cost"]["tokens_per_second"] > 0 and run["cost"]["seconds_per_1000_accepted"] > 0
        assert run["cost"]["completion_tokens_per_1000_accepted"] == pytest.approx(
            run["cost"]["completion_tokens"] * 1000 / run["accepted"])
        assert 0 < run["diversity"]["distinct_1"] <= 1 and 0 <= run["diversity"]["self_similarity"] <= 1
        assert run["tstr"]["test_samples"] == 6 and 0 <= run["tstr"]["accuracy"] <= 1
        assert set(run["per_category"]) == {"lost_card", "refund", "fees"}
        assert run["judge"] is None
    assert s["engine"] == str(student.out_dir)
    assert t["diversity"]["texts"] == s["diversity"]["texts"] == min(t["accepted"], s["accepted"])
    assert data["plans"]["identical"] is False  # the student planned with its own model
    assert any("plans differ" in n for n in report.notes)
    assert any("no judge section" in n for n in report.notes)
    md = (tmp_path / "cmp" / "compare.md").read_text()
    for text in ("| acceptance rate", "| completion tokens / s", "| TSTR accuracy on real", "## Per category",
                 "![acceptance](acceptance.png)"):
        assert text in md, text
    names = {p.name for p in report.plots}
    assert {"acceptance.png", "per_category.png", "diversity.png", "cost_speed.png", "cost_per_1000.png",
            "tstr.png"} <= names
    assert all(p.read_bytes().startswith(PNG) for p in report.plots)


def judged_run(out: Path, fit: int) -> Path:
    """A real run whose judge (a scripted engine behind the real Judge) gives every sample `fit`."""
    texts = {"lost_card": ["I lost my card at the station", "My wallet with my card was stolen", "My card fell out"],
             "refund": ["The shop never refunded me", "Where is the money for the shoes", "My refund is missing"]}

    def verdict(label, text):
        return {"reason": "Reads like a customer.", "label": label, "naturalness": 4, "fit": fit}

    synthwright.run(recipe_dict(judge={"enabled": True, "min_score": 3},
                                filters={"language": False, "label_fidelity": {"enabled": False},
                                         "label_noise": {"mode": "off"}}),
                    out=out, engine=ScriptedEngine(texts, verdict=verdict))
    return out


def test_same_plan_and_judge_verdicts(tmp_path, monkeypatch):
    """Two runs of one plan, judged for real: compare reads the judge's scores and label agreement."""
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    good, bad = judged_run(tmp_path / "good", fit=5), judged_run(tmp_path / "bad", fit=2)
    report = compare_runs(good, bad, out=tmp_path / "cmp")
    data = report.data
    assert data["plans"]["identical"] and not any("plans differ" in n for n in report.notes)
    assert data["teacher"]["judge"]["pass_rate"] == 1.0 and data["student"]["judge"]["pass_rate"] == 0.0
    assert data["teacher"]["judge"]["score_means"] == {"naturalness": 4.0, "fit": 5.0}
    assert data["student"]["judge"]["score_means"]["fit"] == 2.0
    assert data["teacher"]["judge"]["label_agreement"] == 1.0
    assert (tmp_path / "cmp" / "judge.png").read_bytes().startswith(PNG)
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| judge pass rate | 100.0% | 0.0% |" in md and "| judge fit (mean 1-5) | 5 | 2 |" in md
    assert "| judge label agreement | 100.0% | 100.0% |" in md


def test_compare_tstr_is_eval_tstr(teacher_run, real, tmp_path, monkeypatch):
    """compare and eval read the same rows and train the same classifier: the same numbers."""
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    twin = tmp_path / "twin"
    shutil.copytree(teacher_run, twin)
    report = compare_runs(teacher_run, twin, real=real, out=tmp_path / "cmp")
    ev = synthwright.evaluate_on_real(twin, real)
    for side in ("teacher", "student"):
        t = report.data[side]["tstr"]
        assert (t["accuracy"], t["macro_f1"], t["train_size"]) == (ev["synthetic"]["accuracy"], ev["synthetic"]["macro_f1"],
                                                                   ev["synthetic"]["train_size"])
        assert t["classifier"] == ev["classifier"]


def test_cli_writes_to_student_run_by_default(teacher_run, student_run):
    result = CliRunner().invoke(app, ["compare", str(teacher_run), str(student_run)])
    assert result.exit_code == 0, result.output
    assert "acceptance rate" in result.output and (student_run / "compare" / "compare.md").is_file()


def test_cli_errors(teacher_run, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["compare", str(teacher_run), str(tmp_path / "missing")])
    assert result.exit_code == 2 and "does not exist" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["compare", str(teacher_run), str(teacher_run), "--real", str(tmp_path / "no.jsonl")])
    assert result.exit_code == 2 and "real test set" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hi", "label": "fees"}\n{"text": "no label"}\n')
    with pytest.raises(ConfigError, match="line 2 of the real test set"):
        compare_runs(teacher_run, teacher_run, real=bad, out=tmp_path / "c")


def test_diversity_measures():
    assert distinct_n(["a b c", "a b c"], 1) == 0.5 and distinct_n(["a b c", "d e f"], 2) == 1.0
    assert distinct_n([""], 1) is None
    assert self_similarity(["the same words here", "the same words here"]) == pytest.approx(1.0)
    assert self_similarity(["card lost", "refund money"]) == pytest.approx(0.0)
    assert self_similarity(["one"]) is None
