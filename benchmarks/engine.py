"""Speed, start-up, memory and parallel scaling of the compiled event engine, against a SimPy peer.

Usage::

    pip install -e '.[bench]'     # SimPy, for the peer
    python benchmarks/engine.py [--quick] [--json OUT.json] [--cpu N] [--repeat N]

One invocation measures every case below, prints a table that ends with the
targets (each MET or NOT MET; the script never fails on a missed target) and
writes the figures as JSON (default ``benchmarks/results/engine.json``;
``engine_quick.json`` with ``--quick``, so a smoke run never overwrites real
figures). ``--quick`` runs tiny versions of the cases (about a minute with a warm
Numba cache) and judges no target. "N sites x M devices" means M devices per site.

Cases
-----
a
    7 sites x 100 devices, 1 h simulated. Every site a GPU with c = 2 servers,
    deterministic 25 ms service (2.5e10 FLOP at 1e12 FLOP/s); offload policy; ideal
    channel, 20 kB up at 50 Mbit/s and 1 kB down at 100 Mbit/s; Poisson arrivals
    at 0.5 task/s per device; the sites on a hexagonal grid, 500 m apart. Offered
    load per site 50 task/s x 25 ms = 1.25 Erlang, utilisation 0.625.
    (quick: 60 s simulated)
peer
    Case a written plainly in SimPy (``run_simpy`` of benchmarks/simpy_peer.py,
    also runnable on its own), run in its own pinned subprocess over the same
    simulated span as an airan comparison run of case a's scenario made in case
    a's subprocess: 0.25 h (quick: 60 s). Reported: both mean latencies and their
    relative difference (airan / SimPy - 1), and the speed ratio of case a's
    tasks/s to the peer's tasks/s. The peer models no energy, battery or
    statistics beyond the latencies, so the ratio flatters SimPy.
b
    19 sites x 1,000 devices (19,000 static smartphones placed over the area),
    10 min simulated (a 10 s warm-up included): the built-in ``hex19``
    topology with wrap-around, TR 38.901 channel in band n78 with coupled
    interference, the smartphone energy profile, a GPU at every site with
    batching (one server, batches of up to 8, 5 ms timeout, 2 ms overhead) and GPU
    energy (16 W idle, 72 W busy). Workload: YOLOv8n detection at 640x640, 8.7
    GFLOP per frame (Ultralytics YOLOv8 model table, as in airan/data/workloads.toml),
    60 kB up, 2 kB down, 100 ms deadline, 0.2 task/s per device. The GPU's 8.79e12
    FLOP/s is the effective L4 rate the benchmark assumes for this model (about
    1 ms per frame, 1,000 frames/s; the catalogue's L4 entry, 1.05e14 FLOP/s, is
    ResNet-50 at large batch in MLPerf Offline). ``build_s`` (``airan.Simulation
    (scenario)``: link budgets, placement, arrays) is reported beside the run.
    (quick: 19 x 50 devices, 20 s)
c
    37 sites x 3,000 devices (111,000) moving by random waypoint, a mobility step
    and handover check every 1 s, 1 h simulated: as case b but on ``hex37``
    (wrap-around), no GPU energy, 0.05 task/s per device. The speeds are those of
    the ITU-R M.2412 dense-urban evaluation (R): 80 % of the devices at 3 km/h
    (pedestrians), 20 % at 30 km/h (in cars). Reported besides the common figures:
    the time split into build, mobility steps (``Simulation.mobility_wall_time_s``)
    and events, the time per device-step and per task, handovers per device-hour.
    The device count and rate are the module constants ``C_DEVICES_PER_SITE`` and
    ``C_RATE_HZ``. (quick: 37 x 30 devices, 60 s)
a_10h
    Case a for 10 h simulated (quick: 600 s, keeping the 1 : 10): the engine's
    memory is bounded by the devices and the tasks in flight, not by the tasks
    simulated, so its peak memory must stay flat.
startup
    ``cached`` is the wall time from spawning a process to the end of a tiny run
    (1 site, 10 devices, 10 s: process start -> ``import airan`` -> build -> run)
    with a warm Numba cache, the median of three; ``cold`` is the same with
    ``NUMBA_CACHE_DIR`` pointing at a fresh empty directory, and ``compile = cold -
    cached`` (the kernels of that tiny run: ideal channel, no mobility). The full
    benchmark keeps its own temporary cache, empty for the cold start and warm for
    every case after it; ``--quick`` skips the cold measurement (minutes of
    compiling) and uses the normal cache.
d
    A 100-point sweep of case a (``devices[0].rate_hz`` from 0.40 to 0.60 task/s,
    evenly spaced; each point 10 min simulated), built programmatically as a sweep
    file over case a's scenario in a temporary folder and run with
    ``airan.sweep.run_sweep`` twice, each time in a fresh process that has imported
    airan but run nothing: with one worker (serially, in that process) and with
    one worker per usable CPU. Reported: both wall
    times (the whole ``run_sweep`` call: planning, runs, result folders, tables),
    the simulated tasks of all runs per wall second for each, and the scaling
    efficiency ``(throughput_N / throughput_1) / N``. (quick: 8 points of 30 s)

Method
------
Each case runs in a fresh subprocess (this script with the hidden ``--case``
flag) with ``NUMBA_NUM_THREADS=1`` and the same ``NUMBA_CACHE_DIR``; every case
but d is pinned to one CPU (``--cpu``). A case's subprocess first does a tiny run
of the same kind (ideal channel, or TR 38.901 with moving devices on ``hex7``), so
the compiled kernels are loaded from the cache before anything is timed.
``wall_s`` is ``Result.summary["wall_time_s"]``: the time inside
``Simulation.advance`` (kernel, array growth, mobility steps), not building the
arrays or summarising; ``build_s`` is the time of ``airan.Simulation(scenario)``.
``tasks`` are all the tasks the run simulated, the warm-up's included (the
summary's ``tasks_generated``, given as ``tasks_counted``, leaves those out), so
``tasks_per_s = tasks / wall_s``. With ``--repeat N`` each timed case runs N times
in its subprocess and the fastest is reported (the same seed: only the times
differ). Peak memory is ``getrusage(RUSAGE_SELF).ru_maxrss`` at the end of the
subprocess (interpreter, numpy, Numba and the run together); the peak before the
case starts is reported too, so the case's own share can be read. Case d's
workers also run with ``NUMBA_NUM_THREADS=1``, one single-threaded process per
CPU. Both sweeps load the compiled kernels inside their timed call: the serial
one in its first run; the parallel one in the workers' forkserver (the workers
fork from it with the kernels loaded) and in the client's first run (the client
runs runs itself while the workers start).

Targets (judged by the full benchmark only)
-------------------------------------------
- case a: >= 1,000,000 simulated tasks per wall second;
- case a vs the SimPy peer: >= 50 x the peer's tasks per wall second;
- the peer's mean latency within 2 % of airan's;
- case b: >= 300,000 simulated tasks per wall second;
- case c: 1 h simulated in under 60 s, judged on ``wall_s + build_s``;
- memory: case a_10h's peak RSS < 1.10 x case a's (the 10x longer run adds < 10 %);
- start-up: cached start-up < 2 s (the cold compile is reported, not judged);
- case d: scaling efficiency >= 0.8.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "engine.json"
DEFAULT_JSON_QUICK = HERE / "results" / "engine_quick.json"

N_CACHED_STARTS = 3  # cached start-up runs in the full benchmark; the median is reported
SEED = 1
S_PER_H = 3600.0
MIB = 1024.0 * 1024.0

# Targets (the performance issue's)
TARGET_A_TASKS_PER_S = 1_000_000.0  # case a, once compiled
TARGET_PEER_SPEEDUP = 50.0  # case a's tasks/s over the SimPy peer's
TARGET_PEER_LATENCY_DIFF = 0.02  # |airan / SimPy - 1| of the mean latency
TARGET_B_TASKS_PER_S = 300_000.0
TARGET_C_TOTAL_S = 60.0  # case c: wall_s + build_s for 1 h simulated
TARGET_MEMORY_GROWTH = 0.10  # case a_10h's peak RSS over case a's, minus 1
TARGET_CACHED_STARTUP_S = 2.0
TARGET_SWEEP_EFFICIENCY = 0.8

# ---------------------------------------------------------------------------
# Case a (and a_10h, the peer, the sweep): 7 sites, ideal channel
# ---------------------------------------------------------------------------

INTER_SITE_DISTANCE_M = 500.0
# GPU: 2.5e10 FLOP / 1e12 FLOP/s = 25 ms deterministic service per task
GPU_FLOPS_PER_S = 1e12
WORKLOAD = {
    "name": "inference",
    "flops": 2.5e10,
    "input_bytes": 20_000.0,
    "output_bytes": 1_000.0,
    "deadline_s": 0.1,
}
# Device fields; the power and battery figures only need to keep every battery alive
# for 10 h (0.1 W idle + small active increments on 15 Wh), so all tasks are simulated.
DEVICE = {
    "arrival": "poisson",
    "rate_hz": 0.5,
    "compute_flops_per_s": 1e11,
    "power_idle_w": 0.1,
    "power_compute_w": 2.0,
    "power_tx_w": 1.0,
    "power_rx_w": 0.5,
    "battery_wh": 15.0,
    "uplink_bps": 50e6,
    "downlink_bps": 100e6,
    # hexagonal cell of inter-site distance D has circumradius D / sqrt(3)
    "cell_radius_m": INTER_SITE_DISTANCE_M / math.sqrt(3.0),
}
A_DEVICES_PER_SITE = 100
A_SERVERS = 2
A_DURATION_S = 1.0 * S_PER_H
A_LONG_DURATION_S = 10.0 * S_PER_H  # case a_10h
A_QUICK_DURATION_S = 60.0
A_LONG_QUICK_DURATION_S = 600.0  # keeps the 1 : 10 of a : a_10h
PEER_DURATION_S = 0.25 * S_PER_H  # the SimPy peer (about a minute) and airan's comparison run
PEER_QUICK_DURATION_S = 60.0

# ---------------------------------------------------------------------------
# Cases b and c: TR 38.901 radio, energy, batching (b) and mobility (c)
# ---------------------------------------------------------------------------

# YOLOv8n at 640x640: 8.7 GFLOP per frame (Ultralytics YOLOv8 model table)
DETECT_WORKLOAD = {"name": "detect", "flops": 8.7e9, "input_bytes": 60_000, "output_bytes": 2_000, "deadline_s": 0.1}
# one server at an effective L4 rate for YOLOv8n (about 1 ms per frame), batches of up to 8
GPU_BATCHING = {"servers": 1, "flops_per_s": 8.79e12, "batch_max": 8, "batch_timeout_s": 0.005,
                "batch_overhead_s": 0.002}
GPU_POWER = {"power_idle_w": 16.0, "power_peak_w": 72.0}  # L4: 72 W board power
WARMUP_S = 10.0

B_TOPOLOGY = "hex19"  # 19 sites
B_DEVICES_PER_SITE = 1_000
B_RATE_HZ = 0.2
B_DURATION_S = 600.0
B_QUICK_DEVICES_PER_SITE = 50
B_QUICK_DURATION_S = 20.0

C_TOPOLOGY = "hex37"  # 37 sites
C_DEVICES_PER_SITE = 3_000  # 111,000 devices
C_RATE_HZ = 0.05
C_DURATION_S = 1.0 * S_PER_H
C_STEP_S = 1.0  # mobility step and handover check
# ITU-R M.2412-0 Dense Urban-eMBB evaluation: 80 % of users indoor at 3 km/h, 20 % outdoor in
# cars at 30 km/h (R: recalled); here all move by random waypoint at those fixed speeds
C_PEDESTRIAN_SPEED_MPS = 3.0 / 3.6
C_CAR_SPEED_MPS = 30.0 / 3.6
C_CAR_FRACTION = 0.2
C_QUICK_DEVICES_PER_SITE = 30
C_QUICK_DURATION_S = 60.0

# ---------------------------------------------------------------------------
# Case d: a sweep of case a
# ---------------------------------------------------------------------------

D_POINTS = 100
D_RATES_HZ = (0.40, 0.60)  # devices[0].rate_hz, evenly spaced
D_DURATION_S = 600.0
D_QUICK_POINTS = 8
D_QUICK_DURATION_S = 30.0
D_AXIS = "devices[0].rate_hz"

TIMED_CASES = ("a", "b", "c", "a_10h")  # the cases of the main table
CHILD_CASES = ("startup", *TIMED_CASES, "peer", "d", "d_one")


# ---------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------


def hex_sites(n_servers: int, inter_site_distance_m: float = INTER_SITE_DISTANCE_M) -> list[dict[str, Any]]:
    """A centre site and its six neighbours on a hexagonal grid, each with a GPU of ``n_servers`` servers."""
    positions_m = [(0.0, 0.0)] + [
        (inter_site_distance_m * math.cos(math.radians(60.0 * k)),
         inter_site_distance_m * math.sin(math.radians(60.0 * k)))
        for k in range(6)
    ]
    return [
        {
            "name": f"bs{i}",
            "x_m": x_m,
            "y_m": y_m,
            "gpu": {"servers": n_servers, "flops_per_s": GPU_FLOPS_PER_S, "service": "deterministic"},
        }
        for i, (x_m, y_m) in enumerate(positions_m)
    ]


def scenario_dict(n_devices_per_site: int, duration_s: float, n_servers: int) -> dict[str, Any]:
    """Case a's raw scenario data (as from TOML): 7 GPU sites, one device group spread evenly over them."""
    sites = hex_sites(n_servers)
    return {
        "name": "engine-benchmark",
        "simulation": {"duration_s": float(duration_s), "seed": SEED},
        "policy": {"name": "offload"},
        "channel": {"model": "ideal"},
        "sites": sites,
        "workloads": [dict(WORKLOAD)],
        "devices": [{"name": "devices", "count": n_devices_per_site * len(sites), "workload": WORKLOAD["name"],
                     **DEVICE}],
    }


