"""Replay against generation, and the live dashboard's cost on a run's throughput, in one process.

1. A run of a shipped recipe on the default model (timed), then the same recipe with one filter threshold
   changed (near-duplicate Jaccard 0.85 → 0.6) run into the same directory: the replay re-applies the
   filters to the stored responses without generating (timed; target ≥ 20× faster than the run).
2. The dashboard's cost: the CPU seconds one poll of the page (state + latest samples) takes on the run,
   against the 2 s between the page's polls (target ≤ 3% of the run's throughput). With `--pairs N`, also
   N pairs of runs alternately without and with a headless Chromium showing the page: generation seconds
   with / without (this needs a quiet machine: on a shared one the noise is larger than the effect).

    python benchmarks/replay_and_dashboard.py [--recipe recipes/banking-intents.yaml] [--categories 6] [--per-category 4]
    python benchmarks/replay_and_dashboard.py --stored RUN_DIR   # replay a copy of a run made earlier, against
                                                                 # its own stored generation seconds
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(Path(__file__).parent.parent / "recipes" / "banking-intents.yaml"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--categories", type=int, default=6)
    parser.add_argument("--per-category", type=int, default=4)
    parser.add_argument("--pairs", type=int, default=0, help="pairs of runs without / with a browser on the dashboard")
    parser.add_argument("--stored", help="replay a copy of this earlier run directory instead (no generation)")
    args = parser.parse_args()
    if args.stored:
        replay_stored(Path(args.stored))
        poll_cost(Path(args.stored))
        return

    import transformers
    from rich.console import Console

    import synthwright
    from synthwright.publish.dashboard import make_server

    transformers.utils.logging.set_verbosity_error()
    base = synthwright.load_recipe(args.recipe)
    recipe = base.model_copy(update={
        "categories": base.categories[: args.categories], "seeds": None,
        "count": base.count.model_copy(update={"per_category": args.per_category, "total": None}),
        "budget": base.budget.model_copy(update={"max_rounds": 1}),
        "quality": base.quality.model_copy(update={"enabled": False})})
    engine = synthwright.load_engine(args.model, **recipe.teachers[0].options)
    root = Path(tempfile.mkdtemp(prefix="replay-dashboard-"))
    console = Console()

    def timed(r, out: Path) -> tuple[float, dict]:
        t0 = time.perf_counter()
        result = synthwright.run(r, out=out, engine=engine)
        return time.perf_counter() - t0, result.stats

    run_s, first = timed(recipe, root / "run")
    looser = recipe.model_copy(update={"filters": recipe.filters.model_copy(update={
        "near_duplicates": recipe.filters.near_duplicates.model_copy(update={"threshold": 0.6})})})
    replay_s, replayed = timed(looser, root / "run")
    assert replayed["replay"] is not None, "the second run did not replay"
    console.print(f"run: {run_s:.1f} s, {first['accepted']} accepted of {first['usage']['by_phase']['executor']['calls']}"
                  f" generations · replay with near_duplicates.threshold 0.6: {replay_s:.1f} s"
                  f" ({replayed['replay']['seconds']} s re-filtering, the rest dataset + report), {replayed['accepted']}"
                  f" accepted · **{run_s / replay_s:.1f}×** faster (target ≥ 20×)")

    poll_cost(root / "run")
    if not args.pairs:
        return
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        console.print("no Chromium on PATH: the dashboard's cost is not measured")
        return
    seconds = {"without": [], "with": []}
    for i in range(args.pairs):
        for arm in ("without", "with"):
            out = root / f"{arm}-{i}"
            browser = None
            if arm == "with":
                synthwright.plan_run(recipe, out=out, engine=engine)  # the store exists before the page opens
                server = make_server(out, "127.0.0.1", 0)
                threading.Thread(target=server.serve_forever, daemon=True).start()
                browser = subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                            f"--user-data-dir={root / 'profile'}", "--remote-debugging-port=0",
                                            f"http://127.0.0.1:{server.server_address[1]}/"],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            else:
                synthwright.plan_run(recipe, out=out, engine=engine)
            try:
                _, stats = timed(recipe, out)
            finally:
                if browser is not None:
                    browser.kill()
                    server.shutdown()
            seconds[arm].append(stats["generation_seconds"])
    without, with_ = min(seconds["without"]), min(seconds["with"])
    console.print(f"generation seconds without the dashboard {seconds['without']}, with a browser polling it"
                  f" {seconds['with']}: best {with_:.1f} vs {without:.1f} s, **{100 * (with_ / without - 1):+.1f}%**"
                  " (target ≤ +3%)")
    shutil.rmtree(root, ignore_errors=True)


def poll_cost(run_dir: Path, polls: int = 30) -> None:
    """CPU per dashboard poll (what the page asks every 2 s), measured in this process."""
    from synthwright.publish.dashboard import Dashboard

    board = Dashboard(run_dir)
    board.state(), board.samples(None, None, None, 40)  # warm: the first read opens the files
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(polls):
        board.state(), board.samples(None, None, None, 40)
    cpu, wall = (time.process_time() - c0) / polls, (time.perf_counter() - w0) / polls
    calls = board.state()["generated"]
    print(f"dashboard on a run of {calls} samples: {1000 * cpu:.1f} ms CPU ({1000 * wall:.1f} ms wall) per poll;"
          f" one poll every 2 s is {100 * cpu / 2:.2f}% of one core (target ≤ 3%)")


def replay_stored(run_dir: Path) -> None:
    """Replay a copy of a finished run with near_duplicates.threshold 0.6 and an engine that may not be called."""
    import synthwright
    from synthwright.core.store import RunStore
    from synthwright.engines import Engine
    from synthwright.recipe.model import Recipe

    class Refusing(Engine):
        spec = "refusing"

        def generate(self, requests, *, schema=None, sampling=None):
            raise AssertionError("a replay must not call the model")

    copy = Path(tempfile.mkdtemp(prefix="replay-stored-")) / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("previous-*", "dataset", "data", "plots"))
    store = RunStore(copy / "run.sqlite")
    recipe = Recipe.model_validate({**store.get("recipe"), "base_dir": str(Path(__file__).parent.parent / "recipes")})
    store.put("generation_fingerprint", recipe.generation_fingerprint())  # a run older than replay lacks it
    generated, calls = store.get("generation_seconds", 0.0), store.call_stats()["phases"]["executor"]["calls"]
    store.close()
    looser = recipe.model_copy(update={"filters": recipe.filters.model_copy(update={
        "near_duplicates": recipe.filters.near_duplicates.model_copy(update={"threshold": 0.6})})})
    t0 = time.perf_counter()
    result = synthwright.run(looser, out=copy, engine=Refusing())
    seconds = time.perf_counter() - t0
    print(f"stored run {run_dir}: {calls} executor calls, {generated:.0f} s of generation when it was made;"
          f" replay with near_duplicates.threshold 0.6: {seconds:.1f} s end to end ({result.stats['replay']['seconds']} s"
          f" re-filtering), {result.stats['accepted']} accepted · {generated / seconds:.0f}× faster (target ≥ 20×)")


if __name__ == "__main__":
    main()
