"""Distillation on a tiny chat model: the student learns the schema, the artifact is a self-contained engine spec."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

import synthwright
from synthwright.cli.app import app
from synthwright.core.errors import ConfigError
from synthwright.engines import ChatRequest, Sampling, load_engine
from synthwright.finetune import (
    DistillConfig,
    distill,
    load_distill_config,
    schema_valid_rate,
)
from synthwright.finetune.data import read_teacher_run
from synthwright.tasks import GeneratedText

from .distill_helpers import (  # noqa: F401 (fixtures)
    STUDENT_CONFIG,
    distill_base,
    one_thread,
    student,
    teacher_recipe,
    teacher_run,
)

ROOT = Path(__file__).parent.parent


def prompts(run_dir: Path, n: int = 32) -> list[ChatRequest]:
    """The teacher's prompts, with new seeds: held-out and training slots alike."""
    examples = read_teacher_run(run_dir).examples[:n]
    return [ChatRequest(messages=e.messages, seed=10_000 + i) for i, e in enumerate(examples)]


def test_student_writes_schema_valid_json_without_constraints(teacher_run, distill_base, student):
    requests = prompts(teacher_run)
    sampling = Sampling(temperature=0.7, top_p=1.0, max_new_tokens=48, seed=0)
    with one_thread():
        base = schema_valid_rate(load_engine(str(distill_base), dtype="float32"), requests, GeneratedText, sampling)
        taught = schema_valid_rate(load_engine(str(student.out_dir), dtype="float32"), requests, GeneratedText, sampling)
    assert base.rate <= 0.1, [g.text for g in base.generations[:3]]
    assert taught.rate >= 0.5 and taught.rate >= base.rate + 0.4, [g.text for g in taught.generations[:5]]


def test_validation_loss_falls_and_early_stopping_keeps_the_best(student):
    m = student.metrics
    history = [h["val_loss"] for h in m["val_loss_history"]]
    assert history[0] == m["initial_val_loss"]  # evaluated before the first step
    assert m["best_val_loss"] < 0.5 * m["initial_val_loss"]
    assert min(history) <= m["best_val_loss"] <= min(history) + STUDENT_CONFIG["min_delta"]  # better = lower by min_delta
    assert m["stopped_early"] and m["steps"] < m["planned_steps"] == 200
    assert m["train_examples"] + m["val_examples"] == student.manifest["samples"]["accepted"]
    assert m["val_examples"] >= 3  # held out per category


def test_base_weights_unchanged_and_adapter_moved(student, distill_base):
    base = load_file(str(distill_base / "model.safetensors"))
    adapter = load_file(str(student.out_dir / "adapter_model.safetensors"))
    assert adapter and all("lora_A" in k or "lora_B" in k for k in adapter)  # only the adapter was saved
    lora_b = [v for k, v in adapter.items() if "lora_B" in k]
    assert lora_b and all(v.abs().max() > 0 for v in lora_b)  # B starts at zero: every B moved
    merged = load_file(str(student.merged_dir / "model.safetensors"))
    targets = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    for name, weight in base.items():
        if any(t in name for t in targets):
            assert not merged[name].equal(weight), f"{name} did not move"
        else:
            assert merged[name].equal(weight), f"{name} changed but has no adapter"  # embeddings, norms


def test_artifact_describes_itself(student, teacher_run, distill_base):
    out = student.out_dir
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "chat_template.jinja",
                 "distill_config.json", "metrics.json", "student.json", "README.md", "merged/config.json",
                 "merged/model.safetensors", "merged/tokenizer.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == str(distill_base)
    config = json.loads((out / "distill_config.json").read_text())
    assert config["rank"] == 16 and config["target_modules"][0] == "q_proj" and config["qlora"] == "off"
    manifest = json.loads((out / "student.json").read_text())
    assert manifest["teacher"]["run"] == str(teacher_run.resolve()) and manifest["teacher"]["recipe"] == "tiny-intents"
    assert manifest["schema"]["properties"]["text"]["maxLength"] == 600
    card = (out / "README.md").read_text()
    accepted = manifest["samples"]["accepted"]
    for fact in (str(teacher_run.resolve()), "tiny-intents", f"accepted samples: {accepted}", str(distill_base),
                 "--teacher STUDENT_DIR"):
        assert fact in card, fact