def tiny_scenario_dict() -> dict[str, Any]:
    """The start-up run: 1 site, 10 devices, 10 s simulated (a few tasks; the time is all overhead)."""
    raw = scenario_dict(10, 10.0, 2)
    raw["sites"] = raw["sites"][:1]
    raw["devices"][0]["count"] = 10
    return raw


def radio_scenario_dict(n_devices_per_site: int, duration_s: float) -> dict[str, Any]:
    """Case b's raw scenario: hex19, TR 38.901 n78 with coupled interference, batching GPUs with energy."""
    return {
        "name": "engine-benchmark-b",
        "simulation": {"duration_s": float(duration_s), "warmup_s": WARMUP_S, "seed": SEED},
        "policy": {"name": "offload"},
        "topology": {"file": B_TOPOLOGY, "wrap_around": True},
        "compute": {"placement": "every_site", "gpu": {**GPU_BATCHING, **GPU_POWER}},
        "channel": {"model": "tr38901", "band": "n78", "interference": "coupled"},
        "workloads": [dict(DETECT_WORKLOAD)],
        "devices": [{"name": "phones", "profile": "smartphone", "count": 19 * n_devices_per_site,
                     "workload": DETECT_WORKLOAD["name"], "placement": "area", "rate_hz": B_RATE_HZ}],
    }


