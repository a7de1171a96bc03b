"""Agents: the planner turns a recipe into slots; the executor turns slots into samples."""