def test_artifact_reloads_and_generates_in_a_fresh_process(student):
    code = (
        "import json, sys\n"
        "from synthwright.engines import load_engine, ChatRequest, Sampling\n"
        "from synthwright.tasks import GeneratedText\n"
        f"e = load_engine({str(student.out_dir)!r}, dtype='float32')\n"
        "req = ChatRequest.user('Messages that bank customers send. Write one about fees.', system='Reply with JSON.')\n"
        "g = e.generate([req], schema=GeneratedText, sampling=Sampling(max_new_tokens=40, seed=1))[0]\n"
        "print(json.dumps({'text': g.text, 'ok': g.parsed is not None, 'model': e.describe()['model']}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["text"].startswith("{") and result["model"].endswith(f"+{student.out_dir}")


def test_merged_model_matches_the_adapter_greedily(student, teacher_run):
    requests = prompts(teacher_run, 8)
    greedy = Sampling(temperature=0.0, max_new_tokens=24)
    with one_thread():
        adapter = load_engine(str(student.out_dir), dtype="float32").generate(requests, sampling=greedy)
        merged = load_engine(str(student.merged_dir), dtype="float32").generate(requests, sampling=greedy)
    assert [g.text for g in merged] == [g.text for g in adapter]
    assert any(g.text.startswith('{"text": ') for g in adapter)


def test_student_runs_as_the_pipeline_teacher(student, distill_base, tmp_path):
    recipe = teacher_recipe(distill_base, count={"per_category": 4})
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    with one_thread():
        result = CliRunner().invoke(app, ["run", str(path), "--teacher", str(student.out_dir), "--out",
                                          str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["accepted"] == 12
    rows = [json.loads(line) for line in (tmp_path / "run" / "data" / "train.jsonl").read_text().splitlines()]
    assert rows and all(r["teacher"] == str(student.out_dir) for r in rows)


# configuration -------------------------------------------------------------------------------------

def test_config_precedence_defaults_yaml_flags(tmp_path):
    path = tmp_path / "distill.yaml"
    path.write_text("rank: 8\nlearning_rate: 0.001\ntarget_modules: [q_proj, v_proj]\n")
    cfg = load_distill_config(path, learning_rate=0.002, alpha=None)
    assert (cfg.rank, cfg.learning_rate, cfg.alpha, cfg.target_modules) == (8, 0.002, 32.0, ["q_proj", "v_proj"])
    path.write_text("rank: 8\nrnak: 4\n")
    with pytest.raises(ConfigError, match="'rnak'.*unknown field"):
        load_distill_config(path)
    with pytest.raises(ConfigError, match="'rank'"):
        load_distill_config(None, rank=0)


def test_target_modules_table():
    from synthwright.finetune.config import target_modules_for

    assert target_modules_for("llama", "auto")[-1] == "down_proj"
    assert target_modules_for("qwen2", "auto") == target_modules_for("mistral", "auto")
    assert target_modules_for("gpt2", "auto") == ["c_attn", "c_proj", "c_fc"]
    assert target_modules_for("some-new-arch", "auto") == "all-linear"
    assert target_modules_for("llama", ["q_proj"]) == ["q_proj"]


# errors ------------------------------------------------------------------------------------------------

def invoke(*args: str):
    return CliRunner().invoke(app, ["distill", *args])


def test_missing_run_is_one_sentence(tmp_path):
    result = invoke(str(tmp_path / "nope"), "--out", str(tmp_path / "s"))
    assert result.exit_code == 2 and "does not exist" in result.output and "Traceback" not in result.output
    (tmp_path / "empty-folder").mkdir()
    result = invoke(str(tmp_path / "empty-folder"))
    assert result.exit_code == 2 and "has no run.sqlite" in result.output


def test_run_with_no_accepted_samples(distill_base, tmp_path):
    recipe = teacher_recipe(distill_base, count={"per_category": 1}, filters={"min_chars": 5000, "max_chars": 6000},
                            budget={"max_rounds": 1})
    with one_thread():
        synthwright.run(recipe, out=tmp_path / "run")
    result = invoke(str(tmp_path / "run"), "--student", str(distill_base), "--out", str(tmp_path / "s"))
    assert result.exit_code == 2 and "no accepted samples" in result.output, result.output
    assert not (tmp_path / "s").exists()


def test_base_whose_vocabulary_does_not_fit(teacher_run, distill_base, tmp_path):
    """Incompatible: the tokenizer has more ids than the weights have embedding rows."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(distill_base)
    small = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1, pad_token_id=0,
                                         bos_token_id=1, eos_token_id=2))
    small.save_pretrained(tmp_path / "mismatched")
    tok.save_pretrained(tmp_path / "mismatched")
    result = invoke(str(teacher_run), "--student", str(tmp_path / "mismatched"), "--out", str(tmp_path / "s"))
    assert result.exit_code == 2, result.output
    assert "incompatible" in result.output and f"{len(tok)} tokens" in result.output and "64 embedding rows" in result.output


def test_base_that_cannot_write_the_teachers_characters(teacher_run, tmp_path):
    """Incompatible: a word-level tokenizer maps the teacher's JSON punctuation to <unk>."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from synthwright.testing.tiny_model import CHATML

    words = ["<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "system", "user", "assistant", "card", "fee"]
    wordlevel = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    wordlevel.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=wordlevel, unk_token="<unk>", eos_token="<|im_end|>",
                                  pad_token="<|endoftext|>", chat_template=CHATML)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(words), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                         eos_token_id=3, pad_token_id=1))
    model.save_pretrained(tmp_path / "wordlevel")
    tok.save_pretrained(tmp_path / "wordlevel")
    result = invoke(str(teacher_run), "--student", str(tmp_path / "wordlevel"), "--out", str(tmp_path / "s"))
    assert result.exit_code == 2 and "cannot reproduce" in result.output, result.output


def test_qlora_forced_without_cuda(teacher_run, distill_base, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = invoke(str(teacher_run), "--student", str(distill_base), "--qlora", "--out", str(tmp_path / "s"))
    assert result.exit_code == 3 and "--qlora needs a CUDA GPU" in result.output


def test_existing_output_is_not_overwritten(teacher_run, distill_base, student, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = invoke(str(teacher_run), "--student", str(distill_base), "--out", str(tmp_path / "mine"))
    assert result.exit_code == 2 and "is not a student" in result.output
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    with pytest.raises(ConfigError, match="already holds a student"):
        distill(teacher_run, str(distill_base), student.out_dir, DistillConfig(max_steps=1))
    with pytest.raises(ConfigError, match="itself a LoRA adapter"):
        distill(teacher_run, str(student.out_dir), tmp_path / "s2", DistillConfig(max_steps=1))


def test_a_redacted_run_does_not_teach_its_student_the_pii(tiny_model_dir, tmp_path, monkeypatch):
    from .scripted import ScriptedEngine, recipe_dict

    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    canary = "canary.q7x3@example.org"
    texts = {"lost_card": [f"I lost my debit card on the bus this morning, write to {canary} please",
                           "Somebody took my wallet with the bank card inside while I was shopping",
                           "My card fell out of my pocket at the station and I need it blocked now"],
             "refund": [f"The refund for my returned shoes never came, you can answer at {canary}",
                        "I sent the broken kettle back a month ago and still have no money back",
                        "Why has the refund for my cancelled hotel booking not reached my account"]}
    recipe = recipe_dict(filters={"pii": {"mode": "redact"}, "label_noise": {"mode": "off"}})
    out = tmp_path / "run"
    result = synthwright.run(recipe, out=out, engine=ScriptedEngine(texts))
    rows = [r for name in result.dataset for r in result.dataset[name]]
    assert len(rows) == 6 and sum("[EMAIL]" in r["text"] for r in rows) == 2
    assert canary in (out / "run.sqlite").read_bytes().decode("utf-8", "replace")  # the raw call is kept, as it was

    examples = read_teacher_run(out).examples
    assert len(examples) == 6 and not any(canary in e.target or canary in json.dumps(e.messages) for e in examples)
    by_text = {json.loads(e.target)["text"]: e for e in examples}
    assert set(by_text) == {r["text"] for r in rows}  # the student learns exactly the dataset's texts
    assert all(GeneratedText.model_validate_json(e.target) for e in examples)

    done = distill(out, str(tiny_model_dir), tmp_path / "student", DistillConfig(max_steps=1, val_fraction=0.2))
    for path in done.out_dir.rglob("*"):
        if path.is_file():
            assert canary.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("kind", ["classification", "qa", "dialogue"])
def test_a_stored_sample_serialises_back_to_its_schema(kind):
    from synthwright.finetune.data import schema_json
    from synthwright.recipe.load import load_recipe
    from synthwright.tasks import task_for

    from .scripted import recipe_dict

    recipe = load_recipe(recipe_dict(task=kind, turns={"min": 2, "max": 4}))
    task = task_for(kind)
    schema = task.schema(recipe)
    parsed = schema.model_validate({"classification": {"text": "My card is gone"},
                                    "qa": {"question": "How long is the warranty?", "answer": "Two years."},
                                    "dialogue": {"exchanges": [{"user": "Hi", "assistant": "Hello!"},
                                                               {"user": "Card lost", "assistant": "Blocked it."}]}}[kind])
    slot = {"category": "lost_card", "context": "ctx"}
    target = schema_json(task, task.record(parsed, slot))
    assert schema.model_validate_json(target) == parsed and target == json.dumps(parsed.model_dump(), ensure_ascii=False)
