"""Scenario objects -> plain arrays for the kernel (the only place ids become indices)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from . import battery, engine, histogram, policies
from ._rng import FAMILY_DEVICE, FAMILY_MOBILITY, FAMILY_SITE, seed_streams
from .radio import network
from .scenario import POLICY_NAMES, Scenario

#: Seed families for device placement and radio draws (apart from the kernel's stream families).
_FAMILY_PLACEMENT = 2
_FAMILY_RADIO = 3
_FAMILY_FIRST_LEGS = 5  # mobility: first waypoints and speeds

J_PER_WH = 3600.0
BITS_PER_BYTE = 8.0


class Layout(NamedTuple):
    """Names, positions and radio figures that the kernel does not need but results do."""

    topology: Any  # airan.topology.Topology, GPUs placed as the scenario says
    site_names: list[str]
    site_x_m: np.ndarray  # float64[n_sites], m
    site_y_m: np.ndarray  # float64[n_sites], m
    node_names: list[str]  # compute nodes, in kernel order
    node_ran_fraction: np.ndarray  # float64[n_nodes], share of the GPU's time its site's baseband takes
    workload_names: list[str]
    group_names: list[str]
    dev_group: np.ndarray  # int32[n_devices], index into group_names
    dev_x_m: np.ndarray  # float64[n_devices], m, at t = 0
    dev_y_m: np.ndarray  # float64[n_devices], m, at t = 0
    radio: dict[str, np.ndarray] | None  # per-device radio columns at t = 0 (None: ideal channel)
    cells: dict[str, np.ndarray] | None  # per-cell columns (None: ideal channel)
    links: dict[str, np.ndarray]  # per transport link columns (may be empty)


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
    environment: tuple[str, ...]
    band: tuple[str, ...]
    tx_power_dbm: np.ndarray


def resolve_topology(scenario: Scenario):
    """The scenario's network with its GPUs placed: a topology file, a generator, or its ``[[sites]]``.

    A site's own ``gpu`` table becomes a compute node of kind ``site`` co-located with it.
    """
    from . import topology as tp

    ref = scenario.topology
    try:
        if ref is None:
            topo = tp.Topology(name=scenario.name, description="the scenario's sites", source="scenario",
                               area=None, wrap=None, sites=scenario.sites, compute=(), links=(), roads=())
        elif ref.file is not None:
            topo = tp.load_topology(ref.file)
        else:
            topo = tp.generate(ref.generator, **ref.parameters)
    except (tp.TopologyError, TypeError, ValueError) as exc:
        field = "topology.file" if ref is not None and ref.file is not None else "topology.generator"
        raise BuildError(f"{field}: {_one_line(exc)}") from None
    colocated = [tp.ComputeNode(name=f"{s.name}-gpu", kind="site", site=s.name, x_m=None, y_m=None, gpu=s.gpu)
                 for s in topo.sites if s.gpu is not None]
    if colocated:
        topo = topo.model_copy(update={
            "sites": tuple(s.model_copy(update={"gpu": None}) for s in topo.sites),
            "compute": tuple(colocated) + tuple(topo.compute)})
    try:
        topo = tp.apply_placement(topo, scenario.compute.placement, scenario.compute.gpu)
    except (tp.TopologyError, ValueError) as exc:
        raise BuildError(f"compute.placement: {_one_line(exc)}") from None
    if not topo.sites:
        where = "topology.file" if ref is not None and ref.file is not None else "topology.parameters"
        raise BuildError(f"{where}: the topology {topo.name!r} has no sites")
    if ref is not None and ref.wrap_around and topo.wrap is None:
        raise BuildError(f"topology.wrap_around: topology {topo.name!r} has no [wrap] (hexagonal layouts only)")
    return topo


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _group_table(first: np.ndarray, per_device: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The model's ``grp_*`` arrays: each per-device array's value at each group's first device.

    :func:`build_model` fills these per-device arrays group by group, one value per group.
    """
    return {name: np.ascontiguousarray(values[first]) for name, values in per_device.items()}


