"""The recipe a user writes: closed pydantic models, loading with line-numbered errors, seeds and dev sets."""
