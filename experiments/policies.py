"""Offloading policies study: eight policies of ``[policy]`` compared as the load grows.

Reproduce the study (192 runs of one simulated minute, about two minutes once the engine is compiled):

    python experiments/policies.py

Options: ``--out DIR`` (default results/policies), ``--quick`` (two loads, one seed, 10
simulated seconds: the smoke test), ``--set PATH=VALUE`` (repeatable, applied to every run
before the study's own policy and device-count settings), ``--scenario FILE``.

Runs experiments/policies.toml: AR glasses on hex7 (7 UMa sites x 3 sectors, TR 38.901
radio in n78 with wrap-around) ask for YOLOv8n detections (8.7 GFLOP, a 123 kB frame up,
a 33.3 ms deadline), Poisson at lambda = 5 per second each. Each frame runs on the glasses
(t = 29.0 ms on their SoC) or crosses the uplink to one of two GPU nodes
(experiments/policies_hex7.toml): an L4 at the aggregation hub all seven sites are wired
to (0.98 ms a frame), or an H100 in the regional cloud 5 ms further each way (0.91 ms).
Swept: every policy of ``POLICIES`` (``policy.name``) at every load of ``PER_SITE``,
glasses per site N (``devices[0].count`` = 7 N), each with ``REPLICATIONS`` seeds. What
each policy does (airan.scenario ``Policy``; the estimates are airan.engine ``_choose``'s):

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

A run is saturated when its backlog grows: the tasks in flight at the end exceed those
halfway through by more than ``SATURATION_SIGMAS`` times sqrt(2 x the number halfway)
(a stable backlog stays near lambda x latency, and about Poisson). That happens when the
hub GPU or some cell's uplink gets more work than it can do; the latency then only
measures how long the run lasted. Every policy and load runs with the same seeds, so at
a seed all policies see the same glasses, positions, radio links and frame arrivals
(common random numbers): differences between policies at a load are theirs. Each load
draws its own positions (the drop depends on the count), which the mean over the seeds
smooths; what is left shows, e.g., in ``offload``'s misses at N = 20 and 25.

Draws OUT/policies.png (and .pdf), one line per policy against glasses per site, each
point the mean over the seeds (a point is saturated if any of its runs was: hollow, and
the line stops before it):

(a) task latency, 95th percentile (log scale), with the deadline and local execution's
    M/D/1 p95; saturated points on the top edge;
(b) deadline-miss ratio (late + dropped over completed + dropped; symmetric log scale,
    linear below 0.001), with local execution's M/D/1 miss ratio;
(c) battery life of the 1.2 Wh glasses, mean over devices, projected from their mean
    power over the run (``battery_life_mean_h``).

Each run's results go to OUT/<policy>/<N>_per_site/seed_<seed>/ as soon as it finishes,
the sweep as a tidy table (one row per run: policy, load, seed; latency, misses, offloaded
fraction, the cloud's share of GPU work, energy per task, power, battery life, backlog,
saturation) to OUT/sweep.parquet, and the means over the seeds are printed.
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
from airan.topology import TopologyError, apply_placement, load_topology

HERE = Path(__file__).resolve().parent

#: The policies compared, in airan's order (airan.scenario.POLICY_NAMES).
POLICIES = ("local", "offload", "min_latency", "min_energy", "deadline", "least_loaded", "battery",
            "cloud_fallback")
#: Glasses per site: from a lightly used network to past the uplink's saturation (N ~ 50); the
#: hub GPU saturates under ``offload`` at N = 29.
PER_SITE = (5, 10, 20, 25, 30, 40, 50, 60)
#: Runs per (policy, load), with seeds seed, seed + 1, ...: every policy sees the same ones, and
#: the means over them smooth out how a load's devices happened to be dropped (each load and seed
#: draws its own positions and radio links).
REPLICATIONS = 3
#: --quick: a light and a saturating load, one seed, 10 simulated seconds.
QUICK_PER_SITE = (2, 30)
QUICK_REPLICATIONS = 1
QUICK_SETTINGS = ["simulation.duration_s=10.0", "simulation.warmup_s=2.0"]

#: A run is saturated when its tasks in flight grow over its second half by more than this many
#: standard deviations of a stable backlog's change, taken as sqrt(2 x the backlog halfway): a
#: stable count in flight is about Poisson (many short, independent tasks), so two readings far
#: apart differ by about that much.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default=str(HERE / "policies.toml"))
    parser.add_argument("--out", default="results/policies")
    parser.add_argument("--quick", action="store_true", help="two loads and a short run (smoke test)")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override a scenario field for every run (repeatable)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    loads = QUICK_PER_SITE if args.quick else PER_SITE
    settings = [*QUICK_SETTINGS, *args.set] if args.quick else list(args.set)

    replications = QUICK_REPLICATIONS if args.quick else REPLICATIONS
    name = Path(args.scenario).name

    rows = []  # tidy sweep table: one dict per run
    started = time.perf_counter()
    try:
        base = airan.load_scenario(args.scenario, settings)  # a bad file or --set fails here, once
        n_sites = len(network(base).sites)
        for policy in POLICIES:
            for per_site in loads:
                scenario = airan.load_scenario(args.scenario, [
                    *settings, f"policy.name={policy}", f"devices[0].count={per_site * n_sites}"])
                for replication in range(replications):
                    seed = scenario.simulation.seed + replication  # the same for every policy and load
                    try:
                        result, in_flight_half = run_with_backlog(scenario, seed)
                    except airan.BuildError as exc:
                        raise airan.BuildError(f"{name}: {exc}") from None
                    result.write(out / policy / f"{per_site}_per_site" / f"seed_{seed}")  # as soon as it is done
                    rows.append(sweep_row(policy, per_site, replication, scenario, result, in_flight_half))
    except (airan.ScenarioError, airan.BuildError, TopologyError) as exc:
        print(f"policies: error: {exc}", file=sys.stderr)
        return 2
    elapsed_s = time.perf_counter() - started

    sweep = {key: np.array([row[key] for row in rows]) for key in rows[0]}
    write_parquet(out / "sweep.parquet", sweep)
    means = mean_over_replications(sweep)
    print(format_sweep(means))

    with plots.style():
        fig, (ax_latency, ax_miss, ax_battery) = plots.figure(3, width_in=3.3, height_in=3.0)
        plot_latency_p95(means, ax=ax_latency)
        plot_deadline_misses(means, ax=ax_miss)
        plot_battery_life(means, ax=ax_battery)
        rate_hz = float(means["rate_hz"][0])
        ax_latency.set_title(f"(a) task latency, 95th percentile; {rate_hz:g} frames/s per device")
        ax_miss.set_title("(b) deadline-miss ratio")
        ax_battery.set_title(f"(c) battery life ({float(means['battery_wh'][0]):g} Wh)")
        fig.legend(handles=legend_handles(means), loc="outside lower center", ncols=5, frameon=False)
        written = plots.save(fig, out / "policies.png")
    print(f"{len(rows)} runs in {elapsed_s:.1f} s (means over {replications} seed(s) above); results in "
          f"{out}/<policy>/<N>_per_site/seed_<seed>/, sweep table {out / 'sweep.parquet'}, "
          f"figure: {', '.join(str(p) for p in written)}")
    return 0


def network(scenario: airan.Scenario):
    """The scenario's network with its GPUs placed (the topology file, or the inline sites)."""
    if scenario.topology is None:
        raise airan.BuildError("policies: needs a [topology] (a hub and a cloud GPU node), not [[sites]]")
    if scenario.topology.file is None:
        raise airan.BuildError("policies: needs a topology file (topology.file), not a generator")
    return apply_placement(load_topology(scenario.topology.file), scenario.compute.placement, scenario.compute.gpu)


