"""Every bad input gets one short message: the problem and the fix, exit code 2, no traceback, nothing lost.

One table over commands × bad files, driven through the real CLI. A new case is one row: an id, a function
that writes the bad file(s) under `tmp` and returns the command line, and words the message must contain.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Callable

import pytest
import yaml
from typer.testing import CliRunner

import synthwright
from synthwright.cli.app import app

from .scripted import ScriptedEngine, recipe_dict

LATIN1 = "Caf\u00e9 reviews, na\u00efve customers".encode("latin-1")  # not UTF-8: 0xE9 starts a 3-byte sequence
MAX_LINES = 8  # "one short message": a sentence (rich wraps it) or a recipe's first few field errors


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    """A finished run made with the scripted engine (no model), for the cases that need one."""
    out = tmp_path_factory.mktemp("good") / "run"
    texts = {"lost_card": ["I lost my card on the bus this morning", "My wallet with the card was stolen at lunch",
                           "The card fell out of my pocket at the station"],
             "refund": ["The refund for my returned shoes never came", "I sent the kettle back and got no money",
                        "Why has my hotel refund not reached my account"]}
    synthwright.run(recipe_dict(filters={"label_noise": {"mode": "off"}, "language": False}), out=out,
                    engine=ScriptedEngine(texts))
    return out


# files ------------------------------------------------------------------------------------------

def recipe_file(tmp: Path, **changes) -> Path:
    path = tmp / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe_dict(**changes)), encoding="utf-8")
    return path


def latin1_recipe(tmp: Path) -> Path:
    path = tmp / "recipe.yaml"
    path.write_bytes(yaml.safe_dump(recipe_dict(description="DESC")).encode().replace(b"DESC", LATIN1))
    return path


def latin1_seeds(tmp: Path, suffix: str) -> Path:
    seeds = tmp / f"seeds{suffix}"
    seeds.write_bytes(b'{"text": "' + LATIN1 + b'", "label": "refund"}\n' if suffix == ".jsonl"
                      else b"text,label\n" + LATIN1.replace(b",", b"") + b",refund\n")
    return recipe_file(tmp, seeds=seeds.name)


def latin1_documents(tmp: Path) -> Path:
    docs = tmp / "docs"
    docs.mkdir()
    (docs / "good.md").write_text("The router's light turns blue when it is online.", encoding="utf-8")
    (docs / "manual.txt").write_bytes(b"Reset the router: " + LATIN1)
    return recipe_file(tmp, task="qa", categories=[], documents={"path": "docs"})


def bad_store(tmp: Path, kind: str, good: Path | None = None) -> Path:
    """A run directory whose run.sqlite is garbage, a foreign SQLite file, or from a newer synthwright."""
    out = tmp / "run"
    if kind == "newer":
        shutil.copytree(good, out)
        with sqlite3.connect(out / "run.sqlite") as con:
            con.execute("INSERT INTO migrations VALUES ('999_from_the_future', 0)")
        return out
    out.mkdir()
    if kind == "garbage":
        (out / "run.sqlite").write_bytes(b"this is not a database, it is a note\n" * 40)
    else:
        with sqlite3.connect(out / "run.sqlite") as con:
            con.execute("CREATE TABLE contacts (name TEXT)")
    (out / "recipe.yaml").write_text(yaml.safe_dump(recipe_dict()), encoding="utf-8")
    return out


def png_bytes(colour: int) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (8, 8), colour).save(buf, format="PNG")
    return buf.getvalue()


def truncated_png() -> bytes:
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (8, 8), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()[: len(buf.getvalue()) - 30]  # the header reads, the pixel data is cut short


def image_folder(tmp: Path, bad: bytes) -> Path:
    folder = tmp / "images"
    for cls in ("cat", "dog"):
        (folder / cls).mkdir(parents=True)
        for i in range(3):
            (folder / cls / f"{i}.png").write_bytes(png_bytes(40 * i + (100 if cls == "dog" else 0)))
    (folder / "dog" / "9.png").write_bytes(bad)
    return folder


def table(tmp: Path, name: str = "real.csv", content: bytes | None = None) -> Path:
    path = tmp / name
    path.write_bytes(content if content is not None else
                     b"age,city\n" + b"".join(f"{20 + i},{'ab'[i % 2]}\n".encode() for i in range(30)))
    return path


def truncated_parquet(tmp: Path) -> Path:
    import pandas as pd

    path = tmp / "real.parquet"
    pd.DataFrame({"age": range(30), "city": ["a", "b"] * 15}).to_parquet(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def nested_recipe(tmp: Path) -> Path:
    # One mistake (categories written as lists of [name, description]) for 40 labels.
    path = tmp / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe_dict(categories=[[f"label_{i}", "what it means"] for i in range(40)])))
    return path


# the table ----------------------------------------------------------------------------------------

Row = tuple[str, Callable[..., list[str]], tuple[str, ...]]

ROWS: list[Row] = [
    # undecodable text: name the file and the encoding expected
    *[(f"{cmd}-recipe-not-utf8", lambda t, g, cmd=cmd: [cmd, str(latin1_recipe(t))], ("recipe.yaml", "UTF-8"))
      for cmd in ("validate", "run", "plan")],
    *[(f"{cmd}-seeds{sfx}-not-utf8", lambda t, g, cmd=cmd, sfx=sfx: [cmd, str(latin1_seeds(t, sfx))], (f"seeds{sfx}", "UTF-8"))
      for cmd in ("validate", "run") for sfx in (".jsonl", ".csv")],
    *[(f"{cmd}-document-not-utf8", lambda t, g, cmd=cmd: [cmd, str(latin1_documents(t))], ("manual.txt", "UTF-8"))
      for cmd in ("validate", "run")],
    ("eval-real-set-not-utf8", lambda t, g: ["eval", str(g), "--real", str(table(t, "real.jsonl", b'{"text": "' + LATIN1 + b'", "label": "refund"}\n'))],
     ("real.jsonl", "UTF-8")),
    ("eval-real-train-not-utf8", lambda t, g: ["eval", str(g), "--real", str(table(t, "ok.jsonl", b'{"text": "a card", "label": "refund"}\n')),
                                               "--real-train", str(table(t, "train.csv", b"text,label\n" + LATIN1.replace(b",", b"") + b",refund\n"))],
     ("train.csv", "UTF-8")),
    ("compare-real-set-not-utf8", lambda t, g: ["compare", str(g), str(g), "--out", str(t / "cmp"), "--real",
                                                str(table(t, "real.jsonl", b'{"text": "' + LATIN1 + b'", "label": "refund"}\n'))],
     ("real.jsonl", "UTF-8")),
    ("distill-config-not-utf8", lambda t, g: ["distill", str(g), "--out", str(t / "s"), "--config", str(table(t, "d.yaml", b"rank: 8 # " + LATIN1))],
     ("d.yaml", "UTF-8")),
    ("tabular-fit-csv-not-utf8", lambda t, g: ["tabular", "fit", str(table(t, "t.csv", b"city,n\n" + b"".join(LATIN1.replace(b",", b"") + b",1\n" for _ in range(20)))),
                                               "--out", str(t / "m")], ("t.csv", "UTF-8")),
    ("tabular-fit-constraints-not-utf8", lambda t, g: ["tabular", "fit", str(table(t)), "--out", str(t / "m"),
                                                       "--constraints", str(table(t, "c.yaml", b"age: {min: 0} # " + LATIN1))],
     ("c.yaml", "UTF-8")),
    ("tabular-run-recipe-not-utf8", lambda t, g: ["tabular", "run", str(table(t, "tab.yaml", b"kind: tabular\ndata: real.csv # " + LATIN1))],
     ("tab.yaml", "UTF-8")),
    # a run.sqlite that is not a run store, or comes from a newer synthwright
    *[(f"{cmd}-store-{kind}", lambda t, g, cmd=cmd, kind=kind, extra=extra: [cmd, str(bad_store(t, kind, g)), *extra],
       ("run.sqlite", "newer synthwright" if kind == "newer" else "not a synthwright run store"))
      for kind in ("garbage", "foreign", "newer")
      for cmd, extra in (("report", []), ("view", []), ("export", ["--to", "HUB"]), ("distill", ["--out", "STUDENT"]),
                         ("eval", ["--real", "REAL"]), ("compare", ["OTHER"]))],
    *[(f"{cmd}-store-{kind}", lambda t, g, cmd=cmd, kind=kind: [cmd, str(recipe_file(t)), "--out", str(bad_store(t, kind, g))],
       ("run.sqlite", "newer synthwright" if kind == "newer" else "not a synthwright run store"))
      for kind in ("garbage", "foreign", "newer") for cmd in ("run", "plan")],
    # unreadable or truncated images and tables: name the file
    ("image-fit-not-an-image", lambda t, g: ["image", "fit", str(image_folder(t, b"GIF89a but not really")), "--out", str(t / "m")],
     ("9.png", "not an image")),
    ("image-fit-truncated-png", lambda t, g: ["image", "fit", str(image_folder(t, truncated_png())), "--out", str(t / "m")],
     ("9.png", "truncated")),
    ("image-eval-not-an-image", lambda t, g: ["image", "eval", str(image_folder(t, b"\x89PNG garbage")), str(image_folder(t / "x", b"")),
                                              "--out", str(t / "r")], ("9.png",)),
    ("tabular-fit-truncated-parquet", lambda t, g: ["tabular", "fit", str(truncated_parquet(t)), "--out", str(t / "m")],
     ("real.parquet", "could not be read")),
    # counts beyond the documented ceiling; long error lists cut short
    ("validate-total-too-big", lambda t, g: ["validate", str(recipe_file(t, count={"total": 10**12}))], ("count.total", "1,000,000")),
    ("validate-per-category-too-big", lambda t, g: ["validate", str(recipe_file(t, count={"per_category": 10**9}))],
     ("count.per_category", "1,000,000")),
    ("validate-target-too-big", lambda t, g: ["validate", str(recipe_file(t, count={"per_category": 600_000}))],
     ("1,200,000", "1,000,000")),
    ("validate-nested-lists", lambda t, g: ["validate", str(nested_recipe(t))], ("categories.0", "and 37 more")),
]


@pytest.mark.parametrize("case", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_gets_one_short_message(case, good_run, tmp_path, monkeypatch):
    _, make, words = case
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    before = {p: p.read_bytes() for p in good_run.rglob("*") if p.is_file() and not p.name.startswith("run.sqlite")}
    args = make(tmp_path, good_run)
    args = [{"HUB": str(tmp_path / "hub"), "STUDENT": str(tmp_path / "student"), "OTHER": str(good_run),
             "REAL": str(table(tmp_path, "ok.jsonl", b'{"text": "a card", "label": "refund"}\n'))}.get(a, a) for a in args]
    result = CliRunner().invoke(app, args)
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.output.strip().startswith("error:") and len(result.output.strip().splitlines()) <= MAX_LINES, result.output
    for word in words:
        assert word in text, (word, result.output)
    after = {p: p.read_bytes() for p in good_run.rglob("*") if p.is_file() and not p.name.startswith("run.sqlite")}
    assert after == before  # nothing of the good run was touched
