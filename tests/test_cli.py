"""The ``airan`` command: outputs, reproducibility from a results folder, clean errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airan.results import read_parquet

ROOT = Path(__file__).resolve().parents[1]

SCENARIO = """
name = "cli"
[simulation]
duration_s = 200.0
warmup_s = 5.0
seed = 11
[[sites]]
name = "a"
gpu = { servers = 1, flops_per_s = 1e12, queue_capacity = 2, on_full = "local" }
[[sites]]
name = "b"
x_m = 500.0
[[workloads]]
name = "w"
flops = 5e10
input_bytes = 20000
output_bytes = 1000
deadline_s = 0.08
[[devices]]
name = "d"
count = 6
workload = "w"
rate_hz = 3.0
compute_flops_per_s = 1e12
power_idle_w = 0.2
power_compute_w = 3.0
power_tx_w = 1.5
power_rx_w = 0.8
battery_wh = 5.0
uplink_bps = 2e7
downlink_bps = 1e8
"""

#: The public contract of summary.json (issue 2); names must stay stable.
CONTRACT = [
    "tasks_generated", "tasks_completed", "tasks_dropped", "tasks_local", "tasks_offloaded", "offload_ratio",
    "latency_mean_s", "latency_p50_s", "latency_p95_s", "latency_p99_s", "deadline_miss_ratio",
    "local_compute_mean_s", "uplink_mean_s", "gpu_wait_mean_s", "gpu_service_mean_s", "downlink_mean_s",
    "gpu_utilization_mean", "device_energy_j", "device_energy_per_task_j", "device_power_mean_w",
    "battery_life_mean_h", "battery_life_p5_h", "devices_depleted", "sim_time_s", "wall_time_s", "events", "seed",
]


def airan(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "airan", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture()
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "cli.toml"
    path.write_text(SCENARIO)
    return path


def test_run_writes_summary_resolved_scenario_and_tables(scenario_file, tmp_path):
    out = tmp_path / "out"
    proc = airan("run", str(scenario_file), "--out", str(out), "--trace", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "latency p95 [ms]" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert [key for key in CONTRACT if key not in summary] == []
    assert summary["seed"] == 11 and summary["sim_time_s"] == 200.0
    # the trace has one row per ended task, and the summary counts match it
    trace = read_parquet(out / "trace.parquet")
    counted = trace["t_generated_s"] >= 5.0
    assert counted.sum() == summary["tasks_completed"] + summary["tasks_dropped"]
    assert (trace["outcome"][counted] == "completed").sum() == summary["tasks_completed"]
    devices = read_parquet(out / "devices.parquet")
    assert len(devices["device"]) == 6
    sites = read_parquet(out / "sites.parquet")
    assert list(sites["site"]) == ["a", "b"]


def test_results_folder_alone_reproduces_the_run(scenario_file, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    assert airan("run", str(scenario_file), "--out", str(first), "--seed", "5", "--quiet", cwd=tmp_path).returncode == 0
    # rerun from the resolved scenario written next to the results, with no other input
    assert airan("run", str(first / "scenario.toml"), "--out", str(second), "--quiet", cwd=tmp_path).returncode == 0
    a = json.loads((first / "summary.json").read_text())
    b = json.loads((second / "summary.json").read_text())
    a.pop("wall_time_s"), b.pop("wall_time_s")
    assert a == b and a["seed"] == 5


def test_set_overrides_are_applied_and_recorded(scenario_file, tmp_path):
    out = tmp_path / "local"
    proc = airan("run", str(scenario_file), "--out", str(out), "--set", "policy.name=local", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tasks_offloaded"] == 0 and summary["offload_ratio"] == 0.0
    assert 'name = "local"' in (out / "scenario.toml").read_text()


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--set", "sites.0.gpu.servers=0"], "cli.toml: sites[0].gpu.servers: must be >= 1, got 0"),
        (["--set", "devices.0.rate_hz=-1"], "cli.toml: devices[0].rate_hz: must be > 0, got -1"),
        (["--set", "simulation.colour=1"], "cli.toml: simulation.colour: unknown key"),
        (["--set", "oops"], "--set oops: must be dotted.path=value"),
        (["--seed", "-3"], "cli.toml: simulation.seed: must be >= 0 and <= 9223372036854775807, got -3"),
        (["--seed", "abc"], "argument --seed: invalid int value: 'abc'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_is_one_line_with_exit_status_2(scenario_file, tmp_path, args, expected):
    proc = airan("run", str(scenario_file), "--out", str(tmp_path / "x"), *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert not (tmp_path / "x" / "summary.json").exists()


def test_results_folder_problems_are_caught_before_the_run(scenario_file, tmp_path):
    (tmp_path / "o" / "summary.json").mkdir(parents=True)
    proc = airan("run", str(scenario_file), "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "summary.json is a folder" in proc.stderr and proc.stdout == ""


def test_missing_file_and_bad_toml(tmp_path):
    proc = airan("run", str(tmp_path / "none.toml"), cwd=tmp_path)
    assert proc.returncode == 2 and "no such scenario file" in proc.stderr and "Traceback" not in proc.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    proc = airan("validate", str(bad), cwd=tmp_path)
    assert proc.returncode == 2 and "bad.toml: not valid TOML" in proc.stderr and "Traceback" not in proc.stderr


def test_validate_accepts_the_quickstart():
    proc = airan("validate", "experiments/quickstart.toml", cwd=ROOT)
    assert proc.returncode == 0 and "valid (7 sites, 7 GPU nodes, 0 transport links, 280 devices" in proc.stdout


def test_progress_bar_reports_simulated_time(scenario_file, tmp_path):
    proc = airan("run", str(scenario_file), "--out", str(tmp_path / "p"), "--progress", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0
    assert "200.0/200.0" in proc.stderr and "sim s" in proc.stderr
