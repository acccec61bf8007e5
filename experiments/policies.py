"""Offloading policies study: eight policies of ``[policy]`` compared as the load grows.

Reproduce the study (192 runs of one simulated minute, a few minutes on two cores once the
engine is compiled; writes results/policies/):

    python experiments/policies.py

Options: ``--out DIR`` (default results/policies; results/policies_quick with ``--quick``),
``--quick`` (two loads, two replications, 10 simulated seconds: the smoke test), ``--set
PATH=VALUE`` (repeatable, applied to every run before the sweep's axes; ``simulation.seed``
sets the master seed), ``--workers N`` (worker processes, default one per core), ``--force``
(take over a folder of another sweep).

Runs the sweep experiments/policies.sweep.toml (``airan sweep experiments/policies.sweep.toml
--out results/policies`` runs the same one; the script then finds the runs done and only
draws) on experiments/policies.toml: AR glasses on hex7 (7 UMa sites x 3 sectors, TR 38.901
radio in n78 with wrap-around) ask for YOLOv8n detections (8.7 GFLOP, a 123 kB frame up,
a 33.3 ms deadline), Poisson at lambda = 5 per second each. Each frame runs on the glasses
(t = 29.0 ms on their SoC) or crosses the uplink to one of two GPU nodes
(experiments/policies_hex7.toml): an L4 at the aggregation hub all seven sites are wired
to (0.98 ms a frame), or an H100 in the regional cloud 5 ms further each way (0.91 ms).
Swept: eight policies (``policy.name``) at eight loads, glasses per site N = 5 ... 60
(``devices[0].count`` = 7 N), each point three times (replications). What each policy
does (airan.scenario ``Policy``; the estimates are airan.engine ``_choose``'s):

- ``local`` runs every frame on the glasses, ``offload`` sends every frame to the
  nearest GPU node (the hub);
- ``min_latency`` takes the fastest of the glasses and the ``max_nodes`` = 2 GPU nodes on
  estimates of the uplink (shared with the transfers now in the cell), the path, the node's
  queue and the downlink; ``min_energy`` the one that costs the glasses least energy;
  ``deadline`` the least energy among those expected within the deadline, else the fastest;
- ``least_loaded`` the GPU node with the fewest tasks per server, ``cloud_fallback`` the
  hub unless it is expected to be late, then the cloud (neither ever keeps a frame on
  the glasses);
- ``battery`` is ``min_latency`` while a battery holds more than ``battery_threshold`` (0.5)
  of its charge, ``min_energy`` below. The glasses start full and no run drains them
  below half (an offloading pair uses about 5 % of its charge in the minute), so here
  ``battery`` is ``min_latency`` run for run; it is drawn over it.
- ``partial`` (the fastest of local, whole or split at one of the workload's
  ``split_points``) is left out: the YOLOv8n catalog row lists no cut, so it runs exactly
  as ``min_latency`` here (checked on one point).

The model in three numbers. (1) On the glasses a frame is late when it waits more than
D - t = 4.3 ms behind an earlier one: local execution is an M/D/1 queue with utilisation
rho = lambda t = 0.145, whose waiting time W has the closed form (Erlang's; e.g. D. Gross
and C. M. Harris, Fundamentals of Queueing Theory, the M/D/1 waiting-time distribution)

    P(W <= w) = (1 - rho) sum_{k=0}^{floor(w/t)} (lambda (k t - w))^k / k! exp(-lambda (k t - w)),

so a fraction 1 - (1 - rho) exp(lambda (D - t)) = 0.126 misses the deadline whatever
the load, and the p95 latency is t + W_95 = 50.1 ms (``md1_local_*`` columns, drawn
dotted). (2) Offloading is faster while the GPUs and the uplinks keep up: the hub serves
at most 1 / 0.98 ms = 1,018 frames/s and N glasses per site offer 35 N per second, so with
every frame sent to it (``offload``) it saturates at N = 29 (top axis: the hub's
utilisation if every frame went to it). A cell's uplink moved 130-400 Mbit/s while busy in
these runs, less as the other cells' load interferes, but devices attach to the strongest
cell, so some cells get far more than N / 3 of them: with every frame offloaded (4.9 Mbit/s a
pair) the busiest cells' uplinks fill from about N = 50. (3) Energy: sending a frame
costs the glasses at least 123 kB x 438 mW/Mbps = 0.43 J of per-bit modem energy (Huang et
al. 2012, in the ar_glasses profile), 13 times the 33 mJ of computing it, and every
transfer keeps the modem in its 11.6 s RRC tail at 1.06 W; so ``min_energy`` never
offloads (it runs exactly as ``local``) and battery life falls with every frame sent.

Why these choices (and not a first design, smartphones with a GPU at every site):

- AR glasses, not smartphones: a smartphone's NPU runs YOLOv8n in 1.5 ms (5.8 TFLOP/s,
  docs/profiles.md), less than the 2.4 ms or more the frame's uplink alone takes here, and
  for about 1 % of the per-bit energy of sending it (5 mJ against 0.43 J); every comparing
  policy would keep every frame on the phone. The glasses' 29 ms against a 33 ms deadline
  is what makes the choice matter.
- Poisson, not the catalog's periodic camera: at any steady frame rate up to 30/s a frame
  never waits on the glasses (29 ms is less than the period), local execution is never
  late, and ``deadline`` would equal ``min_energy``.
- One GPU at the hub and one in the cloud, not an L4 at every site: 123 kB frames fill
  uplinks long before a GPU per site is busy. In a trial with an L4 at every site (and the
  cloud GPU) and 50 glasses per site under ``offload``, the busiest cells' uplinks were
  full (mean uplink time 121 ms) while the busiest site GPU was at utilisation 0.30, and
  ``least_loaded``'s latency matched ``offload``'s: the GPU choice did not matter. Pooling
  the sites on one hub GPU makes the GPU the first bottleneck (N = 29) and the uplink the
  second (N ~ 50), and gives the node-choosing policies a real choice: the near, busy hub
  or the far, idle cloud.

What the policies' estimates leave out, which the figure shows: the RRC tail (the energy
estimate counts transmit and receive power and per-bit energy only), so a policy that
offloads one frame in nine (``deadline``) keeps the modem in its tail nearly all the time
and pays far more than its estimates say (2.3 J of radio energy per offloaded frame,
against the 0.44 J it counts); and distance, for ``least_loaded``, which counts tasks per
server only and so sends a frame to the cloud, 10 ms further, whenever the hub has one
more task than the cloud. Also: airan predicts each cell's load (for interference and so
the rates) from the traffic of every device whose policy may offload, as if all its frames
went up; for a policy that offloads few frames (``deadline``) the radio is modelled more
interfered than it is.

A run is saturated when its backlog grows. A stable system holds, by Little's law, on
average lambda W tasks (lambda the rate at which tasks arrive, W their mean latency), and
about Poisson many (many short, independent tasks); a growing backlog holds more: a queue
that gets work faster than it can do it by a rate d ends a run of length T with d T tasks
in flight, while its completed tasks' mean latency only counts for d T / 2. So a run is
saturated when its tasks in flight at the end exceed lambda W (``tasks_generated`` over the
measured time, times ``latency_mean_s``) by more than ``SATURATION_SIGMAS`` times
sqrt(lambda W). That happens when the hub GPU or some cell's uplink gets more work than it
can do; the latency then only measures how long the run lasted. At each load and
replication every policy runs with the same seed (``same_seeds`` on the policy axis), so
all see the same glasses, positions, radio links and frame arrivals (common random
numbers): differences between policies at a point are theirs. Each load and replication
draws its own positions, which the mean over the replications smooths; what is left shows,
e.g., in ``offload``'s misses at N = 20 and 25.

Draws OUT/policies.png (and .pdf) from the sweep's tables, one line per policy against
glasses per site, each point the mean over the replications with its 95 % confidence band
(a point is saturated if any of its runs was: hollow, and the line stops before it):

(a) task latency, 95th percentile (log scale), with the deadline and local execution's
    M/D/1 p95; saturated points on the top edge;
(b) deadline-miss ratio (late + dropped over completed + dropped; symmetric log scale,
    linear below 0.001), with local execution's M/D/1 miss ratio;
(c) battery life of the 1.2 Wh glasses, mean over devices, projected from their mean
    power over the run (``battery_life_mean_h``).

The sweep folder OUT holds the runs (OUT/runs/<run>/), one row per run
(OUT/results.parquet) and per point (OUT/aggregate.parquet); the script adds
OUT/points.parquet, one row per policy and load: the closed forms, saturation, the
means and 95 % half-widths drawn, and the cloud's share of the GPU work and the hub's
utilisation (from each run's nodes.parquet); it prints that table.
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
from airan.results import read_parquet, write_parquet
from airan.sweep import SweepError, load_sweep, read_results, run_sweep
from airan.topology import TopologyError, apply_placement, load_topology

HERE = Path(__file__).resolve().parent
SWEEP = HERE / "policies.sweep.toml"

POLICY = "policy.name"
COUNT = "devices[0].count"
WL = "workloads.detect."  # the study's one workload, in the tables

#: --quick: a light and a saturating load (2 and 30 glasses per site on hex7), two
#: replications, 10 simulated seconds.
QUICK_COUNTS = (14, 210)
QUICK_REPLICATIONS = 2
QUICK_SETTINGS = ["simulation.duration_s=10.0", "simulation.warmup_s=2.0"]

#: A run is saturated when its tasks in flight at the end exceed Little's lambda W by more than
#: this many standard deviations of a stable count, sqrt(lambda W) (about Poisson: many short,
#: independent tasks).
SATURATION_SIGMAS = 5.0

#: Line style of each policy: colour, marker, line style. The pairs that run identically here
#: (min_energy = local, battery = min_latency: see the module docstring) are drawn dashed
#: over their twin, with their own marker.
STYLES = {
    "local": ("black", "o", "-"),
    "min_energy": ("#55A868", "x", "--"),
    "deadline": ("#8172B3", "D", "-"),
    "min_latency": ("#4C72B0", "s", "-"),
    "battery": ("#64B5CD", "+", "--"),
    "offload": ("#C44E52", "v", "-"),
    "least_loaded": ("#DD8452", "^", "-"),
    "cloud_fallback": ("#937860", "P", "-"),
}

#: Metrics of the points table: (name there, column of the sweep's tables).
METRICS = (
    ("latency_mean_s", WL + "latency_mean_s"),
    ("latency_p50_s", WL + "latency_p50_s"),
    ("latency_p95_s", WL + "latency_p95_s"),
    ("latency_p99_s", WL + "latency_p99_s"),
    ("deadline_miss_ratio", WL + "deadline_miss_ratio"),
    ("offload_ratio", "offload_ratio"),
    ("uplink_mean_s", "uplink_mean_s"),
    ("gpu_wait_mean_s", "gpu_wait_mean_s"),
    ("cell_load_ul_max", "cell_load_ul_max"),
    ("device_energy_per_task_j", "device_energy_per_task_j"),
    ("device_power_mean_w", "device_power_mean_w"),
    ("battery_life_mean_h", "battery_life_mean_h"),
    ("tasks_in_flight", "tasks_in_flight"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", help="sweep folder (default results/policies, or results/policies_quick)")
    parser.add_argument("--quick", action="store_true", help="two loads and short runs (smoke test)")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override a scenario field for every run (repeatable)")
    parser.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    parser.add_argument("--force", action="store_true", help="take over a folder made by another sweep")
    args = parser.parse_args(argv)
    out = Path(args.out or ("results/policies_quick" if args.quick else "results/policies"))

    try:
        if args.quick:
            sweep = load_sweep(SWEEP, settings=[*QUICK_SETTINGS, *args.set], values={COUNT: list(QUICK_COUNTS)},
                                replications=QUICK_REPLICATIONS)
        else:
            sweep = load_sweep(SWEEP, settings=args.set)
        base = airan.load_scenario(sweep.scenario_path, list(sweep.set))
        hub_s = hub_time_s(base)  # (needs a topology file with a GPU node that is not the cloud)
        report = run_sweep(sweep, out, workers=args.workers, force=args.force)
    except (airan.ScenarioError, airan.BuildError, SweepError, TopologyError) as exc:
        print(f"policies: error: {exc}", file=sys.stderr)
        return 2
    if report.failed or report.not_done:
        print(f"policies: {report.failed} run(s) failed, {report.not_done} not done: "
              + "; ".join(report.errors), file=sys.stderr)
        return 1

    results, aggregate = read_results(out)
    points = points_table(results, aggregate, base, hub_s, out / "runs")
    write_parquet(out / "points.parquet", points)
    print(format_points(points))

    n_runs = int(aggregate["n"].min())
    with plots.style():
        fig, (ax_latency, ax_miss, ax_battery) = plots.figure(3, width_in=3.3, height_in=3.0)
        plot_latency_p95(points, ax=ax_latency)
        plot_deadline_misses(points, ax=ax_miss)
        plot_battery_life(points, ax=ax_battery)
        rate_hz = float(points["rate_hz"][0])
        ax_latency.set_title(f"(a) task latency, 95th percentile; {rate_hz:g} frames/s per device")
        ax_miss.set_title("(b) deadline-miss ratio")
        ax_battery.set_title(f"(c) battery life ({float(points['battery_wh'][0]):g} Wh)")
        fig.legend(handles=legend_handles(points, n_runs), loc="outside lower center", ncols=6, frameon=False)
        written = plots.save(fig, out / "policies.png")
    print(f"{report.total} runs ({report.ran} run now, {report.skipped} already done; means over {n_runs} "
          f"replication(s) above); sweep folder {out}, points table {out / 'points.parquet'}, "
          f"figure: {', '.join(str(p) for p in written)}")
    return 0


# ----------------------------------------------------------------------------
# The sweep and its points
# ----------------------------------------------------------------------------


def network(scenario: airan.Scenario):
    """The scenario's network with its GPUs placed (the topology file, or the inline sites)."""
    if scenario.topology is None:
        raise airan.BuildError("policies: needs a [topology] (a hub and a cloud GPU node), not [[sites]]")
    if scenario.topology.file is None:
        raise airan.BuildError("policies: needs a topology file (topology.file), not a generator")
    return apply_placement(load_topology(scenario.topology.file), scenario.compute.placement, scenario.compute.gpu)


