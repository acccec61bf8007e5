"""GPU serving: dynamic batching, the baseband's share of a site GPU, admission control, next-node forwarding."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

import airan

T1_S = 1e-3  # one inference alone: 1e9 FLOP at 1e12 FLOP/s


def serving_scenario(*, gpu: dict, rate_hz: float, count: int = 100, duration_s: float = 400.0,
                     deadline_s: float = 10.0, channel: dict | None = None, **extra) -> airan.Scenario:
    """One site whose GPU serves Poisson tasks from ``count`` devices over near-instant links."""
    return airan.scenario_from_dict({
        "simulation": {"duration_s": duration_s, "warmup_s": 20.0, "seed": 6},
        "channel": channel or {},
        "sites": [{"name": "bs", "gpu": {"servers": 1, "flops_per_s": 1e12, **gpu}}],
        "workloads": [{"name": "w", "flops": 1e9, "input_bytes": 0.0, "output_bytes": 0.0,
                       "deadline_s": deadline_s}],
        "devices": [{"name": "d", "count": count, "workload": "w", "rate_hz": rate_hz / count,
                     "compute_flops_per_s": 1e9, "power_idle_w": 0.1, "power_compute_w": 1.0, "power_tx_w": 1.0,
                     "power_rx_w": 0.5, "battery_wh": 1e4, "uplink_bps": 1e9, "downlink_bps": 1e9}],
        **extra,
    })


def on_topology(scenario: airan.Scenario, path, text: str, **update) -> airan.Scenario:
    """``scenario`` with its sites replaced by the topology ``text`` (written to ``path``)."""
    path.write_text(text)
    return scenario.model_copy(update={"sites": None, "topology": airan.scenario.TopologyRef(file=str(path)),
                                       **update})


def without_wall_time(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "wall_time_s"}


def test_batches_of_one_are_the_unbatched_model():
    plain = airan.run(serving_scenario(gpu={}, rate_hz=600.0)).summary
    # batch_max 1: a batching delay changes nothing (a batch of one is always full), nor does a
    # measured latency row equal to the FLOPs model
    for gpu in ({"batch_max": 1, "batch_timeout_s": 0.05}, {"batch_latency_s": {"w": [T1_S]}}):
        assert without_wall_time(airan.run(serving_scenario(gpu=gpu, rate_hz=600.0)).summary) == \
            without_wall_time(plain)
    assert plain["batch_size_mean"] == 1.0


def test_batching_raises_throughput_as_the_latency_model_implies():
    # a batch of b takes 4 ms + b x 1 ms: alone, a server manages 1 / 5 ms = 200 tasks/s; in batches
    # of 8, 8 / 12 ms = 667 tasks/s. At 400 tasks/s offered the unbatched server is overloaded and
    # completes 200/s (its queue grows); the batching one keeps up.
    gpu = {"batch_overhead_s": 4e-3}
    alone = airan.run(serving_scenario(gpu=gpu, rate_hz=400.0))
    batched = airan.run(serving_scenario(gpu={**gpu, "batch_max": 8}, rate_hz=400.0))
    # inferences served over the whole 400 s run
    assert alone.nodes["gpu_services"][0] / 400.0 == pytest.approx(200.0, rel=0.002)
    assert batched.nodes["gpu_services"][0] / 400.0 == pytest.approx(400.0, rel=0.02)
    alone, batched = alone.summary, batched.summary
    assert alone["tasks_in_flight"] > 50_000 and batched["tasks_in_flight"] < 100
    # the server is busy the fraction the batch sizes imply: each batch of b takes 4 ms + b ms
    b = batched["batch_size_mean"]
    assert 1.0 < b < 8.0
    assert batched["gpu_utilization_mean"] == pytest.approx(400.0 / b * (4e-3 + b * T1_S), rel=0.02)


def test_a_batching_delay_holds_a_lone_task_until_it_runs_out():
    # light load (1 task/s): every task waits the full 20 ms for company that never comes
    s = airan.run(serving_scenario(gpu={"batch_max": 4, "batch_timeout_s": 0.02}, rate_hz=1.0,
                                   duration_s=2000.0)).summary
    # (about 2 % of them find a second task arriving within the 20 ms, which then waits less)
    assert 0.02 * 0.97 < s["gpu_wait_mean_s"] <= 0.02
    assert s["batch_size_mean"] == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize(("priority", "share", "load", "x"),
                         [("strict", 0.5, 0.6, 0.3), ("reserved", 0.25, None, 0.25)])
def test_the_baseband_leaves_inference_one_minus_its_share(priority, share, load, x):
    # M/D/1 on the AI share: service S = t1 / (1 - x); Pollaczek-Khinchine wait rho S / (2 (1 - rho)),
    # rho = lambda S. 400 tasks/s for 380 s: the mean wait's standard error is about 1 % (measured
    # over seeds for the plain M/D/1 tests); 3 % is three of them.
    gpu = {"ran_share": share, "ran_priority": priority, **({} if load is None else {"ran_load": load})}
    lam = 400.0
    s = airan.run(serving_scenario(gpu=gpu, rate_hz=lam)).summary
    service = T1_S / (1.0 - x)
    rho = lam * service
    assert s["gpu_service_mean_s"] == pytest.approx(service, rel=1e-9)
    assert s["gpu_wait_mean_s"] == pytest.approx(rho * service / (2 * (1 - rho)), rel=0.03)
    assert s["gpu_share_ran_mean"] == pytest.approx(x, rel=1e-12)
    assert s["gpu_share_ai_mean"] == pytest.approx(lam * T1_S, rel=0.02)  # the inference work itself


def test_the_baseband_follows_the_predicted_cell_load():
    scenario = airan.scenario_from_dict({
        "simulation": {"duration_s": 10.0},
        "channel": {"model": "tr38901", "shadowing": False, "los": "los"},
        "sites": [{"name": "bs", "sectors": 3, "gpu": {"servers": 1, "flops_per_s": 1e12, "ran_share": 0.4}}],
        "workloads": [{"name": "w", "flops": 1e9, "input_bytes": 2e5, "output_bytes": 1e4, "deadline_s": 1.0}],
        "devices": [{"name": "d", "count": 60, "profile": "smartphone", "workload": "w", "rate_hz": 2.0}],
    })
    sim = airan.Simulation(scenario)
    cells = sim.layout.cells
    load = np.mean(0.5 * (cells["load_dl_predicted"] + cells["load_ul_predicted"]))
    assert 0.0 < load < 1.0
    assert sim.layout.node_ran_fraction[0] == pytest.approx(0.4 * load, rel=1e-12)


def test_deadline_admission_refuses_what_would_be_late():
    # overloaded (1.5 Erlang): with queue admission the queue grows without bound and most tasks are
    # late; with deadline admission, tasks expected to be late run locally instead, and those the GPU
    # keeps meet the 5 ms deadline (the estimate misses at most the one task in service: 1 ms)
    deadline = 5e-3
    late = airan.run(serving_scenario(gpu={"on_full": "local"}, rate_hz=1500.0, duration_s=60.0,
                                      deadline_s=deadline), trace=True)
    kept = airan.run(serving_scenario(gpu={"on_full": "local", "admission": "deadline"}, rate_hz=1500.0,
                                      duration_s=60.0, deadline_s=deadline), trace=True)
    gpu_late = late.trace["ran"] == "gpu"
    assert np.mean(late.trace["latency_s"][gpu_late] > deadline) > 0.9
    gpu_kept = kept.trace["ran"] == "gpu"
    assert kept.summary["tasks_rejected"] > 0 and kept.summary["tasks_fallback_local"] > 0
    assert np.max(kept.trace["latency_s"][gpu_kept]) <= deadline + T1_S + 1e-9
    assert kept.summary["gpu_utilization_mean"] > 0.95  # refusing late work keeps the GPU busy


def test_a_refused_task_moves_on_to_the_next_node(tmp_path):
    topology = """
