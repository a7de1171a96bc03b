"""`synthwright push` against a local server that speaks the Hub API paths huggingface_hub really uses
(repo creation, preupload, LFS batch + upload, commit): what lands in the commit, pushing again, branches,
the one-sentence errors, and that the token is never written or printed anywhere."""

import io
import socket

import pytest
from typer.testing import CliRunner

from synthwright.cli.app import app

from .hub_server import FakeHub
from .publish_helpers import copy_run, tiny_run

TOKEN = "hf_synthwrightTEST0123456789abcdefXYZ"
runner = CliRunner()


@pytest.fixture(scope="session")
def run_dir(tiny_model_dir, tmp_path_factory):
    return tiny_run(tiny_model_dir, tmp_path_factory.mktemp("publish"))


@pytest.fixture
def hub(monkeypatch, tmp_path):
    import huggingface_hub.constants as constants

    # The saved login must not leak in from the machine; the token comes from HF_TOKEN only.
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-saved-token"))
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # the endpoint is local
    # hf_xet would upload LFS files through Xet storage, which this server does not speak; take the LFS path.
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    with FakeHub(TOKEN) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        yield server


def said(result) -> str:
    return " ".join(result.output.split())


def push(*args):
    return runner.invoke(app, ["push", *map(str, args)])


def test_push_creates_the_repo_and_uploads_the_export_in_one_commit(hub, run_dir, tmp_path):
    import pyarrow.parquet as pq
    from huggingface_hub import DatasetCard

    run = copy_run(run_dir, tmp_path / "run")
    result = push(run, "--repo", "alice/tiny-intents", "--private")
    assert result.exit_code == 0, result.output
    assert hub.repos["alice/tiny-intents"]["private"] and hub.repos["alice/tiny-intents"]["type"] == "dataset"
    assert len(hub.commits) == 1
    commit = hub.commits[0]
    assert commit["repo"] == "alice/tiny-intents" and commit["revision"] == "main"
    files = commit["files"]
    required = {"README.md", "recipe.yaml", "plan.json", "stats.json", "LICENSE", "data/train-00000-of-00001.parquet",
                "data/validation-00000-of-00001.parquet", "data/test-00000-of-00001.parquet"}
    assert required <= set(files)
    extra = set(files) - required  # the run's report, which every run now writes
    assert all(f == "report.md" or (f.startswith("plots/") and f.endswith(".png")) for f in extra), extra
    train = pq.read_table(io.BytesIO(files["data/train-00000-of-00001.parquet"]))
    assert train.num_rows > 0 and {"text", "label", "sample_id"} <= set(train.column_names)
    card = DatasetCard(files["README.md"].decode())
    assert "synthwright" in card.data.tags
    assert 'load_dataset("alice/tiny-intents")' in card.text
    # the binary shards went through the LFS batch API and a PUT, the text files inline in the commit
    paths = [(r["method"], r["path"]) for r in hub.requests]
    assert ("POST", "/api/datasets/alice/tiny-intents/preupload/main") in paths
    assert ("POST", "/datasets/alice/tiny-intents.git/info/lfs/objects/batch") in paths
    assert sum(method == "PUT" for method, _ in paths) == sum(f.endswith((".parquet", ".png")) for f in files)  # LFS uploads
    assert all(r["headers"].get("authorization") == f"Bearer {TOKEN}" for r in hub.requests
               if not r["path"].startswith("/lfs-upload/"))
    assert f"pushed {len(files)} files" in said(result) and "/datasets/alice/tiny-intents" in said(result)


