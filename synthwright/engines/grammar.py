"""JSON-schema constrained decoding with xgrammar: one compiler per model, one matcher per row."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel

from ..samples import schema_json


class SchemaGrammar:
    """Compiles pydantic schemas for one tokenizer and masks a batch of logits row by row.

    The bitmask for step t is filled right after step t-1's tokens are accepted, so a row whose
    grammar only allows a stop token can be finished before the next forward pass is paid for.
    """

    def __init__(self, tokenizer: Any, vocab_size: int, stop_token_ids: list[int], *, threads: int = 1):
        import xgrammar as xgr

        self._xgr = xgr
        self.info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=stop_token_ids
        )
        self.compiler = xgr.GrammarCompiler(self.info, max_threads=max(1, threads), cache_enabled=True)
        self.batch = xgr.BatchGrammarMatcher(max_threads=max(1, threads))
        self.vocab_size = vocab_size
        self._compiled: dict[str, Any] = {}
        self._stop_only = xgr.allocate_token_bitmask(1, vocab_size)
        self._stop_only.zero_()
        for t in stop_token_ids:
            self._stop_only[0, t // 32] |= 1 << (t % 32)

    def compile(self, schema: type[BaseModel]) -> Any:
        key = schema_json(schema)
        if key not in self._compiled:
            self._compiled[key] = self.compiler.compile_json_schema(key, any_whitespace=False, strict_mode=True)
        return self._compiled[key]

    def matchers(self, schema: type[BaseModel], n: int) -> list[Any]:
        compiled = self.compile(schema)
        return [self._xgr.GrammarMatcher(compiled) for _ in range(n)]

    def allocate(self, rows: int) -> torch.Tensor:
        return self._xgr.allocate_token_bitmask(rows, self.vocab_size)

    def fill(self, matchers: list[Any], bitmask: torch.Tensor) -> torch.Tensor:
        """Fill rows [0, len(matchers)) and return a bool tensor: row may only stop now."""
        self.batch.batch_fill_next_token_bitmask(matchers, bitmask)
        return (bitmask[: len(matchers)] == self._stop_only).all(dim=1)

    def apply(self, logits: torch.Tensor, bitmask: torch.Tensor) -> None:
        self._xgr.apply_token_bitmask_inplace(logits, bitmask[: logits.shape[0]].to(logits.device))