def hub_time_s(scenario: airan.Scenario) -> float:
    """Time per frame of the nearest GPU node (the hub), spread over its servers, s (NaN if none)."""
    near = [c.gpu for c in network(scenario).compute if c.gpu is not None and c.kind != "cloud"]
    return batch1_time_s(near[0], scenario.workloads[0]) / near[0].servers if near else math.nan


def saturated_runs(results: dict[str, np.ndarray]) -> np.ndarray:
    """Per run: whether its backlog grows (module docstring): tasks in flight > lambda W + k sqrt(lambda W)."""
    window_s = np.asarray(results["sim_time_s"], dtype=float) - np.asarray(results["warmup_s"], dtype=float)
    rate_hz = np.asarray(results["tasks_generated"], dtype=float) / window_s
    little = rate_hz * np.nan_to_num(np.asarray(results["latency_mean_s"], dtype=float))
    excess = np.asarray(results["tasks_in_flight"], dtype=float) - little
    return excess > SATURATION_SIGMAS * np.sqrt(np.maximum(little, 1.0))


def node_shares(folder: Path) -> tuple[float, float, float]:
    """From a run's nodes.parquet: the cloud's share of the GPU services, the hub's and the cloud's utilisation."""
    nodes = read_parquet(folder / "nodes.parquet")
    is_cloud = np.asarray(nodes["kind"]) == "cloud"
    services = np.asarray(nodes["gpu_services"], dtype=float)
    utilisation = np.asarray(nodes["gpu_utilization"], dtype=float)
    share = float(services[is_cloud].sum() / services.sum()) if services.sum() > 0 else math.nan
    hub = float(utilisation[~is_cloud].max()) if (~is_cloud).any() else math.nan
    cloud = float(utilisation[is_cloud].max()) if is_cloud.any() else math.nan
    return share, hub, cloud


