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