name = "two_nodes"
[[sites]]
name = "bs"
gpu = { servers = 1, flops_per_s = 1e12, queue_capacity = 0, on_full = "next_node" }
[[compute]]
name = "agg"
kind = "aggregation"
x_m = 1000.0
y_m = 0.0
gpu = { servers = 4, flops_per_s = 1e12 }
[[links]]
a = "bs"
b = "agg"
latency_s = 0.0005
capacity_bps = 1e10
"""
    scenario = on_topology(serving_scenario(gpu={}, rate_hz=1500.0, duration_s=30.0), tmp_path / "two.toml", topology)
    result = airan.run(scenario, trace=True)
    t, s = result.trace, result.summary
    at = {n: int(np.sum((t["node"] == n) & (t["outcome"] == "completed"))) for n in ("bs-gpu", "agg")}
    assert at["bs-gpu"] > 1000 and at["agg"] > 1000
    assert s["tasks_forwarded"] > 0 and s["tasks_dropped"] == 0
    # a forwarded task crosses the path to the aggregation node and back: at least 2 x 0.5 ms
    assert np.all(t["backhaul_s"][t["node"] == "agg"] >= 1e-3 - 1e-12)
    assert np.all(t["backhaul_s"][t["node"] == "bs-gpu"] == 0.0)


def llm_scenario(*, gpu: dict, count: int, rate_hz: float, duration_s: float, arrival: str = "periodic"):
    return airan.scenario_from_dict({
        "simulation": {"duration_s": duration_s, "seed": 8},
        "sites": [{"name": "bs", "gpu": {"servers": 1, "accelerator": "h100", **gpu}}],
        "workloads": [{"name": "chat", "catalog": "llm_llama31_8b_chat"}],
        "devices": [{"name": "d", "count": count, "profile": "smartphone", "workload": "chat", "arrival": arrival,
                     "rate_hz": rate_hz, "uplink_bps": 5e7, "downlink_bps": 1e8}],
    })


def test_a_lone_llm_turn_prefills_compute_bound_and_decodes_memory_bound():
    from airan.profiles import accelerator_profile
    from airan.workloads import workload_profile

    gpu, row = accelerator_profile("h100"), workload_profile("llm_llama31_8b_chat")
    sim = airan.Simulation(llm_scenario(gpu={}, count=1, rate_hz=1 / 100.0, duration_s=300.0), trace=True)
    result = sim.run()
    t, w = result.trace, result.summary["workloads"]["chat"]
    weight_bytes = row.params * 2.0  # bf16
    prefill_s = row.prefill_flops / gpu.flops_per_s
    step_s = max(weight_bytes / gpu.memory_bw_bytes_per_s, row.decode_flops_per_token / gpu.flops_per_s)
    assert weight_bytes / gpu.memory_bw_bytes_per_s > row.decode_flops_per_token / gpu.flops_per_s  # memory-bound
    np.testing.assert_allclose(t["gpu_service_s"], prefill_s + row.output_tokens * step_s, rtol=1e-12)
    assert w["tokens_per_s"] == pytest.approx(1.0 / step_s, rel=1e-9)
    # first token: uplink, the prefill, and the token's airtime (co-located GPU: no path)
    first = t["uplink_s"] + prefill_s + row.output_bytes * 8 / row.output_tokens / 1e8
    assert w["ttft_mean_s"] == pytest.approx(float(np.mean(first)), rel=1e-9)


def test_batched_decoding_multiplies_throughput_while_memory_bound():
    # eight requests together: every decode step still reads the weights once (memory-bound), so each
    # request keeps its tokens/s and the GPU serves eight times the tokens
    one = airan.run(llm_scenario(gpu={"batch_max": 8, "batch_timeout_s": 10.0}, count=1, rate_hz=0.1,
                                 duration_s=100.0)).summary
    eight = airan.run(llm_scenario(gpu={"batch_max": 8, "batch_timeout_s": 10.0}, count=8, rate_hz=0.1,
                                   duration_s=100.0)).summary
    assert one["batch_size_mean"] == 1.0
    assert eight["batch_size_mean"] > 6.0  # all eight within one 10 s period
    # per request: the same decode rate (the prefill grows with the batch, the steps do not)
    assert eight["workloads"]["chat"]["tokens_per_s"] == pytest.approx(
        one["workloads"]["chat"]["tokens_per_s"], rel=1e-9)


def test_time_integrals_and_gpu_energy_count_batching_delays_and_the_baseband():
    # light load with a batching delay: the GPU idles while tasks wait, so its utilisation is the
    # work done (about 1 task/s x 1 ms) and Little's law holds for the queue (1/s x 20 ms)
    s = airan.run(serving_scenario(gpu={"batch_max": 4, "batch_timeout_s": 0.02}, rate_hz=1.0,
                                   duration_s=2000.0)).summary
    assert s["gpu_utilization_mean"] == pytest.approx(1.0 * T1_S, rel=0.05)
    assert s["gpu_queue_length_mean"] == pytest.approx(1.0 * s["gpu_wait_mean_s"], rel=0.05)
    # energy: idle power all the time plus (peak - idle) x the work: the baseband's share always,
    # inference on the rest
    gpu = {"power_idle_w": 50.0, "power_peak_w": 250.0, "ran_share": 0.5, "ran_load": 0.8}
    result = airan.run(serving_scenario(gpu=gpu, rate_hz=100.0, duration_s=100.0))
    x, work = 0.4, result.nodes["gpu_services"][0] * T1_S  # inference work at full speed, s
    expected = 50.0 * 100.0 + 200.0 * (x * 100.0 + work)
    assert result.summary["gpu_energy_j"] == pytest.approx(expected, rel=1e-3)


def test_refusals_count_tasks_once_along_a_chain_of_nodes(tmp_path):
    # three GPU nodes without queues, chained by latency: a task refused by two and served by the third,
    # or refused by all and run locally, counts once in tasks_rejected; accepted tasks at most once
    topology = """
