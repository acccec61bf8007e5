"""Plug-in offloading policies: a user's Numba function decides inside the compiled kernel."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from numba import njit

import airan
import airan.policies as P
from airan.policies import PolicyError

ROOT = Path(__file__).resolve().parents[1]


# -- policies registered by this module ----------------------------------------------------------

@P.register("test_always_device")
@njit
def always_device(now_s, task, options, params):
    return 0


@P.register("test_always_nearest")
def always_nearest(now_s, task, options, params):  # a plain function: compiled on registration
    return 1 if options.shape[0] > 1 else 0


@P.register("test_fastest")
@njit
def fastest(now_s, task, options, params):
    best = 0
    for row in range(1, options.shape[0]):
        if options[row, P.O_LATENCY_S] < options[best, P.O_LATENCY_S]:
            best = row
    return best


@P.register("test_threshold", parameters={"charge_min": 0.5, "unused": 1.0})
@njit
def threshold(now_s, task, options, params):
    # offload while the battery holds more than charge_min
    return 1 if task[P.T_CHARGE] > params[0] else 0


@P.register("test_sees_the_task", parameters={"deadline_s": 0.0, "flops": 0.0, "n_devices": 0.0})
@njit
def sees_the_task(now_s, task, options, params):
    # runs a task on its device only if every field it reads is what the scenario says
    ok = (task[P.T_DEADLINE_S] == params[0] and task[P.T_FLOPS] == params[1]
          and 0 <= task[P.T_DEVICE] < params[2] and task[P.T_GROUP] == 0 and task[P.T_WORKLOAD] == 0
          and task[P.T_SITE] == 0 and 0.0 < task[P.T_CHARGE] <= 1.0 and task[P.T_CPU_BACKLOG_S] >= 0.0
          and task[P.T_INPUT_BITS] == 8e4 and task[P.T_OUTPUT_BITS] == 8e3
          and options[0, P.O_NODE] == -1.0 and options[1, P.O_NODE] == 0.0 and options[1, P.O_SERVERS] == 4.0
          and options[0, P.O_SERVICE_S] == params[1] / 1e9 and options[1, P.O_SERVICE_S] == params[1] / 1e12
          and now_s >= 0.0)
    return 0 if ok else 1


@P.register("test_out_of_range")
@njit
def out_of_range(now_s, task, options, params):
    return options.shape[0]  # one past the last option


def scenario(policy: str, *, parameters: dict | None = None, **device) -> airan.Scenario:
    """Five devices on a site with a 4-server GPU, a light controlled load (as tests/test_serving.py)."""
    raw = {
        "simulation": {"duration_s": 100.0, "seed": 3},
        "policy": {"name": policy, **({"parameters": parameters} if parameters else {})},
        "sites": [{"name": "bs", "gpu": {"servers": 4, "flops_per_s": 1e12}}],
        "workloads": [{"name": "w", "flops": 1e9, "input_bytes": 1e4, "output_bytes": 1e3, "deadline_s": 10.0}],
        "devices": [{"name": "d", "count": 5, "workload": "w", "rate_hz": 0.2, "compute_flops_per_s": 1e9,
                     "power_idle_w": 0.1, "power_compute_w": 2.0, "power_tx_w": 1.0, "power_rx_w": 0.5,
                     "battery_wh": 100.0, "uplink_bps": 1e7, "downlink_bps": 1e8, **device}],
    }
    return airan.scenario_from_dict(raw)


def same_run(a: dict, b: dict) -> bool:
    drop = {"wall_time_s", "policy"}
    return {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}


@pytest.mark.parametrize(("plugin", "builtin"), [("test_always_device", "local"),
                                                 ("test_always_nearest", "offload"),
                                                 ("test_fastest", "min_latency")])
def test_a_plugin_policy_runs_inside_the_kernel_and_decides(plugin, builtin):
    # the same decisions as the built-in policy give the very same run, task by task
    mine = airan.run(scenario(plugin)).summary
    assert mine["policy"] == plugin
    assert same_run(mine, airan.run(scenario(builtin)).summary)


def test_a_plugin_policy_reads_its_parameters_and_the_battery():
    # default charge_min 0.5: a device at 0.9 offloads everything, one at 0.3 nothing
    assert airan.run(scenario("test_threshold", initial_charge=0.9)).summary["tasks_local"] == 0
    assert airan.run(scenario("test_threshold", initial_charge=0.3)).summary["tasks_offloaded"] == 0
    # the scenario's parameter overrides the default: 0.95 > 0.9, so the charged device keeps its tasks
    s = airan.run(scenario("test_threshold", parameters={"charge_min": 0.95}, initial_charge=0.9)).summary
    assert s["tasks_offloaded"] == 0 and s["tasks_local"] > 50


def test_a_plugin_policy_sees_the_task_and_the_options():
    s = airan.run(scenario("test_sees_the_task", parameters={"deadline_s": 10.0, "flops": 1e9,
                                                              "n_devices": 5.0})).summary
    assert s["tasks_generated"] > 50 and s["tasks_offloaded"] == 0  # every field as the scenario says
    s = airan.run(scenario("test_sees_the_task", parameters={"deadline_s": 9.0, "flops": 1e9,
                                                              "n_devices": 5.0})).summary
    assert s["tasks_local"] == 0  # a wrong expectation is noticed


def test_a_plugin_policy_that_returns_no_option_stops_the_run_with_one_line():
    with pytest.raises(PolicyError, match=r"^policy test_out_of_range: returned row 2, but the task had 2 options"):
        airan.run(scenario("test_out_of_range"))


def test_plugin_names_and_parameters_are_checked():
    with pytest.raises(airan.ScenarioError, match=r"policy\.name: must be one of local, offload, .*test_fastest.*, "
                                                  r"got 'nope'"):
        scenario("nope")
    with pytest.raises(airan.ScenarioError, match=r"policy\.parameters\.alpha: policy test_threshold has no such "
                                                  r"parameter \(allowed: charge_min, unused\)"):
        scenario("test_threshold", parameters={"alpha": 1.0})
    with pytest.raises(airan.ScenarioError, match=r"policy\.parameters: only used by a plug-in policy"):
        scenario("offload", parameters={"charge_min": 1.0})
    with pytest.raises(airan.ScenarioError, match=r"one plug-in policy per scenario"):
        raw = tomllib.loads(airan.dump_scenario(scenario("test_fastest")))
        raw["devices"] = [raw["devices"][0], {**raw["devices"][0], "name": "b", "policy": "test_threshold"}]
        airan.scenario_from_dict(raw)
    with pytest.raises(PolicyError, match="built-in"):
        P.register("offload")
    with pytest.raises(PolicyError, match=r"must take \(now_s, task, options, params\)"):
        P.register("test_two_args")(njit(lambda a, b: 0))


def test_a_plugin_policy_that_does_not_compile_is_reported_in_one_line():
    @P.register("test_broken")
    @njit
    def broken(now_s, task, options, params):
        return options.no_such_attribute

    with pytest.raises(PolicyError, match=r"^policy test_broken: does not compile with Numba") as info:
        airan.run(scenario("test_broken"))
    assert "\n" not in str(info.value)


def test_a_device_group_mixes_a_plugin_with_builtin_policies():
    raw = tomllib.loads(airan.dump_scenario(scenario("offload")))
    group = raw["devices"][0]
    raw["devices"] = [{**group, "name": "a", "policy": "test_always_device"}, {**group, "name": "b"}]
    s = airan.run(airan.scenario_from_dict(raw)).summary
    assert s["tasks_local"] > 20 and s["tasks_offloaded"] > 20


EXAMPLE = ROOT / "experiments" / "plugin_policy.toml"


def test_the_example_plugin_runs_from_the_cli_and_travels_with_its_results(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "airan", "run", str(EXAMPLE), "--out", str(out), "--quiet",
           "--set", "simulation.duration_s=20"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (out / "policy_plugin.py").read_text() == (ROOT / "experiments" / "plugin_policy.py").read_text()
    written = tomllib.loads((out / "scenario.toml").read_text())
    assert written["policy"]["plugin"] == "policy_plugin.py"
    # the results directory alone reruns the same run
    again = tmp_path / "again"
    proc = subprocess.run([sys.executable, "-m", "airan", "run", str(out / "scenario.toml"), "--out", str(again),
                           "--quiet"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    a = (out / "summary.json").read_text()
    b = (again / "summary.json").read_text()
    assert same_run(__import__("json").loads(a), __import__("json").loads(b))
    summary = __import__("json").loads(a)
    assert summary["tasks_offloaded"] > 0 and summary["tasks_local"] > 0  # it really chooses


def test_a_bad_plugin_file_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('oops')\n")
    text = EXAMPLE.read_text().replace('plugin = "plugin_policy.py"', f'plugin = "{bad}"')
    scenario_file = tmp_path / "s.toml"
    scenario_file.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "airan", "validate", str(scenario_file)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("airan: error: s.toml: policy.plugin: bad.py: importing the policy file failed: "
                                   "RuntimeError: oops")


def test_max_hops_keeps_a_comparing_policy_near(tmp_path):
    # two GPU nodes one and two links away; the far one is faster. min_latency takes it unless max_hops forbids
    topology = """