def run_with_backlog(scenario: airan.Scenario, seed: int) -> tuple[airan.Result, int]:
    """Run ``scenario`` with ``seed``; the result and its backlog halfway, tasks.

    The backlog is ``tasks_in_flight`` (tasks generated after the warm-up and not yet
    ended), read halfway between the warm-up and the end (the result has it at the end).
    Stepping does not change the run (airan.Simulation).
    """
    sim = airan.Simulation(scenario, seed)
    warmup_s, duration_s = scenario.simulation.warmup_s, scenario.simulation.duration_s
    sim.advance(0.5 * (warmup_s + duration_s))
    in_flight_half = int(sim.result().summary["tasks_in_flight"])
    sim.advance(duration_s)
    return sim.result(), in_flight_half


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


def sweep_row(policy: str, per_site: int, replication: int, scenario: airan.Scenario, result: airan.Result,
              in_flight_half: int) -> dict:
    """One tidy row of the sweep: the parameters, the closed forms, then the metrics."""
    s, nodes = result.summary, result.nodes
    group, workload = scenario.devices[0], scenario.workloads[0]
    rate_hz = float(group.rate_hz)
    offered_hz = scenario.n_devices * rate_hz
    local_s = workload.flops / group.compute_flops_per_s
    # the nearest GPU node (the hub): its utilisation if every frame went to it
    topo = network(scenario)
    near = [c.gpu for c in topo.compute if c.gpu is not None and c.kind != "cloud"]
    hub_s = batch1_time_s(near[0], workload) / near[0].servers if near else math.nan
    is_cloud = np.asarray(nodes["kind"]) == "cloud"
    services = np.asarray(nodes["gpu_services"], dtype=float)
    utilisation = np.asarray(nodes["gpu_utilization"], dtype=float)
    wl = s["workloads"][workload.name]
    return {
        "policy": policy,
        "devices_per_site": per_site,
        "replication": replication,
        "seed": s["seed"],
        "devices": s["devices"],
        "rate_hz": rate_hz,
        "offered_hz": offered_hz,
        "hub_load_all_offloaded": offered_hz * hub_s,
        "local_compute_s": local_s,
        "deadline_s": workload.deadline_s,
        "battery_wh": group.battery_wh,
        "md1_local_miss_ratio": 1.0 - md1_wait_cdf(workload.deadline_s - local_s, rate_hz, local_s),
        "md1_local_p95_s": md1_latency_quantile_s(0.95, rate_hz, local_s),
        "latency_mean_s": _nan(wl["latency_mean_s"]),
        "latency_p50_s": _nan(wl["latency_p50_s"]),
        "latency_p95_s": _nan(wl["latency_p95_s"]),
        "latency_p99_s": _nan(wl["latency_p99_s"]),
        "deadline_miss_ratio": _nan(wl["deadline_miss_ratio"]),
        "offload_ratio": _nan(s["offload_ratio"]),
        "cloud_share": float(services[is_cloud].sum() / services.sum()) if services.sum() > 0 else math.nan,
        "local_compute_mean_s": _nan(s["local_compute_mean_s"]),
        "uplink_mean_s": _nan(s["uplink_mean_s"]),
        "backhaul_mean_s": _nan(s["backhaul_mean_s"]),
        "gpu_wait_mean_s": _nan(s["gpu_wait_mean_s"]),
        "gpu_service_mean_s": _nan(s["gpu_service_mean_s"]),
        "downlink_mean_s": _nan(s["downlink_mean_s"]),
        "gpu_utilization_hub": float(utilisation[~is_cloud].max()) if (~is_cloud).any() else math.nan,
        "gpu_utilization_cloud": float(utilisation[is_cloud].max()) if is_cloud.any() else math.nan,
        "cell_load_ul_mean": _nan(s["cell_load_ul_mean"]),
        "cell_load_ul_max": _nan(s["cell_load_ul_max"]),
        "device_energy_per_task_j": _nan(s["device_energy_per_task_j"]),
        "device_energy_active_per_task_j": _nan(s["device_energy_active_per_task_j"]),
        "device_energy_tail_j": _nan(s["device_energy_tail_j"]),
        "device_energy_j": _nan(s["device_energy_j"]),
        "device_power_mean_w": _nan(s["device_power_mean_w"]),
        "battery_life_mean_h": _nan(s["battery_life_mean_h"]),
        "battery_life_p5_h": _nan(s["battery_life_p5_h"]),
        "devices_depleted": s["devices_depleted"],
        "devices_out_of_coverage": s["devices_out_of_coverage"],
        "tasks_generated": s["tasks_generated"],
        "tasks_completed": s["tasks_completed"],
        "tasks_local": s["tasks_local"],
        "tasks_offloaded": s["tasks_offloaded"],
        "tasks_dropped": s["tasks_dropped"],
        "tasks_in_flight": s["tasks_in_flight"],
        "tasks_in_flight_half": in_flight_half,
        "saturated": bool(s["tasks_in_flight"] - in_flight_half
                          > SATURATION_SIGMAS * math.sqrt(2.0 * max(in_flight_half, 1))),
        "wall_time_s": s["wall_time_s"],
    }