def mobility_scenario_dict(n_devices_per_site: int, duration_s: float) -> dict[str, Any]:
    """Case c's raw scenario: as case b on hex37, no GPU energy, devices moving by random waypoint."""
    raw = radio_scenario_dict(n_devices_per_site, duration_s)
    raw["name"] = "engine-benchmark-c"
    raw["topology"] = {"file": C_TOPOLOGY, "wrap_around": True}
    raw["compute"]["gpu"] = dict(GPU_BATCHING)
    raw["mobility"] = {"step_s": C_STEP_S}
    n = 37 * n_devices_per_site
    n_cars = round(C_CAR_FRACTION * n)
    group = raw["devices"][0]
    group.update(rate_hz=C_RATE_HZ, mobility="random_waypoint")
    raw["devices"] = [
        {**group, "name": "pedestrians", "count": n - n_cars,
         "speed_min_mps": C_PEDESTRIAN_SPEED_MPS, "speed_max_mps": C_PEDESTRIAN_SPEED_MPS},
        {**group, "name": "cars", "count": n_cars, "speed_min_mps": C_CAR_SPEED_MPS, "speed_max_mps": C_CAR_SPEED_MPS},
    ]
    return raw


def tiny_radio_scenario_dict() -> dict[str, Any]:
    """Warm-up of cases b and c: case c's kind of run (radio, batching, mobility) on hex7, 8 devices, 3 s."""
    raw = mobility_scenario_dict(1, 3.0)
    raw["topology"]["file"] = "hex7"
    raw["simulation"]["warmup_s"] = 1.0
    for group in raw["devices"]:
        group["count"] = 4
    return raw


