"""Local models through transformers: batched, length-bucketed, grammar-constrained."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel

from synthwright.core.errors import (
    ConfigError,
    HardwareError,
    ModelNotFoundError,
    require,
)
from synthwright.engines.base import (
    ChatRequest,
    Engine,
    Generation,
    Sampling,
    parse_into,
)
from synthwright.engines.decoding import PREFILL_PASS_COST, decode_batch
from synthwright.engines.gguf_cache import cached_gguf
from synthwright.engines.hardware import keep_freed_memory_for_reuse, pick_device, pick_dtype
from synthwright.engines.model_source import SMOLLM2_HUB_ID, ModelSource, smollm2_missing
from synthwright.engines.packed import pack_linear_layers

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
STOP_STRINGS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<|endoftext|>", "</s>")


class TransformersEngine(Engine):
    """A causal LM on this machine. Requests are sorted by prompt length into batches of `batch_size`."""

    def __init__(
        self,
        source: ModelSource,
        *,
        spec: str = "",
        batch_size: int = 64,
        device: str = "auto",
        dtype: str = "auto",
        quantization: Literal["4bit", "8bit"] | None = None,
        adapter: str | None = None,
        merge_adapter: bool = True,
        share_prefix: bool = True,
        pack_weights: bool = True,
    ):
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}.")
        if quantization not in (None, "4bit", "8bit"):
            raise ConfigError(f"Unknown quantization '{quantization}'; use 4bit or 8bit (bitsandbytes, on a CUDA GPU),"
                              " or leave it out for full precision.")
        self.source = source if adapter is None else ModelSource(source.model, source.gguf_file, adapter)
        self.spec = spec or self.source.label
        self.batch_size = batch_size
        self.device = pick_device(device)
        self.dtype = pick_dtype(dtype, self.device)
        self.quantization = quantization
        self.share_prefix = share_prefix  # compute the tokens a batch's prompts start with once (decoding.py)
        self.prefill_pass_cost = PREFILL_PASS_COST  # prefill rows of very different lengths in groups (decoding.py)
        self.tokenizer, self.model = self._load(merge_adapter)
        self.packed_layers = 0
        if self.device == "cpu":
            keep_freed_memory_for_reuse()  # after loading: the float32 copy of a GGUF file's weights goes back to the OS
            if pack_weights and self.quantization is None and not (self.source.adapter and not merge_adapter):
                self.packed_layers = pack_linear_layers(self.model, rows=batch_size)
        self.stop_ids = self._stop_ids()
        self._grammar = None

    def _load(self, merge_adapter: bool) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        source = cached_gguf(self.source) if self.source.gguf_file else self.source
        kwargs: dict[str, Any] = {"gguf_file": source.gguf_file} if source.gguf_file else {}
        # GGUF weights are dequantized at load only in float32; we cast to the working dtype after.
        load_kwargs: dict[str, Any] = {"dtype": "float32" if source.gguf_file else self.dtype}
        if self.quantization is not None:
            load_kwargs.update(self._quantization_kwargs())
        try:
            tokenizer = AutoTokenizer.from_pretrained(source.model, **kwargs)
            model = AutoModelForCausalLM.from_pretrained(source.model, **kwargs, **load_kwargs)
        except (OSError, ValueError) as exc:
            if self.source.model == SMOLLM2_HUB_ID:
                raise smollm2_missing() from exc
            raise ModelNotFoundError(
                f"Could not load model '{self.source.label}' ({str(exc).splitlines()[0][:200]});"
                " check the path or Hub id, or pass a local model directory."
            ) from exc
        if self.quantization is None:
            model = model.to(device=self.device, dtype=self.dtype)
        if self.source.adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, self.source.adapter)
            if merge_adapter and self.quantization is None:
                model = model.merge_and_unload()
        model.eval()
        if not tokenizer.chat_template:
            tokenizer.chat_template = CHATML_TEMPLATE
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer, model

    def _quantization_kwargs(self) -> dict[str, Any]:
        import torch

        if not self.device.startswith("cuda"):
            if torch.cuda.is_available():
                raise ConfigError(f"{self.quantization} quantization runs on a CUDA GPU, and this engine was asked for"
                                  f" device '{self.device}'; use device auto or cuda, or drop quantization.")
            raise HardwareError(
                f"{self.quantization} quantization needs a CUDA GPU and none is available;"
                " drop quantization to run in full precision on this machine."
            )
        require("bitsandbytes", extra="gpu", feature=f"{self.quantization} quantization")
        from transformers import BitsAndBytesConfig

        if self.quantization == "4bit":
            config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                        bnb_4bit_compute_dtype=self.dtype, bnb_4bit_use_double_quant=True)
        else:
            config = BitsAndBytesConfig(load_in_8bit=True)
        return {"quantization_config": config, "device_map": {"": self.device}, "dtype": self.dtype or torch.bfloat16}

    def _stop_ids(self) -> set[int]:
        ids = set()
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        gen_eos = getattr(self.model.generation_config, "eos_token_id", None)
        ids.update(gen_eos if isinstance(gen_eos, list) else [gen_eos] if gen_eos is not None else [])
        vocab = self.tokenizer.get_vocab()
        ids.update(vocab[s] for s in STOP_STRINGS if s in vocab)
        return ids

    @property
    def grammar(self):
        if self._grammar is None:
            from synthwright.engines.grammar import SchemaGrammar

            vocab_size = self.model.get_output_embeddings().weight.shape[0]
            self._grammar = SchemaGrammar(self.tokenizer, vocab_size, sorted(self.stop_ids))
        return self._grammar

    def describe(self) -> dict[str, Any]:
        return {
            "spec": self.spec, "engine": "transformers", "model": self.source.label,
            "device": self.device, "dtype": str(self.dtype).replace("torch.", ""),
            "quantization": self.quantization, "batch_size": self.batch_size,
            "packed_layers": self.packed_layers,
        }

    def encode(self, request: ChatRequest) -> list[int]:
        text = self.tokenizer.apply_chat_template(request.messages, add_generation_prompt=True, tokenize=False)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def generate(
        self,
        requests: list[ChatRequest],
        *,
        schema: type[BaseModel] | None = None,
        sampling: Sampling | None = None,
    ) -> list[Generation]:
        sampling = sampling or Sampling()
        if schema is not None:
            self.grammar.compile(schema)  # fail fast on a bad schema, before any compute
        prompts = [self.encode(r) for r in requests]
        seeds = [sampling.seed_for(i, r) for i, r in enumerate(requests)]
        order = sorted(range(len(requests)), key=lambda i: len(prompts[i]))
        results: list[Generation | None] = [None] * len(requests)
        for start in range(0, len(order), self.batch_size):
            bucket = order[start:start + self.batch_size]
            for i, gen in zip(bucket, self._generate_bucket([prompts[i] for i in bucket],
                                                            [seeds[i] for i in bucket], schema, sampling)):
                results[i] = gen
        return results  # type: ignore[return-value]

    def user_turn_prefix(self, system: str | None = None) -> str:
        marker = "\x00MAGPIE\x00"
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": marker}]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False)
        return text[:text.index(marker)]

    def continue_text(self, prefixes: list[str], *, seeds: list[int], sampling: Sampling | None = None) -> list[Generation]:
        sampling = sampling or Sampling()
        prompts = [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prefixes]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        results: list[Generation | None] = [None] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            bucket = order[start:start + self.batch_size]
            for i, gen in zip(bucket, self._generate_bucket([prompts[i] for i in bucket], [seeds[i] for i in bucket],
                                                            None, sampling)):
                results[i] = gen
        return results  # type: ignore[return-value]

    def _generate_bucket(self, prompts: list[list[int]], seeds: list[int],
                         schema: type[BaseModel] | None, sampling: Sampling) -> list[Generation]:
        matchers = self.grammar.matchers(schema, len(prompts)) if schema is not None else None
        started = time.perf_counter()
        try:
            rows = decode_batch(
                self.model, prompts, sampling=sampling, seeds=seeds, stop_ids=self.stop_ids,
                pad_id=self.tokenizer.pad_token_id, grammar=self.grammar if schema is not None else None,
                share_prefix=self.share_prefix, prefill_pass_cost=self.prefill_pass_cost,
                matchers=matchers,
            )
        except RuntimeError as exc:  # out of memory and kin: report per request, do not crash the run
            message = f"engine error: {str(exc).splitlines()[0][:300]}"
            spent = time.perf_counter() - started
            return [Generation(error=message, prompt_tokens=len(p), finish_reason="error", seconds=spent)
                    for p in prompts]
        gens = []
        for prompt, row in zip(prompts, rows):
            text = self.tokenizer.decode(row.tokens, skip_special_tokens=True)
            parsed, error = parse_into(schema, text, row.finish_reason)
            gens.append(Generation(text=text, parsed=parsed, error=error, prompt_tokens=len(prompt),
                                   completion_tokens=len(row.tokens), finish_reason=row.finish_reason,
                                   seconds=row.seconds))
        return gens

    def close(self) -> None:
        self.model = None
        self._grammar = None
