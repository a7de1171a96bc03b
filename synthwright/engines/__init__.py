"""Engines: one batch-first interface over every way to run a model."""

from synthwright.engines.base import ChatRequest, Engine, Generation, Sampling
from synthwright.engines.registry import engine_kind, load_engine

__all__ = ["ChatRequest", "Engine", "Generation", "Sampling", "engine_kind", "load_engine"]
