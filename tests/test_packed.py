"""Weights packed once for the CPU's matrix kernels: the same products, the same outputs, never in training."""

from __future__ import annotations

import pytest
import torch

from synthwright import ChatRequest, ClassificationSample, Sampling, load_engine
from synthwright.engines.hardware import cpu_flags
from synthwright.engines.packed import PackedLinear, pack_linear_layers

# oneDNN reorders bfloat16 weights only on CPUs with these instructions; elsewhere nothing may be packed.
PACKS_BF16 = bool({"avx_ne_convert"} & cpu_flags()) or {"avx512bw", "avx512vl", "avx512dq"} <= cpu_flags()

REQUESTS = [ChatRequest.user(f"Write one short support message about {topic}.", seed=i)
            for i, topic in enumerate(["a lost card", "a refund", "a pin", "a late transfer", "fees"])]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("bias", [True, False])
def test_a_packed_layer_computes_what_the_plain_one_does(dtype, bias):
    torch.manual_seed(0)
    linear = torch.nn.Linear(48, 80, bias=bias).to(dtype)
    if dtype == torch.bfloat16 and not PACKS_BF16:
        with pytest.raises(RuntimeError):
            PackedLinear(linear, rows=8)
        return
    packed = PackedLinear(linear, rows=8)
    for shape in [(8, 48), (3, 5, 48), (1, 1, 48)]:
        x = torch.randn(shape).to(dtype)
        torch.testing.assert_close(packed(x), linear(x), rtol=1e-2 if dtype == torch.bfloat16 else 1e-5, atol=1e-3)
    assert packed.weight.shape == linear.weight.shape and packed.weight.dtype == dtype


def test_the_engine_packs_every_linear_layer_on_the_cpu(tiny_model_dir):
    engine = load_engine(str(tiny_model_dir), batch_size=8, dtype="float32")
    linears = [m for m in engine.model.modules() if isinstance(m, PackedLinear)]
    assert engine.packed_layers == len(linears) > 0
    assert not any(type(m) is torch.nn.Linear for m in engine.model.modules())
    assert engine.describe()["packed_layers"] == engine.packed_layers


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("schema", [None, ClassificationSample])
def test_outputs_are_the_same_with_packed_and_plain_weights(tiny_model_dir, dtype, schema):
    packed = load_engine(str(tiny_model_dir), batch_size=8, dtype=dtype)
    plain = load_engine(str(tiny_model_dir), batch_size=8, dtype=dtype, pack_weights=False)
    assert (packed.packed_layers > 0) == (dtype == "float32" or PACKS_BF16) and plain.packed_layers == 0
    for sampling in (Sampling(temperature=0.0, max_new_tokens=20), Sampling(temperature=0.9, max_new_tokens=20)):
        a = packed.generate(REQUESTS, schema=schema, sampling=sampling)
        b = plain.generate(REQUESTS, schema=schema, sampling=sampling)
        assert [g.text for g in a] == [g.text for g in b]


def test_nothing_is_packed_where_the_product_would_differ(monkeypatch):
    linear = torch.nn.Linear(16, 16)
    model = torch.nn.Sequential(linear, torch.nn.ReLU(), torch.nn.Linear(16, 4))
    monkeypatch.setattr(PackedLinear, "forward", lambda self, x: torch.zeros(*x.shape[:-1], self.out_features))
    assert pack_linear_layers(model, rows=8) == 0
    assert model[0] is linear
