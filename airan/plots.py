"""Figures from result tables (dicts of columns), in one consistent style.

Every function draws on an ``Axes`` (a new one if none is given) and returns it;
nothing here shows a window, picks a backend or runs a simulation. Tables are the tidy ones a run
writes (``latency_histogram.parquet``, ``devices.parquet``) with an extra column
naming the run they came from (``by``), as made by :func:`stack`.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

#: House style: readable at single-column paper width, vector-friendly fonts.
STYLE = {
    "figure.dpi": 150,
    "savefig.dpi": 300,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.5,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
}

_LINESTYLES = ["-", "--", ":", "-."]


@contextmanager
def style():
    """Apply the house style inside a ``with`` block."""
    with mpl.rc_context(STYLE):
        yield


def figure(ncols: int = 1, *, width_in: float = 3.5, height_in: float = 2.6):
    """A new figure (not attached to any GUI) with ``ncols`` axes side by side; returns (fig, axes)."""
    fig = Figure(figsize=(width_in * ncols, height_in), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def stack(tables: Mapping[str, Mapping[str, np.ndarray]], *, by: str = "policy") -> dict[str, np.ndarray]:
    """Concatenate tables of several runs into one, with a ``by`` column naming each run."""
    labels = list(tables)
    columns = list(next(iter(tables.values())))
    out = {by: np.concatenate([np.full(len(tables[lab][columns[0]]), lab, dtype=object) for lab in labels])}
    for col in columns:
        out[col] = np.concatenate([np.asarray(tables[lab][col]) for lab in labels])
    return out


def plot_latency_cdf(histogram: Mapping[str, np.ndarray], *, by: str = "policy", ax=None):
    """Empirical CDF of task latency, one line per value of ``by``.

    ``histogram`` has columns ``by``, ``upper_s`` and ``count`` (the latency
    histogram, see :mod:`airan.histogram`); each CDF point sits at a bin's upper
    edge, so the curve is exact to the histogram's 1 % bin width.
    """
    ax = ax if ax is not None else figure()[1][0]
    groups = np.asarray(histogram[by])
    for label in _ordered(groups):
        rows = groups == label
        upper = np.asarray(histogram["upper_s"], dtype=float)[rows]
        count = np.asarray(histogram["count"], dtype=float)[rows]
        keep = (count > 0) & np.isfinite(upper)
        if count.sum() == 0:
            continue
        x = upper[keep] * 1e3
        y = np.cumsum(count)[keep] / count.sum()
        # start from 0 at the lower edge of the first occupied bin
        lower = np.asarray(histogram["lower_s"], dtype=float)[rows][keep][0] * 1e3
        ax.step(np.concatenate(([lower], x)), np.concatenate(([0.0], y)), where="post", label=str(label))
    _log_axis(ax.xaxis)
    ax.set_xlabel("task latency [ms]")
    ax.set_ylabel("fraction of tasks ≤ latency")
    ax.set_ylim(0, 1.01)
    ax.legend(title=by, frameon=False)
    return ax


def plot_battery_life(devices: Mapping[str, np.ndarray], *, by: str = "policy", hue: str = "group", ax=None):
    """Distribution (ECDF) of device battery life, one colour per ``by``, one line style per ``hue``.

    Uses the ``battery_life_h`` column: measured where the battery emptied during
    the run, projected from the average power otherwise.
    """
    ax = ax if ax is not None else figure()[1][0]
    runs = np.asarray(devices[by])
    kinds = np.asarray(devices[hue])
    life = np.asarray(devices["battery_life_h"], dtype=float)
    colours = mpl.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, run in enumerate(_ordered(runs)):
        for j, kind in enumerate(_ordered(kinds)):
            values = np.sort(life[(runs == run) & (kinds == kind)])
            if values.size == 0:
                continue
            y = np.arange(0, values.size + 1) / values.size
            ax.step(np.concatenate((values[:1], values)), y, where="post", color=colours[i % len(colours)],
                    linestyle=_LINESTYLES[j % len(_LINESTYLES)], label=f"{run}, {kind}")
    _log_axis(ax.xaxis)
    ax.set_xlabel("battery life [h]")
    ax.set_ylabel("fraction of devices ≤ life")
    ax.set_ylim(0, 1.01)
    ax.legend(frameon=False)
    return ax


def save(fig, path: str | Path) -> list[Path]:
    """Save ``fig`` as PNG and as vector PDF next to it; returns the paths written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix in (".png", ".pdf"):
        target = path.with_suffix(suffix)
        fig.savefig(target, bbox_inches="tight")
        written.append(target)
    return written


def _log_axis(axis) -> None:
    """Log scale labelled in plain numbers at 1-2-5 steps (no overlapping minor labels)."""
    axis.axes.set_xscale("log") if axis.axis_name == "x" else axis.axes.set_yscale("log")
    plain = mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_locator(mpl.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(plain)
    axis.set_minor_locator(mpl.ticker.LogLocator(base=10, subs=np.arange(2, 10) * 1.0))
    axis.set_minor_formatter(mpl.ticker.NullFormatter())


def _ordered(values: np.ndarray) -> list:
    """Distinct values in order of first appearance."""
    seen: dict = {}
    for v in values:
        seen.setdefault(v, None)
    return list(seen)
