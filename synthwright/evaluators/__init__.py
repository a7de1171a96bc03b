"""Evaluators: filters before the judge, the judge, dataset metrics and reports."""
