"""Invariants of a run: exact timings, conservation of tasks, energy bookkeeping,
step-splitting, reproducibility and the latency histogram.

Tolerances: quantities the model defines exactly (transfer and compute times,
energy components, battery-empty instants) are compared to 1e-9 relative. They
come out of sums and differences of event times up to ~1e3 s, so their rounding
error is ~1e-16 * 1e3 s / (the quantity), far below 1e-9 for quantities of
0.01 s and up. Each scenario is small (<= 0.1 s of kernel time).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import airan
from airan import engine, histogram
from airan.results import S_PER_H

EXACT = 1e-9  # relative tolerance for exactly defined quantities (see the module docstring)


# ---------------------------------------------------------------------------
# Helpers: what the final state holds
# ---------------------------------------------------------------------------


def live_slots(state: engine.State) -> np.ndarray:
    """Task slots holding a task (not on the free list)."""
    free = np.zeros(state.task_id.shape[0], dtype=bool)
    k = int(state.ints[engine.I_FREE])
    while k >= 0:
        assert not free[k], "the free list has a cycle"
        free[k] = True
        k = int(state.task_next[k])
    return np.flatnonzero(~free)


def queued_slots(state: engine.State) -> np.ndarray:
    """Task slots waiting in a GPU queue, following each site's FIFO links."""
    out = []
    n_nodes, n_workloads = state.node_q_head.shape
    for s in range(n_nodes):
        for w in range(n_workloads):
            k = int(state.node_q_head[s, w])
            for _ in range(int(state.node_wq_len[s, w])):
                out.append(k)
                k = int(state.task_next[k])
        assert state.node_wq_len[s].sum() == state.node_q_len[s]
    return np.array(out, dtype=np.int64)


def pending_events(state: engine.State) -> tuple[np.ndarray, np.ndarray]:
    """(kind, index) of every event in the event heap and the arrival heap."""
    payload = state.ev_payload[: int(state.ints[engine.I_EV_N])]
    rows = state.ah_entry[engine.AH_ROOT: engine.AH_ROOT + int(state.ints[engine.I_AH_N])]
    arrivals = rows[:, engine.AH_DEVICE].astype(np.int64)
    return (np.concatenate((payload & ((1 << engine._KIND_BITS) - 1), np.full(arrivals.size, engine.EV_ARRIVAL))),
            np.concatenate((payload >> engine._KIND_BITS, arrivals)))


def without_wall_time(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "wall_time_s"}


def assert_same_results(a: airan.Result, b: airan.Result) -> None:
    """Identical results, apart from the wall-clock time."""
    assert without_wall_time(a.summary) == without_wall_time(b.summary)
    for table in ("devices", "sites", "nodes", "latency_histogram"):
        ta, tb = getattr(a, table), getattr(b, table)
        assert ta.keys() == tb.keys()
        for column in ta:
            np.testing.assert_array_equal(ta[column], tb[column], err_msg=f"{table}.{column}")
    assert (a.trace is None) == (b.trace is None)
    if a.trace is not None:
        for column in a.trace:
            np.testing.assert_array_equal(a.trace[column], b.trace[column], err_msg=f"trace.{column}")


def battery_j(raw_group: dict) -> float:
    """Battery energy at t = 0 of a device of a raw device group, J."""
    return raw_group["battery_wh"] * 3600.0 * raw_group.get("initial_charge", 1.0)


# ---------------------------------------------------------------------------
# Exact timings of a device that has one task at a time
# ---------------------------------------------------------------------------

# Periodic arrivals every 20 s; a task takes 0.3 s, so a device never has two at once,
# and with one GPU server per device no task ever waits for one.
UL_BYTES, UL_BPS = 1e5, 1e7  # uplink 0.08 s
DL_BYTES, DL_BPS = 3e4, 2e6  # downlink 0.12 s
GPU_FLOPS, GPU_FLOPS_PER_S = 1e11, 1e12  # service 0.1 s
P_IDLE_W, P_TX_W, P_RX_W = 0.2, 1.5, 0.7


@pytest.fixture(scope="module")
def one_at_a_time(make_raw):
    raw = make_raw(
        simulation={"duration_s": 1000.0, "warmup_s": 0.0, "seed": 21},
        policy="offload",
        gpu={"servers": 8, "flops_per_s": GPU_FLOPS_PER_S, "service": "deterministic"},
        workload={"flops": GPU_FLOPS, "input_bytes": UL_BYTES, "output_bytes": DL_BYTES, "deadline_s": 1.0},
        device={"count": 8, "arrival": "periodic", "rate_hz": 0.05, "uplink_bps": UL_BPS, "downlink_bps": DL_BPS,
                "power_idle_w": P_IDLE_W, "power_tx_w": P_TX_W, "power_rx_w": P_RX_W, "power_compute_w": 3.0},
    )
    return airan.run(airan.scenario_from_dict(raw), trace=True)


