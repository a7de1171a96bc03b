"""The transformers engine on a tiny random chat model: order, validity, seeds, tokens, adapters."""

import warnings

import pytest
import torch

from synthwright import (
    ChatRequest,
    ClassificationSample,
    DialogueSample,
    QASample,
    Sampling,
    load_engine,
)
from synthwright.core.errors import (
    ConfigError,
    HardwareError,
    ModelNotFoundError,
    SchemaError,
)
from synthwright.engines.decoding import sample_tokens

LONG = Sampling(max_new_tokens=3000, temperature=0.8)


def requests(n):
    # Prompts of very different lengths, so length-sorting really reorders them.
    return [ChatRequest.user("card " * (1 + (i * 7) % 23) + f"request {i}") for i in range(n)]


def test_results_come_back_in_request_order(tiny_engine):
    reqs = requests(19)
    batched = tiny_engine.generate(reqs, sampling=Sampling(temperature=0, max_new_tokens=12))
    assert [g.prompt_tokens for g in batched] == [len(tiny_engine.encode(r)) for r in reqs]
    one_by_one = [tiny_engine.generate([r], sampling=Sampling(temperature=0, max_new_tokens=12))[0] for r in reqs]
    assert [g.text for g in batched] == [g.text for g in one_by_one]


@pytest.mark.parametrize("batch_size", [1, 7, 32])
@pytest.mark.parametrize("schema", [ClassificationSample, QASample, DialogueSample])
def test_constrained_outputs_always_validate(tiny_model_dir, batch_size, schema):
    engine = load_engine(str(tiny_model_dir), batch_size=batch_size, dtype="float32")
    n = 4 if batch_size == 1 else 32
    gens = engine.generate(requests(n), schema=schema, sampling=LONG)
    assert [g.error for g in gens] == [None] * n
    assert all(isinstance(g.parsed, schema) for g in gens)


def test_grammar_refuses_blank_and_padded_strings_that_would_not_parse(tiny_engine):
    """Samples are stripped before their bounds: the grammar must not let a field of blanks through."""
    import xgrammar as xgr
    from pydantic import BaseModel, ConfigDict, Field

    from synthwright.engines.base import parse_into

    class Pair(BaseModel):
        model_config = ConfigDict(str_strip_whitespace=True)
        short: str = Field(min_length=1, max_length=6)
        long: str = Field(min_length=3, max_length=6)

    compiled = tiny_engine.grammar.compile(Pair)
    cases = {("x", "abc"): True, ("x ", "a b"): True, ("xxxxxx", "abcdef"): True, (" x", "abc"): False,
             ("\u00a0", "abc"): False, ("\t", "abc"): False, ("x", "ab "): False, ("x", " ab"): False,
             ("xxxxxxx", "abc"): False}
    for (short, long), expected in cases.items():
        text = f'{{"long": "{long}", "short": "{short}"}}'
        assert xgr.GrammarMatcher(compiled).accept_string(text) == expected, text
        if expected:
            assert parse_into(Pair, text, "stop")[0] == Pair(short=short, long=long), text


def test_unconstrained_random_model_is_reported_not_raised(tiny_engine):
    gens = tiny_engine.generate(requests(6), schema=None, sampling=Sampling(max_new_tokens=20))
    assert all(g.parsed is None and g.error is None for g in gens)
    from synthwright.engines.base import parse_into

    parsed, error = parse_into(ClassificationSample, gens[0].text, gens[0].finish_reason)
    assert parsed is None and "ClassificationSample" in error or "JSON" in error


def test_fixed_seed_reproduces_and_other_seed_differs(tiny_engine):
    reqs = requests(10)
    a = tiny_engine.generate(reqs, schema=ClassificationSample, sampling=Sampling(seed=7, max_new_tokens=3000))
    b = tiny_engine.generate(reqs, schema=ClassificationSample, sampling=Sampling(seed=7, max_new_tokens=3000))
    c = tiny_engine.generate(reqs, schema=ClassificationSample, sampling=Sampling(seed=8, max_new_tokens=3000))
    assert [g.text for g in a] == [g.text for g in b]
    assert [g.text for g in a] != [g.text for g in c]


def test_request_seed_overrides_and_does_not_depend_on_neighbours(tiny_engine):
    target = ChatRequest.user("card card refund", seed=1234)
    alone = tiny_engine.generate([target], sampling=Sampling(max_new_tokens=15))[0]
    crowd = tiny_engine.generate(requests(5) + [target], sampling=Sampling(max_new_tokens=15))[-1]
    assert alone.text == crowd.text


