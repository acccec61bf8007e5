"""Figures from result tables (dicts of columns), in one consistent style.

Every ``plot_*`` function draws on an ``Axes`` (a new one if none is given) and returns it
(:func:`plot_topology` returns its figure); nothing here shows a window, picks a backend or
runs a simulation. Tables are the tidy ones a run or a sweep writes, as dicts of numpy
columns:

- a run's ``latency_histogram.parquet`` and ``devices.parquet``, with an extra column naming
  the run they came from (``by``), as made by :func:`stack`: :func:`plot_latency_cdf`,
  :func:`plot_battery_life`;
- one row per run (a sweep's ``results.parquet``, or :func:`runs_table` of run folders) or one
  row per sweep point (a sweep's ``aggregate.parquet``, with ``<metric>_mean`` and
  ``<metric>_ci95``): :func:`plot_metric`, :func:`plot_heatmap`, :func:`plot_energy_breakdown`;
- a run's ``timeseries.parquet`` (one row per node and sampling interval):
  :func:`plot_gpu_timeseries`.

Axis labels come from the metric names' unit suffixes (:func:`label`). :func:`plot_results`
draws one figure from run or sweep folders; it is what ``airan plot`` calls. Bad input raises
:class:`PlotError` with a one-line message.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

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
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


class PlotError(ValueError):
    """Input a figure cannot be drawn from: a missing file or column, or a kind the input cannot give."""


# ---------------------------------------------------------------------------------------------
# Labels from metric names
# ---------------------------------------------------------------------------------------------

#: SI prefixes: the factor a value in the base unit is multiplied by to show it with the prefix.
_PREFIX_SCALE = {"µ": 1e6, "m": 1e3, "": 1.0, "k": 1e-3, "M": 1e-6, "G": 1e-9, "T": 1e-12, "P": 1e-15}

#: Unit suffixes of metric names (longest match first): suffix, unit, the prefixes it may
#: take (smallest unit first), the prefix used when no values are given.
_UNITS = (
    ("_flops_per_s", "FLOP/s", ("G", "T", "P"), "T"),
    ("_per_s", "1/s", ("",), ""),
    ("_bps", "bit/s", ("k", "M", "G"), "M"),
    ("_bytes", "B", ("", "k", "M", "G"), "k"),
    ("_flops", "FLOP", ("M", "G", "T"), "G"),
    ("_dbm", "dBm", ("",), ""),
    ("_db", "dB", ("",), ""),
    ("_hz", "1/s", ("",), ""),
    ("_wh", "Wh", ("",), ""),
    ("_mps", "m/s", ("",), ""),
    ("_deg", "deg", ("",), ""),
    ("_s", "s", ("µ", "m", ""), "m"),
    ("_j", "J", ("",), ""),
    ("_w", "W", ("",), ""),
    ("_h", "h", ("",), ""),
    ("_m", "m", ("", "k"), ""),
)

#: Words written differently in labels than in metric names.
_WORDS = {"gpu": "GPU", "cpu": "CPU", "ul": "UL", "dl": "DL", "sinr": "SINR", "rrc": "RRC", "ttft": "TTFT",
          "ai": "AI", "ran": "RAN", "mig": "MIG", "llm": "LLM", "utilization": "utilisation", "ci95": "95 % CI"}


def label(metric: str, values=None) -> tuple[str, float]:
    """A readable axis label with its unit, and the factor to multiply the values by to show them in it.

    The unit comes from the name's suffix (``_s`` [s], ``_j`` [J], ``_w`` [W], ``_h`` [h],
    ``_hz`` [1/s], ``_bps`` [bit/s], ``_bytes`` [B], ``_flops`` [FLOP], ``_db`` [dB],
    ``_m`` [m], ...). Times, rates, sizes and FLOPs take an SI prefix: the largest unit
    in which the largest finite ``|value|`` is at least 1 (without ``values``: ms, Mbit/s,
    kB, GFLOP, TFLOP/s). Dotted paths read as words: ``workloads.detect.latency_p95_s``
    is "detect latency p95", ``policy.name`` "policy", ``devices[0].rate_hz`` "devices[0]
    rate". An aggregate's ``<metric>_mean`` is labelled as the metric.

    Examples
    --------
    >>> label("latency_p95_s")
    ('latency p95 [ms]', 1000.0)
    >>> label("latency_p95_s", [2.5, 4.0])
    ('latency p95 [s]', 1.0)
    >>> label("throughput_ul_mean_bps")
    ('throughput UL mean [Mbit/s]', 1e-06)
    """
    name = metric
    base = metric[: -len("_mean")]
    if metric.endswith("_mean") and any(base.endswith(suffix) for suffix, *_ in _UNITS):
        name = base  # an aggregate's latency_p95_s_mean (gpu_utilization_mean is a metric of its own)
    parts = [p for p in name.split(".") if p]
    if len(parts) > 1 and parts[-1] == "name":
        parts = parts[:-1]  # policy.name -> policy
    if len(parts) > 2 and parts[0] == "workloads":
        parts = parts[1:]  # workloads.detect.latency_p95_s -> detect latency p95
    last = parts[-1] if parts else name
    unit, prefixes, default = "", ("",), ""
    for suffix, unit_, prefixes_, default_ in _UNITS:
        if last.endswith(suffix) and len(last) > len(suffix):
            last, unit, prefixes, default = last[: -len(suffix)], unit_, prefixes_, default_
            break
    prefix = default
    finite = _finite(values)
    if finite is not None and finite.size and np.max(np.abs(finite)) > 0:
        largest = float(np.max(np.abs(finite)))
        # the largest unit (smallest factor) in which the largest value is at least 1
        prefix = next((p for p in reversed(prefixes) if largest * _PREFIX_SCALE[p] >= 1.0 - 1e-12), prefixes[0])
    words = " ".join(_words(p) for p in [*parts[:-1], last])
    text = f"{words} [{prefix}{unit}]" if unit else words
    return text, _PREFIX_SCALE[prefix]


def _words(part: str) -> str:
    return " ".join(_WORDS.get(w, w) for w in part.split("_") if w)


def _finite(values) -> np.ndarray | None:
    """The finite numbers among ``values`` (None if they are not numbers)."""
    if values is None:
        return None
    numbers = _numeric(values)
    return None if numbers is None else numbers[np.isfinite(numbers)]


def _numeric(values) -> np.ndarray | None:
    """``values`` as float64 (None, and booleans, count as not numbers; None entries become nan)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iuf":
        return arr.astype(np.float64)
    if arr.dtype.kind != "O" or arr.size == 0:
        return None
    if not all(v is None or (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool))
               for v in arr.ravel()):
        return None
    if all(v is None for v in arr.ravel()):
        return None
    return np.array([np.nan if v is None else float(v) for v in arr.ravel()], dtype=np.float64).reshape(arr.shape)


def _fmt(value: Any, scale: float = 1.0) -> str:
    """A table value as legend or tick text: numbers in ``%g`` after ``scale``, None as "-"."""
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, float, np.integer, np.floating)):
        return f"{float(value) * scale:g}"
    return str(value)


