"""A batched decode loop for causal LMs with a KV cache.

Why not `model.generate`: a batch there runs until its longest row ends, so short rows keep
costing compute. Here finished rows leave the batch (and the KV cache) at once, every row
samples from its own seeded generator (so a request's output does not depend on its
neighbours' random draws), and grammar masks are filled before the forward pass so rows that
can only stop are finished without paying for one more step.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from synthwright.engines.base import FinishReason, Sampling


@dataclass
class RowResult:
    tokens: list[int] = field(default_factory=list)
    finish_reason: FinishReason = "length"
    seconds: float = 0.0


def sample_tokens(logits: torch.Tensor, sampling: Sampling, generators: list[torch.Generator]) -> torch.Tensor:
    """Next token per row from float32 logits (B, V); each row draws from its own generator.

    Exact nucleus sampling without sorting the vocabulary: the nucleus is found in a top-k window
    that grows until it holds `top_p` of every row's mass, then each row inverts its CDF with
    one uniform draw. A full sort costs ~100 ms a step at (64, 49152) on 2 cores; this costs ~2 ms.
    """
    if sampling.temperature == 0.0:
        return logits.argmax(dim=-1)
    probs = (logits / sampling.temperature).softmax(dim=-1)
    uniforms = torch.cat([torch.rand(1, generator=g) for g in generators])
    vocab = probs.shape[-1]
    if sampling.top_p >= 1.0:
        cdf = probs.cumsum(dim=-1)
        pick = torch.searchsorted(cdf, (uniforms * cdf[:, -1])[:, None]).squeeze(-1)
        return pick.clamp_(max=vocab - 1)
    k = min(64, vocab)
    while True:
        top, index = probs.topk(k, dim=-1)
        cdf = top.cumsum(dim=-1)
        if k == vocab or bool((cdf[:, -1] >= sampling.top_p).all()):
            break
        k = min(k * 4, vocab)
    # Keep a token while the mass before it is below top_p; the top token always stays.
    kept = ((cdf - top) < sampling.top_p).sum(dim=-1)
    mass = cdf.gather(-1, (kept - 1)[:, None]).squeeze(-1)
    slot = torch.searchsorted(cdf, (uniforms * mass)[:, None]).squeeze(-1)
    slot = torch.minimum(slot, kept - 1)
    return index.gather(-1, slot[:, None]).squeeze(-1)


def cache_kwarg(model: Any) -> str:
    """The forward argument that takes the KV cache: `cache` on newer transformers, `past_key_values` before.

    transformers 5.x renamed it and warns (FutureWarning) on the old name until it removes it, so ask the
    model's own signature rather than a version number (a PEFT wrapper forwards to its base model).
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def penalize_repeats(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL-style: make every already generated token less likely (shrink a positive logit, grow a negative one)."""
    return torch.where(seen, torch.where(logits > 0, logits / penalty, logits * penalty), logits)


MIN_SHARED_PREFIX = 16  # tokens: a shorter common start saves less than its extra forward pass costs


def shared_prefix_length(prompts: list[list[int]]) -> int:
    """How many leading tokens every prompt shares (the chat template, system prompt and recipe description of a
    run's requests), leaving each prompt at least one token of its own; 0 when that is under MIN_SHARED_PREFIX."""
    if len(prompts) < 2:
        return 0
    first, limit = prompts[0], min(len(p) for p in prompts) - 1
    k = 0
    while k < limit and all(p[k] == first[k] for p in prompts):
        k += 1
    return k if k >= MIN_SHARED_PREFIX else 0


def prefill_shared_prefix(model: Any, prefix: list[int], rows: int, cache: Any, with_cache: dict[str, Any]) -> None:
    """Compute the KV of `prefix` once into `cache` (passed to the model as `with_cache`) and give every row of the
    batch a copy of it."""
    device = model.device
    ids = torch.tensor([prefix], dtype=torch.long, device=device)
    model(input_ids=ids, attention_mask=torch.ones_like(ids), position_ids=torch.arange(len(prefix), device=device)[None],
          logits_to_keep=1, **with_cache)
    cache.batch_repeat_interleave(rows)


def left_padded(prompts: list[list[int]], pad_id: int, device: Any) -> tuple[torch.Tensor, ...]:
    """(input ids, attention mask, position ids) of the prompts padded on the left to the longest."""
    n, width = len(prompts), max(len(p) for p in prompts)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    attention = torch.zeros((n, width), dtype=torch.long)
    for row, p in enumerate(prompts):
        input_ids[row, width - len(p):] = torch.tensor(p, dtype=torch.long)
        attention[row, width - len(p):] = 1
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    return input_ids.to(device), attention.to(device), positions.to(device)


PREFILL_PASS_COST = 32  # token positions: what one more prefill pass costs beyond the tokens it computes
MIN_PREFILL_GROUP = 4  # rows: smaller groups make the matrix products of a pass inefficient


def prefill_groups(lengths: list[int], pass_cost: int = PREFILL_PASS_COST) -> list[list[int]]:
    """The rows (indices into `lengths`) in groups of similar length, prefilled one group per pass.

    A left-padded prefill computes every row at the group's longest length; splitting the batch saves those pad
    positions and costs `pass_cost` per extra pass. The split with the least work (pads + passes) among groups of
    consecutive lengths and at least MIN_PREFILL_GROUP rows, by dynamic programming; rows within a group keep their
    length order."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    ordered = [lengths[i] for i in order]
    n = len(order)
    best, cut = [0] + [float("inf")] * n, [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(end):
            if end - start < MIN_PREFILL_GROUP and not (start == 0 and end == n):
                continue
            work = best[start] + (end - start) * ordered[end - 1] + pass_cost
            if work < best[end]:
                best[end], cut[end] = work, start
    groups, end = [], n
    while end:
        groups.append(order[cut[end]:end])
        end = cut[end]
    return groups[::-1]


def pads_inserted(tensor: torch.Tensor, at: int, width: int, dim: int) -> torch.Tensor:
    """`tensor` with `width` zeros inserted before index `at` of `dim` (the pads between a shared prefix and a row's
    own tokens, or on the left without a prefix)."""
    if not width:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = width
    return torch.cat([tensor.narrow(dim, 0, at), tensor.new_zeros(shape), tensor.narrow(dim, at, tensor.shape[dim] - at)],
                     dim=dim)


@dataclass
class Prefilled:
    """A batch after its prompts were computed: the KV cache, attention mask and next position of each row (rows in
    `rows` order, indices into the prompts), and the logits of each row's last prompt token."""
    cache: Any
    with_cache: dict[str, Any]
    rows: list[int]
    attention: torch.Tensor
    next_pos: torch.Tensor
    logits: torch.Tensor


def prefill_group(model: Any, prompts: list[list[int]], rows: list[int], shared: int, pad_id: int) -> Prefilled:
    """One prefill pass over the prompts of `rows`: the shared prefix once, then each row's own tokens, left-padded
    ([shared][pads][own]) at the positions they would have had anyway."""
    from transformers import DynamicCache

    prompts, n = [prompts[i] for i in rows], len(rows)
    cache = DynamicCache()
    with_cache = {cache_kwarg(model): cache, "use_cache": True}
    if shared:
        prefill_shared_prefix(model, prompts[0][:shared], n, cache, with_cache)
    input_ids, attention, positions = left_padded([p[shared:] for p in prompts], pad_id, model.device)
    if shared:
        positions = positions + shared
        attention = torch.cat([attention.new_ones((n, shared)), attention], dim=-1)
    out = model(input_ids=input_ids, attention_mask=attention, position_ids=positions, logits_to_keep=1,
                **with_cache)
    return Prefilled(cache, with_cache, rows, attention, positions[:, -1:] + 1, out.logits[:, -1, :].float().cpu())


def prefill(model: Any, prompts: list[list[int]], shared: int, pad_id: int, pass_cost: int) -> Prefilled:
    """All prompts prefilled in length groups (prefill_groups), their caches joined into one batch: a shorter
    group gets pads between the shared prefix and its own tokens, masked out like any pad."""
    from transformers import DynamicCache

    groups = prefill_groups([len(p) - shared for p in prompts], pass_cost + shared)
    parts = [prefill_group(model, prompts, group, shared, pad_id) for group in groups]
    if len(parts) == 1:
        return parts[0]
    width = max(part.attention.shape[1] for part in parts)
    gaps = [width - part.attention.shape[1] for part in parts]
    cache = DynamicCache()
    for layer in range(len(parts[0].cache.layers)):
        keys = [pads_inserted(part.cache.layers[layer].keys, shared, gap, dim=2) for part, gap in zip(parts, gaps)]
        values = [pads_inserted(part.cache.layers[layer].values, shared, gap, dim=2) for part, gap in zip(parts, gaps)]
        cache.update(torch.cat(keys), torch.cat(values), layer)
    attention = torch.cat([pads_inserted(part.attention, shared, gap, dim=1) for part, gap in zip(parts, gaps)])
    return Prefilled(cache, {cache_kwarg(model): cache, "use_cache": True}, [i for part in parts for i in part.rows],
                     attention, torch.cat([part.next_pos for part in parts]), torch.cat([part.logits for part in parts]))


def prefill_once_per_prompt(model: Any, prompts: list[list[int]], shared: int, pad_id: int,
                            pass_cost: int) -> Prefilled:
    """As `prefill`, computing each distinct prompt once: rows that repeat a prompt (the planner asks every question
    several times, with other seeds) get copies of its cache row, attention mask, position and logits."""
    first: dict[tuple[int, ...], int] = {}
    owners = [first.setdefault(tuple(p), len(first)) for p in prompts]
    if len(first) == len(prompts):
        return prefill(model, prompts, shared, pad_id, pass_cost)
    batch = prefill(model, [list(p) for p in first], shared, pad_id, pass_cost)
    members: dict[int, list[int]] = {}
    for row, owner in enumerate(owners):
        members.setdefault(owner, []).append(row)
    copies = [(r, row) for r, owner in enumerate(batch.rows) for row in members[owner]]
    index = torch.tensor([r for r, _ in copies], dtype=torch.long)
    on_device = index.to(model.device)
    batch.cache.batch_select_indices(on_device)
    return Prefilled(batch.cache, batch.with_cache, [row for _, row in copies], batch.attention[on_device],
                     batch.next_pos[on_device], batch.logits[index])


def take_tokens(chosen: list[int], active: list[int], results: list[RowResult], stop_ids: set[int],
                matchers: list[Any] | None, max_new_tokens: int, now: float) -> list[int]:
    """Append each active row's chosen token; returns the rows (positions in `active`) that go on."""
    keep: list[int] = []
    for row, idx in enumerate(active):
        tok, res = chosen[row], results[idx]
        res.seconds = now
        if tok in stop_ids:
            res.finish_reason = "stop"
            continue
        res.tokens.append(tok)
        if matchers is not None and not matchers[idx].accept_token(tok):
            res.finish_reason = "stop"  # cannot happen with a correct mask; the parse step reports it
            continue
        if len(res.tokens) >= max_new_tokens:
            res.finish_reason = "length"
            continue
        keep.append(row)
    return keep


def drop_grammar_complete(grammar: Any, matchers: list[Any], active: list[int], keep: list[int],
                          results: list[RowResult], bitmask: torch.Tensor) -> list[int]:
    """Fill the next token masks of the rows that go on; a row whose grammar allows only the end stops now."""
    only_stop = grammar.fill([matchers[active[r]] for r in keep], bitmask)
    if only_stop.any():
        for r, done in zip(list(keep), only_stop.tolist()):
            if done:
                results[active[r]].finish_reason = "stop"
        pos_keep = [i for i, done in enumerate(only_stop.tolist()) if not done]
        keep = [keep[i] for i in pos_keep]
        if pos_keep and len(pos_keep) < only_stop.numel():
            bitmask[: len(pos_keep)] = bitmask[pos_keep].clone()
    return keep


@torch.inference_mode()
def decode_batch(
    model: Any,
    prompts: list[list[int]],
    *,
    sampling: Sampling,
    seeds: list[int],
    stop_ids: set[int],
    pad_id: int,
    grammar: Any = None,
    matchers: list[Any] | None = None,
    share_prefix: bool = True,
    prefill_pass_cost: int = PREFILL_PASS_COST,
) -> list[RowResult]:
    """Continue every prompt until a stop token, grammar completion or `max_new_tokens`.

    With `share_prefix`, the tokens every prompt starts with are computed once for the batch: the cache holds them
    for every row, then each row's own tokens follow, left-padded ([shared][pads][own]), at the positions they
    would have had anyway. A prompt that several rows repeat is computed once. Rows of very different lengths are
    prefilled in groups (prefill_groups) so that few pads are computed; `prefill_pass_cost` prices a pass (a huge
    one keeps the batch in one pass)."""
    device = model.device
    start = time.perf_counter()
    n = len(prompts)
    shared = shared_prefix_length(prompts) if share_prefix else 0
    batch = prefill_once_per_prompt(model, prompts, shared, pad_id, prefill_pass_cost)
    cache, with_cache, attention, next_pos, logits = (batch.cache, batch.with_cache, batch.attention, batch.next_pos,
                                                      batch.logits)
    active = batch.rows  # the prompt each row of the cache belongs to
    generators = []
    for s in seeds:
        g = torch.Generator(device="cpu")
        g.manual_seed(s)
        generators.append(g)
    results = [RowResult() for _ in range(n)]
    penalize = sampling.repetition_penalty != 1.0
    seen = torch.zeros((n, model.get_output_embeddings().weight.shape[0]), dtype=torch.bool) if penalize else None
    bitmask = grammar.allocate(n) if grammar is not None else None
    if grammar is not None:
        grammar.fill([matchers[i] for i in active], bitmask)

    while active:
        if penalize:
            logits = penalize_repeats(logits, seen, sampling.repetition_penalty)
        if grammar is not None:
            grammar.apply(logits, bitmask)
        chosen = sample_tokens(logits, sampling, [generators[i] for i in active]).tolist()
        keep = take_tokens(chosen, active, results, stop_ids, matchers, sampling.max_new_tokens,
                           time.perf_counter() - start)
        if grammar is not None and keep:
            keep = drop_grammar_complete(grammar, matchers, active, keep, results, bitmask)
        if not keep:
            break
        tokens = torch.tensor([chosen[r] for r in keep], dtype=torch.long, device=device)[:, None]
        if penalize:
            seen[torch.arange(len(active)), torch.tensor(chosen)] = True
        if len(keep) < len(active):
            index = torch.tensor(keep, dtype=torch.long, device=device)
            cache.batch_select_indices(index)
            attention, next_pos = attention[index], next_pos[index]
            if penalize:
                seen = seen[index.cpu()]
        active = [active[r] for r in keep]
        attention = torch.cat([attention, attention.new_ones((len(active), 1))], dim=-1)
        out = model(input_ids=tokens, attention_mask=attention, position_ids=next_pos, **with_cache)
        next_pos = next_pos + 1
        logits = out.logits[:, -1, :].float().cpu()
    return results
