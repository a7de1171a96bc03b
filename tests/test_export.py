"""`synthwright export`: a real tiny-model run → a Hub dataset folder that `datasets.load_dataset` reads back,
with a card whose front matter passes huggingface_hub's and datasets' own card readers."""

import json
import os

import pytest
import yaml
from typer.testing import CliRunner

from synthwright.cli.app import app

from .publish_helpers import (
    add_report,
    add_verdicts_and_hostile_text,
    copy_run,
    tiny_run,
)

runner = CliRunner()


@pytest.fixture(scope="session")
def run_dir(tiny_model_dir, tmp_path_factory):
    return tiny_run(tiny_model_dir, tmp_path_factory.mktemp("publish"))


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
    dest = tmp_path_factory.mktemp("export") / "tiny-intents-hub"
    result = runner.invoke(app, ["export", str(run_dir), "--to", str(dest)])
    assert result.exit_code == 0, result.output
    return dest


def said(result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def snapshot(folder):
    """Files and their bytes, except the SQLite journal files that merely opening the store touches."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith("run.sqlite")}


def test_round_trip_through_load_dataset(run_dir, exported, tmp_path):
    from datasets import ClassLabel, load_dataset, load_from_disk

    original = load_from_disk(str(run_dir / "dataset"))
    loaded = load_dataset(str(exported), cache_dir=str(tmp_path / "cache"))
    assert list(loaded) == ["train", "validation", "test"] == list(original)
    names = ["lost_card", "refund"]
    for split in loaded:
        ds, orig = loaded[split], original[split]
        assert len(ds) == len(orig) > 0
        assert ds.features["label"] == ClassLabel(names=names)
        assert {k: v for k, v in ds.features.items() if k != "label"} == {k: v for k, v in orig.features.items() if k != "label"}
        assert ds["sample_id"] == orig["sample_id"] and ds["text"] == orig["text"]
        assert [names[i] for i in ds["label"]] == orig["label"]
    shards = sorted(p.relative_to(exported).as_posix() for p in (exported / "data").iterdir())
    assert shards == ["data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet",
                      "data/validation-00000-of-00001.parquet"]


def test_card_front_matter_follows_hub_conventions(exported):
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard, DatasetCardData

    from synthwright.publish import check_card

    text = (exported / "README.md").read_text(encoding="utf-8")
    card = DatasetCard.load(exported / "README.md", repo_type="dataset")
    assert isinstance(card.data, DatasetCardData)
    data = card.data
    assert data.license == "other" and data["license_name"] == "unspecified" and data["license_link"] == "LICENSE"
    assert data.language == ["en"]
    assert data.task_categories == ["text-classification"]
    assert data.size_categories == ["n<1K"]
    assert {"synthetic", "synthwright"} <= set(data.tags)
    assert data.pretty_name == "tiny-intents"
    assert data["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "data/train-*"}, {"split": "validation", "path": "data/validation-*"},
        {"split": "test", "path": "data/test-*"}]}]
    configs = MetadataConfigs.from_dataset_card_data(data)
    assert configs.get_default_config_name() == "default"
    info = DatasetInfosDict.from_dataset_card_data(data)["default"]
    assert [s.name for s in info.splits.values()] == ["train", "validation", "test"]
    assert check_card(text) == []
    assert check_card(text.replace("license: other", "license: free-for-all")) == ["license 'free-for-all' is not a Hub license id"]


def test_card_body_tells_how_the_data_was_made(exported, run_dir):
    body = (exported / "README.md").read_text(encoding="utf-8").split("\n---\n", 1)[1]
    for heading in ("# tiny-intents", "## Dataset structure", "## How it was made", "### Recipe",
                    "### Teacher model and sampling", "### Plan: the diversity axes", "### Filters and judge",
                    "## Acceptance funnel", "## Quality report", "## Train on synthetic, test on real",
                    "## Intended use and limitations", "## How to reproduce it", "synthwright run recipe.yaml"):
        assert heading in body, heading
    stats = json.loads((run_dir / "stats.json").read_text())
    assert f"| rejected: parse | {stats['funnel']['parse']} |" in body
    assert "a student; a retiree" in body and "max_new_tokens | 48" in body
    assert "Not measured for this release" in body  # no eval.json in this run
    assert "No LLM judge verdicts are stored" in body
    frozen = yaml.safe_load((exported / "recipe.yaml").read_text())
    assert frozen == yaml.safe_load((run_dir / "recipe.yaml").read_text())
    assert "no license has been chosen" in (exported / "LICENSE").read_text().lower()


def test_report_plots_and_eval_are_included_when_present(run_dir, tmp_path):
    from synthwright.publish import check_card, export_dataset

    run = copy_run(run_dir, tmp_path / "run")
    add_report(run)
    result = export_dataset(run, tmp_path / "hub", license="cc-by-4.0")
    out = result.path
    assert {"plots/label_balance.png", "plots/length_hist.png", "report.md", "eval.json"} <= set(result.files)
    assert (out / "plots" / "label_balance.png").read_bytes() == (run / "plots" / "label_balance.png").read_bytes()
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "#### Balance" in card  # the report's headings sit under the card's own
    assert "![label balance](plots/label_balance.png)" in card
    assert "](plots/length_hist.png)" in card  # a plot the report does not mention is shown too
    assert "| metrics.macro_f1 | 0.7931 |" in card
    assert "license: cc-by-4.0" in card and not (out / "LICENSE").exists()
    assert check_card(card) == []


def test_export_leaves_the_run_alone_and_replaces_only_a_previous_export(run_dir, tmp_path):
    before = snapshot(run_dir)
    dest = tmp_path / "hub"
    for license in ("other", "mit"):
        result = runner.invoke(app, ["export", str(run_dir), "--to", str(dest), "--license", license])
        assert result.exit_code == 0, result.output
    assert "license: mit" in (dest / "README.md").read_text() and not (dest / "LICENSE").exists()
    assert snapshot(run_dir) == before
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "todo.txt").write_text("mine")
    refused = runner.invoke(app, ["export", str(run_dir), "--to", str(foreign)])
    assert refused.exit_code == 2 and "holds no synthwright export" in said(refused)
    assert (foreign / "todo.txt").read_text() == "mine"


def test_secrets_in_the_recipe_are_redacted(run_dir, tmp_path):
    from synthwright.publish import export_dataset

    run = copy_run(run_dir, tmp_path / "run")
    from synthwright.core.store import RunStore

    store = RunStore(run / "run.sqlite")  # the run froze a recipe whose teacher has a key
    recipe = store.get("recipe")
    recipe["teacher"]["options"]["api_key"] = "sk-very-secret-123"
    store.put("recipe", recipe)
    store.close()
    (run / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    out = export_dataset(run, tmp_path / "hub").path
    for path in out.rglob("*"):
        if path.is_file():
            assert b"sk-very-secret-123" not in path.read_bytes(), path
    assert yaml.safe_load((out / "recipe.yaml").read_text())["teacher"]["options"]["api_key"] == "<redacted>"


@pytest.mark.parametrize("args, message", [
    (["--license", "free-for-all"], "is not a Hugging Face Hub license id"),
    (["--to", os.devnull], "is a file"),
])
def test_bad_input_is_one_sentence_and_exit_2(run_dir, tmp_path, args, message):
    argv = ["export", str(run_dir), "--to", str(tmp_path / "out"), *args]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert message in said(result) and "Traceback" not in result.output


def test_not_a_run_directory(tmp_path):
    result = runner.invoke(app, ["export", str(tmp_path), "--to", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "is not a synthwright run directory" in said(result) and "Traceback" not in result.output


def test_a_small_run_with_empty_splits_exports_and_views(tiny_model_dir, tmp_path):
    # The README's quick look (--limit 6 on a 0.8/0.1/0.1 split) leaves validation and test empty;
    # datasets writes an empty split with no data file and then cannot read the folder back.
    from datasets import DatasetDict, load_from_disk

    import synthwright

    from .recipes import classification_recipe

    out = tmp_path / "run"
    recipe = classification_recipe(tiny_model_dir, output={"splits": {"train": 0.8, "validation": 0.1, "test": 0.1}})
    result = synthwright.run(recipe, out=out, limit=3)
    assert {n: len(ds) for n, ds in result.dataset.items()} == {"train": 3, "validation": 0, "test": 0}
    assert len(load_from_disk(str(out / "dataset"))["test"]) == 0  # written so that it reads back
    for args in (["export", str(out), "--to", str(tmp_path / "hub")], ["view", str(out)]):
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.output
    assert "validation" in said(runner.invoke(app, ["export", str(out), "--to", str(tmp_path / "hub")]))
    # A run written before this fix: an empty split folder without any data file.
    DatasetDict({n: ds for n, ds in result.dataset.items()}).save_to_disk(str(tmp_path / "old"))
    import shutil

    shutil.rmtree(out / "dataset")
    shutil.copytree(tmp_path / "old", out / "dataset")
    for args in (["export", str(out), "--to", str(tmp_path / "hub")], ["view", str(out)]):
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.output


def test_card_lists_only_the_judges_scores(run_dir, tmp_path):
    """Verdicts of the real judge: the card's tables hold its 1-5 scores, never its tokens or seconds."""
    run = copy_run(run_dir, tmp_path / "run")
    add_verdicts_and_hostile_text(run)
    result = runner.invoke(app, ["export", str(run), "--to", str(tmp_path / "hub")])
    assert result.exit_code == 0, result.output
    body = (tmp_path / "hub" / "README.md").read_text(encoding="utf-8")
    assert "gave 2 verdicts; 1 passed (50.0%)" in body
    scores = body.split("| score (1-5) | mean | min | max | verdicts |", 1)[1].split("\n\n", 1)[0]
    assert [row.split(" | ")[0].strip("| ") for row in scores.strip().splitlines()[1:]] == ["fit", "naturalness"]
    assert "| fit | 3.00 | 1 | 5 | 2 |" in scores
    for word in ("completion_tokens", "prompt_tokens", "seconds", "min_score"):
        assert word not in scores
