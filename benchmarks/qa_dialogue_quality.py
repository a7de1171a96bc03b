"""Do grounded QA and goal-following dialogue hold up? The pipeline against naive prompting, same teacher.

QA, on two real document sets: the shipped Acme router manual (recipes/docs/acme-router) and SQuAD 2.0 dev passages
(../shared/data/text/squad/dev_subset.jsonl, CC BY-SA 4.0). Each arm writes questions with answers for every passage:

    naive     one prompt per sample: the domain, the passage, "write a question about it and its answer";
              every parsed pair is kept (the same naive arm as benchmarks/tstr_quality.py)
    pipeline  synthwright.run with the shipped defaults (planner, executor, filters with grounding on)

Measured on the kept samples of each arm: groundedness (support >= 0.5: share of the answer's content words in the
passage's best window), extractive share (the answer is a span of the passage, token F1 >= 0.9), answerability (the
question ranks its own passage first among the set's passages with MiniLM or with TF-IDF, the filter's default)
and leaks (the question contains or states its answer). The pipeline's filters use the same measures, so its rates
are partly by construction; the utility figure below is independent of them.

Utility (SQuAD only): the synthetic questions train a retriever over the same passages, scored on the *human* SQuAD
questions of those passages (never shown to either arm). Retriever: GenQ, all-MiniLM-L6-v2 fine-tuned on (question,
passage) pairs with in-batch negatives (see `fine_tune`; fixed before any test score was seen); recall@1 against the
untrained embedder and against a no-teacher baseline (each passage's first sentences as its queries), over
`--retrieval-seeds` fine-tuning runs (and subset draws) an arm, with paired bootstrap intervals of the differences;
and a training-free figure: the untrained embedder with each passage's synthetic questions as its expansions. The SQuAD
file holds dev data only (no train split), so the passages are shared between generation and test, and the test
questions are the human ones. `--retrieval-from DIR` scores retrieval alone on a --keep folder (an unfinished
pipeline run counts with what it had accepted).

Dialogue: recipes/support-dialogue.yaml (5 goals). Naive: one prompt per dialogue naming the roles and the goal, the
same dialogue schema. Measured on kept dialogues: role consistency (no message in the other side's voice, no speaker
labels, no meta talk), goal coverage (the user's messages nearer their own goal than any other, and cosine >= 0.25),
turn bounds, and the recipe's judge rubric with the teacher as judge (goal met, coherence, roles, naturalness).

    python benchmarks/qa_dialogue_quality.py --teacher PATH.gguf [--passages 40] [--squad-per-passage 4]
        [--router-per-chunk 4] [--dialogues-per-goal 4] [--parts qa,dialogue] [--keep DIR] [--retrieval-from DIR]

Results: a table on stdout and benchmarks/qa_dialogue_quality.results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
DATA = Path(os.environ.get("SYNTHWRIGHT_TEXT_DATA", REPO.parent / "shared" / "data" / "text"))
NAIVE_QA = "{description}\n\nPassage:\n\"\"\"\n{context}\n\"\"\"\n\nWrite a question about this passage and its answer."
NAIVE_DIALOGUE = ("{description}\nWrite a conversation between a {user} (the user) and a {assistant} (the assistant)."
                  " The user's goal: {goal}")
SQUAD_RECIPE = {
    "name": "bench-squad-qa", "task": "qa",
    "description": "Questions that readers of encyclopedia articles ask, with answers from the article's text.",
    "documents": {"path": "", "chunk_chars": 4000, "overlap_chars": 0},
    "count": {"per_category": 1},
    "axes": {"personas": ["a student", "a curious reader", "a teacher"], "styles": ["plain", "precise"],
             "lengths": ["a few words", "one sentence"]},
    "sampling": {"temperature": 0.7, "top_p": 0.95, "max_new_tokens": 300, "repetition_penalty": 1.1},
    "filters": {"min_chars": 10, "max_chars": 1500},
    "output": {"formats": ["jsonl"], "splits": {"train": 1.0}},
}


def squad_passages(n: int) -> list[dict]:
    """`n` passages spread over the articles (round-robin), each with its human questions."""
    articles = [json.loads(line) for line in (DATA / "squad" / "dev_subset.jsonl").read_text().splitlines() if line.strip()]
    out, i = [], 0
    while len(out) < n and any(i < len(a["paragraphs"]) for a in articles):
        for a in articles:
            if i < len(a["paragraphs"]) and len(out) < n:
                p = a["paragraphs"][i]
                out.append({"title": a["title"], "context": p["context"], "questions": [q["question"] for q in p["questions"]]})
        i += 1
    return out


def naive_qa(recipe, engine, per_chunk: int, seed: int) -> tuple[list[dict], dict]:
    from synthwright.core.documents import load_chunks
    from synthwright.core.samples import QASample
    from synthwright.engines import ChatRequest

    chunks = load_chunks(recipe.resolve(recipe.documents.path), recipe.documents.chunk_chars, recipe.documents.overlap_chars)
    requests, ids = [], []
    for cid, text in chunks.items():
        for _ in range(per_chunk):
            requests.append(ChatRequest.user(NAIVE_QA.format(description=recipe.description.strip(), context=text),
                                             seed=seed * 100_003 + len(requests)))
            ids.append(cid)
    t0 = time.perf_counter()
    gens = engine.generate(requests, schema=QASample, sampling=recipe.sampling)
    rows = [{"question": g.parsed.question.strip(), "answer": g.parsed.answer.strip(), "context": chunks[cid], "topic": cid}
            for g, cid in zip(gens, ids) if g.parsed is not None]
    return rows, _cost(gens, len(requests), time.perf_counter() - t0)


def naive_dialogue(recipe, engine, per_goal: int, seed: int) -> tuple[list[dict], dict]:
    from synthwright.engines import ChatRequest
    from synthwright.tasks import task_for

    task = task_for("dialogue")
    schema = task.schema(recipe)
    requests, goals = [], []
    for c in recipe.categories:
        for _ in range(per_goal):
            requests.append(ChatRequest.user(NAIVE_DIALOGUE.format(description=recipe.description.strip(), goal=c.description,
                                                                   **recipe.roles), seed=seed * 100_003 + len(requests)))
            goals.append(c.name)
    t0 = time.perf_counter()
    gens = engine.generate(requests, schema=schema, sampling=recipe.sampling)
    rows = [task.record(g.parsed, {"category": goal}) for g, goal in zip(gens, goals) if g.parsed is not None]
    return rows, _cost(gens, len(requests), time.perf_counter() - t0)


def _cost(gens, calls: int, seconds: float) -> dict:
    return {"calls": calls, "tokens": sum(g.prompt_tokens + g.completion_tokens for g in gens),
            "completion_tokens": sum(g.completion_tokens for g in gens), "seconds": round(seconds, 1)}


def pipeline(recipe, engine, out: Path) -> tuple[list[dict], dict]:
    import synthwright
    from synthwright.core.store import RunStore

    t0 = time.perf_counter()
    result = synthwright.run(recipe, out=out, engine=engine, progress=sys.stderr.isatty())
    seconds = time.perf_counter() - t0
    rows = [dict(r) for split in (result.dataset or {}).values() for r in split]
    store = RunStore(out / "run.sqlite")
    try:
        calls, tokens, completion = store.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(prompt_tokens + completion_tokens), 0), COALESCE(SUM(completion_tokens), 0)"
            " FROM calls").fetchone()
        rejected = {}
        for s in store.samples("rejected"):
            rejected[s["filter"]] = rejected.get(s["filter"], 0) + 1
    finally:
        store.close()
    return rows, {"calls": calls, "tokens": tokens, "completion_tokens": completion, "seconds": round(seconds, 1),
                  "rejected_by": rejected}


def qa_rates(rows: list[dict], chunks: dict[str, str]) -> dict:
    from synthwright.evaluators.grounding import ChunkIndex, best_span, leak, support

    if not rows:
        return {"samples": 0}
    index, questions, own = ChunkIndex(chunks), [r["question"] for r in rows], [r["topic"] for r in rows]
    ranks = [min(a, b) for a, b in zip(index.ranks(questions, own), index.lexical_ranks(questions, own))]
    n = len(rows)
    return {"samples": n,
            "grounded": round(sum(support(r["answer"], r["context"]) >= 0.5 for r in rows) / n, 4),
            "extractive": round(sum(best_span(r["answer"], r["context"]).f1 >= 0.9 for r in rows) / n, 4),
            "answerable": round(sum(k == 1 for k in ranks) / n, 4),
            "leaks": round(sum(bool(leak(r["question"], r["answer"])) for r in rows) / n, 4)}


def dialogue_rates(rows: list[dict], recipe) -> dict:
    from synthwright.evaluators.dialogue_check import meta_turn, role_problem
    from synthwright.evaluators.fidelity import LabelPrototypes, label_documents
    from synthwright.tasks.dialogue import user_text

    if not rows:
        return {"samples": 0}
    protos = LabelPrototypes(label_documents(recipe.categories))
    scored = protos.score([user_text(r) for r in rows], [r["intent"] for r in rows])
    n = len(rows)
    roles_ok = [role_problem(r["turns"], recipe.roles) is None and not any(meta_turn(t["content"]) for t in r["turns"])
                for r in rows]
    return {"samples": n, "role_consistent": round(sum(roles_ok) / n, 4),
            "goal_covered": round(sum(own >= 0.25 and own - other >= 0 for own, _, other in scored) / n, 4),
            "turns_in_bounds": round(sum(recipe.turns.min <= len(r["turns"]) <= recipe.turns.max for r in rows) / n, 4)}


def judge_scores(rows: list[dict], recipe, engine) -> dict:
    """Mean 1-5 scores and yes-shares of the recipe's judge rubric (the same teacher as judge) over kept dialogues."""
    from synthwright.evaluators.filters import Candidate
    from synthwright.evaluators.judge import Judge
    from synthwright.tasks import task_for

    if not rows:
        return {}
    task = task_for(recipe.task)
    judged = recipe.model_copy(update={"judge": recipe.judge.model_copy(update={"enabled": True, "min_score": 1})})
    cands = [Candidate(data=r, text=task.text_of(r), category=r["intent"], slot_id=str(i)) for i, r in enumerate(rows)]
    Judge(judged, engine).evaluate(cands)
    verdicts = [c.features["verdict"].verdict for c in cands if c.features["verdict"].verdict]
    out: dict = {"judged": len(cands), "usable": len(verdicts)}
    for name, value in (verdicts[0] if verdicts else {}).items():
        if isinstance(value, (bool, int)):
            out[name] = round(sum(float(v[name]) for v in verdicts) / len(verdicts), 3)
    return out