def build_model(scenario: Scenario, seed: int) -> tuple[engine.Model, Layout]:
    """Turn a validated scenario into the kernel's read-only arrays and the result layout."""
    from . import mobility as mob
    from . import topology as tp

    topo = resolve_topology(scenario)
    routes = tp.routes(topo)
    sites = topo.sites
    nodes = topo.compute
    site_index = {s.name: i for i, s in enumerate(sites)}
    wl_index = {w.name: i for i, w in enumerate(scenario.workloads)}
    n_dev = scenario.n_devices
    n_sites = len(sites)
    dev_policy = np.empty(n_dev, dtype=np.int8)
    channel = scenario.channel
    moving = any(g.mobility != "static" for g in scenario.devices)
    area = topo.bounds()
    if topo.area is None:
        # no [area]: it must at least hold the discs devices are dropped in
        reach = max((g.cell_radius_m for g in scenario.devices if g.placement == "disc"), default=0.0)
        xs, ys = [s.x_m for s in topo.sites], [s.y_m for s in topo.sites]
        area = area.model_copy(update={
            "x_min_m": min(area.x_min_m, min(xs) - reach), "x_max_m": max(area.x_max_m, max(xs) + reach),
            "y_min_m": min(area.y_min_m, min(ys) - reach), "y_max_m": max(area.y_max_m, max(ys) + reach)})
    area_t = (area.x_min_m, area.x_max_m, area.y_min_m, area.y_max_m)
    roads = mob.road_graph([np.asarray(r.points_m, dtype=np.float64) for r in topo.roads])
    wrap_shifts = None
    if scenario.topology is not None and scenario.topology.wrap_around:
        wrap_shifts = tp.hex_wrap_shifts_m(topo.wrap.isd_m, topo.wrap.rings)

    dev = {name: np.empty(n_dev, dtype=np.float64) for name in (
        "rate_hz", "flops_per_s", "power_idle_w", "power_compute_w", "power_tx_w", "power_rx_w",
        "energy_j", "uplink_bps", "downlink_bps", "height_m",
        "battery_a", "battery_b", "power_tail_w", "power_inactive_w", "rrc_tail_s", "rrc_inactive_s",
        "tx_j_per_bit", "rx_j_per_bit", "speed_min_mps", "speed_max_mps", "pause_s", "p_turn", "jitter_s",
        "mmpp_on_s", "mmpp_off_s", "mmpp_off_rate_hz", "mean_rate_hz", "capacity_j")}
    battery_model = np.empty(n_dev, dtype=np.int8)
    home_site = np.full(n_dev, -1, dtype=np.int32)  # the site a disc-placed device is dropped around
    dev_workload = np.empty(n_dev, dtype=np.int32)
    dev_arrival = np.empty(n_dev, dtype=np.int8)
    dev_trace_start = np.zeros(n_dev, dtype=np.int64)
    dev_trace_len = np.zeros(n_dev, dtype=np.int64)
    dev_trace_cycle_s = np.zeros(n_dev, dtype=np.float64)
    traces: list[np.ndarray] = []
    n_trace = 0
    dev_group = np.empty(n_dev, dtype=np.int32)
    mob_kind = np.empty(n_dev, dtype=np.int8)
    dev_x = np.empty(n_dev, dtype=np.float64)
    dev_y = np.empty(n_dev, dtype=np.float64)
    road_from = np.full(n_dev, -1, dtype=np.int32)
    road_to = np.full(n_dev, -1, dtype=np.int32)
    placement = np.random.default_rng(np.random.SeedSequence([int(seed), _FAMILY_PLACEMENT]))

    i = 0
    first = np.empty(len(scenario.devices), dtype=np.int64)  # each group's first device
    for g_index, group in enumerate(scenario.devices):
        block = slice(i, i + group.count)
        first[g_index] = i
        where = f"devices[{g_index}]"
        if group.placement == "disc":
            members = group.sites if group.sites is not None else [s.name for s in sites]
            for j, name in enumerate(members):
                if name not in site_index:
                    raise BuildError(f"{where}.sites[{j}]: must be one of {', '.join(site_index)}, got {name!r}")
            home = np.array([site_index[members[j % len(members)]] for j in range(group.count)], dtype=np.int32)
            home_site[block] = home
            # uniformly in an annulus around the site (area-uniform), r in [min_distance, radius]
            r0, r1 = group.min_distance_m, group.cell_radius_m
            radius = np.sqrt(r0**2 + placement.random(group.count) * (r1**2 - r0**2))
            angle = 2.0 * np.pi * placement.random(group.count)
            sx = np.array([sites[h].x_m for h in home], dtype=np.float64)
            sy = np.array([sites[h].y_m for h in home], dtype=np.float64)
            dev_x[block] = sx + radius * np.cos(angle)
            dev_y[block] = sy + radius * np.sin(angle)
        else:
            if group.placement == "roads" and roads.node_x_m.shape[0] == 0:
                raise BuildError(f"{where}.placement: topology {topo.name!r} has no roads")
            todo = np.arange(i, i + group.count)
            for _ in range(_MAX_REDRAWS):
                # draw the devices still to place; those too close to a site are drawn again
                try:
                    if group.placement == "area":
                        dev_x[todo], dev_y[todo] = mob.place_uniform(placement, todo.size, area_t)
                    elif group.placement == "hotspots":
                        dev_x[todo], dev_y[todo] = mob.place_hotspots(
                            placement, todo.size, area_t, group.hotspots, group.hotspot_sigma_m)
                    else:
                        dev_x[todo], dev_y[todo], road_from[todo], road_to[todo] = mob.place_on_roads(
                            placement, todo.size, roads)
                except ValueError as exc:
                    raise BuildError(f"{where}.{_one_line(exc)}") from None
                todo = todo[_too_close(dev_x[todo], dev_y[todo], sites, group.min_distance_m, wrap_shifts)]
                if todo.size == 0:
                    break
            else:
                raise BuildError(f"{where}.min_distance_m: cannot place devices that far from every site "
                                 f"({group.min_distance_m!r} m) with placement {group.placement!r}")
        outside = ((dev_x[block] < area.x_min_m) | (dev_x[block] > area.x_max_m)
                   | (dev_y[block] < area.y_min_m) | (dev_y[block] > area.y_max_m))
        if group.mobility != "static" and outside.any():
            # the radio map covers the area, and moving devices stay in it
            raise BuildError(f"{where}.cell_radius_m: moving devices must start inside the topology's area "
                             f"{area_t} m; {int(outside.sum())} of this group's do not")
        dev_workload[block] = wl_index[group.workload]
        dev_arrival[block] = _ARRIVALS[group.arrival]
        name = group.policy or scenario.policy.name
        dev_policy[block] = POLICY_NAMES.index(name) if name in POLICY_NAMES else engine.POLICY_PLUGIN
        dev["jitter_s"][block] = group.jitter_s
        dev["mmpp_on_s"][block] = group.mmpp_on_s or 0.0
        dev["mmpp_off_s"][block] = group.mmpp_off_s or 0.0
        dev["mmpp_off_rate_hz"][block] = group.mmpp_off_rate_hz
        if group.arrival == "trace":
            times_s = _read_trace(group.trace_file, f"{where}.trace_file")
            # replayed cyclically: the cycle is the trace's span plus one mean gap
            cycle_s = times_s[-1] - times_s[0] + (times_s[-1] - times_s[0]) / (times_s.size - 1)
            traces.append(times_s - times_s[0])
            dev_trace_start[block] = n_trace
            dev_trace_len[block] = times_s.size
            dev_trace_cycle_s[block] = cycle_s
            n_trace += times_s.size
            dev["rate_hz"][block] = times_s.size / cycle_s
            dev["mean_rate_hz"][block] = times_s.size / cycle_s
        else:
            dev["rate_hz"][block] = group.rate_hz
            dev["mean_rate_hz"][block] = group.rate_hz
            if group.arrival == "mmpp":
                on, off = group.mmpp_on_s, group.mmpp_off_s
                dev["mean_rate_hz"][block] = (on * group.rate_hz + off * group.mmpp_off_rate_hz) / (on + off)
        dev_group[block] = g_index
        mob_kind[block] = mob.MODELS[group.mobility]
        dev["flops_per_s"][block] = group.compute_flops_per_s
        dev["power_idle_w"][block] = group.power_idle_w
        dev["power_compute_w"][block] = group.power_compute_w
        dev["power_tx_w"][block] = group.power_tx_w
        dev["power_rx_w"][block] = group.power_rx_w
        dev["energy_j"][block] = group.battery_wh * J_PER_WH * group.initial_charge
        dev["capacity_j"][block] = group.battery_wh * J_PER_WH
        dev["uplink_bps"][block] = group.uplink_bps if group.uplink_bps is not None else np.nan
        dev["downlink_bps"][block] = group.downlink_bps if group.downlink_bps is not None else np.nan
        dev["height_m"][block] = group.height_m
        dev["speed_min_mps"][block] = group.speed_min_mps
        dev["speed_max_mps"][block] = group.speed_max_mps
        dev["pause_s"][block] = group.pause_s
        dev["p_turn"][block] = group.p_turn
        battery_model[block] = battery.MODELS[group.battery_model]
        if group.battery_model == "peukert":
            # the reference power is the rated energy over the rated time (the H-hour rate)
            dev["battery_a"][block] = group.peukert_k
            dev["battery_b"][block] = group.battery_wh * J_PER_WH / (group.peukert_rated_h * 3600.0)
        elif group.battery_model == "kibam":
            dev["battery_a"][block] = group.kibam_c
            dev["battery_b"][block] = group.kibam_k_prime_per_s
        else:
            dev["battery_a"][block] = 1.0
            dev["battery_b"][block] = 1.0
        for name in ("power_tail_w", "power_inactive_w", "rrc_tail_s", "rrc_inactive_s", "tx_j_per_bit",
                     "rx_j_per_bit"):
            dev[name][block] = getattr(group, name)
        i += group.count

    wl_flops = np.array([w.flops for w in scenario.workloads], dtype=np.float64)
    wl_in_bits = np.array([w.input_bytes * BITS_PER_BYTE for w in scenario.workloads], dtype=np.float64)
    wl_out_bits = np.array([w.output_bytes * BITS_PER_BYTE for w in scenario.workloads], dtype=np.float64)
    site_x = np.array([s.x_m for s in sites], dtype=np.float64)
    site_y = np.array([s.y_m for s in sites], dtype=np.float64)
    reachable = routes.gpu_node >= 0  # [n_sites]
    offload_policy = dev_policy != engine.POLICY_LOCAL  # [n_dev]: the policy may send tasks to a GPU

    radio = cells = None
    map_arrays = _no_radio_map()
    if channel.model == "ideal":
        if (home_site < 0).any():
            g = int(dev_group[np.argmax(home_site < 0)])
            raise BuildError(f"devices[{g}].placement: must be \"disc\" with channel.model = \"ideal\" "
                             f"(a device attaches to the site it is dropped around)")
        dev_site = home_site
        dev_cell = np.arange(n_dev, dtype=np.int32)  # a cell of its own per device
        cell_site = dev_site.copy()
        cell_bias = np.zeros(n_dev)
        uplink_bps, downlink_bps = dev["uplink_bps"], dev["downlink_bps"]
        power_tx_w = dev["power_tx_w"].copy()
        radiated_over_pa_w = np.zeros(n_dev)
    else:
        site_arrays = _site_arrays(channel, sites)
        radio_rng = np.random.default_rng(np.random.SeedSequence([int(seed), _FAMILY_RADIO]))
        try:
            # static devices: the link budget at their exact positions; attach draws for every device
            # but evaluates only these, so their draws and the radio map's (next) are as if it had all
            on_map = np.flatnonzero(mob_kind != mob.MOB_STATIC)
            fixed = np.flatnonzero(mob_kind == mob.MOB_STATIC) if moving else None
            links = network.attach(channel, site_arrays, dev_x, dev_y, dev["height_m"], radio_rng,
                                   wrap_shifts_m=wrap_shifts, rows=fixed)
            if moving:
                # moving devices: from the radio map, where they will read it at every step
                from .radio import radiomap

                heights = {g.height_m for g in scenario.devices if g.mobility != "static"}
                if len(heights) > 1:
                    raise BuildError("devices: every moving group must have the same height_m (one radio map "
                                     "serves them all)")
                _check_map_size(area_t, scenario.mobility.map_resolution_m, n_sites)
                field = radiomap.radio_field(channel, site_arrays, area_t, scenario.mobility.map_resolution_m,
                                             heights.pop(), radio_rng, wrap_shifts_m=wrap_shifts)
                moving_links, known = radiomap._links_at(field, dev_x[on_map], dev_y[on_map])
                links = _merge_rows(n_dev, fixed, links, on_map, moving_links)
        except network.RadioError as exc:
            raise BuildError(str(exc)) from None
        dev_site = links.site
        dev_cell = links.cell
        wants = reachable[dev_site] & offload_policy
        # a device the link budget gives no rate cannot offload: it computes locally
        for _ in range(2):
            demand_ul = wants * dev["mean_rate_hz"] * wl_in_bits[dev_workload]
            demand_dl = wants * dev["mean_rate_hz"] * wl_out_bits[dev_workload]
            rates = network.rates(channel, links, demand_ul, demand_dl)
            covered = (rates.uplink_bps > 0) & (rates.downlink_bps > 0)
            if not (wants & ~covered).any():
                break
            wants = wants & covered
        uplink_bps = np.where(rates.uplink_bps > 0, rates.uplink_bps, np.nan)
        downlink_bps = np.where(rates.downlink_bps > 0, rates.downlink_bps, np.nan)
        # radio energy hook: radiated power from power control, through the PA, adds to tx power
        radiated_over_pa_w = 10.0 ** (links.tx_power_dbm / 10.0) / 1000.0 / channel.ue_pa_efficiency
        power_tx_w = dev["power_tx_w"] + radiated_over_pa_w
        cell_site = links.cells.site.astype(np.int32)
        cell_bias = np.array([sites[s].association_bias_db for s in cell_site], dtype=np.float64)
        if moving:
            rmap = radiomap.radio_map(channel, field, links, rates.interference_load_dl, rates.interference_load_ul,
                                      k=scenario.mobility.map_candidates, interference_ul_mw=rates.interference_ul_mw,
                                      known=known)
            del known
            map_arrays = {
                "map_grid": np.array([rmap.x0_m, rmap.y0_m, rmap.step_m, rmap.nx, rmap.ny], dtype=np.float64),
                "map_cell": np.ascontiguousarray(rmap.cell, dtype=np.int32),
                "map_rsrp_dbm": np.ascontiguousarray(rmap.rsrp_dbm, dtype=np.float32),
                "map_link": np.ascontiguousarray(np.stack([
                    np.nan_to_num(rmap.rate_ul_bps), np.nan_to_num(rmap.rate_dl_bps),
                    np.nan_to_num(10.0 ** (rmap.tx_power_dbm / 10.0) / 1000.0 / channel.ue_pa_efficiency),
                ], axis=-1), dtype=np.float64),
            }
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

    # transport links become flow cells after the radio cells, one per link (each direction a row)
    n_radio = cell_site.shape[0]
    n_links = routes.capacity_bps.shape[0]
    route_cell = np.where(routes.bottleneck >= 0, n_radio + routes.bottleneck, -1).astype(np.int32)
    cell_rate = np.concatenate((np.full(n_radio, np.nan), routes.capacity_bps.astype(np.float64)))

    gpus = [n.gpu for n in nodes]
    serving = _gpu_serving(scenario, topo, routes, cells, wl_flops)
    model = engine.Model(
        node_servers=serving.node_instances,
        node_gpus=np.array([g.servers if g else 0 for g in gpus], dtype=np.int32),
        node_wl_pool=serving.wl_pool,
        pool_node=serving.pool_node,
        pool_servers=serving.pool_servers,
        pool_slices=serving.pool_slices,
        node_mig_slices=serving.mig_slices,
        node_overhead_s=serving.overhead_s,
        pool_server0=serving.pool_server0,
        node_flops_per_s=np.array([g.flops_per_s if g else 1.0 for g in gpus], dtype=np.float64),
        node_exponential=np.array([bool(g and g.service == "exponential") for g in gpus], dtype=np.bool_),
        node_queue_capacity=np.array(
            [-1 if (g is None or g.queue_capacity is None) else g.queue_capacity for g in gpus], dtype=np.int64),
        node_on_full=np.array([_ON_FULL[g.on_full] if g else engine.ON_FULL_DROP for g in gpus], dtype=np.int8),
        node_deadline_admission=np.array([bool(g and g.admission == "deadline") for g in gpus], dtype=np.bool_),
        node_batch_max=np.array([g.batch_max if g else 1 for g in gpus], dtype=np.int64),
        node_batch_timeout_s=np.array([g.batch_timeout_s if g else 0.0 for g in gpus], dtype=np.float64),
        node_service_s=serving.service_s,
        node_prefill_s=serving.prefill_s,
        site_gpu_next=serving.gpu_next,
        site_gpu_node=np.ascontiguousarray(routes.gpu_node, dtype=np.int32),
        route_latency_s=np.ascontiguousarray(routes.latency_s, dtype=np.float64).reshape(n_sites, len(nodes)),
        route_cell=np.ascontiguousarray(route_cell).reshape(n_sites, len(nodes)),
        route_direct=((route_cell < 0) & (routes.latency_s == 0.0)).reshape(n_sites, len(nodes)),
        route_hops=np.ascontiguousarray(routes.hops, dtype=np.int32).reshape(n_sites, len(nodes)),
        cell_rate_bps=cell_rate,
        cell_site=np.ascontiguousarray(cell_site, dtype=np.int32),
        cell_bias_db=np.ascontiguousarray(cell_bias, dtype=np.float64),
        dev_site=np.ascontiguousarray(dev_site, dtype=np.int32),
        trace_t_s=np.concatenate(traces) if traces else np.zeros(1),
        dev_offload=offload_policy & reachable[dev_site] & np.isfinite(uplink_bps) & np.isfinite(downlink_bps)
        if not moving else offload_policy.copy(),
        policy_max_nodes=np.array([scenario.policy.max_nodes], dtype=np.int64),
        policy_battery_threshold=np.array([scenario.policy.battery_threshold], dtype=np.float64),
        policy_max_hops=np.array([scenario.policy.max_hops if scenario.policy.max_hops is not None else 2**62],
                                 dtype=np.int64),
        policy_params=_plugin_parameters(scenario),
        dev_group=np.ascontiguousarray(dev_group, dtype=np.int32),
        dev_power_tx_w=power_tx_w,
        dev_uplink_bps=uplink_bps,
        dev_downlink_bps=downlink_bps,
        dev_cell=np.ascontiguousarray(dev_cell, dtype=np.int32),
        dev_x_m=dev_x,
        dev_y_m=dev_y,
        dev_road_from=road_from,
        dev_road_to=road_to,
        **_group_table(first, {
            "grp_workload": dev_workload, "grp_arrival": dev_arrival, "grp_rate_hz": dev["rate_hz"],
            "grp_jitter_s": dev["jitter_s"], "grp_mmpp_on_s": dev["mmpp_on_s"], "grp_mmpp_off_s": dev["mmpp_off_s"],
            "grp_mmpp_off_rate_hz": dev["mmpp_off_rate_hz"], "grp_trace_start": dev_trace_start,
            "grp_trace_len": dev_trace_len, "grp_trace_cycle_s": dev_trace_cycle_s, "grp_policy": dev_policy,
            "grp_flops_per_s": dev["flops_per_s"], "grp_power_idle_w": dev["power_idle_w"],
            "grp_power_compute_w": dev["power_compute_w"], "grp_power_tx_base_w": dev["power_tx_w"],
            "grp_power_rx_w": dev["power_rx_w"], "grp_energy_j": dev["energy_j"], "grp_capacity_j": dev["capacity_j"],
            "grp_battery_model": battery_model, "grp_battery_a": dev["battery_a"], "grp_battery_b": dev["battery_b"],
            "grp_power_tail_w": dev["power_tail_w"], "grp_power_inactive_w": dev["power_inactive_w"],
            "grp_rrc_tail_s": dev["rrc_tail_s"], "grp_rrc_inactive_s": dev["rrc_inactive_s"],
            "grp_has_tail": (dev["power_tail_w"] * dev["rrc_tail_s"] + dev["power_inactive_w"] * dev["rrc_inactive_s"])
            > 0,
            "grp_tx_j_per_bit": dev["tx_j_per_bit"], "grp_rx_j_per_bit": dev["rx_j_per_bit"]}),
        mob_kind=mob_kind,
        mob_speed_min_mps=dev["speed_min_mps"],
        mob_speed_max_mps=dev["speed_max_mps"],
        mob_pause_s=dev["pause_s"],
        mob_p_turn=dev["p_turn"],
        mob_area=np.array(area_t, dtype=np.float64),
        mob_devices=np.flatnonzero(mob_kind != mob.MOB_STATIC).astype(np.int32),
        road_x_m=np.ascontiguousarray(roads.node_x_m, dtype=np.float64),
        road_y_m=np.ascontiguousarray(roads.node_y_m, dtype=np.float64),
        road_ptr=np.ascontiguousarray(roads.adj_ptr, dtype=np.int32),
        road_adj=np.ascontiguousarray(roads.adj, dtype=np.int32),
        mob_step_s=np.array([scenario.mobility.step_s if moving else 0.0]),
        ho_hysteresis_db=np.array([scenario.mobility.hysteresis_db]),
        ho_ttt_s=np.array([scenario.mobility.time_to_trigger_s]),
        **map_arrays,
        wl_flops=wl_flops,
        wl_input_bits=wl_in_bits,
        wl_output_bits=wl_out_bits,
        wl_deadline_s=np.array([w.deadline_s for w in scenario.workloads], dtype=np.float64),
        wl_split_n=np.array([len(w.split_points or ()) for w in scenario.workloads], dtype=np.int64),
        wl_split_flops=_split_table(scenario, "device_flops", 1.0),
        wl_split_bits=_split_table(scenario, "upload_bytes", 8.0),
        wl_output_tokens=np.array([w.output_tokens or 0 for w in scenario.workloads], dtype=np.int64),
        warmup_s=np.array([scenario.simulation.warmup_s], dtype=np.float64),
        proportional_fair=np.array([channel.sharing == "proportional_fair"]),
    )
    links_table = {
        "link": np.arange(n_links, dtype=np.int64),
        "a": np.array([lk.a for lk in topo.links], dtype=object),
        "b": np.array([lk.b for lk in topo.links], dtype=object),
        "kind": np.array([lk.kind or "" for lk in topo.links], dtype=object),
        "latency_s": np.array([lk.delay_s for lk in topo.links], dtype=np.float64),
        "capacity_bps": routes.capacity_bps.astype(np.float64),
    }
    layout = Layout(
        topology=topo,
        site_names=[s.name for s in sites],
        site_x_m=site_x,
        site_y_m=site_y,
        node_names=[n.name for n in nodes],
        node_ran_fraction=serving.ran_fraction,
        workload_names=[w.name for w in scenario.workloads],
        group_names=[g.name for g in scenario.devices],
        dev_group=dev_group,
        dev_x_m=dev_x,
        dev_y_m=dev_y,
        radio=radio,
        cells=cells,
        links=links_table,
    )
    return model, layout


