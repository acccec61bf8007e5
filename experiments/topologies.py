"""Topologies study: the same offloading workload on four networks and four GPU placements.

Reproduce the study (16 runs of 300 simulated seconds, about 10 s once the engine is compiled):

    python experiments/topologies.py

Options: ``--out DIR`` (default results/topologies), ``--quick`` (2 devices per site, a few
simulated seconds: the smoke test), ``--set PATH=VALUE`` (repeatable, applied to every run
before the study's own topology, placement and device-count settings).

Runs experiments/topologies.toml on the built-in topologies hex19 (19 UMa macro sites),
hetnet (7 macro sites and 28 UMi small cells), highway (6 RMa sites along 10 km) and
poisson_example (40 omni UMa sites of a Poisson point process) -- ``topology.file`` --
with the GPUs at every site, at one hub site per cluster, at the aggregation nodes or in
the regional cloud (``compute.placement``; the four built-ins with aggregation nodes, so
every placement exists on every network). Everything else is held fixed:

- the workload: YOLOv8n detection, 8.7 GFLOP, a 60 kB frame up and 2 kB of boxes down,
  Poisson at 2 frames/s from every device (sources in the scenario file);
- the load per base station: ``devices[0].count`` = 10 x the topology's sites, smartphones
  dropped uniformly over its area (``placement = "area"``) and attached to the strongest cell;
- the GPU per node: one server with an A100's batch-1 YOLOv8n rate, 0.99 ms per frame,
  wherever it sits. Fewer nodes further up the network therefore means fewer GPUs for the
  same traffic: a node serving N devices runs at utilisation N x 2/s x 0.99 ms, about 0.02
  for a site's 10 devices (more at a macro site that attracts more) and 0.79 for the 400
  devices of poisson_example in the cloud. The load is chosen so the busiest node (that
  one) stays below saturation; a run whose busiest GPU or transport link exceeds
  ``SATURATED_UTILISATION`` is flagged in the table and drawn hatched;
- the radio edge: hex19 and hetnet run with hexagonal wrap-around (``topology.wrap_around``,
  TR 36.814 A.2.1), as their layouts are meant to; highway and poisson_example have no
  [wrap] and run without. Without it, devices dropped in the corners of hex19's bounding
  box, outside the 19-site cluster, would set its p95 (see the scenario file);
- the seed: every run uses the scenario's seed, so within a topology all four placements
  see the same device drops, radio links and task arrivals (common random numbers), and
  a difference between placements is the placement's alone.

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
placement:

(a) task latency: each bar stacks the mean uplink + downlink (radio), transport (both
    crossings of the backhaul route), GPU wait and GPU service times, which add up to
    the mean latency; the black diamond is the 95th percentile;
(b) device energy per completed task, stacked: the baseline (idle), transmit, receive
    and RRC-tail energy (the energy of the whole run over the tasks completed in it).
    At 2 frames/s a phone's 11.6 s RRC tail never runs out, so its modem stays connected
    and a result that comes back later costs it no extra energy: (b) can differ between
    topologies (uplink airtime) but hardly between placements.

Each run's results go to OUT/<topology>/<placement>/ as soon as it finishes, the sweep as
a tidy table (one row per topology x placement) to OUT/sweep.parquet, and the sweep is
printed.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

import airan
from airan import plots
from airan.results import write_parquet
from airan.topology import TopologyError, load_topology

HERE = Path(__file__).resolve().parent

TOPOLOGIES = ("hex19", "hetnet", "highway", "poisson_example")
PLACEMENTS = ("every_site", "cluster", "aggregation", "cloud")
PLACEMENT_LABELS = {"every_site": "site", "cluster": "cluster", "aggregation": "aggr.", "cloud": "cloud"}
TOPOLOGY_LABELS = {"hex19": "hex19", "hetnet": "hetnet", "highway": "highway", "poisson_example": "Poisson"}

#: Devices per base station, the same on every topology.
DEVICES_PER_SITE = 10
#: --quick: two devices per site, a few simulated seconds.
QUICK_DEVICES_PER_SITE = 2
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
#: Energy components of panel (b), bottom to top: sweep column, legend label, colour.
ENERGY_PARTS = (
    ("energy_idle_per_task_j", "baseline (idle)", "#BFBFBF"),
    ("energy_tx_per_task_j", "transmit", "#4C72B0"),
    ("energy_rx_per_task_j", "receive", "#55A868"),
    ("energy_tail_per_task_j", "RRC tail", "#DD8452"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default=str(HERE / "topologies.toml"))
    parser.add_argument("--out", default="results/topologies")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and a short run (smoke test)")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override a scenario field for every run (repeatable)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    per_site = QUICK_DEVICES_PER_SITE if args.quick else DEVICES_PER_SITE
    settings = [*QUICK_SETTINGS, *args.set] if args.quick else list(args.set)
    name = Path(args.scenario).name

    rows = []  # tidy sweep table: one dict per run
    started = time.perf_counter()
    try:
        airan.load_scenario(args.scenario, settings)  # a bad file or --set fails here, once
        for topology in TOPOLOGIES:
            topo = load_topology(topology)
            wrap = "true" if topo.wrap is not None else "false"  # wrap-around where the layout allows it
            for placement in PLACEMENTS:
                scenario = airan.load_scenario(args.scenario, [
                    *settings, f"topology.file={topology}", f"topology.wrap_around={wrap}",
                    f"compute.placement={placement}", f"devices[0].count={per_site * len(topo.sites)}"])
                try:
                    result = airan.run(scenario)
                except airan.BuildError as exc:
                    raise airan.BuildError(f"{name}: {exc}") from None
                result.write(out / topology / placement)  # written as soon as it is done
                rows.append(sweep_row(topology, placement, per_site, result, wrap_around=wrap == "true"))
    except (airan.ScenarioError, airan.BuildError, TopologyError) as exc:
        print(f"topologies: error: {exc}", file=sys.stderr)
        return 2
    elapsed_s = time.perf_counter() - started

    sweep = {key: np.array([row[key] for row in rows]) for key in rows[0]}
    write_parquet(out / "sweep.parquet", sweep)
    print(format_sweep(sweep))

    with plots.style():
        fig, (ax_latency, ax_energy) = plots.figure(2, height_in=3.0)
        plot_latency_breakdown(sweep, ax=ax_latency)
        plot_energy_per_task(sweep, ax=ax_energy)
        ax_latency.set_title(f"(a) task latency: mean by part, and p95; {per_site} devices/site")
        ax_energy.set_title("(b) device energy per task, by part")
        written = plots.save(fig, out / "topologies.png")
    print(f"{len(rows)} runs in {elapsed_s:.1f} s; results in {out}/<topology>/<placement>/, "
          f"sweep table {out / 'sweep.parquet'}, figure: {', '.join(str(p) for p in written)}")
    return 0


def sweep_row(topology: str, placement: str, per_site: int, result: airan.Result, *, wrap_around: bool) -> dict:
    """One tidy row of the sweep: the parameters, the network, then the metrics.

    Energy parts per task divide each part of the run's device energy by the tasks
    completed in the run, as ``device_energy_per_task_j`` does, so they add up to it.
    """
    s, nodes, sites = result.summary, result.nodes, result.sites
    gpu = nodes["gpu_servers"] > 0
    utilisation_max = _nan(s["gpu_utilization_max"])
    transport_max = _nan(s["transport_load_max"])
    total_j, per_task_j = _nan(s["device_energy_j"]), _nan(s["device_energy_per_task_j"])
    tasks_run = total_j / per_task_j if per_task_j > 0 else math.nan  # tasks completed, warm-up included
    route_s = np.asarray(sites["gpu_latency_s"], dtype=float)
    return {
        "topology": topology,
        "placement": placement,
        "wrap_around": wrap_around,
        "sites": s["sites"],
        "devices": s["devices"],
        "devices_per_site": per_site,
        "gpu_nodes": int(gpu.sum()),
        "sites_per_gpu_max": int(np.max(nodes["sites_served"][gpu])),
        "route_latency_mean_s": float(np.mean(route_s)),
        "latency_mean_s": _nan(s["latency_mean_s"]),
        "latency_p50_s": _nan(s["latency_p50_s"]),
        "latency_p95_s": _nan(s["latency_p95_s"]),
        "latency_p99_s": _nan(s["latency_p99_s"]),
        "uplink_mean_s": _nan(s["uplink_mean_s"]),
        "backhaul_mean_s": _nan(s["backhaul_mean_s"]),
        "gpu_wait_mean_s": _nan(s["gpu_wait_mean_s"]),
        "gpu_service_mean_s": _nan(s["gpu_service_mean_s"]),
        "downlink_mean_s": _nan(s["downlink_mean_s"]),
        "gpu_wait_probability": _nan(s["gpu_wait_probability"]),
        "gpu_utilization_mean": _nan(s["gpu_utilization_mean"]),
        "gpu_utilization_max": utilisation_max,
        "transport_load_max": transport_max,
        "cell_load_ul_max": _nan(s["cell_load_ul_max"]),
        "deadline_miss_ratio": _nan(s["deadline_miss_ratio"]),
        "device_energy_per_task_j": per_task_j,
        "device_energy_active_per_task_j": _nan(s["device_energy_active_per_task_j"]),
        **{f"energy_{part}_per_task_j": _nan(s[f"device_energy_{part}_j"]) / tasks_run
           for part in ("idle", "compute", "tx", "rx", "tail")},
        "tasks_generated": s["tasks_generated"],
        "tasks_completed": s["tasks_completed"],
        "tasks_offloaded": s["tasks_offloaded"],
        "tasks_dropped": s["tasks_dropped"],
        "tasks_in_flight": s["tasks_in_flight"],
        "offload_ratio": _nan(s["offload_ratio"]),
        "saturated": bool(max(utilisation_max, transport_max) >= SATURATED_UTILISATION),
        "wall_time_s": s["wall_time_s"],
    }


def _nan(value) -> float:
    return math.nan if value is None else float(value)


def format_sweep(sweep: dict[str, np.ndarray]) -> str:
    """The sweep as a compact plain-text table, one line per run."""
    header = (f"{'topology':<16} {'placement':<11} {'GPUs':>4} {'dev':>4} {'mean ms':>8} {'p95 ms':>8} "
              f"{'UL ms':>7} {'trans ms':>8} {'wait ms':>8} {'GPU util':>8} {'J/task':>7} {'active J':>8} "
              f"{'offload':>7} {'in flight':>9}")
    lines = [header]
    for i in range(sweep["topology"].shape[0]):
        lines.append(
            f"{sweep['topology'][i]:<16} {sweep['placement'][i]:<11} {sweep['gpu_nodes'][i]:>4d} "
            f"{sweep['devices'][i]:>4d} {sweep['latency_mean_s'][i] * 1e3:>8.3f} "
            f"{sweep['latency_p95_s'][i] * 1e3:>8.3f} {sweep['uplink_mean_s'][i] * 1e3:>7.3f} "
            f"{sweep['backhaul_mean_s'][i] * 1e3:>8.3f} {sweep['gpu_wait_mean_s'][i] * 1e3:>8.3f} "
            f"{sweep['gpu_utilization_max'][i]:>8.3f} {sweep['device_energy_per_task_j'][i]:>7.3f} "
            f"{sweep['device_energy_active_per_task_j'][i]:>8.3f} {sweep['offload_ratio'][i]:>7.3f} "
            f"{sweep['tasks_in_flight'][i]:>9,d}"
            + ("  saturated" if sweep["saturated"][i] else ""))
    return "\n".join(lines)


def plot_latency_breakdown(sweep, *, ax=None):
    """Mean latency split into radio, transport, GPU wait and service (stacked), with the p95 marked.

    ``sweep`` has one row per (topology, placement) with the component means of
    :data:`LATENCY_PARTS` and ``latency_p95_s``; the bars are grouped by topology.
    Saturated runs are hatched.
    """
    ax = ax if ax is not None else plots.figure()[1][0]
    x = _grouped_axis(sweep, ax)
    bottom = np.zeros(x.shape[0])
    for keys, label, colour in LATENCY_PARTS:
        height = sum(np.nan_to_num(np.asarray(sweep[k], dtype=float)) for k in keys) * 1e3
        ax.bar(x, height, bottom=bottom, width=_BAR_WIDTH, color=colour, label=label, linewidth=0)
        bottom += height
    _hatch_saturated(ax, x, bottom, sweep)
    ax.plot(x, np.asarray(sweep["latency_p95_s"], dtype=float) * 1e3, linestyle="none", marker="D",
            markersize=3.5, color="black", label="95th percentile")
    ax.set_ylabel("task latency [ms]")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # room for the legend
    _legend(ax, first=[label for _, label, _ in LATENCY_PARTS])
    return ax


def plot_energy_per_task(sweep, *, ax=None):
    """Device energy per completed task, stacked by part (:data:`ENERGY_PARTS`), grouped by topology."""
    ax = ax if ax is not None else plots.figure()[1][0]
    x = _grouped_axis(sweep, ax)
    bottom = np.zeros(x.shape[0])
    for key, label, colour in ENERGY_PARTS:
        height = np.nan_to_num(np.asarray(sweep[key], dtype=float))
        ax.bar(x, height, bottom=bottom, width=_BAR_WIDTH, color=colour, label=label, linewidth=0)
        bottom += height
    _hatch_saturated(ax, x, bottom, sweep)
    ax.set_ylabel("device energy per task [J]")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)
    _legend(ax, first=[label for _, label, _ in ENERGY_PARTS])
    return ax


def _legend(ax, *, first: list[str]) -> None:
    """Legend in reading order: the stacked parts bottom to top, then the markers."""
    handles, labels = ax.get_legend_handles_labels()
    order = [labels.index(lab) for lab in first if lab in labels]
    order += [i for i in range(len(labels)) if i not in order]
    ax.legend([handles[i] for i in order], [labels[i] for i in order], frameon=False, loc="upper left", ncols=2)


_BAR_WIDTH = 0.8
_GROUP_GAP = 0.8  # extra space between topologies, in bar widths


def _grouped_axis(sweep, ax) -> np.ndarray:
    """Bar positions grouped by topology; placement names as tick labels, topology names below them."""
    topologies = np.asarray(sweep["topology"])
    placements = np.asarray(sweep["placement"])
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


def _hatch_saturated(ax, x: np.ndarray, top: np.ndarray, sweep) -> None:
    """Outline a saturated run's bar with hatching (its backlog, and so its latency, grows with the run)."""
    saturated = np.asarray(sweep["saturated"], dtype=bool)
    if saturated.any():
        ax.bar(x[saturated], top[saturated], width=_BAR_WIDTH, fill=False, hatch="///", edgecolor="black",
               linewidth=0.5, label="saturated (GPU or link)")


if __name__ == "__main__":
    sys.exit(main())
