"""Shared cells in the kernel: processor sharing of a cell's uplink and downlink, re-timed exactly.

These tests put devices into one cell by editing the built model, start their
transfers at chosen instants by editing the event heap, and read the per-task
trace. Times are exact up to floating-point rounding (1e-12 relative).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import regroup_cells

import airan
from airan import engine
from airan.simulation import Simulation

EXACT = 1e-12


def shared_cell_sim(make_scenario, *, n_devices: int, input_bytes: float, uplink_bps: float,
                    start_times_s, proportional_fair: bool = False, output_bytes: float = 0.0) -> Simulation:
    """Devices in one cell whose only tasks arrive at ``start_times_s`` (one per device)."""
    scenario = make_scenario(
        simulation={"duration_s": 100.0},
        gpu={"servers": n_devices, "flops_per_s": 1e15, "service": "deterministic"},
        workload={"input_bytes": input_bytes, "output_bytes": output_bytes, "flops": 1.0},
        device={"count": n_devices, "rate_hz": 1e-6, "uplink_bps": uplink_bps, "downlink_bps": uplink_bps,
                "arrival": "periodic"},
    )
    sim = Simulation(scenario, trace=True)
    # one cell now, and our arrivals instead of the random first ones
    regroup_cells(sim, np.zeros(n_devices, dtype=np.int32), proportional_fair=np.array([proportional_fair]))
    st = sim.state
    st.ints[engine.I_AH_N] = 0
    for d, t in enumerate(start_times_s):
        engine._ah_push(st.ah_entry, st.dev_arrival_seq, st.ints, float(t), d)
    sim.state = st
    return sim


def uplink_ends(sim: Simulation) -> np.ndarray:
    """End time of each device's uplink (the trace's generation time + uplink time)."""
    trace = sim.result().trace
    order = np.argsort(trace["device"])
    return (trace["t_generated_s"] + trace["uplink_s"])[order]


@pytest.mark.parametrize("n", [1, 2, 5, 17])
def test_n_equal_transfers_started_together_finish_at_n_times_the_single_time(make_scenario, n):
    bits, rate = 8e6, 1e8  # 1 MB at 100 Mbit/s: 0.08 s alone
    sim = shared_cell_sim(make_scenario, n_devices=n, input_bytes=bits / 8, uplink_bps=rate, start_times_s=[1.0] * n)
    sim.advance(10.0)
    ends = uplink_ends(sim)
    assert ends.shape == (n,)
    np.testing.assert_allclose(ends, 1.0 + n * bits / rate, rtol=EXACT)


def test_a_single_transfer_over_an_idle_cell_takes_size_over_rate(make_scenario):
    sim = shared_cell_sim(make_scenario, n_devices=3, input_bytes=12345.0, uplink_bps=3.3e7,
                          start_times_s=[1.0, 20.0, 40.0])
    sim.advance(60.0)
    np.testing.assert_allclose(uplink_ends(sim) - [1.0, 20.0, 40.0], 12345.0 * 8 / 3.3e7, rtol=EXACT)


def test_a_late_flow_re_times_the_running_one_exactly(make_scenario):
    # A starts at 0.5 s needing 1 s of airtime; B joins at 1.0 s needing 1 s. By hand:
    # A has 0.5 s left at 1.0 s and now gets half the airtime: it ends at 2.0 s. B has had
    # 0.5 s of airtime by then and finishes alone at 2.5 s.
    sim = shared_cell_sim(make_scenario, n_devices=2, input_bytes=1e6, uplink_bps=8e6, start_times_s=[0.5, 1.0])
    sim.advance(10.0)
    np.testing.assert_allclose(uplink_ends(sim), [2.0, 2.5], rtol=EXACT)


def test_unequal_flows_finish_in_airtime_order_with_the_work_conserved(make_scenario):
    # three flows together, airtimes 1, 2 and 4 s: ends at 3 (3 x 1), 5 (+ 2 x 1) and 7 (+ 1 x 2) s
    scenario_rates = [8e6, 4e6, 2e6]
    sim = shared_cell_sim(make_scenario, n_devices=3, input_bytes=1e6, uplink_bps=8e6, start_times_s=[0.0] * 3)
    sim.model = sim.model._replace(dev_uplink_bps=np.array(scenario_rates))
    sim.state.dev_uplink_bps[:] = scenario_rates
    sim.advance(20.0)
    np.testing.assert_allclose(uplink_ends(sim), [3.0, 5.0, 7.0], rtol=EXACT)
    # the cell was busy exactly the total airtime (work conservation)
    assert sim.result().summary["tasks_completed"] == 3
    settled = engine.State(*(a.copy() for a in sim.state))
    engine.settle(sim.model, settled, 20.0)
    assert settled.cell_busy_s[engine.UL, 0] == pytest.approx(7.0, rel=EXACT)


@pytest.mark.parametrize("n", [2, 6])
def test_proportional_fair_adds_the_multi_user_diversity_gain(make_scenario, n):
    bits, rate = 8e6, 1e8
    sim = shared_cell_sim(make_scenario, n_devices=n, input_bytes=bits / 8, uplink_bps=rate,
                          start_times_s=[1.0] * n, proportional_fair=True)
    sim.advance(10.0)
    harmonic = sum(1.0 / k for k in range(1, n + 1))
    np.testing.assert_allclose(uplink_ends(sim), 1.0 + n * bits / rate / harmonic, rtol=EXACT)


def test_uplink_and_downlink_are_separate_resources(make_scenario):
    # device 0's downlink runs while device 1's uplink does: neither slows the other
    sim = shared_cell_sim(make_scenario, n_devices=2, input_bytes=1e6, uplink_bps=8e6, output_bytes=1e6,
                          start_times_s=[0.0, 1.0])
    sim.advance(20.0)
    trace = sim.result().trace
    order = np.argsort(trace["device"])
    ul = trace["uplink_s"][order]
    dl = trace["downlink_s"][order]
    # device 0: uplink 0-1 s alone, downlink from 1 s; device 1: uplink from 1 s. Each is alone
    # in its direction, so every transfer takes exactly 1 s.
    np.testing.assert_allclose(ul, [1.0, 1.0], rtol=EXACT)
    np.testing.assert_allclose(dl, [1.0, 1.0], rtol=1e-9)


def test_sharing_conserves_tasks_and_energy_under_load(make_scenario):
    # many devices, one cell, Poisson traffic: every task ends once and energy adds up
    scenario = make_scenario(
        simulation={"duration_s": 300.0},
        gpu={"servers": 4, "flops_per_s": 1e12},
        workload={"input_bytes": 50_000.0, "output_bytes": 5_000.0},
        device={"count": 30, "rate_hz": 2.0, "uplink_bps": 2e7, "downlink_bps": 5e7},
    )
    sim = airan.Simulation(scenario)
    regroup_cells(sim, np.zeros(30, dtype=np.int32))
    s = sim.run().summary
    assert s["tasks_generated"] == s["tasks_completed"] + s["tasks_dropped"] + s["tasks_in_flight"]
    assert s["tasks_completed"] > 10_000
    parts = sum(s[f"device_energy_{p}_j"] for p in ("idle", "compute", "tx", "rx"))
    assert parts == pytest.approx(s["device_energy_j"], rel=1e-12)
    # sharing makes transfers slower than alone: mean uplink time above size / rate
    assert s["uplink_mean_s"] > 50_000 * 8 / 2e7
