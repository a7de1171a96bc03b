"""JSON-schema constrained decoding with xgrammar: one compiler per model, one matcher per row."""

from __future__ import annotations

import functools
import re
import sys
from typing import Any

import torch
from pydantic import BaseModel

from synthwright.core.samples import schema_json


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
            self._compiled[key] = self.compiler.compile_grammar(non_blank_grammar(key))
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


_STRING_RULE = re.compile(r'^(\S+) ::= \(\("\\"" (\S+_characters)\{(\d+), (\d+)\} "\\""\)\)$', re.M)
_CHARACTERS_RULE = re.compile(r"^(\S+_characters) ::= \(\(\[\^(.*)\]\)\)$", re.M)


@functools.cache
def _blanks() -> str:
    """What str.strip() removes, as the body of an EBNF character class."""
    return "".join(f"\\u{ord(c):04x}" for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())


def non_blank_grammar(schema_json: str) -> str:
    """xgrammar's EBNF for `schema_json`, with every bounded string starting (and, from two characters
    of minimum length on, ending) on a non-blank.

    Samples are stripped before their length bounds apply, so a field of blanks, or one whose padding alone
    reaches `min_length`, fails to parse; this keeps constrained output inside what parses. (A JSON-schema
    `pattern` says the same but xgrammar runs it as a regex automaton, about 3x slower per token.)
    """
    import xgrammar as xgr

    ebnf = str(xgr.Grammar.from_json_schema(schema_json, any_whitespace=False, strict_mode=True))
    excluded = dict(_CHARACTERS_RULE.findall(ebnf))  # a string's character rule → the class body it excludes

    def rewrite(m: re.Match[str]) -> str:
        name, chars, low, high = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
        if chars not in excluded or high < 1:
            return m.group(0)
        first = f"{chars}_nonblank"
        core = f"{first} {chars}{{{low - 2}, {high - 2}}} {first}" if low >= 2 else f"{first} {chars}{{0, {high - 1}}}"
        return f'{name} ::= ("\\"" {core if low else f"({core})?"} "\\"")'

    firsts = [f"{chars}_nonblank ::= [^{body}{_blanks()}]" for chars, body in excluded.items()]
    return _STRING_RULE.sub(rewrite, ebnf) + "\n" + "\n".join(firsts) + "\n"