_MAX_REDRAWS = 200
_ON_FULL = {"drop": engine.ON_FULL_DROP, "local": engine.ON_FULL_LOCAL, "next_node": engine.ON_FULL_NEXT}


class _Serving(NamedTuple):
    service_s: np.ndarray  # float64[n_nodes, n_workloads, max batch], batch time on the AI share, s
    prefill_s: np.ndarray  # float64[n_nodes, n_workloads, max batch], token workloads: overhead + prefill, s
    gpu_next: np.ndarray  # int32[n_sites, n_nodes], next GPU node by latency from the site (-1: none)
    ran_fraction: np.ndarray  # float64[n_nodes], share of the GPU's time the site's baseband takes
    node_instances: np.ndarray  # int32[n_nodes], servers (whole GPUs, or MIG instances over all partitions)
    wl_pool: np.ndarray  # int32[n_nodes, n_workloads], the pool serving the workload at the node (-1: none)
    pool_node: np.ndarray  # int32[n_pools]
    pool_servers: np.ndarray  # int64[n_pools], instances in the pool
    pool_slices: np.ndarray  # int64[n_pools], compute slices of one instance
    mig_slices: np.ndarray  # int64[n_nodes], compute slices per GPU (1 without partitions)
    overhead_s: np.ndarray  # float64[n_nodes, n_workloads], fixed part of a batch's time (0 for measured rows), s
    pool_server0: np.ndarray  # int64[n_pools], first server of the pool in the global numbering


