"""Device energy and batteries in whole runs: the split, RRC tails, per-bit radio energy,
battery models against their closed forms, and per-task energies."""

from __future__ import annotations

import math

import numpy as np
import pytest

import airan
from airan import battery

EXACT = 1e-9


def one_device(make_raw, *, device: dict, workload: dict | None = None, duration_s: float = 1000.0,
               policy: str = "offload", servers: int = 1) -> dict:
    return make_raw(
        simulation={"duration_s": duration_s},
        policy=policy,
        gpu={"servers": servers, "flops_per_s": 1e12, "service": "deterministic"},
        workload={"flops": 1e10, "input_bytes": 100_000.0, "output_bytes": 10_000.0, **(workload or {})},
        device={"count": 1, "arrival": "periodic", "rate_hz": 0.01, **device},
    )


def run(raw: dict, **kwargs) -> airan.Result:
    return airan.run(airan.scenario_from_dict(raw), **kwargs)


def test_the_split_sums_to_the_total_with_every_term_on(make_raw):
    raw = make_raw(
        simulation={"duration_s": 300.0},
        gpu={"servers": 2, "queue_capacity": 2, "on_full": "local"},
        workload={"input_bytes": 50_000.0, "output_bytes": 5_000.0},
        device={"count": 12, "rate_hz": 1.0, "rrc_tail_s": 0.5, "power_tail_w": 0.6, "rrc_inactive_s": 2.0,
                "power_inactive_w": 0.1, "tx_j_per_bit": 4e-7, "rx_j_per_bit": 5e-8, "battery_wh": 0.05},
    )
    result = run(raw)
    dev, s = result.devices, result.summary
    parts = ("idle", "compute", "tx", "rx", "tail")
    total = sum(dev[f"energy_{p}_j"] for p in parts)
    np.testing.assert_allclose(total, dev["energy_j"], rtol=1e-12)
    assert sum(s[f"device_energy_{p}_j"] for p in parts) == pytest.approx(s["device_energy_j"], rel=1e-12)
    assert s["device_energy_tail_j"] > 0 and s["devices_depleted"] > 0
    # a depleted device used exactly its battery (0.05 Wh)
    depleted = dev["depleted"]
    np.testing.assert_allclose(dev["energy_j"][depleted], 0.05 * 3600, rtol=1e-9)


def test_rrc_tail_and_inactive_energy_follow_each_transfer_exactly(make_raw):
    # Tasks 100 s apart. After the uplink the device waits in the connected tail for its result
    # (GPU wait + service, 10 ms here), then after the downlink it spends 0.8 s in the tail and
    # 3 s in inactive. With no baseline power the tail energy is exactly that, task by task.
    raw = one_device(make_raw, device={"power_idle_w": 0.0, "rrc_tail_s": 0.8, "power_tail_w": 1.2,
                                       "rrc_inactive_s": 3.0, "power_inactive_w": 0.05})
    result = run(raw, trace=True)
    t = result.trace
    waiting_s = (t["gpu_wait_s"] + t["gpu_service_s"]).sum()
    expected = 1.2 * waiting_s + len(t["task"]) * (1.2 * 0.8 + 0.05 * 3.0)
    assert waiting_s > 0
    assert result.devices["energy_tail_j"][0] == pytest.approx(expected, rel=EXACT)


def test_radio_energy_is_power_times_airtime_plus_energy_per_bit(make_raw):
    raw = one_device(make_raw, device={"power_idle_w": 0.0, "power_tx_w": 1.5, "power_rx_w": 0.4,
                                       "tx_j_per_bit": 4.38e-7, "rx_j_per_bit": 5.2e-8})
    result = run(raw, trace=True)
    t, dev = result.trace, result.devices
    n = len(t["task"])
    assert dev["energy_tx_j"][0] == pytest.approx(1.5 * t["uplink_s"].sum() + n * 4.38e-7 * 800_000, rel=EXACT)
    assert dev["energy_rx_j"][0] == pytest.approx(0.4 * t["downlink_s"].sum() + n * 5.2e-8 * 80_000, rel=EXACT)


def test_local_energy_per_inference_is_power_times_flops_over_throughput(make_raw):
    raw = one_device(make_raw, policy="local", device={"power_compute_w": 3.0, "compute_flops_per_s": 2e11})
    s = run(raw).summary
    assert s["device_energy_per_local_task_j"] == pytest.approx(3.0 * 1e10 / 2e11, rel=EXACT)


def test_idle_only_device_life_is_capacity_over_idle_power(make_raw):
    # no tasks before the end: life = 1 Wh / 0.5 W = 2 h, projected (it does not empty in 1000 s)
    raw = one_device(make_raw, device={"rate_hz": 1e-9, "power_idle_w": 0.5, "battery_wh": 1.0})
    dev = run(raw).devices
    assert not dev["battery_life_measured"][0]
    assert dev["battery_life_h"][0] == pytest.approx(2.0, rel=1e-12)