def test_transfer_times_are_size_over_rate(one_at_a_time):
    ul_s, dl_s, svc_s = UL_BYTES * 8 / UL_BPS, DL_BYTES * 8 / DL_BPS, GPU_FLOPS / GPU_FLOPS_PER_S
    s = one_at_a_time.summary
    assert s["tasks_completed"] >= 8 * 49  # every device completes a task each 20 s
    assert s["uplink_mean_s"] == pytest.approx(ul_s, rel=EXACT)
    assert s["downlink_mean_s"] == pytest.approx(dl_s, rel=EXACT)
    assert s["gpu_service_mean_s"] == pytest.approx(svc_s, rel=EXACT)
    assert s["gpu_wait_mean_s"] == 0.0
    assert s["gpu_wait_probability"] == 0.0
    assert s["latency_min_s"] == pytest.approx(ul_s + svc_s + dl_s, rel=EXACT)
    assert s["latency_max_s"] == pytest.approx(ul_s + svc_s + dl_s, rel=EXACT)

    t = one_at_a_time.trace
    assert np.all(t["outcome"] == "completed") and np.all(t["ran"] == "gpu") and np.all(t["site"] == "bs")
    np.testing.assert_allclose(t["uplink_s"], ul_s, rtol=EXACT)
    np.testing.assert_allclose(t["downlink_s"], dl_s, rtol=EXACT)
    np.testing.assert_allclose(t["gpu_service_s"], svc_s, rtol=EXACT)
    np.testing.assert_array_equal(t["gpu_wait_s"], 0.0)
    np.testing.assert_array_equal(t["local_s"], 0.0)
    np.testing.assert_allclose(t["latency_s"], ul_s + svc_s + dl_s, rtol=EXACT)


def test_radio_energy_is_power_times_transfer_time(one_at_a_time):
    # Each completed task adds exactly p_tx * uplink time and p_rx * downlink time on top of
    # the idle power; a task still in flight at the end adds part of that.
    ul_s, dl_s = UL_BYTES * 8 / UL_BPS, DL_BYTES * 8 / DL_BPS
    dev = one_at_a_time.devices
    end_s = one_at_a_time.summary["sim_time_s"]
    np.testing.assert_allclose(dev["energy_idle_j"], P_IDLE_W * end_s, rtol=EXACT)
    np.testing.assert_array_equal(dev["energy_compute_j"], 0.0)  # nothing ran locally
    done = dev["tasks_completed"]
    idle_at_end = dev["tasks_generated"] == done
    # a device is busy 0.3 s of each 20 s, so at most a few of the 8 are busy at the end
    assert idle_at_end.sum() >= 4
    np.testing.assert_allclose(dev["energy_tx_j"][idle_at_end], P_TX_W * ul_s * done[idle_at_end], rtol=EXACT)
    np.testing.assert_allclose(dev["energy_rx_j"][idle_at_end], P_RX_W * dl_s * done[idle_at_end], rtol=EXACT)
    busy = ~idle_at_end
    assert np.all(dev["energy_tx_j"][busy] >= P_TX_W * ul_s * done[busy] * (1 - EXACT))
    assert np.all(dev["energy_tx_j"][busy] <= P_TX_W * ul_s * (done[busy] + 1) * (1 + EXACT))
    assert np.all(dev["energy_rx_j"][busy] >= P_RX_W * dl_s * done[busy] * (1 - EXACT))
    assert np.all(dev["energy_rx_j"][busy] <= P_RX_W * dl_s * (done[busy] + 1) * (1 + EXACT))


def test_local_latency_is_flops_over_device_rate(make_scenario):
    flops, rate = 3e9, 2e9  # 1.5 s on the device, every 10 s
    scenario = make_scenario(
        simulation={"duration_s": 500.0, "warmup_s": 0.0},
        policy="local",
        workload={"flops": flops, "input_bytes": 1e6, "output_bytes": 1e6},  # payloads play no part
        device={"count": 5, "arrival": "periodic", "rate_hz": 0.1, "compute_flops_per_s": rate},
    )
    result = airan.run(scenario, trace=True)
    s = result.summary
    assert s["tasks_completed"] >= 5 * 49
    assert s["tasks_offloaded"] == 0 and s["offload_ratio"] == 0.0
    assert s["tasks_local"] == s["tasks_generated"]
    for key in ("latency_mean_s", "latency_min_s", "latency_max_s", "local_compute_mean_s"):
        assert s[key] == pytest.approx(flops / rate, rel=EXACT), key
    assert s["uplink_mean_s"] is None and s["gpu_wait_mean_s"] is None  # no task used them
    t = result.trace
    assert np.all(t["ran"] == "local") and np.all(t["site"] == "")
    np.testing.assert_allclose(t["latency_s"], flops / rate, rtol=EXACT)
    np.testing.assert_allclose(t["local_s"], flops / rate, rtol=EXACT)
    assert not np.any(t["uplink_s"]) and not np.any(t["gpu_service_s"]) and not np.any(t["downlink_s"])


# ---------------------------------------------------------------------------
# A busy run: full GPU queue, local devices, batteries that empty
# ---------------------------------------------------------------------------


