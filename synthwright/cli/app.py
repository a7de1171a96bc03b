"""The `synthwright` command. Each command is a thin wrapper over one library function."""

from __future__ import annotations

import json
import sys
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from synthwright.cli.errors import cli_command, err
from synthwright.core.errors import ConfigError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Turn a short task description into a clean, labelled, documented dataset.")


@app.callback()
def _root() -> None:
    """Turn a short task description into a clean, labelled, documented dataset."""


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """`--engine-option key=value` pairs; values are read as JSON when they parse, else as strings."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"Engine option '{pair}' is not key=value; write e.g. --engine-option batch_size=32.")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


@app.command()
@cli_command
def generate(
    prompt: str = typer.Option(..., "--prompt", "-p", help="What the samples should be about."),
    n: int = typer.Option(8, "-n", help="How many valid samples to print."),
    model: str = typer.Option("default", "--model", "-m", help="Engine spec: default, a directory, a .gguf file, hf:ORG/NAME, vllm:ORG/NAME, PROVIDER:MODEL."),
    schema: str = typer.Option("classification", "--schema", "-s", help="classification, qa or dialogue."),
    labels: Optional[str] = typer.Option(None, "--labels", help="Comma-separated labels the classification label must be one of."),
    temperature: float = typer.Option(0.8, help="Sampling temperature (0 = greedy)."),
    top_p: float = typer.Option(0.95, help="Nucleus sampling mass."),
    max_new_tokens: int = typer.Option(256, help="Upper bound on tokens per sample."),
    seed: int = typer.Option(0, help="Base random seed."),
    constrained: bool = typer.Option(True, help="Constrain decoding to the schema (local engines) or ask the provider for structured output."),
    engine_option: list[str] = typer.Option([], "--engine-option", "-o", help="Engine option key=value, e.g. batch_size=32, dtype=float32, quantization=4bit."),
) -> None:
    """Print N schema-valid samples as JSON lines: the smallest useful command."""
    from synthwright.engines import Sampling
    from synthwright.make.generate import generate_samples

    sampling = Sampling(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed)
    label_list = [x.strip() for x in labels.split(",") if x.strip()] if labels else None
    samples, made = generate_samples(prompt, n=n, model=model, schema=schema, labels=label_list, sampling=sampling,
                                     constrained=constrained, engine_options=parse_options(engine_option))
    for sample in samples:
        sys.stdout.write(sample.model_dump_json() + "\n")
    failed = [g for g in made if g.parsed is None]
    if failed:
        err.print(f"{len(failed)} of {len(made)} generations did not validate; first reason: {failed[0].error}")
    if len(samples) < n:
        err.print(f"[bold red]error:[/] only {len(samples)} of {n} samples validated.")
        raise typer.Exit(1)


@app.command("run")
@cli_command
def run_command(
    recipe: str = typer.Argument(..., help="Recipe YAML file."),
    teacher: Optional[str] = typer.Option(None, "--teacher", "-t", help="Engine spec overriding the recipe's teacher."),
    out: Optional[str] = typer.Option(None, "--out", help="Run directory (default: the recipe's output.dir or runs/<name>)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Stop once the run holds this many accepted samples in total (a quick try); the same command again adds none."),
    restart: bool = typer.Option(False, "--restart", help="Start over even if the run directory holds a run (it is kept aside)."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Run the teacher on Ray actors: 'auto' (a running cluster), 'local', or an address."),
    actors: int = typer.Option(2, "--actors", help="With --ray: engine actors."),
    cpus_per_actor: float = typer.Option(1.0, "--cpus-per-actor", help="With --ray: CPUs per actor."),
    gpus_per_actor: float = typer.Option(0.0, "--gpus-per-actor", help="With --ray: GPUs per actor."),
    judge_actors: Optional[int] = typer.Option(None, "--judge-actors", help="With --ray and a judge model of its own: its actors (default: --actors)."),
    judge_gpus_per_actor: Optional[float] = typer.Option(None, "--judge-gpus-per-actor", help="With --ray: GPUs per judge actor (default: --gpus-per-actor)."),
    cache: Optional[str] = typer.Option(None, "--cache", help="Folder of earlier model calls: identical calls (same model, request, sampling, schema, seed) are answered from it (default: $SYNTHWRIGHT_CALL_CACHE)."),
) -> None:
    """Generate a recipe's dataset; running the same command again resumes."""
    from synthwright.cli.summary import print_summary
    from synthwright.make.pipeline import run

    ray_config = None if ray is None else {"address": ray, "actors": actors, "cpus_per_actor": cpus_per_actor,
                                           "gpus_per_actor": gpus_per_actor, "judge_actors": judge_actors,
                                           "judge_gpus_per_actor": judge_gpus_per_actor}
    result = run(recipe, teacher=teacher, out=out, limit=limit, restart=restart, progress=True, ray=ray_config, cache=cache)
    if result.kind == "tabular":
        Console().print(f"[green]done[/]: {len(result.dataset['train'])} synthetic rows → {result.out_dir}"
                        " (report in report/)")
        return
    print_summary(result)
    Console().print(f"report: {result.out_dir / 'report.md'} (plots in {result.out_dir / 'plots'})")