def _colours() -> list:
    return mpl.rcParams["axes.prop_cycle"].by_key()["color"]


def _series_style(i: int) -> dict:
    """Colour and marker of the ``i``-th series: the same order in every figure."""
    colours = _colours()
    return {"color": colours[i % len(colours)], "marker": _MARKERS[i % len(_MARKERS)]}


def _categories(values: np.ndarray) -> list:
    """Distinct values: numbers in increasing order, anything else in order of first appearance."""
    arr = np.asarray(values)
    if _numeric(arr) is not None:  # (rows with no number are left out)
        return sorted((v for v in _ordered(arr) if v is not None and v == v), key=float)
    return _ordered(arr)


def _need(table: Mapping[str, np.ndarray], columns: Sequence[str], what: str) -> None:
    """Raise :class:`PlotError` naming the first of ``columns`` that ``table`` lacks."""
    for column in columns:
        if column not in table:
            raise PlotError(f"{what}: no column {column!r}; columns: {', '.join(table)}")


def _metric(table: Mapping[str, np.ndarray], name: str, what: str) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """A metric's values: (``<name>_mean``, ``<name>_ci95`` or None, False) from an aggregate,
    else (``name``, None, True) from a table with one row per run."""
    if f"{name}_mean" in table:
        ci = table.get(f"{name}_ci95")
        return (_as_float(table[f"{name}_mean"], name), None if ci is None else _as_float(ci, name), False)
    if name in table:
        return _as_float(table[name], name), None, True
    metrics = [m for m in _metric_names(table) if not _is_parameter(m, table.get(m, table.get(f"{m}_mean")))]
    raise PlotError(f"{what} {name!r}: not a metric of this table; metrics: {', '.join(metrics)}")


def _as_float(values, name: str) -> np.ndarray:
    numbers = _numeric(values)
    if numbers is None:
        raise PlotError(f"{name}: not a numeric column")
    return numbers


def _metric_names(table: Mapping[str, np.ndarray]) -> list[str]:
    """The numeric metrics of a table: ``<m>`` for each ``<m>_mean`` of an aggregate, else its numeric columns."""
    means = [c[: -len("_mean")] for c in table if c.endswith("_mean") and _numeric(table[c]) is not None]
    if any(c.endswith("_ci95") for c in table):
        return means
    return [c for c in table if _numeric(table[c]) is not None]


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
    """Concatenate tables of several runs into one, with a ``by`` column naming each run.

    Keeps the columns every table has (a run without a radio channel has no radio
    columns), in the first table's order.
    """
    labels = list(tables)
    columns = [c for c in next(iter(tables.values())) if all(c in t for t in tables.values())]
    out = {by: np.concatenate([np.full(len(tables[lab][columns[0]]), lab, dtype=object) for lab in labels])}
    for col in columns:
        out[col] = np.concatenate([np.asarray(tables[lab][col]) for lab in labels])
    return out


def plot_latency_cdf(histogram: Mapping[str, np.ndarray], *, by: str = "policy", ax=None):
    """Empirical CDF of task latency, one line per value of ``by``.

    ``histogram`` has columns ``by``, ``lower_s``, ``upper_s`` and ``count`` (the
    latency histogram, see :mod:`airan.histogram`); each CDF point sits at a bin's
    upper edge, so the curve is exact to the histogram's 1 % bin width. Runs that
    share a value of ``by`` (replications) are pooled: their counts are added bin by
    bin, which gives the CDF of all their tasks together.
    """
    ax = ax if ax is not None else figure()[1][0]
    _need(histogram, [by, "lower_s", "upper_s", "count"], "latency histogram")
    groups = np.asarray(histogram[by])
    colours = _colours()
    for i, group in enumerate(_ordered(groups)):
        rows = groups == group
        # pool the runs of this group: one count per distinct bin, bins in increasing order
        upper, inverse = np.unique(np.asarray(histogram["upper_s"], dtype=float)[rows], return_inverse=True)
        count = np.bincount(inverse, weights=np.asarray(histogram["count"], dtype=float)[rows],
                            minlength=upper.size)
        lower = np.empty(upper.size)
        lower[inverse] = np.asarray(histogram["lower_s"], dtype=float)[rows]
        keep = (count > 0) & np.isfinite(upper)
        if count.sum() == 0:
            continue
        x = upper[keep] * 1e3
        y = np.cumsum(count)[keep] / count.sum()
        # start from 0 at the lower edge of the first occupied bin
        ax.step(np.concatenate(([lower[keep][0] * 1e3], x)), np.concatenate(([0.0], y)), where="post",
                label=_fmt(group), color=colours[i % len(colours)])
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
    _need(devices, [by, hue, "battery_life_h"], "devices table")
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
    ax.legend(title=f"{by}, {hue}", frameon=False)
    return ax


