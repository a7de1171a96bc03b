"""GPU scale-out through vLLM: continuous batching, guided JSON decoding, LoRA adapters."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from ..errors import HardwareError, require
from ..samples import assert_bounded
from .base import ChatRequest, Engine, Generation, Sampling, parse_into


class VLLMEngine(Engine):
    """`vllm:ORG/NAME`. `adapter` is a LoRA adapter directory (e.g. a distilled student)."""

    def __init__(
        self,
        model: str,
        *,
        spec: str = "",
        adapter: str | None = None,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = None,
        max_lora_rank: int = 64,
        **llm_kwargs: Any,
    ):
        vllm = require("vllm", extra="vllm", feature="The vLLM engine")
        import torch

        if not torch.cuda.is_available():
            raise HardwareError("The vLLM engine needs a CUDA GPU and none is available; use the default transformers engine on this machine.")
        self.spec = spec or f"vllm:{model}"
        self.model_name = model
        self.adapter = adapter
        self.llm = vllm.LLM(
            model=model, tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len,
            enable_lora=adapter is not None, max_lora_rank=max_lora_rank, **llm_kwargs,
        )
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
                           structured_outputs=structured)
            for i, r in enumerate(requests)
        ]
        started = time.perf_counter()
        outputs = self.llm.chat([r.messages for r in requests], params, lora_request=self._lora, use_tqdm=False)
        seconds = time.perf_counter() - started
        gens = []
        for out in outputs:
            completion = out.outputs[0]
            finish = "length" if completion.finish_reason == "length" else "stop"
            parsed, error = parse_into(schema, completion.text, finish)
            gens.append(Generation(text=completion.text, parsed=parsed, error=error,
                                   prompt_tokens=len(out.prompt_token_ids or []),
                                   completion_tokens=len(completion.token_ids), finish_reason=finish,
                                   seconds=seconds))
        return gens

    def user_turn_prefix(self, system: str | None = None) -> str:
        marker = "\x00MAGPIE\x00"
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": marker}]
        text = self.llm.get_tokenizer().apply_chat_template(messages, tokenize=False)
        return text[:text.index(marker)]

    def continue_text(self, prefixes: list[str], *, seeds: list[int], sampling: Sampling | None = None) -> list[Generation]:
        from vllm import SamplingParams

        sampling = sampling or Sampling()
        params = [SamplingParams(temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=sampling.max_new_tokens,
                                 seed=seed) for seed in seeds]
        started = time.perf_counter()
        outputs = self.llm.generate([{"prompt": p} for p in prefixes], params, lora_request=self._lora, use_tqdm=False)
        seconds = time.perf_counter() - started
        return [Generation(text=o.outputs[0].text, prompt_tokens=len(o.prompt_token_ids or []),
                           completion_tokens=len(o.outputs[0].token_ids),
                           finish_reason="length" if o.outputs[0].finish_reason == "length" else "stop", seconds=seconds)
                for o in outputs]
