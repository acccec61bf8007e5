"""RAN sharing study: AI latency on a site GPU that also runs the baseband, against the cell load.

Reproduce the study (24 runs of 30 simulated minutes, about 25 s once the engine is compiled):

    python experiments/ran_sharing.py

Options: ``--out DIR`` (default results/ran_sharing), ``--quick`` (three cell loads, 20
simulated seconds: the smoke test), ``--set PATH=VALUE`` (repeatable, applied to every run
before the study's own settings), ``--scenario FILE``.

Runs experiments/ran_sharing.toml: one site whose GPU (an NVIDIA L4; a lone YOLOv8n frame
takes t1 = 0.98 ms, a batch of b takes 0.9 ms + b x 0.083 ms) runs its cells' baseband
and serves detection frames, 508 per second (Poisson), over links so fast that the
latency is the GPU's. The baseband needs ``ran_share`` s = 0.8 of the GPU at full cell
load. Four GPU configurations (``CONFIGS``), swept over the cell load L
(``sites[0].gpu.ran_load``, ``LOADS``):

- ``strict``: the baseband takes x = s L of the GPU's time first (``ran_priority =
  "strict"``), inference gets the rest, one frame at a time;
- ``reserved``: the baseband keeps a slice x = s, its need at full load, whatever the
  load (``ran_priority = "reserved"``); so a reserved run does not depend on L and is run
  once, and drawn flat across the sweep;
- ``strict_batch8`` and ``reserved_batch8``: the same with dynamic batching, up to 8
  frames, a frame waiting at most 1 ms for its batch to fill (``batch_max``,
  ``batch_timeout_s``).

The model is the fluid one of airan.build ``_gpu_serving``: inference on a GPU whose
baseband takes x runs 1 / (1 - x) times slower. Unbatched, the GPU is then an M/D/1 queue
with service S = t1 / (1 - x) and utilisation rho = lambda S, whose mean latency is
(Pollaczek-Khinchine)

    S + W,   W = rho S / (2 (1 - rho)),

drawn dotted for the strict unbatched case; the table has it for every unbatched run
(``md1_latency_mean_s``), next to the simulated mean and its 95 % confidence half-width
from ``N_BATCHES`` batch means over the run (``latency_mean_ci95_s``). A configuration
is saturated where its offered AI load on the share left to it, at the largest batch,
``ai_load = lambda t(b_max) / b_max / (1 - x)``, reaches 1: no batching then keeps up,
the backlog grows with the run and its latency means nothing; the sweep of a strict
configuration stops at its first saturated load, drawn hollow. The seed is the same in
every run, so all points see the same frame arrivals (common random numbers).

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

Draws OUT/ran_sharing.png (and .pdf):

(a) AI latency (mean, solid; 95th percentile, dashed) against the cell load, one colour
    per configuration, the M/D/1 mean dotted; saturated points hollow on the top edge
    (their latency only measures how long the run lasted), the line stopped before them;
(b) the GPU's time shares against the cell load: the baseband's (``gpu_share_ran_mean``;
    black: strict solid, reserved dashed), inference's (one colour per configuration),
    and what the baseband leaves for inference, 1 - x (grey dotted): a configuration
    saturates where its inference share meets that line. Inference's share is
    ``gpu_share_ai_work``, the GPU time of the work done (batches x ``batch_overhead_s``
    + frames x FLOPs / ``flops_per_s``, over the run); airan's time-averaged
    ``gpu_share_ai_mean`` (also in the table) is checked against it.

Each run's results go to OUT/<config>/load_<L>/ (reserved: OUT/<config>/load_any/) as
soon as it finishes, the sweep as a tidy table (one row per run) to OUT/sweep.parquet,
and the sweep is printed.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import tomllib
from pathlib import Path

import matplotlib as mpl
import numpy as np

import airan
from airan import plots
from airan.results import write_parquet

HERE = Path(__file__).resolve().parent

#: Cell loads of the sweep (the baseband's demand is ran_share x this), finer around the
#: strict unbatched saturation at L = (1 - lambda t1) / ran_share = 0.63.
LOADS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9, 1.0)
#: --quick: three loads, 20 simulated seconds.
QUICK_LOADS = (0.0, 0.5, 0.7)
QUICK_SETTINGS = ["simulation.duration_s=20.0", "simulation.warmup_s=1.0"]

BATCH_MAX = 8
BATCH_TIMEOUT_S = 1e-3

#: Configuration -> (ran_priority, batch_max, batch_timeout_s).
CONFIGS = {
    "strict": ("strict", 1, 0.0),
    "reserved": ("reserved", 1, 0.0),
    "strict_batch8": ("strict", BATCH_MAX, BATCH_TIMEOUT_S),
    "reserved_batch8": ("reserved", BATCH_MAX, BATCH_TIMEOUT_S),
}
COLOURS = {"strict": "#4C72B0", "reserved": "#DD8452", "strict_batch8": "#55A868", "reserved_batch8": "#C44E52"}
MARKERS = {1: "o", BATCH_MAX: "s"}

#: Batch means for the confidence interval of the mean latency, and Student's t for
#: N_BATCHES - 1 = 19 degrees of freedom at 95 % (two-sided).
N_BATCHES = 20
T_95 = 2.093


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default=str(HERE / "ran_sharing.toml"))
    parser.add_argument("--out", default="results/ran_sharing")
    parser.add_argument("--quick", action="store_true", help="three loads and a short run (smoke test)")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override a scenario field for every run (repeatable)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    loads = QUICK_LOADS if args.quick else LOADS
    settings = [*QUICK_SETTINGS, *args.set] if args.quick else list(args.set)
    name = Path(args.scenario).name

    rows = []  # tidy sweep table: one dict per run
    started = time.perf_counter()
    try:
        airan.load_scenario(args.scenario, settings)  # a bad file or --set fails here, once
        raw = tomllib.loads(Path(args.scenario).read_text(encoding="utf-8"))
        for config in CONFIGS:
            for load in (loads if CONFIGS[config][0] == "strict" else (None,)):
                scenario = point_scenario(raw, settings, config, load, source=name)
                try:
                    result, ci95_s = run_with_batch_means(scenario)
                except airan.BuildError as exc:
                    raise airan.BuildError(f"{name}: {exc}") from None
                result.write(out / config / ("load_any" if load is None else f"load_{load:.2f}"))
                rows.append(sweep_row(config, load, scenario, result, ci95_s))
                if rows[-1]["saturated"]:
                    break  # higher loads only grow the backlog, and the run time
    except (airan.ScenarioError, airan.BuildError) as exc:
        print(f"ran_sharing: error: {exc}", file=sys.stderr)
        return 2
    elapsed_s = time.perf_counter() - started

    sweep = {key: np.array([row[key] for row in rows]) for key in rows[0]}
    write_parquet(out / "sweep.parquet", sweep)
    print(format_sweep(sweep))

    strict = next(row for row in rows if row["config"] == "strict")
    closed = md1_curve(np.linspace(0.0, max(loads), 400), rate_hz=strict["ai_rate_hz"],
                       t1_s=strict["t1_s"], ran_share=strict["ran_share"],
                       radio_s=strict["uplink_mean_s"] + strict["downlink_mean_s"])
    with plots.style():
        fig, (ax_latency, ax_shares) = plots.figure(2, height_in=3.4)
        plot_latency_vs_load(sweep, closed_form=closed, ax=ax_latency)
        plot_gpu_shares(sweep, ax=ax_shares)
        ax_latency.set_title(f"(a) AI latency, {strict['ai_rate_hz']:.0f} frames/s")
        ax_shares.set_title("(b) GPU time: baseband and inference")
        fig.legend(handles=legend_handles(sweep), loc="outside lower center", ncols=2, frameon=False)
        written = plots.save(fig, out / "ran_sharing.png")
    print(f"{len(rows)} runs in {elapsed_s:.1f} s; results in {out}/<config>/load_<L>/, "
          f"sweep table {out / 'sweep.parquet'}, figure: {', '.join(str(p) for p in written)}")
    return 0


def point_scenario(raw: dict, settings: list[str], config: str, load: float | None, *, source: str) -> airan.Scenario:
    """The scenario of one run: the file, the user's settings, then the configuration's.

    A reserved slice does not follow the cell load, and the schema refuses a
    ``ran_load`` with it, so the reserved configurations drop the field (which a
    ``--set`` cannot do: hence the raw TOML data rather than ``airan.load_scenario``,
    which would also resolve files named relative to the scenario; this one names none).
    """
    priority, batch_max, timeout_s = CONFIGS[config]
    gpu = "sites[0].gpu"
    own = [f"{gpu}.ran_priority={priority}", f"{gpu}.batch_max={batch_max}", f"{gpu}.batch_timeout_s={timeout_s}"]
    if load is not None:
        own.append(f"{gpu}.ran_load={load}")
    data = airan.apply_overrides(raw, [*settings, *own], source=source)
    if load is None:
        data["sites"][0]["gpu"].pop("ran_load", None)
    return airan.scenario_from_dict(data, source=source)


def run_with_batch_means(scenario: airan.Scenario) -> tuple[airan.Result, float]:
    """Run ``scenario`` in ``N_BATCHES`` equal steps after the warm-up; the result and the mean latency's 95 % CI.

    The half-width is ``T_95 x sd / sqrt(N_BATCHES)`` over the batch means (the mean
    latency of the tasks completed in each step): valid when a step (90 s in the full
    study) is long against the queue's relaxation time, 1.2 s at the busiest stable
    point. Stepping does not change the run (airan.Simulation).
    """
    sim = airan.Simulation(scenario)
    warmup_s, duration_s = scenario.simulation.warmup_s, scenario.simulation.duration_s
    sums_s, counts = [0.0], [0]
    for i in range(1, N_BATCHES + 1):
        sim.advance(warmup_s + (duration_s - warmup_s) * i / N_BATCHES if i < N_BATCHES else duration_s)
        s = sim.result().summary
        counts.append(s["tasks_completed"])
        sums_s.append(0.0 if s["latency_mean_s"] is None else s["latency_mean_s"] * s["tasks_completed"])
    n = np.diff(counts)
    means_s = np.diff(sums_s)[n > 0] / n[n > 0]
    ci95_s = T_95 * float(np.std(means_s, ddof=1)) / math.sqrt(means_s.size) if means_s.size > 1 else math.nan
    return sim.result(), ci95_s


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


def sweep_row(config: str, load: float | None, scenario: airan.Scenario, result: airan.Result, ci95_s: float) -> dict:
    """One tidy row of the sweep: the parameters, the offered load, the metrics, the closed form."""
    s = result.summary
    gpu, workload = scenario.sites[0].gpu, scenario.workloads[0]
    rate_hz = offered_rate_hz(scenario)
    x = float(s["gpu_share_ran_mean"])
    t1_s = batch_time_s(gpu, workload, 1)
    ai_load = rate_hz * batch_time_s(gpu, workload, gpu.batch_max) / gpu.batch_max / (1.0 - x) / gpu.servers
    radio_s = _nan(s["uplink_mean_s"]) + _nan(s["downlink_mean_s"])
    unbatched_md1 = gpu.batch_max == 1 and gpu.servers == 1 and gpu.service == "deterministic"
    md1_s = md1_mean_s(rate_hz, t1_s / (1.0 - x)) + radio_s if unbatched_md1 else math.nan
    utilisation = _nan(s["gpu_utilization_mean"])
    # the GPU time inference did, from the work done: batches x overhead + frames x FLOPs / rate
    # over the whole run (airan's time-averaged gpu_share_ai_mean counts a server as busy from the
    # node's previous event whenever a batching delay starts a batch, so it is too high with delays)
    nodes, duration_s = result.nodes, scenario.simulation.duration_s
    if (gpu.batch_latency_s or {}).get(workload.name) is None and nodes is not None:
        work_s = (nodes["gpu_batches"][0] * gpu.batch_overhead_s
                  + nodes["gpu_services"][0] * workload.flops / gpu.flops_per_s)
        ai_work = float(work_s) / duration_s / gpu.servers
    else:
        ai_work = _nan(s["gpu_share_ai_mean"])
    saturated = ai_load >= 1.0 if math.isfinite(ai_load) else utilisation >= 0.999
    return {
        "config": config,
        "ran_priority": gpu.ran_priority,
        "batch_max": gpu.batch_max,
        "batch_timeout_s": gpu.batch_timeout_s,
        "cell_load": math.nan if load is None else float(load),
        "ran_share": gpu.ran_share,
        "gpu_share_ran": x,
        "ai_rate_hz": rate_hz,
        "t1_s": t1_s,
        "ai_load": ai_load,
        "saturated": bool(saturated),
        "latency_mean_s": _nan(s["latency_mean_s"]),
        "latency_mean_ci95_s": ci95_s,
        "md1_latency_mean_s": md1_s,
        "latency_p50_s": _nan(s["latency_p50_s"]),
        "latency_p95_s": _nan(s["latency_p95_s"]),
        "latency_p99_s": _nan(s["latency_p99_s"]),
        "uplink_mean_s": _nan(s["uplink_mean_s"]),
        "downlink_mean_s": _nan(s["downlink_mean_s"]),
        "gpu_wait_mean_s": _nan(s["gpu_wait_mean_s"]),
        "gpu_service_mean_s": _nan(s["gpu_service_mean_s"]),
        "batch_size_mean": _nan(s["batch_size_mean"]),
        "gpu_utilization_mean": utilisation,
        "gpu_share_ran_mean": x,
        "gpu_share_ai_mean": _nan(s["gpu_share_ai_mean"]),
        "gpu_share_ai_work": ai_work,
        "deadline_miss_ratio": _nan(s["deadline_miss_ratio"]),
        "tasks_generated": s["tasks_generated"],
        "tasks_completed": s["tasks_completed"],
        "tasks_in_flight": s["tasks_in_flight"],
        "wall_time_s": s["wall_time_s"],
    }


def _nan(value) -> float:
    return math.nan if value is None else float(value)


def format_sweep(sweep: dict[str, np.ndarray]) -> str:
    """The sweep as a compact plain-text table, one line per run."""
    header = (f"{'config':<16} {'load':>5} {'RAN x':>6} {'AI load':>7} {'mean ms':>8} {'±95% ms':>8} "
              f"{'M/D/1 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'wait ms':>8} {'batch':>5} {'util':>5} "
              f"{'AI share':>8} {'(airan)':>7} {'miss':>6} {'in flight':>9}")
    lines = [header]
    for i in range(sweep["config"].shape[0]):
        load = sweep["cell_load"][i]
        lines.append(
            f"{sweep['config'][i]:<16} {'any' if math.isnan(load) else f'{load:.2f}':>5} "
            f"{sweep['gpu_share_ran'][i]:>6.3f} {sweep['ai_load'][i]:>7.3f} "
            f"{sweep['latency_mean_s'][i] * 1e3:>8.3f} {sweep['latency_mean_ci95_s'][i] * 1e3:>8.3f} "
            f"{sweep['md1_latency_mean_s'][i] * 1e3:>8.3f} {sweep['latency_p95_s'][i] * 1e3:>8.3f} "
            f"{sweep['latency_p99_s'][i] * 1e3:>8.3f} {sweep['gpu_wait_mean_s'][i] * 1e3:>8.3f} "
            f"{sweep['batch_size_mean'][i]:>5.2f} {sweep['gpu_utilization_mean'][i]:>5.3f} "
            f"{sweep['gpu_share_ai_work'][i]:>8.3f} {sweep['gpu_share_ai_mean'][i]:>7.3f} "
            f"{sweep['deadline_miss_ratio'][i]:>6.3f} "
            f"{sweep['tasks_in_flight'][i]:>9,d}"
            + ("  saturated" if sweep["saturated"][i] else ""))
    return "\n".join(lines)


def config_label(config: str, ran_share: float) -> str:
    """Legend text of a configuration."""
    priority, batch_max, timeout_s = CONFIGS.get(config, (config, 1, 0.0))
    who = "strict priority" if priority == "strict" else f"reserved slice {ran_share:g}"
    how = "batch 1" if batch_max == 1 else f"batching ≤ {batch_max}, ≤ {timeout_s * 1e3:g} ms delay"
    return f"{who}, {how}"


def legend_handles(sweep) -> list:
    """The figure's shared legend: each configuration's colour and marker, then the line styles of (a)."""
    handles = []
    for config, rows, _ in _by_config(sweep):
        handles.append(mpl.lines.Line2D(
            [], [], color=COLOURS.get(config, "0.3"), marker=MARKERS.get(int(sweep["batch_max"][rows[0]]), "D"),
            markersize=4, label=config_label(config, float(sweep["ran_share"][rows[0]]))))
    key = {"color": "0.4", "markersize": 4}
    return handles + [
        mpl.lines.Line2D([], [], linestyle="-", label="(a) mean", **key),
        mpl.lines.Line2D([], [], linestyle="--", label="(a) 95th percentile", **key),
        mpl.lines.Line2D([], [], linestyle=":", color="black", label="(a) M/D/1 mean, strict, batch 1"),
        mpl.lines.Line2D([], [], linestyle="none", marker="o", markerfacecolor="none",
                         label="saturated: backlog grows ((a): on the top edge)", **key),
    ]


def _by_config(sweep):
    """(config, rows, x) per configuration in table order; a reserved run spans the sweep's loads."""
    configs = np.asarray(sweep["config"])
    loads = np.asarray(sweep["cell_load"], dtype=float)
    span = np.unique(loads[np.isfinite(loads)])
    for config in dict.fromkeys(configs):
        rows = np.flatnonzero(configs == config)
        if rows.size == 1 and np.isnan(loads[rows[0]]):  # reserved: the same run at every load
            yield config, np.full(span.size, rows[0]), span
        else:
            yield config, rows, loads[rows]