def points_table(results, aggregate, base: airan.Scenario, hub_s: float, runs: Path) -> dict[str, np.ndarray]:
    """One row per policy and load: closed forms, saturation, the aggregate's means and half-widths, node shares.

    ``saturated`` is true if any run of the point was (:func:`saturated_runs`);
    ``cloud_share``, ``gpu_utilization_hub`` and ``gpu_utilization_cloud`` are means over
    the point's runs of their nodes.parquet (:func:`node_shares`).
    """
    group, workload = base.devices[0], base.workloads[0]
    rate_hz = float(group.rate_hz)
    local_s = workload.flops / group.compute_flops_per_s
    n_sites = len(network(base).sites)
    md1_miss = 1.0 - md1_wait_cdf(workload.deadline_s - local_s, rate_hz, local_s)
    md1_p95_s = md1_latency_quantile_s(0.95, rate_hz, local_s)
    saturated = saturated_runs(results)
    shares = np.array([node_shares(runs / str(run)) for run in results["run"]]).reshape(-1, 3)
    table: dict[str, list] = {}

    def put(key, value):
        table.setdefault(key, []).append(value)

    for i, point in enumerate(aggregate["point"]):
        mine = np.asarray(results["point"]) == point
        count = int(aggregate[COUNT][i])
        put("policy", str(aggregate[POLICY][i]))
        put("devices", count)
        put("devices_per_site", count / n_sites)
        put("n", int(aggregate["n"][i]))
        put("rate_hz", rate_hz)
        put("offered_hz", count * rate_hz)
        put("hub_load_all_offloaded", count * rate_hz * hub_s)
        put("local_compute_s", local_s)
        put("deadline_s", workload.deadline_s)
        put("battery_wh", group.battery_wh)
        put("md1_local_miss_ratio", md1_miss)
        put("md1_local_p95_s", md1_p95_s)
        put("saturated", bool(saturated[mine].any()))
        put("runs_saturated", int(saturated[mine].sum()))
        for name, column in METRICS:
            put(name, float(aggregate[f"{column}_mean"][i]))
            put(f"{name}_ci95", float(aggregate[f"{column}_ci95"][i]))
        for j, name in enumerate(("cloud_share", "gpu_utilization_hub", "gpu_utilization_cloud")):
            put(name, float(np.mean(shares[mine, j])))
    return {key: np.array(values, dtype=object if key == "policy" else None) for key, values in table.items()}


