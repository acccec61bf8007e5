"""The Numba kernel against the slow, obvious reference in ``reference_sim.py``.

Each case draws a small random scenario (1-3 sites, some without a GPU; 1-12
devices in 1-3 groups; Poisson or periodic arrivals; exponential or
deterministic service; queue capacities 0, small or unlimited; drop or local
fallback on a full queue; local or offload policy; batteries small enough that
some devices empty during the run; 20-200 s), runs it through both simulators
with the same random streams, and compares them task by task.

The device energy model is drawn too (:func:`add_energy_features`, from a
generator of its own): RRC connected tail and inactive states, per-bit radio
energy (realistic on some groups, dominant on others so that lumps empty
batteries), ideal, Peukert and KiBaM batteries, devices at the cell edge (long
transfers), and GPU and base-station powers on some sites. The comparison covers
the five energy components per device and in the summary, the per-task and
per-inference energies, mean power, depletion flags and instants, measured and
projected battery life, the batteries' wells at the end (available charge, and
the KiBaM's bound charge), and GPU, base-station and network energy.

Tolerance: both simulators compute every time from the same random draws with
sums and differences of event times below ~200 s, by different routes (virtual
time against remaining airtime, per-event energy integration against a
scheduled battery-empty instant; KiBaM wells against total charge and height
difference, bisection against Newton's method for the empty instant). Their
rounding error is ~1e-16 * 200 s * (a few hundred operations) < 1e-11 s (and
likewise in joules for energies and wells of at most a few hundred J), so 1e-9
relative or absolute catches any modelling difference while ignoring rounding.
(Measured: the largest difference over the cases is below 1e-4 of the tolerance.)

Ties in time: the kernel breaks them by scheduling order, the reference by its
own (different) scheduling order. Every time here is continuous and random, so
ties do not happen, with one deliberate exception: zero-byte transfers end at the
instant they start, which both simulators handle after whatever else happens at
that instant.

A battery that starts empty is empty at exactly t = 0 whatever its model (a
KiBaM battery once reported ~1e-15 s; see the test at the end).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from conftest import regroup_cells
from reference_sim import SitePowers, make_battery, simulate

import airan
from airan import engine
from airan.build import build_model, initial_state
from airan.simulation import Simulation

TOL = 1e-9  # relative and absolute, see the module docstring

TRACE_TIMES = ("t_generated_s", "t_end_s", "local_s", "uplink_s", "gpu_wait_s", "gpu_service_s", "downlink_s")

# ---------------------------------------------------------------------------
# Random small scenarios
# ---------------------------------------------------------------------------


def random_raw(rng: np.random.Generator, energy_rng: np.random.Generator | None = None) -> dict:
    """A small random scenario as raw data (every float a float: the schema is strict).

    With ``energy_rng``, :func:`add_energy_features` then draws the device energy
    model's optional parts and the site powers from that generator (``rng`` draws
    the same numbers either way; the energy draws may also zero a group's baseline
    power or charge, slow its links and resize its battery).
    """
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
            g = model.dev_group[attached]
            demand_flops_per_s = np.sum(model.grp_rate_hz[g] * model.wl_flops[model.grp_workload[g]])
            load = rng.uniform(0.3, 1.6)  # offered load per server
            site["gpu"]["flops_per_s"] = float(demand_flops_per_s / (load * site["gpu"]["servers"]))
    if energy_rng is not None:
        add_energy_features(raw, energy_rng)
    return raw


def add_energy_features(raw: dict, rng: np.random.Generator) -> None:
    """Draw, group by group, RRC tail and inactive states, per-bit radio energy and a battery model
    (ideal, Peukert or KiBaM), and GPU and base-station powers on some sites.

    Batteries empty at the end of a transfer mostly by a per-bit lump or during a
    long transfer, both rare with realistic numbers alone, so some groups get
    per-bit energies that dominate their budget and some sit at the cell edge.
    """
    workloads = {w["name"]: w for w in raw["workloads"]}
    for group in raw["devices"]:
        if rng.random() < 0.1:  # no baseline: the device draws nothing between tasks (a KiBaM recovers)
            group["power_idle_w"] = 0.0
        empty_start = rng.random() < 0.03  # a battery empty from the start (not KiBaM: see below)
        if rng.random() < 0.15:  # at the cell edge: transfers 10-100 times slower
            slower = float(10 ** rng.uniform(1.0, 2.0))
            group["uplink_bps"] /= slower
            group["downlink_bps"] /= slower
        if rng.random() < 0.6:  # RRC connected tail then inactive, either possibly of length 0
            group["rrc_tail_s"] = 0.0 if rng.random() < 0.15 else float(rng.uniform(0.05, 3.0))
            group["power_tail_w"] = float(rng.uniform(0.1, 1.5))
            group["rrc_inactive_s"] = 0.0 if rng.random() < 0.15 else float(rng.uniform(0.5, 10.0))
            group["power_inactive_w"] = float(rng.uniform(0.01, 0.3))
        model = str(rng.choice(["ideal", "peukert", "kibam"]))
        group["battery_model"] = model
        if model == "peukert":
            # rated from 36 s to 3 h: the battery drains ~1x to ~4x as fast as an ideal one (a bigger
            # battery keeps about as many devices alive to the end)
            group["peukert_k"] = 1.0 if rng.random() < 0.1 else float(rng.uniform(1.0, 1.2))
            group["peukert_rated_h"] = float(10 ** rng.uniform(-2.0, 0.5))
            group["battery_wh"] *= float(rng.uniform(1.0, 3.0))
        elif model == "kibam":
            # k' from 1e-4/s (the bound charge hardly moves during the run) to 0.1/s (it follows at once);
            # only the available well (a fraction c) can be counted on, hence the bigger battery
            group["kibam_c"] = 1.0 if rng.random() < 0.1 else float(rng.uniform(0.2, 0.95))
            group["kibam_k_prime_per_s"] = float(10 ** rng.uniform(-4.0, -1.0))
            group["battery_wh"] /= group["kibam_c"]
        if empty_start:
            group["initial_charge"] = 0.0
        per_bit = rng.choice(["none", "realistic", "dominant"], p=[0.45, 0.3, 0.25])
        if per_bit == "realistic":  # Huang et al.: ~4e-7 J/bit up, ~5e-8 J/bit down
            group["tx_j_per_bit"] = 0.0 if rng.random() < 0.15 else float(10 ** rng.uniform(-7.0, -6.0))
            group["rx_j_per_bit"] = 0.0 if rng.random() < 0.15 else float(10 ** rng.uniform(-8.0, -7.0))
        elif per_bit == "dominant":  # each transfer takes 0.5-5 % of the battery
            w = workloads[group["workload"]]
            battery_j = group["battery_wh"] * 3600.0
            for field, size in (("tx_j_per_bit", "input_bytes"), ("rx_j_per_bit", "output_bytes")):
                if w[size] > 0.0 and rng.random() < 0.8:
                    group[field] = float(battery_j * rng.uniform(0.005, 0.05) / (8.0 * w[size]))
    for site in raw["sites"]:
        if "gpu" in site and rng.random() < 0.5:
            idle_w = float(rng.uniform(20.0, 100.0))
            site["gpu"].update(power_idle_w=idle_w, power_peak_w=idle_w + float(rng.uniform(0.0, 600.0)))
        if rng.random() < 0.4:
            site["base_station"] = {"type": str(rng.choice(["macro", "micro", "pico"]))}
            if rng.random() < 0.5:
                site["base_station"].update(n_trx=int(rng.integers(1, 7)), p0_w=float(rng.uniform(5.0, 150.0)))


def kernel_sim(raw: dict, rng: np.random.Generator | None = None, *, shared_cells: bool = False) -> Simulation:
    """The kernel's simulation of ``raw``; with ``shared_cells``, devices share 1-3 cells at random."""
    sim = Simulation(airan.scenario_from_dict(raw), trace=True)
    if shared_cells:
        n_dev = sim.model.dev_site.shape[0]
        cells = rng.integers(0, int(rng.integers(1, 4)), size=n_dev)
        cells = np.unique(cells, return_inverse=True)[1].astype(np.int32)  # numbered 0..n_cells-1
        regroup_cells(sim, cells, proportional_fair=np.array([bool(rng.random() < 0.5)]))
    return sim


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------

