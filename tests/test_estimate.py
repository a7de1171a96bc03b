"""`plan --estimate`: plan, run the first batch into the run directory, extrapolate; the run then resumes from it."""

import pytest
import yaml
from typer.testing import CliRunner

import synthwright
from synthwright.cli.app import app
from synthwright.make.estimate import expected_first_pass, loop_requests_at_most
from synthwright.recipe.model import Budget

from .recipes import classification_recipe
from .test_pipeline import accepted


@pytest.mark.parametrize("acceptance, budget, want", [
    (1.0, Budget(max_rounds=3), (24, 24)),  # every request accepted: one per sample, one round
    (0.0, Budget(max_rounds=2, overgenerate=1.5, adaptive=False), (8 * 3 + 8 * 5, 0)),  # 3 per slot, then 1.5**1 → 5
    (0.5, Budget(max_rounds=1), (24, 12)),  # one round: one request per sample, half of them kept
])
def test_the_first_pass_is_asked_as_the_rounds_ask_it(acceptance, budget, want):
    assert expected_first_pass([3] * 8, acceptance, budget) == want


def test_more_rounds_make_up_for_a_low_acceptance():
    requests, got = expected_first_pass([10] * 4, 0.25, Budget(max_rounds=3, overgenerate=1.2))
    assert 40 < requests and 30 <= got <= 40


def test_the_loop_counts_only_where_the_recipe_runs_it(tiny_model_dir):
    on = synthwright.load_recipe(classification_recipe(tiny_model_dir, quality={"enabled": True, "max_steps": 2,
                                                                               "extra_fraction": 0.25}))
    assert loop_requests_at_most(on, 24, 0.5) == 2 * 12
    assert loop_requests_at_most(synthwright.load_recipe(classification_recipe(tiny_model_dir)), 24, 0.5) == 0


def test_plan_estimate_samples_one_batch_and_the_run_resumes_from_it(tiny_model_dir, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(classification_recipe(tiny_model_dir)), encoding="utf-8")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["plan", str(recipe), "--out", str(out), "--estimate"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "sample: 8 requests" in text and "of 24 samples expected" in text and "tokens" in text, text
    assert (out / "plan.json").is_file()
    sampled = accepted(out)
    assert 0 < len(sampled) <= 8
    done = synthwright.run(str(recipe), out=out)
    assert done.stats["accepted"] == 24
    assert {s["sample_id"] for s in sampled} <= {s["sample_id"] for s in accepted(out)}  # nothing generated twice


def test_an_estimate_of_a_finished_run_says_how_to_start_again(tiny_model_dir, tmp_path):
    recipe = classification_recipe(tiny_model_dir)
    synthwright.run(recipe, out=tmp_path / "run")
    result = CliRunner().invoke(app, ["plan", "-", "--out", str(tmp_path / "run"), "--estimate"])
    assert result.exit_code != 0
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    result = CliRunner().invoke(app, ["plan", str(path), "--out", str(tmp_path / "run"), "--estimate"])
    assert result.exit_code != 0 and "--restart" in result.output and "Traceback" not in result.output