def plot_metric(aggregate: Mapping[str, np.ndarray], x: str, y: str, *, by: str | None = None, ax=None,
                logx: bool = False):
    """A metric against a swept parameter: its mean with a shaded 95 % confidence band, one line per ``by``.

    Parameters
    ----------
    aggregate : dict of columns
        One row per sweep point (a sweep's ``aggregate.parquet``) with columns ``x``,
        ``by``, ``<y>_mean`` and ``<y>_ci95``, the half-width of the 95 % confidence
        interval of the mean over the point's replications. A table with a column ``y``
        instead (one row per run: a sweep's ``results.parquet``, :func:`runs_table`) is
        drawn as the mean of the rows that share (``by``, ``x``), each row a faint dot,
        without a band.
    x : str
        Column on the horizontal axis. Numbers give lines with bands; anything else
        (policy names) gives categories, the means with error bars.
    y : str
        The metric, e.g. ``latency_p95_s`` (unit from its suffix, see :func:`label`).
    by : str, optional
        Column with one line per value, each with its own colour and marker.
    ax : matplotlib Axes, optional
    logx : bool
        Logarithmic horizontal axis (numbers > 0 only).

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    PlotError
        A missing column, or several rows of one line at the same ``x`` in an aggregate
        (another swept axis varies: filter the table, or draw that axis as ``by``).
    """
    ax = ax if ax is not None else figure()[1][0]
    _need(aggregate, [x] + ([by] if by else []), "plot_metric")
    mean, ci, raw = _metric(aggregate, y, "y")
    xs = np.asarray(aggregate[x])
    x_numbers = _numeric(xs)
    categorical = x_numbers is None
    if categorical:
        if logx:
            raise PlotError(f"logx: {x} holds no numbers")
        x_categories = _ordered(xs)
        position = {c: float(i) for i, c in enumerate(x_categories)}
        x_numbers = np.array([position[v] for v in xs], dtype=np.float64)
        xtext, xscale = label(x)[0], 1.0
    else:
        xtext, xscale = label(x, x_numbers)
        if logx and np.any(x_numbers[np.isfinite(x_numbers)] <= 0):
            raise PlotError(f"logx: {x} has values <= 0")
    ytext, yscale = label(y, mean)
    groups = np.asarray(aggregate[by]) if by else np.zeros(xs.shape[0])
    series = _categories(groups) if by else [0.0]
    gtext, gscale = label(by, groups) if by else ("", 1.0)
    for i, group in enumerate(series):
        rows = np.flatnonzero(groups == group)
        rows = rows[np.isfinite(x_numbers[rows])]
        xv, yv = x_numbers[rows], mean[rows]
        at = np.unique(xv)
        if raw:
            means = np.array([_nanmean(yv[xv == u]) for u in at])
            half = None
        else:
            if at.size < xv.size:
                clash = next(xs[r] for r in rows if np.sum(xv == x_numbers[r]) > 1)
                raise PlotError(f"several rows{'' if by is None else f' with {by} = {_fmt(group)}'} have "
                                f"{x} = {_fmt(clash)}: another swept axis varies; filter the table or draw that "
                                f"axis as by")
            order = np.argsort(xv)
            means, half = yv[order], None if ci is None else ci[rows][order]
        style = _series_style(i)
        dodge = (i - (len(series) - 1) / 2) * 0.12 if categorical else 0.0
        name = _fmt(group, gscale) if by else None
        if raw:
            ax.plot(xv * xscale + dodge, yv * yscale, linestyle="none", marker=style["marker"], markersize=2.5,
                    alpha=0.35, color=style["color"])
        if categorical:
            ax.errorbar(at + dodge, means * yscale, yerr=None if half is None else half * yscale, linestyle="none",
                        capsize=2, markersize=4, label=name, **style)
        else:
            ax.plot(at * xscale, means * yscale, markersize=3.5, label=name, **style)
            if half is not None:
                ax.fill_between(at * xscale, (means - half) * yscale, (means + half) * yscale, color=style["color"],
                                alpha=0.2, linewidth=0)
    if categorical:
        ax.set_xticks(np.arange(len(x_categories)), [_fmt(c) for c in x_categories])
        ax.set_xlim(-0.5, len(x_categories) - 0.5)
        ax.grid(axis="x", visible=False)
    elif logx:
        _log_axis(ax.xaxis)
        at = np.unique(x_numbers[np.isfinite(x_numbers)])
        if at.size <= 10:  # a few swept values: a tick at each
            ax.set_xticks(at * xscale, [_fmt(v, xscale) for v in at])
            ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
    ax.set_xlabel(xtext)
    ax.set_ylabel(ytext)
    if by:
        ax.legend(title=gtext, frameon=False)
    return ax


def plot_heatmap(aggregate: Mapping[str, np.ndarray], x: str, y: str, value: str, *, ax=None,
                 annotate: bool | None = None):
    """A metric over two swept parameters: one coloured cell per (``x``, ``y``), with a colour bar.

    Parameters
    ----------
    aggregate : dict of columns
        One row per sweep point with columns ``x``, ``y`` and ``<value>_mean`` (a
        sweep's ``aggregate.parquet``), or one row per run with a column ``value``
        (each cell then the mean of its rows).
    x, y : str
        Columns along the horizontal and vertical axis; each distinct value is one
        column or row of cells (numbers in increasing order).
    value : str
        The metric, e.g. ``latency_p95_s``; its unit labels the colour bar.
    ax : matplotlib Axes, optional
    annotate : bool, optional
        Write each cell's value in it (default: when there are at most 64 cells).

    Returns
    -------
    matplotlib Axes
        Cells without a value are left blank.
    """
    ax = ax if ax is not None else figure(width_in=4.2)[1][0]
    _need(aggregate, [x, y], "plot_heatmap")
    values, _, raw = _metric(aggregate, value, "value")
    xs, ys = np.asarray(aggregate[x]), np.asarray(aggregate[y])
    x_categories, y_categories = _categories(xs), _categories(ys)
    xi = {c: i for i, c in enumerate(x_categories)}
    yi = {c: i for i, c in enumerate(y_categories)}
    rows = np.zeros((len(y_categories), len(x_categories)), dtype=np.int64)
    total = np.zeros(rows.shape)
    counted = np.zeros(rows.shape, dtype=np.int64)
    for r in range(values.shape[0]):
        i, j = yi.get(ys[r]), xi.get(xs[r])
        if i is None or j is None:
            continue
        rows[i, j] += 1
        if np.isfinite(values[r]):
            total[i, j] += values[r]
            counted[i, j] += 1
    if not raw and rows.max(initial=0) > 1:
        i, j = np.unravel_index(np.argmax(rows), rows.shape)
        raise PlotError(f"several rows have {x} = {_fmt(x_categories[j])} and {y} = {_fmt(y_categories[i])}: "
                        f"another swept axis varies; filter the table first")
    with np.errstate(invalid="ignore", divide="ignore"):
        grid = np.where(counted > 0, total / np.maximum(counted, 1), np.nan)
    text, scale = label(value, grid)
    mesh = ax.pcolormesh(np.arange(len(x_categories) + 1) - 0.5, np.arange(len(y_categories) + 1) - 0.5,
                         np.ma.masked_invalid(grid * scale), cmap="viridis", shading="flat")
    ax.figure.colorbar(mesh, ax=ax, label=text)
    if annotate if annotate is not None else grid.size <= 64:
        norm = mesh.norm
        for (i, j), cell in np.ndenumerate(grid * scale):
            if np.isfinite(cell):
                dark = norm(cell) < 0.6  # light text on the dark end of viridis
                ax.text(j, i, f"{cell:.3g}", ha="center", va="center", fontsize=6,
                        color="white" if dark else "black")
    xtext, xscale = label(x, xs)
    ytext, yscale = label(y, ys)
    ax.set_xticks(np.arange(len(x_categories)), [_fmt(c, xscale) for c in x_categories])
    ax.set_yticks(np.arange(len(y_categories)), [_fmt(c, yscale) for c in y_categories])
    ax.set_xlim(-0.5, len(x_categories) - 0.5)
    ax.set_ylim(-0.5, len(y_categories) - 0.5)
    ax.grid(False)
    ax.set_xlabel(xtext)
    ax.set_ylabel(ytext)
    return ax


#: Parts of a device's energy, bottom to top of a bar: summary key part, legend label, colour.
ENERGY_PARTS = (
    ("idle", "baseline (idle)", "#BFBFBF"),
    ("compute", "compute", "#8172B3"),
    ("tx", "transmit", "#4C72B0"),
    ("rx", "receive", "#55A868"),
    ("tail", "RRC tail", "#DD8452"),
)