def _span(duration_s: float) -> str:
    return f"{duration_s / S_PER_H:g} h" if duration_s >= S_PER_H else f"{duration_s:g} s"


def case_plan(name: str, quick: bool) -> tuple[dict[str, Any], str]:
    """A timed case's raw scenario and its one-line description."""
    if name in ("a", "a_10h"):
        long = name == "a_10h"
        duration_s = ((A_LONG_QUICK_DURATION_S if long else A_QUICK_DURATION_S) if quick
                      else (A_LONG_DURATION_S if long else A_DURATION_S))
        return (scenario_dict(A_DEVICES_PER_SITE, duration_s, A_SERVERS),
                f"7 x {A_DEVICES_PER_SITE}, ideal, {_span(duration_s)}")
    if name == "b":
        per_site, duration_s = (B_QUICK_DEVICES_PER_SITE, B_QUICK_DURATION_S) if quick else (
            B_DEVICES_PER_SITE, B_DURATION_S)
        return radio_scenario_dict(per_site, duration_s), f"19 x {per_site:,}, radio+batch, {_span(duration_s)}"
    if name == "c":
        per_site, duration_s = (C_QUICK_DEVICES_PER_SITE, C_QUICK_DURATION_S) if quick else (
            C_DEVICES_PER_SITE, C_DURATION_S)
        return mobility_scenario_dict(per_site, duration_s), f"37 x {per_site:,} moving, {_span(duration_s)}"
    raise ValueError(f"not a timed case: {name!r}")


# ---------------------------------------------------------------------------
# Subprocess side (hidden --case flag)
# ---------------------------------------------------------------------------


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def _usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024.0


def _child_startup() -> dict[str, Any]:
    """Process start -> import airan -> build -> tiny run; monotonic stamps for the parent."""
    t_main = time.monotonic()
    import airan

    t_import = time.monotonic()
    sim = airan.Simulation(airan.scenario_from_dict(tiny_scenario_dict()))
    t_build = time.monotonic()
    result = sim.run()
    t_run = time.monotonic()
    return {
        "t_main": t_main, "t_import": t_import, "t_build": t_build, "t_run": t_run,
        "tasks": result.summary["tasks_generated"],
    }


def _timed_run(scenario) -> dict[str, Any]:
    """Build and run ``scenario`` once: the summary's figures, build time and the engine's own counters."""
    import airan

    t0 = time.perf_counter()
    sim = airan.Simulation(scenario)
    build_s = time.perf_counter() - t0
    summary = sim.run().summary
    ints = sim.state.ints
    return {
        "summary": summary,
        "build_s": build_s,
        "tasks_all": int(ints[airan.engine.I_NEXT_TASK_ID]),  # warm-up included
        "moves": int(ints[airan.engine.I_MOVES]),
        "mobility_wall_s": sim.mobility_wall_time_s,
    }


