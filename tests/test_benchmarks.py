"""Smoke run of benchmarks/engine.py at its --quick size: it runs and writes its figures.

Speed itself is not tested here (it lives in benchmarks/); only that each case, the SimPy
peer, the sweep and every target are there, with positive figures.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "engine.py"

TARGETS = {"a_tasks_per_s", "a_vs_simpy", "peer_latency", "b_tasks_per_s", "c_wall_plus_build_s",
           "memory_growth", "cached_startup_s", "sweep_efficiency"}


def test_engine_benchmark_quick(tmp_path):
    out = tmp_path / "engine.json"
    # under a minute with a warm Numba cache; a cold cache first compiles the kernels (minutes)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr  # without SimPy: one line on how to install it
    assert "tasks/s" in proc.stdout and "not judged" in proc.stdout

    data = json.loads(out.read_text())
    assert {"machine", "startup", "cases", "peer", "memory", "sweep", "targets"} <= set(data)
    assert {"cpu_model", "n_cpus", "python", "numba", "numpy", "simpy"} <= set(data["machine"])
    assert data["startup"]["cached_s"] > 0
    assert data["startup"]["cold_s"] is None  # skipped in --quick

    assert set(data["cases"]) == {"a", "b", "c", "a_10h"}
    for case in data["cases"].values():
        assert case["tasks"] > 0 and case["events"] >= case["tasks"]
        assert case["wall_s"] > 0 and case["build_s"] > 0
        assert case["tasks_per_s"] > 0 and case["events_per_s"] > 0
        assert case["peak_rss_mib"] > 0
    c = data["cases"]["c"]
    assert c["mobility_steps"] > 0 and c["device_steps_per_s"] > 0 and c["handovers_per_device_hour"] >= 0
    assert c["wall_plus_build_s"] == pytest.approx(c["wall_s"] + c["build_s"])

    peer = data["peer"]
    for side in ("airan", "simpy"):
        assert peer[side]["latency_mean_s"] > 0 and peer[side]["tasks_per_s"] > 0
    assert isinstance(peer["latency_difference"], float) and math.isfinite(peer["latency_difference"])
    assert peer["speed_ratio"] > 0

    assert data["memory"]["peak_rss_ratio"] > 0

    sweep = data["sweep"]
    for key in ("serial", "parallel"):
        assert sweep[key]["runs"] == sweep["points"] and sweep[key]["failed"] == 0
        assert sweep[key]["wall_s"] > 0 and sweep[key]["tasks_per_s"] > 0
    assert sweep["scaling_efficiency"] > 0

    targets = {t["name"]: t for t in data["targets"]}
    assert set(targets) == TARGETS
    for t in targets.values():
        assert t["met"] is None  # --quick judges no target
        assert math.isfinite(t["value"]) and t["target"] > 0


def test_policies_benchmark_quick(tmp_path):
    out = tmp_path / "policies.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "policies.py"), "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    cases = json.loads(out.read_text())["cases"]
    from airan.scenario import POLICY_NAMES

    assert {f"{p} / poisson" for p in POLICY_NAMES} | {"offload / mmpp", "offload / trace"} <= set(cases)
    for case in cases.values():
        assert case["tasks"] > 0 and case["events"] >= case["tasks"] and case["tasks_per_s"] > 0
    # the policy decides where a task runs, never when tasks arrive: the same arrivals under every policy
    assert len({cases[f"{p} / poisson"]["tasks"] for p in POLICY_NAMES}) == 1
    assert cases["local / poisson"]["offloaded"] == 0 and cases["offload / poisson"]["offloaded"] > 0
