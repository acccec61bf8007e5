"""The Numba kernel against the slow, obvious reference in ``reference_sim.py``.

Each case draws a small random scenario (1-3 sites, some without a GPU; 1-12
devices in 1-3 groups; Poisson or periodic arrivals; exponential or
deterministic service; queue capacities 0, small or unlimited; drop or local
fallback on a full queue; local or offload policy; batteries small enough that
some devices empty during the run; 20-200 s), runs it through both simulators
with the same random streams, and compares them task by task.

Tolerance: both simulators compute every time from the same random draws with
sums and differences of event times below ~200 s, by different routes (virtual
time against remaining airtime, per-event energy integration against a
scheduled battery-empty instant). Their rounding error is ~1e-16 * 200 s * (a few
hundred operations) < 1e-11 s, so 1e-9 relative or absolute catches any
modelling difference while ignoring rounding.

Ties in time: the kernel breaks them by scheduling order, the reference by its
own (different) scheduling order. Every time here is continuous and random, so
ties do not happen, with one deliberate exception: zero-byte transfers end at the
instant they start, which both simulators handle after whatever else happens at
that instant.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from reference_sim import simulate

import airan
from airan import engine
from airan.build import build_model
from airan.simulation import Simulation

TOL = 1e-9  # relative and absolute, see the module docstring

TRACE_TIMES = ("t_generated_s", "t_end_s", "local_s", "uplink_s", "gpu_wait_s", "gpu_service_s", "downlink_s")
CELL_ARRAYS = ("cell_flows", "cell_head", "cell_vtime_s", "cell_vmin_s", "cell_t_last_s", "cell_event_seq",
               "cell_busy_s", "cell_bits")


# ---------------------------------------------------------------------------
# Random small scenarios
# ---------------------------------------------------------------------------


def random_raw(rng: np.random.Generator) -> dict:
    """A small random scenario as raw data (every float a float: the schema is strict)."""
    duration_s = float(rng.uniform(20.0, 200.0))
    n_sites = int(rng.integers(1, 4))
    sites = []
    for s in range(n_sites):
        site = {"name": f"s{s}"}
        if rng.random() < 0.75:
            gpu = {
                "servers": int(rng.integers(1, 4)),
                "flops_per_s": float(10 ** rng.uniform(10.8, 12.2)),
                "service": str(rng.choice(["deterministic", "exponential"])),
                "on_full": str(rng.choice(["drop", "local"])),
            }
            capacity = rng.choice([-1, 0, 1, 3])
            if capacity >= 0:
                gpu["queue_capacity"] = int(capacity)
            site["gpu"] = gpu
        sites.append(site)
    workloads = [
        {
            "name": f"w{w}",
            "flops": float(10 ** rng.uniform(10.0, 11.3)),
            "input_bytes": 0.0 if rng.random() < 0.15 else float(10 ** rng.uniform(3.0, 5.3)),
            "output_bytes": 0.0 if rng.random() < 0.15 else float(10 ** rng.uniform(2.0, 4.7)),
            "deadline_s": float(rng.uniform(0.1, 2.0)),
        }
        for w in range(int(rng.integers(1, 3)))
    ]
    n_groups = int(rng.integers(1, 4))
    counts = rng.multinomial(int(rng.integers(n_groups, 13)) - n_groups, [1 / n_groups] * n_groups) + 1
    # keep the run small: about 1000 tasks over all devices
    rate_cap_hz = 1000.0 / (duration_s * counts.sum())
    groups = []
    for g, count in enumerate(counts):
        group = {
            "name": f"g{g}",
            "count": int(count),
            "workload": f"w{int(rng.integers(len(workloads)))}",
            "arrival": str(rng.choice(["poisson", "periodic"])),
            "rate_hz": float(min(10 ** rng.uniform(-1.0, 0.5), rate_cap_hz)),
            "compute_flops_per_s": float(10 ** rng.uniform(10.0, 11.5)),
            "power_idle_w": float(rng.uniform(0.05, 0.5)),
            "power_compute_w": float(rng.uniform(0.5, 3.0)),
            "power_tx_w": float(rng.uniform(0.2, 2.0)),
            "power_rx_w": float(rng.uniform(0.1, 1.0)),
            # 18-360 J: most run the whole time, some empty early, some in the middle
            "battery_wh": float(10 ** rng.uniform(-2.3, -1.0)),
            "initial_charge": float(rng.uniform(0.3, 1.0)),
            "uplink_bps": float(10 ** rng.uniform(6.0, 7.7)),
            "downlink_bps": float(10 ** rng.uniform(6.5, 8.0)),
        }
        if rng.random() < 0.4:
            chosen = rng.choice(n_sites, size=int(rng.integers(1, n_sites + 1)), replace=False)
            group["sites"] = [f"s{s}" for s in sorted(chosen)]
        groups.append(group)
    raw = {
        "simulation": {
            "duration_s": duration_s,
            "warmup_s": 0.0 if rng.random() < 0.4 else float(rng.uniform(0.0, duration_s / 3)),
            "seed": int(rng.integers(2**31)),
        },
        "policy": {"name": str(rng.choice(["local", "offload"], p=[0.25, 0.75]))},
        "sites": sites,
        "workloads": workloads,
        "devices": groups,
    }
    # size each GPU for an offered load between light and overloaded (queues that fill up)
    model, _ = build_model(airan.scenario_from_dict(raw), 0)
    for i, site in enumerate(sites):
        attached = model.dev_site == i
        if "gpu" in site and attached.any():
            demand_flops_per_s = np.sum(model.dev_rate_hz[attached] * model.wl_flops[model.dev_workload[attached]])
            load = rng.uniform(0.3, 1.6)  # offered load per server
            site["gpu"]["flops_per_s"] = float(demand_flops_per_s / (load * site["gpu"]["servers"]))
    return raw


def kernel_sim(raw: dict, rng: np.random.Generator | None = None, *, shared_cells: bool = False) -> Simulation:
    """The kernel's simulation of ``raw``; with ``shared_cells``, devices share 1-3 cells at random."""
    sim = Simulation(airan.scenario_from_dict(raw), trace=True)
    if shared_cells:
        n_dev = sim.model.dev_site.shape[0]
        cells = rng.integers(0, int(rng.integers(1, 4)), size=n_dev)
        cells = np.unique(cells, return_inverse=True)[1].astype(np.int32)  # numbered 0..n_cells-1
        sim.model = sim.model._replace(dev_cell=cells, proportional_fair=np.array([bool(rng.random() < 0.5)]))
        n_cells = int(cells.max()) + 1
        st = sim.state
        sim.state = st._replace(**{name: getattr(st, name)[:, :n_cells].copy() for name in CELL_ARRAYS})
    return sim


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------

