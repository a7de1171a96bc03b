"""The `synthwright` command. Each command is a thin wrapper over one library function."""

from __future__ import annotations

import functools
import json
import os
import sys
from typing import Any, Callable, Optional

import typer
from rich.console import Console

from .errors import SynthwrightError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Turn a short task description into a clean, labelled, documented dataset.")
err = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Turn a short task description into a clean, labelled, documented dataset."""


def cli_command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into one red sentence and the error's exit code: the CLI's only error path."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _quiet_libraries()
        try:
            return fn(*args, **kwargs)
        except SynthwrightError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]: everything accepted so far is kept; run the same command to resume.")
            raise typer.Exit(130) from None

    return wrapper


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")  # library progress bars; ours are rich
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """`--engine-option key=value` pairs; values are read as JSON when they parse, else as strings."""
    from .errors import ConfigError

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
    from .engines import Sampling
    from .generate import generate_samples

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


from .modalities.cli import image_app, tabular_app  # noqa: E402

app.add_typer(tabular_app, name="tabular")
app.add_typer(image_app, name="image")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