def _child_case(name: str, quick: bool, repeat: int) -> dict[str, Any]:
    """Run one timed case ``repeat`` times after a warm-up; report the fastest run's figures and peak memory."""
    import airan

    warmup = tiny_scenario_dict() if name in ("a", "a_10h") else tiny_radio_scenario_dict()
    airan.run(airan.scenario_from_dict(warmup))  # load the compiled kernels from the cache
    rss_before_mib = _peak_rss_mib()
    raw, description = case_plan(name, quick)
    scenario = airan.scenario_from_dict(raw)
    best: dict[str, Any] | None = None
    walls_s = []
    for _ in range(repeat):
        run = _timed_run(scenario)
        walls_s.append(run["summary"]["wall_time_s"])
        if best is None or run["summary"]["wall_time_s"] < best["summary"]["wall_time_s"]:
            best = run
    assert best is not None
    summary = best["summary"]
    wall_s = summary["wall_time_s"]
    out: dict[str, Any] = {
        "description": description,
        "devices": summary["devices"],
        "sites": summary["sites"],
        "sim_time_s": summary["sim_time_s"],
        "warmup_s": summary["warmup_s"],
        "tasks": best["tasks_all"],
        "tasks_counted": summary["tasks_generated"],
        "tasks_completed": summary["tasks_completed"],
        "tasks_in_flight": summary["tasks_in_flight"],
        "events": summary["events"],
        "wall_s": wall_s,
        "wall_runs_s": walls_s,
        "build_s": best["build_s"],
        "tasks_per_s": best["tasks_all"] / wall_s,
        "events_per_s": summary["events"] / wall_s,
        "rss_before_case_mib": rss_before_mib,
        "peak_rss_mib": _peak_rss_mib(),
        "gpu_utilization_mean": summary["gpu_utilization_mean"],
        "latency_mean_s": summary["latency_mean_s"],
    }
    if name == "c":
        device_steps = summary["devices_moving"] * best["moves"]
        out.update(
            wall_plus_build_s=wall_s + best["build_s"],
            devices_moving=summary["devices_moving"],
            mobility_steps=best["moves"],
            device_steps=device_steps,
            mobility_wall_s=best["mobility_wall_s"],
            ns_per_device_step=best["mobility_wall_s"] / device_steps * 1e9 if device_steps else None,
            events_wall_s=wall_s - best["mobility_wall_s"],
            us_per_task_events=(wall_s - best["mobility_wall_s"]) / best["tasks_all"] * 1e6,
            device_steps_per_s=device_steps / wall_s,
            handovers=summary["handovers"],
            handovers_per_device_hour=summary["handovers_per_device_hour"],
        )
    if name == "a":
        # airan's side of the SimPy comparison: case a's scenario over the peer's span
        duration_s = PEER_QUICK_DURATION_S if quick else PEER_DURATION_S
        comparison = _timed_run(airan.scenario_from_dict(scenario_dict(A_DEVICES_PER_SITE, duration_s, A_SERVERS)))
        s = comparison["summary"]
        out["comparison"] = {
            "sim_time_s": s["sim_time_s"],
            "tasks_completed": s["tasks_completed"],
            "latency_mean_s": s["latency_mean_s"],
            "wall_s": s["wall_time_s"],
            "tasks_per_s": comparison["tasks_all"] / s["wall_time_s"],
        }
    return out


def _child_peer(quick: bool) -> dict[str, Any]:
    """The SimPy model of case a over the comparison span (no airan, no Numba in this process)."""
    import simpy_peer  # benchmarks/simpy_peer.py, next to this script

    duration_s = PEER_QUICK_DURATION_S if quick else PEER_DURATION_S
    latency_mean_s, n_tasks, wall_s = simpy_peer.run_simpy(duration_s, SEED)
    return {
        "sim_time_s": duration_s,
        "tasks_completed": n_tasks,
        "latency_mean_s": latency_mean_s,
        "wall_s": wall_s,
        "tasks_per_s": n_tasks / wall_s,
        "md2_latency_estimate_s": (simpy_peer.UPLINK_S + simpy_peer.md2_wait_s() + simpy_peer.SERVICE_S
                                   + simpy_peer.DOWNLINK_S),
        "peak_rss_mib": _peak_rss_mib(),
    }


def sweep_files(folder: Path, quick: bool) -> Path:
    """Write case a's scenario and a sweep over its device rate into ``folder``; return the sweep file."""
    import airan

    n_points, duration_s = (D_QUICK_POINTS, D_QUICK_DURATION_S) if quick else (D_POINTS, D_DURATION_S)
    raw = scenario_dict(A_DEVICES_PER_SITE, duration_s, A_SERVERS)
    (folder / "case_a.toml").write_text(airan.dump_scenario(airan.scenario_from_dict(raw)), encoding="utf-8")
    path = folder / "case_a.sweep.toml"
    path.write_text(
        'name = "engine-benchmark-d"\n'
        'scenario = "case_a.toml"\n'
        f"seed = {SEED}\n\n"
        "[[axes]]\n"
        f'path = "{D_AXIS}"\n'
        f"linspace = [{D_RATES_HZ[0]!r}, {D_RATES_HZ[1]!r}, {n_points}]\n",
        encoding="utf-8",
    )
    return path


def _child_sweep(quick: bool) -> dict[str, Any]:
    """Case d: the sweep with one worker, then with one worker per usable CPU (not pinned), each in a fresh process."""
    n_workers = _usable_cpus()
    out: dict[str, Any] = {"workers": n_workers}
    for key, workers in (("serial", 1), ("parallel", n_workers)):
        one = _spawn(["--case", "d_one", "--workers", str(workers)] + (["--quick"] if quick else []),
                     dict(os.environ))[1]
        out.update({k: one.pop(k) for k in ("points", "axis", "values", "sim_time_s")})
        out[key] = one
    serial, parallel = out["serial"], out["parallel"]
    out["speedup"] = parallel["tasks_per_s"] / serial["tasks_per_s"] if serial["tasks_per_s"] else float("nan")
    out["scaling_efficiency"] = out["speedup"] / n_workers
    return out