def busy_raw(build_raw, on_full: str, warmup_s: float, seed: int = 5) -> dict:
    """Two sites (one without a GPU), a GPU loaded past capacity with a short queue, and
    devices whose battery empties during the run (some with tasks queued on the CPU)."""
    raw = build_raw(
        simulation={"duration_s": 300.0, "warmup_s": warmup_s, "seed": seed},
        policy="offload",
        gpu={"servers": 2, "flops_per_s": 1e12, "service": "exponential", "queue_capacity": 3, "on_full": on_full},
        workload={"flops": 1e11, "input_bytes": 2e4, "output_bytes": 1e4, "deadline_s": 0.5},
        devices=[
            # offered GPU load 12 * 2/s * 0.1 s = 2.4 servers (+0.2 below) on 2 servers: the queue fills
            {"name": "gpu_users", "count": 12, "sites": ["bs"], "rate_hz": 2.0, "compute_flops_per_s": 5e10},
            # no GPU at their site: they compute locally (0.67 s per task, every 2 s on average)
            {"name": "local_users", "count": 4, "sites": ["bare"], "rate_hz": 0.5, "compute_flops_per_s": 1.5e11},
            # batteries that empty after any warm-up: 18 J at ~0.12 W (uplink, downlink, idle) lasts ~150 s;
            # 216 J at ~2.1 W (2 s tasks every 1 s on the CPU) lasts ~100 s, leaving a backlog of ~50 tasks
            {"name": "short_gpu", "count": 2, "sites": ["bs"], "rate_hz": 1.0, "battery_wh": 5e-3},
            {"name": "short_local", "count": 2, "sites": ["bare"], "rate_hz": 1.0, "compute_flops_per_s": 5e10,
             "battery_wh": 0.06},
        ],
    )
    raw["sites"].append({"name": "bare"})
    return raw


BUSY_CASES = [("drop", 0.0), ("local", 0.0), ("local", 60.0)]


@pytest.fixture(scope="module", params=BUSY_CASES, ids=[f"{o}-warmup{w:g}" for o, w in BUSY_CASES])
def busy(request, make_raw):
    on_full, warmup_s = request.param
    raw = busy_raw(make_raw, on_full, warmup_s)
    sim = airan.Simulation(airan.scenario_from_dict(raw), trace=True)
    result = sim.run()
    return raw, sim, result


def test_busy_run_exercises_every_ending(busy):
    raw, _, result = busy
    s = result.summary
    on_full = raw["sites"][0]["gpu"]["on_full"]
    assert s["tasks_completed"] > 1000
    assert s["tasks_dropped_battery"] > 0
    assert 0 < s["devices_depleted"] < s["devices"]
    if on_full == "drop":
        assert s["tasks_dropped_queue_full"] > 0 and s["tasks_fallback_local"] == 0
    else:
        assert s["tasks_fallback_local"] > 0 and s["tasks_dropped_queue_full"] == 0


def test_tasks_are_conserved(busy):
    raw, sim, result = busy
    s, dev, st = result.summary, result.devices, sim.state
    assert s["tasks_generated"] == s["tasks_completed"] + s["tasks_dropped"] + s["tasks_in_flight"]
    assert s["tasks_dropped"] == s["tasks_dropped_queue_full"] + s["tasks_dropped_battery"]
    assert s["tasks_in_flight"] >= 0

    live = live_slots(st)
    counted = (st.task_flags[live] & engine.F_COUNTED) != 0
    assert s["tasks_in_flight"] == int(counted.sum())
    if s["warmup_s"] == 0.0:
        assert counted.all()
        assert s["tasks_generated"] == int(dev["tasks_generated"].sum())
    else:
        assert s["tasks_generated"] < int(dev["tasks_generated"].sum())
    # per device (all tasks, warm-up included): generated = completed + dropped + in flight
    live_per_device = np.bincount(st.task_dev[live], minlength=s["devices"])
    np.testing.assert_array_equal(
        dev["tasks_generated"], dev["tasks_completed"] + dev["tasks_dropped"] + live_per_device)
    # task ids are the generation order: the ended tasks and the live ones are all of them, once each
    ended_ids = result.trace["task"]
    all_ids = np.concatenate((ended_ids, st.task_id[live]))
    np.testing.assert_array_equal(np.sort(all_ids), np.arange(int(st.ints[engine.I_NEXT_TASK_ID])))
    # tasks that found the queue full, as the site counts them (all tasks; equal when all are counted)
    rejected = int(result.nodes["gpu_rejected"][0])
    assert rejected >= s["tasks_dropped_queue_full"] + s["tasks_fallback_local"]
    if s["warmup_s"] == 0.0:
        assert rejected == s["tasks_dropped_queue_full"] + s["tasks_fallback_local"]


def test_every_live_task_is_somewhere(busy):
    # A live task either has exactly one pending event or waits in a GPU queue, never both.
    _, sim, _ = busy
    st = sim.state
    kind, index = pending_events(st)
    task_events = index[kind != engine.EV_ARRIVAL]
    queued = queued_slots(st)
    assert np.unique(task_events).size == task_events.size
    assert np.intersect1d(task_events, queued).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate((task_events, queued))), live_slots(st))
    # each device has at most one pending arrival; one exactly while its battery lasts
    arrivals = np.bincount(index[kind == engine.EV_ARRIVAL], minlength=st.dev_depleted.shape[0])
    assert arrivals.max() <= 1
    assert np.all(arrivals[~st.dev_depleted] == 1)