def sentence_queries(passages: list[dict], per_passage: int) -> list[dict]:
    """A baseline with no teacher: a passage's first sentences as its training queries."""
    import re

    return [{"question": s, "context": p["context"]} for p in passages
            for s in re.split(r"(?<=[.!?])\s+", p["context"])[:per_passage]]


def _unique_passage_batches(pairs: list[tuple[str, int]], size: int, rng) -> list[list[tuple[str, int]]]:
    """Shuffled batches in which no passage appears twice (its other questions would be false negatives)."""
    pending = pairs[:]
    rng.shuffle(pending)
    batches = []
    while pending:
        batch, used, rest = [], set(), []
        for q, i in pending:
            (rest if i in used or len(batch) == size else batch).append((q, i))
            used.add(i)
        batches.append(batch)
        pending = rest
    return batches


def fine_tune(pairs: list[tuple[str, int]], contexts: list[str], seed: int):
    """GenQ: all-MiniLM-L6-v2 fine-tuned on (synthetic question, its passage) with in-batch negatives
    (MultipleNegativesRankingLoss: cosine x 20, cross-entropy), AdamW lr 2e-5, batch 16, 2 epochs, fp32."""
    import random

    import torch
    from sentence_transformers import SentenceTransformer

    from synthwright.evaluators.embed import minilm_path

    torch.manual_seed(seed)
    model = SentenceTransformer(str(minilm_path()), device="cpu")
    if not pairs:
        return model
    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5)
    model.train()
    for _ in range(2):
        for batch in _unique_passage_batches(pairs, 16, rng):
            q = model(model.preprocess([t for t, _ in batch]))["sentence_embedding"]
            p = model(model.preprocess([contexts[i] for _, i in batch]))["sentence_embedding"]
            scores = torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(p, dim=1).T * 20.0
            loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(batch)))
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    return model


