"""Train on synthetic, test on real: how well a standard classifier trained on the run's data does on real data.

The classifier is fixed so that numbers compare across runs: L2-normalised all-MiniLM-L6-v2 sentence
embeddings + scikit-learn LogisticRegression(C=10, max_iter=2000), or, without the embedder wheel,
TF-IDF (word 1-2-grams + char 3-5-grams) + LogisticRegression(C=5). It trains on the synthetic
`train` split (every accepted sample when the recipe has no train split) and is scored on the
real test set: accuracy and macro-F1 over the real test set's labels. With a real training set,
the same classifier trained on it gives the reference and the synthetic/real ratio.

Real-versus-synthetic distance: a classifier two-sample test (5-fold cross-validated logistic
regression telling real from synthetic texts; ROC AUC 0.5 = indistinguishable) and the squared
maximum mean discrepancy with an RBF kernel (bandwidth: the median pairwise distance).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError
from ..output import dataset_splits
from ..rowfiles import read_rows
from ..rundir import RunDir, open_run
from . import embed
from .report import build_report

DISTANCE_CAP = 2000  # texts per side for the two-sample test


def read_labelled(path: str | Path, what: str = "real test set") -> list[dict[str, str]]:
    """Rows with `text` and `label` from a .jsonl/.json (JSON lines) or .csv file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"The {what} '{path}' does not exist; pass a JSONL or CSV file with text and label fields.")
    rows = read_rows(path, what)
    out = []
    for line, row in rows:
        if not isinstance(row, dict) or not str(row.get("text") or "").strip() or row.get("label") in (None, ""):
            raise ConfigError(f"Row on line {line} of the {what} '{path}' needs a non-empty 'text' and 'label'; fix or remove it.")
        out.append({"text": str(row["text"]), "label": str(row["label"])})
    if not out:
        raise ConfigError(f"The {what} '{path}' holds no rows; add JSON lines like {{\"text\": \"…\", \"label\": \"…\"}}.")
    return out


def _classifier(kind: str):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, C=10.0 if kind == "minilm" else 5.0)


def train_and_score(kind: str, train: list[dict[str, str]], test: list[dict[str, str]]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score

    x_train, x_test = embed.features(kind, [r["text"] for r in train], [r["text"] for r in test])
    y_train = [r["label"] for r in train]
    y_test = [r["label"] for r in test]
    clf = _classifier(kind).fit(x_train, y_train)
    pred = clf.predict(x_test)
    labels = sorted(set(y_test))
    per_label = f1_score(y_test, pred, labels=labels, average=None, zero_division=0)
    return {"train_size": len(train), "accuracy": round(float(accuracy_score(y_test, pred)), 4),
            "macro_f1": round(float(f1_score(y_test, pred, labels=labels, average="macro", zero_division=0)), 4),
            "f1_per_label": {label: round(float(v), 4) for label, v in zip(labels, per_label)}}


def two_sample_distance(kind: str, real: Sequence[str], synthetic: Sequence[str], seed: int = 0) -> dict[str, Any]:
    """Classifier two-sample AUC and RBF-kernel MMD² between equal-sized samples of real and synthetic texts."""
    from sklearn.metrics import roc_auc_score
    from sklearn.metrics.pairwise import euclidean_distances, rbf_kernel
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rng = random.Random(seed)
    n = min(len(real), len(synthetic), DISTANCE_CAP)
    if n < 5:
        return {}
    a, b = rng.sample(list(real), n), rng.sample(list(synthetic), n)
    (x,) = embed.features(kind, a + b)
    y = np.array([1] * n + [0] * n)
    folds = min(5, n)
    proba = cross_val_predict(_classifier(kind), x, y, cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                              method="predict_proba")[:, 1]
    d = euclidean_distances(x, x)
    gamma = 1.0 / (2 * float(np.median(d[d > 0])) ** 2) if np.any(d > 0) else 1.0
    k = rbf_kernel(x, x, gamma=gamma)
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    # unbiased MMD² (Gretton et al., 2012)
    mmd2 = ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean())
    return {"embedder": kind, "n_per_side": n, "auc": round(float(roc_auc_score(y, proba)), 4),
            "mmd2": round(float(mmd2), 6), "rbf_gamma": round(gamma, 6)}


def synthetic_train(run: RunDir) -> list[dict[str, str]]:
    """The (text, label) rows a classifier trains on: the run's train split (every accepted sample without one)."""
    with run.store() as store:
        rows, splits = dataset_splits(store, run.recipe)
    return [{"text": r["text"], "label": r["label"]} for r in splits.get("train") or rows]


def classifier_name(kind: str) -> str:
    return (f"{'all-MiniLM-L6-v2 embeddings' if kind == 'minilm' else 'TF-IDF (word 1-2 + char 3-5 grams)'}"
            f" + logistic regression (C={10.0 if kind == 'minilm' else 5.0})")


def evaluate_on_real(out_dir: str | Path, real: str | Path, real_train: str | Path | None = None, *,
                     embedder: str | None = None, seed: int = 0) -> dict[str, Any]:
    """Train on the run's synthetic train split, score on `real`; write eval.json and refresh the report.

    Returns the results; `warnings` lists what the user should know (e.g. real labels the synthetic set lacks).
    """
    out_dir = Path(out_dir)
    test = read_labelled(real, "real test set")
    ref_train = read_labelled(real_train, "real training set") if real_train is not None else None
    run = open_run(out_dir)
    if run.kind != "classification":
        raise ConfigError(f"eval trains a text classifier, so it needs a classification run; '{out_dir}' is a {run.kind} run.")
    synthetic = synthetic_train(run)
    syn_labels = set(r["label"] for r in synthetic)
    test_labels = Counter(r["label"] for r in test)
    if len(syn_labels) < 2:
        raise ConfigError(f"The synthetic training split of '{out_dir}' has {len(syn_labels)} label(s); a classifier needs at"
                          " least two, so generate more samples first.")
    common = syn_labels & set(test_labels)
    if not common:
        raise ConfigError(f"No label of the real test set ({', '.join(sorted(test_labels)[:5])}…) appears in the synthetic"
                          f" data ({', '.join(sorted(syn_labels)[:5])}…); use the recipe's category names as labels.")
    warnings = []
    unseen = sorted(set(test_labels) - syn_labels)
    if unseen:
        n = sum(test_labels[label] for label in unseen)
        warnings.append(f"{len(unseen)} label(s) of the real test set are not in the synthetic training data"
                        f" ({', '.join(unseen[:8])}{'…' if len(unseen) > 8 else ''}); their {n} test samples count as errors.")
    kind = embed.resolve(embedder)
    result: dict[str, Any] = {
        "classifier": classifier_name(kind),
        "embedder": kind, "real_test": str(real), "real_train": str(real_train) if real_train else None,
        "test_size": len(test), "test_labels": sorted(test_labels), "labels_in_common": sorted(common),
        "synthetic": train_and_score(kind, synthetic, test), "real": None, "ratio": None, "warnings": warnings,
    }
    if ref_train is not None:
        result["real"] = train_and_score(kind, ref_train, test)
        ref = result["real"]
        result["ratio"] = {m: round(result["synthetic"][m] / ref[m], 4) if ref[m] else None for m in ("accuracy", "macro_f1")}
    real_texts = [r["text"] for r in test] + [r["text"] for r in (ref_train or [])]
    result["distance"] = two_sample_distance(kind, real_texts, [r["text"] for r in synthetic], seed)
    (out_dir / "eval.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    build_report(out_dir, embedder=embedder)
    return result
