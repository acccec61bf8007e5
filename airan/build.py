"""Scenario objects -> plain arrays for the kernel (the only place ids become indices)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import battery, engine, histogram
from ._rng import FAMILY_DEVICE, FAMILY_SITE, seed_streams
from .radio import network
from .scenario import Scenario

#: Seed families for device placement and radio draws (apart from the kernel's stream families).
_FAMILY_PLACEMENT = 2
_FAMILY_RADIO = 3

J_PER_WH = 3600.0
BITS_PER_BYTE = 8.0


class Layout(NamedTuple):
    """Names, positions and radio figures that the kernel does not need but results do."""

    site_names: list[str]
    site_x_m: np.ndarray  # float64[n_sites], m
    site_y_m: np.ndarray  # float64[n_sites], m
    workload_names: list[str]
    group_names: list[str]
    dev_group: np.ndarray  # int32[n_devices], index into group_names
    dev_x_m: np.ndarray  # float64[n_devices], m
    dev_y_m: np.ndarray  # float64[n_devices], m
    radio: dict[str, np.ndarray] | None  # per-device radio columns (None: ideal channel)
    cells: dict[str, np.ndarray] | None  # per-cell columns (None: ideal channel)


class BuildError(ValueError):
    """A scenario that validates but cannot be built (one line, naming the field)."""


class _SiteArrays(NamedTuple):
    x_m: np.ndarray
    y_m: np.ndarray
    height_m: np.ndarray
    sectors: np.ndarray
    azimuth_deg: np.ndarray
    downtilt_deg: np.ndarray
    bias_db: np.ndarray


def build_model(scenario: Scenario, seed: int) -> tuple[engine.Model, Layout]:
    """Turn a validated scenario into the kernel's read-only arrays and the result layout."""
    sites = scenario.sites
    site_index = {s.name: i for i, s in enumerate(sites)}
    wl_index = {w.name: i for i, w in enumerate(scenario.workloads)}
    n_dev = scenario.n_devices
    offload_policy = scenario.policy.name == "offload"
    channel = scenario.channel

    site_servers = np.array([s.gpu.servers if s.gpu else 0 for s in sites], dtype=np.int32)
    dev = {name: np.empty(n_dev, dtype=np.float64) for name in (
        "rate_hz", "flops_per_s", "power_idle_w", "power_compute_w", "power_tx_w", "power_rx_w",
        "energy_j", "uplink_bps", "downlink_bps", "radius_m", "min_distance_m", "height_m",
        "battery_a", "battery_b", "power_tail_w", "power_inactive_w", "rrc_tail_s", "rrc_inactive_s",
        "tx_j_per_bit", "rx_j_per_bit")}
    battery_model = np.empty(n_dev, dtype=np.int8)
    home_site = np.empty(n_dev, dtype=np.int32)  # where each device is dropped
    dev_workload = np.empty(n_dev, dtype=np.int32)
    dev_periodic = np.empty(n_dev, dtype=np.bool_)
    dev_group = np.empty(n_dev, dtype=np.int32)

    i = 0
    for g_index, group in enumerate(scenario.devices):
        members = group.sites if group.sites is not None else [s.name for s in sites]
        block = slice(i, i + group.count)
        home_site[block] = [site_index[members[j % len(members)]] for j in range(group.count)]
        dev_workload[block] = wl_index[group.workload]
        dev_periodic[block] = group.arrival == "periodic"
        dev_group[block] = g_index
        dev["rate_hz"][block] = group.rate_hz
        dev["flops_per_s"][block] = group.compute_flops_per_s
        dev["power_idle_w"][block] = group.power_idle_w
        dev["power_compute_w"][block] = group.power_compute_w
        dev["power_tx_w"][block] = group.power_tx_w
        dev["power_rx_w"][block] = group.power_rx_w
        dev["energy_j"][block] = group.battery_wh * J_PER_WH * group.initial_charge
        dev["uplink_bps"][block] = group.uplink_bps if group.uplink_bps is not None else np.nan
        dev["downlink_bps"][block] = group.downlink_bps if group.downlink_bps is not None else np.nan
        dev["radius_m"][block] = group.cell_radius_m
        dev["min_distance_m"][block] = group.min_distance_m
        dev["height_m"][block] = group.height_m
        battery_model[block] = battery.MODELS[group.battery_model]
        if group.battery_model == "peukert":
            # the reference power is the rated energy over the rated time (the H-hour rate)
            dev["battery_a"][block] = group.peukert_k
            dev["battery_b"][block] = group.battery_wh * J_PER_WH / (group.peukert_rated_h * 3600.0)
        elif group.battery_model == "kibam":
            c = group.kibam_c
            dev["battery_a"][block] = c
            dev["battery_b"][block] = group.kibam_k_prime_per_s
        else:
            dev["battery_a"][block] = 1.0
            dev["battery_b"][block] = 1.0
        for name in ("power_tail_w", "power_inactive_w", "rrc_tail_s", "rrc_inactive_s", "tx_j_per_bit",
                     "rx_j_per_bit"):
            dev[name][block] = getattr(group, name)
        i += group.count

    # devices uniformly in an annulus around their site (area-uniform), r in [min_distance, radius]
    placement = np.random.default_rng(np.random.SeedSequence([int(seed), _FAMILY_PLACEMENT]))
    r0, r1 = dev["min_distance_m"], dev["radius_m"]
    radius = np.sqrt(r0**2 + placement.random(n_dev) * (r1**2 - r0**2))
    angle = 2.0 * np.pi * placement.random(n_dev)
    site_x = np.array([s.x_m for s in sites], dtype=np.float64)
    site_y = np.array([s.y_m for s in sites], dtype=np.float64)
    dev_x = site_x[home_site] + radius * np.cos(angle)
    dev_y = site_y[home_site] + radius * np.sin(angle)

    wl_flops = np.array([w.flops for w in scenario.workloads], dtype=np.float64)
    wl_in_bits = np.array([w.input_bytes * BITS_PER_BYTE for w in scenario.workloads], dtype=np.float64)
    wl_out_bits = np.array([w.output_bytes * BITS_PER_BYTE for w in scenario.workloads], dtype=np.float64)

    radio = cells = None
    if channel.model == "ideal":
        dev_site = home_site
        dev_cell = np.arange(n_dev, dtype=np.int32)  # a cell of its own per device
        dev_offload = (site_servers[dev_site] > 0) & offload_policy
        uplink_bps, downlink_bps = dev["uplink_bps"], dev["downlink_bps"]
        power_tx_w = dev["power_tx_w"]
    else:
        site_arrays = _SiteArrays(
            x_m=site_x, y_m=site_y,
            height_m=network.site_heights_m(channel, [s.height_m for s in sites]),
            sectors=np.array([s.sectors for s in sites]),
            azimuth_deg=np.array([s.azimuth_deg for s in sites], dtype=np.float64),
            downtilt_deg=np.array([s.downtilt_deg for s in sites], dtype=np.float64),
            bias_db=np.array([s.association_bias_db for s in sites], dtype=np.float64),
        )
        radio_rng = np.random.default_rng(np.random.SeedSequence([int(seed), _FAMILY_RADIO]))
        try:
            links = network.attach(channel, site_arrays, dev_x, dev_y, dev["height_m"], radio_rng)
        except network.RadioError as exc:
            raise BuildError(str(exc)) from None
        dev_site = links.site
        dev_cell = links.cell
        dev_offload = (site_servers[dev_site] > 0) & offload_policy
        # a device the link budget gives no rate cannot offload: it computes locally
        for _ in range(2):
            demand_ul = dev_offload * dev["rate_hz"] * wl_in_bits[dev_workload]
            demand_dl = dev_offload * dev["rate_hz"] * wl_out_bits[dev_workload]
            rates = network.rates(channel, links, demand_ul, demand_dl)
            covered = (rates.uplink_bps > 0) & (rates.downlink_bps > 0)
            if not (dev_offload & ~covered).any():
                break
            dev_offload = dev_offload & covered
        uplink_bps = np.where(rates.uplink_bps > 0, rates.uplink_bps, np.nan)
        downlink_bps = np.where(rates.downlink_bps > 0, rates.downlink_bps, np.nan)
        # radio energy hook: radiated power from power control, through the PA, adds to tx power
        radiated_w = 10.0 ** (links.tx_power_dbm / 10.0) / 1000.0
        power_tx_w = dev["power_tx_w"] + radiated_w / channel.ue_pa_efficiency
        radio = {
            "cell": links.cell.astype(np.int64),
            "distance_m": links.distance_m,
            "los": links.los,
            "pathloss_db": links.pathloss_db,
            "shadowing_db": links.shadowing_db,
            "coupling_loss_db": links.coupling_loss_db,
            "tx_power_dbm": links.tx_power_dbm,
            "sinr_dl_db": rates.sinr_dl_db,
            "sinr_ul_db": rates.sinr_ul_db,
            "rate_dl_bps": rates.downlink_bps,
            "rate_ul_bps": rates.uplink_bps,
            "covered": covered,
        }
        cells = {
            "cell": np.arange(links.cells.site.shape[0], dtype=np.int64),
            "site": np.array([sites[s].name for s in links.cells.site], dtype=object),
            "sector": links.cells.sector.astype(np.int64),
            "boresight_deg": links.cells.boresight_deg,
            "devices": np.bincount(links.cell, minlength=links.cells.site.shape[0]).astype(np.int64),
            "load_dl_predicted": rates.load_dl,
            "load_ul_predicted": rates.load_ul,
        }

    model = engine.Model(
        site_servers=site_servers,
        site_flops_per_s=np.array([s.gpu.flops_per_s if s.gpu else 1.0 for s in sites], dtype=np.float64),
        site_exponential=np.array([bool(s.gpu and s.gpu.service == "exponential") for s in sites]),
        site_queue_capacity=np.array(
            [-1 if (s.gpu is None or s.gpu.queue_capacity is None) else s.gpu.queue_capacity for s in sites],
            dtype=np.int64,
        ),
        site_on_full_local=np.array([bool(s.gpu and s.gpu.on_full == "local") for s in sites]),
        dev_site=np.ascontiguousarray(dev_site, dtype=np.int32),
        dev_workload=dev_workload,
        dev_periodic=dev_periodic,
        dev_rate_hz=dev["rate_hz"],
        dev_offload=dev_offload,
        dev_flops_per_s=dev["flops_per_s"],
        dev_power_idle_w=dev["power_idle_w"],
        dev_power_compute_w=dev["power_compute_w"],
        dev_power_tx_w=power_tx_w,
        dev_power_rx_w=dev["power_rx_w"],
        dev_energy_j=dev["energy_j"],
        dev_battery_model=battery_model,
        dev_battery_a=dev["battery_a"],
        dev_battery_b=dev["battery_b"],
        dev_power_tail_w=dev["power_tail_w"],
        dev_power_inactive_w=dev["power_inactive_w"],
        dev_rrc_tail_s=dev["rrc_tail_s"],
        dev_rrc_inactive_s=dev["rrc_inactive_s"],
        dev_has_tail=(dev["power_tail_w"] * dev["rrc_tail_s"] + dev["power_inactive_w"] * dev["rrc_inactive_s"]) > 0,
        dev_tx_j_per_bit=dev["tx_j_per_bit"],
        dev_rx_j_per_bit=dev["rx_j_per_bit"],
        dev_uplink_bps=uplink_bps,
        dev_downlink_bps=downlink_bps,
        dev_cell=np.ascontiguousarray(dev_cell, dtype=np.int32),
        wl_flops=wl_flops,
        wl_input_bits=wl_in_bits,
        wl_output_bits=wl_out_bits,
        wl_deadline_s=np.array([w.deadline_s for w in scenario.workloads], dtype=np.float64),
        warmup_s=np.array([scenario.simulation.warmup_s], dtype=np.float64),
        proportional_fair=np.array([channel.sharing == "proportional_fair"]),
    )
    layout = Layout(
        site_names=[s.name for s in sites],
        site_x_m=site_x,
        site_y_m=site_y,
        workload_names=[w.name for w in scenario.workloads],
        group_names=[g.name for g in scenario.devices],
        dev_group=dev_group,
        dev_x_m=dev_x,
        dev_y_m=dev_y,
        radio=radio,
        cells=cells,
    )
    return model, layout


