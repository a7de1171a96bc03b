"""The run store: one SQLite file that is the single source of truth for a run.

It holds the frozen recipe, the plan, every model call, every sample with its slot,
provenance and fate. A batch is written in one transaction, so `kill -9` loses at most the
batch in flight, and a unique index makes a duplicate accepted sample impossible.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

from synthwright.core.errors import ConfigError
from synthwright.core.records import LoopDecision, LoopStep, Replan
from synthwright.core.store_rows import StoredVerdict

MIGRATIONS: list[tuple[str, str]] = [
    ("001_initial", """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE slots (
            slot_id TEXT PRIMARY KEY, position INTEGER NOT NULL, category TEXT NOT NULL,
            quota INTEGER NOT NULL, data TEXT NOT NULL);
        CREATE TABLE calls (
            call_id INTEGER PRIMARY KEY, slot_id TEXT NOT NULL, round INTEGER NOT NULL, seed INTEGER NOT NULL,
            request TEXT NOT NULL, response TEXT NOT NULL, error TEXT, finish_reason TEXT,
            prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, seconds REAL NOT NULL,
            engine TEXT NOT NULL, created REAL NOT NULL);
        CREATE TABLE samples (
            sample_id INTEGER PRIMARY KEY, call_id INTEGER NOT NULL REFERENCES calls(call_id),
            slot_id TEXT NOT NULL, category TEXT NOT NULL, data TEXT NOT NULL, dedup_key TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('accepted', 'rejected')),
            filter TEXT, reason TEXT, created REAL NOT NULL);
        CREATE UNIQUE INDEX samples_one_accepted_text ON samples(dedup_key) WHERE status = 'accepted';
        CREATE INDEX samples_slot ON samples(slot_id, status);
        CREATE INDEX calls_slot ON calls(slot_id);
    """),
    ("002_verdicts", """
        CREATE TABLE verdicts (
            sample_id INTEGER PRIMARY KEY REFERENCES samples(sample_id), judge TEXT NOT NULL,
            data TEXT NOT NULL, passed INTEGER NOT NULL, created REAL NOT NULL);
    """),
    ("003_phases_and_quality_loop", """
        ALTER TABLE calls ADD COLUMN phase TEXT NOT NULL DEFAULT 'executor';
        CREATE TABLE loop_steps (
            step INTEGER PRIMARY KEY, signal TEXT NOT NULL, decision TEXT NOT NULL, created REAL NOT NULL);
    """),
    ("004_embeddings", """
        CREATE TABLE embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL);
    """),
]


class RunStore:
    """Open (creating or migrating) the store at `path`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._held: list[Any] = []
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            self._check_schema()  # before the PRAGMAs below, which would change a file that is not ours
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException as exc:
            self.db.close()
            if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
                raise ConfigError(f"'{self.path}' is not a synthwright run store (SQLite says: {exc}); pass the folder"
                                  " a `synthwright run` wrote, or move the file away to start a new run there.") from None
            raise

    @classmethod
    def reader(cls, path: str | Path) -> "RunStore":
        """Open an existing store read-only (a dashboard beside a running writer): no migration, no write."""
        self = cls.__new__(cls)
        self.path = Path(path)
        self._held = []
        if not self.path.is_file():
            raise ConfigError(f"'{self.path}' does not exist; pass the folder a `synthwright run` wrote.")
        self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                  check_same_thread=False)
        try:
            self._check_schema()
        except BaseException:
            self.db.close()
            raise
        self.db.row_factory = sqlite3.Row
        return self

    def _check_schema(self) -> None:
        """A file that is not SQLite, SQLite that is not a run store, or a store from a newer synthwright: ConfigError."""
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return  # a new (or empty) file: it becomes a store
        if "migrations" not in tables:
            raise ConfigError(f"'{self.path}' is an SQLite database but not a synthwright run store (it has tables"
                              f" {', '.join(sorted(tables)[:3])}, no migrations); pass the folder a `synthwright run`"
                              " wrote, or move the file away to start a new run there.")
        unknown = sorted({r[0] for r in self.db.execute("SELECT name FROM migrations")} - {n for n, _ in MIGRATIONS})
        if unknown:
            from synthwright import __version__

            raise ConfigError(f"'{self.path}' was written by a newer synthwright (schema {', '.join(unknown)}, unknown"
                              f" to {__version__}); upgrade synthwright (pip install -U synthwright) to read or resume it.")

    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
        done = {r[0] for r in self.db.execute("SELECT name FROM migrations")}
        for name, sql in MIGRATIONS:
            if name not in done:
                with self.transaction():
                    for statement in filter(str.strip, sql.split(";")):
                        self.db.execute(statement)
                    self.db.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))

    def transaction(self):
        return _Transaction(self.db)

    def hold(self, resource: Any) -> None:
        """Keep `resource` (e.g. the run directory's writer lock) until the store closes, then `release()` it."""
        self._held.append(resource)

    def close(self) -> None:
        self.db.close()
        while self._held:
            self._held.pop().release()

    # meta -----------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def put(self, key: str, value: Any) -> None:
        self.db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (key, json.dumps(value)))

    # plan -----------------------------------------------------------------
    def save_plan(self, plan: dict[str, Any], slots: list[dict[str, Any]]) -> None:
        with self.transaction():
            self.put("plan", plan)
            self._add_slots(slots)

    def slots(self) -> list[dict[str, Any]]:
        """Every slot with its current quota (the quality loop moves quota between slots)."""
        return [{**json.loads(r[0]), "quota": r[1]} for r in self.db.execute("SELECT data, quota FROM slots ORDER BY position")]

    def _add_slots(self, slots: list[dict[str, Any]]) -> None:
        start = self.db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM slots").fetchone()[0]
        self.db.executemany("INSERT INTO slots VALUES (?, ?, ?, ?, ?)",
                            [(s["slot_id"], start + i, s["category"], s["quota"], json.dumps(s)) for i, s in enumerate(slots)])

    def accepted_per_slot(self) -> dict[str, int]:
        rows = self.db.execute("SELECT slot_id, COUNT(*) FROM samples WHERE status = 'accepted' GROUP BY slot_id")
        return {r[0]: r[1] for r in rows}

    def missing_per_slot(self) -> dict[str, int]:
        accepted = self.accepted_per_slot()
        rows = self.db.execute("SELECT slot_id, quota FROM slots ORDER BY position")
        return {r[0]: r[1] - accepted.get(r[0], 0) for r in rows if r[1] > accepted.get(r[0], 0)}

    def accepted_keys(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT dedup_key FROM samples WHERE status = 'accepted'")}

    def calls_per_slot(self, round_: int) -> dict[str, int]:
        """Requests already recorded for each slot in `round_` (a resumed round continues their seeds)."""
        rows = self.db.execute("SELECT slot_id, COUNT(*) FROM calls WHERE round = ? GROUP BY slot_id", (round_,))
        return {r[0]: r[1] for r in rows}

    def rounds_done(self) -> int:
        return self.get("rounds_done", 0)

    def close_open_round(self) -> None:
        """Count a round whose calls were all recorded as done, though the process stopped before it said so."""
        last = self.db.execute("SELECT MAX(round) FROM calls WHERE phase = 'executor'").fetchone()[0]
        if last is not None and last >= self.rounds_done():
            self.put("rounds_done", last + 1)

    # batches --------------------------------------------------------------
    def record_batch(self, calls: list[dict[str, Any]], samples: list[list[dict[str, Any]]]) -> None:
        """Write calls and, for each call, its samples with their fates, in one transaction.

        A sample may carry a judge `verdict` (a StoredVerdict); it goes to the verdicts table.
        """
        now = time.time()
        with self.transaction():
            for call, call_samples in zip(calls, samples):
                cur = self.db.execute(
                    "INSERT INTO calls (slot_id, round, seed, request, response, error, finish_reason, prompt_tokens,"
                    " completion_tokens, seconds, engine, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (call["slot_id"], call["round"], call["seed"], json.dumps(call["request"]), call["response"],
                     call.get("error"), call.get("finish_reason"), call["prompt_tokens"], call["completion_tokens"],
                     call["seconds"], json.dumps(call["engine"]), now))
                for s in call_samples:
                    sample = self.db.execute(
                        "INSERT INTO samples (call_id, slot_id, category, data, dedup_key, status, filter, reason, created)"
                        " VALUES (?,?,?,?,?,?,?,?,?)",
                        (cur.lastrowid, call["slot_id"], s["category"], json.dumps(s["data"]), s["dedup_key"],
                         s["status"], s.get("filter"), s.get("reason"), now))
                    verdict = s.get("verdict")
                    if verdict is not None:
                        self.db.execute("INSERT INTO verdicts VALUES (?, ?, ?, ?, ?)",
                                        (sample.lastrowid, verdict.judge, json.dumps(verdict.data()),
                                         int(verdict.passed), now))

    def add_verdicts(self, verdicts: list[tuple[int, StoredVerdict]]) -> None:
        """Verdicts on samples already stored (a judge run after generation), in one transaction."""
        now = time.time()
        with self.transaction():
            self.db.executemany("INSERT INTO verdicts VALUES (?, ?, ?, ?, ?)",
                                [(i, v.judge, json.dumps(v.data()), int(v.passed), now) for i, v in verdicts])

    def record_calls(self, phase: str, requests: list[dict[str, Any]], gens: list[Any], engine: dict[str, Any]) -> None:
        """Model calls that make no sample (planner, quality loop), in one transaction."""
        now = time.time()
        with self.transaction():
            self.db.executemany(
                "INSERT INTO calls (slot_id, round, seed, request, response, error, finish_reason, prompt_tokens,"
                " completion_tokens, seconds, engine, created, phase) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [("", -1, r.get("seed") or 0, json.dumps(r), g.text, g.error, g.finish_reason, g.prompt_tokens,
                  g.completion_tokens, g.seconds, json.dumps(engine), now, phase) for r, g in zip(requests, gens)])

    def responses(self, phase: str) -> dict[str, str]:
        """(seed, last message) → response of the calls of `phase`, so a killed phase resumes with what it had."""
        out = {}
        for request, response in self.db.execute("SELECT request, response FROM calls WHERE phase = ?", (phase,)):
            r = json.loads(request)
            out[f"{r.get('seed')}\x1f{r['messages'][-1]['content']}"] = response
        return out

    # embeddings -----------------------------------------------------------
    def embeddings(self, keys: list[str]) -> dict[str, bytes]:
        """Stored embedding vectors (raw float32 bytes) by key; a store without the table has none."""
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            try:
                rows = self.db.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({','.join('?' * len(part))})", part)
            except sqlite3.OperationalError:  # a read-only store older than the table
                return found
            found.update({r[0]: r[1] for r in rows})
        return found

    def save_embeddings(self, rows: list[tuple[str, bytes]]) -> None:
        with self.transaction():
            self.db.executemany("INSERT OR IGNORE INTO embeddings VALUES (?, ?)", rows)

    # quality loop ---------------------------------------------------------
    def loop_steps(self) -> list[LoopStep]:
        return [LoopStep(step=r[0], signal=json.loads(r[1]), decision=LoopDecision.model_validate_json(r[2]))
                for r in self.db.execute("SELECT step, signal, decision FROM loop_steps ORDER BY step")]

    def save_loop_step(self, step: int, signal: dict[str, Any], made: Replan) -> None:
        """One step of the quality loop in one transaction: its signal and decision, the samples it
        sets aside (or, undoing a step, restores), the quota it moves between slots and the slots it adds."""
        decision, new_slots, quota_moves, rejections, restore = (made.decision, made.new_slots, made.quota_moves,
                                                                 made.rejections, made.restore)
        with self.transaction():
            self.db.execute("INSERT INTO loop_steps VALUES (?, ?, ?, ?)",
                            (step, json.dumps(signal), decision.model_dump_json(exclude_defaults=True), time.time()))
            taken = {r[0] for r in self.db.execute("SELECT dedup_key FROM samples WHERE status = 'accepted'")}
            for sample_id, key in self.db.execute(
                    f"SELECT sample_id, dedup_key FROM samples WHERE filter = 'quality_loop' AND sample_id IN"
                    f" ({','.join('?' * len(restore))})", list(restore)).fetchall() if restore else []:
                if key not in taken:  # a later sample with the same text keeps its place
                    taken.add(key)
                    self.db.execute("UPDATE samples SET status = 'accepted', filter = NULL, reason = NULL"
                                    " WHERE sample_id = ?", (sample_id,))
            self.db.executemany("UPDATE samples SET status = 'rejected', filter = 'quality_loop', reason = ?"
                                " WHERE sample_id = ? AND status = 'accepted'", [(r, i) for i, r in rejections])
            self.db.executemany("UPDATE slots SET quota = quota + ? WHERE slot_id = ?",
                                [(delta, sid) for sid, delta in quota_moves.items()])
            self._add_slots(new_slots)

    def reject(self, sample_ids: Iterable[int], filter_name: str, reasons: Iterable[str]) -> None:
        with self.transaction():
            self.db.executemany("UPDATE samples SET status = 'rejected', filter = ?, reason = ? WHERE sample_id = ?",
                                [(filter_name, r, i) for i, r in zip(sample_ids, reasons)])

    # reading --------------------------------------------------------------
    def samples(self, status: str | None = None) -> list[dict[str, Any]]:
        query = ("SELECT s.sample_id, s.slot_id, s.category, s.data, s.status, s.filter, s.reason, c.round, c.seed,"
                 " c.engine, c.call_id FROM samples s JOIN calls c USING (call_id)")
        args: tuple = ()
        if status is not None:
            query += " WHERE s.status = ?"
            args = (status,)
        rows = []
        for r in self.db.execute(query + " ORDER BY s.sample_id", args):
            row = dict(r)
            row["data"] = json.loads(row["data"])
            row["engine"] = json.loads(row["engine"])
            rows.append(row)
        return rows

    def verdicts(self) -> list[StoredVerdict]:
        """Every judge verdict with its sample's category and fate, in sample order."""
        rows = self.db.execute("SELECT v.sample_id, v.judge, v.data, v.passed, s.category, s.status, s.filter"
                               " FROM verdicts v JOIN samples s USING (sample_id) ORDER BY v.sample_id")
        return [StoredVerdict.model_validate({**_json_object(r["data"]), "sample_id": r["sample_id"], "judge": r["judge"],
                                              "passed": bool(r["passed"]), "category": r["category"],
                                              "status": r["status"], "filter": r["filter"]}) for r in rows]

    def accepted_with_requests(self) -> list[dict[str, Any]]:
        """Every accepted sample with the request that produced it and the engine spec, in acceptance order."""
        rows = self.db.execute("SELECT s.sample_id, s.slot_id, s.category, c.request, s.data, c.engine FROM samples s"
                               " JOIN calls c USING (call_id) WHERE s.status = 'accepted' ORDER BY s.sample_id")
        return [{"sample_id": r[0], "slot_id": r[1], "category": r[2], "request": json.loads(r[3]),
                 "data": json.loads(r[4]), "engine": json.loads(r[5]).get("spec", "")} for r in rows]

    def executor_samples(self) -> list[dict[str, Any]]:
        """Every executor sample with its call's request, response and engine spec, its fate and its judge
        verdict (None when it was not judged), in sample order: what preference pairs are built from."""
        verdicts = {v.sample_id: v for v in self.verdicts()}
        rows = self.db.execute("SELECT s.sample_id, s.slot_id, s.category, s.data, s.status, s.filter, s.reason,"
                               " c.request, c.response, c.engine, c.round FROM samples s JOIN calls c USING (call_id)"
                               " WHERE c.phase = 'executor' ORDER BY s.sample_id")
        return [{"sample_id": r[0], "slot_id": r[1], "category": r[2], "data": _json_object(r[3]), "status": r[4],
                 "filter": r[5], "reason": r[6], "request": json.loads(r[7]), "response": r[8],
                 "engine": json.loads(r[9]).get("spec", ""), "round": r[10], "verdict": verdicts.get(r[0])}
                for r in rows]

    def executor_calls(self) -> list[tuple[str, str]]:
        """(slot id, engine spec) of every executor call, in call order."""
        return [(slot_id, json.loads(engine).get("spec", ""))
                for slot_id, engine in self.db.execute("SELECT slot_id, engine FROM calls WHERE phase = 'executor'"
                                                       " ORDER BY call_id")]

    def stored_responses(self) -> list[dict[str, Any]]:
        """Every executor call with its one sample and that sample's verdict, in call order (for a replay)."""
        verdicts = {v.sample_id: v for v in self.verdicts()}
        rows = self.db.execute("SELECT s.sample_id, s.slot_id, s.filter, s.reason, c.response, c.finish_reason, c.error"
                               " FROM samples s JOIN calls c USING (call_id) WHERE c.phase = 'executor'"
                               " ORDER BY c.call_id, s.sample_id")
        return [{"sample_id": r[0], "slot_id": r[1], "filter": r[2], "reason": r[3], "response": r[4],
                 "finish_reason": r[5], "error": r[6], "verdict": verdicts.get(r[0])} for r in rows]

    def apply_replay(self, fates: list[dict[str, Any]], verdicts: list[tuple[int, StoredVerdict]]) -> None:
        """New fates for stored samples and their verdicts, in one transaction; sample ids stay the same."""
        now = time.time()
        with self.transaction():
            self.db.execute("UPDATE samples SET status = 'rejected' WHERE status = 'accepted'")
            self.db.executemany(
                "UPDATE samples SET status = ?, filter = ?, reason = ?, data = ?, dedup_key = ?, category = ? WHERE sample_id = ?",
                [(f["status"], f.get("filter"), f.get("reason"), json.dumps(f["data"]), f["dedup_key"], f["category"],
                  f["sample_id"]) for f in fates])
            self.db.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?)",
                                [(i, v.judge, json.dumps(v.data()), int(v.passed), now) for i, v in verdicts])

    def phase_requests(self, phase: str) -> list[dict[str, Any]]:
        """The requests of every call of `phase`, in call order."""
        return [json.loads(r[0]) for r in self.db.execute("SELECT request FROM calls WHERE phase = ? ORDER BY call_id",
                                                          (phase,))]

    def call_stats(self) -> dict[str, Any]:
        r = self.db.execute("SELECT COUNT(*), COALESCE(SUM(prompt_tokens),0), COALESCE(SUM(completion_tokens),0),"
                            " COALESCE(SUM(error IS NOT NULL),0) FROM calls").fetchone()
        phases = {p: {"calls": n, "prompt_tokens": pt, "completion_tokens": ct} for p, n, pt, ct in self.db.execute(
            "SELECT phase, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens) FROM calls GROUP BY phase ORDER BY phase")}
        return {"calls": r[0], "prompt_tokens": r[1], "completion_tokens": r[2], "failed_calls": r[3], "phases": phases}

    def token_usage(self) -> list[dict[str, Any]]:
        """Calls and tokens per (phase, engine spec): the calls table's phases, and the judge's from its verdicts."""
        rows = [{"phase": r[0], "engine": r[1] or "", "calls": r[2], "prompt_tokens": r[3], "completion_tokens": r[4]}
                for r in self.db.execute(
                    "SELECT phase, json_extract(engine, '$.spec'), COUNT(*), COALESCE(SUM(prompt_tokens), 0),"
                    " COALESCE(SUM(completion_tokens), 0) FROM calls GROUP BY 1, 2 ORDER BY 1, 2")]
        rows += [{"phase": "judge", "engine": r[0] or "", "calls": r[1], "prompt_tokens": r[2], "completion_tokens": r[3]}
                 for r in self.db.execute(
                     "SELECT json_extract(data, '$.engine.spec'), COUNT(*),"
                     " COALESCE(SUM(json_extract(data, '$.prompt_tokens')), 0),"
                     " COALESCE(SUM(json_extract(data, '$.completion_tokens')), 0) FROM verdicts GROUP BY 1 ORDER BY 1")]
        return rows

    def latest_samples(self, limit: int = 50, *, status: str | None = None, category: str | None = None,
                       query: str | None = None) -> list[dict[str, Any]]:
        """The newest samples first, optionally of one status and category, whose data or reason holds `query`."""
        where, args = [], []
        if status:
            where.append("s.status = ?")
            args.append(status)
        if category:
            where.append("s.category = ?")
            args.append(category)
        if query:
            where.append("(instr(lower(s.data), lower(?)) > 0 OR instr(lower(COALESCE(s.reason, '')), lower(?)) > 0)")
            args += [query, query]
        sql = ("SELECT s.sample_id, s.category, s.status, s.filter, s.reason, s.data, s.created FROM samples s"
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY s.sample_id DESC LIMIT ?")
        return [{**dict(r), "data": _json_object(r["data"])} for r in self.db.execute(sql, [*args, limit])]

    def activity_since(self, since: float) -> dict[str, Any]:
        """Samples accepted and executor completion tokens stored after `since`, and when the first of them was."""
        first, accepted = self.db.execute("SELECT MIN(created), COALESCE(SUM(status = 'accepted'), 0) FROM samples"
                                          " WHERE created > ?", (since,)).fetchone()
        tokens = self.db.execute("SELECT COALESCE(SUM(completion_tokens), 0) FROM calls WHERE phase = 'executor'"
                                 " AND created > ?", (since,)).fetchone()[0]
        return {"first": first, "accepted": accepted, "completion_tokens": tokens}

    def acceptance(self) -> float | None:
        """Share of the executor's samples that were accepted or lost only to a full quota, or None before any."""
        done, kept = self.db.execute("SELECT COUNT(*), COALESCE(SUM(status = 'accepted' OR filter IN ('quota', 'limit')), 0)"
                                     " FROM samples").fetchone()
        return kept / done if done else None

    def fate_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT COALESCE(filter, status), COUNT(*) FROM samples GROUP BY 1")
        return {r[0]: r[1] for r in rows}


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"raw": text}
    return value if isinstance(value, dict) else {"raw": text}