CASES = range(30)  # random scenarios, one radio cell per device (the ideal channel)
SHARED_CASES = range(100, 115)  # random scenarios with devices sharing 1-3 cells, equal airtime or PF


def site_powers(layout) -> list[SitePowers]:
    """The GPU powers of each compute node (not in the kernel's model), for the reference."""
    return [SitePowers(gpu_idle_w=node.gpu.power_idle_w if node.gpu else None,
                       gpu_peak_w=node.gpu.power_peak_w if node.gpu else None) for node in layout.topology.compute]


@functools.cache
def run_case(case: int):
    """(raw scenario, kernel simulation run to its end, its result, the reference run) of one case."""
    rng = np.random.default_rng([7, case])
    raw = random_raw(rng, np.random.default_rng([7, case, 1]))
    shared = case in SHARED_CASES
    if shared:
        raw["policy"]["name"] = "offload"  # sharing needs transfers
    sim = kernel_sim(raw, rng, shared_cells=shared)
    result = sim.run()
    return raw, sim, result, simulate(sim.model, sim.seed, raw["simulation"]["duration_s"], site_powers(sim.layout))


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
    node_names = np.array(sim.layout.node_names + [""], dtype=object)
    np.testing.assert_array_equal(kt["site"], site_names[rt["site"]], err_msg="trace.site")
    np.testing.assert_array_equal(kt["node"], node_names[rt["node"]], err_msg="trace.node")
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
                "device_energy_rx_j", "device_energy_tail_j", "device_energy_per_task_j",
                "device_energy_active_per_task_j", "device_energy_per_local_task_j",
                "device_energy_per_offloaded_task_j", "device_power_mean_w", "battery_life_mean_h",
                "battery_life_p5_h", "battery_life_min_h", "gpu_energy_j", "gpu_energy_per_inference_j",
                "site_energy_j", "network_energy_j", "network_energy_per_task_j"):
        if rs[key] is None:
            assert s[key] is None, key
        else:
            assert s[key] == pytest.approx(rs[key], rel=TOL, abs=TOL), key

    # -- per device ---------------------------------------------------------------
    kd, rd = result.devices, ref.device_table()
    for key in ("tasks_generated", "tasks_completed", "tasks_dropped", "tasks_ran_local", "tasks_offloaded",
                "depleted", "battery_life_measured"):
        np.testing.assert_array_equal(kd[key], rd[key], err_msg=f"devices.{key}")
    for key in ("latency_mean_s", "energy_j", "energy_idle_j", "energy_compute_j", "energy_tx_j", "energy_rx_j",
                "energy_tail_j", "depleted_at_s", "power_mean_w", "battery_life_h"):
        assert_close(kd[key], rd[key], f"devices.{key}")

    # -- batteries at the end: available charge (0 once empty) and KiBaM bound charge --------
    rb = ref.battery_table()
    assert_close(settled.dev_battery_y1, rb["y1_j"], "battery y1 (available charge)")
    assert_close(settled.dev_battery_y2, rb["y2_j"], "battery y2 (KiBaM bound charge; 0 for the others)")
    assert np.all(settled.dev_battery_y1[settled.dev_depleted] == 0.0), "an empty battery keeps charge available"

    # -- per site and per cell ----------------------------------------------------
    rsite = ref.site_table()
    for key in ("gpu_energy_j", "gpu_energy_per_inference_j"):
        assert_close(result.nodes[key], rsite[key], f"nodes.{key}")  # nan (no power given) matches nan
    assert np.isnan(result.sites["site_energy_j"]).all()  # the ideal channel has no cell load for EARTH
    assert_close(settled.node_busy_area_s, rsite["busy_area_s"], "node busy server-seconds")
    assert_close(settled.node_queue_area_s, rsite["queue_area_s"], "node queue task-seconds")
    np.testing.assert_array_equal(result.nodes["gpu_services"], rsite["gpu_services"], err_msg="nodes.gpu_services")
    np.testing.assert_array_equal(result.nodes["gpu_rejected"], rsite["gpu_rejected"], err_msg="nodes.gpu_rejected")
    rcell = ref.cell_table()
    assert_close(settled.cell_busy_s, rcell["busy_s"], "cell busy time")
    assert_close(settled.cell_bits, rcell["bits"], "cell bits")


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", [*CASES, *SHARED_CASES])
def test_the_model_carries_the_scenario_energy_numbers(case):
    """What the reference reads from the model (battery model and parameters, tails, per-bit energy) is
    what the scenario says, and the kernel starts from the reference's battery at rest."""
    raw, sim, _, _ = run_case(case)
    m = sim.model
    groups = [raw["devices"][g] for g in sim.layout.dev_group]
    codes = {"ideal": 0, "peukert": 1, "kibam": 2}
    def per_device(name):  # a group parameter of the model, device by device
        return getattr(m, "grp_" + name)[m.dev_group]

    np.testing.assert_array_equal(per_device("battery_model"), [codes[g["battery_model"]] for g in groups])
    assert_close(per_device("energy_j"), [g["battery_wh"] * 3600.0 * g["initial_charge"] for g in groups], "energy_j")
    battery_a, battery_b = per_device("battery_a"), per_device("battery_b")
    for d, g in enumerate(groups):
        if g["battery_model"] == "peukert":
            # Peukert's reference power: the rated energy over the rated time (the H-hour rate)
            expected_ab = (g["peukert_k"], g["battery_wh"] * 3600.0 / (g["peukert_rated_h"] * 3600.0))
        elif g["battery_model"] == "kibam":
            expected_ab = (g["kibam_c"], g["kibam_k_prime_per_s"])
        else:
            expected_ab = (battery_a[d], battery_b[d])  # unused
        assert_close([battery_a[d], battery_b[d]], expected_ab, f"device {d} battery parameters")
    for field in ("rrc_tail_s", "power_tail_w", "rrc_inactive_s", "power_inactive_w", "tx_j_per_bit", "rx_j_per_bit"):
        np.testing.assert_array_equal(per_device(field), [g.get(field, 0.0) for g in groups], err_msg=field)
    st = initial_state(m, sim.seed)
    rest = [make_battery(m, d) for d in range(len(groups))]
    assert_close(st.dev_battery_y1, [b.available_j() for b in rest], "initial y1")
    assert_close(st.dev_battery_y2, [b.bound_j() for b in rest], "initial y2")