def plot_latency_vs_load(sweep, *, closed_form=None, ax=None):
    """Mean (solid) and p95 (dashed) AI latency against the cell load, one colour per configuration.

    ``sweep`` has one row per run (``config``, ``batch_max``, ``ran_share``,
    ``cell_load`` -- NaN for a reserved slice, drawn flat across the loads of the
    others --, ``latency_mean_s``, ``latency_p95_s``, ``saturated``); ``closed_form``
    (``cell_load``, ``latency_mean_s``) is drawn dotted. A saturated point's latency only
    measures how long the run lasted, so it is drawn hollow on the top edge, not joined.
    Colours and line styles are keyed by :func:`legend_handles`.
    """
    ax = ax if ax is not None else plots.figure()[1][0]
    saturated = np.asarray(sweep["saturated"], dtype=bool)
    values_ms = {key: np.asarray(sweep[key], dtype=float) * 1e3 for key in ("latency_mean_s", "latency_p95_s")}
    stable = np.concatenate([v[~saturated] for v in values_ms.values()])
    stable = stable[np.isfinite(stable)]
    top_ms = float(stable.max()) * 3.0 if stable.size else 100.0
    bottom_ms = float(stable.min()) / 1.5 if stable.size else 0.1
    n_saturating = 0
    for config, rows, x in _by_config(sweep):
        colour = COLOURS.get(config, "0.3")
        marker = MARKERS.get(int(sweep["batch_max"][rows[0]]), "D")
        sat = saturated[rows]
        for key, style in (("latency_mean_s", "-"), ("latency_p95_s", "--")):
            ax.plot(x[~sat], values_ms[key][rows][~sat], linestyle=style, marker=marker, markersize=3, color=colour)
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
    _ran_axis(ax, sweep)
    return ax


