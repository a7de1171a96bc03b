"""Engines: one batch-first interface over every way to run a model."""

from .base import ChatRequest, Engine, Generation, Sampling
from .registry import engine_kind, load_engine

__all__ = ["ChatRequest", "Engine", "Generation", "Sampling", "engine_kind", "load_engine"]