def _hits(model, contexts: list[str], tests: list[tuple[str, int]], expansions: list[tuple[str, int]] = ()):
    """Per test question: is its passage the top match? With `expansions` (question, passage index), a passage
    scores the best cosine of itself and its synthetic questions (document expansion, as doc2query)."""
    import numpy as np

    qv = model.encode([q for q, _ in tests], normalize_embeddings=True, batch_size=64)
    scores = qv @ model.encode(contexts, normalize_embeddings=True, batch_size=16).T
    if expansions:
        ev = qv @ model.encode([q for q, _ in expansions], normalize_embeddings=True, batch_size=64).T
        owner = np.array([i for _, i in expansions])
        for i in np.unique(owner):
            scores[:, i] = np.maximum(scores[:, i], ev[:, owner == i].max(axis=1))
    return scores.argmax(axis=1) == np.array([i for _, i in tests])


def retrieval_scores(passages: list[dict], row_sets: list[list[dict]] | None, seeds: int) -> dict:
    """recall@1 on the human questions: untrained MiniLM with the synthetic questions as passage expansions, and
    MiniLM fine-tuned on them (GenQ); one run a seed, run k on row_sets[k] (several draws of a subset, or one set
    repeated). The per-question hit rates are kept for paired comparisons between arms."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from synthwright.evaluators.embed import minilm_path

    contexts = [p["context"] for p in passages]
    index = {c: i for i, c in enumerate(contexts)}
    tests = [(q, i) for i, p in enumerate(passages) for q in p["questions"]]
    base = SentenceTransformer(str(minilm_path()), device="cpu")
    if not row_sets:
        hits = _hits(base, contexts, tests).astype(float)
        return {"test_questions": len(tests), "train_pairs": 0, "expanded": round(float(hits.mean()), 4),
                "fine_tuned": {"mean": round(float(hits.mean()), 4), "sd": 0.0, "runs": []},
                "expanded_hits": hits.tolist(), "fine_tuned_hits": hits.tolist()}
    pairs = [[(r["question"], index[r["context"]]) for r in rows if r["context"] in index] for rows in row_sets]
    distinct = list({tuple(p): p for p in pairs}.values())
    expanded = np.mean([_hits(base, contexts, tests, p) for p in distinct], axis=0)
    tuned = np.array([_hits(fine_tune(pairs[k % len(pairs)], contexts, k), contexts, tests) for k in range(seeds)],
                     dtype=float)
    runs = tuned.mean(axis=1)
    return {"test_questions": len(tests), "train_pairs": len(pairs[0]), "draws": len(distinct),
            "expanded": round(float(expanded.mean()), 4),
            "fine_tuned": {"mean": round(float(runs.mean()), 4), "sd": round(float(runs.std(ddof=1)), 4) if seeds > 1
                           else 0.0, "runs": [round(float(r), 4) for r in runs]},
            "expanded_hits": np.round(expanded, 3).tolist(), "fine_tuned_hits": np.round(tuned.mean(axis=0), 3).tolist()}


def paired_difference(a: list[float], b: list[float], seed: int = 0, draws: int = 10_000) -> dict:
    """Mean of a − b over the same test questions, with a 95% bootstrap interval (questions resampled)."""
    import numpy as np

    d = np.array(a) - np.array(b)
    boot = np.random.default_rng(seed).choice(d, size=(draws, len(d))).mean(axis=1)
    return {"mean": round(float(d.mean()), 4), "low": round(float(np.quantile(boot, 0.025)), 4),
            "high": round(float(np.quantile(boot, 0.975)), 4)}


def retrieval_arms(naive: list[dict], pipeline_rows: list[dict], passages: list[dict], chunks: dict[str, str],
                   seeds: int, only: set[str] | None = None) -> dict[str, list[list[dict]] | None]:
    """The training sets compared: each arm as one row set a run (subsets drawn again for each run); `only` keeps the
    arms of these keys (and the untrained embedder)."""
    import random

    from synthwright.evaluators.grounding import ChunkIndex

    def draws(rows, k):
        return [random.Random(s).sample(rows, min(k, len(rows))) for s in range(seeds)]

    per = max(1, round(len(naive) / len(passages)))
    index, questions, own = ChunkIndex(chunks), [r["question"] for r in naive], [r["topic"] for r in naive]
    top1 = [r for r, a, b in zip(naive, index.ranks(questions, own), index.lexical_ranks(questions, own)) if min(a, b) == 1]
    arms = [("untrained", "untrained", None), ("sentences", "passage sentences", [sentence_queries(passages, per)]),
            ("naive", "naive", [naive]), ("naive-drawn", f"naive, {len(pipeline_rows)} drawn", draws(naive, len(pipeline_rows))),
            ("pipeline", "pipeline", [pipeline_rows]), ("rule-drawn", f"naive, {len(top1)} drawn", draws(naive, len(top1))),
            ("rule", f"naive, the {len(top1)} whose passage ranks first (the answerability rule)", [top1])]
    return {name: sets for key, name, sets in arms if key == "untrained" or only is None or key in only}


def score_retrieval(arms: dict, passages: list[dict], seeds: int, results: dict) -> None:
    done = results["retrieval"]
    for arm, row_sets in arms.items():  # figures for the same training sets and seeds are kept (seeded, same result)
        key = [seeds, *(len(r) for r in row_sets or [])]
        if done.get(arm, {}).get("key") != key:
            done[arm] = {**retrieval_scores(passages, row_sets, seeds), "key": key}
    base = done["untrained"]
    comparisons = results.setdefault("retrieval_differences", {})
    for arm, r in done.items():
        if arm == "untrained":
            continue
        for measure in ("expanded", "fine_tuned"):
            comparisons[f"{arm} − untrained, {measure}"] = paired_difference(r[f"{measure}_hits"],
                                                                            base[f"{measure}_hits"])
            if arm == "pipeline" and "naive" in done:
                drawn = next((a for a in done if a.startswith("naive, ") and a.endswith(" drawn")
                              and done[a]["train_pairs"] == r["train_pairs"]), "naive")
                for other in dict.fromkeys(("naive", drawn)):
                    comparisons[f"pipeline − {other}, {measure}"] = paired_difference(r[f"{measure}_hits"],
                                                                                     done[other][f"{measure}_hits"])


def retrieval_from(kept: Path, passages: list[dict], seeds: int, results: dict, only: set[str] | None = None) -> None:
    """Retrieval for each arm's SQuAD questions in a --keep folder (see `retrieval_arms`)."""
    from synthwright.core.documents import load_chunks
    from synthwright.core.store import RunStore

    naive = [json.loads(line) for line in (kept / "qa-squad-naive.jsonl").read_text().splitlines() if line.strip()]
    store = RunStore.reader(kept / "qa-squad" / "run.sqlite")
    try:
        pipeline_rows = [s["data"] for s in store.samples("accepted")]
    finally:
        store.close()
    chunks = load_chunks(kept / "squad-docs", SQUAD_RECIPE["documents"]["chunk_chars"], 0)
    squad = results["qa"].setdefault("squad", {})
    if "pipeline" not in squad:  # the run did not finish: its accepted samples so far
        squad["pipeline"] = {**qa_rates(pipeline_rows, chunks), "partial": True}
    score_retrieval(retrieval_arms(naive, pipeline_rows, passages, chunks, seeds, only), passages, seeds, results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default=os.environ.get("SYNTHWRIGHT_BENCH_TEACHER") or "default")
    parser.add_argument("--parts", default="qa,dialogue")
    parser.add_argument("--arms", default="naive,pipeline", help="a rerun of one arm keeps the other's figures")
    parser.add_argument("--passages", type=int, default=40, help="SQuAD passages")
    parser.add_argument("--squad-per-passage", type=int, default=4, help="questions per SQuAD passage and arm")
    parser.add_argument("--router-per-chunk", type=int, default=4)
    parser.add_argument("--qa-sets", default="router,squad", help="the QA document sets to run")
    parser.add_argument("--dialogues-per-goal", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--retrieval-seeds", type=int, default=5, help="fine-tuning runs (and subset draws) an arm")
    parser.add_argument("--retrieval-arms", default=None,
                        help="comma-separated arms to score: sentences, naive, naive-drawn, pipeline, rule-drawn, rule"
                             " (default: all)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", default=str(ROOT / "qa_dialogue_quality.results.json"))
    parser.add_argument("--keep", default=None, help="keep the run directories under this folder")
    parser.add_argument("--retrieval-from", default=None,
                        help="only score retrieval, on the SQuAD questions a --keep folder holds (an unfinished"
                             " pipeline run counts with the samples it had accepted)")
    args = parser.parse_args()

    import transformers
    from rich.console import Console
    from rich.table import Table

    import synthwright
    from synthwright.core.documents import load_chunks

    transformers.utils.logging.set_verbosity_error()
    console = Console(stderr=True)
    engine = synthwright.load_engine(args.teacher, batch_size=args.batch_size)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="qa-dialogue-"))
    results: dict = {"teacher": engine.describe(), "seed": args.seed, "qa": {}, "dialogue": {}, "retrieval": {}}
    save = lambda: Path(args.json).write_text(json.dumps(results, indent=2))  # noqa: E731
    parts = set(args.parts.split(","))
    if Path(args.json).is_file():  # a run of some parts keeps the other parts' figures from the same teacher
        previous = json.loads(Path(args.json).read_text())
        if previous.get("teacher") == results["teacher"]:
            for field in ("qa", "retrieval", "dialogue"):
                results[field] = previous.get(field, {})

    if args.retrieval_from:
        only = set(args.retrieval_arms.split(",")) if args.retrieval_arms else None
        retrieval_from(Path(args.retrieval_from), squad_passages(args.passages), args.retrieval_seeds, results, only)
        save()
        parts = set()

    if "qa" in parts:
        passages = squad_passages(args.passages)
        docs = work / "squad-docs"
        docs.mkdir(parents=True, exist_ok=True)
        for i, p in enumerate(passages):
            (docs / f"p{i:03d}.md").write_text(p["context"] + "\n", encoding="utf-8")
        squad = synthwright.load_recipe({**SQUAD_RECIPE, "documents": {**SQUAD_RECIPE["documents"], "path": str(docs)},
                                         "count": {"per_category": args.squad_per_passage}, "seed": args.seed})
        router = synthwright.load_recipe(REPO / "recipes" / "support-qa.yaml")
        router = router.model_copy(update={"count": router.count.model_copy(update={"per_category": args.router_per_chunk}),
                                           "seed": args.seed})
        squad_rows: dict[str, list[dict]] = {}
        arms = [a for a in ("naive", "pipeline") if a in args.arms.split(",")]
        for name, recipe, per in (("router", router, args.router_per_chunk), ("squad", squad, args.squad_per_passage)):
            if name not in args.qa_sets.split(","):
                continue
            chunks = load_chunks(recipe.resolve(recipe.documents.path), recipe.documents.chunk_chars,
                                 recipe.documents.overlap_chars)
            entry = results["qa"].setdefault(name, {"chunks": len(chunks)})
            for arm in arms:
                console.print(f"[bold]QA {name} / {arm}[/bold]")
                rows, cost = (naive_qa(recipe, engine, per, args.seed) if arm == "naive"
                              else pipeline(recipe, engine, work / f"qa-{name}"))
                (work / f"qa-{name}-{arm}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
                entry[arm] = {**qa_rates(rows, chunks), **cost}
                if name == "squad":
                    squad_rows[arm] = rows
                console.print(f"  {entry[arm]}")
                save()
        if len(squad_rows) == 2:
            chunks = load_chunks(docs, SQUAD_RECIPE["documents"]["chunk_chars"], 0)
            score_retrieval(retrieval_arms(squad_rows["naive"], squad_rows["pipeline"], passages, chunks,
                                           args.retrieval_seeds), passages, args.retrieval_seeds, results)
            save()
        elif "squad" in args.qa_sets.split(","):
            console.print("retrieval needs both arms' SQuAD questions: run both, or --retrieval-from a --keep folder")

    if "dialogue" in parts:
        recipe = synthwright.load_recipe(REPO / "recipes" / "support-dialogue.yaml")
        recipe = recipe.model_copy(update={"count": recipe.count.model_copy(update={"per_category": args.dialogues_per_goal}),
                                           "seed": args.seed})
        for arm in [a for a in ("naive", "pipeline") if a in args.arms.split(",")]:
            console.print(f"[bold]dialogue / {arm}[/bold]")
            rows, cost = (naive_dialogue(recipe, engine, args.dialogues_per_goal, args.seed) if arm == "naive"
                          else pipeline(recipe, engine, work / "dialogue"))
            results["dialogue"][arm] = {**dialogue_rates(rows, recipe), **cost,
                                        "judge": judge_scores(rows, recipe, engine)}
            console.print(f"  {results['dialogue'][arm]}")
            save()

    spec = results["teacher"].get("spec") if isinstance(results["teacher"], dict) else results["teacher"]
    table = Table(title=f"QA and dialogue, naive vs pipeline — teacher {spec}")
    for col in ("part", "arm", "samples", "grounded", "extractive", "answerable", "leaks", "roles kept", "on goal", "tokens"):
        table.add_column(col, justify="left" if col in ("part", "arm") else "right")
    pct = lambda r, k: f"{r[k]:.0%}" if k in r else ""  # noqa: E731
    for name, entry in results["qa"].items():
        for arm in ("naive", "pipeline"):
            if arm in entry:
                r = entry[arm]
                table.add_row(f"QA {name}", arm, str(r["samples"]), pct(r, "grounded"), pct(r, "extractive"),
                              pct(r, "answerable"), pct(r, "leaks"), "", "", str(r.get("tokens", "")))
    for arm, r in results["dialogue"].items():
        table.add_row("dialogue", arm, str(r["samples"]), "", "", "", "", pct(r, "role_consistent"), pct(r, "goal_covered"),
                      str(r["tokens"]))
    Console().print(table)
    if results["retrieval"]:
        table = Table(title="retrieval recall@1 on the human SQuAD questions of the same passages")
        for col in ("training questions", "pairs", "expanded (untrained MiniLM)", "fine-tuned, mean ± sd"):
            table.add_column(col, justify="left" if col == "training questions" else "right")
        for arm, r in results["retrieval"].items():
            ft = r["fine_tuned"]
            table.add_row(arm, str(r["train_pairs"]), f"{r['expanded']:.3f}", f"{ft['mean']:.3f} ± {ft['sd']:.3f}")
        Console().print(table)
        for name, d in results.get("retrieval_differences", {}).items():
            print(f"{name}: {d['mean']:+.3f} (95% bootstrap interval {d['low']:+.3f} to {d['high']:+.3f})")

if __name__ == "__main__":
    main()