class CallCache:
    """A content-addressed cache of model calls shared by runs (`run --cache DIR`): key → the model's answer."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / "calls.sqlite"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        except (OSError, sqlite3.OperationalError) as exc:
            raise self._unusable(folder, exc) from None
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, text TEXT NOT NULL,"
                            " finish_reason TEXT, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,"
                            " seconds REAL NOT NULL, created REAL NOT NULL)")
        except sqlite3.DatabaseError as exc:
            self.db.close()
            if isinstance(exc, sqlite3.OperationalError) and ("unable to open" in str(exc) or "readonly" in str(exc)):
                raise self._unusable(folder, exc) from None
            raise ConfigError(f"'{self.path}' is not a synthwright call cache (SQLite says: {exc}); pass another --cache"
                              " folder or move the file away.") from None

    @staticmethod
    def _unusable(folder: str | Path, exc: Exception) -> Exception:
        """A folder the cache cannot be written in, as one sentence; a full disk stays itself (the CLI says so)."""
        if getattr(exc, "errno", None) == 28 or "full" in str(exc):  # ENOSPC
            return exc
        why = getattr(exc, "strerror", None) or str(exc)
        return ConfigError(f"Cannot use '{folder}' as the call cache folder ({why}); pass --cache (or"
                           " $SYNTHWRIGHT_CALL_CACHE) a folder you can write to, or leave it out.")

    def get(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            for r in self.db.execute(f"SELECT key, text, finish_reason, prompt_tokens, completion_tokens, seconds FROM calls"
                                     f" WHERE key IN ({','.join('?' * len(part))})", part):
                found[r[0]] = {"text": r[1], "finish_reason": r[2], "prompt_tokens": r[3], "completion_tokens": r[4],
                               "seconds": r[5]}
        return found

    def put(self, rows: list[tuple[str, Any]]) -> None:
        now = time.time()
        with _Transaction(self.db):
            self.db.executemany("INSERT OR IGNORE INTO calls VALUES (?, ?, ?, ?, ?, ?, ?)",
                                [(k, g.text, g.finish_reason, g.prompt_tokens, g.completion_tokens, g.seconds, now)
                                 for k, g in rows])

    def close(self) -> None:
        self.db.close()


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, *exc: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
