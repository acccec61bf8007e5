"""Radio bands study: offloading latency against distance and against load, for n78, FR3 and sub-THz.

Reproduce the study (63 runs of one simulated minute, about three minutes on two free cores
once the engine is compiled, nine tenths of it in the n78 runs past saturation; writes
results/radio_bands/):

    python experiments/radio_bands.py

Options: ``--out DIR`` (default results/radio_bands; results/radio_bands_quick with
``--quick``), ``--quick`` (two tiny sizes, two replications, a few simulated seconds: the
smoke test), ``--set PATH=VALUE`` (repeatable, applied to every run before the sweep's
band and device-count axes; ``simulation.seed`` sets the master seed), ``--workers N``
(worker processes, default one per core), ``--force`` (take over a folder of another sweep).

Runs the sweep experiments/radio_bands.sweep.toml (``airan sweep
experiments/radio_bands.sweep.toml --out results/radio_bands`` runs the same one; the
script then finds the runs done and only draws) on experiments/radio_bands.toml: seven
3-sector UMa sites, AR devices sending 60 kB frames for detection at 5 per second. Swept:
the band (the ``[channel]`` table: NR n78 at 3.5 GHz, FR3 at 7 GHz, sub-THz at 140 GHz
with the ``subthz`` model) times the devices per site (``devices[0].count`` = 7 sites x
3 ... 300), each point three times. The band axis has ``same_seeds``: at a given size and
replication every band sees the same device drops and task arrivals, so the bands differ
by the band alone; replications differ in drops, shadowing and arrivals. Draws
OUT/radio_bands.png (and .pdf):

(a) mean latency of a device's tasks against its 2D distance to its serving site, in 15
    bins from 0 to twice the drop radius, at 60 devices per site (20 per cell; the swept
    size nearest ``DISTANCE_PER_SITE``), the devices of all replications pooled: the line
    is the mean over the devices in a bin, the band their 5th-95th percentile (devices
    served from farther away are counted and left out);
(b) mean and 95th-percentile task latency against the mean number of devices per cell
    (devices per site / 3 sectors): each the mean over the replications of the run's
    value, the shaded band its 95 % confidence interval (Student t over the
    replications, ``aggregate.parquet``'s ``_ci95``). A band's line stops at its first
    saturated point -- the busiest cell of one of its runs has an offered load (sum over
    its devices of offered bit/s / full-cell rate, ``cells.parquet`` ``load_*_predicted``)
    of 1 -- because beyond it the backlog, and so the latency, grows with the run length;
    that point is drawn hollow, without an interval, and the larger sizes are in the
    tables only. Which cell is busiest depends on the drop, so near the limit a point can
    be saturated in one replication and not in the others (the printed table counts them).

Each run's results are in OUT/runs/<run>/ as soon as it finishes; the tables are
OUT/results.parquet (one row per run) and OUT/aggregate.parquet (one row per point), and
the figure's data OUT/points.parquet (one row per point), which is also printed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import matplotlib as mpl
import numpy as np

import airan
from airan import plots
from airan.results import read_parquet, write_parquet
from airan.sweep import SweepError, load_sweep, read_results, run_sweep

HERE = Path(__file__).resolve().parent
SWEEP = HERE / "radio_bands.sweep.toml"

#: The swept fields: the band (the whole [channel] table) and the devices over all sites.
BAND = "channel"
COUNT = "devices[0].count"
BAND_LABELS = {"n78": "n78, 3.5 GHz", "fr3_7ghz": "FR3, 7 GHz", "subthz_140ghz": "sub-THz, 140 GHz"}

#: Panel (a) draws the swept size nearest this many devices per site.
DISTANCE_PER_SITE = 60
DISTANCE_BINS = 15
#: Panel (a) spans 0 to this many drop radii: a device may attach to a farther site than its own
#: (a line-of-sight or boresight link beating a shadowed or sector-edge one).
DISTANCE_RANGE_RADII = 2.0
#: --quick: two tiny sizes (devices per site), two replications, a few simulated seconds.
QUICK_PER_SITE = (2, 6)
QUICK_REPLICATIONS = 2
QUICK_SETTINGS = ["simulation.duration_s=4.0", "simulation.warmup_s=0.5"]

#: Offered load at which a cell counts as saturated (the load-coupling fixed point caps it at 1).
SATURATED_LOAD = 1.0 - 1e-9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", help="sweep folder (default results/radio_bands, or results/radio_bands_quick)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and short runs (smoke test)")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override a scenario field for every run (repeatable)")
    parser.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    parser.add_argument("--force", action="store_true", help="take over a folder made by another sweep")
    args = parser.parse_args(argv)
    out = Path(args.out or ("results/radio_bands_quick" if args.quick else "results/radio_bands"))

    try:
        if args.quick:
            sites = len(airan.load_scenario(load_sweep(SWEEP).scenario_path).sites)
            counts = [n * sites for n in QUICK_PER_SITE]
            sweep = load_sweep(SWEEP, settings=[*QUICK_SETTINGS, *args.set], values={COUNT: counts},
                               replications=QUICK_REPLICATIONS)
        else:
            sweep = load_sweep(SWEEP, settings=args.set)
        base = airan.load_scenario(sweep.scenario_path, list(sweep.set))
        if sweep.axes != (BAND, COUNT):
            raise SweepError(f"{sweep.path.name}: axes: the study draws {BAND} x {COUNT}, got {', '.join(sweep.axes)}")
        report = run_sweep(sweep, out, workers=args.workers, force=args.force)
    except (airan.ScenarioError, airan.BuildError, SweepError) as exc:
        print(f"radio_bands: error: {exc}", file=sys.stderr)
        return 2
    if report.failed or report.not_done:
        print(f"radio_bands: {report.failed} run(s) failed, {report.not_done} not done: "
              + "; ".join(report.errors), file=sys.stderr)
        return 1

    results, aggregate = read_results(out)
    n_sites, n_cells = len(base.sites), sum(site.sectors for site in base.sites)
    points = points_table(results, aggregate, out / "runs", n_sites=n_sites, n_cells=n_cells)
    write_parquet(out / "points.parquet", points)
    print(format_points(points))

    cell_radius_m = base.devices[0].cell_radius_m
    per_site = sorted(set(points["devices_per_site"].tolist()))
    distance_per_site = min(per_site, key=lambda n: abs(math.log(n / DISTANCE_PER_SITE)))
    distances = distance_table(results, out / "runs", distance_per_site * n_sites)
    bins_m = np.linspace(0.0, _round_up(DISTANCE_RANGE_RADII * cell_radius_m, 50.0), DISTANCE_BINS + 1)
    beyond = {band: int(np.sum(distances["distance_m"][distances["band"] == band] > bins_m[-1]))
              for band in dict.fromkeys(distances["band"])}
    n_runs = int(aggregate["n"].min())
    print(f"panel (a): {distance_per_site} devices per site, {n_runs} replication(s) pooled; served from beyond "
          f"{bins_m[-1]:g} m and left out: " + ", ".join(f"{band} {n}" for band, n in beyond.items()))

    with plots.style():
        fig, (ax_distance, ax_load) = plots.figure(2)
        plot_latency_vs_distance(distances, bins_m=bins_m, ax=ax_distance)
        plot_latency_vs_load(points, label_groups=False, ax=ax_load)
        ax_distance.set_title(f"(a) latency vs distance, {distance_per_site} devices per site")
        ax_load.set_title(f"(b) latency vs load; mean of {n_runs} runs, 95 % CI")
        written = plots.save(fig, out / "radio_bands.png")
    print(f"{report.total} runs ({report.ran} run now, {report.skipped} already done); sweep folder {out}, "
          f"points table {out / 'points.parquet'}, figure: {', '.join(str(p) for p in written)}")
    return 0


# ----------------------------------------------------------------------------
# The sweep and its points
# ----------------------------------------------------------------------------


def band_names(column: np.ndarray) -> np.ndarray:
    """The band of each row, from the swept ``channel`` column (each table as canonical JSON text)."""
    return np.array([json.loads(text)["band"] for text in column], dtype=object)


def offered_load_max(folder: Path) -> float:
    """A run's busiest cell: the largest predicted offered load, uplink or downlink (cells.parquet)."""
    cells = read_parquet(folder / "cells.parquet")
    return float(max(np.max(cells["load_ul_predicted"]), np.max(cells["load_dl_predicted"])))