def md1_wait_cdf(w_s: float, rate_hz: float, service_s: float) -> float:
    """P(W <= w) for the M/D/1 queue: ``(1 - rho) sum_{k<=w/S} (lambda (kS - w))^k / k! e^(-lambda (kS - w))``."""
    rho = rate_hz * service_s
    if rho >= 1.0 or w_s < 0.0:
        return math.nan if rho >= 1.0 else 0.0
    total = 0.0
    for k in range(int(math.floor(w_s / service_s)) + 1):
        x = rate_hz * (k * service_s - w_s)
        total += x**k / math.factorial(k) * math.exp(-x)
    return (1.0 - rho) * total


def md1_latency_quantile_s(q: float, rate_hz: float, service_s: float) -> float:
    """The q-quantile of M/D/1 sojourn time (wait + service), s, by bisection on :func:`md1_wait_cdf`."""
    if rate_hz * service_s >= 1.0:
        return math.nan
    if md1_wait_cdf(0.0, rate_hz, service_s) >= q:
        return service_s
    lo, hi = 0.0, service_s
    while md1_wait_cdf(hi, rate_hz, service_s) < q:
        hi *= 2.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if md1_wait_cdf(mid, rate_hz, service_s) < q else (lo, mid)
    return service_s + hi


def batch1_time_s(gpu, workload) -> float:
    """Time of a lone task on one server, s: the measured row, or overhead + FLOPs / rate."""
    measured = (gpu.batch_latency_s or {}).get(workload.name)
    if measured is not None:
        return float(measured[0])
    return gpu.batch_overhead_s + workload.flops / gpu.flops_per_s


