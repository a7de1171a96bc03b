"""`synthwright distill`'s trainer flags are made from DistillConfig: one flag per field, its description as help,
defaults < --config file < flags, and a bad value is one sentence. No model is trained: the library calls are
replaced by stand-ins that record the config they were given."""

import inspect
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from synthwright.cli.app import app
from synthwright.finetune import (
    DistillConfig,
    DistillResult,
    distill,
    refine_with_dpo,
    train_dpo,
)

# The flags `distill` had before they were made from the config: scripts and tests spell them this way.
OLD_FLAGS = {"--student", "--out", "--config", "--rank", "--alpha", "--target-modules", "--lr", "--epochs", "--max-steps",
             "--batch-size", "--val-fraction", "--eval-steps", "--patience", "--qlora", "--no-qlora", "--device",
             "--dtype", "--seed", "--merge", "--overwrite", "--method", "--rounds", "--pairs", "--beta",
             "--include-parse"}


def command(name: str = "distill"):
    return typer.main.get_command(app).commands[name]


def options() -> dict[str, object]:
    return {p.name: p for p in command().params}


@pytest.fixture
def captured(monkeypatch, tmp_path):
    """Runs `distill` (sft and dpo) up to the library call and records what it was called with."""
    seen: dict[str, object] = {}

    def fake_distill(run_dir, student, out, config, **kwargs):
        seen.update(run_dir=run_dir, student=student, out=out, config=config, **kwargs)
        metrics = {"train_examples": 9, "val_examples": 1, "steps": 2, "stopped_early": False,
                   "initial_val_loss": 2.0, "best_val_loss": 1.0, "best_step": 2, "left_out": {"too_long": 1}}
        return DistillResult(out_dir=tmp_path / "student", metrics=metrics, manifest={})

    def fake_refine(run_dir, student, out, config, **kwargs):
        from synthwright.finetune.dpo_loop import LoopResult

        seen.update(run_dir=run_dir, student=student, out=out, config=config, **kwargs)
        return LoopResult(out_dir=Path(out))

    monkeypatch.setattr("synthwright.finetune.distiller.distill", fake_distill)
    monkeypatch.setattr("synthwright.finetune.dpo_loop.refine_with_dpo", fake_refine)
    return seen


def invoke(*args: str):
    return CliRunner().invoke(app, ["distill", *args])


def test_every_config_field_is_a_flag_with_its_description_as_help():
    opts = options()
    for name, field in DistillConfig.model_fields.items():
        assert name in opts, f"DistillConfig.{name} has no flag"
        opt = opts[name]
        assert f"--{name.replace('_', '-')}" in opt.opts, (name, opt.opts)
        assert opt.help.startswith(field.description), (name, opt.help)
        if field.default is not None and name != "qlora":
            shown = ",".join(field.default) if isinstance(field.default, list) else field.default
            assert opt.show_default and opt.default == shown, (name, opt.default)
    assert opts["learning_rate"].opts[0] == "--lr" and opts["qlora"].secondary_opts == ["--no-qlora"]


def test_the_old_flag_spellings_and_the_other_options_are_kept():
    spelled = {o for p in command().params for o in (*p.opts, *getattr(p, "secondary_opts", []))}
    assert OLD_FLAGS <= spelled, OLD_FLAGS - spelled
    assert [p.name for p in command().params][:4] == ["run_dir", "student", "out", "config"]
    help_text = CliRunner().invoke(app, ["distill", "--help"], env={"COLUMNS": "200"}).output
    for flag in ("--gradient-accumulation-steps", "--min-delta", "--lr-scheduler", "--max-length", "--beta"):
        assert flag in help_text


def test_the_library_functions_take_the_config_object_not_its_fields():
    fields = set(DistillConfig.model_fields)
    for fn in (distill, train_dpo, refine_with_dpo):
        params = inspect.signature(fn).parameters
        assert "config" in params and not fields & set(params), (fn.__name__, fields & set(params))