CASES = range(20)  # random scenarios, one radio cell per device (the ideal channel)
SHARED_CASES = range(100, 110)  # random scenarios with devices sharing 1-3 cells, equal airtime or PF


@functools.cache
def run_case(case: int):
    """(raw scenario, kernel simulation run to its end, its result, the reference run) of one case."""
    rng = np.random.default_rng([7, case])
    raw = random_raw(rng)
    shared = case in SHARED_CASES
    if shared:
        raw["policy"]["name"] = "offload"  # sharing needs transfers
    sim = kernel_sim(raw, rng, shared_cells=shared)
    result = sim.run()
    return raw, sim, result, simulate(sim.model, sim.seed, raw["simulation"]["duration_s"])


def assert_close(actual, expected, what: str) -> None:
    np.testing.assert_allclose(actual, expected, rtol=TOL, atol=TOL, err_msg=what)


def kernel_trace(result) -> dict[str, np.ndarray]:
    order = np.argsort(result.trace["task"], kind="stable")
    return {name: column[order] for name, column in result.trace.items()}


def compare(sim: Simulation, result, ref) -> None:
    """Compare everything the kernel's run and the reference's define."""
    duration_s = sim.scenario.simulation.duration_s
    settled = engine.State(*(a.copy() for a in sim.state))
    engine.settle(sim.model, settled, duration_s)

    # -- per-task trace: the same tasks ended, the same way, at the same times --
    kt, rt = kernel_trace(result), ref.trace()
    np.testing.assert_array_equal(kt["task"], rt["task"], err_msg="ended task ids")
    np.testing.assert_array_equal(kt["device"], rt["device"], err_msg="trace.device")
    site_names = np.array(sim.layout.site_names + [""], dtype=object)  # index -1: none
    np.testing.assert_array_equal(kt["site"], site_names[rt["site"]], err_msg="trace.site")
    np.testing.assert_array_equal(kt["outcome"], rt["outcome"], err_msg="trace.outcome")
    np.testing.assert_array_equal(kt["ran"], rt["ran"], err_msg="trace.ran")
    for column in TRACE_TIMES:
        assert_close(kt[column], rt[column], f"trace.{column}")

    # -- summary counts and means ---------------------------------------------
    s, rs = result.summary, ref.summary()
    for key in ("tasks_generated", "tasks_completed", "tasks_dropped", "tasks_dropped_queue_full",
                "tasks_dropped_battery", "tasks_in_flight", "tasks_local", "tasks_offloaded",
                "tasks_fallback_local", "devices_depleted"):
        assert s[key] == rs[key], key
    for key in ("latency_mean_s", "latency_min_s", "latency_max_s", "deadline_miss_ratio", "local_compute_mean_s",
                "uplink_mean_s", "gpu_wait_mean_s", "gpu_service_mean_s", "downlink_mean_s", "gpu_wait_probability",
                "gpu_accepted_ratio", "gpu_utilization_mean", "gpu_utilization_max", "gpu_queue_length_mean",
                "device_energy_j", "device_energy_idle_j", "device_energy_compute_j", "device_energy_tx_j",
                "device_energy_rx_j", "device_energy_per_task_j"):
        if rs[key] is None:
            assert s[key] is None, key
        else:
            assert s[key] == pytest.approx(rs[key], rel=TOL, abs=TOL), key

    # -- per device ---------------------------------------------------------------
    kd, rd = result.devices, ref.device_table()
    for key in ("tasks_generated", "tasks_completed", "tasks_dropped", "depleted"):
        np.testing.assert_array_equal(kd[key], rd[key], err_msg=f"devices.{key}")
    for key in ("latency_mean_s", "energy_idle_j", "energy_compute_j", "energy_tx_j", "energy_rx_j", "depleted_at_s"):
        assert_close(kd[key], rd[key], f"devices.{key}")

    # -- per site and per cell ----------------------------------------------------
    rsite = ref.site_table()
    assert_close(settled.site_busy_area_s, rsite["busy_area_s"], "site busy server-seconds")
    assert_close(settled.site_queue_area_s, rsite["queue_area_s"], "site queue task-seconds")
    np.testing.assert_array_equal(result.sites["gpu_services"], rsite["gpu_services"], err_msg="sites.gpu_services")
    np.testing.assert_array_equal(result.sites["gpu_rejected"], rsite["gpu_rejected"], err_msg="sites.gpu_rejected")
    rcell = ref.cell_table()
    assert_close(settled.cell_busy_s, rcell["busy_s"], "cell busy time")
    assert_close(settled.cell_bits, rcell["bits"], "cell bits")


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_kernel_matches_reference_on_a_random_scenario(case):
    _, sim, result, ref = run_case(case)
    compare(sim, result, ref)


