"""Partial offloading: the device runs a DNN's first layers, a GPU node the rest (policy partial)."""

from __future__ import annotations

import numpy as np
import pytest

import airan

F = 1e10  # FLOP of the whole network
DEV_FLOPS_PER_S = 1e11  # the device: 100 ms for the whole network
GPU_FLOPS_PER_S = 1e13  # a GPU server: 1 ms
SPLITS = [{"layer": "stem", "device_flops": 1e9, "upload_bytes": 1e4},
          {"layer": "body", "device_flops": 5e9, "upload_bytes": 1e3}]


def scenario(*, uplink_bps: float, rate_hz: float = 0.5, count: int = 1, duration_s: float = 200.0,
             policy: str = "partial", gpu: dict | None = None, **workload) -> airan.Scenario:
    return airan.scenario_from_dict({
        "simulation": {"duration_s": duration_s, "seed": 4},
        "policy": {"name": policy},
        "sites": [{"name": "bs", "gpu": {"servers": 1, "flops_per_s": GPU_FLOPS_PER_S, **(gpu or {})}}],
        "workloads": [{"name": "w", "flops": F, "input_bytes": 1e6, "output_bytes": 100.0, "deadline_s": 1.0,
                       "split_points": SPLITS, **workload}],
        "devices": [{"name": "d", "count": count, "workload": "w", "rate_hz": rate_hz, "arrival": "periodic",
                     "compute_flops_per_s": DEV_FLOPS_PER_S, "power_idle_w": 0.1, "power_compute_w": 2.0,
                     "power_tx_w": 1.0, "power_rx_w": 0.5, "battery_wh": 100.0, "uplink_bps": uplink_bps,
                     "downlink_bps": 1e9}],
    })


def lone_latency_s(device_flops: float, upload_bits: float, uplink_bps: float) -> float:
    """A lone task split at ``device_flops``: its layers, the upload, the rest on the GPU, the result down."""
    return (device_flops / DEV_FLOPS_PER_S + upload_bits / uplink_bps
            + (F - device_flops) / GPU_FLOPS_PER_S + 800.0 / 1e9)


def test_a_split_task_takes_its_layers_the_upload_and_the_rest_exactly():
    # at 10 Mbit/s: local 100 ms; whole 8 Mbit up 800 ms; stem 10 ms + 8 ms + 9 ms; body 50 + 0.8 + 5 ms
    expected = {"stem": lone_latency_s(1e9, 8e4, 1e7), "body": lone_latency_s(5e9, 8e3, 1e7)}
    assert expected["stem"] < expected["body"] < 0.1
    result = airan.run(scenario(uplink_bps=1e7), trace=True)
    s, t = result.summary, result.trace
    assert s["tasks_split"] == s["tasks_generated"] == s["tasks_offloaded"] > 50
    assert s["workloads"]["w"]["tasks_split_at"] == {"stem": s["tasks_generated"], "body": 0}
    done = t["outcome"] == "completed"
    assert set(t["ran"][done]) == {"split"}
    np.testing.assert_allclose(t["latency_s"][done], expected["stem"], rtol=1e-9)
    np.testing.assert_allclose(t["local_s"][done], 1e9 / DEV_FLOPS_PER_S, rtol=1e-9)
    np.testing.assert_allclose(t["uplink_s"][done], 8e4 / 1e7, rtol=1e-9)
    np.testing.assert_allclose(t["gpu_service_s"][done], (F - 1e9) / GPU_FLOPS_PER_S, rtol=1e-9)
    # the device computed its layers: compute energy = power x time, per completed task
    assert s["local_compute_mean_s"] == pytest.approx(0.01, rel=1e-9)


@pytest.mark.parametrize(("uplink_bps", "place"), [(1e6, "body"), (1e7, "stem"), (1e10, "whole"), (1e4, "local")])
def test_the_partial_policy_takes_the_fastest_cut(uplink_bps, place):
    # 1 Mbit/s: stem 10 + 80 + 9 ms = 99 ms, body 50 + 8 + 5 = 63 ms (fastest), local 100 ms;
    # 10 Gbit/s: the whole input goes up in 0.8 ms; 10 kbit/s: every upload is slower than the device
    options = {"local": 0.1, "whole": 8e6 / uplink_bps + 1e-3 + 800.0 / 1e9,
               "stem": lone_latency_s(1e9, 8e4, uplink_bps), "body": lone_latency_s(5e9, 8e3, uplink_bps)}
    assert min(options, key=options.get) == place
    s = airan.run(scenario(uplink_bps=uplink_bps)).summary
    at = s["workloads"]["w"]["tasks_split_at"]
    n = s["tasks_generated"]
    if place == "local":
        assert s["tasks_local"] == n
    elif place == "whole":
        assert s["tasks_offloaded"] == n and s["tasks_split"] == 0
    else:
        assert at[place] == n
    assert s["latency_mean_s"] == pytest.approx(options[place], rel=1e-6)


