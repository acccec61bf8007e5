"""RAN sharing study: AI latency on a site GPU that also runs the baseband, against the cell load.

Reproduce the study (130 runs of 10 simulated minutes, about a minute and a half on two
cores once the engine is compiled; writes results/ran_sharing/):

    python experiments/ran_sharing.py

Options: ``--out DIR`` (default results/ran_sharing; results/ran_sharing_quick with
``--quick``), ``--quick`` (four cell loads, 20 simulated seconds, four replications: the
smoke test), ``--set PATH=VALUE`` (repeatable, applied to every run before the sweep's
axes; ``simulation.seed`` sets the master seed), ``--workers N`` (worker processes,
default one per core), ``--force`` (take over a folder of another sweep).

Runs the sweep experiments/ran_sharing.sweep.toml (``airan sweep
experiments/ran_sharing.sweep.toml --out results/ran_sharing`` runs the same one; the
script then finds the runs done and only draws) on experiments/ran_sharing.toml: one
site whose GPU (an NVIDIA L4; a lone YOLOv8n frame takes t1 = 0.98 ms, a batch of b
takes 0.9 ms + b x 0.083 ms) runs its cells' baseband and serves detection frames, 508
per second (Poisson), over links so fast that the latency is the GPU's. The baseband
needs ``ran_share`` s = 0.8 of the GPU at full cell load. Swept: the cell load L
(``sites[0].gpu.ran_load``, 13 values) under two ways of serving frames, one at a time
or with dynamic batching (up to 8 frames, a frame waiting at most 1 ms for its batch to
fill: ``batch_max``, ``batch_timeout_s``), each point 5 times. Four GPU configurations
come out of it (``CONFIGS``):

- ``strict`` and ``strict_batch8``: the baseband takes x = s L of the GPU's time first
  (``ran_priority = "strict"``), inference gets the rest;
- ``reserved`` and ``reserved_batch8``: the baseband keeps a slice x = s, its need at
  full load, whatever the load (``ran_priority = "reserved"``). In airan's fluid model
  (airan.build ``_gpu_serving``) that is the share a strict baseband takes at L = 1, so
  a reserved run is the sweep's L = 1 run of its batching, drawn flat across the loads
  (the study's test runs the reserved scenario and checks it gives the same run; a sweep
  could not carry it anyway, the schema refusing a ``ran_load`` with a reserved slice).

The model is the fluid one: inference on a GPU whose baseband takes x runs 1 / (1 - x)
times slower. Unbatched, the GPU is then an M/D/1 queue with service S = t1 / (1 - x)
and utilisation rho = lambda S, whose mean latency is (Pollaczek-Khinchine)

    S + W,   W = rho S / (2 (1 - rho)),

drawn dotted for the strict unbatched case; the table has it for every unbatched point
(``md1_latency_mean_s``), next to the simulated mean over the replications and its 95 %
confidence half-width (Student t over the 5 runs: the sweep's ``aggregate.parquet``). A
configuration is saturated where its offered AI load on the share left to it, at the
largest batch, ``ai_load = lambda t(b_max) / b_max / (1 - x)``, reaches 1: no batching
then keeps up, the backlog grows with the run and its latency means nothing (drawn
hollow on the top edge). Every point and configuration has the same seeds (``same_seeds``
on every axis), so all see the same frame arrivals in each replication (common random
numbers).

What the contrast can show: the reserved slice is the baseband's need at full load, so
the strict baseband never takes more (x = s L <= s) and, in this time-average model,
strict priority is never worse for inference; the two meet at L = 1. What a reservation
buys is a latency that does not depend on the cell load (flat), what it costs is the GPU
time the baseband leaves idle below full load. The AI load, lambda t1 = 0.5 of the GPU,
is chosen above the 1 - s = 0.2 the reservation leaves and below what an idle baseband
leaves, so that unbatched it fits under strict priority at low and medium cell load,
saturates at L = (1 - lambda t1) / s = 0.63, and never fits the reserved slice; batching
(a batch of 8 frames costs 1.6 ms, not 7.9) is what makes it fit the slice, and strict
priority at every load.

The radio is taken out (near-instant links, see the scenario file): the cell load is a
parameter, not the load of these frames, whose ~500 Mbit/s of uplink a single site could
not carry; a run with ``ran_load`` omitted and a radio channel would couple the two.

Why one site: with ``ran_load`` given, each site's frames go to its own GPU, so a hex7
network with a GPU at every site would be seven independent copies of this queue (more
samples, the same answer), while one site keeps it exactly the M/D/1 of the closed form.
Why s = 0.8 and not 1: ``ran_share`` must be below 1 (at 1 nothing would be left for
inference at full load); a strict run depends on s and L only through x = s L (the top
axis), so for another s read the curves against x.

Draws OUT/ran_sharing.png (and .pdf) from the sweep's tables:

(a) AI latency (mean, solid; 95th percentile, dashed; each the mean over the
    replications with its 95 % confidence band) against the cell load, one colour per
    configuration, the M/D/1 mean dotted; saturated points hollow on the top edge (their
    latency only measures how long the run lasted), the line stopped before them;
(b) the GPU's time shares against the cell load: the baseband's (``gpu_share_ran_mean``;
    black: strict solid, reserved dashed), inference's (``gpu_share_ai_mean``, one colour
    per configuration), and what the baseband leaves for inference, 1 - x (grey dotted):
    a configuration saturates where its inference share meets that line.

The sweep folder OUT holds the runs (OUT/runs/<run>/), one row per run
(OUT/results.parquet) and per point (OUT/aggregate.parquet); the script adds
OUT/points.parquet, one row per configuration and load with the closed forms, and prints it.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.patches import Patch

import airan
from airan import plots
from airan.results import write_parquet
from airan.sweep import SweepError, load_sweep, read_results, run_sweep

HERE = Path(__file__).resolve().parent
SWEEP = HERE / "ran_sharing.sweep.toml"

GPU = "sites[0].gpu"
LOAD = f"{GPU}.ran_load"
BATCH_MAX = f"{GPU}.batch_max"

#: --quick: four cell loads (two stable and two saturated unbatched, L = 1 for the reserved
#: slice), 20 simulated seconds, four replications.
QUICK_LOADS = (0.0, 0.5, 0.7, 1.0)
QUICK_SETTINGS = ["simulation.duration_s=20.0", "simulation.warmup_s=1.0"]
QUICK_REPLICATIONS = 4

#: Configuration -> (ran_priority, batch_max): the strict ones are the sweep's points, the
#: reserved ones its L = 1 points.
CONFIGS = {
    "strict": ("strict", 1),
    "reserved": ("reserved", 1),
    "strict_batch8": ("strict", 8),
    "reserved_batch8": ("reserved", 8),
}
COLOURS = {"strict": "#4C72B0", "reserved": "#DD8452", "strict_batch8": "#55A868", "reserved_batch8": "#C44E52"}
MARKERS = {1: "o", 8: "s"}

#: Metrics of the points table: the aggregate's mean over the replications and its 95 % half-width.
METRICS = ("latency_mean_s", "latency_p95_s", "latency_p99_s", "gpu_wait_mean_s", "batch_size_mean",
           "gpu_utilization_mean", "gpu_share_ran_mean", "gpu_share_ai_mean", "deadline_miss_ratio",
           "uplink_mean_s", "downlink_mean_s", "tasks_generated", "tasks_in_flight")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", help="sweep folder (default results/ran_sharing, or results/ran_sharing_quick)")
    parser.add_argument("--quick", action="store_true", help="four loads, short runs (smoke test)")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override a scenario field for every run (repeatable)")
    parser.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    parser.add_argument("--force", action="store_true", help="take over a folder made by another sweep")
    args = parser.parse_args(argv)
    out = Path(args.out or ("results/ran_sharing_quick" if args.quick else "results/ran_sharing"))

    try:
        if args.quick:
            sweep = load_sweep(SWEEP, settings=[*QUICK_SETTINGS, *args.set], values={LOAD: list(QUICK_LOADS)},
                                replications=QUICK_REPLICATIONS)
        else:
            sweep = load_sweep(SWEEP, settings=args.set)
        report = run_sweep(sweep, out, workers=args.workers, force=args.force)
        base = airan.load_scenario(sweep.scenario_path, list(sweep.set))
    except (airan.ScenarioError, SweepError) as exc:
        print(f"ran_sharing: error: {exc}", file=sys.stderr)
        return 2
    if report.failed or report.not_done:
        print(f"ran_sharing: {report.failed} run(s) failed, {report.not_done} not done: "
              + "; ".join(report.errors), file=sys.stderr)
        return 1

    _, aggregate = read_results(out)
    points = points_table(aggregate, base)
    write_parquet(out / "points.parquet", points)
    print(format_points(points))

    strict = np.flatnonzero(points["config"] == "strict")
    first = int(strict[0]) if strict.size else 0
    closed = md1_curve(np.linspace(0.0, float(np.nanmax(points["cell_load"])), 400),
                       rate_hz=float(points["ai_rate_hz"][first]), t1_s=float(points["t1_s"][first]),
                       ran_share=float(points["ran_share"][first]),
                       radio_s=float(points["uplink_mean_s"][first] + points["downlink_mean_s"][first]))
    with plots.style():
        fig, (ax_latency, ax_shares) = plots.figure(2, height_in=3.4)
        plot_latency_vs_load(points, closed_form=closed, ax=ax_latency)
        plot_gpu_shares(points, ax=ax_shares)
        ax_latency.set_title(f"(a) AI latency, {float(points['ai_rate_hz'][first]):.0f} frames/s")
        ax_shares.set_title("(b) GPU time: baseband and inference")
        handles, labels = legend_entries(points, int(aggregate["n"].min()))
        fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
        written = plots.save(fig, out / "ran_sharing.png")
    print(f"{report.total} runs ({report.ran} run now, {report.skipped} already done); sweep folder {out}, "
          f"points table {out / 'points.parquet'}, figure: {', '.join(str(p) for p in written)}")
    return 0


# ----------------------------------------------------------------------------
# The sweep and its points
# ----------------------------------------------------------------------------


def points_table(aggregate: dict[str, np.ndarray], base: airan.Scenario) -> dict[str, np.ndarray]:
    """One row per configuration and cell load: the aggregate's means and half-widths, and the closed forms.

    The strict rows are the sweep's points; each reserved configuration is one row, the
    L = 1 point of its batching, with ``cell_load`` NaN (drawn flat across the loads).
    The GPU's parameters other than the swept ones come from ``base`` (the sweep's base
    scenario with its settings).
    """
    gpu, workload = base.sites[0].gpu, base.workloads[0]
    rate_hz = offered_rate_hz(base)
    loads = np.asarray(aggregate[LOAD], dtype=float)
    batch = np.asarray(aggregate[BATCH_MAX], dtype=np.int64)
    timeouts = np.asarray(aggregate[f"{GPU}.batch_timeout_s"], dtype=float)
    rows = []  # (config, aggregate row, cell load)
    for config, (priority, batch_max) in CONFIGS.items():
        mine = np.flatnonzero(batch == batch_max)
        if priority == "strict":
            rows += [(config, int(i), float(loads[i])) for i in mine[np.argsort(loads[mine])]]
        elif np.any(loads[mine] == 1.0):
            rows.append((config, int(mine[loads[mine] == 1.0][0]), math.nan))
    table: dict[str, list] = {key: [] for key in (
        "config", "ran_priority", "batch_max", "batch_timeout_s", "cell_load", "n", "ran_share", "gpu_share_ran",
        "ai_rate_hz", "t1_s", "ai_load", "saturated", "md1_latency_mean_s")}
    for name in METRICS:
        table[f"{name}"] = []
        table[f"{name}_ci95"] = []
    for config, i, load in rows:
        b = int(batch[i])
        x = float(aggregate["gpu_share_ran_mean_mean"][i])
        t1_s = batch_time_s(gpu, workload, 1)
        ai_load = rate_hz * batch_time_s(gpu, workload, b) / b / (1.0 - x) / gpu.servers
        radio_s = _nan0(aggregate["uplink_mean_s_mean"][i]) + _nan0(aggregate["downlink_mean_s_mean"][i])
        unbatched_md1 = b == 1 and gpu.servers == 1 and gpu.service == "deterministic"
        table["config"].append(config)
        table["ran_priority"].append(CONFIGS[config][0])
        table["batch_max"].append(b)
        table["batch_timeout_s"].append(float(timeouts[i]))
        table["cell_load"].append(load)
        table["n"].append(int(aggregate["n"][i]))
        table["ran_share"].append(gpu.ran_share)
        table["gpu_share_ran"].append(x)
        table["ai_rate_hz"].append(rate_hz)
        table["t1_s"].append(t1_s)
        table["ai_load"].append(ai_load)
        table["saturated"].append(bool(ai_load >= 1.0))
        table["md1_latency_mean_s"].append(md1_mean_s(rate_hz, t1_s / (1.0 - x)) + radio_s if unbatched_md1
                                           else math.nan)
        for name in METRICS:
            table[name].append(float(aggregate.get(f"{name}_mean", np.full(i + 1, np.nan))[i]))
            table[f"{name}_ci95"].append(float(aggregate.get(f"{name}_ci95", np.full(i + 1, np.nan))[i]))
    return {key: np.array(values, dtype=object if key in ("config", "ran_priority") else None)
            for key, values in table.items()}


def _nan0(value) -> float:
    value = float(value)
    return 0.0 if math.isnan(value) else value


def batch_time_s(gpu, workload, b: int) -> float:
    """Time of a batch of ``b`` frames on the whole GPU, s: the measured row or overhead + b FLOPs / rate."""
    measured = (gpu.batch_latency_s or {}).get(workload.name)
    if measured is not None:
        return float(measured[b - 1])
    return gpu.batch_overhead_s + b * workload.flops / gpu.flops_per_s


def offered_rate_hz(scenario: airan.Scenario) -> float:
    """Mean task arrival rate over all devices, 1/s (MMPP: the on/off time average; trace: NaN)."""
    total = 0.0
    for group in scenario.devices:
        if group.arrival in ("poisson", "periodic"):
            total += group.count * group.rate_hz
        elif group.arrival == "mmpp":
            on, off = group.mmpp_on_s, group.mmpp_off_s
            total += group.count * (on * group.rate_hz + off * group.mmpp_off_rate_hz) / (on + off)
        else:
            return math.nan
    return total


def md1_mean_s(rate_hz: float, service_s: float) -> float:
    """M/D/1 mean sojourn (wait + service), s: ``S + rho S / (2 (1 - rho))``, rho = lambda S; NaN if rho >= 1."""
    rho = rate_hz * service_s
    return service_s + rho * service_s / (2.0 * (1.0 - rho)) if rho < 1.0 else math.nan


def md1_curve(cell_load: np.ndarray, *, rate_hz: float, t1_s: float, ran_share: float, radio_s: float) -> dict:
    """Closed-form mean latency of the strict unbatched GPU against the cell load: M/D/1 with S = t1 / (1 - s L)."""
    service_s = t1_s / (1.0 - ran_share * cell_load)
    return {"cell_load": cell_load,
            "latency_mean_s": np.array([md1_mean_s(rate_hz, s) for s in service_s]) + radio_s}


def format_points(points: dict[str, np.ndarray]) -> str:
    """The points table as plain text, one line per configuration and load (means over the replications)."""
    header = (f"{'config':<16} {'load':>5} {'RAN x':>6} {'AI load':>7} {'mean ms':>8} {'±95% ms':>8} "
              f"{'M/D/1 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'wait ms':>8} {'batch':>5} {'util':>5} "
              f"{'AI share':>8} {'miss':>6} {'in flight':>9}")
    lines = [header]
    for i in range(points["config"].shape[0]):
        load = points["cell_load"][i]
        lines.append(
            f"{points['config'][i]:<16} {'any' if math.isnan(load) else f'{load:.2f}':>5} "
            f"{points['gpu_share_ran'][i]:>6.3f} {points['ai_load'][i]:>7.3f} "
            f"{points['latency_mean_s'][i] * 1e3:>8.3f} {points['latency_mean_s_ci95'][i] * 1e3:>8.3f} "
            f"{points['md1_latency_mean_s'][i] * 1e3:>8.3f} {points['latency_p95_s'][i] * 1e3:>8.3f} "
            f"{points['latency_p99_s'][i] * 1e3:>8.3f} {points['gpu_wait_mean_s'][i] * 1e3:>8.3f} "
            f"{points['batch_size_mean'][i]:>5.2f} {points['gpu_utilization_mean'][i]:>5.3f} "
            f"{points['gpu_share_ai_mean'][i]:>8.3f} {points['deadline_miss_ratio'][i]:>6.3f} "
            f"{points['tasks_in_flight'][i]:>9,.0f}"
            + ("  saturated" if points["saturated"][i] else ""))
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# The figure
# ----------------------------------------------------------------------------


def config_label(config: str, ran_share: float, timeout_s: float) -> str:
    """Legend text of a configuration."""
    priority, batch_max = CONFIGS.get(config, (config, 1))
    who = "strict priority" if priority == "strict" else f"reserved slice {ran_share:g}"
    how = "batch 1" if batch_max == 1 else f"batching ≤ {batch_max}, ≤ {timeout_s * 1e3:g} ms delay"
    return f"{who}, {how}"


def legend_entries(points, n_runs: int) -> tuple[list, list[str]]:
    """The figure's shared legend, (handles, labels): each configuration's colour and marker, then the keys of (a).

    With replications, the mean's and the p95's entries show their band (the 95 %
    confidence interval over the ``n_runs`` runs of a point).
    """
    handles, labels = [], []
    for config, rows, _ in _by_config(points):
        handles.append(mpl.lines.Line2D(
            [], [], color=COLOURS.get(config, "0.3"), marker=MARKERS.get(int(points["batch_max"][rows[0]]), "D"),
            markersize=4))
        labels.append(config_label(config, float(points["ran_share"][rows[0]]),
                                   float(points["batch_timeout_s"][rows[0]])))
    key = {"color": "0.4", "markersize": 4}
    band = [Patch(color="0.4", alpha=0.25, linewidth=0)] if n_runs > 1 else []
    handles += [
        tuple(band + [mpl.lines.Line2D([], [], linestyle="-", **key)]),
        tuple(band + [mpl.lines.Line2D([], [], linestyle="--", **key)]),
        mpl.lines.Line2D([], [], linestyle=":", color="black"),
        mpl.lines.Line2D([], [], linestyle="none", marker="o", markerfacecolor="none", **key),
    ]
    labels += [
        f"(a) mean, with its 95 % confidence band over {n_runs} runs" if band else "(a) mean",
        "(a) 95th percentile, with its band" if band else "(a) 95th percentile",
        "(a) M/D/1 mean, strict, batch 1",
        "saturated: backlog grows ((a): on the top edge)",
    ]
    return handles, labels


def _by_config(points):
    """(config, rows, x) per configuration in table order; a reserved row spans the loads of the others."""
    configs = np.asarray(points["config"])
    loads = np.asarray(points["cell_load"], dtype=float)
    span = np.unique(loads[np.isfinite(loads)])
    for config in dict.fromkeys(configs):
        rows = np.flatnonzero(configs == config)
        if rows.size == 1 and np.isnan(loads[rows[0]]):  # reserved: the same run at every load
            yield config, np.full(span.size, rows[0]), span
        else:
            yield config, rows, loads[rows]


def plot_latency_vs_load(points, *, closed_form=None, ax=None):
    """Mean (solid) and p95 (dashed) AI latency against the cell load, one colour per configuration.

    ``points`` has one row per configuration and load (``config``, ``batch_max``,
    ``ran_share``, ``cell_load`` -- NaN for a reserved slice, drawn flat across the loads
    of the others --, ``latency_mean_s``, ``latency_p95_s``, each with ``_ci95``, and
    ``saturated``); the 95 % half-widths are drawn as bands. ``closed_form``
    (``cell_load``, ``latency_mean_s``) is drawn dotted. A saturated point's latency only
    measures how long the run lasted, so it is drawn hollow on the top edge, not joined.
    Colours and line styles are keyed by :func:`legend_entries`.
    """
    ax = ax if ax is not None else plots.figure()[1][0]
    saturated = np.asarray(points["saturated"], dtype=bool)
    keys = ("latency_mean_s", "latency_p95_s")
    values_ms = {key: np.asarray(points[key], dtype=float) * 1e3 for key in keys}
    half_ms = {key: np.nan_to_num(np.asarray(points[f"{key}_ci95"], dtype=float)) * 1e3 for key in keys}
    stable = np.concatenate([v[~saturated] for v in values_ms.values()])
    stable = stable[np.isfinite(stable)]
    top_ms = float(stable.max()) * 3.0 if stable.size else 100.0
    bottom_ms = float(stable.min()) / 1.5 if stable.size else 0.1
    n_saturating = 0
    for config, rows, x in _by_config(points):
        colour = COLOURS.get(config, "0.3")
        marker = MARKERS.get(int(points["batch_max"][rows[0]]), "D")
        sat = saturated[rows]
        for key, style in (("latency_mean_s", "-"), ("latency_p95_s", "--")):
            y, h = values_ms[key][rows][~sat], half_ms[key][rows][~sat]
            ax.plot(x[~sat], y, linestyle=style, marker=marker, markersize=3, color=colour)
            ax.fill_between(x[~sat], y - h, y + h, color=colour, alpha=0.2, linewidth=0)
        if sat.any():  # one row per configuration, from the top edge down, so that none hides another
            ax.plot(x[sat], np.full(int(sat.sum()), top_ms / 1.3**n_saturating), linestyle="none", marker=marker,
                    markersize=5, markerfacecolor="none", color=colour, clip_on=False)
            n_saturating += 1
    if closed_form is not None:
        ax.plot(closed_form["cell_load"], np.asarray(closed_form["latency_mean_s"]) * 1e3, linestyle=":",
                color="black", linewidth=1.2)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(mpl.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(mpl.ticker.NullFormatter())
    ax.set_ylim(bottom_ms, top_ms)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("cell load L (the baseband follows it)")
    ax.set_ylabel("AI latency: queueing + inference [ms]")
    _ran_axis(ax, points)
    return ax


def plot_gpu_shares(points, *, ai: str = "gpu_share_ai_mean", ax=None):
    """The GPU's time shares against the cell load: the baseband's, inference's, and what is left for inference.

    Black: the baseband's share ``gpu_share_ran_mean`` (strict solid, reserved dashed);
    grey dotted: 1 minus it, the most inference can use; one colour per configuration
    (keyed by :func:`legend_entries`): inference's share, column ``ai``, hollow where
    saturated.
    """
    ax = ax if ax is not None else plots.figure()[1][0]
    saturated = np.asarray(points["saturated"], dtype=bool)
    ran = np.asarray(points["gpu_share_ran_mean"], dtype=float)
    ai_share = np.asarray(points[ai], dtype=float)
    groups = list(_by_config(points))
    widest = {}  # priority -> the configuration with the most loads
    for _, rows, x in groups:
        priority = str(points["ran_priority"][rows[0]])
        if priority not in widest or x.size > widest[priority][1].size:
            widest[priority] = (rows, x)
    for i, (priority, (rows, x)) in enumerate(widest.items()):  # the baseband's share depends on the priority only
        order = np.argsort(x)
        ax.plot(x[order], ran[rows][order], linestyle="-" if priority == "strict" else "--", color="black",
                linewidth=1.2, label=f"baseband, {priority}")
        ax.plot(x[order], 1.0 - ran[rows][order], linestyle=":", color="0.5", linewidth=1.2,
                label="left for AI (1 - baseband)" if i == 0 else None)
    for config, rows, x in groups:
        colour = COLOURS.get(config, "0.3")
        marker = MARKERS.get(int(points["batch_max"][rows[0]]), "D")
        sat = saturated[rows]
        ax.plot(x[~sat], ai_share[rows][~sat], marker=marker, markersize=3, color=colour)
        ax.plot(x[sat], ai_share[rows][sat], linestyle="none", marker=marker, markersize=5, markerfacecolor="none",
                color=colour)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(0.0, 1.3)  # room for the legend
    ax.set_yticks(np.linspace(0.0, 1.0, 6))
    ax.set_xlabel("cell load L (the baseband follows it)")
    ax.set_ylabel("share of the GPU's time")
    _ran_axis(ax, points)
    ax.legend(frameon=False, loc="upper right", fontsize=7)
    return ax


def _ran_axis(ax, points) -> None:
    """Top axis: the strict baseband's share of the GPU, x = ran_share x L."""
    strict = np.asarray(points["ran_priority"]) == "strict"
    if not strict.any():
        return
    share = float(np.asarray(points["ran_share"], dtype=float)[strict][0])
    if share <= 0.0:
        return
    top = ax.secondary_xaxis("top", functions=(lambda v: v * share, lambda v: v / share))
    top.set_xlabel(f"strict baseband's GPU share x = {share:g} L", fontsize=8)


if __name__ == "__main__":
    sys.exit(main())
