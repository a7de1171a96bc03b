"""`synthwright view`: one self-contained HTML page of every sample, opened in headless Chromium when it is
installed (the Chromium tests skip, saying why, when it is not)."""

import json
import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from synthwright.cli.app import app

from .publish_helpers import HOSTILE, add_verdicts_and_hostile_text, copy_run, tiny_run

runner = CliRunner()
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
                                           "chrome") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium binary on PATH (e.g. apt-get install chromium)")


@pytest.fixture(scope="session")
def run_dir(tiny_model_dir, tmp_path_factory):
    return tiny_run(tiny_model_dir, tmp_path_factory.mktemp("publish"))


@pytest.fixture(scope="module")
def page(run_dir, tmp_path_factory):
    """A copy of the run with judge verdicts and a hostile sample, and its review page."""
    run = copy_run(run_dir, tmp_path_factory.mktemp("view") / "run")
    ids = add_verdicts_and_hostile_text(run)
    result = runner.invoke(app, ["view", str(run)])
    assert result.exit_code == 0, result.output
    return run / "review.html", ids, run


def embedded(html: str) -> dict:
    blocks = re.findall(r'<script type="application/json" id="sw-data">(.*?)</script>', html, re.DOTALL)
    assert len(blocks) == 1
    return json.loads(blocks[0])


def store_counts(run) -> dict:
    from synthwright.core.store import RunStore

    store = RunStore(run / "run.sqlite")
    try:
        samples = store.samples()
    finally:
        store.close()
    return {"all": len(samples), "accepted": sum(s["status"] == "accepted" for s in samples),
            "rejected_lost_card": sum(s["status"] == "rejected" and s["category"] == "lost_card" for s in samples)}


def test_page_is_self_contained_and_embeds_every_sample_safely(page):
    path, ids, run = page
    html = path.read_text(encoding="utf-8")
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html), "the page must not load anything from outside"
    assert "<link" not in html and "@import" not in html
    assert HOSTILE not in html and "</script><script>" not in html
    assert html.count("</script>") == 2  # the data block and the page's own script, nothing else closes a script
    data = embedded(html)
    counts = store_counts(run)
    assert len(data["samples"]) == counts["all"]
    by_id = {s["id"]: s for s in data["samples"]}
    assert by_id[ids["hostile"]]["fields"] == {"raw": HOSTILE}
    assert by_id[ids["rejected"]]["verdicts"][0]["data"]["reason"] == "Gibberish, not a customer message."
    assert by_id[ids["accepted"]]["verdicts"][0]["passed"] is True
    accepted = [s for s in data["samples"] if s["status"] == "accepted"]
    assert all(s["split"] in ("train", "validation", "test") for s in accepted)
    assert all(s["split"] is None and s["filter"] and s["reason"] for s in data["samples"] if s["status"] == "rejected")
    assert data["labels"] == ["lost_card", "refund"]


def test_view_of_a_missing_run_is_one_sentence(tmp_path):
    result = runner.invoke(app, ["view", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "does not exist" in " ".join(result.output.split())


def chromium(*args, tmp_path):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@needs_chromium
def test_chromium_loads_the_page_and_a_hash_filter_applies(page, tmp_path):
    path, ids, run = page
    counts = store_counts(run)
    everything = chromium("--dump-dom", path.as_uri(), tmp_path=tmp_path)
    assert everything.returncode == 0, everything.stderr[-2000:]
    assert len(re.findall(r"<article ", everything.stdout)) == min(100, counts["all"])
    assert f'data-matching="{counts["all"]}"' in everything.stdout

    filtered = chromium("--dump-dom", path.as_uri() + "#status=rejected&label=lost_card", tmp_path=tmp_path)
    assert filtered.returncode == 0, filtered.stderr[-2000:]
    cards = re.findall(r"<article [^>]*>", filtered.stdout)
    assert len(cards) == counts["rejected_lost_card"] > 0
    assert all('data-status="rejected"' in c and 'data-label="lost_card"' in c for c in cards)
    assert f'data-matching="{counts["rejected_lost_card"]}"' in filtered.stdout

    found = chromium("--dump-dom", path.as_uri() + "#q=pwned", tmp_path=tmp_path)
    assert len(re.findall(r"<article ", found.stdout)) == 1
    assert "&lt;/script&gt;&lt;script&gt;document.title='pwned'" in found.stdout  # shown as text, not run
    assert "<title>tiny-intents · review</title>" in found.stdout

    judged = chromium("--dump-dom", path.as_uri() + "#judge=failed", tmp_path=tmp_path)
    assert len(re.findall(r"<article ", judged.stdout)) == 1
    assert "Gibberish, not a customer message." in judged.stdout and "judge failed" in judged.stdout


@needs_chromium
def test_chromium_screenshot(page, tmp_path):
    path, _, _ = page
    shot = tmp_path / "review.png"
    result = chromium(f"--screenshot={shot}", "--window-size=1280,900", path.as_uri() + "#status=rejected",
                      tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