def points_table(results: dict[str, np.ndarray], aggregate: dict[str, np.ndarray], runs: Path, *, n_sites: int,
                 n_cells: int) -> dict[str, np.ndarray]:
    """One row per sweep point: band, size, the means over its replications with their ``_ci95``, saturation.

    ``offered_load_max`` is the largest over the point's runs (``cells.parquet`` in
    each run folder), ``saturated_runs`` the number of runs in which it reaches 1, and
    a point is ``saturated`` when there is any: the mean over its runs then grows with
    the run length.
    """
    load = np.array([offered_load_max(runs / str(run)) for run in results["run"]])
    load_max = np.array([load[results["point"] == p].max() for p in aggregate["point"]])
    saturated_runs = np.array([np.sum(load[results["point"] == p] >= SATURATED_LOAD) for p in aggregate["point"]])
    count = np.asarray(aggregate[COUNT], dtype=np.int64)
    points = {
        "point": aggregate["point"],
        "band": band_names(aggregate[BAND]),
        "devices_per_site": count // n_sites,
        "devices_per_cell": count / n_cells,
        "n": aggregate["n"],
    }
    for metric in ("latency_mean_s", "latency_p95_s", "uplink_mean_s", "downlink_mean_s", "gpu_wait_mean_s",
                   "sinr_ul_mean_db", "rate_ul_mean_bps", "cell_load_ul_mean", "cell_load_ul_max",
                   "tasks_in_flight"):
        points[metric] = aggregate[f"{metric}_mean"]
        points[f"{metric}_ci95"] = aggregate[f"{metric}_ci95"]
    points["offered_load_max"] = load_max
    points["saturated_runs"] = saturated_runs.astype(np.int64)
    points["saturated"] = saturated_runs > 0
    return points