def format_points(points: dict[str, np.ndarray]) -> str:
    """The points table as plain text, one line per policy and load (means over the replications)."""
    header = (f"{'policy':<15} {'N':>3} {'hub rho':>7} {'p50 ms':>7} {'p95 ms':>8} {'±95%':>6} {'miss':>6} "
              f"{'offload':>7} {'cloud':>5} {'UL ms':>7} {'wait ms':>8} {'hub util':>8} {'UL load':>7} "
              f"{'J/task':>6} {'W':>5} {'life h':>6} {'in flight':>9}")
    lines = [header]
    for i in range(points["policy"].shape[0]):
        lines.append(
            f"{points['policy'][i]:<15} {points['devices_per_site'][i]:>3g} "
            f"{points['hub_load_all_offloaded'][i]:>7.2f} "
            f"{points['latency_p50_s'][i] * 1e3:>7.1f} {points['latency_p95_s'][i] * 1e3:>8.1f} "
            f"{points['latency_p95_s_ci95'][i] * 1e3:>6.1f} "
            f"{points['deadline_miss_ratio'][i]:>6.3f} {points['offload_ratio'][i]:>7.3f} "
            f"{points['cloud_share'][i]:>5.2f} {points['uplink_mean_s'][i] * 1e3:>7.2f} "
            f"{points['gpu_wait_mean_s'][i] * 1e3:>8.2f} {points['gpu_utilization_hub'][i]:>8.3f} "
            f"{points['cell_load_ul_max'][i]:>7.2f} {points['device_energy_per_task_j'][i]:>6.3f} "
            f"{points['device_power_mean_w'][i]:>5.2f} {points['battery_life_mean_h'][i]:>6.2f} "
            f"{points['tasks_in_flight'][i]:>9,.0f}"
            + (f"  saturated ({points['runs_saturated'][i]} of {points['n'][i]})" if points["saturated"][i] else ""))
    return "\n".join(lines)


