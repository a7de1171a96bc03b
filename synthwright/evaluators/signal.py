"""The quality signal: how well the fixed classifier learns the labels from what a run accepted so far.

The classifier is the one `eval` uses (MiniLM embeddings + logistic regression, C=10; TF-IDF without the
embedder wheel). Without real data the signal is stratified cross-validation on the accepted samples;
with a small real dev set the classifier is trained on all accepted samples and scored on the dev set,
and that is the score that counts. Both give per-label F1, the pairs of labels that are confused (true →
predicted, with counts), and which texts were misclassified. With a dev set, `realism` says how easily
a classifier tells synthetic from real (two-sample AUC) and what gives the synthetic texts away.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from typing import Any, Sequence

import numpy as np

from synthwright.evaluators import embed
from synthwright.evaluators.classifier import fixed_classifier, out_of_fold_proba

GREETING = re.compile(r"^\s*(hi|hello|hey|dear|good (morning|afternoon|evening)|greetings)\b", re.I)
POLITE = re.compile(r"\b(please|thank you|thanks|could you|would you|kindly)\b", re.I)
SIGN_OFF = re.compile(r"\b(thank you|thanks|regards|cheers|best)\W*$", re.I)


def _scores(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score

    per = f1_score(y_true, y_pred, labels=list(labels), average=None, zero_division=0)
    confusions = Counter((t, p) for t, p in zip(y_true, y_pred) if t != p)
    return {"accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
            "macro_f1": round(float(np.mean(per)), 4) if len(per) else 0.0,
            "f1_per_label": {label: round(float(v), 4) for label, v in zip(labels, per)},
            "confusions": [{"label": t, "predicted": p, "count": n} for (t, p), n in confusions.most_common()]}


def style_profile(texts: Sequence[str]) -> dict[str, float]:
    """What a reader notices first: length, greetings, politeness, sign-offs, how a text starts and ends."""
    if not texts:
        return {}
    words = [len(t.split()) for t in texts]
    n = len(texts)
    return {
        "median_words": float(statistics.median(words)),
        "greeting": round(sum(bool(GREETING.search(t)) for t in texts) / n, 3),
        "polite": round(sum(bool(POLITE.search(t)) for t in texts) / n, 3),
        "sign_off": round(sum(bool(SIGN_OFF.search(t)) for t in texts) / n, 3),
        "lowercase_start": round(sum(t.strip()[:1].islower() for t in texts) / n, 3),
        "ends_with_punctuation": round(sum(t.strip()[-1:] in ".!?" for t in texts) / n, 3),
        "exclamation": round(sum("!" in t for t in texts) / n, 3),
        "question": round(sum("?" in t for t in texts) / n, 3),
        "first_person": round(sum(bool(re.search(r"\b(i|my|me|i'm|i've)\b", t, re.I)) for t in texts) / n, 3),
    }


def giveaways(synthetic: dict[str, float], real: dict[str, float]) -> list[str]:
    """Plain instructions that would move the synthetic style towards the real one, most different first."""
    hints: list[tuple[float, str]] = []
    if synthetic and real:
        ratio = synthetic["median_words"] / max(real["median_words"], 1.0)
        if ratio > 1.3 or ratio < 0.7:
            hints.append((abs(np.log(ratio)), f"about {int(round(real['median_words']))} words long"))
        for key, more, less in (
            ("greeting", "start with a greeting", "no greeting"),
            ("polite", "polite words such as please or thanks", "no 'please', 'thank you' or other polite phrases"),
            ("sign_off", "end with a sign-off", "no sign-off"),
            ("lowercase_start", "start with a lowercase letter, as typed quickly", "start with a capital letter"),
            ("ends_with_punctuation", "end with a full stop or question mark", "no punctuation at the end"),
            ("exclamation", "an exclamation mark", "no exclamation marks"),
        ):
            gap = synthetic[key] - real[key]
            if abs(gap) >= 0.25:
                hints.append((abs(gap), less if gap > 0 else more))
    return [h for _, h in sorted(hints, reverse=True)]


def _synthetic_probability(kind: str, x_syn: Any, x_real: Any, seed: int) -> np.ndarray | None:
    """Out-of-fold P(synthetic) for every synthetic row, then every real row (a balanced two-sample classifier)."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    n_syn, n_real = x_syn.shape[0], x_real.shape[0]
    if min(n_syn, n_real) < 5:
        return None
    stacked = sparse.vstack([x_syn, x_real]) if sparse.issparse(x_syn) else np.vstack([x_syn, x_real])
    y = np.array([1] * n_syn + [0] * n_real)
    clf = LogisticRegression(max_iter=2000, C=1.0, class_weight="balanced")
    return cross_val_predict(clf, stacked, y, cv=StratifiedKFold(5, shuffle=True, random_state=seed),
                             method="predict_proba")[:, 1]


def _auc(p_synthetic: np.ndarray, n_synthetic: int) -> float:
    from sklearn.metrics import roc_auc_score

    y = [1] * n_synthetic + [0] * (len(p_synthetic) - n_synthetic)
    return round(float(roc_auc_score(y, p_synthetic)), 4)