@pytest.mark.parametrize("case", SHARED_CASES)
def test_kernel_matches_reference_with_devices_sharing_cells(case):
    _, sim, result, ref = run_case(case)
    compare(sim, result, ref)


def test_the_random_cases_reach_every_branch():
    """Together the cases reach every outcome, place, kind of battery drop and scenario option."""
    seen: dict[str, int] = {}

    def saw(key: str, n: int = 1) -> None:
        seen[key] = seen.get(key, 0) + int(n)

    for case in [*CASES, *SHARED_CASES]:
        raw, sim, result, ref = run_case(case)
        trace = ref.trace()
        for outcome, ran, ended_in in zip(trace["outcome"], trace["ran"], trace["ended_in"], strict=True):
            saw(f"outcome {outcome}")
            saw(f"ran {ran}")
            if outcome == "dropped_battery":
                saw(f"battery drop at the end of {ended_in}")
        saw("task generated in the warm-up", np.sum(trace["t_generated_s"] < raw["simulation"]["warmup_s"]))
        saw("task in flight at the end", result.summary["tasks_in_flight"])
        depleted = ref.device_table()["depleted"]
        saw("device depleted", depleted.sum())
        saw("device alive at the end", (~depleted).sum())
        saw(f"policy {raw['policy']['name']}")
        for group in raw["devices"]:
            saw(f"{group['arrival']} arrivals")
        for site in raw["sites"]:
            gpu = site.get("gpu")
            if gpu is None:
                saw("site without a GPU")
                continue
            saw(f"{gpu['service']} service")
            saw(f"on_full {gpu['on_full']}")
            saw(f"queue capacity {gpu.get('queue_capacity', 'unlimited')}")
            saw(f"{gpu['servers']} servers")
        for w in raw["workloads"]:
            saw("zero-byte input", w["input_bytes"] == 0.0)
            saw("zero-byte output", w["output_bytes"] == 0.0)
        if case in SHARED_CASES:
            saw("proportional fair" if sim.model.proportional_fair[0] else "equal airtime")
            saw("several devices in a cell", np.bincount(sim.model.dev_cell).max() > 1)
    expected = [
        "outcome completed", "outcome dropped_queue_full", "outcome dropped_battery",
        "ran local", "ran gpu", "ran fallback_local",
        "battery drop at the end of local", "battery drop at the end of uplink",
        "battery drop at the end of gpu", "battery drop at the end of downlink",
        "task generated in the warm-up", "task in flight at the end", "device depleted", "device alive at the end",
        "policy local", "policy offload", "poisson arrivals", "periodic arrivals", "site without a GPU",
        "deterministic service", "exponential service", "on_full drop", "on_full local",
        "queue capacity 0", "queue capacity unlimited", "1 servers", "2 servers", "3 servers",
        "zero-byte input", "zero-byte output", "proportional fair", "equal airtime", "several devices in a cell",
    ]
    assert [key for key in expected if not seen.get(key)] == []