def test_trace_matches_summary(busy):
    raw, _, result = busy
    s, t, dev = result.summary, result.trace, result.devices
    # one row per ended task, ids unique
    assert t["task"].size == int(dev["tasks_completed"].sum() + dev["tasks_dropped"].sum())
    assert np.unique(t["task"]).size == t["task"].size
    counted = t["t_generated_s"] >= s["warmup_s"]
    outcome = t["outcome"][counted]
    assert (outcome == "completed").sum() == s["tasks_completed"]
    assert (outcome == "dropped_queue_full").sum() == s["tasks_dropped_queue_full"]
    assert (outcome == "dropped_battery").sum() == s["tasks_dropped_battery"]
    assert np.all(np.isin(t["outcome"], ["completed", "dropped_queue_full", "dropped_battery"]))
    # per device, all tasks
    np.testing.assert_array_equal(
        np.bincount(t["device"][t["outcome"] == "completed"], minlength=s["devices"]), dev["tasks_completed"])
    np.testing.assert_array_equal(
        np.bincount(t["device"][t["outcome"] != "completed"], minlength=s["devices"]), dev["tasks_dropped"])
    # the means of the summary are means over counted completed rows
    done = counted & (t["outcome"] == "completed")
    gpu = done & (t["ran"] == "gpu")
    local = done & (t["ran"] != "gpu")
    uplink = done & (t["ran"] != "local")
    assert s["latency_mean_s"] == pytest.approx(t["latency_s"][done].mean(), rel=EXACT)
    assert s["latency_min_s"] == t["latency_s"][done].min()
    assert s["latency_max_s"] == t["latency_s"][done].max()
    assert s["gpu_wait_mean_s"] == pytest.approx(t["gpu_wait_s"][gpu].mean(), rel=EXACT)
    assert s["gpu_service_mean_s"] == pytest.approx(t["gpu_service_s"][gpu].mean(), rel=EXACT)
    assert s["downlink_mean_s"] == pytest.approx(t["downlink_s"][gpu].mean(), rel=EXACT)
    assert s["uplink_mean_s"] == pytest.approx(t["uplink_s"][uplink].mean(), rel=EXACT)
    assert s["local_compute_mean_s"] == pytest.approx(t["local_s"][local].mean(), rel=EXACT)
    deadline = raw["workloads"][0]["deadline_s"]
    missed = ((t["latency_s"] > deadline) & done).sum() + (counted & (t["outcome"] != "completed")).sum()
    assert s["deadline_miss_ratio"] == pytest.approx(missed / counted.sum(), rel=EXACT)
    assert int(result.latency_histogram["count"].sum()) == s["tasks_completed"]


def test_trace_latency_is_the_sum_of_its_phases(busy):
    _, _, result = busy
    t = result.trace
    done = t["outcome"] == "completed"
    lat = t["latency_s"]
    gpu = done & (t["ran"] == "gpu")
    fallback = done & (t["ran"] == "fallback_local")
    local = done & (t["ran"] == "local")
    assert gpu.any() and local.any()
    total = t["uplink_s"] + t["gpu_wait_s"] + t["gpu_service_s"] + t["downlink_s"]
    np.testing.assert_allclose(total[gpu], lat[gpu], rtol=EXACT)
    np.testing.assert_allclose((t["uplink_s"] + t["local_s"])[fallback], lat[fallback], rtol=EXACT)
    np.testing.assert_allclose(t["local_s"][local], lat[local], rtol=EXACT)
    # the phases a task did not go through are zero; ran and site agree
    assert not np.any(t["uplink_s"][t["ran"] == "local"])
    assert not np.any(t["local_s"][t["ran"] == "gpu"])
    assert not np.any((t["gpu_service_s"] + t["downlink_s"])[t["ran"] == "fallback_local"])
    np.testing.assert_array_equal(t["site"] == "", t["ran"] == "local")
    assert np.all(t["t_end_s"] >= t["t_generated_s"])


def test_queues_are_fifo(busy):
    # The GPU site's queue and each device's CPU are FIFO: in order of arrival at the queue,
    # service starts never go back in time. Mean waits cannot see the order (with equal
    # service times every order gives the same mean), so check it on the trace. Times are
    # rebuilt from phase durations, hence the 1e-9 s slack; real inversions are >= 0.016 s.
    _, _, result = busy
    t = result.trace
    served = t["gpu_service_s"] > 0  # GPU service started (completed, or dropped afterwards)
    assert served.sum() > 1000 and (t["gpu_wait_s"][served] > 0).sum() > 100  # a queue formed
    at_gpu = (t["t_generated_s"] + t["uplink_s"])[served]
    start = at_gpu + t["gpu_wait_s"][served]
    order = np.lexsort((t["task"][served], at_gpu))
    assert np.all(np.diff(start[order]) >= -1e-9)
    local = np.isin(t["ran"], ["local", "fallback_local"]) & (t["outcome"] == "completed")
    for d in np.unique(t["device"][local]):
        mine = local & (t["device"] == d)
        at_cpu = (t["t_generated_s"] + t["uplink_s"])[mine]
        end = t["t_end_s"][mine]
        order = np.lexsort((t["task"][mine], at_cpu))
        assert np.all(np.diff(end[order]) > 0)  # deterministic service: ends in arrival order


