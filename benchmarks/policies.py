"""Cost of the offloading policies and the arrival processes on the engine baseline.

Usage::

    python benchmarks/policies.py [--quick] [--json OUT.json] [--repeat N]

Prints a table and writes the figures as JSON (default
``benchmarks/results/policies.json``; ``policies_quick.json`` with ``--quick``).

Scenario: case a of benchmarks/engine.py (7 GPU sites of 2 servers, ideal
channel, 100 devices per site offloading 0.5 task/s, 1 h simulated), run once
per built-in policy with Poisson arrivals, then with ``offload`` once per other
arrival process: periodic frames, periodic with 0.5 s of jitter, MMPP (on and
off periods of 10 s, 0.1 task/s while off, ``rate_hz`` while on) and a trace
(500 exponential gaps of mean 2 s, replayed by every device from its own
offset). ``partial`` has no layer profile for case a's workload, so it compares
running locally with offloading whole, as ``min_latency`` does; ``local``
offloads nothing.

Figures: wall_s (inside ``Simulation.advance``, as in benchmarks/engine.py),
tasks, tasks/s and events/s, and each case's cost per task relative to
``offload`` with Poisson arrivals: ``wall_s / tasks - wall_offload / tasks_offload``.
Each case runs ``--repeat`` times in this process after a tiny compile run;
the fastest wall time is reported. Not pinned: run it on an idle machine, or
under ``taskset -c N``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import engine as bench  # noqa: E402 - case a's scenario

DEFAULT_JSON = HERE / "results" / "policies.json"
DEFAULT_JSON_QUICK = HERE / "results" / "policies_quick.json"

PER_SITE, DURATION_S = 100, 3600.0
QUICK_PER_SITE, QUICK_DURATION_S = 10, 60.0
POLICIES = ("offload", "local", "min_latency", "min_energy", "deadline", "least_loaded", "battery",
            "cloud_fallback", "partial")
ARRIVALS = {
    "periodic": {"arrival": "periodic"},
    "periodic, 0.5 s jitter": {"arrival": "periodic", "jitter_s": 0.5},
    "mmpp": {"arrival": "mmpp", "mmpp_on_s": 10.0, "mmpp_off_s": 10.0, "mmpp_off_rate_hz": 0.1},
    "trace": {"arrival": "trace"},  # the trace file is written at run time
}


def case_dict(per_site: int, duration_s: float, policy: str, arrival: dict[str, Any]) -> dict[str, Any]:
    raw = bench.scenario_dict(per_site, duration_s, 2)
    raw["policy"] = {"name": policy}
    group = raw["devices"][0]
    group.update(arrival)
    if group.get("arrival") == "trace":
        group.pop("rate_hz", None)
    return raw


def run_case(raw: dict[str, Any], repeat: int) -> dict[str, Any]:
    import airan

    scenario = airan.scenario_from_dict(raw)
    best = None
    for _ in range(repeat):
        s = airan.Simulation(scenario).run().summary
        if best is None or s["wall_time_s"] < best["wall_s"]:
            best = {"wall_s": s["wall_time_s"], "tasks": s["tasks_generated"], "events": s["events"],
                    "tasks_per_s": s["tasks_generated"] / s["wall_time_s"],
                    "events_per_s": s["events"] / s["wall_time_s"], "offloaded": s["tasks_offloaded"]}
    assert best is not None
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    parser.add_argument("--json", default=None, help="where to write the figures")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the fastest is reported")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat: must be >= 1, got {args.repeat}")
    per_site, duration_s = (QUICK_PER_SITE, QUICK_DURATION_S) if args.quick else (PER_SITE, DURATION_S)
    import airan

    airan.run(airan.scenario_from_dict(bench.tiny_scenario_dict()))  # compile or load the kernels
    cases: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="airan-bench-policies-") as tmp:
        trace = Path(tmp) / "trace.csv"
        gaps_s = np.random.default_rng(bench.SEED).exponential(2.0, 500)
        trace.write_text("t_s\n" + "\n".join(f"{t:.6f}" for t in np.cumsum(gaps_s)) + "\n")
        for policy in POLICIES:
            cases[f"{policy} / poisson"] = run_case(case_dict(per_site, duration_s, policy, {}), args.repeat)
        for name, arrival in ARRIVALS.items():
            arrival = {**arrival, "trace_file": str(trace)} if arrival["arrival"] == "trace" else arrival
            cases[f"offload / {name}"] = run_case(case_dict(per_site, duration_s, "offload", arrival), args.repeat)
    base = cases["offload / poisson"]
    for c in cases.values():
        c["extra_ns_per_task"] = (c["wall_s"] / c["tasks"] - base["wall_s"] / base["tasks"]) * 1e9
    data = {
        "machine": {"cpu_model": platform.processor() or platform.machine(), "python": platform.python_version(),
                    "numba": metadata.version("numba"), "numpy": metadata.version("numpy")},
        "size": {"sites": 7, "devices": 7 * per_site, "duration_s": duration_s},
        "cases": cases,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    print(f"case a's model: 7 sites x {per_site} devices, {duration_s:g} s simulated")
    print(f"{'policy / arrivals':32} {'tasks':>11} {'wall s':>8} {'tasks/s':>11} {'events/s':>11} "
          f"{'ns/task vs offload':>19}")
    for name, c in cases.items():
        print(f"{name:32} {c['tasks']:11,} {c['wall_s']:8.3f} {c['tasks_per_s']:11,.0f} {c['events_per_s']:11,.0f} "
              f"{c['extra_ns_per_task']:+19.0f}")
    out = Path(args.json) if args.json else (DEFAULT_JSON_QUICK if args.quick else DEFAULT_JSON)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
