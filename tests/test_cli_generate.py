"""`synthwright generate` through the real CLI, and its one-sentence errors."""

import json
import sys

import pytest
from typer.testing import CliRunner

from synthwright.cli.app import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def test_generate_prints_n_valid_json_lines(tiny_model_dir):
    result = run("generate", "--model", str(tiny_model_dir), "--schema", "classification", "-n", "5",
                 "--prompt", "a bank customer who lost their card", "--max-new-tokens", "3000",
                 "--labels", "lost_card,refund", "-o", "dtype=float32")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.strip().splitlines()]
    assert len(lines) == 5
    assert all(set(x) == {"text", "label"} and x["label"] in {"lost_card", "refund"} for x in lines)


def test_custom_schema_by_import_path(tiny_model_dir, tmp_path, monkeypatch):
    (tmp_path / "my_schemas.py").write_text(
        "from pydantic import BaseModel, Field\n"
        "class Ticket(BaseModel):\n    subject: str = Field(max_length=40)\n    urgent: bool\n"
        "class Loose(BaseModel):\n    body: str\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    ok = run("generate", "--model", str(tiny_model_dir), "--schema", "my_schemas:Ticket", "-n", "2", "-p", "x")
    assert ok.exit_code == 0, ok.output
    assert all(set(json.loads(x)) == {"subject", "urgent"} for x in ok.stdout.strip().splitlines())
    bad = run("generate", "--model", str(tiny_model_dir), "--schema", "my_schemas:Loose", "-n", "1", "-p", "x")
    assert bad.exit_code == 2
    assert "'body' is a string without a maximum length" in bad.output
    sys.modules.pop("my_schemas", None)


@pytest.mark.parametrize("args, message", [
    (["--model", "warp:drive-9"], "Unknown engine spec 'warp:drive-9'"),
    (["--model", "./no/such/model"], "does not exist"),
    (["--model", "no-such-thing"], "Unknown engine spec 'no-such-thing'"),
    (["--schema", "poetry"], "Unknown schema 'poetry'"),
    (["-n", "0"], "-n must be at least 1"),
    (["-o", "batch_size"], "is not key=value"),
])
def test_bad_input_is_one_sentence_and_exit_2(args, message):
    result = run("generate", "--prompt", "x", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) <= 3


def test_four_bit_without_cuda_is_a_hardware_error(tiny_model_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = run("generate", "--model", str(tiny_model_dir), "-p", "x", "-o", "quantization=4bit")
    assert result.exit_code == 3
    assert "needs a CUDA GPU" in result.output and "Traceback" not in result.output


def test_unknown_engine_option_is_named(tiny_model_dir):
    result = run("generate", "--model", str(tiny_model_dir), "-p", "x", "-o", "warp=9")
    assert result.exit_code == 2
    assert "warp" in result.output and "Traceback" not in result.output


def test_full_disk_is_one_sentence(monkeypatch, tmp_path):
    import sqlite3

    import synthwright.make.pipeline

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(synthwright.make.pipeline, "run", full)
    (tmp_path / "r.yaml").write_text("name: x\n")
    result = run("run", str(tmp_path / "r.yaml"))
    assert result.exit_code == 1 and "the disk is full" in result.output and "Traceback" not in result.output
