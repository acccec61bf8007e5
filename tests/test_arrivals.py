"""Arrival processes: periodic frames with jitter, bursty on/off (MMPP) and trace replay."""

from __future__ import annotations

import math

import numpy as np
import pytest

import airan
from airan.build import BuildError

EXACT = 1e-9


def arrival_scenario(**group) -> airan.Scenario:
    """Devices that compute everything locally (every task ends, in generation order) at a fast CPU."""
    base = {"name": "d", "count": 1, "workload": "w", "compute_flops_per_s": 1e12, "power_idle_w": 0.1,
            "power_compute_w": 1.0, "power_tx_w": 1.0, "power_rx_w": 0.5, "battery_wh": 1e6,
            "uplink_bps": 1e7, "downlink_bps": 1e7}
    return airan.scenario_from_dict({
        "simulation": {"duration_s": group.pop("duration_s", 1000.0), "seed": group.pop("seed", 4)},
        "policy": {"name": "local"},
        "sites": [{"name": "bs"}],
        "workloads": [{"name": "w", "flops": 1.0, "input_bytes": 1.0, "output_bytes": 1.0, "deadline_s": 1.0}],
        "devices": [{**base, **group}],
    })


def arrival_times(scenario) -> dict[int, np.ndarray]:
    t = airan.run(scenario, trace=True).trace
    return {int(d): np.sort(t["t_generated_s"][t["device"] == d]) for d in np.unique(t["device"])}


def test_periodic_frames_arrive_late_by_their_jitter_only():
    period_s, jitter_s = 0.1, 0.04
    times = arrival_times(arrival_scenario(arrival="periodic", rate_hz=1 / period_s, jitter_s=jitter_s))[0]
    k = np.arange(times.size)
    late = times - k * period_s  # phase + U[0, jitter): the frames keep their order and their slots
    assert np.all(np.diff(times) > 0)
    assert late.max() - late.min() < jitter_s
    # uniform jitter: standard deviation jitter / sqrt(12), estimated from 10,000 frames to about 1 %
    assert np.std(late) == pytest.approx(jitter_s / math.sqrt(12.0), rel=0.03)
    assert times.size in (9999, 10000)


def test_periodic_without_jitter_is_unchanged():
    times = arrival_times(arrival_scenario(arrival="periodic", rate_hz=5.0, duration_s=100.0))[0]
    np.testing.assert_allclose(np.diff(times), 0.2, rtol=EXACT)


def test_mmpp_rate_and_burstiness_match_the_two_state_formulas():
    # Two-state MMPP, on: 10/s for 1 s on average, off: 0/s for 4 s. Mean rate lambda_on p_on = 2/s;
    # index of dispersion of counts in a window t (W. Fischer and K. Meier-Hellstern, "The MMPP
    # cookbook", Perform. Eval. 18(2), 1993, with r1 = 1/on, r2 = 1/off, lambda2 = 0):
    # IDC(t) = 1 + 2 (l1 - l2)^2 r1 r2 / ((r1 + r2)^2 (l1 r2 + l2 r1)) (1 - (1 - e^-(r1+r2)t) / ((r1+r2) t)).
    on_s, off_s, rate_hz, window_s, duration_s, n_dev = 1.0, 4.0, 10.0, 20.0, 2000.0, 100
    times = arrival_times(arrival_scenario(arrival="mmpp", rate_hz=rate_hz, mmpp_on_s=on_s, mmpp_off_s=off_s,
                                           count=n_dev, duration_s=duration_s))
    counts = np.concatenate([np.histogram(t, bins=np.arange(0.0, duration_s + 1e-9, window_s))[0]
                             for t in times.values()])
    r1, r2, l1, l2 = 1 / on_s, 1 / off_s, rate_hz, 0.0
    mean_rate = (l1 * r2 + l2 * r1) / (r1 + r2)
    x = (r1 + r2) * window_s
    idc = 1 + 2 * (l1 - l2) ** 2 * r1 * r2 / ((r1 + r2) ** 2 * (l1 * r2 + l2 * r1)) * (1 - (1 - math.exp(-x)) / x)
    # 10,000 windows: the mean's standard error is sqrt(IDC * mean / n) / mean, about 0.6 %;
    # the variance's (windows about independent, counts over-dispersed) about 3 %
    assert counts.mean() / window_s == pytest.approx(mean_rate, rel=0.02)
    assert counts.var() / counts.mean() == pytest.approx(idc, rel=0.1)
    # started in the stationary state: no transient in the first seconds
    first = sum(int(np.sum(t < 10.0)) for t in times.values())
    assert first / (n_dev * 10.0) == pytest.approx(mean_rate, rel=0.15)