def _nan(value) -> float:
    return math.nan if value is None else float(value)


def mean_over_replications(sweep: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One row per (policy, load): numbers averaged over the replications, ``saturated`` if any was.

    Text columns keep their (common) value; ``replication`` and ``seed`` become the number
    of replications and the first seed. A mean of per-run 95th percentiles is not the 95th
    percentile of the pooled tasks, but with equal runs it is close, and it keeps each
    run's own number in the table.
    """
    keys = list(zip(sweep["policy"], sweep["devices_per_site"], strict=True))
    groups = list(dict.fromkeys(keys))
    index = [np.flatnonzero([k == g for k in keys]) for g in groups]
    out = {}
    for column, values in sweep.items():
        values = np.asarray(values)
        if column == "replication":
            out[column] = np.array([rows.size for rows in index])
        elif column == "saturated":
            out[column] = np.array([bool(values[rows].any()) for rows in index])
        elif values.dtype.kind in "fiu" and column not in ("devices_per_site", "seed"):
            out[column] = np.array([np.mean(values[rows].astype(float)) for rows in index])
        else:
            out[column] = np.array([values[rows[0]] for rows in index])
    return out


def format_sweep(sweep: dict[str, np.ndarray]) -> str:
    """The sweep as a compact plain-text table, one line per run."""
    header = (f"{'policy':<15} {'N':>3} {'hub rho':>7} {'p50 ms':>7} {'p95 ms':>8} {'miss':>6} {'offload':>7} "
              f"{'cloud':>5} {'UL ms':>7} {'wait ms':>8} {'hub util':>8} {'UL load':>7} {'J/task':>6} "
              f"{'W':>5} {'life h':>6} {'in flight':>9}")
    lines = [header]
    for i in range(sweep["policy"].shape[0]):
        lines.append(
            f"{sweep['policy'][i]:<15} {sweep['devices_per_site'][i]:>3d} {sweep['hub_load_all_offloaded'][i]:>7.2f} "
            f"{sweep['latency_p50_s'][i] * 1e3:>7.1f} {sweep['latency_p95_s'][i] * 1e3:>8.1f} "
            f"{sweep['deadline_miss_ratio'][i]:>6.3f} {sweep['offload_ratio'][i]:>7.3f} "
            f"{sweep['cloud_share'][i]:>5.2f} {sweep['uplink_mean_s'][i] * 1e3:>7.2f} "
            f"{sweep['gpu_wait_mean_s'][i] * 1e3:>8.2f} {sweep['gpu_utilization_hub'][i]:>8.3f} "
            f"{sweep['cell_load_ul_max'][i]:>7.2f} {sweep['device_energy_per_task_j'][i]:>6.3f} "
            f"{sweep['device_power_mean_w'][i]:>5.2f} {sweep['battery_life_mean_h'][i]:>6.2f} "
            f"{sweep['tasks_in_flight'][i]:>9,.0f}"
            + ("  saturated" if sweep["saturated"][i] else ""))
    return "\n".join(lines)


def _by_policy(sweep):
    """(policy, rows sorted by load, loads, saturated) per policy, in table order."""
    policies = np.asarray(sweep["policy"])
    loads = np.asarray(sweep["devices_per_site"], dtype=float)
    saturated = np.asarray(sweep["saturated"], dtype=bool)
    for policy in dict.fromkeys(policies):
        rows = np.flatnonzero(policies == policy)
        rows = rows[np.argsort(loads[rows])]
        yield policy, rows, loads[rows], saturated[rows]


def _plot_lines(ax, sweep, values: np.ndarray, *, saturated_at=None) -> None:
    """One line per policy through its stable points; saturated points hollow (at ``saturated_at`` if given)."""
    for policy, rows, x, sat in _by_policy(sweep):
        colour, marker, line = STYLES.get(policy, ("0.3", "d", "-"))
        y = values[rows]
        ax.plot(x[~sat], y[~sat], linestyle=line, marker=marker, markersize=4, color=colour)
        if sat.any():
            y_sat = y[sat] if saturated_at is None else np.full(int(sat.sum()), saturated_at)
            ax.plot(x[sat], y_sat, linestyle="none", marker=marker, markersize=5, markerfacecolor="none",
                    color=colour, clip_on=False)


def plot_latency_p95(sweep, *, ax=None):
    """95th-percentile task latency against glasses per site, one line per policy (log scale).

    ``sweep`` has one row per run (``policy``, ``devices_per_site``, ``latency_p95_s``,
    ``saturated``, ``deadline_s``, ``md1_local_p95_s``); a saturated run's latency only
    measures how long it lasted, so it is drawn hollow on the top edge. Grey dashed: the
    deadline; black dotted: local execution's M/D/1 p95.
    """
    ax = ax if ax is not None else plots.figure()[1][0]
    p95_ms = np.asarray(sweep["latency_p95_s"], dtype=float) * 1e3
    saturated = np.asarray(sweep["saturated"], dtype=bool)
    stable = p95_ms[~saturated & np.isfinite(p95_ms)]
    top_ms = max(float(stable.max()) * 2.5, 100.0) if stable.size else 100.0
    bottom_ms = float(stable.min()) / 1.5 if stable.size else 1.0
    _plot_lines(ax, sweep, p95_ms, saturated_at=top_ms)
    deadline_ms = float(sweep["deadline_s"][0]) * 1e3
    ax.axhline(deadline_ms, color="0.5", linestyle="--", linewidth=1.0)
    ax.annotate(f"deadline {deadline_ms:.1f} ms", xy=(0.02, deadline_ms), xycoords=("axes fraction", "data"),
                xytext=(0, 2), textcoords="offset points", va="bottom", fontsize=7, color="0.35")
    ax.axhline(float(sweep["md1_local_p95_s"][0]) * 1e3, color="black", linestyle=":", linewidth=1.2)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(mpl.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(mpl.ticker.NullFormatter())
    ax.set_ylim(bottom_ms, top_ms)
    ax.set_ylabel("task latency, p95 [ms]")
    _load_axes(ax, sweep)
    return ax


def plot_deadline_misses(sweep, *, ax=None):
    """Deadline-miss ratio against glasses per site, one line per policy (symmetric log: linear below 0.001).

    Black dotted: local execution's M/D/1 miss ratio; saturated runs hollow.
    """
    ax = ax if ax is not None else plots.figure()[1][0]
    _plot_lines(ax, sweep, np.asarray(sweep["deadline_miss_ratio"], dtype=float))
    ax.axhline(float(sweep["md1_local_miss_ratio"][0]), color="black", linestyle=":", linewidth=1.2)
    ax.set_yscale("symlog", linthresh=1e-3, linscale=0.5)
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([0.0, 1e-3, 1e-2, 1e-1, 1.0], ["0", "0.001", "0.01", "0.1", "1"])
    ax.yaxis.set_minor_locator(mpl.ticker.NullLocator())
    ax.set_ylabel("deadline-miss ratio")
    _load_axes(ax, sweep)
    return ax


def plot_battery_life(sweep, *, ax=None):
    """Mean projected battery life against glasses per site, one line per policy; saturated runs hollow."""
    ax = ax if ax is not None else plots.figure()[1][0]
    life_h = np.asarray(sweep["battery_life_mean_h"], dtype=float)
    _plot_lines(ax, sweep, life_h)
    ax.set_ylim(0.0, float(np.nanmax(life_h)) * 1.1)
    ax.set_ylabel("battery life, mean over devices [h]")
    _load_axes(ax, sweep)
    return ax


def _load_axes(ax, sweep) -> None:
    """Bottom axis: glasses per site; top axis: the hub GPU's utilisation if every frame went to it."""
    per_site = np.asarray(sweep["devices_per_site"], dtype=float)
    ax.set_xlim(0.0, float(per_site.max()) * 1.04)
    ax.set_xlabel("devices per site, N")
    rho_per_device = float(sweep["hub_load_all_offloaded"][0]) / float(per_site[0])
    if np.isfinite(rho_per_device) and rho_per_device > 0.0:
        top = ax.secondary_xaxis("top", functions=(lambda n: n * rho_per_device, lambda r: r / rho_per_device))
        top.set_xlabel("hub GPU load if every frame went to it", fontsize=7)
        top.tick_params(labelsize=7)


def legend_handles(sweep) -> list:
    """The figure's shared legend: one entry per policy, then the reference lines and the saturated marker."""
    twins = {"min_energy": " (= local)", "battery": " (= min_latency)"}
    # in legend order (columns of two: each twin under the policy it equals here)
    order = ["local", "min_energy", "min_latency", "battery", "deadline", "offload", "least_loaded", "cloud_fallback"]
    groups = sorted(_by_policy(sweep), key=lambda g: order.index(g[0]) if g[0] in order else len(order))
    handles = []
    for policy, rows, _, _ in groups:
        colour, marker, line = STYLES.get(policy, ("0.3", "d", "-"))
        # a twin's label says so only when the two runs are identical
        twin = twins.get(policy, "")
        if twin:
            other = twin.strip(" ()=")
            mine = np.asarray(sweep["latency_p95_s"], dtype=float)[rows]
            theirs = np.asarray(sweep["latency_p95_s"], dtype=float)[np.asarray(sweep["policy"]) == other]
            if theirs.size != mine.size or not np.array_equal(np.sort(mine), np.sort(theirs)):
                twin = ""
        handles.append(mpl.lines.Line2D([], [], color=colour, marker=marker, linestyle=line, markersize=4,
                                        label=policy + twin))
    return handles + [
        mpl.lines.Line2D([], [], color="black", linestyle=":", label="local, M/D/1 closed form"),
        mpl.lines.Line2D([], [], color="0.4", linestyle="none", marker="o", markerfacecolor="none", markersize=5,
                         label="saturated: backlog grows ((a): on the top edge)"),
    ]


if __name__ == "__main__":
    sys.exit(main())