def initial_state(
    model: engine.Model, seed: int, *, trace_capacity: int = 0, n_cells: int | None = None
) -> engine.State:
    """A fresh run's state: empty heap and queues, full batteries, seeded streams.

    ``n_cells`` defaults to the highest cell a device uses, plus one.
    """
    n_dev = model.dev_site.shape[0]
    n_sites = model.site_servers.shape[0]
    if n_cells is None:
        n_cells = int(model.dev_cell.max()) + 1 if n_dev else 0
    heap_capacity = 2 * n_dev + 64
    task_capacity = 2 * n_dev + 64
    wells = np.array([battery.initial_wells(int(mo), float(e), float(a)) for mo, e, a in zip(
        model.dev_battery_model, model.dev_energy_j, model.dev_battery_a, strict=True)], dtype=np.float64
    ).reshape(-1, 2).T.copy()
    ints = np.zeros(engine.N_INTS, dtype=np.int64)
    ints[engine.I_FREE] = 0
    sums = np.zeros(engine.N_SUMS, dtype=np.float64)
    sums[engine.S_LATENCY_MIN] = np.inf
    sums[engine.S_LATENCY_MAX] = -np.inf
    state = engine.State(
        ev_time=np.zeros(heap_capacity, dtype=np.float64),
        ev_seq=np.zeros(heap_capacity, dtype=np.int64),
        ev_payload=np.zeros(heap_capacity, dtype=np.int64),
        **_task_arrays(task_capacity, first_slot=0),
        site_busy=np.zeros(n_sites, dtype=np.int32),
        site_q_head=np.full(n_sites, -1, dtype=np.int32),
        site_q_tail=np.full(n_sites, -1, dtype=np.int32),
        site_q_len=np.zeros(n_sites, dtype=np.int64),
        site_t_last_s=np.zeros(n_sites, dtype=np.float64),
        site_busy_area_s=np.zeros(n_sites, dtype=np.float64),
        site_queue_area_s=np.zeros(n_sites, dtype=np.float64),
        site_served=np.zeros(n_sites, dtype=np.int64),
        site_rejected=np.zeros(n_sites, dtype=np.int64),
        cell_flows=np.zeros((2, n_cells), dtype=np.int64),
        cell_head=np.full((2, n_cells), -1, dtype=np.int32),
        cell_vtime_s=np.zeros((2, n_cells), dtype=np.float64),
        cell_vmin_s=np.full((2, n_cells), np.inf, dtype=np.float64),
        cell_t_last_s=np.zeros((2, n_cells), dtype=np.float64),
        cell_event_seq=np.full((2, n_cells), -1, dtype=np.int64),
        cell_busy_s=np.zeros((2, n_cells), dtype=np.float64),
        cell_bits=np.zeros((2, n_cells), dtype=np.float64),
        dev_cpu_free_s=np.zeros(n_dev, dtype=np.float64),
        dev_flows=np.zeros((2, n_dev), dtype=np.int32),
        dev_bits=np.zeros((2, n_dev), dtype=np.float64),
        dev_flow_s=np.zeros((2, n_dev), dtype=np.float64),
        dev_t_energy_s=np.zeros(n_dev, dtype=np.float64),
        dev_e_idle_j=np.zeros(n_dev, dtype=np.float64),
        dev_e_compute_j=np.zeros(n_dev, dtype=np.float64),
        dev_e_tx_j=np.zeros(n_dev, dtype=np.float64),
        dev_e_rx_j=np.zeros(n_dev, dtype=np.float64),
        dev_e_tail_j=np.zeros(n_dev, dtype=np.float64),
        dev_battery_y1=wells[0],
        dev_battery_y2=wells[1],
        dev_radio_idle_since_s=np.full(n_dev, -np.inf, dtype=np.float64),
        dev_depleted=np.zeros(n_dev, dtype=np.bool_),
        dev_t_depleted_s=np.full(n_dev, np.inf, dtype=np.float64),
        dev_generated=np.zeros(n_dev, dtype=np.int64),
        dev_completed=np.zeros(n_dev, dtype=np.int64),
        dev_dropped=np.zeros(n_dev, dtype=np.int64),
        dev_ran_local=np.zeros(n_dev, dtype=np.int64),
        dev_offloaded=np.zeros(n_dev, dtype=np.int64),
        dev_latency_sum_s=np.zeros(n_dev, dtype=np.float64),
        rng_dev=seed_streams(seed, FAMILY_DEVICE, n_dev),
        rng_site=seed_streams(seed, FAMILY_SITE, n_sites),
        ints=ints,
        sums=sums,
        hist=np.zeros(histogram.N_BINS + 2, dtype=np.int64),
        trace_f=np.zeros((trace_capacity, engine.N_TF), dtype=np.float64),
        trace_i=np.zeros((trace_capacity, engine.N_TI), dtype=np.int64),
    )
    engine.schedule_first_arrivals(model, state)
    return state