def _split_table(scenario: Scenario, field: str, scale: float) -> np.ndarray:
    """[n_workloads, max split points] of one split-point field times ``scale`` (unused entries 0)."""
    n = max([len(w.split_points or ()) for w in scenario.workloads] + [1])
    table = np.zeros((len(scenario.workloads), n), dtype=np.float64)
    for i, w in enumerate(scenario.workloads):
        for j, point in enumerate(w.split_points or ()):
            table[i, j] = getattr(point, field) * scale
    return table


def plugin_name(scenario: Scenario) -> str | None:
    """The plug-in policy some device group uses (at most one per scenario), or None."""
    names = {g.policy or scenario.policy.name for g in scenario.devices} - set(POLICY_NAMES)
    return names.pop() if names else None


def _plugin_parameters(scenario: Scenario) -> np.ndarray:
    name = plugin_name(scenario)
    if name is None:
        return np.zeros(0, dtype=np.float64)
    return policies.get(name).parameter_array(scenario.policy.parameters)


def _gpu_serving(scenario: Scenario, topo, routes, cells, wl_flops: np.ndarray) -> _Serving:
    """Batch service times, the baseband's share of co-located GPUs, and each site's GPU nodes in order.

    A batch of ``b`` tasks of workload ``w`` takes ``batch_overhead_s + b flops_w /
    flops_per_s`` (or the measured ``batch_latency_s[w][b - 1]``) of a whole server; a
    GPU that also runs the site's baseband gives inference the rest of its time,
    ``1 - x`` with ``x = ran_share x load`` (strict priority: the baseband's demand
    follows the site's cell load, the mean of its cells' predicted uplink and downlink
    loads unless ``ran_load`` is given) or ``x = ran_share`` (a reserved slice), so
    inference takes ``1 / (1 - x)`` times longer. This is a time-average (fluid)
    model of slot-by-slot preemption: the baseband's work comes in 0.5-1 ms slots, far
    shorter than most inferences.

    Token workloads (an LLM turn): a batch of ``b`` prefills its prompts in ``b
    prefill_flops / flops_per_s`` and then generates ``output_tokens`` tokens, each
    decode step taking ``max(weight_bytes / memory_bw, b decode_flops_per_token /
    flops_per_s)``: a roofline bound, since every step reads all the weights once
    (memory-bound at small batches) and computes ``b`` tokens (compute-bound at large
    ones); static batching, the batch's requests decoding together. With no memory
    bandwidth or weight size given, decoding is compute-bound and the batch time is
    the FLOPs model's.
    """
    names = [w.name for w in scenario.workloads]
    n_nodes, n_wl = len(topo.compute), len(names)
    gpus = [n.gpu for n in topo.compute]
    b_max = max([g.batch_max for g in gpus if g is not None], default=1)
    site_index = {s.name: i for i, s in enumerate(topo.sites)}
    service_s = np.ones((n_nodes, n_wl, b_max))
    prefill_s = np.zeros((n_nodes, n_wl, b_max))
    ran_fraction = np.zeros(n_nodes)
    wl_pool = np.full((n_nodes, n_wl), -1, dtype=np.int32)
    pool_node, pool_servers, pool_slices = [], [], []
    mig_slices = np.ones(n_nodes, dtype=np.int64)
    overhead_s = np.zeros((n_nodes, n_wl))
    # per node and workload: the fraction of the GPU that serves it (1: whole GPUs)
    fraction = np.ones((n_nodes, n_wl))
    for n, (node, gpu) in enumerate(zip(topo.compute, gpus, strict=True)):
        if gpu is None:
            continue
        where = f"compute node {node.name!r}"
        if gpu.partitions is None:
            wl_pool[n, :] = len(pool_node)
            pool_node.append(n)
            pool_servers.append(gpu.servers)
            pool_slices.append(1)
        else:
            mig_slices[n] = gpu.mig_slices
            for i, part in enumerate(gpu.partitions):
                for name in part.workloads:
                    if name not in names:
                        raise BuildError(f"{where}: gpu.partitions[{i}].workloads: {name!r} is not a workload "
                                         f"({', '.join(names)})")
                    wl_pool[n, names.index(name)] = len(pool_node)
                    fraction[n, names.index(name)] = part.slices / gpu.mig_slices
                pool_node.append(n)
                pool_servers.append(part.count * gpu.servers)
                pool_slices.append(part.slices)
        for name in gpu.batch_latency_s or {}:
            if name not in names:
                raise BuildError(f"{where}: gpu.batch_latency_s.{name}: must name a workload ({', '.join(names)})")
            if scenario.workloads[names.index(name)].output_tokens is not None:
                raise BuildError(f"{where}: gpu.batch_latency_s.{name}: not for a token workload (its prefill and "
                                 f"decode follow from its FLOPs, weight_bytes and the GPU's memory bandwidth)")
        if gpu.ran_share > 0.0:
            if node.kind != "site":
                raise BuildError(f"{where}: gpu.ran_share: only a GPU at a site runs its baseband (this node is "
                                 f"{node.kind!r}); set it to 0")
            if gpu.ran_priority == "reserved":
                ran_fraction[n] = gpu.ran_share
            else:
                load = gpu.ran_load
                if load is None:
                    if cells is None:
                        raise BuildError(f"{where}: gpu.ran_load: required with channel.model = \"ideal\" (no "
                                         f"cell load to follow)")
                    mine = cells["site"] == topo.sites[site_index[node.site]].name
                    load = float(np.mean(0.5 * (cells["load_dl_predicted"][mine] + cells["load_ul_predicted"][mine])))
                ran_fraction[n] = gpu.ran_share * load
        b = np.arange(1, b_max + 1, dtype=np.float64)
        for w, (name, workload) in enumerate(zip(names, scenario.workloads, strict=True)):
            measured = (gpu.batch_latency_s or {}).get(name)
            if measured is not None:
                row = np.array(measured[:b_max], dtype=np.float64)
                row = np.concatenate((row, np.full(b_max - row.size, row[-1])))  # beyond batch_max: unused
            elif workload.output_tokens is not None:
                flops_per_s = gpu.flops_per_s * fraction[n, w]
                prefill = gpu.batch_overhead_s + b * workload.prefill_flops / flops_per_s
                step = b * workload.decode_flops_per_token / flops_per_s
                if gpu.memory_bw_bytes_per_s is not None and workload.weight_bytes is not None:
                    step = np.maximum(step, workload.weight_bytes / (gpu.memory_bw_bytes_per_s * fraction[n, w]))
                row = prefill + workload.output_tokens * step
                prefill_s[n, w] = prefill / (1.0 - ran_fraction[n])
            else:
                row = gpu.batch_overhead_s + b * wl_flops[w] / (gpu.flops_per_s * fraction[n, w])
                overhead_s[n, w] = gpu.batch_overhead_s / (1.0 - ran_fraction[n])
            service_s[n, w] = row / (1.0 - ran_fraction[n])
    pool_servers = np.array(pool_servers, dtype=np.int64)
    pool_node = np.array(pool_node, dtype=np.int32)
    pool_server0 = (np.cumsum(pool_servers) - pool_servers).astype(np.int64)
    instances = np.bincount(pool_node, weights=pool_servers, minlength=n_nodes).astype(np.int32)
    # each site's GPU nodes by (latency, links, index): the order a refused task moves along
    gpu_next = np.full((len(topo.sites), n_nodes), -1, dtype=np.int32)
    has_gpu = [g is not None for g in gpus]
    for s in range(len(topo.sites)):
        order = sorted((j for j in range(n_nodes) if has_gpu[j] and np.isfinite(routes.latency_s[s, j])),
                       key=lambda j: (routes.latency_s[s, j], routes.hops[s, j], j))
        for a, b_ in zip(order, order[1:], strict=False):
            gpu_next[s, a] = b_
    return _Serving(service_s, prefill_s, gpu_next, ran_fraction, instances, wl_pool, pool_node, pool_servers,
                    np.array(pool_slices, dtype=np.int64), mig_slices, overhead_s, pool_server0)