def realism_auc(synthetic: Sequence[str], real: Sequence[str], *, embedder: str = "auto", seed: int = 0) -> float | None:
    """How easily a classifier tells `synthetic` texts from `real` ones (out-of-fold ROC AUC: 0.5 cannot, 1.0 always);
    None with fewer than five of either."""
    kind = embed.resolve(embedder)
    x_syn, x_real = embed.features(kind, list(synthetic), list(real))
    p_synthetic = _synthetic_probability(kind, x_syn, x_real, seed)
    return None if p_synthetic is None else _auc(p_synthetic, len(synthetic))


def _cross_validated(kind: str, x: Any, y: np.ndarray, counts: Counter, folds: int, seed: int,
                     min_confidence: float) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Out-of-fold scores over the labels with at least two samples, and the samples the classifier gives another
    label at least `min_confidence` surely; a label with fewer (starved by the gates) cannot be cross-validated, so
    it counts as F1 0 — the weakest label, not a reason to have no signal."""
    cv_classes = sorted(c for c, n in counts.items() if n >= 2)
    if len(cv_classes) < 2:
        return None, []
    rows = np.flatnonzero(np.isin(y, cv_classes))
    k = min(folds, min(counts[c] for c in cv_classes))
    proba = out_of_fold_proba(kind, x[rows], y[rows], k, seed)
    predicted = np.asarray(cv_classes)[proba.argmax(axis=1)]
    starved = sorted(c for c in counts if counts[c] < 2)
    scores = _scores(y[rows], predicted, cv_classes)
    if starved:
        scores["f1_per_label"].update({c: 0.0 for c in starved})
        scores["macro_f1"] = round(float(np.mean(list(scores["f1_per_label"].values()))), 4)
    index = {c: i for i, c in enumerate(cv_classes)}
    misclassified = []
    for row, given, pred, p in zip(rows, y[rows], predicted, proba):
        confidence = float(p[index[pred]])
        if pred != given and confidence >= min_confidence:
            misclassified.append({"index": int(row), "label": str(given), "predicted": str(pred),
                                  "confidence": round(confidence, 4)})
    return {"folds": k, **scores, "too_few_to_cross_validate": starved}, misclassified


def quality_signal(texts: Sequence[str], labels: Sequence[str], *, dev: Sequence[dict[str, str]] | None = None,
                   folds: int = 5, embedder: str = "auto", seed: int = 0, min_confidence: float = 0.5,
                   realism_quantile: float = 0.9) -> dict[str, Any]:
    """The classifier's view of (texts, labels): cross-validated, and on `dev` (real {text, label} rows) when given.

    `misclassified` lists the accepted texts (by index) that the out-of-fold classifier gives another label
    with at least `min_confidence` probability; with a dev set, `unrealistic` lists those that a real-vs-synthetic
    classifier (out of fold) finds more synthetic than `realism_quantile` of the real dev texts, most obvious first
    (its probabilities are soft even when it separates the two perfectly, so the real texts set the bar). `score` is
    dev macro-F1 when there is a dev set, else CV macro-F1.
    """
    kind = embed.resolve(embedder)
    counts = Counter(labels)
    out: dict[str, Any] = {"samples": len(texts), "embedder": kind, "cv": None, "dev": None, "realism": None,
                           "misclassified": [], "unrealistic": [], "score": None, "source": "dev" if dev else "cv"}
    if len(counts) < 2:
        return out
    dev_texts = [r["text"] for r in dev or []]
    x, *rest = embed.features(kind, list(texts), *([dev_texts] if dev else []))
    y = np.asarray(labels)
    out["cv"], out["misclassified"] = _cross_validated(kind, x, y, counts, folds, seed, min_confidence)
    if dev:
        dev_labels = [r["label"] for r in dev]
        pred = fixed_classifier(kind).fit(x, y).predict(rest[0])
        out["dev"] = {"size": len(dev), **_scores(dev_labels, pred, sorted(set(dev_labels))),
                      "errors": [{"index": i, "label": t, "predicted": str(p)}
                                 for i, (t, p) in enumerate(zip(dev_labels, pred)) if t != p]}
        p_synthetic = _synthetic_probability(kind, x, rest[0], seed)
        syn, real = style_profile(texts), style_profile(dev_texts)
        auc = None
        if p_synthetic is not None:
            auc = _auc(p_synthetic, len(texts))
            bar = float(np.quantile(p_synthetic[len(texts):], realism_quantile))
            order = np.argsort(-p_synthetic[: len(texts)], kind="stable")
            out["unrealistic"] = [{"index": int(i), "probability": round(float(p_synthetic[i]), 4)}
                                  for i in order if p_synthetic[i] > bar]
        out["realism"] = {"auc": auc, "synthetic": syn, "real": real, "hints": giveaways(syn, real)}
    source = out["dev"] if dev else out["cv"]
    out["score"] = source["macro_f1"] if source else None
    return out