# ---------------------------------------------------------------------------
# A task dropped at the end of a transfer keeps that transfer's time
# ---------------------------------------------------------------------------

TRANSFER_DROP_RAW = {
    # One device that draws power only while transmitting or receiving (1 W), a 1 J battery
    # and transfers of 2 s: the battery empties 1 s into the first uplink.
    "simulation": {"duration_s": 20.0, "seed": 1},
    "sites": [{"name": "bs", "gpu": {"servers": 1, "flops_per_s": 1e12}}],
    "workloads": [{"name": "w", "flops": 1e11, "input_bytes": 1e6, "output_bytes": 1e6, "deadline_s": 1.0}],
    "devices": [{"name": "d", "count": 1, "workload": "w", "rate_hz": 0.1, "arrival": "periodic",
                 "compute_flops_per_s": 1e10, "power_idle_w": 0.0, "power_compute_w": 0.0,
                 "power_tx_w": 1.0, "power_rx_w": 1.0, "battery_wh": 1.0 / 3600, "uplink_bps": 4e6,
                 "downlink_bps": 4e6}],
}


@pytest.mark.parametrize("battery_j, column", [(1.0, "uplink_s"), (3.0, "downlink_s")])
def test_a_task_dropped_at_the_end_of_a_transfer_keeps_its_transfer_time(battery_j, column):
    # A task dropped at the end of its local compute keeps its local_s, and one dropped at the
    # end of its GPU service keeps its GPU times; one dropped at the end of its uplink (1 J) or
    # downlink (3 J: uplink 2 J, then 1 s into the downlink) should likewise keep the 2 s it spent
    # there, so that its phases add up to its t_end_s - t_generated_s as for every other task.
    raw = {**TRANSFER_DROP_RAW, "devices": [{**TRANSFER_DROP_RAW["devices"][0], "battery_wh": battery_j / 3600}]}
    sim = Simulation(airan.scenario_from_dict(raw), trace=True)
    trace = sim.run().trace
    ref = simulate(sim.model, sim.seed, 20.0).trace()
    assert list(trace["outcome"]) == list(ref["outcome"]) == ["dropped_battery"]
    assert ref[column][0] == pytest.approx(2.0, rel=TOL)
    assert trace[column][0] == pytest.approx(2.0, rel=TOL)