_ARRIVALS = {"poisson": engine.ARR_POISSON, "periodic": engine.ARR_PERIODIC, "mmpp": engine.ARR_MMPP,
             "trace": engine.ARR_TRACE}


def _read_trace(path: str, where: str) -> np.ndarray:
    """Arrival times (s) from a CSV file: the column ``t_s`` if there is a header naming it, else the first."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [row for row in csv.reader(f) if row and any(cell.strip() for cell in row)]
    except OSError as exc:
        raise BuildError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
    column = 0
    if rows and rows[0]:
        header = [cell.strip() for cell in rows[0]]
        try:
            float(header[0])
        except ValueError:
            column = header.index("t_s") if "t_s" in header else 0
            rows = rows[1:]
    values = []
    for line, row in enumerate(rows, start=1):
        try:
            values.append(float(row[column]))
        except (ValueError, IndexError):
            raise BuildError(f"{where}: {path}: row {line}: not a number of seconds: {row!r}") from None
    times_s = np.array(values, dtype=np.float64)
    if times_s.size < 2:
        raise BuildError(f"{where}: {path}: needs at least 2 arrival times, got {times_s.size}")
    if not np.all(np.isfinite(times_s)) or np.any(np.diff(times_s) < 0):
        raise BuildError(f"{where}: {path}: arrival times must be finite and non-decreasing")
    if times_s[-1] == times_s[0]:
        raise BuildError(f"{where}: {path}: arrival times must span a positive time")
    return times_s
#: Largest radio map built: grid points x sites (its random fields hold three float32 per pair).
_MAX_MAP_POINT_SITES = 200_000_000


def _check_map_size(area, resolution_m: float, n_sites: int) -> None:
    nx = int((area[1] - area[0]) / resolution_m) + 2
    ny = int((area[3] - area[2]) / resolution_m) + 2
    if nx * ny * n_sites > _MAX_MAP_POINT_SITES:
        gib = nx * ny * n_sites * 12 / 2**30
        raise BuildError(f"mobility.map_resolution_m: a {resolution_m!r} m grid over the area needs {nx * ny:,} "
                         f"points x {n_sites} sites (about {gib:.0f} GiB); use a coarser grid")


def _merge_rows(n: int, rows_a: np.ndarray, a: network.Links, rows_b: np.ndarray, b: network.Links) -> network.Links:
    """The links of ``n`` devices: rows ``rows_a`` from ``a``, ``rows_b`` from ``b`` (same cells; dtypes of ``a``)."""
    names = network.Links._fields[1:]
    if rows_a.shape[0] == 0 and np.array_equal(rows_b, np.arange(n)) and all(
            getattr(a, name).dtype == getattr(b, name).dtype for name in names):
        return b
    out = {"cells": a.cells}
    for name in names:
        value = getattr(a, name)
        merged = np.empty((n, *value.shape[1:]), dtype=value.dtype)
        merged[rows_a] = value
        merged[rows_b] = getattr(b, name)
        out[name] = merged
    return network.Links(**out)


def _too_close(x_m: np.ndarray, y_m: np.ndarray, sites, distance_m: float, wrap_shifts_m=None) -> np.ndarray:
    """Whether each position is closer than ``distance_m`` (2D) to a site or a wrapped copy of one; bool.

    The decisions of ``np.hypot(x - x_site, y - y_site) < distance_m`` over every site and
    copy, evaluated only for the pairs whose x offset can pass: as ``|dx| <= hypot(dx, dy)``,
    a site copy (sorted by x) counts only within ``distance_m`` of the position's x,
    widened by far more than the rounding of the subtractions.
    """
    out = np.zeros(x_m.shape[0], dtype=bool)
    if not distance_m > 0:  # no distance is below 0 (or below nan)
        return out
    shifts = np.zeros((1, 2)) if wrap_shifts_m is None else np.asarray(wrap_shifts_m, dtype=np.float64)
    sx = np.concatenate([np.array([s.x_m for s in sites], dtype=np.float64) + dx for dx, _ in shifts])
    sy = np.concatenate([np.array([s.y_m for s in sites], dtype=np.float64) + dy for _, dy in shifts])
    by_x = np.argsort(sx, kind="stable")
    sx, sy = sx[by_x], sy[by_x]
    for a in range(0, x_m.shape[0], 65536):
        x, y = x_m[a:a + 65536], y_m[a:a + 65536]
        span_m = distance_m * (1.0 + 1e-9) + 1e-9 * np.abs(x)
        with np.errstate(invalid="ignore"):  # inf - inf: a nan bound, sorted last
            first = np.searchsorted(sx, x - span_m, side="left")
            count = np.maximum(np.searchsorted(sx, x + span_m, side="right") - first, 0)
        if not count.any():
            continue
        point = np.repeat(np.arange(x.shape[0]), count)  # candidate pairs (position, site copy)
        copy = np.arange(point.shape[0]) - np.repeat(np.cumsum(count) - count, count) + np.repeat(first, count)
        close = np.hypot(x[point] - sx[copy], y[point] - sy[copy]) < distance_m
        out[a + point[close]] = True
    return out


def _site_arrays(channel, sites) -> _SiteArrays:
    environments = tuple(s.environment or channel.environment for s in sites)
    return _SiteArrays(
        x_m=np.array([s.x_m for s in sites], dtype=np.float64),
        y_m=np.array([s.y_m for s in sites], dtype=np.float64),
        height_m=network.site_heights_m(channel, [s.height_m for s in sites], environments),
        sectors=np.array([s.sectors for s in sites]),
        azimuth_deg=np.array([s.azimuth_deg for s in sites], dtype=np.float64),
        downtilt_deg=np.array([s.downtilt_deg for s in sites], dtype=np.float64),
        bias_db=np.array([s.association_bias_db for s in sites], dtype=np.float64),
        environment=environments,
        band=tuple(s.band or channel.band for s in sites),
        tx_power_dbm=np.array([np.nan if s.tx_power_dbm is None else s.tx_power_dbm for s in sites]),
    )


def _no_radio_map() -> dict[str, np.ndarray]:
    """Empty radio-map arrays (nobody moves); the kernel's types stay the same."""
    return {
        "map_grid": np.array([0.0, 0.0, 1.0, 1.0, 1.0]),
        "map_cell": np.full((1, 1), -1, dtype=np.int32),
        "map_rsrp_dbm": np.zeros((1, 1), dtype=np.float32),
        "map_link": np.zeros((1, 1, 3)),
    }


