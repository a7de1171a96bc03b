"""`synthwright distill` and `synthwright preferences`: thin wrappers over synthwright.finetune.

The trainer flags are not written out here. Like TRL's CLI, which is built from its config dataclasses, every
field of the config model makes one option: the field's name gives the flag (`max_steps` → `--max-steps`), its
type the option's type, its default the shown default and its description the help. A flag that is not given
leaves the value alone (its default is only shown), so the precedence is defaults < the `--config` YAML file <
flags, and `load_distill_config` validates the result: a bad value is one sentence naming the field.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Union

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from rich.console import Console

from synthwright.cli.errors import cli_command, err
from synthwright.core.errors import ConfigError
from synthwright.finetune.config import DistillConfig

distill_app = typer.Typer()  # merged into the top-level app (no group name): `synthwright distill`, `synthwright preferences`

_PLAIN = (int, float, str, bool)
_CTX = "_config_flags_ctx"  # the parameter typer fills with the click context, to tell given flags from defaults


# config model → options ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConfigFlag:
    """One option made from one field of a config model."""

    name: str  # the field, and the command parameter that receives the flag
    decls: tuple[str, ...]  # the flag's names, e.g. ("--max-steps",), ("--lr", "--learning-rate"), ("--qlora/--no-qlora",)
    kind: type  # what the option parses: int, float, str or bool
    help: str
    default: Any  # the field's default as the option shows it (None: not shown)
    metavar: str | None
    convert: Callable[[Any], Any]  # the option's value → the field's value

    def parameter(self) -> inspect.Parameter:
        option = typer.Option(self.default, *self.decls, help=self.help, metavar=self.metavar,
                              show_default=self.default is not None)
        return inspect.Parameter(self.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=option,
                                 annotation=Optional[self.kind])


def config_flags(model: type[BaseModel]) -> list[ConfigFlag]:
    """One flag per field of `model`, in the fields' order."""
    return [_flag(name, field) for name, field in model.model_fields.items()]


def _flag(name: str, field: FieldInfo) -> ConfigFlag:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if not field.description:
        raise TypeError(f"config field '{name}' has no description, so its flag would have no help")
    long = "--" + name.replace("_", "-")
    decls: tuple[str, ...] = (str(extra["flag"]), long) if extra.get("flag") else (long,)
    switch = (f"{long}/--no-{long[2:]}",)
    shown = ",".join(map(str, field.default)) if isinstance(field.default, list) else field.default
    members = _members(field.annotation)
    words = [str(v) for m in members if typing.get_origin(m) is Literal for v in typing.get_args(m)]
    if extra.get("switch"):
        on, off = extra["switch"]
        told = f"{field.description} {long} sets '{on}', --no-{long[2:]} '{off}'; neither leaves '{field.default}'."
        return ConfigFlag(name, switch, bool, told, None, None, lambda value: on if value else off)
    if any(typing.get_origin(m) is list for m in members):
        return ConfigFlag(name, decls, str, field.description, shown, "|".join(["A,B,…", *words]),
                          lambda value: _listed(value, words))
    if words:
        if not all(isinstance(v, str) for m in members if typing.get_origin(m) is Literal for v in typing.get_args(m)):
            raise TypeError(f"config field '{name}' has non-text choices, which its flag cannot pass on as they are")
        return ConfigFlag(name, decls, str, field.description, shown, "|".join(words), _same)
    if len(members) != 1 or members[0] not in _PLAIN:
        raise TypeError(f"config field '{name}' has a type ({field.annotation}) no flag is made for")
    kind = members[0]
    return ConfigFlag(name, switch if kind is bool else decls, kind, field.description, shown, None, _same)


def _members(annotation: Any) -> list[Any]:
    """The types a field may hold, None left out: `int | None` → [int]."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _same(value: Any) -> Any:
    return value


def _listed(value: str, words: list[str]) -> list[str] | str:
    """A comma-separated flag value as a list, or one of the field's words ('auto') as it is."""
    if value.strip() in words:
        return value.strip()
    return [part.strip() for part in value.split(",") if part.strip()]


def with_config_flags(model: type[BaseModel], *, after: str, into: str = "flags") -> Callable[[Callable], Callable]:
    """Give a command one option per field of `model`, placed after its parameter `after`.

    The command declares a keyword-only parameter `into` instead of the fields; it receives the flags given on
    the command line, as field values (a dict to lay over the config file), and never one that was left out:
    an option's default is only shown, so a config file's value is not overridden by it."""
    flags = config_flags(model)

    def decorate(fn: Callable) -> Callable:
        hints = typing.get_type_hints(fn)
        own = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in inspect.signature(fn).parameters.values()
               if p.name != into]
        clash = {f.name for f in flags} & {p.name for p in own}
        if clash:
            raise TypeError(f"{fn.__name__} has parameters named like {model.__name__} fields: {sorted(clash)}")
        at = [p.name for p in own].index(after) + 1
        params = own[:at] + [f.parameter() for f in flags] + own[at:]
        params.append(inspect.Parameter(_CTX, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context))

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            ctx = kwargs.pop(_CTX, None)
            values = {f.name: kwargs.pop(f.name, None) for f in flags}
            given = {f.name: f.convert(values[f.name]) for f in flags if _given(ctx, f, values[f.name])}
            return fn(**kwargs, **{into: given})

        command.__signature__ = inspect.Signature(params, return_annotation=hints.get("return", None))
        command.__annotations__ = {**{p.name: p.annotation for p in params}, "return": hints.get("return", None)}
        return command

    return decorate