def _by_policy(points):
    """(policy, rows sorted by load, loads, saturated) per policy, in table order."""
    policies = np.asarray(points["policy"])
    loads = np.asarray(points["devices_per_site"], dtype=float)
    saturated = np.asarray(points["saturated"], dtype=bool)
    for policy in dict.fromkeys(policies):
        rows = np.flatnonzero(policies == policy)
        rows = rows[np.argsort(loads[rows])]
        yield policy, rows, loads[rows], saturated[rows]


def _plot_lines(ax, points, key: str, *, scale: float = 1.0, floor: float = 0.0, saturated_at=None) -> None:
    """One line per policy through its stable points, with its 95 % band; saturated points hollow.

    Draws column ``key`` times ``scale``, the band ``key_ci95`` around it (cut at
    ``floor``, for a log scale) where the table has it; saturated points go to
    ``saturated_at`` if given (the top edge), else at their value.
    """
    values = np.asarray(points[key], dtype=float) * scale
    half = np.asarray(points.get(f"{key}_ci95", np.zeros(values.shape)), dtype=float) * scale
    drawn = []  # bands already drawn: a policy identical to another here (a twin) adds none
    for policy, rows, x, sat in _by_policy(points):
        colour, marker, line = STYLES.get(policy, ("0.3", "d", "-"))
        y, h = values[rows], np.nan_to_num(half[rows])
        ax.plot(x[~sat], y[~sat], linestyle=line, marker=marker, markersize=4, color=colour)
        band = (x[~sat], y[~sat], h[~sat])
        if np.any(band[2] > 0) and not any(all(np.array_equal(a, b) for a, b in zip(band, other, strict=True))
                                           for other in drawn if other[0].shape == band[0].shape):
            ax.fill_between(band[0], np.maximum(band[1] - band[2], floor), band[1] + band[2], color=colour,
                            alpha=0.12, linewidth=0)
            drawn.append(band)
        if sat.any():
            y_sat = y[sat] if saturated_at is None else np.full(int(sat.sum()), saturated_at)
            ax.plot(x[sat], y_sat, linestyle="none", marker=marker, markersize=5, markerfacecolor="none",
                    color=colour, clip_on=False)


