"""A tiny random chat model: a trained byte-level BPE tokenizer with a ChatML template + a 2-layer Llama.

Its outputs are random, but it exercises every code path of a real model (chat template,
padding, KV cache, grammar masks, LoRA) in milliseconds per step.
"""

from __future__ import annotations

import random
from pathlib import Path

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
WORDS = (
    "card lost bank account transfer money balance refund payment loan credit debit fee charge open close "
    "please help my the a to I need want why when how can you is was not your order review product great "
    "terrible okay fine quality price delivery late fast return broken works love hate question answer "
    "customer assistant user label text intent positive negative neutral thanks hello issue problem"
).split()


# Printable ASCII plus the byte-level stand-ins for space, newline and tab. Without lone bytes of
# multi-byte characters a random model cannot emit invalid UTF-8, which decodes to U+FFFD and
# breaks the character counts the grammar enforced.
ASCII_BYTES = [chr(c) for c in range(33, 127)] + ["\u0120", "\u010a", "\u0109"]


def _corpus(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        lines.append(words.capitalize() + rng.choice([".", "?", "!"]))
        lines.append('{"text": "' + words + '", "label": "' + rng.choice(WORDS) + '"}')
    return lines


def build_tiny_chat_model(directory: str | Path, *, vocab_size: int = 400, hidden_size: int = 64,
                          layers: int = 2, seed: int = 0) -> Path:
    """Write a tiny random Llama chat model and its tokenizer to `directory`; returns the path."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                  initial_alphabet=ASCII_BYTES, show_progress=False)
    bpe.train_from_iterator(_corpus(400, seed), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        bos_token="<|im_start|>", chat_template=CHATML)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=hidden_size * 2,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
        tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