def test_place_counts_match_trace_and_live_tasks(busy):
    # tasks_local / tasks_offloaded count the policy's decisions and tasks_fallback_local the
    # offloaded tasks that ran locally after all; they cover the ended tasks (trace) and the live
    # ones (flags in the final state), and local + offloaded = generated.
    _, sim, result = busy
    s, t, st = result.summary, result.trace, sim.state
    counted_rows = t["t_generated_s"] >= s["warmup_s"]
    ran = t["ran"][counted_rows]
    live = live_slots(st)
    flags = st.task_flags[live][(st.task_flags[live] & engine.F_COUNTED) != 0]
    offloaded = (flags & engine.F_OFFLOADED) != 0
    fallback = (flags & engine.F_FALLBACK) != 0
    assert s["tasks_offloaded"] == np.isin(ran, ["gpu", "fallback_local"]).sum() + offloaded.sum()
    assert s["tasks_fallback_local"] == (ran == "fallback_local").sum() + fallback.sum()
    assert s["tasks_local"] == (ran == "local").sum() + (~offloaded).sum()
    assert s["tasks_local"] + s["tasks_offloaded"] == s["tasks_generated"]
    assert s["offload_ratio"] == pytest.approx(s["tasks_offloaded"] / s["tasks_generated"], rel=1e-15)


