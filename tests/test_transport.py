"""Transport paths in the kernel: GPU placement, routing, propagation and a shared bottleneck link.

A task offloaded to a compute node away from its site crosses the transport
path twice: up (its input) and back (its result). Each crossing takes the
path's one-way latency plus the transfer over the path's bottleneck link, whose
capacity the transfers in flight share equally (processor sharing).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import airan
from airan import topology as tp
from airan.build import build_model

EXACT = 1e-9

LINE = """
name = "line"
description = "one site, an aggregation node and a cloud, in a line"
[[sites]]
name = "bs"
[[compute]]
name = "agg"
kind = "aggregation"
x_m = 1000.0
y_m = 0.0
[[compute]]
name = "cloud"
kind = "cloud"
x_m = 5000.0
y_m = 0.0
[[links]]
a = "bs"
b = "agg"
latency_s = 0.0005
capacity_bps = {bs_agg}
[[links]]
a = "agg"
b = "cloud"
latency_s = 0.004
capacity_bps = {agg_cloud}
"""


def line_scenario(tmp_path, *, placement: str, bs_agg: float = 1e9, agg_cloud: float = 1e8, count: int = 1,
                  rate_hz: float = 1e-3, arrival: str = "periodic", input_bytes: float = 1e5,
                  output_bytes: float = 1e4, duration_s: float = 2000.0, servers: int = 1,
                  sharing: str = "equal_time") -> airan.Scenario:
    path = tmp_path / "line.toml"
    path.write_text(LINE.format(bs_agg=bs_agg, agg_cloud=agg_cloud))
    return airan.scenario_from_dict({
        "simulation": {"duration_s": duration_s, "seed": 5},
        "channel": {"sharing": sharing},
        "topology": {"file": str(path)},
        "compute": {"placement": placement, "gpu": {"servers": servers, "flops_per_s": 1e13}},
        "workloads": [{"name": "w", "flops": 1e9, "input_bytes": input_bytes, "output_bytes": output_bytes,
                       "deadline_s": 1.0}],
        "devices": [{"name": "d", "count": count, "workload": "w", "rate_hz": rate_hz, "arrival": arrival,
                     "compute_flops_per_s": 1e9, "power_idle_w": 0.1, "power_compute_w": 1.0, "power_tx_w": 1.0,
                     "power_rx_w": 0.5, "battery_wh": 10.0, "uplink_bps": 1e7, "downlink_bps": 5e7}],
    })


@pytest.mark.parametrize(("placement", "latency_s", "bottleneck_bps"), [
    ("aggregation", 0.0005, 1e9),
    ("cloud", 0.0045, 1e8),
])
def test_a_lone_task_crosses_the_path_twice(tmp_path, placement, latency_s, bottleneck_bps):
    scenario = line_scenario(tmp_path, placement=placement)
    result = airan.run(scenario, trace=True)
    t = result.trace
    node = {"aggregation": "agg", "cloud": "cloud"}[placement]
    assert len(t["task"]) == 2 and (t["outcome"] == "completed").all() and (t["node"] == node).all()
    in_bits, out_bits = 1e5 * 8, 1e4 * 8
    # up: latency + input over the bottleneck; back: latency + result over it
    expected = 2 * latency_s + (in_bits + out_bits) / bottleneck_bps
    np.testing.assert_allclose(t["backhaul_s"], expected, rtol=EXACT)
    parts = t["uplink_s"] + t["backhaul_s"] + t["gpu_wait_s"] + t["gpu_service_s"] + t["downlink_s"]
    np.testing.assert_allclose(parts, t["latency_s"], rtol=EXACT)
    np.testing.assert_allclose(t["uplink_s"], in_bits / 1e7, rtol=EXACT)
    np.testing.assert_allclose(t["downlink_s"], out_bits / 5e7, rtol=EXACT)
    assert result.summary["backhaul_mean_s"] == pytest.approx(expected, rel=EXACT)


def test_routes_in_the_model_are_networkx_least_latency_paths(tmp_path):
    for name in ("hex19", "manhattan", "hetnet", "highway"):
        topo = tp.load_topology(name)
        graph = tp.to_graph(topo)
        raw = {
            "simulation": {"duration_s": 1.0},
            "topology": {"file": name},
            "compute": {"placement": "cloud", "gpu": {"servers": 1, "flops_per_s": 1e12}},
            "workloads": [{"name": "w", "flops": 1e9, "input_bytes": 1.0, "output_bytes": 1.0, "deadline_s": 1.0}],
            "devices": [{"name": "d", "count": 1, "profile": "smartphone", "workload": "w", "rate_hz": 1.0,
                         "uplink_bps": 1e7, "downlink_bps": 1e7}],
        }
        model, layout = build_model(airan.scenario_from_dict(raw), 1)
        cloud = layout.node_names.index(next(n.name for n in layout.topology.compute if n.kind == "cloud"))
        for s, site in enumerate(layout.site_names):
            assert model.site_gpu_node[s] == cloud
            expected = nx.shortest_path_length(graph, site, layout.node_names[cloud], weight="latency_s")
            assert model.route_latency_s[s, cloud] == pytest.approx(expected, rel=1e-12), (name, site)
            # the kernel's flow cell for the path is its smallest-capacity link (after the radio cells)
            path = tp.route_path(layout.topology, site, layout.node_names[cloud])
            capacities = [graph.edges[a, b]["capacity_bps"] for a, b in zip(path, path[1:], strict=False)]
            cell = model.route_cell[s, cloud]
            assert model.cell_rate_bps[cell] == min(capacities)


@pytest.mark.parametrize("sharing", ["equal_time", "proportional_fair"])
def test_a_loaded_bottleneck_is_processor_sharing(tmp_path, sharing):
    # Poisson arrivals (600 devices x 1/s) at a link of capacity C: M/D/1-PS, whose mean sojourn time is
    # S / (1 - rho) whatever the size distribution (insensitivity). S = 1 ms, rho = 0.6: 2.5 ms.
    # Radio rates are huge, so uplink ends are the Poisson arrivals shifted by a constant; results are
    # empty, so the way back costs nothing; propagation is 0.5 ms each way. Proportional fair is a radio
    # scheduler: transport links share equally either way. About 3.6e5 tasks, the sojourn's
    # autocorrelation spans about 20 ms of busy periods, so the mean's standard error is about 1 %;
    # 3 % is three of them.
    capacity_bps, in_bits = 8e8, 8e5
    scenario = line_scenario(tmp_path, placement="aggregation", bs_agg=capacity_bps, count=600, rate_hz=1.0,
                             arrival="poisson", input_bytes=in_bits / 8, output_bytes=0.0, duration_s=600.0,
                             servers=200, sharing=sharing)
    scenario = scenario.model_copy(update={"devices": (scenario.devices[0].model_copy(
        update={"uplink_bps": 1e15, "downlink_bps": 1e15}),)})
    s = airan.run(scenario).summary
    service_s, rho = in_bits / capacity_bps, 600 * in_bits / capacity_bps
    expected = 2 * 0.0005 + service_s / (1.0 - rho)
    assert s["backhaul_mean_s"] == pytest.approx(expected, rel=0.03)
    assert s["transport_load_max"] == pytest.approx(rho, rel=0.02)
    assert s["gpu_wait_probability"] == 0.0


def test_placements_send_every_task_to_the_right_node():
    for placement, kind in (("every_site", "site"), ("cluster", "site"), ("aggregation", "aggregation"),
                            ("cloud", "cloud")):
        raw = {
            "simulation": {"duration_s": 20.0},
            "channel": {"model": "tr38901"},
            "topology": {"file": "hex19"},
            "compute": {"placement": placement, "gpu": {"servers": 2, "flops_per_s": 1e14}},
            "workloads": [{"name": "w", "flops": 1e10, "input_bytes": 2e4, "output_bytes": 1e3, "deadline_s": 1}],
            "devices": [{"name": "d", "count": 114, "profile": "smartphone", "workload": "w", "rate_hz": 2.0}],
        }
        result = airan.run(airan.scenario_from_dict(raw), trace=True)
        nodes, t = result.nodes, result.trace
        with_gpu = nodes["gpu_servers"] > 0
        assert set(nodes["kind"][with_gpu]) == {kind}
        served = nodes["node"][nodes["gpu_services"] > 0]
        assert set(served) <= set(nodes["node"][with_gpu])
        gpu = t["ran"] == "gpu"
        assert gpu.sum() > 1000
        # each task went to its site's least-latency GPU node
        sites = result.sites
        expected = dict(zip(sites["site"], sites["gpu_node"], strict=True))
        assert all(expected[s] == n for s, n in zip(t["site"][gpu], t["node"][gpu], strict=True))
        # a task crossing to another node pays at least twice the path's latency
        latency = dict(zip(sites["site"], sites["gpu_latency_s"], strict=True))
        floor = np.array([2 * latency[s] for s in t["site"][gpu]])
        assert np.all(t["backhaul_s"][gpu] >= floor - 1e-12)
        if placement == "every_site":
            assert not np.any(t["backhaul_s"][gpu])
            assert result.summary["gpu_nodes"] == 19
        if placement == "cloud":
            assert result.summary["gpu_nodes"] == 1 and np.all(t["backhaul_s"][gpu] > 0.01)


def test_a_refused_task_learns_it_over_the_path_before_running_locally(tmp_path):
    # A GPU with no queue (capacity 0) in the cloud refuses tasks that find its server busy; the
    # refusal travels back over the path (its latency, a small message) before the device computes.
    scenario = line_scenario(tmp_path, placement="cloud", count=40, rate_hz=2.0, arrival="poisson",
                             duration_s=60.0)
    gpu = scenario.compute.gpu.model_copy(update={"flops_per_s": 2e10, "queue_capacity": 0, "on_full": "local"})
    scenario = scenario.model_copy(update={"compute": scenario.compute.model_copy(update={"gpu": gpu})})
    t = airan.run(scenario, trace=True).trace
    fallback = (t["ran"] == "fallback_local") & (t["outcome"] == "completed")
    assert fallback.sum() > 100
    in_bits = 1e5 * 8
    # up: latency + input over the shared bottleneck (at least in_bits / capacity), back: latency
    assert np.all(t["backhaul_s"][fallback] >= 2 * 0.0045 + in_bits / 1e8 - 1e-12)
    np.testing.assert_allclose((t["uplink_s"] + t["backhaul_s"] + t["local_s"])[fallback],
                               t["latency_s"][fallback], rtol=EXACT)
    alone = fallback & (t["backhaul_s"] < 2 * 0.0045 + in_bits / 1e8 + 1e-9)
    assert alone.any()  # those that crossed the link alone took exactly the path's time


def test_a_topology_without_sites_is_a_one_line_error():
    raw = {
        "simulation": {"duration_s": 1.0},
        "topology": {"generator": "poisson", "parameters": {"width_m": 100.0, "height_m": 100.0, "seed": 1}},
        "workloads": [{"name": "w", "flops": 1e9, "input_bytes": 1.0, "output_bytes": 1.0, "deadline_s": 1.0}],
        "devices": [{"name": "d", "count": 1, "profile": "smartphone", "workload": "w", "rate_hz": 1.0,
                     "uplink_bps": 1e7, "downlink_bps": 1e7}],
    }
    with pytest.raises(airan.BuildError, match=r"^topology.parameters: the topology .* has no sites$"):
        build_model(airan.scenario_from_dict(raw), 1)