def _child_sweep_one(quick: bool, workers: int) -> dict[str, Any]:
    """One sweep of case d with ``workers`` workers, in this fresh process (airan imported before the clock starts)."""
    from airan.sweep import load_sweep, read_results, run_sweep

    with tempfile.TemporaryDirectory(prefix="airan-bench-sweep-") as tmp:
        folder = Path(tmp)
        sweep = load_sweep(sweep_files(folder, quick))
        t0 = time.perf_counter()
        report = run_sweep(sweep, folder / "out", workers=workers, progress=False)
        wall_s = time.perf_counter() - t0
        results = read_results(folder / "out").results
        tasks = int(results["tasks_generated"].sum()) if report.ran else 0
        return {
            "points": len(sweep.points),
            "axis": D_AXIS,
            "values": [sweep.points[0][D_AXIS], sweep.points[-1][D_AXIS]],
            "sim_time_s": D_QUICK_DURATION_S if quick else D_DURATION_S,
            "workers": workers,
            "executor": report.executor,
            "runs": report.ran,
            "ran_here": report.ran_here,
            "failed": report.failed,
            "errors": report.errors[:3],
            "wall_s": wall_s,
            "tasks": tasks,
            "tasks_per_s": tasks / wall_s,
            "kernel_s": float(results["wall_time_s"].sum()) if report.ran else 0.0,  # summed over the runs
        }


# ---------------------------------------------------------------------------
# Parent side
# ---------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": cpu_model,
        "n_cpus": os.cpu_count(),
        "n_cpus_usable": _usable_cpus(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numba": metadata.version("numba"),
        "llvmlite": metadata.version("llvmlite"),
        "numpy": metadata.version("numpy"),
        "simpy": metadata.version("simpy"),
        "airan": metadata.version("airan"),
    }


def _child_env(cache_dir: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "NUMBA_NUM_THREADS": "1",
        "NUMBA_DISABLE_JIT": "0",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    })
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    return env


def _spawn(args: list[str], env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """Run this script with ``args``; return (monotonic time just before the spawn, its JSON line)."""
    t_spawn = time.monotonic()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args],
                          env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark subprocess {args} failed ({proc.returncode}):\n{proc.stderr}")
    return t_spawn, json.loads(proc.stdout.strip().splitlines()[-1])


def _startup(cpu: int, env: dict[str, str]) -> dict[str, float]:
    t_spawn, s = _spawn(["--case", "startup", "--cpu", str(cpu)], env)
    return {
        "total_s": s["t_run"] - t_spawn,
        "interpreter_s": s["t_main"] - t_spawn,  # spawn + Python + this script's own imports
        "import_airan_s": s["t_import"] - s["t_main"],
        "build_s": s["t_build"] - s["t_import"],
        "run_s": s["t_run"] - s["t_build"],
    }


