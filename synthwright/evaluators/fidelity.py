"""Label fidelity: is a sample about anything the recipe names, and nearer its own label than every other?

Each label gets a prototype: the normalised mean of the MiniLM embeddings of its name in words, its
description and its seed examples. A sample's relevance is its cosine to the nearest of those prototypes and the
recipe's description; its fidelity is its cosine to its own prototype minus its cosine to the nearest other
label's. Cheap (one embedding per sample, cached for the label check and the report) and model-free.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from synthwright.evaluators import embed


def label_documents(categories: Sequence[Any], seeds: Sequence[dict[str, Any]] = ()) -> dict[str, list[str]]:
    docs: dict[str, list[str]] = {}
    for c in categories:
        docs[c.name] = [c.name.replace("_", " ").replace("-", " ")] + ([c.description] if c.description else []) + list(c.examples)
    for s in seeds:
        if s.get("label") in docs and s.get("text") and s["text"] not in docs[s["label"]]:
            docs[s["label"]].append(s["text"])
    return docs


class LabelPrototypes:
    """Embedding prototypes of the labels; `score(texts, labels)` gives (own cosine, nearest other label, its cosine).

    `anchors`: texts about the whole domain (the recipe's description) that count for `relevance` but are no label.
    """

    def __init__(self, docs: dict[str, list[str]], anchors: Sequence[str] = ()):
        self.names = list(docs)
        flat = [t for name in self.names for t in docs[name]]
        every = embed.embed(flat)  # one batch for every label's documents
        vectors, start = [], 0
        for name in self.names:
            v = every[start:start + len(docs[name])].mean(axis=0)
            start += len(docs[name])
            vectors.append(v / max(float(np.linalg.norm(v)), 1e-12))
        self.matrix = np.stack(vectors)  # (labels, 384)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.anchors = embed.embed([a for a in anchors if a.strip()])

    def similarities(self, texts: Sequence[str]) -> np.ndarray:
        """Cosine of each text to each label's prototype, shape (texts, labels) in `names` order."""
        return embed.embed(list(texts)) @ self.matrix.T

    def relevance(self, texts: Sequence[str], sims: np.ndarray | None = None) -> np.ndarray:
        """Each text's cosine to the nearest label prototype or anchor: how much it is about the recipe at all."""
        sims = self.similarities(texts) if sims is None else sims
        if len(self.anchors):
            sims = np.concatenate([sims, embed.embed(list(texts)) @ self.anchors.T], axis=1)
        return sims.max(axis=1) if len(texts) else np.zeros(0)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The label-prototype classifier: each text gets the label whose prototype is nearest (no training data)."""
        return [self.names[i] for i in np.argmax(self.similarities(texts), axis=1)] if texts else []

    def score(self, texts: Sequence[str], labels: Sequence[str], sims: np.ndarray | None = None) -> list[tuple[float, str, float]]:
        """`sims`: the texts' `similarities`, when the caller already has them."""
        if not texts:
            return []
        sims = self.similarities(texts) if sims is None else sims
        out = []
        for row, label in zip(sims, labels):
            own = self.index[label]
            others = row.copy()
            others[own] = -np.inf
            j = int(np.argmax(others)) if len(self.names) > 1 else own
            out.append((float(row[own]), self.names[j], float(others[j]) if len(self.names) > 1 else -1.0))
        return out
