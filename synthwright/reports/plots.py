"""Matplotlib figures for the reports, drawn with Agg and no pyplot (safe in any process)."""

from __future__ import annotations

from pathlib import Path


def figure(width: float = 8, height: float = 4.5):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # Agg without pyplot: no global backend, safe in any process
    return fig


def save(fig, path: Path) -> str:
    from matplotlib.ticker import MaxNLocator

    for ax in fig.axes:  # counts of samples are whole numbers
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_label_text() in ("samples", "verdicts") or axis.get_label_text().startswith("samples "):
                axis.set_major_locator(MaxNLocator(integer=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return str(path.relative_to(path.parent.parent))