def distance_table(results: dict[str, np.ndarray], runs: Path, count: int) -> dict[str, np.ndarray]:
    """The per-device tables (devices.parquet) of every run with ``count`` devices, with a ``band`` column."""
    bands = band_names(results[BAND])
    tables = []
    for i in np.flatnonzero(np.asarray(results[COUNT]) == count):
        devices = read_parquet(runs / str(results["run"][i]) / "devices.parquet")
        tables.append({"band": np.full(devices["device"].shape[0], bands[i], dtype=object),
                       "distance_m": np.asarray(devices["distance_m"], dtype=float),
                       "latency_mean_s": np.asarray(devices["latency_mean_s"], dtype=float)})
    return {key: np.concatenate([t[key] for t in tables]) for key in tables[0]}


def _round_up(value: float, step: float) -> float:
    return math.ceil(value / step) * step


def format_points(points: dict[str, np.ndarray]) -> str:
    """The points as a compact plain-text table, one line per point (means over the replications)."""
    header = (f"{'band':<14} {'dev/site':>8} {'dev/cell':>8} {'mean ms':>9} {'± 95%':>7} {'p95 ms':>9} "
              f"{'UL ms':>8} {'UL SINR dB':>10} {'UL Mbit/s':>9} {'UL load':>7} {'max load':>8} {'in flight':>9}")
    lines = [header]
    for i in range(points["band"].shape[0]):
        saturated = f"  saturated ({points['saturated_runs'][i]} of {points['n'][i]} runs)"
        lines.append(
            f"{points['band'][i]:<14} {points['devices_per_site'][i]:>8d} {points['devices_per_cell'][i]:>8.1f} "
            f"{points['latency_mean_s'][i] * 1e3:>9.3g} {points['latency_mean_s_ci95'][i] * 1e3:>7.2g} "
            f"{points['latency_p95_s'][i] * 1e3:>9.3g} {points['uplink_mean_s'][i] * 1e3:>8.3g} "
            f"{points['sinr_ul_mean_db'][i]:>10.1f} {points['rate_ul_mean_bps'][i] / 1e6:>9.0f} "
            f"{points['cell_load_ul_mean'][i]:>7.2f} {points['offered_load_max'][i]:>8.2f} "
            f"{points['tasks_in_flight'][i]:>9,.0f}"
            + (saturated if points["saturated"][i] else ""))
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# The figure
# ----------------------------------------------------------------------------