def plot_latency_p95(points, *, ax=None):
    """95th-percentile task latency against glasses per site, one line per policy (log scale).

    ``points`` has one row per policy and load (``policy``, ``devices_per_site``,
    ``latency_p95_s`` and its ``_ci95``, ``saturated``, ``deadline_s``,
    ``md1_local_p95_s``); a saturated point's latency only measures how long its runs
    lasted, so it is drawn hollow on the top edge. Grey dashed: the deadline; black
    dotted: local execution's M/D/1 p95.
    """
    ax = ax if ax is not None else plots.figure()[1][0]
    p95_ms = np.asarray(points["latency_p95_s"], dtype=float) * 1e3
    saturated = np.asarray(points["saturated"], dtype=bool)
    stable = p95_ms[~saturated & np.isfinite(p95_ms)]
    top_ms = max(float(stable.max()) * 2.5, 100.0) if stable.size else 100.0
    bottom_ms = float(stable.min()) / 1.5 if stable.size else 1.0
    _plot_lines(ax, points, "latency_p95_s", scale=1e3, floor=bottom_ms, saturated_at=top_ms)
    deadline_ms = float(points["deadline_s"][0]) * 1e3
    ax.axhline(deadline_ms, color="0.5", linestyle="--", linewidth=1.0)
    ax.annotate(f"deadline {deadline_ms:.1f} ms", xy=(0.02, deadline_ms), xycoords=("axes fraction", "data"),
                xytext=(0, 2), textcoords="offset points", va="bottom", fontsize=7, color="0.35")
    ax.axhline(float(points["md1_local_p95_s"][0]) * 1e3, color="black", linestyle=":", linewidth=1.2)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(mpl.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(mpl.ticker.NullFormatter())
    ax.set_ylim(bottom_ms, top_ms)
    ax.set_ylabel("task latency, p95 [ms]")
    _load_axes(ax, points)
    return ax


def plot_deadline_misses(points, *, ax=None):
    """Deadline-miss ratio against glasses per site, one line per policy (symmetric log: linear below 0.001).

    Black dotted: local execution's M/D/1 miss ratio; saturated points hollow.
    """
    ax = ax if ax is not None else plots.figure()[1][0]
    _plot_lines(ax, points, "deadline_miss_ratio")
    ax.axhline(float(points["md1_local_miss_ratio"][0]), color="black", linestyle=":", linewidth=1.2)
    ax.set_yscale("symlog", linthresh=1e-3, linscale=0.5)
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([0.0, 1e-3, 1e-2, 1e-1, 1.0], ["0", "0.001", "0.01", "0.1", "1"])
    ax.yaxis.set_minor_locator(mpl.ticker.NullLocator())
    ax.set_ylabel("deadline-miss ratio")
    _load_axes(ax, points)
    return ax


def plot_battery_life(points, *, ax=None):
    """Mean projected battery life against glasses per site, one line per policy; saturated points hollow."""
    ax = ax if ax is not None else plots.figure()[1][0]
    life_h = np.asarray(points["battery_life_mean_h"], dtype=float)
    _plot_lines(ax, points, "battery_life_mean_h")
    ax.set_ylim(0.0, float(np.nanmax(life_h)) * 1.1)
    ax.set_ylabel("battery life, mean over devices [h]")
    _load_axes(ax, points)
    return ax


def _load_axes(ax, points) -> None:
    """Bottom axis: glasses per site; top axis: the hub GPU's utilisation if every frame went to it."""
    per_site = np.asarray(points["devices_per_site"], dtype=float)
    ax.set_xlim(0.0, float(per_site.max()) * 1.04)
    ax.set_xlabel("devices per site, N")
    rho_per_device = float(points["hub_load_all_offloaded"][0]) / float(per_site[0])
    if np.isfinite(rho_per_device) and rho_per_device > 0.0:
        top = ax.secondary_xaxis("top", functions=(lambda n: n * rho_per_device, lambda r: r / rho_per_device))
        top.set_xlabel("hub GPU load if every frame went to it", fontsize=7)
        top.tick_params(labelsize=7)


def legend_handles(points, n_runs: int = 1) -> list:
    """The figure's shared legend: one entry per policy, then the reference lines and the saturated marker."""
    twins = {"min_energy": " (= local)", "battery": " (= min_latency)"}
    # in legend order (columns of two: each twin under the policy it equals here)
    order = ["local", "min_energy", "min_latency", "battery", "deadline", "offload", "least_loaded", "cloud_fallback"]
    groups = sorted(_by_policy(points), key=lambda g: order.index(g[0]) if g[0] in order else len(order))
    handles = []
    for policy, rows, _, _ in groups:
        colour, marker, line = STYLES.get(policy, ("0.3", "d", "-"))
        # a twin's label says so only when the two runs are identical
        twin = twins.get(policy, "")
        if twin:
            other = twin.strip(" ()=")
            mine = np.asarray(points["latency_p95_s"], dtype=float)[rows]
            theirs = np.asarray(points["latency_p95_s"], dtype=float)[np.asarray(points["policy"]) == other]
            if theirs.size != mine.size or not np.array_equal(np.sort(mine), np.sort(theirs)):
                twin = ""
        handles.append(mpl.lines.Line2D([], [], color=colour, marker=marker, linestyle=line, markersize=4,
                                        label=policy + twin))
    return handles + [
        mpl.lines.Line2D([], [], color="black", linestyle=":", label="local, M/D/1 closed form"),
        *([Patch(color="0.4", alpha=0.25, linewidth=0, label=f"95 % CI of the mean, {n_runs} runs")]
          if n_runs > 1 else []),
        mpl.lines.Line2D([], [], color="0.4", linestyle="none", marker="o", markerfacecolor="none", markersize=5,
                         label="saturated (backlog grows;\n(a): on the top edge)"),
    ]


if __name__ == "__main__":
    sys.exit(main())
