"""Speed, start-up and memory of the compiled event engine.

Usage::

    python benchmarks/engine.py [--quick] [--json OUT.json] [--cpu N] [--repeat N]

Prints a table and writes the figures as JSON (default
``benchmarks/results/engine.json``; ``engine_quick.json`` with ``--quick``, so a
smoke run never overwrites real figures).

Cases (every site a GPU with deterministic 25 ms service, 2.5e10 FLOP at 1e12 FLOP/s;
offload policy; ideal channel; 20 kB up at 50 Mbit/s, 1 kB down at 100 Mbit/s;
Poisson arrivals at 0.5 task/s per device; 7 sites on a hexagonal grid, 500 m apart):

a
    7 sites x 100 devices, 1 h simulated, c = 2 servers per site. Offered load per
    site 50 task/s x 25 ms = 1.25 Erlang, utilisation 0.625.
b
    7 sites x 1000 devices, 1 h simulated. The GPUs are scaled with the devices
    (c = 20 servers per site) so utilisation stays 0.625: with c = 2 the offered
    load would be 12.5 Erlang on 2 servers (utilisation 6.25), the queue would grow
    by about 420 tasks/s per site, and the case would measure an unbounded backlog
    rather than the engine at 10x the devices.
c
    Case a for 10 h simulated: peak memory must stay flat (the engine's memory is
    bounded by the devices and the tasks in flight, not by the tasks simulated).

Method
    Each case runs in a fresh subprocess (this script with the hidden ``--case``
    flag), pinned to one CPU with ``NUMBA_NUM_THREADS=1``. The subprocess first
    does a tiny run so the compiled kernel is loaded from the cache, then times the
    case. ``wall`` is ``Result.summary["wall_time_s"]``: the time inside
    ``Simulation.advance`` (kernel plus array growth), not building the arrays or
    summarising. Peak memory is ``getrusage(RUSAGE_SELF).ru_maxrss`` at the end of
    the subprocess (interpreter, numpy, Numba and the run together); the peak
    before the case starts is reported too, so the case's own share can be read.

    Start-up: ``cached`` is the wall time from spawning a process to the end of a
    tiny run (process start -> ``import airan`` -> build -> run) with a warm Numba
    cache, the median of three; ``cold`` is the same with ``NUMBA_CACHE_DIR``
    pointing at a fresh empty directory, and ``compile = cold - cached``. The full
    benchmark keeps its own temporary cache directory; ``--quick`` skips the cold
    measurement (about 15 s of compiling) and uses the normal cache.

The target is at least 1,000,000 simulated tasks per wall second for case a once
compiled; the script says whether it is met but never fails on it.
"""

from __future__ import annotations

import argparse
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

TARGET_TASKS_PER_S = 1_000_000.0  # for case a, once compiled
INTER_SITE_DISTANCE_M = 500.0
N_CACHED_STARTS = 3  # cached start-up runs in the full benchmark; the median is reported
SEED = 1
S_PER_H = 3600.0
MIB = 1024.0 * 1024.0

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

# name -> (devices per site, simulated s, GPU servers per site); --quick shrinks the durations
CASES: dict[str, tuple[int, float, int]] = {
    "a": (100, 1.0 * S_PER_H, 2),
    "b": (1000, 1.0 * S_PER_H, 20),
    "c": (100, 10.0 * S_PER_H, 2),
}
QUICK_DURATION_S = {"a": 60.0, "b": 60.0, "c": 600.0}  # keeps the 1 : 10 of a : c


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
    """Raw scenario data (as from TOML): 7 GPU sites, one device group spread evenly over them."""
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


# ---------------------------------------------------------------------------
# Subprocess side (hidden --case flag)
# ---------------------------------------------------------------------------


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


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