_TASK_FIELDS = {
    "task_id": np.int64,
    "task_dev": np.int32,
    "task_flags": np.int8,
    "task_next": np.int32,
    "task_t_gen_s": np.float64,
    "task_t_mark_s": np.float64,
    "task_local_s": np.float64,
    "task_uplink_s": np.float64,
    "task_gpu_wait_s": np.float64,
    "task_gpu_service_s": np.float64,
    "task_vfinish_s": np.float64,
}


def _task_arrays(n: int, first_slot: int) -> dict[str, np.ndarray]:
    """``n`` new free task slots numbered from ``first_slot``, chained into a free list."""
    arrays = {name: np.zeros(n, dtype=dtype) for name, dtype in _TASK_FIELDS.items()}
    arrays["task_next"] = np.arange(first_slot + 1, first_slot + n + 1, dtype=np.int32)
    arrays["task_next"][-1] = -1
    return arrays


def grow_tasks(state: engine.State) -> engine.State:
    """Double the task slots; the new ones become the free list (called only when it is empty)."""
    old = state.task_id.shape[0]
    new = _task_arrays(old, first_slot=old)
    grown = {name: np.concatenate((getattr(state, name), new[name])) for name in _TASK_FIELDS}
    state.ints[engine.I_FREE] = old
    return state._replace(**grown)


def grow_heap(state: engine.State) -> engine.State:
    """Double the event heap's capacity."""
    return state._replace(**{
        name: np.concatenate((getattr(state, name), np.zeros_like(getattr(state, name))))
        for name in ("ev_time", "ev_seq", "ev_payload")
    })