def _given(ctx: typer.Context | None, flag: ConfigFlag, value: Any) -> bool:
    """Whether the flag was given (on the command line), not left at the default it only shows; without a
    context (a direct call), whether it differs from that default."""
    if ctx is None:
        return value is not None and value != flag.default
    source = ctx.get_parameter_source(flag.name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


# commands -----------------------------------------------------------------------------------------------

@distill_app.command()
@cli_command
@with_config_flags(DistillConfig, after="config")
def distill(
    run_dir: str = typer.Argument(..., help="Teacher run directory (the --out of `synthwright run`)."),
    student: str = typer.Option("smollm2", "--student", help="Base model of the student: smollm2 (SmolLM2-135M-Instruct), default (the default teacher), a model directory, a .gguf file or hf:ORG/NAME."),
    out: Optional[str] = typer.Option(None, "--out", help="Student folder to write (default: RUN_DIR/student)."),
    config: Optional[str] = typer.Option(None, "--config", help="YAML file of DistillConfig fields; flags override it."),
    merge: bool = typer.Option(False, "--merge", help="Also write merged full weights to OUT/merged (a plain model folder)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a student already in OUT."),
    method: str = typer.Option("sft", "--method", help="sft (default): learn the run's accepted samples; dpo: refine --student (a base or a distill student) on preference pairs from its own runs of RUN_DIR's recipe and plan."),
    rounds: int = typer.Option(1, "--rounds", help="With --method dpo: rounds of run → pairs → DPO."),
    pairs: Optional[str] = typer.Option(None, "--pairs", help="With --method dpo: a folder from `synthwright preferences` to train the first round on instead of a fresh run."),
    include_parse: bool = typer.Option(False, "--include-parse", help="With --method dpo: parse failures may be rejected sides."),
    *,
    flags: dict[str, Any],
) -> None:
    """Train a LoRA student on a teacher run's accepted samples (or, --method dpo, refine one on its own rejections)."""
    from synthwright.finetune.config import load_distill_config

    if method not in ("sft", "dpo"):
        raise ConfigError(f"--method must be sft or dpo, got '{method}'.")
    cfg = load_distill_config(config, **flags)
    if method == "dpo":
        _refine(run_dir, student, out, cfg, rounds, pairs, include_parse, overwrite)
    else:
        _train(run_dir, student, out, cfg, merge, overwrite)


def _train(run_dir: str, student: str, out: Optional[str], cfg: DistillConfig, merge: bool, overwrite: bool) -> None:
    from synthwright.finetune.distiller import distill as run_distill

    result = run_distill(run_dir, student, out, cfg, merge=merge, overwrite=overwrite, progress=True)
    m = result.metrics
    Console().print(
        f"[green]student written[/] to {result.out_dir} · {m['train_examples']} train / {m['val_examples']} validation"
        f" samples · {m['steps']} steps{' (stopped early)' if m['stopped_early'] else ''} · validation loss"
        f" {m['initial_val_loss']:.3f} → {m['best_val_loss']:.3f} (best, step {m['best_step']})", highlight=False, soft_wrap=True)
    left = {k: v for k, v in m["left_out"].items() if v}
    if left:
        err.print(f"[yellow]note:[/] left out of training: {', '.join(f'{k} {v}' for k, v in left.items())}", highlight=False)
    if result.merged_dir:
        Console().print(f"merged model: {result.merged_dir}", highlight=False, soft_wrap=True)
    Console().print(f"use it: synthwright run RECIPE --teacher {result.out_dir} --out STUDENT_RUN", highlight=False,
                    soft_wrap=True)


def _refine(run_dir: str, student: str, out: Optional[str], cfg: DistillConfig, rounds: int, pairs: Optional[str],
            include_parse: bool, overwrite: bool) -> None:
    from synthwright.finetune.dpo_loop import refine_with_dpo

    target = out if out is not None else str(Path(run_dir) / "student-dpo")
    done = refine_with_dpo(run_dir, student, target, cfg, rounds=rounds, pairs=pairs, include_parse=include_parse,
                           overwrite=overwrite, progress=True)
    for r in done.rounds:
        m = r["metrics"]
        run = r.get("run_acceptance")
        seen = (f" · its run: {run['passed']} of {run['calls']} calls passed the evaluators, {run['accepted']} accepted"
                if run else "")
        Console().print(f"round {r['round']}: {r['pair_count']} pairs{seen} · {m['steps']} DPO steps · loss"
                        f" {m['first_loss']:.3f} → {m['final_loss']:.3f}", highlight=False, soft_wrap=True)
    Console().print(f"[green]DPO student written[/] to {done.out_dir} · use it: synthwright run RECIPE --teacher"
                    f" {done.out_dir} --out STUDENT_RUN", highlight=False, soft_wrap=True)


@distill_app.command()
@cli_command
def preferences(
    run_dir: str = typer.Argument(..., help="Run directory (the --out of `synthwright run`)."),
    out: str = typer.Option(..., "--out", help="Folder to write the preference set to (new, empty, or a previous one with --overwrite)."),
    include_parse: bool = typer.Option(False, "--include-parse", help="Also pair parse failures (raw text) as rejected sides."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a preference set already in OUT."),
) -> None:
    """Write a run's (prompt, chosen, rejected) pairs in TRL's DPO format, with a card saying why each side lost."""
    from synthwright.finetune.preferences import preferences as build

    prefs = build(run_dir, out, include_parse=include_parse, overwrite=overwrite)
    reasons = ", ".join(f"{k} {v}" for k, v in prefs.reasons.items())
    Console().print(f"[green]wrote[/] {len(prefs.pairs)} pairs ({reasons}) to {out}", highlight=False, soft_wrap=True)
    left = ", ".join(f"{k} {v}" for k, v in prefs.left_out.items())
    if left:
        err.print(f"[yellow]note:[/] left out: {left}", highlight=False, soft_wrap=True)