def _child_case(name: str, quick: bool, repeat: int) -> dict[str, Any]:
    """Run one case ``repeat`` times after a warm-up; report the fastest run's figures and peak memory."""
    import airan

    airan.run(airan.scenario_from_dict(tiny_scenario_dict()))  # load the compiled kernels from the cache
    rss_before_mib = _peak_rss_mib()
    n_devices_per_site, duration_s, n_servers = CASES[name]
    if quick:
        duration_s = QUICK_DURATION_S[name]
    span = f"{duration_s / S_PER_H:g} h" if duration_s >= S_PER_H else f"{duration_s:g} s"
    scenario = airan.scenario_from_dict(scenario_dict(n_devices_per_site, duration_s, n_servers))
    walls_s = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        sim = airan.Simulation(scenario)
        run_build_s = time.perf_counter() - t0
        run_summary = sim.run().summary
        del sim
        walls_s.append(run_summary["wall_time_s"])
        if run_summary["wall_time_s"] == min(walls_s):
            summary, build_s = run_summary, run_build_s  # same seed: only the times differ between repeats
    wall_s = summary["wall_time_s"]
    return {
        "description": f"7 x {n_devices_per_site} devices, {span}, c = {n_servers}",
        "devices": summary["devices"],
        "sites": summary["sites"],
        "gpu_servers_per_site": n_servers,
        "sim_time_s": summary["sim_time_s"],
        "tasks": summary["tasks_generated"],
        "tasks_completed": summary["tasks_completed"],
        "tasks_in_flight": summary["tasks_in_flight"],
        "events": summary["events"],
        "wall_s": wall_s,
        "wall_runs_s": walls_s,
        "build_s": build_s,
        "tasks_per_s": summary["tasks_generated"] / wall_s,
        "events_per_s": summary["events"] / wall_s,
        "rss_before_case_mib": rss_before_mib,
        "peak_rss_mib": _peak_rss_mib(),
        "gpu_utilization_mean": summary["gpu_utilization_mean"],
        "latency_mean_s": summary["latency_mean_s"],
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
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_model": cpu_model,
        "n_cpus": os.cpu_count(),
        "n_cpus_usable": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numba": metadata.version("numba"),
        "llvmlite": metadata.version("llvmlite"),
        "numpy": metadata.version("numpy"),
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


def run_cases(cpu: int, quick: bool, repeat: int, cache_dir: str | None) -> dict[str, dict[str, Any]]:
    env = _child_env(cache_dir)
    args = ["--cpu", str(cpu), "--repeat", str(repeat)] + (["--quick"] if quick else [])
    results = {}
    for name in CASES:
        print(f"  running case {name} ...", file=sys.stderr, flush=True)
        results[name] = _spawn(["--case", name, *args], env)[1]
    return results


def _fmt_s(value: float | None) -> str:
    return "skipped (--quick)" if value is None else f"{value:7.2f} s"


def report(data: dict[str, Any]) -> str:
    """The printed table."""
    m, st, cases, mem, tgt = data["machine"], data["startup"], data["cases"], data["memory"], data["target"]
    lines = [
        f"airan engine benchmark{' (--quick)' if data['quick'] else ''}",
        f"machine: {m['cpu_model']}, {m['n_cpus']} logical CPUs ({m['n_cpus_usable']} usable), {m['platform']}",
        f"         Python {m['python']}, numba {m['numba']} (llvmlite {m['llvmlite']}), numpy {m['numpy']}, "
        f"airan {m['airan']}",
        f"pinned to CPU {data['cpu']}, NUMBA_NUM_THREADS=1",
        "",
        f"start-up, process start -> tiny run done ({st['tiny_run']}):",
    ]
    if st["cold"] is not None:
        lines.append(f"  cold, empty cache       {_fmt_s(st['cold_s'])}")
    else:
        lines.append(f"  cold, empty cache       {_fmt_s(None)}")
    c = st["cached"]
    lines += [
        f"  cached (median of {len(st['cached_totals_s'])})     {_fmt_s(st['cached_s'])}"
        f"   (interpreter {c['interpreter_s']:.2f} s, import airan {c['import_airan_s']:.2f} s, "
        f"build {c['build_s']:.3f} s, run {c['run_s']:.3f} s)",
        f"  compile = cold - cached {_fmt_s(st['compile_s'])}",
        "",
    ]
    header = (f"{'case':<4} {'what':<30} {'tasks':>12} {'events':>12} {'wall s':>8} "
              f"{'tasks/s':>12} {'events/s':>12} {'peak RSS MiB':>13} {'before MiB':>11}")
    lines += [header, "-" * len(header)]
    for name, r in cases.items():
        lines.append(
            f"{name:<4} {r['description']:<30} {r['tasks']:>12,} {r['events']:>12,} {r['wall_s']:>8.3f} "
            f"{r['tasks_per_s']:>12,.0f} {r['events_per_s']:>12,.0f} {r['peak_rss_mib']:>13.1f} "
            f"{r['rss_before_case_mib']:>11.1f}"
        )
    lines += [
        f"(wall = Result.summary['wall_time_s'], kernel only, fastest of {data['repeat']}; "
        "'before' = peak RSS after imports and warm-up)",
        "",
        f"memory: peak RSS {mem['short']} = {mem['peak_rss_short_mib']:.1f} MiB, {mem['long']} = "
        f"{mem['peak_rss_long_mib']:.1f} MiB, ratio {mem['peak_rss_ratio']:.3f}; "
        f"above 'before': {mem['case_rss_short_mib']:.1f} vs {mem['case_rss_long_mib']:.1f} MiB",
    ]
    rate = tgt["tasks_per_s"]
    if tgt["met"] is None:
        verdict = "not judged in --quick (the runs are too short)"
    else:
        verdict = "MET" if tgt["met"] else "NOT MET"
    lines.append(
        f"target: >= {tgt['target_tasks_per_s']:,.0f} simulated tasks per wall second for case a: "
        f"{verdict} ({rate:,.0f} tasks/s)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny versions of the cases (a smoke run, seconds)")
    parser.add_argument("--json", type=Path, default=None,
                        help=f"where to write the figures (default {DEFAULT_JSON.relative_to(HERE.parent)})")
    default_cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    parser.add_argument("--cpu", type=int, default=default_cpu,
                        help="the CPU to pin the runs to (default: the first usable one)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each case in its subprocess; the fastest is reported (default 1)")
    parser.add_argument("--case", choices=["startup", *CASES], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat: must be >= 1, got {args.repeat}")

    if args.case is not None:  # subprocess side: one JSON line on stdout
        _pin(args.cpu)
        out = _child_startup() if args.case == "startup" else _child_case(args.case, args.quick, args.repeat)
        print(json.dumps(out))
        return 0

    print("measuring start-up ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="airan-bench-numba-") as tmp:
        cache_dir = None if args.quick else tmp  # full: own cache, empty for the cold start, then warm
        startup = measure_startup(args.cpu, args.quick, cache_dir)
        print("running cases ...", file=sys.stderr, flush=True)
        cases = run_cases(args.cpu, args.quick, args.repeat, cache_dir)

    short, long = cases["a"], cases["c"]
    memory = {
        "short": "case a (1 h)" if not args.quick else "case a",
        "long": "case c (10 h)" if not args.quick else "case c",
        "peak_rss_short_mib": short["peak_rss_mib"],
        "peak_rss_long_mib": long["peak_rss_mib"],
        "peak_rss_ratio": long["peak_rss_mib"] / short["peak_rss_mib"],
        "case_rss_short_mib": short["peak_rss_mib"] - short["rss_before_case_mib"],
        "case_rss_long_mib": long["peak_rss_mib"] - long["rss_before_case_mib"],
    }
    target = {
        "case": "a",
        "target_tasks_per_s": TARGET_TASKS_PER_S,
        "tasks_per_s": short["tasks_per_s"],
        "met": None if args.quick else bool(short["tasks_per_s"] >= TARGET_TASKS_PER_S),
    }
    data = {
        "quick": args.quick,
        "cpu": args.cpu,
        "repeat": args.repeat,
        "machine": machine(),
        "startup": startup,
        "cases": cases,
        "memory": memory,
        "target": target,
    }
    print(report(data))
    path = args.json or (DEFAULT_JSON_QUICK if args.quick else DEFAULT_JSON)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