def test_decode_loop_uses_no_deprecated_transformers_api(tiny_engine):
    # transformers warns with stacklevel=2, which names torch's Module.__call__ rather than our module, so
    # pyproject's module-scoped `error` filters cannot see it: the decode loop is checked here directly.
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", DeprecationWarning)
        gens = tiny_engine.generate(requests(3), schema=ClassificationSample,
                                    sampling=Sampling(max_new_tokens=20, temperature=1.0, repetition_penalty=1.1))
    assert len(gens) == 3


def test_token_counts(tiny_engine):
    reqs = requests(9)
    gens = tiny_engine.generate(reqs, sampling=Sampling(max_new_tokens=9, temperature=1.0))
    for r, g in zip(reqs, gens):
        assert g.prompt_tokens == len(tiny_engine.encode(r))
        assert 0 <= g.completion_tokens <= 9
        if g.finish_reason == "length":
            assert g.completion_tokens == 9
    assert any(g.finish_reason == "length" for g in gens)
    cut = tiny_engine.generate(reqs[:3], schema=DialogueSample, sampling=Sampling(max_new_tokens=5))
    assert all(g.finish_reason == "length" and g.completion_tokens == 5 and "cut off" in g.error for g in cut)


def test_adapter_loads_and_changes_outputs(tiny_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    peft_model = get_peft_model(base, LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"],
                                                 init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "adapter")
    greedy = Sampling(temperature=0, max_new_tokens=16)
    reqs = requests(4)
    plain = load_engine(str(tiny_model_dir), dtype="float32").generate(reqs, sampling=greedy)
    with_option = load_engine(str(tiny_model_dir), dtype="float32", adapter=str(tmp_path / "adapter"))
    as_spec = load_engine(str(tmp_path / "adapter"), dtype="float32")  # the adapter dir names its base
    assert as_spec.source.adapter == str(tmp_path / "adapter")
    adapted = with_option.generate(reqs, sampling=greedy)
    assert [g.text for g in adapted] != [g.text for g in plain]
    assert [g.text for g in as_spec.generate(reqs, sampling=greedy)] == [g.text for g in adapted]


def test_nucleus_sampling_is_exact():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log().repeat(4000, 1)
    gens = [torch.Generator().manual_seed(i) for i in range(4000)]
    drawn = sample_tokens(logits, Sampling(temperature=1.0, top_p=0.8), gens)
    counts = torch.bincount(drawn, minlength=4).float() / 4000
    assert counts[2] == 0 and counts[3] == 0  # outside the 0.8 nucleus
    assert abs(counts[0] - 0.5 / 0.8) < 0.03 and abs(counts[1] - 0.3 / 0.8) < 0.03
    full = sample_tokens(logits, Sampling(temperature=1.0, top_p=1.0), gens)
    assert abs(torch.bincount(full, minlength=4).float()[3] / 4000 - 0.05) < 0.015
    assert sample_tokens(logits[:3], Sampling(temperature=0), gens[:3]).tolist() == [0, 0, 0]


def test_bad_inputs_raise_one_sentence_errors(tiny_model_dir, tiny_engine, tmp_path):
    from pydantic import BaseModel

    class Unbounded(BaseModel):
        text: str

    with pytest.raises(SchemaError, match="'text' is a string without a maximum length"):
        tiny_engine.generate(requests(1), schema=Unbounded)
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_engine(str(tmp_path / "nope"))
    with pytest.raises(ModelNotFoundError, match="holds no model"):
        load_engine(str(tmp_path))
    if not torch.cuda.is_available():
        with pytest.raises(HardwareError, match="needs a CUDA GPU"):
            load_engine(str(tiny_model_dir), quantization="4bit")
    with pytest.raises(ConfigError, match="batch_size"):
        load_engine(str(tiny_model_dir), batch_size=0)


def test_repetition_penalty_lowers_only_seen_tokens(tiny_engine):
    from synthwright.engines.decoding import penalize_repeats

    logits = torch.tensor([[2.0, -1.0, 0.5, 3.0]])
    seen = torch.tensor([[True, True, False, False]])
    out = penalize_repeats(logits, seen, 2.0)
    assert out.tolist() == [[1.0, -2.0, 0.5, 3.0]]
    gens = tiny_engine.generate(requests(3), schema=ClassificationSample,
                                sampling=Sampling(max_new_tokens=3000, repetition_penalty=1.3))
    assert all(g.ok for g in gens)
