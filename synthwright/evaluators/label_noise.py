"""Label noise: samples whose label a cross-validated classifier confidently disagrees with.

Every accepted sample is predicted by a logistic regression trained on the other folds (sentence
embeddings, TF-IDF fallback). A sample is flagged when the classifier gives a different label at
least `min_confidence` probability. Run at the end of a run, before the dataset is written; in
`reject` mode flagged samples are rejected with filter `label_noise` (the next run refills them).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any, Sequence

import numpy as np

from synthwright.evaluators import embed
from synthwright.evaluators.classifier import out_of_fold_proba
from synthwright.recipe.model import Recipe
from synthwright.tasks import task_for


def find_label_noise(texts: Sequence[str], labels: Sequence[str], *, folds: int = 5, min_confidence: float = 0.7,
                     embedder: str = "auto", seed: int = 0) -> dict[str, Any]:
    """Out-of-fold predictions over (texts, labels); returns flags [{index, label, predicted, confidence, given}]."""
    counts = Counter(labels)
    result: dict[str, Any] = {"checked": len(texts), "flags": [], "skipped": None, "min_confidence": min_confidence}
    if len(counts) < 2:
        result["skipped"] = "needs at least two labels"
        return result
    k = min(folds, min(counts.values()))
    if k < 2:
        result["skipped"] = "every label needs at least two accepted samples"
        return result
    kind = embed.resolve(embedder)
    (x,) = embed.features(kind, texts)
    y = np.asarray(labels)
    proba = out_of_fold_proba(kind, x, y, k, seed)
    classes = np.asarray(sorted(counts))
    predicted = classes[proba.argmax(axis=1)]
    index = {c: i for i, c in enumerate(classes)}
    result.update(embedder=kind, folds=k, cv_accuracy=round(float(np.mean(predicted == y)), 4))
    for i, (given, pred) in enumerate(zip(y, predicted)):
        confidence = float(proba[i, index[pred]])
        if pred != given and confidence >= min_confidence:
            result["flags"].append({"index": i, "label": str(given), "predicted": str(pred),
                                    "confidence": round(confidence, 4), "given": round(float(proba[i, index[given]]), 4)})
    return result


def _fingerprint(sample_ids: list[int], cfg: Any) -> str:
    payload = json.dumps([sample_ids, cfg.model_dump(mode="json")])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def check_label_noise(store: Any, recipe: Recipe) -> dict[str, Any] | None:
    """Check the run's accepted samples (classification, mode report|reject); the result is kept in the store.

    A set already checked with the same settings is not checked again, so re-running a finished
    run does not keep peeling off samples.
    """
    cfg = recipe.filters.label_noise
    if not task_for(recipe.task).labelled or cfg.mode == "off":
        return None
    accepted = store.samples("accepted")
    ids = [s["sample_id"] for s in accepted]
    previous = store.get("label_noise")
    if previous and previous.get("fingerprint") == _fingerprint(ids, cfg):
        return previous
    found = find_label_noise([s["data"]["text"] for s in accepted], [s["data"]["label"] for s in accepted],
                             folds=cfg.folds, min_confidence=cfg.min_confidence, embedder=cfg.embedder,
                             seed=recipe.seed)
    flags = []
    for f in found.pop("flags"):
        s = accepted[f.pop("index")]
        flags.append({"sample_id": s["sample_id"], "text": s["data"]["text"], **f})
    rejected = 0
    if cfg.mode == "reject" and flags:
        store.reject([f["sample_id"] for f in flags], "label_noise",
                     [f"a cross-validated classifier says {f['predicted']!r} with probability {f['confidence']:.2f}"
                      f" ({f['label']!r}: {f['given']:.2f})" for f in flags])
        rejected = len(flags)
        ids = [i for i in ids if i not in {f["sample_id"] for f in flags}]
    result = {**found, "mode": cfg.mode, "flagged": len(flags), "rejected": rejected, "flags": flags,
              "fingerprint": _fingerprint(ids, cfg)}
    store.put("label_noise", result)
    return result
