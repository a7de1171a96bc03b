"""Train on synthetic, test on real: how well a standard classifier trained on the run's data does on real data.

The classifier is the fixed one (evaluators/classifier.py), so that numbers compare across runs. It trains on the synthetic
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

from synthwright.core.errors import ConfigError
from synthwright.core.rowfiles import read_labelled
from synthwright.evaluators import embed
from synthwright.evaluators.classifier import (
    classifier_name,
    fixed_classifier,
    train_and_score,
)
from synthwright.reports.report import build_report
from synthwright.rundir.reader import RunDir, open_run
from synthwright.rundir.views import dataset_splits

DISTANCE_CAP = 2000  # texts per side for the two-sample test


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
    proba = cross_val_predict(fixed_classifier(kind), x, y, cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
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


def evaluate_on_real(out_dir: str | Path, real: str | Path, real_train: str | Path | None = None, *,
                     embedder: str | None = None, seed: int = 0) -> dict[str, Any]:
    """Train on the run's synthetic train split, score on `real`; write eval.json and refresh the report.

    Returns the results; `warnings` lists what the user should know (e.g. real labels the synthetic set lacks).
    """
    out_dir = Path(out_dir)
    test = read_labelled(real, "real test set")
    ref_train = read_labelled(real_train, "real training set") if real_train is not None else None
    run = open_run(out_dir)
    if not run.task.labelled:
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
