"""Topologies study: the same offloading workload on four networks and four GPU placements.

Reproduce the study (48 runs of 300 simulated seconds, about a minute on two cores once the
engine is compiled; writes results/topologies/):

    python experiments/topologies.py

Options: ``--out DIR`` (default results/topologies; results/topologies_quick with
``--quick``), ``--quick`` (2 devices per site, two replications, a few simulated seconds:
the smoke test), ``--set PATH=VALUE`` (repeatable, applied to every run before the sweep's
topology, device-count and placement axes; ``simulation.seed`` sets the master seed),
``--workers N`` (worker processes, default one per core), ``--force`` (take over a folder
of another sweep).

Runs the sweep experiments/topologies.sweep.toml (``airan sweep
experiments/topologies.sweep.toml --out results/topologies`` runs the same one; the script
then finds the runs done and only draws) on experiments/topologies.toml: the built-in
topologies hex19 (19 UMa macro sites), hetnet (7 macro sites and 28 UMi small cells),
highway (6 RMa sites along 10 km) and poisson_example (40 omni UMa sites of a Poisson point
process) -- the ``[topology]`` table -- with the GPUs at every site, at one hub site per
cluster, at the aggregation nodes or in the regional cloud (``compute.placement``; the four
built-ins with aggregation nodes, so every placement exists on every network), each point
three times. Everything else is held fixed:

- the workload: YOLOv8n detection, 8.7 GFLOP, a 60 kB frame up and 2 kB of boxes down,
  Poisson at 2 frames/s from every device (sources in the scenario file);
- the load per base station: ``devices[0].count`` = 10 x the topology's sites (an axis
  zipped with the topology), smartphones dropped uniformly over its area
  (``placement = "area"``) and attached to the strongest cell;
- the GPU per node: one server with an A100's batch-1 YOLOv8n rate, 0.99 ms per frame,
  wherever it sits. Fewer nodes further up the network therefore means fewer GPUs for the
  same traffic: a node serving N devices runs at utilisation N x 2/s x 0.99 ms, about 0.02
  for a site's 10 devices (more at a macro site that attracts more) and 0.79 for the 400
  devices of poisson_example in the cloud. The load is chosen so the busiest node (that
  one) stays below saturation; a point where a run's busiest GPU or transport link exceeds
  ``SATURATED_UTILISATION`` is flagged in the table and drawn hatched;
- the radio edge: hex19 and hetnet run with hexagonal wrap-around (``wrap_around`` in the
  swept ``[topology]`` table, TR 36.814 A.2.1), as their layouts are meant to; highway and
  poisson_example have no [wrap] and run without. Without it, devices dropped in the
  corners of hex19's bounding box, outside the 19-site cluster, would set its p95 (see
  the scenario file);
- the seeds: the placement axis has ``same_seeds``, so within a topology and replication
  all four placements see the same device drops, radio links and task arrivals (common
  random numbers), and a difference between placements is the placement's alone;
  replications differ in all of them.

Why the same GPU per node rather than the same total GPU capacity: a placement applies
one ``[compute.gpu]`` table to every node it chooses, and the aggregation clusters differ
in size (hex19: one of 7 sites, six of 2), so capacity proportional to the sites served
cannot be expressed per placement; and the per-node design answers the planner's
question "one GPU box per location: at the mast, at the hub, or in the cloud?", in which
pooling saves hardware and costs queueing, while the cloud adds the transport round trip.
The GPU rate is the measured single-image latency, not a batched throughput (MLPerf
Offline, as in the accelerator profiles, would make a frame take 0.08 ms on an L4 and
leave every GPU nearly idle): a server answering one frame at a time is what an
interactive detector sees, and it is what makes pooling cost queueing at all. "cluster"
is run as a fourth placement because it is cheap and differs from "aggregation" where
the clusters are not the aggregation areas (hetnet: 7 macro hubs against 1 aggregation node).

Draws OUT/topologies.png (and .pdf), one group of four bars per topology, one bar per
placement; every bar and marker is the mean over the point's replications, and every
error bar the 95 % confidence interval of that mean (Student t over the replications,
``aggregate.parquet``'s ``_ci95``):

(a) task latency: each bar stacks the mean uplink + downlink (radio), transport (both
    crossings of the backhaul route), GPU wait and GPU service times, which add up to
    the mean latency (error bar on the top); the black diamond is the 95th percentile;
(b) device energy per completed task, stacked: the baseline (idle), transmit, receive
    and RRC-tail energy (the energy of the whole run over the tasks completed in it;
    error bar on the total). At 2 frames/s a phone's 11.6 s RRC tail never runs out, so
    its modem stays connected and a result that comes back later costs it no extra
    energy: (b) can differ between topologies (uplink airtime) but hardly between
    placements.

Each run's results are in OUT/runs/<run>/ as soon as it finishes; the tables are
OUT/results.parquet (one row per run) and OUT/aggregate.parquet (one row per point), and
the figure's data OUT/points.parquet (one row per topology x placement), which is also
printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

import numpy as np

import airan
from airan import plots
from airan.results import read_parquet, write_parquet
from airan.sweep import SweepError, load_sweep, read_results, run_sweep
from airan.topology import TopologyError, load_topology

HERE = Path(__file__).resolve().parent
SWEEP = HERE / "topologies.sweep.toml"

#: The swept fields: the network (the whole [topology] table), the devices over all its sites
#: (zipped with it) and the GPU placement.
TOPOLOGY = "topology"
COUNT = "devices[0].count"
PLACEMENT = "compute.placement"
PLACEMENT_LABELS = {"every_site": "site", "cluster": "cluster", "aggregation": "aggr.", "cloud": "cloud"}
TOPOLOGY_LABELS = {"hex19": "hex19", "hetnet": "hetnet", "highway": "highway", "poisson_example": "Poisson"}

#: --quick: two devices per site, two replications, a few simulated seconds.
QUICK_DEVICES_PER_SITE = 2
QUICK_REPLICATIONS = 2
QUICK_SETTINGS = ["simulation.duration_s=3.0", "simulation.warmup_s=0.5"]

#: A GPU or transport link busier than this is reported as saturated (its queue, and the
#: latency, would grow with the run length at a utilisation of 1).
SATURATED_UTILISATION = 0.95

#: Latency components of panel (a), bottom to top: summary keys, legend label, colour.
LATENCY_PARTS = (
    (("uplink_mean_s", "downlink_mean_s"), "radio (UL + DL)", "#4C72B0"),
    (("backhaul_mean_s",), "transport", "#DD8452"),
    (("gpu_wait_mean_s",), "GPU wait", "#C44E52"),
    (("gpu_service_mean_s",), "GPU service", "#8C8C8C"),
)
#: Energy components of panel (b), bottom to top: points column, legend label, colour.
ENERGY_PARTS = (
    ("energy_idle_per_task_j", "baseline (idle)", "#BFBFBF"),
    ("energy_tx_per_task_j", "transmit", "#4C72B0"),
    ("energy_rx_per_task_j", "receive", "#55A868"),
    ("energy_tail_per_task_j", "RRC tail", "#DD8452"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", help="sweep folder (default results/topologies, or results/topologies_quick)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and short runs (smoke test)")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override a scenario field for every run (repeatable)")
    parser.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    parser.add_argument("--force", action="store_true", help="take over a folder made by another sweep")
    args = parser.parse_args(argv)
    out = Path(args.out or ("results/topologies_quick" if args.quick else "results/topologies"))

    try:
        if args.quick:
            raw = tomllib.loads(SWEEP.read_text(encoding="utf-8"))
            networks = next(axis["values"] for axis in raw["axes"] if axis["path"] == TOPOLOGY)
            counts = [QUICK_DEVICES_PER_SITE * len(load_topology(network["file"]).sites) for network in networks]
            sweep = load_sweep(SWEEP, settings=[*QUICK_SETTINGS, *args.set], values={COUNT: counts},
                               replications=QUICK_REPLICATIONS)
        else:
            sweep = load_sweep(SWEEP, settings=args.set)
        if set(sweep.axes) != {TOPOLOGY, COUNT, PLACEMENT}:
            raise SweepError(f"{sweep.path.name}: axes: the study draws {TOPOLOGY} (with {COUNT}) x {PLACEMENT}, "
                             f"got {', '.join(sweep.axes)}")
        report = run_sweep(sweep, out, workers=args.workers, force=args.force)
    except (airan.ScenarioError, airan.BuildError, SweepError, TopologyError) as exc:
        print(f"topologies: error: {exc}", file=sys.stderr)
        return 2
    if report.failed or report.not_done:
        print(f"topologies: {report.failed} run(s) failed, {report.not_done} not done: "
              + "; ".join(report.errors), file=sys.stderr)
        return 1

    results, aggregate = read_results(out)
    points = points_table(results, aggregate, out / "runs")
    write_parquet(out / "points.parquet", points)
    print(format_points(points))

    n_runs = int(aggregate["n"].min())
    per_site = np.unique(points["devices_per_site"])
    per_site_text = "/".join(f"{v:g}" for v in per_site)
    with plots.style():
        fig, (ax_latency, ax_energy) = plots.figure(2, height_in=3.0)
        plot_latency_breakdown(points, ax=ax_latency)
        plot_energy_per_task(points, ax=ax_energy)
        ax_latency.set_title(f"(a) task latency: mean by part, and p95; {per_site_text} devices/site")
        ax_energy.set_title("(b) device energy per task, by part")
        written = plots.save(fig, out / "topologies.png")
    print(f"{report.total} runs ({report.ran} run now, {report.skipped} already done; means over {n_runs} "
          f"replication(s) above); sweep folder {out}, points table {out / 'points.parquet'}, "
          f"figure: {', '.join(str(p) for p in written)}")
    return 0


# ----------------------------------------------------------------------------
# The sweep and its points
# ----------------------------------------------------------------------------


def topology_names(column: np.ndarray) -> np.ndarray:
    """The topology of each row, from the swept ``topology`` column (each table as canonical JSON text)."""
    return np.array([json.loads(text)["file"] for text in column], dtype=object)


def points_table(results: dict[str, np.ndarray], aggregate: dict[str, np.ndarray], runs: Path) -> dict[str, np.ndarray]:
    """One row per (topology, placement): the network, then the means over the replications with their ``_ci95``.

    The network columns (GPU nodes, sites per GPU node, mean route latency) come from
    the first replication's ``nodes.parquet`` and ``sites.parquet``: they do not depend
    on the seed. Energy parts per task divide each part of a run's device energy by the
    tasks completed in the run, as ``device_energy_per_task_j`` does, so they add up to
    it; their columns are means over the replications. A point is ``saturated`` when a
    run's busiest GPU or transport link exceeds :data:`SATURATED_UTILISATION`.
    """
    rows = [np.flatnonzero(results["point"] == p) for p in aggregate["point"]]
    first = [r[np.argmin(results["replication"][r])] for r in rows]
    sites_per_gpu, route_s = [], []
    for i in first:
        folder = runs / str(results["run"][i])
        nodes, sites = read_parquet(folder / "nodes.parquet"), read_parquet(folder / "sites.parquet")
        gpu = np.asarray(nodes["gpu_servers"]) > 0
        sites_per_gpu.append(int(np.max(np.asarray(nodes["sites_served"])[gpu])))
        route_s.append(float(np.mean(np.asarray(sites["gpu_latency_s"], dtype=float))))
    wrap = [json.loads(text)["wrap_around"] for text in aggregate[TOPOLOGY]]
    points = {
        "point": aggregate["point"],
        "topology": topology_names(aggregate[TOPOLOGY]),
        "placement": aggregate[PLACEMENT],
        "wrap_around": np.array(wrap, dtype=bool),
        "sites": aggregate["sites_mean"].astype(np.int64),
        "devices": aggregate[COUNT],
        "devices_per_site": aggregate[COUNT] / aggregate["sites_mean"],
        "gpu_nodes": aggregate["gpu_nodes_mean"].astype(np.int64),
        "sites_per_gpu_max": np.array(sites_per_gpu, dtype=np.int64),
        "route_latency_mean_s": np.array(route_s),
        "n": aggregate["n"],
    }
    for metric in ("latency_mean_s", "latency_p50_s", "latency_p95_s", "latency_p99_s", "uplink_mean_s",
                   "backhaul_mean_s", "gpu_wait_mean_s", "gpu_service_mean_s", "downlink_mean_s",
                   "gpu_wait_probability", "gpu_utilization_mean", "gpu_utilization_max", "transport_load_max",
                   "cell_load_ul_max", "deadline_miss_ratio", "device_energy_per_task_j",
                   "device_energy_active_per_task_j", "offload_ratio", "tasks_completed", "tasks_in_flight"):
        points[metric] = aggregate[f"{metric}_mean"]
        points[f"{metric}_ci95"] = aggregate[f"{metric}_ci95"]
    total_j = np.asarray(results["device_energy_j"], dtype=float)
    per_task_j = np.asarray(results["device_energy_per_task_j"], dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total_j > 0, per_task_j / total_j, np.nan)  # 1 / tasks completed in the run
    for part in ("idle", "compute", "tx", "rx", "tail"):
        per_run = np.asarray(results[f"device_energy_{part}_j"], dtype=float) * share
        points[f"energy_{part}_per_task_j"] = np.array([per_run[r].mean() for r in rows])
    busiest = np.fmax(np.asarray(results["gpu_utilization_max"], dtype=float),
                      np.asarray(results["transport_load_max"], dtype=float))
    points["saturated"] = np.array([bool(np.any(busiest[r] >= SATURATED_UTILISATION)) for r in rows])
    return points


def format_points(points: dict[str, np.ndarray]) -> str:
    """The points as a compact plain-text table, one line per point (means over the replications)."""
    header = (f"{'topology':<16} {'placement':<11} {'GPUs':>4} {'dev':>4} {'mean ms':>8} {'p95 ms':>8} "
              f"{'± 95%':>6} {'UL ms':>7} {'trans ms':>8} {'wait ms':>8} {'GPU util':>8} {'J/task':>7} "
              f"{'active J':>8} {'offload':>7} {'in flight':>9}")
    lines = [header]
    for i in range(points["topology"].shape[0]):
        lines.append(
            f"{points['topology'][i]:<16} {points['placement'][i]:<11} {points['gpu_nodes'][i]:>4d} "
            f"{points['devices'][i]:>4d} {points['latency_mean_s'][i] * 1e3:>8.3f} "
            f"{points['latency_p95_s'][i] * 1e3:>8.3f} {points['latency_p95_s_ci95'][i] * 1e3:>6.2f} "
            f"{points['uplink_mean_s'][i] * 1e3:>7.3f} {points['backhaul_mean_s'][i] * 1e3:>8.3f} "
            f"{points['gpu_wait_mean_s'][i] * 1e3:>8.3f} {points['gpu_utilization_max'][i]:>8.3f} "
            f"{points['device_energy_per_task_j'][i]:>7.3f} {points['device_energy_active_per_task_j'][i]:>8.3f} "
            f"{points['offload_ratio'][i]:>7.3f} {points['tasks_in_flight'][i]:>9,.0f}"
            + ("  saturated" if points["saturated"][i] else ""))
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# The figure
# ----------------------------------------------------------------------------


def plot_latency_breakdown(points, *, ax=None):
    """Mean latency split into radio, transport, GPU wait and service (stacked), with the p95 marked.

    ``points`` has one row per (topology, placement) with the component means of
    :data:`LATENCY_PARTS`, ``latency_mean_s``, ``latency_p95_s`` and their ``_ci95``
    half-widths (error bars on the stack's top and on the p95 diamond, where finite);
    the bars are grouped by topology. Saturated points are hatched.
    """
    ax = ax if ax is not None else plots.figure()[1][0]
    x = _grouped_axis(points, ax)
    bottom = np.zeros(x.shape[0])
    for keys, label, colour in LATENCY_PARTS:
        height = sum(np.nan_to_num(np.asarray(points[k], dtype=float)) for k in keys) * 1e3
        ax.bar(x, height, bottom=bottom, width=_BAR_WIDTH, color=colour, label=label, linewidth=0)
        bottom += height
    _hatch_saturated(ax, x, bottom, points)
    p95 = np.asarray(points["latency_p95_s"], dtype=float) * 1e3
    ax.plot(x, p95, linestyle="none", marker="D", markersize=3.5, color="black", label="95th percentile")
    _error_bars(ax, x, bottom, np.asarray(points["latency_mean_s_ci95"], dtype=float) * 1e3)
    _error_bars(ax, x, p95, np.asarray(points["latency_p95_s_ci95"], dtype=float) * 1e3, points=points)
    ax.set_ylabel("task latency [ms]")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # room for the legend
    _legend(ax, first=[label for _, label, _ in LATENCY_PARTS])
    return ax


def plot_energy_per_task(points, *, ax=None):
    """Device energy per completed task, stacked by part (:data:`ENERGY_PARTS`), grouped by topology.

    The error bar on each stack is the 95 % interval of ``device_energy_per_task_j``.
    """
    ax = ax if ax is not None else plots.figure()[1][0]
    x = _grouped_axis(points, ax)
    bottom = np.zeros(x.shape[0])
    for key, label, colour in ENERGY_PARTS:
        height = np.nan_to_num(np.asarray(points[key], dtype=float))
        ax.bar(x, height, bottom=bottom, width=_BAR_WIDTH, color=colour, label=label, linewidth=0)
        bottom += height
    _hatch_saturated(ax, x, bottom, points)
    _error_bars(ax, x, bottom, np.asarray(points["device_energy_per_task_j_ci95"], dtype=float), points=points)
    ax.set_ylabel("device energy per task [J]")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)
    _legend(ax, first=[label for _, label, _ in ENERGY_PARTS])
    return ax


def _error_bars(ax, x: np.ndarray, y: np.ndarray, half: np.ndarray, *, points=None) -> None:
    """Thin black 95 % interval bars at (x, y +- half) where ``half`` is finite (nan with one replication).

    With ``points``, the bars get a legend entry naming the replications per point.
    """
    finite = np.isfinite(half) & np.isfinite(y)
    if finite.any():
        label = None if points is None else f"95 % CI ({int(np.min(points['n']))} runs)"
        ax.errorbar(x[finite], y[finite], yerr=half[finite], linestyle="none", color="black", elinewidth=0.7,
                    capsize=1.5, capthick=0.7, label=label)


def _legend(ax, *, first: list[str]) -> None:
    """Legend in reading order: the stacked parts bottom to top, then the markers."""
    handles, labels = ax.get_legend_handles_labels()
    order = [labels.index(lab) for lab in first if lab in labels]
    order += [i for i in range(len(labels)) if i not in order]
    ax.legend([handles[i] for i in order], [labels[i] for i in order], frameon=False, loc="upper left", ncols=2)


_BAR_WIDTH = 0.8
_GROUP_GAP = 0.8  # extra space between topologies, in bar widths


def _grouped_axis(points, ax) -> np.ndarray:
    """Bar positions grouped by topology; placement names as tick labels, topology names below them."""
    topologies = np.asarray(points["topology"])
    placements = np.asarray(points["placement"])
    groups = list(dict.fromkeys(topologies))
    x = np.empty(topologies.shape[0])
    offset = 0.0
    for topology in groups:
        rows = np.flatnonzero(topologies == topology)
        x[rows] = offset + np.arange(rows.shape[0])
        ax.annotate(TOPOLOGY_LABELS.get(topology, topology), xy=(x[rows].mean(), 0), xycoords=("data", "axes fraction"),
                    xytext=(0, -34), textcoords="offset points", ha="center", va="top", fontsize=8)
        offset += rows.shape[0] + _GROUP_GAP
    ax.set_xticks(x, [PLACEMENT_LABELS.get(p, p) for p in placements], rotation=90, fontsize=7)
    ax.tick_params(axis="x", length=0, pad=2)
    ax.grid(axis="x", visible=False)
    ax.set_xlim(x[0] - 0.7, x[-1] + 0.7)
    return x


def _hatch_saturated(ax, x: np.ndarray, top: np.ndarray, points) -> None:
    """Outline a saturated point's bar with hatching (its backlog, and so its latency, grows with the run)."""
    saturated = np.asarray(points["saturated"], dtype=bool)
    if saturated.any():
        ax.bar(x[saturated], top[saturated], width=_BAR_WIDTH, fill=False, hatch="///", edgecolor="black",
               linewidth=0.5, label="saturated (GPU or link)")


if __name__ == "__main__":
    sys.exit(main())