def measure_startup(cpu: int, quick: bool, cache_dir: str | None) -> dict[str, Any]:
    """Cold (empty cache) and cached start-up of a tiny run; ``cache_dir`` None: the normal cache."""
    env = _child_env(cache_dir)
    cold = None
    if quick:
        _startup(cpu, env)  # warm the normal cache if it is not (compiles once, unmeasured)
    else:
        cold = _startup(cpu, env)  # cache_dir is fresh and empty here
    cached_runs = [_startup(cpu, env) for _ in range(1 if quick else N_CACHED_STARTS)]
    cached = sorted(cached_runs, key=lambda r: r["total_s"])[len(cached_runs) // 2]  # median run
    return {
        "tiny_run": "1 site, 10 devices, 10 s simulated",
        "cold": cold,
        "cached": cached,
        "cached_totals_s": [r["total_s"] for r in cached_runs],
        "cached_s": statistics.median(r["total_s"] for r in cached_runs),
        "cold_s": None if cold is None else cold["total_s"],
        "compile_s": None if cold is None else cold["total_s"] - cached["total_s"],
    }


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_cases(cpu: int, quick: bool, repeat: int, cache_dir: str | None) -> dict[str, dict[str, Any]]:
    """The timed cases, the peer and the sweep, each in its own subprocess."""
    env = _child_env(cache_dir)
    args = ["--cpu", str(cpu), "--repeat", str(repeat)] + (["--quick"] if quick else [])
    results = {}
    for name in (*TIMED_CASES, "peer", "d"):
        _progress(f"  running case {name} ...")
        results[name] = _spawn(["--case", name, *args], env)[1]
    return results


def peer_section(case_a: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    """Both sides of the SimPy comparison: mean latencies, their difference, the speed ratio."""
    ours = case_a.pop("comparison")
    difference = ours["latency_mean_s"] / peer["latency_mean_s"] - 1.0
    return {
        "sim_time_s": peer["sim_time_s"],
        "airan": ours,
        "simpy": peer,
        "latency_difference": difference,  # airan / SimPy - 1
        "latency_within_2_percent": bool(abs(difference) <= TARGET_PEER_LATENCY_DIFF),
        "speed_ratio": case_a["tasks_per_s"] / peer["tasks_per_s"],  # case a (its own span) over the peer
    }


def memory_section(short: dict[str, Any], long: dict[str, Any], quick: bool) -> dict[str, Any]:
    return {
        "short": "case a" + ("" if quick else " (1 h)"),
        "long": "case a_10h" + ("" if quick else " (10 h)"),
        "peak_rss_short_mib": short["peak_rss_mib"],
        "peak_rss_long_mib": long["peak_rss_mib"],
        "peak_rss_ratio": long["peak_rss_mib"] / short["peak_rss_mib"],
        "case_rss_short_mib": short["peak_rss_mib"] - short["rss_before_case_mib"],
        "case_rss_long_mib": long["peak_rss_mib"] - long["rss_before_case_mib"],
    }


def judge_targets(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured value and whether it is met (None: not judged, --quick)."""
    cases, peer = data["cases"], data["peer"]
    rows = [
        ("a_tasks_per_s", "case a: simulated tasks per wall second", ">=", TARGET_A_TASKS_PER_S,
         cases["a"]["tasks_per_s"], "tasks/s"),
        ("a_vs_simpy", "case a vs the SimPy peer: tasks/s ratio", ">=", TARGET_PEER_SPEEDUP,
         peer["speed_ratio"], "x"),
        ("peer_latency", "peer: |mean latency difference|", "<=", TARGET_PEER_LATENCY_DIFF * 100,
         abs(peer["latency_difference"]) * 100, "%"),
        ("b_tasks_per_s", "case b: simulated tasks per wall second", ">=", TARGET_B_TASKS_PER_S,
         cases["b"]["tasks_per_s"], "tasks/s"),
        ("c_wall_plus_build_s", "case c: wall + build for 1 h simulated", "<", TARGET_C_TOTAL_S,
         cases["c"]["wall_plus_build_s"], "s"),
        ("memory_growth", "memory: 10x longer run adds to peak RSS", "<", TARGET_MEMORY_GROWTH * 100,
         (data["memory"]["peak_rss_ratio"] - 1.0) * 100, "%"),
        ("cached_startup_s", "start-up: cached, process start to tiny run done", "<", TARGET_CACHED_STARTUP_S,
         data["startup"]["cached_s"], "s"),
        ("sweep_efficiency", f"case d: scaling efficiency on {data['sweep']['workers']} workers", ">=",
         TARGET_SWEEP_EFFICIENCY, data["sweep"]["scaling_efficiency"], ""),
    ]
    compare = {">=": lambda v, t: v >= t, "<=": lambda v, t: v <= t, "<": lambda v, t: v < t}
    return [
        {"name": name, "what": what, "op": op, "target": target, "value": value, "unit": unit,
         "met": None if data["quick"] else bool(compare[op](value, target))}
        for name, what, op, target, value, unit in rows
    ]


def _fmt_s(value: float | None) -> str:
    return "skipped (--quick)" if value is None else f"{value:7.2f} s"


def _fmt_value(value: float, unit: str) -> str:
    value = round(value, 2) + 0.0  # no "-0.00"
    if unit == "tasks/s":
        return f"{value:,.0f} tasks/s"
    if unit == "x":
        return f"{value:,.1f}x"
    if unit == "%":
        return f"{value:.2f} %"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:.2f}"


def report(data: dict[str, Any]) -> str:
    """The printed table."""
    m, st, cases, mem = data["machine"], data["startup"], data["cases"], data["memory"]
    peer, sweep = data["peer"], data["sweep"]
    lines = [
        f"airan engine benchmark{' (--quick)' if data['quick'] else ''}",
        f"machine: {m['cpu_model']}, {m['n_cpus']} logical CPUs ({m['n_cpus_usable']} usable), {m['platform']}",
        f"         Python {m['python']}, numba {m['numba']} (llvmlite {m['llvmlite']}), numpy {m['numpy']}, "
        f"SimPy {m['simpy']}, airan {m['airan']}",
        f"cases a, b, c, a_10h and the peer pinned to CPU {data['cpu']}; NUMBA_NUM_THREADS=1 everywhere",
        "",
        f"start-up, process start -> tiny run done ({st['tiny_run']}):",
        f"  cold, empty cache       {_fmt_s(st['cold_s'])}",
    ]
    c = st["cached"]
    lines += [
        f"  cached (median of {len(st['cached_totals_s'])})     {_fmt_s(st['cached_s'])}"
        f"   (interpreter {c['interpreter_s']:.2f} s, import airan {c['import_airan_s']:.2f} s, "
        f"build {c['build_s']:.3f} s, run {c['run_s']:.3f} s)",
        f"  compile = cold - cached {_fmt_s(st['compile_s'])}",
        "",
    ]
    header = (f"{'case':<6} {'what':<32} {'tasks':>11} {'events':>12} {'build s':>8} {'wall s':>8} "
              f"{'tasks/s':>11} {'events/s':>11} {'peak RSS MiB':>13} {'before MiB':>11}")
    lines += [header, "-" * len(header)]
    for name, r in cases.items():
        lines.append(
            f"{name:<6} {r['description']:<32} {r['tasks']:>11,} {r['events']:>12,} {r['build_s']:>8.2f} "
            f"{r['wall_s']:>8.3f} {r['tasks_per_s']:>11,.0f} {r['events_per_s']:>11,.0f} {r['peak_rss_mib']:>13.1f} "
            f"{r['rss_before_case_mib']:>11.1f}"
        )
    cc = cases["c"]
    hpdh = cc["handovers_per_device_hour"]
    lines += [
        f"(wall = Result.summary['wall_time_s'], inside Simulation.advance, fastest of {data['repeat']}; tasks "
        "include the warm-up; 'before' = peak RSS after imports and warm-up)",
        "",
        f"case c: wall + build {cc['wall_plus_build_s']:.2f} s = build {cc['build_s']:.2f} s + mobility steps "
        f"{cc['mobility_wall_s']:.2f} s + events {cc['events_wall_s']:.2f} s",
        f"        {cc['mobility_steps']:,} mobility steps x {cc['devices_moving']:,} devices = "
        f"{cc['device_steps']:,} device-steps, {cc['ns_per_device_step'] or 0:.0f} ns each; "
        f"events {cc['us_per_task_events']:.2f} us per task; "
        f"{'n/a' if hpdh is None else f'{hpdh:.1f}'} handovers per device-hour",
        "",
        f"SimPy peer, case a's model over {_span(peer['sim_time_s'])} simulated:",
        f"  mean latency  airan {peer['airan']['latency_mean_s'] * 1e3:.3f} ms   "
        f"SimPy {peer['simpy']['latency_mean_s'] * 1e3:.3f} ms   difference {peer['latency_difference'] * 100:+.2f} %"
        f"   (M/D/2 estimate {peer['simpy']['md2_latency_estimate_s'] * 1e3:.3f} ms)",
        f"  tasks/s       case a {cases['a']['tasks_per_s']:,.0f}   SimPy {peer['simpy']['tasks_per_s']:,.0f} "
        f"({peer['simpy']['tasks_completed']:,} tasks in {peer['simpy']['wall_s']:.2f} s)   "
        f"ratio {peer['speed_ratio']:,.1f}x",
        "",
        f"memory: peak RSS {mem['short']} = {mem['peak_rss_short_mib']:.1f} MiB, {mem['long']} = "
        f"{mem['peak_rss_long_mib']:.1f} MiB, ratio {mem['peak_rss_ratio']:.3f}; "
        f"above 'before': {mem['case_rss_short_mib']:.1f} vs {mem['case_rss_long_mib']:.1f} MiB",
        "",
        f"case d: sweep of case a, {sweep['points']} points ({sweep['axis']} {sweep['values'][0]:g}..."
        f"{sweep['values'][1]:g}), {_span(sweep['sim_time_s'])} each, not pinned:",
    ]
    for key in ("serial", "parallel"):
        r = sweep[key]
        failed = f", {r['failed']} FAILED ({'; '.join(r['errors'])})" if r["failed"] else ""
        lines.append(
            f"  {r['workers']:>3} worker{'s' if r['workers'] > 1 else ' '}  wall {r['wall_s']:8.2f} s   "
            f"{r['runs']} runs, {r['tasks']:,} tasks, {r['tasks_per_s']:,.0f} tasks/s "
            f"(kernels {r['kernel_s']:.2f} s summed){failed}")
    lines += [
        f"  speed-up {sweep['speedup']:.2f}, scaling efficiency {sweep['scaling_efficiency']:.2f} "
        f"(speed-up / {sweep['workers']} workers)",
        "",
        "targets" + (" (not judged in --quick: the runs are too short)" if data["quick"] else "") + ":",
    ]
    for t in data["targets"]:
        verdict = "not judged" if t["met"] is None else ("MET" if t["met"] else "NOT MET")
        target = f"{t['op']} {_fmt_value(t['target'], t['unit'])}"
        lines.append(f"  {t['what']:<52} {target:>20}   measured {_fmt_value(t['value'], t['unit']):>18}   {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny versions of the cases (a smoke run, about a minute)")
    parser.add_argument("--json", type=Path, default=None,
                        help=f"where to write the figures (default {DEFAULT_JSON.relative_to(HERE.parent)})")
    default_cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    parser.add_argument("--cpu", type=int, default=default_cpu,
                        help="the CPU to pin the runs to (default: the first usable one)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each timed case in its subprocess; the fastest is reported (default 1)")
    parser.add_argument("--case", choices=CHILD_CASES, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)  # case d_one
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat: must be >= 1, got {args.repeat}")

    if args.case is not None:  # subprocess side: one JSON line on stdout
        if args.case not in ("d", "d_one"):
            _pin(args.cpu)
        if args.case == "startup":
            out = _child_startup()
        elif args.case == "peer":
            out = _child_peer(args.quick)
        elif args.case == "d":
            out = _child_sweep(args.quick)
        elif args.case == "d_one":
            out = _child_sweep_one(args.quick, args.workers)
        else:
            out = _child_case(args.case, args.quick, args.repeat)
        print(json.dumps(out))
        return 0

    if importlib.util.find_spec("simpy") is None:
        print("engine.py: error: SimPy is not installed (the peer comparison needs it): pip install -e '.[bench]'",
              file=sys.stderr)
        return 2

    _progress("measuring start-up ...")
    with tempfile.TemporaryDirectory(prefix="airan-bench-numba-") as tmp:
        cache_dir = None if args.quick else tmp  # full: own cache, empty for the cold start, then warm
        startup = measure_startup(args.cpu, args.quick, cache_dir)
        _progress("running cases ...")
        results = run_cases(args.cpu, args.quick, args.repeat, cache_dir)

    cases = {name: results[name] for name in TIMED_CASES}
    data: dict[str, Any] = {
        "quick": args.quick,
        "cpu": args.cpu,
        "repeat": args.repeat,
        "machine": machine(),
        "startup": startup,
        "cases": cases,
        "peer": peer_section(cases["a"], results["peer"]),
        "memory": memory_section(cases["a"], cases["a_10h"], args.quick),
        "sweep": results["d"],
    }
    data["targets"] = judge_targets(data)
    print(report(data))
    path = args.json or (DEFAULT_JSON_QUICK if args.quick else DEFAULT_JSON)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