def test_defaults_then_config_file_then_flags(captured, tmp_path):
    path = tmp_path / "distill.yaml"
    path.write_text("rank: 8\nlearning_rate: 0.001\ndropout: 0.1\nqlora: 'on'\nmax_length: 1024\n")
    result = invoke("RUN", "--config", str(path), "--lr", "0.002", "--target-modules", "q_proj, v_proj",
                    "--no-qlora", "--max-length", "512", "--lr-scheduler", "cosine", "--out", str(tmp_path / "s"))
    assert result.exit_code == 0, result.output
    cfg = captured["config"]
    assert isinstance(cfg, DistillConfig)
    assert (cfg.rank, cfg.dropout) == (8, 0.1)  # from the file
    assert (cfg.learning_rate, cfg.qlora, cfg.max_length, cfg.lr_scheduler) == (0.002, "off", 512, "cosine")  # flags win
    assert cfg.target_modules == ["q_proj", "v_proj"]
    assert (cfg.alpha, cfg.batch_size, cfg.patience) == (32.0, 8, 3)  # defaults
    assert captured["run_dir"] == "RUN" and captured["student"] == "smollm2" and captured["out"] == str(tmp_path / "s")
    assert captured["merge"] is False and captured["overwrite"] is False and captured["progress"] is True
    assert "student written" in result.output and "too_long 1" in result.output


def test_a_flag_equal_to_the_default_still_overrides_the_file(captured, tmp_path):
    path = tmp_path / "distill.yaml"
    path.write_text("rank: 8\ntarget_modules: [q_proj]\nqlora: 'off'\n")
    result = invoke("RUN", "--config", str(path), "--rank", "16", "--target-modules", "auto", "--qlora")
    assert result.exit_code == 0, result.output
    cfg = captured["config"]
    assert (cfg.rank, cfg.target_modules, cfg.qlora) == (16, "auto", "on")


def test_no_flags_no_file_is_the_default_config(captured):
    result = invoke("RUN", "--learning-rate", "0.0005")
    assert result.exit_code == 0, result.output
    assert captured["config"] == DistillConfig()


def test_dpo_gets_the_same_config_and_its_own_options(captured, tmp_path):
    result = invoke("RUN", "--method", "dpo", "--student", "S", "--beta", "0.3", "--max-steps", "2", "--rounds", "2",
                    "--pairs", str(tmp_path / "pairs"), "--include-parse", "--overwrite")
    assert result.exit_code == 0, result.output
    cfg = captured["config"]
    assert (cfg.beta, cfg.max_steps) == (0.3, 2)
    assert captured["out"] == str(Path("RUN") / "student-dpo") and captured["student"] == "S"
    assert (captured["rounds"], captured["pairs"], captured["include_parse"], captured["overwrite"]) == (
        2, str(tmp_path / "pairs"), True, True)


@pytest.mark.parametrize("args, field", [
    (["--rank", "0"], "rank"),
    (["--dtype", "float8"], "dtype"),
    (["--lr-scheduler", "wavy"], "lr_scheduler"),
    (["--target-modules", " , "], "target_modules"),
    (["--val-fraction", "0.95"], "val_fraction"),
])
def test_an_invalid_flag_is_one_sentence(captured, args, field):
    result = invoke("RUN", *args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Distill setting") and f"'{field}'" in lines[0], result.output
    assert "Traceback" not in result.output and "config" not in captured


def test_an_invalid_file_value_is_one_sentence_and_a_flag_can_fix_it(captured, tmp_path):
    path = tmp_path / "distill.yaml"
    path.write_text("rank: 0\n")
    result = invoke("RUN", "--config", str(path))
    assert result.exit_code == 2 and "'rank'" in result.output and len(result.output.strip().splitlines()) == 1
    assert invoke("RUN", "--config", str(path), "--rank", "4").exit_code == 0 and captured["config"].rank == 4


def test_a_value_of_the_wrong_type_is_refused_before_training(captured):
    result = invoke("RUN", "--rank", "many")
    assert result.exit_code == 2 and "--rank" in result.output and "config" not in captured