def plot_energy_breakdown(summaries, *, by: str, ax=None):
    """Device energy per completed task as stacked bars, one bar per value of ``by``.

    Each bar stacks the baseline (idle), compute, transmit, receive and RRC-tail
    energy (:data:`ENERGY_PARTS`; summary keys ``device_energy_<part>_j``), each
    divided by the tasks completed in the run as ``device_energy_per_task_j`` is, so
    the parts add up to it: part per task = part x ``device_energy_per_task_j`` /
    ``device_energy_j``.

    Parameters
    ----------
    summaries : dict of columns, or sequence of dict
        One row per run with those columns and ``by`` (a sweep's ``results.parquet``,
        :func:`runs_table`), or the runs' ``summary.json`` contents. Rows that share a
        value of ``by`` (replications) are averaged. An aggregate's ``<key>_mean``
        columns are used where the plain ones are missing.
    by : str
        Column naming the bars, e.g. ``policy`` or ``run``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    table = _as_table(summaries)
    _need(table, [by], "plot_energy_breakdown")
    groups = np.asarray(table[by])
    categories = _categories(groups)
    if ax is None:
        ax = figure(width_in=max(3.5, 1.6 + 0.45 * len(categories)))[1][0]
    total = _metric(table, "device_energy_j", "energy")[0]
    per_task = _metric(table, "device_energy_per_task_j", "energy")[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, per_task / total, np.nan)  # 1 / tasks completed in the run
    positions = np.arange(len(categories), dtype=np.float64)
    bottom = np.zeros(positions.shape[0])
    for part, text, colour in ENERGY_PARTS:
        per_row = _metric(table, f"device_energy_{part}_j", "energy")[0] * share
        height = np.nan_to_num(np.array([_nanmean(per_row[groups == c]) for c in categories]))
        ax.bar(positions, height, bottom=bottom, width=0.6, color=colour, label=text, linewidth=0)
        bottom += height
    gtext, gscale = label(by, groups)
    names = [_fmt(c, gscale) for c in categories]
    long = sum(len(n) for n in names) > 40 or max((len(n) for n in names), default=0) > 12
    ax.set_xticks(positions, names, rotation=30 if long else 0, ha="right" if long else "center")
    ax.grid(axis="x", visible=False)
    ax.set_xlim(-0.6, len(categories) - 0.4)
    ax.set_xlabel(gtext)
    ax.set_ylabel(label("device_energy_per_task_j")[0])
    ax.set_ylim(0, max(float(bottom.max(initial=0.0)), 1e-12) * 1.45)  # room for the legend
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], frameon=False, loc="upper left", ncols=2)  # top part first
    return ax


def plot_gpu_timeseries(timeseries: Mapping[str, np.ndarray], *, nodes: Sequence[str] | None = None,
                        value: str = "gpu_utilization", max_nodes: int = 8, ax=None):
    """GPU utilisation (or another per-node column) over time, one step line per compute node.

    Parameters
    ----------
    timeseries : dict of columns
        A run's ``timeseries.parquet``: one row per node and sampling interval, with
        ``t_start_s``, ``t_end_s``, ``node`` (name), ``gpu_utilization`` (busy
        fraction of its servers) and ``gpu_queue_length_mean``, each a time average
        over its interval; each value is drawn flat over its interval.
    nodes : sequence of str, optional
        The nodes to draw. Default: every node with a value (nodes without a GPU have
        none); with more than ``max_nodes`` of them, their mean in each interval with
        a band from the least to the most loaded node.
    value : str
        The column to draw (``gpu_utilization`` or ``gpu_queue_length_mean``).
    max_nodes : int
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Time in s, min or h, whichever suits the run's length.
    """
    ax = ax if ax is not None else figure(width_in=4.5)[1][0]
    _need(timeseries, ["t_start_s", "t_end_s", "node", value], "GPU time series")
    start = _as_float(timeseries["t_start_s"], "t_start_s")
    end = _as_float(timeseries["t_end_s"], "t_end_s")
    names = np.asarray(timeseries["node"])
    values = _as_float(timeseries[value], value)
    known = _ordered(names)
    if nodes is None:
        chosen = [n for n in known if np.isfinite(values[names == n]).any()]
    else:
        chosen = list(nodes)
        unknown = [n for n in chosen if n not in known]
        if unknown:
            raise PlotError(f"nodes: no node {unknown[0]!r} in the time series; nodes: {', '.join(map(str, known))}")
    unit, tscale = _time_unit(float(np.nanmax(end)) if end.size else 0.0)
    text, scale = label(value, values)
    if nodes is None and len(chosen) > max_nodes:
        rows = np.isin(names, chosen)
        starts, inverse = np.unique(start[rows], return_inverse=True)
        ends = np.full(starts.shape[0], -np.inf)
        np.maximum.at(ends, inverse, end[rows])
        v = values[rows]
        finite = np.isfinite(v)
        n = np.bincount(inverse[finite], minlength=starts.shape[0])
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(inverse[finite], weights=v[finite], minlength=starts.shape[0]) / n
        low, high = np.full(starts.shape[0], np.inf), np.full(starts.shape[0], -np.inf)
        np.minimum.at(low, inverse[finite], v[finite])
        np.maximum.at(high, inverse[finite], v[finite])
        low[n == 0], high[n == 0] = np.nan, np.nan
        t = np.concatenate((starts, ends[-1:])) * tscale
        colour = _colours()[0]
        ax.fill_between(t, np.concatenate((low, low[-1:])) * scale, np.concatenate((high, high[-1:])) * scale,
                        step="post", color=colour, alpha=0.25, linewidth=0, label="least to most loaded node")
        ax.step(t, np.concatenate((mean, mean[-1:])) * scale, where="post", color=colour,
                label=f"mean of {len(chosen)} nodes")
        ax.legend(frameon=False)
    else:
        colours = _colours()
        for i, node in enumerate(chosen):
            rows = np.flatnonzero(names == node)
            rows = rows[np.argsort(start[rows], kind="stable")]
            if rows.size == 0:
                continue
            t = np.concatenate((start[rows], end[rows[-1:]])) * tscale
            v = values[rows]
            ax.step(t, np.concatenate((v, v[-1:])) * scale, where="post", color=colours[i % len(colours)],
                    linestyle=_LINESTYLES[(i // len(colours)) % len(_LINESTYLES)], label=_fmt(node))
        if chosen:
            ax.legend(title="node", frameon=False)
    ax.set_xlabel(f"time [{unit}]")
    ax.set_ylabel(text)
    if value == "gpu_utilization":
        ax.set_ylim(0, max(1.05, 1.05 * float(np.nanmax(values, initial=0.0)) * scale))
    else:
        ax.set_ylim(bottom=0)
    return ax


def _time_unit(span_s: float) -> tuple[str, float]:
    """Unit and factor for a time axis ``span_s`` long: s up to 10 min, min up to 10 h, then h."""
    if span_s <= 600.0:
        return "s", 1.0
    if span_s <= 36000.0:
        return "min", 1.0 / 60.0
    return "h", 1.0 / 3600.0


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def _as_table(data) -> dict[str, np.ndarray]:
    """A table (dict of columns) from a table, or from a sequence of (nested) dicts, one per row."""
    if isinstance(data, Mapping):
        return {k: np.asarray(v) for k, v in data.items()}
    return _rows_to_table([_flatten(row) for row in data])


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


#: Marker of each compute-node kind in :func:`plot_topology`.
_COMPUTE_MARKERS = {"site": "s", "edge": "D", "aggregation": "h", "cloud": "p"}
#: Line style of each transport-link label in :func:`plot_topology`.
_LINK_STYLES = {"fronthaul": ":", "midhaul": "-.", "backhaul": "-", "transport": "--", None: "-"}
_GPU_COLOUR = "tab:red"


def plot_topology(topo, *, ax=None, devices_x_m=None, devices_y_m=None, devices_site=None, wrap: bool = False,
                  labels: bool | None = None):
    """Map of a topology: sites, compute nodes, transport links, roads, area, and optionally devices.

    Sites are black triangles, 3-sector sites with short ticks along their sector
    boresights (azimuth + 30, 150, 270 deg, counter-clockwise from east). Compute
    nodes have one marker per kind (site: a square around its site, edge: diamond,
    aggregation: hexagon, cloud: pentagon), filled red where they host a GPU.
    Transport links are drawn between node positions with a width growing with the
    logarithm of their capacity and a line style per label; co-located links are not
    drawn. Roads are thin grey lines, the area a dashed box. Devices (all three
    ``devices_*`` arrays) are dots coloured by serving site, with a faint line to it.

    Parameters
    ----------
    topo : airan.topology.Topology
    ax : matplotlib Axes, optional
        Axes to draw on (a new figure if omitted).
    devices_x_m, devices_y_m : array_like float64[n_devices], optional
        Device positions, m.
    devices_site : array_like int[n_devices], optional
        Serving site of each device, index into ``topo.sites`` (negative: none).
    wrap : bool
        Also draw the six wrap-around copies of the sites, faint (needs ``topo.wrap``).
    labels : bool, optional
        True: write node names and link latencies; False: neither; default: node names
        when there are at most 40 nodes.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on. Axes are in m, or km when the area is wider than 5 km.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    from .topology import hex_wrap_shifts_m

    area = topo.bounds()
    width_m, height_m = area.x_max_m - area.x_min_m, area.y_max_m - area.y_min_m
    if ax is None:
        # map height follows the area's aspect (a highway is a wide strip), legend on the right
        aspect = min(max(height_m / width_m, 0.25), 1.5)
        ax = figure(width_in=5.5, height_in=1.3 + 3.4 * aspect)[1][0]
    scale, unit = (1e-3, "km") if max(width_m, height_m) > 5000 else (1.0, "m")
    span = scale * max(width_m, height_m)
    link_labels = labels is True
    labels = (len(topo.sites) + len(topo.compute) <= 40) if labels is None else labels
    site_xy = scale * np.array([(s.x_m, s.y_m) for s in topo.sites], dtype=np.float64).reshape(-1, 2)
    handles = []

    ax.add_patch(Rectangle((scale * area.x_min_m, scale * area.y_min_m), scale * (area.x_max_m - area.x_min_m),
                           scale * (area.y_max_m - area.y_min_m), fill=False, linestyle="--", linewidth=0.6,
                           edgecolor="0.5", zorder=0.5))
    if topo.roads:
        ax.add_collection(LineCollection([scale * np.asarray(r.points_m, dtype=np.float64) for r in topo.roads],
                                         colors="0.75", linewidths=0.6, zorder=0.6))
        handles.append(Line2D([], [], color="0.75", linewidth=0.6, label="road"))

    # devices, faint lines to their serving site
    if devices_x_m is not None and devices_y_m is not None:
        dx = scale * np.asarray(devices_x_m, dtype=np.float64)
        dy = scale * np.asarray(devices_y_m, dtype=np.float64)
        site = (np.asarray(devices_site, dtype=np.int64) if devices_site is not None
                else np.full(dx.shape, -1, dtype=np.int64))
        colours = mpl.colormaps["tab20"](np.where(site >= 0, site % 20, 0))
        colours[site < 0] = mpl.colors.to_rgba("0.5")
        served = (site >= 0) & (site < site_xy.shape[0])
        if served.any():
            segments = np.stack([np.stack([dx[served], dy[served]], axis=1), site_xy[site[served]]], axis=1)
            ax.add_collection(LineCollection(segments, colors=colours[served], linewidths=0.3, alpha=0.25,
                                             zorder=0.8))
        ax.scatter(dx, dy, s=3, c=colours, linewidths=0, zorder=0.9)
        handles.append(Line2D([], [], marker=".", linestyle="", color="0.4", label="device"))

    # transport links, width by log capacity
    pos = {name: scale * np.array(topo.node_xy_m(name)) for name in
           [s.name for s in topo.sites] + [c.name for c in topo.compute]}
    kinds_drawn = []
    for link in topo.links:
        width = 0.5 + 0.45 * max(0.0, np.log10(link.capacity_bps / 1e8))
        a, b = pos[link.a], pos[link.b]
        ax.plot([a[0], b[0]], [a[1], b[1]], color="tab:blue", alpha=0.6, linewidth=width,
                linestyle=_LINK_STYLES.get(link.kind, "-"), zorder=1, solid_capstyle="round")
        if link_labels:
            mid = 0.5 * (a + b)
            ax.annotate(f"{link.delay_s * 1e3:.3g} ms", mid, fontsize=5, color="tab:blue", ha="center",
                        va="center", zorder=1.1, bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none",
                                                       "alpha": 0.7})
        if link.kind not in kinds_drawn:
            kinds_drawn.append(link.kind)
    for kind in kinds_drawn:
        handles.append(Line2D([], [], color="tab:blue", alpha=0.6, linestyle=_LINK_STYLES.get(kind, "-"),
                              label=f"{kind or 'link'} link"))

    # wrap-around copies of the sites
    if wrap and topo.wrap is not None and site_xy.shape[0]:
        for shift in scale * hex_wrap_shifts_m(topo.wrap.isd_m, topo.wrap.rings)[1:]:
            ax.plot(site_xy[:, 0] + shift[0], site_xy[:, 1] + shift[1], "^", color="0.7", markersize=3, zorder=1.5)
        handles.append(Line2D([], [], marker="^", linestyle="", color="0.7", markersize=3, label="wrap-around copy"))

    # compute nodes
    kinds_seen = []
    for node in topo.compute:
        x, y = pos[node.name]
        gpu = node.gpu is not None
        size = 11 if node.kind == "site" else 8
        ax.plot(x, y, marker=_COMPUTE_MARKERS[node.kind], markersize=size, linestyle="",
                markerfacecolor=_GPU_COLOUR if gpu else "white", markeredgecolor="0.15", markeredgewidth=0.8,
                alpha=0.9 if node.kind != "site" else 0.6, zorder=2)
        if labels and node.kind != "site":
            ax.annotate(node.name, (x, y), xytext=(5, -7), textcoords="offset points", fontsize=6, zorder=4)
        if node.kind not in kinds_seen:
            kinds_seen.append(node.kind)
    for kind in _COMPUTE_MARKERS:
        if kind in kinds_seen:
            handles.append(Line2D([], [], marker=_COMPUTE_MARKERS[kind], linestyle="", markerfacecolor="white",
                                  markeredgecolor="0.15", label=f"{kind} compute" if kind == "site" else kind))
    if any(node.gpu is not None for node in topo.compute):
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor=_GPU_COLOUR, markeredgecolor="0.15",
                              label="GPU"))

    # sites with sector boresight ticks
    if site_xy.shape[0]:
        tick = 0.025 * span
        segments = []
        for s, (x, y) in zip(topo.sites, site_xy, strict=True):
            if s.sectors == 3:
                for offset in (30.0, 150.0, 270.0):
                    angle = np.radians(s.azimuth_deg + offset)
                    segments.append([(x, y), (x + tick * np.cos(angle), y + tick * np.sin(angle))])
        if segments:
            ax.add_collection(LineCollection(segments, colors="0.1", linewidths=0.8, zorder=3))
        ax.plot(site_xy[:, 0], site_xy[:, 1], "^", color="0.1", markersize=5, linestyle="", zorder=3.1)
        handles.insert(0, Line2D([], [], marker="^", linestyle="", color="0.1", markersize=5, label="site"))
        if labels:
            for s, (x, y) in zip(topo.sites, site_xy, strict=True):
                ax.annotate(s.name, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=6, zorder=4)

    ax.grid(False)  # roads and links are the lines of a map
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(6))
    ax.yaxis.set_major_locator(mpl.ticker.MaxNLocator(6))
    ax.set_aspect("equal", adjustable="box")
    ax.autoscale_view()
    ax.set_xlabel(f"x [{unit}]")
    ax.set_ylabel(f"y [{unit}]")
    ax.set_title(f"{topo.name}: {len(topo.sites)} sites, {topo.n_cells} cells, {len(topo.compute)} compute nodes")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, borderaxespad=0.0)
    return ax.figure


