"""Radio bands study: offloading latency against distance and against load, for n78, FR3 and sub-THz.

Reproduce the study (19 runs, about 10 s once the engine is compiled):

    python experiments/radio_bands.py

Options: ``--out DIR`` (default results/radio_bands), ``--quick`` (tiny sizes, a few
simulated seconds: the smoke test), ``--set PATH=VALUE`` (repeatable, applied to every
run before the study's own band and device-count settings).

Runs experiments/radio_bands.toml once per band (NR n78 at 3.5 GHz, FR3 at 7 GHz,
sub-THz at 140 GHz: ``channel.band``, plus ``channel.model = "subthz"`` for the
last) and per number of devices per site (``devices[0].count`` = 7 sites x that
number), all with the scenario's seed, so at a given size every band sees the same
device drops and task arrivals. Draws OUT/radio_bands.png (and .pdf):

(a) mean latency of a device's tasks against its 2D distance to its serving site,
    in 15 bins from 0 to twice the drop radius, at 60 devices per site (20 per
    cell; DISTANCE_PER_SITE): the line is the mean over the devices in a bin, the band their 5th-95th
    percentile (devices served from farther away are counted and left out);
(b) mean and 95th-percentile task latency against the mean number of devices per
    cell (devices per site / 3 sectors). A band's sweep stops at its first saturated
    point -- the busiest cell's offered load (sum over its devices of offered bit/s /
    full-cell rate, ``cells.parquet`` ``load_*_predicted``) reaches 1 -- because beyond
    it the backlog, and so the latency, grows with the run length; that point is
    drawn hollow.

Each run's results go to OUT/<band>/<n>_per_site/ as soon as it finishes, the sweep
as a tidy table (one row per run) to OUT/sweep.parquet, and the sweep is printed.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import matplotlib as mpl
import numpy as np

import airan
from airan import plots
from airan.results import write_parquet

HERE = Path(__file__).resolve().parent

#: Band name -> the overrides that select it.
BANDS = {
    "n78": ["channel.band=n78"],
    "fr3_7ghz": ["channel.band=fr3_7ghz"],
    "subthz_140ghz": ["channel.band=subthz_140ghz", "channel.model=subthz"],
}
BAND_LABELS = {"n78": "n78, 3.5 GHz", "fr3_7ghz": "FR3, 7 GHz", "subthz_140ghz": "sub-THz, 140 GHz"}

#: Devices per site of the load sweep, and the size whose per-device table panel (a) uses.
PER_SITE = (3, 10, 30, 60, 100, 200, 300)
DISTANCE_PER_SITE = 60
DISTANCE_BINS = 15
#: Panel (a) spans 0 to this many drop radii: a device may attach to a farther site than its own
#: (a line-of-sight or boresight link beating a shadowed or sector-edge one).
DISTANCE_RANGE_RADII = 2.0
#: --quick: two tiny sizes, a few simulated seconds.
QUICK_PER_SITE = (2, 6)
QUICK_DISTANCE_PER_SITE = 6
QUICK_SETTINGS = ["simulation.duration_s=4.0", "simulation.warmup_s=0.5"]

#: Offered load at which a cell counts as saturated (the load-coupling fixed point caps it at 1).
SATURATED_LOAD = 1.0 - 1e-9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default=str(HERE / "radio_bands.toml"))
    parser.add_argument("--out", default="results/radio_bands")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and a short run (smoke test)")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override a scenario field for every run (repeatable)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    per_site = QUICK_PER_SITE if args.quick else PER_SITE
    distance_per_site = QUICK_DISTANCE_PER_SITE if args.quick else DISTANCE_PER_SITE
    settings = [*QUICK_SETTINGS, *args.set] if args.quick else list(args.set)

    rows = []  # tidy sweep table: one dict per run
    distance_tables = {}  # band -> per-device table of the distance_per_site run
    started = time.perf_counter()
    try:
        base = airan.load_scenario(args.scenario, settings)
        n_sites, cell_radius_m = len(base.sites), base.devices[0].cell_radius_m

        def run_point(band: str, n: int) -> airan.Result:
            """One run at n devices per site, written to OUT/<band>/<n>_per_site/ as soon as it is done."""
            scenario = airan.load_scenario(args.scenario, [*settings, *BANDS[band], f"devices[0].count={n * n_sites}"])
            result = airan.run(scenario)
            if result.cells is None:
                raise airan.ScenarioError(f"{Path(args.scenario).name}: channel.model: the study needs a radio "
                                          "channel, not 'ideal'")
            result.write(out / band / f"{n}_per_site")
            return result

        for band in BANDS:
            for n in per_site:
                result = run_point(band, n)
                rows.append(_sweep_row(band, n, result))
                if n == distance_per_site:
                    distance_tables[band] = result.devices
                if rows[-1]["saturated"]:
                    break  # larger sizes only grow the backlog, and the run time
            if band not in distance_tables:  # the sweep stopped before it
                distance_tables[band] = run_point(band, distance_per_site).devices
    except (airan.ScenarioError, airan.BuildError) as exc:
        print(f"radio_bands: error: {exc}", file=sys.stderr)
        return 2
    elapsed_s = time.perf_counter() - started

    sweep = {key: np.array([row[key] for row in rows]) for key in rows[0]}
    write_parquet(out / "sweep.parquet", sweep)
    print(format_sweep(sweep))
    distances = plots.stack(distance_tables, by="band")
    bins_m = np.linspace(0.0, _round_up(DISTANCE_RANGE_RADII * cell_radius_m, 50.0), DISTANCE_BINS + 1)
    beyond = {band: int(np.sum(table["distance_m"] > bins_m[-1])) for band, table in distance_tables.items()}
    print(f"panel (a): {distance_per_site} devices per site; served from beyond {bins_m[-1]:g} m and left out: "
          + ", ".join(f"{band} {n}" for band, n in beyond.items()))

    with plots.style():
        fig, (ax_distance, ax_load) = plots.figure(2)
        plot_latency_vs_distance(distances, bins_m=bins_m, ax=ax_distance)
        plot_latency_vs_load(sweep, label_groups=False, ax=ax_load)
        ax_distance.set_title(f"(a) latency vs distance, {distance_per_site} devices per site")
        ax_load.set_title("(b) latency vs load")
        written = plots.save(fig, out / "radio_bands.png")
    print(f"{len(rows)} sweep runs in {elapsed_s:.1f} s; results in {out}/<band>/<n>_per_site/, "
          f"sweep table {out / 'sweep.parquet'}, figure: {', '.join(str(p) for p in written)}")
    return 0


def _round_up(value: float, step: float) -> float:
    return math.ceil(value / step) * step


def _sweep_row(band: str, per_site: int, result: airan.Result) -> dict:
    """One tidy row of the sweep: the parameters, then the metrics, then whether the busiest cell saturated."""
    s, cells = result.summary, result.cells
    load_max = float(max(np.max(cells["load_ul_predicted"]), np.max(cells["load_dl_predicted"])))
    n_cells = cells["cell"].shape[0]
    return {
        "band": band,
        "devices_per_site": per_site,
        "devices_per_cell": s["devices"] / n_cells,
        "latency_mean_s": _nan(s["latency_mean_s"]),
        "latency_p95_s": _nan(s["latency_p95_s"]),
        "uplink_mean_s": _nan(s["uplink_mean_s"]),
        "downlink_mean_s": _nan(s["downlink_mean_s"]),
        "gpu_wait_mean_s": _nan(s["gpu_wait_mean_s"]),
        "sinr_ul_mean_db": _nan(s["sinr_ul_mean_db"]),
        "rate_ul_mean_bps": _nan(s["rate_ul_mean_bps"]),
        "cell_load_ul_mean": _nan(s["cell_load_ul_mean"]),
        "cell_load_ul_max": _nan(s["cell_load_ul_max"]),
        "offered_load_max": load_max,
        "tasks_completed": s["tasks_completed"],
        "tasks_in_flight": s["tasks_in_flight"],
        "saturated": load_max >= SATURATED_LOAD,
        "wall_time_s": s["wall_time_s"],
    }


def _nan(value) -> float:
    return math.nan if value is None else float(value)


def format_sweep(sweep: dict[str, np.ndarray]) -> str:
    """The sweep as a compact plain-text table, one line per run."""
    header = (f"{'band':<14} {'dev/site':>8} {'dev/cell':>8} {'mean ms':>9} {'p95 ms':>9} {'UL ms':>8} "
              f"{'UL SINR dB':>10} {'UL Mbit/s':>9} {'UL load':>7} {'max load':>8} {'in flight':>9}")
    lines = [header]
    for i in range(sweep["band"].shape[0]):
        lines.append(
            f"{sweep['band'][i]:<14} {sweep['devices_per_site'][i]:>8d} {sweep['devices_per_cell'][i]:>8.1f} "
            f"{sweep['latency_mean_s'][i] * 1e3:>9.3g} {sweep['latency_p95_s'][i] * 1e3:>9.3g} "
            f"{sweep['uplink_mean_s'][i] * 1e3:>8.3g} {sweep['sinr_ul_mean_db'][i]:>10.1f} "
            f"{sweep['rate_ul_mean_bps'][i] / 1e6:>9.0f} {sweep['cell_load_ul_mean'][i]:>7.2f} "
            f"{sweep['offered_load_max'][i]:>8.2f} {sweep['tasks_in_flight'][i]:>9,d}"
            + ("  saturated" if sweep["saturated"][i] else ""))
    return "\n".join(lines)


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


def plot_latency_vs_load(sweep, *, by: str = "band", label_groups: bool = True, ax=None):
    """Mean (solid) and 95th-percentile (dashed) task latency against devices per cell; one colour per ``by``.

    ``sweep`` has one row per run with ``devices_per_cell``, ``latency_mean_s``,
    ``latency_p95_s`` and ``saturated``; saturated runs are drawn with hollow markers.
    The legend keys the line styles and markers, and the colours if ``label_groups``.
    """
    ax = ax if ax is not None else plots.figure()[1][0]
    groups = np.asarray(sweep[by])
    colours = mpl.rcParams["axes.prop_cycle"].by_key()["color"]
    handles = []
    for i, label in enumerate(dict.fromkeys(groups)):
        rows = groups == label
        x = np.asarray(sweep["devices_per_cell"], dtype=float)[rows]
        saturated = np.asarray(sweep["saturated"], dtype=bool)[rows]
        colour = colours[i % len(colours)]
        for key, style in (("latency_mean_s", "-"), ("latency_p95_s", "--")):
            y = np.asarray(sweep[key], dtype=float)[rows] * 1e3
            line, = ax.plot(x, y, linestyle=style, color=colour, label=BAND_LABELS.get(label, str(label)))
            ax.plot(x[~saturated], y[~saturated], "o", markersize=3, color=colour)
            ax.plot(x[saturated], y[saturated], "o", markersize=5, markerfacecolor="none", color=colour)
            if label_groups and style == "-":
                handles.append(line)
    key = {"color": "0.4", "markersize": 4}
    handles += [
        mpl.lines.Line2D([], [], linestyle="-", marker="o", label="mean", **key),
        mpl.lines.Line2D([], [], linestyle="--", marker="o", label="p95", **key),
        mpl.lines.Line2D([], [], linestyle="none", marker="o", markerfacecolor="none",
                         label="saturated (backlog grows)", **key),
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
