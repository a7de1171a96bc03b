"""matplotlib for the modality reports and image grids: the headless backend, chosen once."""

from __future__ import annotations


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed); imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