# ---------------------------------------------------------------------------------------------
# Run and sweep folders -> tables -> one figure (what `airan plot` calls)
# ---------------------------------------------------------------------------------------------

#: Figure kinds of :func:`plot_results` (and ``airan plot --kind``).
KINDS = ("cdf", "metric", "heatmap", "battery", "energy", "gpu", "topology")

#: The options each kind takes.
_KIND_OPTIONS = {
    "cdf": ("by",), "metric": ("x", "y", "by", "logx"), "heatmap": ("x", "y", "value"), "battery": ("by",),
    "energy": ("by",), "gpu": ("y",), "topology": (),
}

#: The metric drawn when none is named.
DEFAULT_METRIC = "latency_p95_s"


class SweepFolder(NamedTuple):
    """A sweep folder's tables and axes."""

    folder: Path
    axes: list[str]                      # swept scenario paths, e.g. ["policy.name", "devices[0].rate_hz"]
    results: dict[str, np.ndarray] | None    # one row per (point, replication): run, point, replication, seed, ...
    aggregate: dict[str, np.ndarray] | None  # one row per point: the axes, n, <metric>_mean, <metric>_ci95


def read_sweep(folder: str | Path) -> SweepFolder:
    """Read a sweep folder: ``results.parquet``, ``aggregate.parquet`` and the axes from ``sweep.json``.

    Without an axis list in ``sweep.json`` the axes are the columns of
    ``aggregate.parquet`` between ``point`` and ``n``. A run of the sweep is in
    ``runs/<run>/`` (:mod:`airan.sweep` writes these folders).
    """
    folder = Path(folder)
    results = _read_table(folder / "results.parquet") if (folder / "results.parquet").is_file() else None
    aggregate = _read_table(folder / "aggregate.parquet") if (folder / "aggregate.parquet").is_file() else None
    if results is None and aggregate is None:
        raise PlotError(f"{folder}: not a sweep folder (no results.parquet or aggregate.parquet)")
    axes: list[str] = []
    if (folder / "sweep.json").is_file():
        raw = _read_json(folder / "sweep.json")
        listed = raw.get("axes") if isinstance(raw, Mapping) else None
        if isinstance(listed, Mapping):
            axes = [str(a) for a in listed]
        elif isinstance(listed, list):
            for axis in listed:
                if isinstance(axis, Mapping):
                    axis = axis.get("path", axis.get("name"))
                if isinstance(axis, str):
                    axes.append(axis)
    if not axes and aggregate is not None and "n" in aggregate:
        columns = list(aggregate)
        axes = [c for c in columns[: columns.index("n")] if c != "point"]
    return SweepFolder(folder, axes, results, aggregate)