def aligned_rows(n_rows: int, n_columns: int, like: np.ndarray | None = None, dtype=np.float64) -> np.ndarray:
    """A C-contiguous ``[n_rows, n_columns]`` array of zeros (or a copy of ``like``) starting on a 64-byte
    boundary, a cache line of x86-64 and Arm processors (the arrival heap's and the device records'
    layouts rely on it).
    """
    line = 64
    size = np.dtype(dtype).itemsize
    buf = np.zeros(n_rows * n_columns + line // size, dtype=dtype)
    skip = (-buf.ctypes.data % line) // size
    out = buf[skip:skip + n_rows * n_columns].reshape(n_rows, n_columns)
    if like is not None:
        out[...] = like
    return out


def device_records(n_dev: int, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The State's per-device records (``dev_f``, ``dev_i8``, ``dev_i4``) holding ``columns``
    (every name of :data:`airan.engine.DEVICE_COLUMNS`, as [n_dev] or [2, n_dev] arrays)."""
    dtypes = {"dev_f": np.float64, "dev_i8": np.int64, "dev_i4": np.int32}
    widths = {"dev_f": engine.DF_WIDTH, "dev_i8": engine.DI8_WIDTH, "dev_i4": engine.DI4_WIDTH}
    records = {name: aligned_rows(n_dev, widths[name], dtype=dtype) for name, dtype in dtypes.items()}
    for name, (record, column, rows, _) in engine.DEVICE_COLUMNS.items():
        if rows:
            records[record][:, column:column + rows] = columns[name].T
        else:
            records[record][:, column] = columns[name]
    return records


def initial_state(
    model: engine.Model, seed: int, *, trace_capacity: int = 0, n_cells: int | None = None
) -> engine.State:
    """A fresh run's state: empty heap and queues, full batteries, seeded streams.

    ``n_cells`` defaults to the model's cells (radio cells, then transport links).
    """
    from . import mobility as mob

    n_dev = model.dev_site.shape[0]
    n_nodes = model.node_servers.shape[0]
    n_wl = model.wl_flops.shape[0]
    if n_cells is None:
        n_cells = model.cell_rate_bps.shape[0]
    roads = mob.RoadGraph(model.road_x_m, model.road_y_m, model.road_ptr, model.road_adj)
    legs = np.random.default_rng(np.random.SeedSequence([int(seed), _FAMILY_FIRST_LEGS]))
    moving = mob.initial_state(model.mob_kind, model.dev_x_m, model.dev_y_m, model.dev_road_from,
                               model.dev_road_to, model.mob_speed_min_mps, model.mob_speed_max_mps,
                               tuple(model.mob_area), roads, legs, pause_s=model.mob_pause_s,
                               p_turn=model.mob_p_turn)
    heap_capacity = 2 * n_dev + 64
    task_capacity = 2 * n_dev + 64
    wells = np.array([battery.initial_wells(int(mo), float(e), float(a)) for mo, e, a in zip(
        model.grp_battery_model, model.grp_energy_j, model.grp_battery_a, strict=True)], dtype=np.float64
    ).reshape(-1, 2).T[:, model.dev_group].copy()
    ints = np.zeros(engine.N_INTS, dtype=np.int64)
    ints[engine.I_FREE] = 0
    sums = np.zeros(engine.N_SUMS, dtype=np.float64)
    sums[engine.S_LATENCY_MIN] = np.inf
    sums[engine.S_LATENCY_MAX] = -np.inf
    fields = dict(
        ev_time=np.zeros(heap_capacity, dtype=np.float64),
        ev_seq=np.zeros(heap_capacity, dtype=np.int64),
        ev_payload=np.zeros(heap_capacity, dtype=np.int64),
        ah_entry=aligned_rows(engine.AH_ROOT + max(n_dev, 1), 2),
        dev_arrival_seq=np.zeros(n_dev, dtype=np.int64),
        dev_group=model.dev_group.copy(),
        **_task_arrays(task_capacity, first_slot=0),
        node_busy=np.zeros(n_nodes, dtype=np.int32),
        node_q_head=np.full((n_nodes, n_wl), -1, dtype=np.int32),
        node_q_tail=np.full((n_nodes, n_wl), -1, dtype=np.int32),
        node_wq_len=np.zeros((n_nodes, n_wl), dtype=np.int64),
        node_q_len=np.zeros(n_nodes, dtype=np.int64),
        node_busy_slices=np.zeros(n_nodes, dtype=np.int64),
        pool_busy=np.zeros(model.pool_node.shape[0], dtype=np.int64),
        pool_q_len=np.zeros(model.pool_node.shape[0], dtype=np.int64),
        node_timer_s=np.full(n_nodes, np.inf, dtype=np.float64),
        node_batches=np.zeros(n_nodes, dtype=np.int64),
        server_left=np.zeros(max(int(model.node_servers.sum()), 1), dtype=np.int64),
        node_t_last_s=np.zeros(n_nodes, dtype=np.float64),
        node_busy_area_s=np.zeros(n_nodes, dtype=np.float64),
        node_queue_area_s=np.zeros(n_nodes, dtype=np.float64),
        node_served=np.zeros(n_nodes, dtype=np.int64),
        node_rejected=np.zeros(n_nodes, dtype=np.int64),
        cell_flows=np.zeros((2, n_cells), dtype=np.int64),
        cell_head=np.full((2, n_cells), -1, dtype=np.int32),
        cell_vtime_s=np.zeros((2, n_cells), dtype=np.float64),
        cell_vmin_s=np.full((2, n_cells), np.inf, dtype=np.float64),
        cell_t_last_s=np.zeros((2, n_cells), dtype=np.float64),
        cell_event_seq=np.full((2, n_cells), -1, dtype=np.int64),
        cell_busy_s=np.zeros((2, n_cells), dtype=np.float64),
        cell_bits=np.zeros((2, n_cells), dtype=np.float64),
        dev_next_nominal_s=np.zeros(n_dev, dtype=np.float64),
        dev_mmpp_on=np.zeros(n_dev, dtype=np.bool_),
        dev_mmpp_switch_s=np.zeros(n_dev, dtype=np.float64),
        dev_trace_pos=np.zeros(n_dev, dtype=np.int64),
        dev_trace_base_s=np.zeros(n_dev, dtype=np.float64),
        dev_cell=model.dev_cell.copy(),
        dev_site=model.dev_site.copy(),
        dev_uplink_bps=model.dev_uplink_bps.copy(),
        dev_downlink_bps=model.dev_downlink_bps.copy(),
        dev_power_tx_w=model.dev_power_tx_w.copy(),
        dev_power_tx_next_w=model.dev_power_tx_w.copy(),
        dev_handovers=np.zeros(n_dev, dtype=np.int64),
        dev_ho_target=np.full(n_dev, -1, dtype=np.int32),
        dev_ho_since_s=np.zeros(n_dev, dtype=np.float64),
        mob_x_m=np.ascontiguousarray(moving.x_m, dtype=np.float64),
        mob_y_m=np.ascontiguousarray(moving.y_m, dtype=np.float64),
        mob_target_x_m=np.ascontiguousarray(moving.target_x_m, dtype=np.float64),
        mob_target_y_m=np.ascontiguousarray(moving.target_y_m, dtype=np.float64),
        mob_from_node=np.ascontiguousarray(moving.from_node, dtype=np.int32),
        mob_to_node=np.ascontiguousarray(moving.to_node, dtype=np.int32),
        mob_speed_mps=np.ascontiguousarray(moving.speed_mps, dtype=np.float64),
        mob_pause_until_s=np.ascontiguousarray(moving.pause_until_s, dtype=np.float64),
        mob_map_point=np.full(n_dev, -1, dtype=np.int64),
        dev_map_slot=np.full(n_dev, -1, dtype=np.int32),
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
        rng_node=seed_streams(seed, FAMILY_SITE, n_nodes),
        rng_mob=seed_streams(seed, FAMILY_MOBILITY, n_dev if model.mob_devices.shape[0] else 0),
        ints=ints,
        sums=sums,
        hist=np.zeros((n_wl, histogram.N_BINS + 2), dtype=np.int64),
        wl_counts=np.zeros((n_wl, engine.N_WL), dtype=np.int64),
        wl_latency_s=np.zeros(n_wl, dtype=np.float64),
        wl_ttft_hist=np.zeros((n_wl, histogram.N_BINS + 2), dtype=np.int64),
        wl_token_sums=np.zeros((n_wl, 3), dtype=np.float64),
        wl_split_counts=np.zeros(model.wl_split_flops.shape, dtype=np.int64),
        policy_task=np.zeros(policies.N_TASK, dtype=np.float64),
        policy_options=np.zeros((int(model.policy_max_nodes[0]) + 1, policies.N_OPTION), dtype=np.float64),
        policy_nodes=np.zeros(int(model.policy_max_nodes[0]) + 1, dtype=np.int64),
        policy_params=np.zeros(model.policy_params.shape[0], dtype=np.float64),
        trace_f=np.zeros((trace_capacity, engine.N_TF), dtype=np.float64),
        trace_i=np.zeros((trace_capacity, engine.N_TI), dtype=np.int64),
    )
    records = device_records(n_dev, {name: fields.pop(name) for name in engine.DEVICE_COLUMNS})
    state = engine.State(**fields, **records)
    engine.schedule_first_arrivals(model, state)
    return state


_TASK_FIELDS = {
    "task_id": np.int64,
    "task_dev": np.int32,
    "task_flags": np.int16,
    "task_next": np.int32,
    "task_t_gen_s": np.float64,
    "task_t_mark_s": np.float64,
    "task_local_s": np.float64,
    "task_uplink_s": np.float64,
    "task_gpu_wait_s": np.float64,
    "task_gpu_service_s": np.float64,
    "task_vfinish_s": np.float64,
    "task_backhaul_s": np.float64,
    "task_site": np.int32,
    "task_node": np.int32,
    "task_server": np.int32,
    "task_split": np.int32,
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
