"""Helpers for testing code built on synthwright: tiny real models that build in seconds."""

from synthwright.testing.tiny_model import build_tiny_chat_model

__all__ = ["build_tiny_chat_model"]