name = "chain"
[[sites]]
name = "bs"
[[compute]]
name = "near"
kind = "edge"
x_m = 10.0
y_m = 0.0
gpu = { servers = 1, flops_per_s = 1e10 }
[[compute]]
name = "far"
kind = "aggregation"
x_m = 1000.0
y_m = 0.0
gpu = { servers = 1, flops_per_s = 1e12 }
[[links]]
a = "bs"
b = "near"
latency_s = 0.0001
capacity_bps = 1e10
[[links]]
a = "near"
b = "far"
latency_s = 0.0001
capacity_bps = 1e10
"""
    path = tmp_path / "chain.toml"
    path.write_text(topology)
    base = scenario("min_latency")
    nodes = {}
    for hops in (None, 1):
        s = base.model_copy(update={
            "sites": None, "topology": airan.scenario.TopologyRef(file=str(path)),
            "policy": airan.scenario.Policy(name="min_latency", max_hops=hops)})
        t = airan.run(s, trace=True).trace
        nodes[hops] = set(t["node"][t["ran"] == "gpu"])
    assert nodes == {None: {"far"}, 1: {"near"}}


def test_the_readme_example_policy_compiles_and_runs():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Plug-in offloading policies"):]
    code = section[section.index("```python") + len("```python"):]
    code = code[:code.index("```")]
    exec(compile(code, "README.md", "exec"), {})
    s = airan.run(scenario("cautious", parameters={"margin": 0.5})).summary
    assert s["policy"] == "cautious" and s["tasks_generated"] > 50
    # the GPU (about 8 ms) meets half the 10 s deadline, the least loaded row wins over the device
    assert s["tasks_local"] == 0


@P.register("test_raises")
@njit
def raises(now_s, task, options, params):
    if now_s >= 0.0:
        raise ValueError("no")
    return 0


@P.register("test_scribbles", parameters={"p": 1.0})
@njit
def scribbles(now_s, task, options, params):
    # writes everywhere it can; none of it may steer the kernel or outlive the call
    options[1, P.O_NODE] = 123456.0
    ok = params[0] == 1.0
    params[0] = 99.0
    return 1 if ok else 0


def test_an_exception_inside_a_plugin_stops_the_run_with_one_line():
    with pytest.raises(PolicyError, match=r"^policy test_raises: raised an exception inside the kernel"):
        airan.run(scenario("test_raises"))


def test_what_a_plugin_writes_into_its_arrays_changes_nothing():
    s = airan.run(scenario("test_scribbles")).summary
    # every task went to the node of row 1 (not to "node 123456"), each call seeing its parameter afresh
    assert same_run(s, airan.run(scenario("offload")).summary)