@pytest.mark.parametrize("model", ["ideal", "peukert", "kibam"])
def test_constant_load_lifetime_matches_the_closed_form(make_raw, model):
    # an idle-only device at 3.6 W on a 0.5 Wh battery: it empties during the run, and the
    # measured instant equals the model's constant-load lifetime
    params = {"battery_model": model, **{
        "ideal": {},
        "peukert": {"peukert_k": 1.2, "peukert_rated_h": 20.0},
        "kibam": {"kibam_c": 0.625, "kibam_k_prime_per_s": 4.5e-4 / (0.625 * 0.375)},
    }[model]}
    raw = one_device(make_raw, duration_s=5000.0, device={"rate_hz": 1e-9, "power_idle_w": 3.6,
                                                          "battery_wh": 0.5, **params})
    dev = run(raw).devices
    energy_j, power_w = 0.5 * 3600.0, 3.6
    if model == "ideal":
        life_s = energy_j / power_w
    elif model == "peukert":
        rated_w = energy_j / (20.0 * 3600.0)
        life_s = 20.0 * 3600.0 * (energy_j / (power_w * 20.0 * 3600.0)) ** 1.2  # H (E / (P H))^k
        assert life_s == pytest.approx(energy_j / (power_w * (power_w / rated_w) ** 0.2), rel=1e-12)
    else:
        c, kp = 0.625, 4.5e-4 / (0.625 * 0.375)
        gap = lambda t: energy_j - power_w * t - (1 - c) * power_w * (1 - math.exp(-kp * t)) / (c * kp)  # noqa: E731
        lo, hi = c * energy_j / power_w, energy_j / power_w
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if gap(mid) > 0 else (lo, mid)
        life_s = 0.5 * (lo + hi)
        assert life_s < energy_j / power_w  # the rate-capacity effect: less than the ideal life
    assert dev["battery_life_measured"][0]
    assert dev["depleted_at_s"][0] == pytest.approx(life_s, rel=1e-9)


@pytest.mark.parametrize("special", [{"battery_model": "kibam", "kibam_c": 1.0},
                                     {"battery_model": "peukert", "peukert_k": 1.0}])
def test_kibam_with_c_1_and_peukert_with_k_1_are_the_ideal_battery(make_raw, special):
    base = {"count": 6, "rate_hz": 2.0, "battery_wh": 0.005, "power_tx_w": 2.0}
    ideal = run(make_raw(simulation={"duration_s": 200.0}, workload={"input_bytes": 20_000.0},
                         device=base))
    other = run(make_raw(simulation={"duration_s": 200.0}, workload={"input_bytes": 20_000.0},
                         device={**base, **special}))
    assert ideal.summary["devices_depleted"] > 0
    np.testing.assert_allclose(other.devices["depleted_at_s"], ideal.devices["depleted_at_s"], rtol=1e-9)
    np.testing.assert_allclose(other.devices["energy_j"], ideal.devices["energy_j"], rtol=1e-9)


def test_kibam_recovers_under_a_pulsed_load(make_raw):
    # Jongerden and Haverkort's recovery effect: the same average power drawn in pulses lasts
    # longer than the constant-power lifetime at the pulse power would suggest, and a KiBaM
    # battery delivers more energy under a light load than under a heavy one
    params = {"battery_model": "kibam", "kibam_c": 0.625, "kibam_k_prime_per_s": 4.5e-5 / (0.625 * 0.375),
              "battery_wh": 0.2,
              "power_idle_w": 0.0}
    heavy = run(one_device(make_raw, duration_s=20_000.0, device={**params, "rate_hz": 1e-9,
                                                                   "power_idle_w": 2.0}))
    light = run(one_device(make_raw, duration_s=20_000.0, device={**params, "rate_hz": 1e-9,
                                                                   "power_idle_w": 0.1}))
    assert heavy.devices["battery_life_measured"][0]
    delivered_heavy = heavy.devices["energy_j"][0]
    assert delivered_heavy < 0.2 * 3600.0  # bound charge left behind
    life_light_s = battery.projected_life_s(battery.BATTERY_KIBAM, 0.625, 4.5e-5 / (0.625 * 0.375),
                                            0.2 * 3600.0, 0.1)
    assert light.devices["battery_life_h"][0] * 3600.0 == pytest.approx(life_light_s, rel=1e-9)
    assert 0.1 * life_light_s > delivered_heavy


def test_gpu_energy_at_zero_load_is_idle_power_times_time(make_raw):
    raw = one_device(make_raw, policy="local", servers=3, device={})
    raw["sites"][0]["gpu"].update({"power_idle_w": 60.0, "power_peak_w": 700.0})
    s = run(raw).summary
    assert s["gpu_energy_j"] == pytest.approx(3 * 60.0 * 1000.0, rel=1e-12)