def test_a_trace_is_replayed_cyclically_from_a_random_offset(tmp_path):
    trace = tmp_path / "arrivals.csv"
    trace.write_text("t_s,note\n3.0,a\n3.5,b\n3.7,c\n5.0,d\n")
    scenario = arrival_scenario(arrival="trace", trace_file=str(trace), count=5, duration_s=60.0)
    gaps = np.array([0.5, 0.2, 1.3, 2.0 / 3.0])  # the cycle closes with one mean gap
    for times in arrival_times(scenario).values():
        observed = np.diff(times)
        start = int(np.argmin([np.max(np.abs(observed[:4] - np.roll(gaps, -i))) for i in range(4)]))
        expected = np.resize(np.roll(gaps, -start), observed.size)
        np.testing.assert_allclose(observed, expected, rtol=1e-9, atol=1e-9)
        assert times[0] >= 0.0 and times[0] < 2.0 + 2.0 / 3.0
    s = airan.run(scenario).summary
    assert s["tasks_generated"] == pytest.approx(5 * 60.0 * 4 / (2.0 + 2.0 / 3.0), abs=5 * 2)


@pytest.mark.parametrize(("text", "message"), [
    ("t_s\n1.0\n", "needs at least 2 arrival times, got 1"),
    ("t_s\n1.0\n0.5\n", "must be finite and non-decreasing"),
    ("t_s\n1.0\nsoon\n", "row 2: not a number of seconds"),
])
def test_a_bad_trace_is_a_one_line_error(tmp_path, text, message):
    trace = tmp_path / "bad.csv"
    trace.write_text(text)
    with pytest.raises(BuildError, match=message) as info:
        airan.Simulation(arrival_scenario(arrival="trace", trace_file=str(trace)))
    assert str(info.value).startswith("devices[0].trace_file: ") and "\n" not in str(info.value)


@pytest.mark.parametrize(("group", "message"), [
    ({"arrival": "trace"}, "devices[0].trace_file: required with arrival = \"trace\""),
    ({"arrival": "trace", "trace_file": "x.csv", "rate_hz": 1.0}, "devices[0].rate_hz: not used with arrival"),
    ({"arrival": "poisson"}, "devices[0].rate_hz: required with arrival = \"poisson\""),
    ({"arrival": "poisson", "rate_hz": 1.0, "jitter_s": 0.1}, "devices[0].jitter_s: only used with arrival"),
    ({"arrival": "periodic", "rate_hz": 10.0, "jitter_s": 0.1}, "devices[0].jitter_s: must be < the period"),
    ({"arrival": "mmpp", "rate_hz": 10.0, "mmpp_on_s": 1.0}, "devices[0].mmpp_on_s: mmpp_on_s and mmpp_off_s"),
])
def test_arrival_fields_are_checked(group, message):
    with pytest.raises(airan.ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        arrival_scenario(**group)


def test_a_trace_travels_with_the_results(tmp_path):
    trace = tmp_path / "arrivals.csv"
    trace.write_text("0.0\n0.25\n1.0\n")
    scenario_file = tmp_path / "s.toml"
    scenario_file.write_text(f"""
[simulation]
duration_s = 30.0
[policy]
name = "local"
[[sites]]
name = "bs"
[[workloads]]
name = "w"
flops = 1.0
input_bytes = 1.0
output_bytes = 1.0
deadline_s = 1.0
[[devices]]
name = "d"
count = 3
workload = "w"
arrival = "trace"
trace_file = "{trace.name}"
compute_flops_per_s = 1e9
power_idle_w = 0.1
power_compute_w = 1.0
power_tx_w = 1.0
power_rx_w = 0.5
battery_wh = 10.0
uplink_bps = 1e6
downlink_bps = 1e6
""")
    first = airan.run(airan.load_scenario(scenario_file))
    out = first.write(tmp_path / "out")
    assert (out / "arrivals_0.csv").read_text() == trace.read_text()
    again = airan.run(airan.load_scenario(out / "scenario.toml"))
    assert again.summary["tasks_generated"] == first.summary["tasks_generated"] > 0