name = "chain"
[[sites]]
name = "bs"
gpu = { servers = 1, flops_per_s = 1e12, queue_capacity = 0, on_full = "next_node" }
[[compute]]
name = "edge"
kind = "edge"
x_m = 100.0
y_m = 0.0
gpu = { servers = 1, flops_per_s = 1e12, queue_capacity = 0, on_full = "next_node" }
[[compute]]
name = "agg"
kind = "aggregation"
x_m = 1000.0
y_m = 0.0
gpu = { servers = 1, flops_per_s = 1e12, queue_capacity = 0, on_full = "local" }
[[links]]
a = "bs"
b = "edge"
latency_s = 0.0001
capacity_bps = 1e10
[[links]]
a = "edge"
b = "agg"
latency_s = 0.0004
capacity_bps = 1e10
"""
    scenario = on_topology(serving_scenario(gpu={}, rate_hz=3000.0, duration_s=40.0), tmp_path / "chain.toml",
                           topology)
    result = airan.run(scenario, trace=True)
    s, t = result.summary, result.trace
    counted = t["counted"]
    served_later = counted & (t["ran"] == "gpu") & (t["node"] != "bs-gpu")
    # (refused tasks still on their way at the end have no trace row yet)
    ended = int(np.sum(served_later)) + s["tasks_fallback_local"] + s["tasks_dropped_queue_full"]
    assert 0 <= s["tasks_rejected"] - ended <= s["tasks_in_flight"]
    assert 0 <= s["tasks_forwarded"] - (int(np.sum(served_later)) + s["tasks_fallback_local"]) <= s["tasks_in_flight"]
    assert s["tasks_rejected"] <= s["tasks_generated"] and 0.0 < s["gpu_accepted_ratio"] <= 1.0
    assert result.nodes["gpu_rejected"].sum() > s["tasks_rejected"]  # refusals, counted per node


def policy_runs(policy: str, *, deadline_s: float = 10.0, **device) -> dict:
    """Which way each task of a light, controlled load went under ``policy`` (counts by place)."""
    raw = {
        "simulation": {"duration_s": 100.0, "seed": 3},
        "policy": {"name": policy},
        "sites": [{"name": "bs", "gpu": {"servers": 4, "flops_per_s": 1e12}}],
        "workloads": [{"name": "w", "flops": 1e9, "input_bytes": 1e4, "output_bytes": 1e3, "deadline_s": deadline_s}],
        "devices": [{"name": "d", "count": 5, "workload": "w", "rate_hz": 0.2, "compute_flops_per_s": 1e9,
                     "power_idle_w": 0.1, "power_compute_w": 2.0, "power_tx_w": 1.0, "power_rx_w": 0.5,
                     "battery_wh": 100.0, "uplink_bps": 1e7, "downlink_bps": 1e8, **device}],
    }
    s = airan.run(airan.scenario_from_dict(raw)).summary
    return {"local": s["tasks_local"], "gpu": s["tasks_offloaded"]}


def test_min_energy_takes_the_option_that_costs_the_device_less():
    # local: 1 s at 2 W = 2 J against offloading: 8 ms of uplink at 1 W (+ 0.08 ms down) = 8 mJ
    assert policy_runs("min_energy")["local"] == 0
    # a frugal CPU (1 mJ a task) against the same radio: local, although it takes 1 s against 10 ms
    assert policy_runs("min_energy", power_compute_w=0.001)["gpu"] == 0
    assert policy_runs("min_latency", power_compute_w=0.001)["local"] == 0


def test_deadline_takes_the_cheapest_option_that_meets_it_else_the_fastest():
    # the frugal CPU is cheaper but misses a 0.1 s deadline: the GPU meets it, so the GPU
    assert policy_runs("deadline", deadline_s=0.1, power_compute_w=0.001)["local"] == 0
    # with 20 s both meet it (the CPU's backlog at this load stays far below): the cheaper, local
    assert policy_runs("deadline", deadline_s=20.0, power_compute_w=0.001)["gpu"] == 0
    # nothing meets 1 ms: the fastest, the GPU
    assert policy_runs("deadline", deadline_s=0.001, power_compute_w=0.001)["local"] == 0


SLOW_SITE = """
name = "slow_site"
[[sites]]
name = "bs"
gpu = { servers = 1, flops_per_s = 1e10 }
[[compute]]
name = "agg"
kind = "aggregation"
x_m = 1000.0
y_m = 0.0
gpu = { servers = 1, flops_per_s = 1e12 }
[[links]]
a = "bs"
b = "agg"
latency_s = 0.0005
capacity_bps = 1e10
"""


def slow_site_trace(tmp_path, policy: str, *, rate_hz: float = 2.0, deadline_s: float = 10.0):
    """The site's own GPU is slow (100 ms a task), the aggregation node's fast (1 ms, 1 ms away both ways)."""
    scenario = on_topology(serving_scenario(gpu={}, rate_hz=rate_hz, duration_s=100.0, deadline_s=deadline_s),
                           tmp_path / "slow_site.toml", SLOW_SITE, policy=airan.scenario.Policy(name=policy))
    t = airan.run(scenario, trace=True).trace
    return t["node"][t["ran"] == "gpu"]


def test_min_latency_looks_past_the_nearest_gpu(tmp_path):
    assert set(slow_site_trace(tmp_path, "offload")) == {"bs-gpu"}
    assert set(slow_site_trace(tmp_path, "min_latency")) == {"agg"}


def test_cloud_fallback_leaves_a_nearest_gpu_that_would_be_late(tmp_path):
    assert set(slow_site_trace(tmp_path, "cloud_fallback", deadline_s=1.0)) == {"bs-gpu"}
    assert set(slow_site_trace(tmp_path, "cloud_fallback", deadline_s=0.05)) == {"agg"}


@pytest.mark.parametrize("deadline_s", [0.05, 0.15, 2.0])
def test_deadline_policy_meets_the_deadline_whenever_an_option_can(tmp_path, deadline_s):
    # the device takes 1 s, the site's GPU 100 ms (plus its queue), the aggregation node 1 ms plus
    # 1 ms of path: each deadline here is within reach of at least one option, and the deadline
    # policy, estimating queues and paths, never misses one; always offloading to the nearest GPU
    # misses all of the 50 ms ones, computing locally everything but the 2 s ones
    def run(policy):
        scenario = on_topology(serving_scenario(gpu={}, rate_hz=2.0, duration_s=200.0, deadline_s=deadline_s),
                               tmp_path / "slow_site.toml", SLOW_SITE, policy=airan.scenario.Policy(name=policy))
        return airan.run(scenario).summary

    chosen = run("deadline")
    assert chosen["tasks_completed"] > 300
    assert chosen["deadline_miss_ratio"] == 0.0
    assert run("local")["deadline_miss_ratio"] == (0.0 if deadline_s > 1.0 else 1.0)
    if deadline_s < 0.1:
        assert run("offload")["deadline_miss_ratio"] == 1.0


def test_least_loaded_spreads_the_tasks_over_the_nodes(tmp_path):
    # at 20 tasks/s the slow site GPU (10/s) would be swamped; least_loaded sends each task to the
    # node with fewer tasks per server, so both work and neither queue grows
    nodes = slow_site_trace(tmp_path, "least_loaded", rate_hz=20.0)
    assert np.sum(nodes == "bs-gpu") > 100 and np.sum(nodes == "agg") > 1000


def test_battery_policy_saves_energy_once_the_battery_is_low():
    # above the threshold the fastest (the GPU), below it the cheapest (the frugal CPU)
    assert policy_runs("battery", power_compute_w=0.001, initial_charge=0.9)["local"] == 0
    assert policy_runs("battery", power_compute_w=0.001, initial_charge=0.3)["gpu"] == 0


def partitioned(*, rate_a_hz: float, rate_b_hz: float, partitions: list | None, duration_s: float = 800.0,
                **gpu) -> airan.Scenario:
    """One site whose 1e12 FLOP/s GPU serves workloads a and b (1e9 FLOP each), whole or in MIG partitions."""
    workloads = [{"name": n, "flops": 1e9, "input_bytes": 0.0, "output_bytes": 0.0, "deadline_s": 10.0}
                 for n in ("a", "b", "c")]
    device = {"compute_flops_per_s": 1e9, "power_idle_w": 0.1, "power_compute_w": 1.0, "power_tx_w": 1.0,
              "power_rx_w": 0.5, "battery_wh": 1e4, "uplink_bps": 1e9, "downlink_bps": 1e9}
    groups = [{"name": f"d{w}", "count": 100, "workload": w, "rate_hz": rate / 100, **device}
              for w, rate in (("a", rate_a_hz), ("b", rate_b_hz)) if rate > 0]
    return airan.scenario_from_dict({
        "simulation": {"duration_s": duration_s, "warmup_s": 20.0, "seed": 6},
        "sites": [{"name": "bs", "gpu": {"servers": 1, "flops_per_s": 1e12,
                                         **({"partitions": partitions} if partitions else {}), **gpu}}],
        "workloads": workloads, "devices": groups})


MIG = [{"name": "small", "slices": 3, "workloads": ["a"]}, {"name": "large", "slices": 4, "workloads": ["b"]}]


def test_a_mig_partition_is_its_own_md1_queue_at_its_share_of_the_gpu():
    # partition small has 3 of 7 slices: a task takes 1 ms x 7 / 3; at 200 tasks/s, M/D/1
    lam = 200.0
    s = airan.run(partitioned(rate_a_hz=lam, rate_b_hz=50.0, partitions=MIG)).summary
    service = T1_S * 7 / 3
    rho = lam * service
    wait = rho * service / (2 * (1 - rho))
    assert s["workloads"]["a"]["latency_mean_s"] == pytest.approx(service + wait, rel=0.03)
    assert s["workloads"]["b"]["latency_p50_s"] == pytest.approx(T1_S * 7 / 4, rel=0.01)  # mostly alone


def test_mig_partitions_isolate_a_workload_from_anothers_overload():
    light = airan.run(partitioned(rate_a_hz=200.0, rate_b_hz=50.0, partitions=MIG))
    heavy = airan.run(partitioned(rate_a_hz=200.0, rate_b_hz=800.0, partitions=MIG))  # b: 800/s > 571/s served
    # a's partition never sees b's tasks: a's tasks go through exactly as before
    assert heavy.summary["workloads"]["a"] == light.summary["workloads"]["a"]
    assert heavy.summary["workloads"]["b"]["latency_mean_s"] > 10 * light.summary["workloads"]["b"]["latency_mean_s"]
    # sharing the whole GPU instead, b's overload swamps a
    whole = airan.run(partitioned(rate_a_hz=200.0, rate_b_hz=800.0, partitions=None)).summary
    assert whole["workloads"]["a"]["latency_mean_s"] > 10 * light.summary["workloads"]["a"]["latency_mean_s"]
    # utilisation counts an instance's share of the GPU: each task is 1 ms of the whole GPU's work
    nodes = light.nodes
    assert nodes["gpu_servers"][0] == 1 and nodes["gpu_instances"][0] == 2
    assert nodes["gpu_utilization"][0] == pytest.approx((200.0 + 50.0) * T1_S, rel=0.02)


def test_a_workload_no_partition_serves_is_refused():
    raw = {"name": "c_only", "slices": 1, "workloads": ["c"]}
    s = airan.run(partitioned(rate_a_hz=20.0, rate_b_hz=20.0, partitions=[raw], duration_s=100.0)).summary
    assert s["tasks_completed"] == 0 and s["tasks_dropped_queue_full"] == s["tasks_generated"] > 0
    assert s["tasks_rejected"] == s["tasks_generated"]


@pytest.mark.parametrize(("partitions", "message"), [
    ([{"name": "x", "slices": 4, "workloads": ["a"]}, {"name": "y", "slices": 4, "workloads": ["b"]}],
     r"sites\[0\]\.gpu\.partitions: the instances take 8 slices, more than the GPU's mig_slices \(7\)"),
    ([{"name": "x", "slices": 1, "workloads": ["a"]}, {"name": "y", "slices": 1, "workloads": ["a"]}],
     r"partitions\[1\]\.workloads: 'a' is already served by another partition"),
    ([{"name": "x", "slices": 1, "workloads": ["a"]}, {"name": "x", "slices": 1, "workloads": ["b"]}],
     r"partitions\[1\]\.name: must be unique"),
])
def test_bad_partitions_are_one_line_errors(partitions, message):
    with pytest.raises(airan.ScenarioError, match=message):
        partitioned(rate_a_hz=1.0, rate_b_hz=1.0, partitions=partitions)


def test_a_partition_naming_no_workload_is_a_build_error():
    bad = [{"name": "x", "slices": 1, "workloads": ["nope"]}]
    with pytest.raises(airan.BuildError, match=r"gpu\.partitions\[0\]\.workloads: 'nope' is not a workload"):
        airan.run(partitioned(rate_a_hz=1.0, rate_b_hz=1.0, partitions=bad))


def test_comparing_policies_pass_over_a_node_whose_partitions_do_not_serve_the_workload(tmp_path):
    # the nearer node's only partition serves another workload: least_loaded and the others go to the far one
    topology = SLOW_SITE.replace('gpu = { servers = 1, flops_per_s = 1e10 }',
                                 'gpu = { servers = 1, flops_per_s = 1e12, partitions = [{ name = "other", '
                                 'slices = 7, workloads = ["x"] }] }')
    for policy in ("least_loaded", "min_latency", "deadline"):
        base = serving_scenario(gpu={}, rate_hz=20.0, duration_s=50.0)
        raw = tomllib.loads(airan.dump_scenario(base))
        raw["workloads"].append({**raw["workloads"][0], "name": "x"})
        base = airan.scenario_from_dict(raw)
        scenario = on_topology(base, tmp_path / "slow_site.toml", topology, policy=airan.scenario.Policy(name=policy))
        t = airan.run(scenario, trace=True).trace
        assert set(t["node"][t["ran"] == "gpu"]) == {"agg"}, policy
        assert np.all(t["outcome"] == "completed")