@app.command()
@cli_command
def plan(
    recipe: str = typer.Argument(..., help="Recipe YAML file."),
    teacher: Optional[str] = typer.Option(None, "--teacher", "-t", help="Engine spec overriding the recipe's teacher."),
    out: Optional[str] = typer.Option(None, "--out", help="Run directory where plan.json is written."),
    estimate: bool = typer.Option(False, "--estimate", help="Also run the first batch of requests (kept: the run resumes from it) and print the whole run's expected acceptance, time, tokens and cost."),
) -> None:
    """Make the plan (scenarios, personas, slots) and write plan.json without generating samples."""
    from synthwright.cli.summary import print_plan
    from synthwright.make.pipeline import plan_run, tabular_recipe

    tabular = tabular_recipe(recipe)
    if tabular is not None:  # nothing to plan: the model learns the table
        t = tabular[0]
        Console().print(f"{recipe} is a tabular recipe: `synthwright run` fits {t.model} on {t.data} for {t.epochs} epochs"
                        f" and samples {t.rows} rows; it has no plan of scenarios or slots.", highlight=False)
        return

    if estimate:
        from synthwright.make.estimate import estimate_run

        for line in estimate_run(recipe, teacher=teacher, out=out, progress=True).lines():
            Console().print(escape(line), highlight=False, soft_wrap=True)
        return
    summary, slots = plan_run(recipe, teacher=teacher, out=out)
    print_plan(summary, slots)


@app.command()
@cli_command
def validate(recipe: str = typer.Argument(..., help="Recipe YAML file.")) -> None:
    """Check a recipe (fields, files, seeds, engine specs and API keys, what its method needs) without running it."""
    from synthwright.make.validate import validate_recipe

    result = validate_recipe(recipe)
    Console().print(f"[green]ok[/]: {escape(result.summary)}", highlight=False, soft_wrap=True)
    Console().print(f"checked: {escape(', '.join(result.checked))}", highlight=False, soft_wrap=True, style="dim")


@app.command()
@cli_command
def export(
    out: str = typer.Argument(..., help="Run directory (the --out of `synthwright run`)."),
    to: str = typer.Option(..., "--to", help="Folder to write the Hub dataset to (new, empty, or a previous export)."),
    license: Optional[str] = typer.Option(None, "--license", help="Hub license id, e.g. cc-by-4.0, apache-2.0, mit (default: the recipe's, else 'other')."),
    preferences: bool = typer.Option(False, "--preferences", help="Also write the run's preference pairs (chosen/rejected, for DPO) in preferences/."),
) -> None:
    """Write a run as a Hugging Face dataset: Parquet shards per split and a README.md dataset card."""
    from synthwright.publish.export import export_dataset

    result = export_dataset(out, to, license=license, preferences=preferences)
    rows = ", ".join(f"{k} {v}" for k, v in result.rows.items())
    Console().print(f"[green]exported[/] {sum(result.rows.values())} samples ({rows}) to {result.path}"
                    f" · {len(result.files)} files · license {result.license}", highlight=False, soft_wrap=True)
    for note in result.notes:
        err.print(f"[yellow]note:[/] {note}", highlight=False)


@app.command()
@cli_command
def push(
    out: str = typer.Argument(..., help="Run directory, or a folder written by `synthwright export`."),
    repo: str = typer.Option(..., "--repo", help="Dataset repo on the Hub, USER/NAME or ORG/NAME."),
    private: bool = typer.Option(False, "--private", help="Create the repo as private (only when it does not exist yet)."),
    revision: Optional[str] = typer.Option(None, "--revision", help="Branch to commit to (created from main if missing; default main)."),
    license: Optional[str] = typer.Option(None, "--license", help="Hub license id when pushing a run directory (default: the recipe's, else 'other')."),
) -> None:
    """Upload a run's dataset and card to the Hugging Face Hub in one commit (HF_TOKEN or `hf auth login`)."""
    from huggingface_hub.utils import disable_progress_bars

    from synthwright.publish.push import push_dataset

    disable_progress_bars()
    err.print(f"pushing {out} to {repo} …", highlight=False)
    result = push_dataset(out, repo, private=private, revision=revision, license=license)
    Console().print(f"[green]pushed[/] {len(result.files)} files to {result.url} ({result.revision})",
                    highlight=False, soft_wrap=True)
    Console().print(f"commit: {result.commit_url}", highlight=False, soft_wrap=True)
    if result.deleted:
        Console().print(f"removed stale files: {', '.join(result.deleted)}", highlight=False)