def runs_table(folders: Sequence[str | Path]) -> dict[str, np.ndarray]:
    """One row per run folder: its name, its summary and its resolved scenario, flattened.

    Columns: ``run`` (the folder's name, with as many parent folders as make the
    names distinct, e.g. ``hex19/cloud``), ``folder`` (its path), every field of
    ``summary.json`` (nested ones by dotted name, e.g. ``workloads.detect.latency_p95_s``),
    then every field of its ``scenario.toml`` by its ``--set`` path (``policy.name``,
    ``devices[0].rate_hz``) that the summary does not already name.
    """
    paths = [Path(f) for f in folders]
    rows = []
    for path, name in zip(paths, _folder_labels(paths), strict=True):
        if not (path / "summary.json").is_file():
            raise PlotError(f"{path}: not a run folder (no summary.json)")
        row = {"run": name, "folder": str(path), **_flatten(_read_json(path / "summary.json"))}
        if (path / "scenario.toml").is_file():
            try:
                scenario = tomllib.loads((path / "scenario.toml").read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise PlotError(f"{path / 'scenario.toml'}: cannot read: {exc}") from None
            for key, value in _flatten(scenario).items():
                row.setdefault(key, value)
        rows.append(row)
    return _rows_to_table(rows)


def plot_results(paths: Sequence[str | Path], *, kind: str | None = None, x: str | None = None,
                 y: str | None = None, by: str | None = None, value: str | None = None, logx: bool = False,
                 where: Sequence[str] = ()) -> Figure:
    """Draw one figure from run folders or from one sweep folder; what ``airan plot`` does.

    Parameters
    ----------
    paths : sequence of path
        Run folders (with ``summary.json``), compared with each other, or one sweep
        folder (``results.parquet``, ``aggregate.parquet``, ``sweep.json``, ``runs/``).
    kind : str, optional
        One of :data:`KINDS`. Default: ``metric`` for a sweep, ``cdf`` for run folders.

        - ``cdf``: latency CDF per run, or per ``by`` (runs that share a value pooled);
        - ``metric``: ``y`` (default ``latency_p95_s``) against ``x``, one line per ``by``,
          with the 95 % band. For a sweep, ``x`` defaults to its first axis and ``by`` to
          another axis; for run folders ``x`` is any summary field or scenario path;
        - ``heatmap``: ``value`` (default ``latency_p95_s``) over ``x`` and ``y`` (default:
          a sweep's first two axes);
        - ``battery``: battery-life distribution per run (or ``by``) and device group;
        - ``energy``: device energy per task by part, one bar per run (or ``by``);
        - ``gpu``: one run's GPU utilisation over time per node (``timeseries.parquet``;
          ``y`` may name another column, e.g. ``gpu_queue_length_mean``);
        - ``topology``: one run's network with its devices.
    x, y, by, value : str, optional
        Columns: a sweep's axes and metrics, or run folders' summary fields and scenario
        paths. ``by`` defaults to the run (the folder name; for a sweep: its axes).
    logx : bool
        Logarithmic ``x`` (``metric``).
    where : sequence of str
        ``PATH=VALUE`` filters: keep the runs (and sweep points) whose ``PATH`` equals ``VALUE``.

    Returns
    -------
    matplotlib.figure.Figure
        Drawn in the current style: call it inside :func:`style` for the house style.

    Raises
    ------
    PlotError
        One line naming what is wrong and what is allowed: a missing folder or file, an
        unknown kind or column, an option the kind does not take, or a figure the input
        cannot give (a heatmap from a sweep with one axis).
    """
    if kind is not None and kind not in KINDS:
        raise PlotError(f"--kind {kind}: unknown; one of: {', '.join(KINDS)}")
    source, runs, sweep = _open(paths)
    kind = kind or ("metric" if sweep is not None else "cdf")
    for option, setting in (("x", x), ("y", y), ("by", by), ("value", value), ("logx", logx or None)):
        if setting is not None and option not in _KIND_OPTIONS[kind]:
            takes = ", ".join(f"--{o}" for o in _KIND_OPTIONS[kind]) or "no options"
            raise PlotError(f"--{option} does not apply to --kind {kind} (it takes {takes})")
    aggregate = sweep.aggregate if sweep is not None else None
    for condition in where:
        runs, aggregate = _where(condition, runs, aggregate, source)

    if kind in ("metric", "heatmap"):
        return _plot_table_kind(kind, source, runs, aggregate, sweep, x=x, y=y, by=by, value=value, logx=logx)
    if runs is None:
        raise PlotError(f"{source}: no results.parquet, which --kind {kind} needs")
    folders = _run_folders(runs, sweep)
    if kind in ("gpu", "topology"):
        if len(folders) != 1:
            hint = f" (e.g. {sweep.folder / 'runs' / str(runs['run'][0])}) or narrow with --where" if sweep else ""
            raise PlotError(f"--kind {kind} draws one run; {len(folders)} given: name one run folder{hint}")
        return _plot_gpu(folders[0], y) if kind == "gpu" else _plot_run_topology(folders[0])
    title, groups = _run_groups(runs, by, sweep, source)
    if kind == "energy":
        ax = plot_energy_breakdown({**runs, title: groups}, by=title)
        return ax.figure
    name = "latency_histogram.parquet" if kind == "cdf" else "devices.parquet"
    table = _stack_rows([(g, _read_table(f / name)) for g, f in zip(groups, folders, strict=True)], title)
    if kind == "cdf":
        return plot_latency_cdf(table, by=title).figure
    _need(table, ["group", "battery_life_h"], f"{name} of {source}")
    return plot_battery_life(table, by=title, hue="group", ax=figure(width_in=4.2)[1][0]).figure


def _plot_table_kind(kind, source, runs, aggregate, sweep, *, x, y, by, value, logx) -> Figure:
    """``metric`` or ``heatmap`` from a sweep's aggregate (or its runs), or from run folders' table."""
    axes = sweep.axes if sweep is not None else []
    if kind == "metric":
        metric = y or DEFAULT_METRIC
        if sweep is not None:
            if x is None and not axes:
                raise PlotError(f"{source}: no swept axes found; give --x")
            # default: the first axis with numbers along x (the first axis if none has), another one as lines
            numeric = [a for a in axes if runs is not None and a in runs and _numeric(runs[a]) is not None
                       or aggregate is not None and a in aggregate and _numeric(aggregate[a]) is not None]
            x = x or (numeric[0] if numeric else axes[0])
            by = by if by is not None else next((a for a in axes if a != x), None)
        elif x is None:
            raise PlotError(f"--kind metric on run folders needs --x, a summary field or scenario path; "
                            f"these differ between the runs: {', '.join(_varying(runs)) or 'none'}")
        keys = [x] + ([by] if by else [])
    else:
        metric = value or DEFAULT_METRIC
        if sweep is not None:
            if (x is None or y is None) and len(axes) < 2:
                raise PlotError(f"--kind heatmap needs two swept axes; {source} sweeps {len(axes)}"
                                f"{': ' + ', '.join(axes) if axes else ''}; use --kind metric, or give --x and --y")
            x = x or next(a for a in axes if a != y)
            y = y or next(a for a in axes if a != x)
        elif x is None or y is None:
            raise PlotError(f"--kind heatmap on run folders needs --x and --y, summary fields or scenario paths; "
                            f"these differ between the runs: {', '.join(_varying(runs)) or 'none'}")
        keys = [x, y]
    metric_flag = "--y" if kind == "metric" else "--value"
    key_flags = ["--x", "--by" if kind == "metric" else "--y"]
    usable = aggregate is not None and all(k in aggregate for k in keys) and f"{metric}_mean" in aggregate
    table = aggregate if usable else runs
    where = (f"{source}/aggregate.parquet" if usable else f"{source}/results.parquet") if sweep is not None \
        else "these runs"
    if table is None:
        table, where = aggregate, f"{source}/aggregate.parquet"  # report against what there is
    for key, flag in zip(keys, key_flags, strict=False):
        if key not in table:
            allowed = (f"axes: {', '.join(axes)}" if sweep is not None else
                       f"these differ between the runs: {', '.join(_varying(runs)) or 'none'}")
            raise PlotError(f"{flag} {key}: not a column of {where}; {allowed}")
    if metric not in _metric_names(table):
        metrics = [m for m in _metric_names(table) if m not in keys and m not in axes
                   and not _is_parameter(m, table.get(m, table.get(f"{m}_mean")))]
        raise PlotError(f"{metric_flag} {metric}: not a metric of {where}; metrics: {', '.join(metrics)}")
    for axis in axes:
        if axis not in keys and axis in table and len(_categories(table[axis])) > 1:
            values = ", ".join(_fmt(v) for v in _categories(table[axis]))
            hint = "pick one with --where" if kind == "heatmap" else "draw it with --by, or pick one with --where"
            raise PlotError(f"{source} also varies {axis} ({values}): {hint} {axis}=VALUE")
    if kind == "metric":
        return plot_metric(table, x, metric, by=by, logx=logx).figure
    return plot_heatmap(table, x, y, metric).figure


def _open(paths) -> tuple[str, dict | None, SweepFolder | None]:
    """(name for messages, one row per run, the sweep or None) of the folders named."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise PlotError("give a run folder or a sweep folder")
    for path in paths:
        if not path.exists():
            raise PlotError(f"{path}: no such folder")
        if not path.is_dir():
            raise PlotError(f"{path}: not a folder (give a run folder or a sweep folder)")
    sweeps = [p for p in paths if (p / "results.parquet").is_file() or (p / "aggregate.parquet").is_file()]
    if sweeps:
        if len(paths) > 1:
            raise PlotError(f"{sweeps[0]} is a sweep folder: give it alone (one sweep, or several run folders)")
        sweep = read_sweep(paths[0])
        return str(paths[0]), sweep.results, sweep
    for path in paths:
        if not (path / "summary.json").is_file():
            raise PlotError(f"{path}: neither a run folder (summary.json) nor a sweep folder (aggregate.parquet)")
    return ("these runs" if len(paths) > 1 else str(paths[0])), runs_table(paths), None


def _where(condition: str, runs, aggregate, source: str):
    """Keep the rows of ``runs`` (and ``aggregate``, where it has the column) matching ``PATH=VALUE``."""
    if "=" not in condition:
        raise PlotError(f"--where {condition}: must be PATH=VALUE")
    column, text = (s.strip() for s in condition.split("=", 1))
    base = runs if runs is not None else aggregate
    if column not in base:
        raise PlotError(f"--where {condition}: no column {column!r} in {source}; these differ: "
                        f"{', '.join(_varying(base)) or 'none'}")

    def keep(table):
        values = np.asarray(table[column])
        numbers = _numeric(values)
        if numbers is not None:
            try:
                wanted = float(text)
            except ValueError:
                raise PlotError(f"--where {condition}: {column} holds numbers") from None
            mask = np.isclose(numbers, wanted, rtol=1e-9, atol=0.0)
        else:
            mask = np.array([_fmt(v) == text for v in values], dtype=bool)
        if not mask.any():
            raise PlotError(f"--where {condition}: no row has it; {column} takes: "
                            f"{', '.join(_fmt(v) for v in _categories(values))}")
        return {k: np.asarray(v)[mask] for k, v in table.items()}

    runs = keep(runs) if runs is not None else None
    if aggregate is not None:
        aggregate = keep(aggregate) if column in aggregate else None  # (then drawn from the runs)
    return runs, aggregate


def _run_folders(runs, sweep: SweepFolder | None) -> list[Path]:
    if sweep is None:
        return [Path(f) for f in runs["folder"]]
    if "run" not in runs:
        raise PlotError(f"{sweep.folder}/results.parquet: no column 'run' naming the run folders")
    folders = [sweep.folder / "runs" / str(r) for r in runs["run"]]
    for folder in folders:
        if not folder.is_dir():
            raise PlotError(f"{folder}: no such run folder")
    return folders


def _run_groups(runs, by: str | None, sweep: SweepFolder | None, source: str) -> tuple[str, np.ndarray]:
    """Legend title and one label per run: ``by``'s values, or the run (a sweep's point: its axes)."""
    if by is not None:
        columns = [by]
        if by not in runs:
            raise PlotError(f"--by {by}: not a column of {source}; "
                            f"{'axes: ' + ', '.join(sweep.axes) if sweep else 'these differ between the runs: '}"
                            f"{'' if sweep else ', '.join(_varying(runs)) or 'none'}")
    elif sweep is not None and sweep.axes and all(a in runs for a in sweep.axes):
        columns = list(sweep.axes)  # one group per point: its replications pooled
    else:
        columns = ["run"]
    texts, parts = [], []
    for column in columns:
        values = np.asarray(runs[column])
        text, scale = label(column, values)
        texts.append(text)
        parts.append([_fmt(v, scale) for v in values])
    return ", ".join(texts), np.array([", ".join(p) for p in zip(*parts, strict=True)], dtype=object)


def _plot_gpu(folder: Path, value: str | None) -> Figure:
    path = folder / "timeseries.parquet"
    if not path.is_file():
        raise PlotError(f"{folder}: no timeseries.parquet (this run recorded no GPU time series)")
    table = _read_table(path)
    value = value or "gpu_utilization"
    if value not in table or value in ("t_start_s", "t_end_s", "node"):
        columns = [c for c in table if c not in ("t_start_s", "t_end_s", "node")]
        raise PlotError(f"--y {value}: not a column of {path}; columns: {', '.join(columns)}")
    return plot_gpu_timeseries(table, value=value).figure


def _plot_run_topology(folder: Path) -> Figure:
    from .build import BuildError, resolve_topology
    from .scenario import ScenarioError, load_scenario
    from .topology import TopologyError

    try:
        topo = resolve_topology(load_scenario(folder / "scenario.toml"))
    except (ScenarioError, BuildError, TopologyError) as exc:
        raise PlotError(f"{folder}: cannot rebuild its network: {exc}") from None
    devices = {}
    if (folder / "devices.parquet").is_file():
        table = _read_table(folder / "devices.parquet")
        if all(c in table for c in ("x_m", "y_m", "site")):
            index = {s.name: i for i, s in enumerate(topo.sites)}
            devices = {"devices_x_m": table["x_m"], "devices_y_m": table["y_m"],
                       "devices_site": np.array([index.get(s, -1) for s in table["site"]], dtype=np.int64)}
    return plot_topology(topo, **devices)


def _varying(table) -> list[str]:
    """Parameters whose value differs between rows (the candidates for x and by): text columns and
    scenario paths (``policy.name``, ``devices[0].rate_hz``), not the summary's metrics."""
    if table is None:
        return []
    out = []
    for column, values in table.items():
        if column == "folder" or len(values) < 2 or not _is_parameter(column, values):
            continue
        if len({_fmt(v) for v in values}) > 1:
            out.append(column)
    return out