def plot_latency_vs_distance(devices, *, bins_m: np.ndarray, by: str = "band", ax=None):
    """Mean per-device latency against distance to the serving site, binned; one line per ``by``.

    ``devices`` is a per-device table (``distance_m``, ``latency_mean_s``) with a ``by``
    column. The line joins, at each bin's centre, the mean over its devices of their mean
    task latency; the shaded band spans the devices' 5th to 95th percentile. Devices
    beyond the last edge (served by a distant site) and bins with fewer than 3 devices
    are left out.
    """
    ax = ax if ax is not None else plots.figure()[1][0]
    groups = np.asarray(devices[by])
    distance = np.asarray(devices["distance_m"], dtype=float)
    latency_ms = np.asarray(devices["latency_mean_s"], dtype=float) * 1e3
    centres = 0.5 * (bins_m[:-1] + bins_m[1:])
    for label in dict.fromkeys(groups):
        rows = (groups == label) & np.isfinite(latency_ms)
        which = np.digitize(distance[rows], bins_m) - 1  # bin index; out of range -> -1 or len
        stats = np.full((3, centres.shape[0]), np.nan)  # mean, p5, p95 per bin
        for b in range(centres.shape[0]):
            values = latency_ms[rows][which == b]
            if values.size >= 3:
                stats[:, b] = values.mean(), *np.percentile(values, [5, 95])
        line, = ax.plot(centres, stats[0], marker="o", markersize=3, label=BAND_LABELS.get(label, str(label)))
        ax.fill_between(centres, stats[1], stats[2], color=line.get_color(), alpha=0.15, linewidth=0)
    _log_y(ax)
    ax.set_xlim(bins_m[0], bins_m[-1])
    ax.set_xlabel("2D distance to serving site [m]")
    ax.set_ylabel("mean task latency per device [ms]")
    ax.legend(frameon=False, loc="upper left")
    ax.set_ylim(top=ax.get_ylim()[1] * 4)  # room for the legend above the lines
    return ax


def plot_latency_vs_load(points, *, by: str = "band", label_groups: bool = True, ax=None):
    """Mean (solid) and 95th-percentile (dashed) task latency against devices per cell; one colour per ``by``.

    ``points`` has one row per sweep point with ``devices_per_cell``, ``latency_mean_s``,
    ``latency_p95_s``, their ``_ci95`` half-widths (drawn as shaded bands, where finite)
    and ``saturated``. Each line stops at its first saturated point, drawn with a hollow
    marker and no band. The legend keys the line styles and markers, and the colours if
    ``label_groups``.
    """
    ax = ax if ax is not None else plots.figure()[1][0]
    groups = np.asarray(points[by])
    colours = mpl.rcParams["axes.prop_cycle"].by_key()["color"]
    handles = []
    for i, label in enumerate(dict.fromkeys(groups)):
        rows = np.flatnonzero(groups == label)
        rows = rows[np.argsort(np.asarray(points["devices_per_cell"], dtype=float)[rows])]
        saturated = np.asarray(points["saturated"], dtype=bool)[rows]
        if saturated.any():
            rows, saturated = rows[: np.argmax(saturated) + 1], saturated[: np.argmax(saturated) + 1]
        x = np.asarray(points["devices_per_cell"], dtype=float)[rows]
        colour = colours[i % len(colours)]
        for key, style in (("latency_mean_s", "-"), ("latency_p95_s", "--")):
            y = np.asarray(points[key], dtype=float)[rows] * 1e3
            half = np.asarray(points[f"{key}_ci95"], dtype=float)[rows] * 1e3
            line, = ax.plot(x, y, linestyle=style, color=colour, label=BAND_LABELS.get(label, str(label)))
            ax.plot(x[~saturated], y[~saturated], "o", markersize=3, color=colour)
            ax.plot(x[saturated], y[saturated], "o", markersize=5, markerfacecolor="none", color=colour)
            band = ~saturated & np.isfinite(half)
            if band.any():
                # (a log axis: the lower edge is kept above zero)
                ax.fill_between(x[band], np.maximum(y[band] - half[band], 0.5 * y[band]), y[band] + half[band],
                                color=colour, alpha=0.2, linewidth=0)
            if label_groups and style == "-":
                handles.append(line)
    key = {"color": "0.4", "markersize": 4}
    handles += [
        mpl.lines.Line2D([], [], linestyle="-", marker="o", label="mean", **key),
        mpl.lines.Line2D([], [], linestyle="--", marker="o", label="p95", **key),
        mpl.lines.Line2D([], [], linestyle="none", marker="o", markerfacecolor="none",
                         label="saturated in a run", **key),
    ]
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    _log_y(ax)
    ax.set_xlabel("devices per cell (mean)")
    ax.set_ylabel("task latency [ms]")
    ax.legend(handles=handles, frameon=False, loc="upper left")
    return ax


def _log_y(ax) -> None:
    """Log latency axis labelled in plain numbers."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(mpl.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(mpl.ticker.NullFormatter())


if __name__ == "__main__":
    sys.exit(main())