@app.command()
@cli_command
def view(
    out: str = typer.Argument(..., help="Run directory (the --out of `synthwright run`)."),
    to: Optional[str] = typer.Option(None, "--to", help="HTML file to write (default: OUT/review.html)."),
    serve: bool = typer.Option(False, "--serve", help="Serve a live dashboard of the run instead (while it runs, or after)."),
    host: str = typer.Option("127.0.0.1", "--host", help="With --serve: the address to bind (default: this machine only)."),
    port: int = typer.Option(8765, "--port", help="With --serve: the port (0 picks a free one)."),
) -> None:
    """Write one self-contained HTML page to browse a run's samples, or (--serve) a live dashboard of it."""
    if serve:
        from synthwright.publish.dashboard import serve as serve_dashboard

        try:
            serve_dashboard(out, host, port, on_ready=lambda url: Console().print(
                f"dashboard of {out}: [bold]{url}[/] (read-only; Ctrl-C stops it)", highlight=False, soft_wrap=True))
        except OSError as exc:
            raise ConfigError(f"Cannot serve on {host}:{port} ({exc.strerror or exc}); pass another --port.") from None
        return
    from synthwright.publish.view import write_review_page

    path = write_review_page(out, to)
    Console().print(f"[green]wrote[/] {path} · open it in a browser; filters live in the URL,"
                    " e.g. review.html#status=rejected", highlight=False, soft_wrap=True)


@app.command()
@cli_command
def report(
    out: str = typer.Argument(..., help="Run directory (the --out of `synthwright run`)."),
    embedder: str = typer.Option("auto", help="Features for embedding diversity: auto, minilm or tfidf."),
) -> None:
    """Write report.md, plots and the report section of stats.json into a run directory."""
    from synthwright.reports.report import build_report

    m = build_report(out, embedder=embedder)
    f, sem, lx = m["funnel"], m["semantic"], m["lexical"]
    Console().print(f"[green]report[/]: {out}/report.md · {f['accepted']} of {f['generated']} generated samples accepted"
                    f" · distinct-2 {lx['distinct_2'] if lx['distinct_2'] is not None else '-'}"
                    f" · embedding diversity {sem['diversity'] if sem['diversity'] is not None else '-'} ({sem['embedder']})")


@app.command("eval")
@cli_command
def eval_command(
    out: str = typer.Argument(..., help="Run directory of a classification run."),
    real: str = typer.Option(..., "--real", help="Real labelled test set: JSONL or CSV with text and label."),
    real_train: Optional[str] = typer.Option(None, "--real-train", help="Real labelled training set, for the reference score."),
    embedder: str = typer.Option("auto", help="Classifier features: auto, minilm or tfidf."),
) -> None:
    """Train on the synthetic data, test on real data; results go to eval.json and report.md."""
    from synthwright.reports.tstr import evaluate_on_real

    r = evaluate_on_real(out, real, real_train, embedder=embedder)
    for w in r["warnings"]:
        err.print(f"[yellow]warning:[/] {w}", highlight=False)
    console = Console()
    syn = r["synthetic"]
    console.print(f"synthetic → real: accuracy {syn['accuracy']:.3f}, macro-F1 {syn['macro_f1']:.3f}"
                  f" ({syn['train_size']} synthetic training samples, {r['test_size']} real test samples; {r['classifier']})")
    if r["real"]:
        console.print(f"real → real:      accuracy {r['real']['accuracy']:.3f}, macro-F1 {r['real']['macro_f1']:.3f}"
                      f" · synthetic/real macro-F1 ratio {r['ratio']['macro_f1']}")
    if r["distance"]:
        console.print(f"real vs synthetic: two-sample AUC {r['distance']['auc']:.3f}, MMD² {r['distance']['mmd2']:.4f}")
    console.print(f"[green]written[/]: {out}/eval.json, {out}/report.md")


@app.command()
@cli_command
def compare(
    teacher_run: str = typer.Argument(..., help="The teacher's run directory."),
    student_run: str = typer.Argument(..., help="The student's run directory (same recipe, --teacher STUDENT_DIR)."),
    real: Optional[str] = typer.Option(None, "--real", help="Real labelled test set (JSONL with text and label) for train-on-synthetic, test-on-real."),
    out: Optional[str] = typer.Option(None, "--out", help="Report folder (default: STUDENT_RUN/compare)."),
) -> None:
    """Compare a teacher run and a student run: acceptance, judge, diversity, TSTR and cost, side by side."""
    from synthwright.reports.compare import compare_runs

    report = compare_runs(teacher_run, student_run, real=real, out=out)
    Console().print(report.markdown_table(), highlight=False, soft_wrap=True)
    for note in report.notes:
        err.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    Console().print(f"[green]wrote[/] {report.out_dir / 'compare.md'}, compare.json and {len(report.plots)} plots",
                    highlight=False, soft_wrap=True)


from synthwright.cli.distill import distill_app  # noqa: E402  (distill, preferences)
from synthwright.cli.modalities import image_app, tabular_app  # noqa: E402

app.add_typer(distill_app)  # no group name: its commands sit beside these
app.add_typer(tabular_app, name="tabular")
app.add_typer(image_app, name="image")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