@pytest.mark.parametrize("case", CASES)
def test_kernel_matches_reference_on_a_random_scenario(case):
    _, sim, result, ref = run_case(case)
    compare(sim, result, ref)


@pytest.mark.parametrize("case", SHARED_CASES)
def test_kernel_matches_reference_with_devices_sharing_cells(case):
    _, sim, result, ref = run_case(case)
    compare(sim, result, ref)


def test_the_random_cases_reach_every_branch():
    """Together the cases reach every outcome, place, kind of battery drop, scenario option and
    energy-model path (each battery model emptying and lasting, emptied by power in each RRC state or
    by a per-bit lump, a transfer cutting a tail short, KiBaM recovery)."""
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
        batteries = ref.battery_table()
        for model, emptied_by, empty in zip(batteries["model"], batteries["emptied_by"], depleted, strict=True):
            saw(f"{model} battery {'emptied' if empty else 'alive at the end'}")
            if empty:
                saw("emptied by a per-bit lump" if emptied_by == "lump" else "emptied by power")
        for dev in ref.devices:
            for note in dev.notes:
                saw(note)
            saw("energy in the RRC tail or inactive", dev.energy_j["tail"] > 0.0)
            saw("per-bit transmit energy", dev.tx_j_per_bit > 0.0 and dev.energy_j["tx"] > 0.0)
            saw("per-bit receive energy", dev.rx_j_per_bit > 0.0 and dev.energy_j["rx"] > 0.0)
        for group in raw["devices"]:
            saw("RRC tail of length 0", group.get("rrc_tail_s") == 0.0)
            saw("RRC inactive of length 0", group.get("rrc_inactive_s") == 0.0)
            saw("Peukert k = 1", group.get("battery_model") == "peukert" and group["peukert_k"] == 1.0)
            saw("KiBaM c = 1", group.get("battery_model") == "kibam" and group["kibam_c"] == 1.0)
        s = result.summary
        saw("GPU power given", s["gpu_energy_j"] is not None)
        saw("base-station power given", any("base_station" in site for site in raw["sites"]))
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
        # energy model
        "ideal battery emptied", "ideal battery alive at the end", "peukert battery emptied",
        "peukert battery alive at the end", "kibam battery emptied", "kibam battery alive at the end",
        "emptied by power", "emptied by a per-bit lump", "emptied in RRC connected", "emptied in RRC tail",
        "emptied in RRC inactive", "emptied in RRC idle", "transfer started in RRC tail",
        "transfer started in RRC inactive", "available charge recovered", "energy in the RRC tail or inactive",
        "per-bit transmit energy", "per-bit receive energy", "RRC tail of length 0", "RRC inactive of length 0",
        "Peukert k = 1", "KiBaM c = 1", "GPU power given", "base-station power given",
    ]
    assert [key for key in expected if not seen.get(key)] == [], seen


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