def _is_parameter(column: str, values) -> bool:
    """A text column or a scenario path; a sweep's bookkeeping and the summary's metrics are not."""
    if column in ("point", "replication", "seed", "n"):
        return False
    if _numeric(values) is None:
        return True
    return ("." in column or "[" in column) and not column.startswith(("workloads.", "summary."))


def _stack_rows(pairs: list[tuple[str, Mapping[str, np.ndarray]]], by: str) -> dict[str, np.ndarray]:
    """Concatenate tables with a ``by`` column holding each one's label (labels may repeat)."""
    columns = [c for c in pairs[0][1] if all(c in t for _, t in pairs)]
    lengths = [len(next(iter(t.values()))) if t else 0 for _, t in pairs]
    out = {by: np.concatenate([np.full(n, lab, dtype=object) for (lab, _), n in zip(pairs, lengths, strict=True)])}
    for column in columns:
        out[column] = np.concatenate([np.asarray(t[column]) for _, t in pairs])
    return out


def _folder_labels(paths: list[Path]) -> list[str]:
    """Each folder's name, with as many parent names as make the labels distinct."""
    parts = [p.resolve().parts for p in paths]
    for depth in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return labels


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables as one level: ``a.b`` for tables, ``a[i].b`` for arrays of tables (``--set`` paths)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(_flatten(value, path))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                out.update(_flatten(item, f"{path}[{i}]"))
        elif isinstance(value, list):
            out[path] = json.dumps(value)
        else:
            out[path] = value
    return out


def _rows_to_table(rows: list[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Rows (dicts) as columns: numbers (None as nan) as float64 or int64, anything else as objects."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    table = {}
    for column in columns:
        values = [row.get(column) for row in rows]
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            table[column] = np.array(values, dtype=np.int64)
        elif present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            table[column] = np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
        else:
            table[column] = np.array(values, dtype=object)
    return table


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PlotError(f"{path}: cannot read: {exc}") from None


def _read_table(path: Path) -> dict[str, np.ndarray]:
    from .results import read_parquet

    if not path.is_file():
        raise PlotError(f"{path}: no such file")
    try:
        return read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise PlotError(f"{path}: cannot read: {str(exc).splitlines()[0] if str(exc) else exc!r}") from None