def plot_gpu_shares(sweep, *, ai: str = "gpu_share_ai_work", ax=None):
    """The GPU's time shares against the cell load: the baseband's, inference's, and what is left for inference.

    Black: the baseband's share ``gpu_share_ran_mean`` (strict solid, reserved dashed);
    grey dotted: 1 minus it, the most inference can use; one colour per configuration
    (keyed by :func:`legend_handles`): inference's share, column ``ai``, hollow where
    saturated.
    """
    ax = ax if ax is not None else plots.figure()[1][0]
    saturated = np.asarray(sweep["saturated"], dtype=bool)
    ran = np.asarray(sweep["gpu_share_ran_mean"], dtype=float)
    ai_share = np.asarray(sweep[ai], dtype=float)
    groups = list(_by_config(sweep))
    widest = {}  # priority -> the configuration with the most loads (a sweep stops where it saturates)
    for _, rows, x in groups:
        priority = str(sweep["ran_priority"][rows[0]])
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
        marker = MARKERS.get(int(sweep["batch_max"][rows[0]]), "D")
        sat = saturated[rows]
        ax.plot(x[~sat], ai_share[rows][~sat], marker=marker, markersize=3, color=colour)
        ax.plot(x[sat], ai_share[rows][sat], linestyle="none", marker=marker, markersize=5, markerfacecolor="none",
                color=colour)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(0.0, 1.3)  # room for the legend
    ax.set_yticks(np.linspace(0.0, 1.0, 6))
    ax.set_xlabel("cell load L (the baseband follows it)")
    ax.set_ylabel("share of the GPU's time")
    _ran_axis(ax, sweep)
    ax.legend(frameon=False, loc="upper right", fontsize=7)
    return ax


def _ran_axis(ax, sweep) -> None:
    """Top axis: the strict baseband's share of the GPU, x = ran_share x L."""
    strict = np.asarray(sweep["ran_priority"]) == "strict"
    if not strict.any():
        return
    share = float(np.asarray(sweep["ran_share"], dtype=float)[strict][0])
    if share <= 0.0:
        return
    top = ax.secondary_xaxis("top", functions=(lambda v: v * share, lambda v: v / share))
    top.set_xlabel(f"strict baseband's GPU share x = {share:g} L", fontsize=8)


if __name__ == "__main__":
    sys.exit(main())