# ---------------------------------------------------------------------------
# A battery that starts empty is empty at t = 0, whatever its model
# ---------------------------------------------------------------------------

EMPTY_START_RAW = {
    # Three devices that differ only in their battery model, each with initial_charge 0.
    "simulation": {"duration_s": 10.0, "seed": 1},
    "sites": [{"name": "bs"}],
    "workloads": [{"name": "w", "flops": 1e9, "input_bytes": 0.0, "output_bytes": 0.0, "deadline_s": 1.0}],
    "devices": [{"name": model, "count": 1, "workload": "w", "rate_hz": 1.0, "compute_flops_per_s": 1e10,
                 "power_idle_w": 0.5, "power_compute_w": 1.0, "power_tx_w": 0.0, "power_rx_w": 0.0,
                 "battery_wh": 0.01, "initial_charge": 0.0, "battery_model": model, "uplink_bps": 1e6,
                 "downlink_bps": 1e6} for model in ("ideal", "peukert", "kibam")],
}


def test_a_battery_that_starts_empty_is_empty_at_t_0_whatever_its_model():
    # The battery is empty when y1 reaches zero; with initial_charge 0 that is at t = 0, exactly (no
    # arithmetic is involved, and the ideal and Peukert batteries do give 0.0). It then gives no energy
    # and, alive for no time, has no mean power (results.py: 0 W). The random scenarios keep empty-start
    # batteries to the ideal and Peukert models because of this.
    sim = Simulation(airan.scenario_from_dict(EMPTY_START_RAW), trace=True)
    kd = sim.run().devices
    rd = simulate(sim.model, sim.seed, 10.0).device_table()
    np.testing.assert_array_equal(rd["depleted_at_s"], [0.0, 0.0, 0.0])  # the reference
    np.testing.assert_array_equal(kd["depleted"], [True, True, True])
    np.testing.assert_array_equal(kd["depleted_at_s"], [0.0, 0.0, 0.0])
    for key in ("energy_j", "power_mean_w"):
        assert_close(kd[key], rd[key], f"devices.{key}")