def test_latency_quantiles_within_histogram_error(busy):
    _, _, result = busy
    s, t = result.summary, result.trace
    lat = np.sort(t["latency_s"][(t["t_generated_s"] >= s["warmup_s"]) & (t["outcome"] == "completed")])
    assert lat.size == s["tasks_completed"]
    assert lat[0] >= histogram.MIN_S and lat[-1] < histogram.MAX_S  # the range with the error bound
    for key, percent in (("latency_p50_s", 50), ("latency_p95_s", 95), ("latency_p99_s", 99)):
        exact = lat[-(-percent * lat.size // 100) - 1]  # nearest rank: the ceil(q n)-th smallest
        # 1e-12 leaves room for a value within rounding of a bin edge
        assert abs(s[key] / exact - 1) <= histogram.RELATIVE_ERROR + 1e-12, key
    assert s["latency_quantile_relative_error"] == histogram.RELATIVE_ERROR


# ---------------------------------------------------------------------------
# Energy
# ---------------------------------------------------------------------------


def test_energy_components_add_up(busy):
    raw, _, result = busy
    s, dev = result.summary, result.devices
    parts = ("energy_idle_j", "energy_compute_j", "energy_tx_j", "energy_rx_j")
    np.testing.assert_allclose(sum(dev[p] for p in parts), dev["energy_j"], rtol=1e-12)
    for p in parts:
        assert np.all(dev[p] >= 0.0)
        assert s["device_" + p] == pytest.approx(dev[p].sum(), rel=1e-12)
        assert dev[p].sum() > 0.0  # every kind of activity happened
    assert s["device_energy_j"] == pytest.approx(sum(s["device_" + p] for p in parts), rel=1e-12)
    assert s["device_energy_j"] == pytest.approx(dev["energy_j"].sum(), rel=1e-12)
    assert s["device_energy_per_task_j"] == pytest.approx(
        dev["energy_j"].sum() / dev["tasks_completed"].sum(), rel=1e-12)
    assert s["device_power_mean_w"] == pytest.approx(dev["power_mean_w"].mean(), rel=1e-12)


def test_battery_life(busy):
    raw, _, result = busy
    s, dev = result.summary, result.devices
    group_of = {g["name"]: g for g in raw["devices"]}
    capacity_j = np.array([battery_j(group_of[g]) for g in dev["group"]])
    end_s = s["sim_time_s"]
    depleted = dev["depleted"]
    assert depleted.any() and not depleted.all()
    assert np.all(np.isfinite(dev["depleted_at_s"][depleted]))
    assert np.all(dev["depleted_at_s"][depleted] <= end_s)
    assert np.all(np.isinf(dev["depleted_at_s"][~depleted]))
    # a depleted device used exactly its battery, and its life is the measured instant
    np.testing.assert_allclose(dev["energy_j"][depleted], capacity_j[depleted], rtol=EXACT)
    np.testing.assert_allclose(dev["battery_life_h"][depleted] * S_PER_H, dev["depleted_at_s"][depleted], rtol=1e-12)
    np.testing.assert_allclose(
        dev["power_mean_w"][depleted], dev["energy_j"][depleted] / dev["depleted_at_s"][depleted], rtol=1e-12)
    # the others: projected life = battery energy / mean power over the run
    alive = ~depleted
    assert np.all(dev["energy_j"][alive] < capacity_j[alive])
    np.testing.assert_allclose(dev["power_mean_w"][alive], dev["energy_j"][alive] / end_s, rtol=1e-12)
    np.testing.assert_allclose(
        dev["battery_life_h"][alive] * S_PER_H, capacity_j[alive] / dev["power_mean_w"][alive], rtol=1e-12)
    assert s["devices_depleted"] == int(depleted.sum())
    assert s["battery_life_min_h"] == pytest.approx(dev["battery_life_h"].min(), rel=1e-12)
    assert s["battery_life_mean_h"] == pytest.approx(dev["battery_life_h"].mean(), rel=1e-12)


def test_no_task_after_the_battery_empties(busy):
    _, _, result = busy
    t, dev = result.trace, result.devices
    empty_at = dev["depleted_at_s"][t["device"]]  # inf for devices that never empty
    assert np.all(t["t_generated_s"] < empty_at)
    # a task completes only while its device's battery lasts; one in flight then is dropped
    assert np.all(t["t_end_s"][t["outcome"] == "completed"] <= empty_at[t["outcome"] == "completed"])
    late = t["t_end_s"] > empty_at
    assert late.any()
    assert np.all(t["outcome"][late] == "dropped_battery")


# Local policy, constant-power devices, exact numbers.
WORKER = {"name": "worker", "count": 6, "arrival": "periodic", "rate_hz": 0.05, "compute_flops_per_s": 1e10,
          "power_idle_w": 0.1, "power_compute_w": 2.0, "battery_wh": 10.0}  # 1 s tasks every 20 s
STEADY = {"name": "steady", "count": 3, "rate_hz": 0.5, "compute_flops_per_s": 2e10, "power_idle_w": 0.5,
          "power_compute_w": 0.0, "power_tx_w": 0.0, "power_rx_w": 0.0, "battery_wh": 10.0}  # constant 0.5 W
SHORT = {"name": "short", "count": 4, "rate_hz": 1.0, "compute_flops_per_s": 2e10, "power_idle_w": 0.36,
         "power_compute_w": 0.0, "power_tx_w": 0.0, "power_rx_w": 0.0, "battery_wh": 0.01,
         "initial_charge": 0.5}  # 18 J at a constant 0.36 W: empty at 50 s
LOCAL_FLOPS = 1e10
LOCAL_END_S = 1000.0


@pytest.fixture(scope="module")
def constant_power(make_raw):
    raw = make_raw(
        simulation={"duration_s": LOCAL_END_S, "warmup_s": 0.0, "seed": 8},
        policy="local",
        workload={"flops": LOCAL_FLOPS},
        devices=[WORKER, STEADY, SHORT],
    )
    return airan.run(airan.scenario_from_dict(raw), trace=True)


def _group(result, name):
    return result.devices["group"] == name


def test_local_task_energy_is_compute_power_times_compute_time(constant_power):
    dev = constant_power.devices
    w = _group(constant_power, "worker")
    compute_s = LOCAL_FLOPS / WORKER["compute_flops_per_s"]
    task_j = WORKER["power_compute_w"] * compute_s
    done = dev["tasks_completed"][w]
    assert np.all(done >= 49)
    assert not dev["depleted"][w].any()
    np.testing.assert_allclose(dev["energy_idle_j"][w], WORKER["power_idle_w"] * LOCAL_END_S, rtol=EXACT)
    np.testing.assert_array_equal(dev["energy_tx_j"][w], 0.0)
    np.testing.assert_array_equal(dev["energy_rx_j"][w], 0.0)
    # a worker computes 1 s in each 20 s: one still computing at the end has part of a task's energy
    idle_at_end = dev["tasks_generated"][w] == done
    assert idle_at_end.sum() >= 3
    e_compute = dev["energy_compute_j"][w]
    np.testing.assert_allclose(e_compute[idle_at_end], task_j * done[idle_at_end], rtol=EXACT)
    busy = ~idle_at_end
    assert np.all(e_compute[busy] >= task_j * done[busy] * (1 - EXACT))
    assert np.all(e_compute[busy] <= task_j * (done[busy] + 1) * (1 + EXACT))


def test_constant_power_device_life_is_capacity_over_power(constant_power):
    dev = constant_power.devices
    st = _group(constant_power, "steady")
    assert np.all(dev["tasks_completed"][st] > 0)  # it ran tasks, at no extra power
    assert not dev["depleted"][st].any()
    np.testing.assert_allclose(dev["power_mean_w"][st], STEADY["power_idle_w"], rtol=1e-12)
    np.testing.assert_array_equal(dev["energy_compute_j"][st], 0.0)
    life_s = battery_j(STEADY) / STEADY["power_idle_w"]
    np.testing.assert_allclose(dev["battery_life_h"][st] * S_PER_H, life_s, rtol=1e-12)


def test_battery_empties_at_capacity_over_power(constant_power):
    dev, t = constant_power.devices, constant_power.trace
    sh = _group(constant_power, "short")
    empty_s = battery_j(SHORT) / SHORT["power_idle_w"]
    assert dev["depleted"][sh].all()
    np.testing.assert_allclose(dev["depleted_at_s"][sh], empty_s, rtol=1e-12)
    np.testing.assert_allclose(dev["battery_life_h"][sh] * S_PER_H, empty_s, rtol=1e-12)
    np.testing.assert_allclose(dev["energy_j"][sh], battery_j(SHORT), rtol=1e-12)
    assert constant_power.summary["devices_depleted"] == int(sh.sum())
    # it generated tasks until then, none after
    for d in np.flatnonzero(sh):
        mine = t["device"] == d
        assert mine.sum() == dev["tasks_generated"][d] >= 20  # all ended: the device is dead
        assert t["t_generated_s"][mine].max() < empty_s
        assert t["t_generated_s"][mine].max() > empty_s - 10.0  # ~50 arrivals before, at 1/s


# ---------------------------------------------------------------------------
# Steps, reproducibility
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def busy_scenario(make_raw):
    return airan.scenario_from_dict(busy_raw(make_raw, "local", warmup_s=20.0))


@pytest.fixture(scope="module")
def one_step(busy_scenario):
    return airan.Simulation(busy_scenario, trace=True).run(steps=1)


def test_steps_give_identical_results(busy_scenario, one_step):
    progress = []
    stepped = airan.Simulation(busy_scenario, trace=True).run(steps=7, progress=progress.append)
    assert_same_results(stepped, one_step)
    assert progress[-1] == busy_scenario.simulation.duration_s and len(progress) == 7


def test_advance_twice_equals_one_run(busy_scenario, one_step):
    sim = airan.Simulation(busy_scenario, trace=True)
    sim.advance(111.0)
    middle = sim.result()  # must not disturb the run
    sim.advance(busy_scenario.simulation.duration_s)
    assert_same_results(sim.result(), one_step)
    # the result in the middle is the result of a run that ends there
    shorter = busy_scenario.model_copy(
        update={"simulation": busy_scenario.simulation.model_copy(update={"duration_s": 111.0})})
    assert_same_results(middle, airan.run(shorter, trace=True))
    with pytest.raises(ValueError):
        sim.advance(100.0)


def test_trace_buffer_size_and_sink_change_nothing(busy_scenario, one_step, monkeypatch):
    # A 7-row buffer makes the kernel stop for a drain every few events.
    monkeypatch.setattr(airan.simulation, "TRACE_BUFFER_ROWS", 7)
    assert one_step.trace["task"].size > 100 * 7
    assert_same_results(airan.Simulation(busy_scenario, trace=True).run(), one_step)
    chunks = []
    streamed = airan.Simulation(busy_scenario, trace=chunks.append).run()
    assert streamed.trace is None
    assert len(chunks) > 100 and max(c["task"].size for c in chunks) <= 7
    for column, values in one_step.trace.items():
        np.testing.assert_array_equal(np.concatenate([c[column] for c in chunks]), values, err_msg=column)
    assert without_wall_time(streamed.summary) == without_wall_time(one_step.summary)
    # without a trace, the same run
    untraced = airan.run(busy_scenario)
    assert untraced.trace is None
    assert without_wall_time(untraced.summary) == without_wall_time(one_step.summary)


def test_same_seed_same_files_other_seed_other_results(busy_scenario, one_step, tmp_path):
    again = airan.run(busy_scenario, trace=True)  # seed from the scenario, as one_step
    assert again.seed == one_step.seed == busy_scenario.simulation.seed
    one_step.write(tmp_path / "a")
    again.write(tmp_path / "b")
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert without_wall_time(a) == without_wall_time(b)
    assert_same_results(again, one_step)

    other = airan.run(busy_scenario, seed=busy_scenario.simulation.seed + 1)
    assert other.seed == busy_scenario.simulation.seed + 1
    for key in ("tasks_generated", "latency_mean_s", "device_energy_j", "events"):
        assert other.summary[key] != one_step.summary[key], key
    assert not np.array_equal(other.devices["x_m"], one_step.devices["x_m"])


def test_energy_step_never_leaves_a_battery_below_empty():
    # Inputs where the segment-by-segment sum rounds just below the one-line total: the step
    # must never leave negative energy, and empties the battery at once when nothing is left.
    t0, now, cpu_free, ul, dl = 178.2434994594908, 178.76072591055132, 186.6171865577798, True, True
    powers = (1.4737446632513072, 1.3020815239642283, 2.785269776592769, 1.6109858745520624)
    remaining = 3.709590435970663
    out = engine._device_energy(t0, now, cpu_free, ul, dl, -np.inf, *powers, 0.0, 0.0, 0.0, 0.0,
                                0, 1.0, 1.0, remaining, 0.0)
    dt, c, u, r, tail, inactive, y1, y2, empty = out
    assert 0.0 <= dt <= now - t0 and y1 >= 0.0 and max(c, u, r) <= dt
    assert empty or y1 > 0.0
    # nothing left: empty at once, no time accounted
    out = engine._device_energy(0.0, 5.0, 1.0, False, False, -np.inf, 1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                                0, 1.0, 1.0, 0.0, 0.0)
    assert out[0] == 0.0 and out[-1]
    # plenty left: the whole interval, not empty
    out = engine._device_energy(0.0, 5.0, 1.0, False, False, -np.inf, 1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                                0, 1.0, 1.0, 100.0, 0.0)
    assert out[:4] == (5.0, 1.0, 0.0, 0.0) and out[6] == pytest.approx(93.0) and not out[-1]


def test_per_workload_statistics_add_up_and_match_their_workload():
    # two workloads computed locally on a deterministic CPU: each one's latency is its own compute
    # time when the CPU is idle; per-workload counts add up to the totals; the overall histogram is
    # the sum of the workloads' ones
    raw = {
        "simulation": {"duration_s": 2000.0, "warmup_s": 100.0, "seed": 2},
        "policy": {"name": "local"},
        "sites": [{"name": "bs"}],
        "workloads": [{"name": "small", "flops": 1e7, "input_bytes": 1.0, "output_bytes": 1.0, "deadline_s": 0.5},
                      {"name": "large", "flops": 4e8, "input_bytes": 1.0, "output_bytes": 1.0,
                       "deadline_s": 0.001}],
        "devices": [{"name": f"d{w}", "count": 5, "workload": w, "rate_hz": 0.2, "compute_flops_per_s": 1e9,
                     "power_idle_w": 0.1, "power_compute_w": 1.0, "power_tx_w": 1.0, "power_rx_w": 0.5,
                     "battery_wh": 100.0, "uplink_bps": 1e7, "downlink_bps": 1e7} for w in ("small", "large")],
    }
    result = airan.run(airan.scenario_from_dict(raw))
    s, w = result.summary, result.workloads
    for key in ("tasks_generated", "tasks_completed", "tasks_dropped"):
        assert int(w[key].sum()) == s[key]
    np.testing.assert_array_equal(result.latency_histogram["count"].sum(), s["tasks_completed"])
    small, large = s["workloads"]["small"], s["workloads"]["large"]
    # p50 of each: its compute time (the CPU is almost always idle at this load), to the 0.5 % of the bins
    assert small["latency_p50_s"] == pytest.approx(0.01, rel=0.006)
    assert large["latency_p50_s"] == pytest.approx(0.4, rel=0.006)
    assert small["deadline_miss_ratio"] == 0.0 and large["deadline_miss_ratio"] == 1.0
    total_latency = small["latency_mean_s"] * small["tasks_completed"] + large["latency_mean_s"] * large[
        "tasks_completed"]
    assert total_latency == pytest.approx(s["latency_mean_s"] * s["tasks_completed"], rel=1e-12)


def test_arrivals_at_equal_times_come_in_scheduling_order(make_scenario):
    """The arrival heap breaks ties in time by scheduling order (seq), as the event heap does: 300
    arrivals at three instants, scheduled in a shuffled order, generate their tasks sorted by
    (time, order scheduled); the heap holds its (time, seq) order at every parent-child pair."""
    n = 300
    scenario = make_scenario(
        simulation={"duration_s": 10.0},
        gpu={"servers": n, "flops_per_s": 1e15, "service": "deterministic"},
        workload={"input_bytes": 100.0, "output_bytes": 0.0, "flops": 1.0},
        device={"count": n, "rate_hz": 1e-6, "uplink_bps": 1e9, "downlink_bps": 1e9, "arrival": "periodic"},
    )
    sim = airan.Simulation(scenario, trace=True)
    st = sim.state
    rng = np.random.default_rng(11)
    order = rng.permutation(n)
    times_s = rng.choice([1.0, 2.0, 3.0], n)
    st.ints[engine.I_AH_N] = 0
    for d in order:
        engine._ah_push(st.ah_entry, st.dev_arrival_seq, st.ints, float(times_s[d]), int(d))
    rows = st.ah_entry[engine.AH_ROOT: engine.AH_ROOT + n]
    key = [(t, st.dev_arrival_seq[int(dev)]) for t, dev in rows]
    assert all(key[(i - 1) // 4] < key[i] for i in range(1, n))
    assert st.ah_entry.ctypes.data % 64 == 0  # a node's four children on one cache line
    sim.advance(5.0)
    trace = sim.result().trace
    generated = trace["device"][np.argsort(trace["task"])]
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    expected = sorted(range(n), key=lambda d: (times_s[d], position[d]))
    np.testing.assert_array_equal(generated, expected)


def test_the_kernel_releases_the_gil(make_scenario, monkeypatch):
    """Another Python thread keeps running while a run is in the kernel (a sweep's client hands runs to its
    workers from a thread while it runs one itself; a controller can act in a thread)."""
    import threading
    import time

    scenario = make_scenario(simulation={"duration_s": 3600.0}, gpu={"servers": 64},
                             device={"count": 200, "rate_hz": 1.0})
    sim = airan.Simulation(scenario)
    sim.advance(60.0)  # the kernel loaded, the arrays grown to the run's needs
    kernel = engine.advance
    calls = []

    def counted(*args):
        calls.append(1)
        return kernel(*args)

    monkeypatch.setattr(engine, "advance", counted)
    ticks = []
    done = threading.Event()
    running = threading.Event()

    def tick():
        running.set()
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.002)

    thread = threading.Thread(target=tick)
    thread.start()
    running.wait()
    t0 = time.perf_counter()
    sim.advance(3600.0)
    t1 = time.perf_counter()
    done.set()
    thread.join()
    assert len(calls) == 1 and t1 - t0 > 0.2, "the test needs one kernel call long enough to tell"
    inside = np.array([t for t in ticks if t0 <= t <= t1])
    gaps = np.diff(np.concatenate([[t0], inside, [t1]]))
    assert gaps.max() < (t1 - t0) / 4  # with the GIL held, the thread would wait for the whole call