def test_gpu_energy_adds_the_peak_minus_idle_power_over_busy_time(make_raw):
    raw = one_device(make_raw, servers=2, device={"count": 5, "rate_hz": 0.5, "arrival": "poisson"},
                     duration_s=400.0)
    raw["sites"][0]["gpu"].update({"power_idle_w": 60.0, "power_peak_w": 700.0})
    result = run(raw, trace=True)
    t, s = result.trace, result.summary
    served = t["ran"] == "gpu"
    # every service ended before the run did (10 ms services, arrivals every ~0.4 s)
    busy_s = t["gpu_service_s"][served].sum()
    assert s["tasks_in_flight"] == 0
    assert s["gpu_energy_j"] == pytest.approx(2 * 60.0 * 400.0 + 640.0 * busy_s, rel=1e-9)
    assert s["gpu_energy_per_inference_j"] == pytest.approx(s["gpu_energy_j"] / served.sum(), rel=1e-12)


def test_earth_site_energy_asleep_and_under_load(make_raw):
    # macro site of the EARTH paper: 6 x (130 + 4.7 x 20) = 1344 W at full load, 6 x 75 W asleep
    earth = {"type": "macro", "n_trx": 6, "p_max_w": 20.0, "p0_w": 130.0, "delta_p": 4.7, "p_sleep_w": 75.0}
    raw = one_device(make_raw, device={})
    raw["sites"][0]["base_station"] = earth
    s = run(raw).summary  # ideal channel: no cells, no load, no site energy
    assert s["site_energy_j"] is None
    radio = {"model": "tr38901"}
    raw = {**one_device(make_raw, policy="local", device={}), "channel": radio}
    for group in raw["devices"]:
        group.pop("uplink_bps"), group.pop("downlink_bps")
        group.update({"cell_radius_m": 200.0, "min_distance_m": 35.0})
    raw["sites"][0]["base_station"] = earth
    s = run(raw).summary  # nothing offloaded: every cell sleeps the whole run
    assert s["site_energy_j"] == pytest.approx(6 * 75.0 * 1000.0, rel=1e-12)
    assert s["network_energy_j"] == pytest.approx(s["device_energy_j"] + s["site_energy_j"], rel=1e-12)

    # under load: each cell's downlink busy time at full power, the rest asleep (one omni cell)
    raw = {**one_device(make_raw, device={"count": 20, "rate_hz": 2.0, "arrival": "poisson"}), "channel": radio}
    raw["workloads"][0]["output_bytes"] = 200_000.0
    for group in raw["devices"]:
        group.pop("uplink_bps"), group.pop("downlink_bps")
        group.update({"cell_radius_m": 200.0, "min_distance_m": 35.0})
    raw["sites"][0]["base_station"] = earth
    result = run(raw)
    busy_s = result.cells["load_dl"][0] * 1000.0  # no warm-up: the load is over the whole run
    assert 0.05 < result.cells["load_dl"][0] < 0.95
    assert result.summary["site_energy_j"] == pytest.approx(1344.0 * busy_s + 450.0 * (1000.0 - busy_s), rel=1e-9)


def test_battery_life_is_reported_measured_and_projected(make_raw):
    raw = make_raw(simulation={"duration_s": 500.0},
                   devices=[{"name": "small", "count": 2, "battery_wh": 0.01, "power_idle_w": 0.5},
                            {"name": "big", "count": 3, "battery_wh": 10.0, "power_idle_w": 0.5}])
    result = run(raw)
    dev, s = result.devices, result.summary
    np.testing.assert_array_equal(dev["battery_life_measured"], [True, True, False, False, False])
    assert s["devices_depleted"] == 2
    assert s["battery_life_measured_mean_h"] == pytest.approx(np.mean(dev["depleted_at_s"][:2]) / 3600, rel=1e-12)
    # projected life: battery energy / average power, for every device (the small ones too)
    np.testing.assert_allclose(dev["battery_life_projected_h"],
                               [0.01, 0.01, 10.0, 10.0, 10.0] / dev["power_mean_w"], rtol=1e-9)
    assert s["battery_life_projected_mean_h"] == pytest.approx(np.mean(dev["battery_life_projected_h"]), rel=1e-12)


@pytest.mark.parametrize("override, expected", [
    ("devices.0.accelerator=[1]", "devices[0].accelerator: must be one of"),
    ("devices.0.accelerator=gpu", "devices[0].accelerator: profile 'smartphone' has no 'gpu' accelerator"),
    ("devices.0.peukert_k=1.9", 'devices[0].peukert_k: only used with battery_model = "peukert"'),
])
def test_profile_and_battery_parameter_errors_are_one_line(make_raw, override, expected):
    raw = make_raw()
    group = raw["devices"][0]
    for key in ("compute_flops_per_s", "power_idle_w", "power_compute_w", "power_tx_w", "power_rx_w", "battery_wh"):
        group.pop(key)
    group["profile"] = "smartphone"
    with pytest.raises(airan.ScenarioError) as info:
        airan.scenario_from_dict(airan.apply_overrides(raw, [override], source="s"), source="s")
    assert expected in str(info.value) and "\n" not in str(info.value)
