"""A mixture of teachers in the report: each teacher's acceptance, rejection reasons, diversity and label quality."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np


def compare_teachers(samples: list[dict[str, Any]], text_of, kind: str, seed: int = 0) -> list[dict[str, Any]] | None:
    """Per teacher spec: generated, accepted, acceptance, top rejections, distinct-2, and the out-of-fold
    accuracy of a classifier trained on every accepted sample, measured on that teacher's samples."""
    specs = sorted({s["engine"].get("spec", "") for s in samples})
    if len(specs) < 2:
        return None
    from synthwright.evaluators.metrics import distinct_n

    accepted = [s for s in samples if s["status"] == "accepted"]
    oof = _out_of_fold_correct(accepted, text_of, kind, seed)
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in samples:
        by[s["engine"].get("spec", "")].append(s)
    rows = []
    for spec in specs:
        mine = by[spec]
        kept = [s for s in mine if s["status"] == "accepted"]
        fates = Counter(s["filter"] for s in mine if s["status"] == "rejected")
        correct = [oof[s["sample_id"]] for s in kept if s["sample_id"] in oof]
        rows.append({"teacher": spec, "generated": len(mine), "accepted": len(kept),
                     "acceptance": round(len(kept) / len(mine), 4) if mine else None,
                     "top_rejections": dict(fates.most_common(3)),
                     "distinct_2": distinct_n([text_of(s) for s in kept], 2),
                     "cv_accuracy": round(float(np.mean(correct)), 4) if correct else None})
    return rows


def _out_of_fold_correct(accepted: list[dict[str, Any]], text_of, kind: str, seed: int) -> dict[int, bool]:
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from synthwright.evaluators import embed
    from synthwright.evaluators.classifier import fixed_classifier

    labels = [s["category"] for s in accepted]
    counts = Counter(labels)
    k = min(5, min(counts.values())) if len(counts) >= 2 else 0
    if k < 2:
        return {}
    x, = embed.features(kind, [text_of(s) for s in accepted])
    pred = cross_val_predict(fixed_classifier(kind), x, labels,
                             cv=StratifiedKFold(k, shuffle=True, random_state=seed))
    return {s["sample_id"]: bool(p == y) for s, p, y in zip(accepted, pred, labels)}


def render_teachers(rows: list[dict[str, Any]] | None) -> list[str]:
    from synthwright.core.markdown import fmt, table

    if not rows:
        return []
    return ["## Teachers", "",
            "A mixture of teachers wrote this run; CV accuracy is that of a classifier trained on every accepted sample,"
            " measured out of fold on each teacher's own (classification runs).", "",
            table(["teacher", "generated", "accepted", "acceptance", "top rejections", "distinct-2", "CV accuracy"],
                   [[r["teacher"], r["generated"], r["accepted"], fmt(r["acceptance"], pct=True),
                     ", ".join(f"{k} {v}" for k, v in r["top_rejections"].items()) or "–", fmt(r["distinct_2"]),
                     fmt(r["cv_accuracy"])] for r in rows]), ""]