def test_a_refused_split_task_finishes_its_layers_on_the_device():
    # deadline admission with a deadline no one meets: the GPU refuses every task, which then runs
    # the rest of its layers on the device: 10 ms of stem, 8 ms of upload, then 90 ms more
    result = airan.run(scenario(uplink_bps=1e7, gpu={"admission": "deadline", "on_full": "local"}, deadline_s=1e-6),
                       trace=True)
    s, t = result.summary, result.trace
    assert s["tasks_split"] == s["tasks_fallback_local"] == s["tasks_generated"] > 50
    done = t["outcome"] == "completed"
    assert set(t["ran"][done]) == {"fallback_local"}
    np.testing.assert_allclose(t["local_s"][done], F / DEV_FLOPS_PER_S, rtol=1e-9)  # the whole network, in two parts
    np.testing.assert_allclose(t["latency_s"][done], F / DEV_FLOPS_PER_S + 8e4 / 1e7, rtol=1e-9)
    assert s["local_compute_mean_s"] == pytest.approx(F / DEV_FLOPS_PER_S, rel=1e-9)  # counted once per task


def test_split_points_are_checked():
    bad = [{"layer": "a", "device_flops": 5e9, "upload_bytes": 1.0}, {"layer": "b", "device_flops": 1e9,
                                                                         "upload_bytes": 1.0}]
    with pytest.raises(airan.ScenarioError, match=r"workloads\[0\]\.split_points\[1\]\.device_flops: must be above"):
        scenario(uplink_bps=1e7, split_points=bad)
    with pytest.raises(airan.ScenarioError, match=r"split_points\[0\]\.device_flops: .*below flops"):
        scenario(uplink_bps=1e7, split_points=[{"layer": "a", "device_flops": F, "upload_bytes": 1.0}])


def test_the_catalog_fills_resnet50s_layer_profile():
    s = airan.scenario_from_dict({
        "simulation": {"duration_s": 1.0}, "sites": [{"name": "bs"}],
        "workloads": [{"name": "w", "catalog": "classify_resnet50"}],
        "devices": [{"name": "d", "count": 1, "workload": "w", "profile": "smartphone", "uplink_bps": 1e6,
                     "downlink_bps": 1e6}]})
    assert [p.layer for p in s.workloads[0].split_points] == ["maxpool", "layer1", "layer2", "layer3", "avgpool"]


def test_a_split_task_pays_the_batch_overhead_in_full_and_is_admitted_on_its_remainder():
    # the batch overhead does not shrink with the layers left: 4 ms + 9e9 FLOP / 1e13 FLOP/s
    result = airan.run(scenario(uplink_bps=1e7, gpu={"batch_overhead_s": 4e-3}), trace=True)
    t = result.trace
    done = t["outcome"] == "completed"
    assert set(t["ran"][done]) == {"split"}
    np.testing.assert_allclose(t["gpu_service_s"][done], 4e-3 + (F - 1e9) / GPU_FLOPS_PER_S, rtol=1e-9)
    # deadline admission judges a split task by its remainder: 27 ms end to end meets a 28 ms deadline
    s = airan.run(scenario(uplink_bps=1e7, gpu={"admission": "deadline", "on_full": "local"},
                           deadline_s=0.028)).summary
    assert s["tasks_split"] == s["tasks_generated"] and s["tasks_rejected"] == 0
    assert s["deadline_miss_ratio"] == 0.0


def test_a_split_task_is_one_offloaded_task_not_a_local_one():
    result = airan.run(scenario(uplink_bps=1e7))
    assert result.summary["tasks_local"] == 0
    assert result.devices["tasks_ran_local"].sum() == 0
    refused = airan.run(scenario(uplink_bps=1e7, gpu={"admission": "deadline", "on_full": "local"}, deadline_s=1e-6))
    # refused, it runs its rest locally: one local run per task (not one per part)
    assert refused.devices["tasks_ran_local"].sum() == refused.summary["tasks_fallback_local"]