def test_pushing_again_updates_in_place_and_removes_stale_shards(hub, run_dir, tmp_path):
    run = copy_run(run_dir, tmp_path / "run")
    assert push(run, "--repo", "alice/tiny-intents").exit_code == 0
    hub.repos["alice/tiny-intents"]["branches"]["main"]["data/old-00000-of-00001.parquet"] = b"stale"
    again = push(run, "--repo", "alice/tiny-intents", "--license", "cc-by-4.0")
    assert again.exit_code == 0, again.output
    assert len(hub.commits) == 2 and len(hub.repos) == 1
    assert hub.commits[1]["deleted"] == ["data/old-00000-of-00001.parquet"]
    main = hub.repos["alice/tiny-intents"]["branches"]["main"]
    assert "license: cc-by-4.0" in main["README.md"].decode()
    assert "data/old-00000-of-00001.parquet" not in main and ".gitattributes" in main
    from synthwright.core.store import RunStore

    store = RunStore(run / "run.sqlite")
    pushes = store.get("pushes")
    store.close()
    assert [p["commit"] for p in pushes] == [c["oid"] for c in hub.commits]


def test_push_to_a_branch_and_push_an_export_folder(hub, run_dir, tmp_path):
    exported = tmp_path / "hub"
    assert runner.invoke(app, ["export", str(run_dir), "--to", str(exported)]).exit_code == 0
    card = exported / "README.md"
    card.write_text(card.read_text().replace("# tiny-intents\n", "# tiny-intents\n\nEdited by hand.\n"))
    result = push(exported, "--repo", "alice/tiny-intents", "--revision", "v2")
    assert result.exit_code == 0, result.output
    assert hub.commits[-1]["revision"] == "v2"
    assert "Edited by hand." in hub.repos["alice/tiny-intents"]["branches"]["v2"]["README.md"].decode()
    assert "README.md" not in hub.repos["alice/tiny-intents"]["branches"]["main"]


def test_token_never_appears_in_files_or_output(hub, run_dir, tmp_path):
    run = copy_run(run_dir, tmp_path / "run")
    exported = tmp_path / "hub"
    outputs = [runner.invoke(app, ["export", str(run), "--to", str(exported)]),
               push(run, "--repo", "alice/tiny-intents"),
               push(exported, "--repo", "alice/tiny-intents"),
               push(run, "--repo", "bob/not-mine"),
               runner.invoke(app, ["view", str(run)])]
    assert [r.exit_code for r in outputs] == [0, 0, 0, 1, 0], [r.output for r in outputs]
    needle = TOKEN.encode()
    scanned = 0
    for folder in (run, exported):
        for path in folder.rglob("*"):
            if path.is_file():
                scanned += 1
                assert needle not in path.read_bytes(), path
    assert scanned > 10
    for r in outputs:
        assert TOKEN not in r.output
    for commit in hub.commits:
        assert all(needle not in data for data in commit["files"].values())


def test_a_token_inside_the_run_files_stops_the_push(hub, run_dir, tmp_path):
    from synthwright.core.store import RunStore

    run = copy_run(run_dir, tmp_path / "run")
    store = RunStore(run / "run.sqlite")  # the recipe the run froze had the token pasted in its description
    recipe = store.get("recipe")
    store.put("recipe", {**recipe, "description": f"pasted by mistake {TOKEN} {recipe['description']}"})
    store.close()
    result = push(run, "--repo", "alice/tiny-intents")
    assert result.exit_code == 1
    assert "contains your Hugging Face token, so nothing was pushed" in said(result)
    assert TOKEN not in result.output and hub.commits == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("setup, repo, message", [
    ("no-token", "alice/x", "No Hugging Face token was found; log in with `hf auth login` or set HF_TOKEN"),
    ("bad-token", "alice/x", "rejected the token (401 Unauthorized)"),
    ("", "bob/x", "The token may not write to 'bob/x' (403 Forbidden)"),
    ("down", "alice/x", "Could not connect to the Hub at http://127.0.0.1:"),
    ("", "no-namespace", "needs a namespace; write it as USER/NAME"),
])
def test_errors_are_one_sentence(hub, run_dir, monkeypatch, setup, repo, message):
    if setup == "no-token":
        monkeypatch.delenv("HF_TOKEN")
    elif setup == "bad-token":
        monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    elif setup == "down":
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    result = push(run_dir, "--repo", repo)
    assert result.exit_code in (1, 2), result.output
    assert message in said(result)
    assert "Traceback" not in result.output and TOKEN not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) <= 4  # "pushing …" + the wrapped error
    assert hub.commits == []
