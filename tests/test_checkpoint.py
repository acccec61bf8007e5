"""Checkpoints: a run saved mid-way and resumed gives exactly the results of an unbroken run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import airan
from airan import engine

ROOT = Path(__file__).resolve().parents[1]


def without_wall_time(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "wall_time_s"}


def test_save_then_load_continues_bit_identically(make_scenario, tmp_path):
    scenario = make_scenario(
        simulation={"duration_s": 400.0, "warmup_s": 50.0, "seed": 9},
        gpu={"servers": 2, "queue_capacity": 3, "on_full": "local"},
        workload={"input_bytes": 20_000.0, "output_bytes": 2_000.0},
        device={"count": 12, "rate_hz": 1.5, "battery_wh": 0.02},  # some batteries empty mid-run
    )
    straight = airan.Simulation(scenario, trace=True).run()

    first = airan.Simulation(scenario, trace=True)
    first.advance(123.4)
    path = first.save(tmp_path / "run.npz")
    rows_before = airan.simulation._concat(first._chunks) if first._chunks else None

    resumed = airan.Simulation.load(path, trace=True)
    assert resumed.now_s == 123.4 and resumed.seed == 9
    resumed.advance(400.0)
    result = resumed.result()

    assert without_wall_time(result.summary) == without_wall_time(straight.summary)
    assert straight.summary["devices_depleted"] > 0
    for name in ("energy_j", "battery_life_h", "depleted_at_s", "tasks_completed"):
        np.testing.assert_array_equal(result.devices[name], straight.devices[name])
    # the trace rows of the two halves together are those of the unbroken run
    both = {k: np.concatenate([rows_before[k], result.trace[k]]) for k in result.trace}
    order = np.argsort(both["task"], kind="stable")
    ref = np.argsort(straight.trace["task"], kind="stable")
    np.testing.assert_array_equal(both["t_end_s"][order], straight.trace["t_end_s"][ref])


def test_checkpoint_holds_every_state_array(make_scenario, tmp_path):
    sim = airan.Simulation(make_scenario(simulation={"duration_s": 50.0}))
    sim.advance(20.0)
    loaded = airan.Simulation.load(sim.save(tmp_path / "c.npz"))
    for name, value in sim.state._asdict().items():
        if not name.startswith("trace_"):
            np.testing.assert_array_equal(getattr(loaded.state, name), value, err_msg=name)
    assert loaded.state.ints[engine.I_EV_N] == sim.state.ints[engine.I_EV_N]


def test_sampling_a_gpu_time_series_changes_nothing_and_adds_up(tmp_path):
    scenario = airan.load_scenario(ROOT / "experiments" / "quickstart.toml",
                                   ["simulation.duration_s=120", "simulation.warmup_s=0"])
    plain = airan.run(scenario)
    sampled_scenario = airan.load_scenario(ROOT / "experiments" / "quickstart.toml",
                                           ["simulation.duration_s=120", "simulation.warmup_s=0",
                                            "simulation.sample_s=10"])
    sim = airan.Simulation(sampled_scenario)
    sim.advance(55.0)  # stop between samples, save and resume: the series goes on
    sim.save(tmp_path / "run.npz")
    sim = airan.Simulation.load(tmp_path / "run.npz")
    sampled = sim.run()
    drop = {"wall_time_s"}
    assert {k: v for k, v in sampled.summary.items() if k not in drop} == \
        {k: v for k, v in plain.summary.items() if k not in drop}
    ts = sampled.timeseries
    nodes = plain.nodes["node"]
    assert len(ts["node"]) == 12 * len(nodes)
    np.testing.assert_array_equal(ts["t_end_s"] - ts["t_start_s"], 10.0)
    # the intervals' utilisations average to the run's (no warm-up: the same span), node by node
    for i, node in enumerate(nodes):
        mine = ts["node"] == node
        assert np.mean(ts["gpu_utilization"][mine]) == pytest.approx(plain.nodes["gpu_utilization"][i], rel=1e-9)
        assert np.mean(ts["gpu_queue_length_mean"][mine]) == pytest.approx(
            plain.nodes["gpu_queue_length_mean"][i], rel=1e-9, abs=1e-12)
    assert plain.timeseries is None
    sampled.write(tmp_path / "out")
    assert (tmp_path / "out" / "timeseries.parquet").exists()


def test_the_time_series_ends_with_the_run_even_between_samples():
    # 25 s in samples of 10 s: two whole intervals and the last 5 s; 0.7 s in 0.1 s (7 x 0.1 is not 0.7)
    for duration, sample, lengths in ((25.0, 10.0, [10.0, 10.0, 5.0]), (0.7, 0.1, [0.1] * 7)):
        scenario = airan.load_scenario(ROOT / "experiments" / "quickstart.toml", [
            f"simulation.duration_s={duration}", "simulation.warmup_s=0", f"simulation.sample_s={sample}"])
        result = airan.run(scenario)
        ts = result.timeseries
        first = ts["node"] == ts["node"][0]
        np.testing.assert_allclose(ts["t_end_s"][first] - ts["t_start_s"][first], lengths, rtol=1e-9)
        assert ts["t_end_s"][-1] == duration
        weights = ts["t_end_s"][first] - ts["t_start_s"][first]
        assert np.sum(ts["gpu_utilization"][first] * weights) / duration == pytest.approx(
            result.nodes["gpu_utilization"][0], rel=1e-9)
