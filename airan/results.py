"""Kernel arrays -> results: a flat summary, tidy per-device, per-site, per-node and per-link tables, files.

Definitions used in the summary (the names are a public contract):

- Task counts cover tasks generated at or after ``simulation.warmup_s``;
  ``tasks_generated = tasks_completed + tasks_dropped + tasks_in_flight``.
- ``tasks_local`` counts tasks the policy kept on the device and
  ``tasks_offloaded`` those it sent over the uplink (``tasks_local +
  tasks_offloaded = tasks_generated``); ``tasks_fallback_local`` are offloaded
  tasks that met a full GPU queue and ran on their device instead.
  ``offload_ratio = tasks_offloaded / tasks_generated``;
  ``gpu_accepted_ratio`` is the share of generated tasks a GPU site accepted
  (served, or queued at the end).
- Latency is from generation to the result being on the device, over completed
  tasks; quantiles come from a log histogram (see :mod:`airan.histogram`) with at
  most 0.5 % relative error. ``deadline_miss_ratio`` = (completed after their
  deadline + dropped) / (completed + dropped).
- Component means are over completed tasks that went through the component:
  ``local_compute_mean_s`` (local wait + compute), ``uplink_mean_s`` (the
  transfer in the shared cell), ``backhaul_mean_s`` (both crossings of the
  transport path between the site and the GPU node: transfers over its
  bottleneck link plus its latency, 0 for a co-located GPU; over GPU-served
  tasks), ``gpu_wait_mean_s``, ``gpu_service_mean_s`` and ``downlink_mean_s``.
  For a task served by a GPU, uplink + backhaul + GPU wait + GPU service +
  downlink = its latency.
- ``tasks_dropped_radio``: results that could not be delivered because the
  device had moved out of coverage (or to a site with no transport path to the
  GPU node). ``handovers`` counts handovers over the whole run,
  ``handovers_per_device_hour`` per moving device (``devices_moving``), and
  ``results_rerouted`` the counted GPU-served tasks whose result went back
  through another site than the one the task came in by.
- Per workload (``workloads`` in the summary, ``workloads.parquet``): counted tasks,
  latency mean and quantiles, deadline-miss ratio; for token workloads (an LLM turn)
  also the time to first token (the wait, the batch's prefill, the path back and the
  first token's airtime; from a log histogram for the 95th percentile) and the
  generation rate ``tokens_per_s``, all tokens generated over all decode time.
- ``tasks_split`` counts the tasks the ``partial`` policy split between the device and a
  GPU node (per workload also by cut, ``tasks_split_at``); they count as offloaded, and
  their device part counts in ``local_compute_mean_s``.
- ``tasks_rejected`` counts tasks at least one GPU node refused (queue full, or
  expected to miss the deadline with deadline admission): in the end dropped, run
  locally (``tasks_fallback_local``) or served by a later node; ``tasks_forwarded``
  those sent on to another node at least once (per-node refusals: ``gpu_rejected``
  in ``nodes.parquet``). ``gpu_accepted_ratio`` is the share of generated tasks a
  GPU node accepted and ``gpu_wait_probability`` the share of those that waited.
  ``batch_size_mean`` is inferences per batch over all nodes and the whole run. ``gpu_share_ran_mean``
  is the mean share of GPU time the sites' baseband takes and ``gpu_share_ai_mean``
  the share inference uses, ``(1 - ran share) x utilisation`` (per node in
  ``nodes.parquet``).
- GPU utilisation (busy servers / servers) and mean queue length are time
  averages after the warm-up; ``gpu_utilization_mean`` and
  ``gpu_queue_length_mean`` are unweighted means over the compute nodes that
  have a GPU (``gpu_nodes``), ``gpu_utilization_max`` the busiest one (per-node
  values: ``nodes.parquet``). ``transport_load_max`` is the busiest transport
  link's busy fraction in either direction (``links.parquet``). Transfers are
  modelled on each path's bottleneck link only, so a link carries (and shows
  load for) the paths whose bottleneck it is; the path's other links add their
  latency but are taken to have room.
- Energy covers the whole run, warm-up included: ``device_energy_j`` is the sum
  over devices of idle + compute + tx + rx + tail energy (each also reported;
  they sum to the total); ``device_energy_per_task_j`` divides it by all tasks
  completed in the run (warm-up included, like the energy), and
  ``device_energy_active_per_task_j`` does the same for the energy above the
  baseline (compute + tx + rx + tail), the part a policy trades.
  ``device_energy_per_local_task_j`` is compute energy per task run on a device,
  ``device_energy_per_offloaded_task_j`` radio energy (tx + rx + tail) per
  offloaded task.
- ``battery_life_*_h``: for a device whose battery emptied, the measured time it
  emptied (``battery_life_measured`` in the devices table); otherwise the
  projected life of its battery model from its initial charge at the device's
  average power over the run (ideal: energy / power; Peukert and KiBaM: their
  constant-load lifetime, :func:`airan.battery.projected_life_s`).
  ``devices_depleted`` says how many are measured; ``battery_life_measured_mean_h``
  averages the measured ones only, and ``battery_life_projected_mean_h`` the
  projected life of every device (also for those that emptied;
  ``battery_life_projected_h`` in the devices table).
- Radio (channel models other than ``ideal``): ``sinr_{dl,ul}_mean_db`` and
  ``sinr_{dl,ul}_p5_db`` over devices (the mean of the dB values; the 5th
  percentile by nearest rank), ``rate_{dl,ul}_mean_bps`` the mean full-cell rate
  (a device alone in its cell), ``cell_load_{dl,ul}_mean`` / ``_max`` the measured
  fraction of time a cell had an active transfer (after the warm-up),
  ``devices_out_of_coverage`` devices with no rate (they compute locally).
  ``throughput_{ul,dl}_mean_bps`` (every channel) is the mean over devices of the
  bits each device moved divided by the time its transfers took, so it includes
  the slow-down from sharing.
- GPU energy (``gpu_energy_j``, per inference served ``gpu_energy_per_inference_j``)
  follows a linear power model per server, idle power plus (peak - idle) x the
  fraction of time at work (inference on its share, plus the site's baseband on a
  shared GPU), over the whole run; base-station energy
  (``site_energy_j``) the EARTH model (see ``_site_energy_j``);
  ``network_energy_j`` adds the device, GPU and base-station energies that are
  defined, and ``network_energy_per_task_j`` divides by all completed tasks.
- ``wall_time_s`` is the wall-clock time spent advancing the run (the kernel and
  growing its arrays), without compilation, set-up or summarising.
- The per-device table covers the whole run (warm-up tasks included), as its
  energies do; a task of a device whose battery empties is dropped at its next
  event (the GPU still serves a task already queued there). Its radio columns
  and ``site`` are at t = 0; ``site_end``, ``x_end_m`` and ``y_end_m`` at the end.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import battery, engine, histogram
from .build import Layout
from .scenario import Scenario, dump_scenario

S_PER_H = 3600.0


@dataclass
class Result:
    """What a run returns: the summary and tidy tables (dicts of equal-length arrays)."""

    scenario: Scenario
    seed: int
    summary: dict[str, Any]
    devices: dict[str, np.ndarray]
    sites: dict[str, np.ndarray]
    latency_histogram: dict[str, np.ndarray]
    trace: dict[str, np.ndarray] | None = field(default=None)
    cells: dict[str, np.ndarray] | None = field(default=None)
    nodes: dict[str, np.ndarray] | None = field(default=None)
    links: dict[str, np.ndarray] | None = field(default=None)
    topology: Any = field(default=None)
    workloads: dict[str, np.ndarray] | None = field(default=None)
    timeseries: dict[str, np.ndarray] | None = field(default=None)

    def write(self, out_dir: str | Path) -> Path:
        """Write ``summary.json``, ``scenario.toml`` (resolved, with the seed used) and Parquet tables.

        Each file is written to a temporary name and renamed, so a failure never
        leaves a half-written file; the summary is written first.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(out / "summary.json", json.dumps(self.summary, indent=2) + "\n")
        resolved = self.scenario.model_copy(
            update={"simulation": self.scenario.simulation.model_copy(update={"seed": self.seed})}
        )
        if self.scenario.topology is not None and self.topology is not None:
            # the network travels with the results: the scenario written there reads it from next to itself
            from .topology import dump_topology

            _atomic_write_text(out / "topology.toml", dump_topology(self.topology))
            if self.scenario.topology.file is not None:
                resolved = resolved.model_copy(update={
                    "topology": resolved.topology.model_copy(update={"file": "topology.toml"})})
        groups = []
        for i, group in enumerate(resolved.devices):
            if group.trace_file is not None:
                # an arrival trace travels with the results too
                name = f"arrivals_{i}.csv"
                _atomic_write_text(out / name, Path(group.trace_file).read_text(encoding="utf-8"))
                group = group.model_copy(update={"trace_file": name})
            groups.append(group)
        resolved = resolved.model_copy(update={"devices": tuple(groups)})
        if resolved.policy.plugin is not None:
            # so does the plug-in policy's file
            _atomic_write_text(out / "policy_plugin.py", Path(resolved.policy.plugin).read_text(encoding="utf-8"))
            resolved = resolved.model_copy(update={"policy": resolved.policy.model_copy(
                update={"plugin": "policy_plugin.py"})})
        _atomic_write_text(out / "scenario.toml", dump_scenario(resolved))
        write_parquet(out / "devices.parquet", self.devices)
        write_parquet(out / "sites.parquet", self.sites)
        if self.nodes is not None:
            write_parquet(out / "nodes.parquet", self.nodes)
        if self.links is not None and len(self.links["link"]):
            write_parquet(out / "links.parquet", self.links)
        write_parquet(out / "latency_histogram.parquet", self.latency_histogram)
        if self.workloads is not None:
            write_parquet(out / "workloads.parquet", self.workloads)
        if self.cells is not None:
            write_parquet(out / "cells.parquet", self.cells)
        if self.timeseries is not None:
            write_parquet(out / "timeseries.parquet", self.timeseries)
        if self.trace is not None:
            write_parquet(out / "trace.parquet", self.trace)
        return out


def summarize(
    scenario: Scenario, seed: int, model: engine.Model, st: engine.State, layout: Layout, now_s: float,
    wall_time_s: float, at_warmup: engine.State | None = None,
) -> Result:
    """Build a :class:`Result` from a state whose energies and time integrals are settled at ``now_s``.

    ``at_warmup`` is the state settled at the end of the warm-up; site utilisation,
    queue length and cell load are then measured from there.
    """
    ints, sums = st.ints, st.sums
    generated = int(ints[engine.I_GENERATED])
    completed = int(ints[engine.I_COMPLETED])
    dropped_queue = int(ints[engine.I_DROPPED_QUEUE])
    dropped_battery = int(ints[engine.I_DROPPED_BATTERY])
    dropped_radio = int(ints[engine.I_DROPPED_RADIO])
    dropped = dropped_queue + dropped_battery + dropped_radio
    lat_min = float(sums[engine.S_LATENCY_MIN]) if completed else math.nan
    lat_max = float(sums[engine.S_LATENCY_MAX]) if completed else math.nan
    hist_all = st.hist.sum(axis=0)
    p50, p95, p99 = histogram.quantiles(hist_all, [0.5, 0.95, 0.99], lat_min, lat_max)

    # devices
    e_idle, e_compute, e_tx, e_rx = st.dev_e_idle_j, st.dev_e_compute_j, st.dev_e_tx_j, st.dev_e_rx_j
    e_tail = st.dev_e_tail_j
    e_total = e_idle + e_compute + e_tx + e_rx + e_tail
    alive_s = np.where(st.dev_depleted, st.dev_t_depleted_s, now_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        power_w = np.where(alive_s > 0, e_total / alive_s, 0.0)
        g = model.dev_group
        projected_s = battery.projected_life_array_s(model.grp_battery_model[g], model.grp_battery_a[g],
                                                     model.grp_battery_b[g], model.grp_energy_j[g], power_w)
        dev_latency_mean = np.where(st.dev_completed > 0, st.dev_latency_sum_s / st.dev_completed, np.nan)
    life_h = np.where(st.dev_depleted, st.dev_t_depleted_s, projected_s) / S_PER_H
    projected_h = projected_s / S_PER_H
    completed_all = int(st.dev_completed.sum())
    n_moving = int(model.mob_devices.shape[0])

    # compute nodes (utilisation in whole GPUs: a busy MIG instance counts its fraction of one)
    servers = model.node_gpus
    has_gpu = servers > 0
    if at_warmup is not None:
        t_from = float(model.warmup_s[0])
        busy_from, queue_from = at_warmup.node_busy_area_s, at_warmup.node_queue_area_s
        cell_busy_from = at_warmup.cell_busy_s
    else:
        t_from, busy_from, queue_from, cell_busy_from = 0.0, 0.0, 0.0, 0.0
    span_s = now_s - t_from
    with np.errstate(divide="ignore", invalid="ignore"):
        utilization = np.where(has_gpu, (st.node_busy_area_s - busy_from) / (np.maximum(servers, 1) * span_s), np.nan)
        queue_mean = (st.node_queue_area_s - queue_from) / span_s

    def ratio(num: float, den: float) -> float:
        return num / den if den > 0 else math.nan

    n_gpu_done = int(ints[engine.I_N_GPU_DONE])
    accepted = int(ints[engine.I_GPU_ACCEPTED])  # tasks, not arrivals: a forwarded task arrives more than once
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "policy": scenario.policy.name,
        "tasks_generated": generated,
        "tasks_completed": completed,
        "tasks_dropped": dropped,
        "tasks_dropped_queue_full": dropped_queue,
        "tasks_dropped_battery": dropped_battery,
        "tasks_dropped_radio": dropped_radio,
        "tasks_in_flight": generated - completed - dropped,
        "tasks_local": int(ints[engine.I_LOCAL]),
        "tasks_offloaded": int(ints[engine.I_OFFLOADED]),
        "tasks_fallback_local": int(ints[engine.I_FALLBACK]),
        "offload_ratio": ratio(ints[engine.I_OFFLOADED], generated),
        "gpu_accepted_ratio": ratio(accepted, generated),
        "latency_mean_s": ratio(sums[engine.S_LATENCY], completed),
        "latency_p50_s": float(p50),
        "latency_p95_s": float(p95),
        "latency_p99_s": float(p99),
        "latency_min_s": lat_min,
        "latency_max_s": lat_max,
        "latency_quantile_relative_error": histogram.RELATIVE_ERROR,
        "deadline_miss_ratio": ratio(ints[engine.I_DEADLINE_MISS] + dropped, completed + dropped),
        "local_compute_mean_s": ratio(sums[engine.S_LOCAL], ints[engine.I_N_LOCAL_DONE]),
        "uplink_mean_s": ratio(sums[engine.S_UPLINK], ints[engine.I_N_UPLINK_DONE]),
        "backhaul_mean_s": ratio(sums[engine.S_BACKHAUL], n_gpu_done),
        "gpu_wait_mean_s": ratio(sums[engine.S_GPU_WAIT], n_gpu_done),
        "gpu_service_mean_s": ratio(sums[engine.S_GPU_SERVICE], n_gpu_done),
        "downlink_mean_s": ratio(sums[engine.S_DOWNLINK], n_gpu_done),
        "gpu_wait_probability": ratio(ints[engine.I_GPU_ENQUEUED], accepted),
        "tasks_rejected": int(ints[engine.I_REFUSED]),
        "tasks_forwarded": int(ints[engine.I_FORWARDED]),
        "tasks_split": int(ints[engine.I_SPLIT]),
        "batch_size_mean": ratio(float(st.node_served.sum()), float(st.node_batches.sum())),
        "gpu_share_ran_mean": float(np.mean(layout.node_ran_fraction[has_gpu])) if has_gpu.any() else math.nan,
        "gpu_share_ai_mean": float(np.mean(((1.0 - layout.node_ran_fraction) * utilization)[has_gpu]))
        if has_gpu.any() else math.nan,
        "gpu_utilization_mean": float(np.mean(utilization[has_gpu])) if has_gpu.any() else math.nan,
        "gpu_utilization_max": float(np.max(utilization[has_gpu])) if has_gpu.any() else math.nan,
        "gpu_queue_length_mean": float(np.mean(queue_mean[has_gpu])) if has_gpu.any() else math.nan,
        "device_energy_j": float(e_total.sum()),
        "device_energy_idle_j": float(e_idle.sum()),
        "device_energy_compute_j": float(e_compute.sum()),
        "device_energy_tx_j": float(e_tx.sum()),
        "device_energy_rx_j": float(e_rx.sum()),
        "device_energy_tail_j": float(e_tail.sum()),
        "device_energy_per_task_j": ratio(float(e_total.sum()), completed_all),
        "device_energy_active_per_task_j": ratio(float((e_compute + e_tx + e_rx + e_tail).sum()), completed_all),
        "device_energy_per_local_task_j": ratio(float(e_compute.sum()), int(st.dev_ran_local.sum())),
        "device_energy_per_offloaded_task_j": ratio(float((e_tx + e_rx + e_tail).sum()),
                                                    int(st.dev_offloaded.sum())),
        "device_power_mean_w": float(power_w.mean()),
        "battery_life_mean_h": float(life_h.mean()),
        "battery_life_p5_h": nearest_rank(life_h, 0.05),
        "battery_life_min_h": float(life_h.min()),
        "battery_life_measured_mean_h": float(np.mean(life_h[st.dev_depleted])) if st.dev_depleted.any()
        else math.nan,
        "battery_life_projected_mean_h": float(np.mean(projected_h)),
        "devices": int(model.dev_site.shape[0]),
        "devices_depleted": int(st.dev_depleted.sum()),
        "sites": len(layout.site_names),
        "gpu_nodes": int(has_gpu.sum()),
        "handovers": int(ints[engine.I_HANDOVERS]),
        "handovers_per_device_hour": ratio(float(ints[engine.I_HANDOVERS]), n_moving * now_s / S_PER_H),
        "results_rerouted": int(ints[engine.I_REROUTED]),
        "devices_moving": n_moving,
        "sim_time_s": float(now_s),
        "warmup_s": float(model.warmup_s[0]),
        "wall_time_s": float(wall_time_s),
        "events": int(ints[engine.I_EVENTS]),
        "seed": int(seed),
    }

    # GPU and base-station energy, whole run (the kernel's busy integrals; linear power models)
    topo = layout.topology
    gpu_idle = np.array([n.gpu.power_idle_w if n.gpu and n.gpu.power_idle_w is not None else np.nan
                         for n in topo.compute])
    gpu_peak = np.array([n.gpu.power_peak_w if n.gpu and n.gpu.power_peak_w is not None else np.nan
                         for n in topo.compute])
    # the GPU works on inference for (1 - x) of its busy time and on the site's baseband x of all the time
    ran_x = layout.node_ran_fraction
    gpu_work_s = st.node_busy_area_s * (1.0 - ran_x) + ran_x * servers * now_s
    gpu_energy = np.where(has_gpu, servers * gpu_idle * now_s + (gpu_peak - gpu_idle) * gpu_work_s, 0.0)
    site_energy = _site_energy_j(scenario, layout, st, now_s)
    gpu_known = has_gpu & np.isfinite(gpu_idle)
    gpu_energy_total = float(gpu_energy[gpu_known].sum()) if gpu_known.any() else math.nan
    site_energy_total = float(np.nansum(site_energy)) if np.isfinite(site_energy).any() else math.nan
    network_parts = [float(e_total.sum())] + [x for x in (gpu_energy_total, site_energy_total) if math.isfinite(x)]
    summary.update({
        "gpu_energy_j": gpu_energy_total,
        "gpu_energy_per_inference_j": ratio(gpu_energy_total, float(st.node_served[gpu_known].sum()))
        if gpu_known.any() else math.nan,
        "site_energy_j": site_energy_total,
        "network_energy_j": sum(network_parts),
        "network_energy_per_task_j": ratio(sum(network_parts), completed_all),
    })

    # radio: measured throughput per device (bits / time its transfers took), cell load
    with np.errstate(divide="ignore", invalid="ignore"):
        throughput = np.where(st.dev_flow_s > 0, st.dev_bits / st.dev_flow_s, np.nan)  # [2, n_dev]
        cell_load = (st.cell_busy_s - cell_busy_from) / span_s  # [2, n_cells]
    radio = layout.radio
    n_radio = model.cell_site.shape[0]
    radio_load = cell_load[:, :n_radio]
    summary.update({
        "throughput_ul_mean_bps": _nanmean(throughput[engine.UL]),
        "throughput_dl_mean_bps": _nanmean(throughput[engine.DL]),
        "sinr_dl_mean_db": _nanmean(radio["sinr_dl_db"]) if radio else math.nan,
        "sinr_dl_p5_db": nearest_rank(radio["sinr_dl_db"], 0.05) if radio else math.nan,
        "sinr_ul_mean_db": _nanmean(radio["sinr_ul_db"]) if radio else math.nan,
        "sinr_ul_p5_db": nearest_rank(radio["sinr_ul_db"], 0.05) if radio else math.nan,
        "rate_dl_mean_bps": _nanmean(radio["rate_dl_bps"]) if radio else math.nan,
        "rate_ul_mean_bps": _nanmean(radio["rate_ul_bps"]) if radio else math.nan,
        "cell_load_dl_mean": float(np.mean(radio_load[engine.DL])) if radio else math.nan,
        "cell_load_ul_mean": float(np.mean(radio_load[engine.UL])) if radio else math.nan,
        "cell_load_dl_max": float(np.max(radio_load[engine.DL])) if radio else math.nan,
        "cell_load_ul_max": float(np.max(radio_load[engine.UL])) if radio else math.nan,
        "devices_out_of_coverage": int((~radio["covered"]).sum()) if radio else 0,
    })
    link_load = cell_load[:, n_radio:]  # [2, n_links]: row UL towards the compute nodes, row DL back
    summary["transport_load_max"] = float(link_load.max()) if link_load.size else math.nan
    summary = {k: _json_value(v) for k, v in summary.items()}

    devices = {
        "device": np.arange(model.dev_site.shape[0], dtype=np.int64),
        "group": np.array([layout.group_names[g] for g in layout.dev_group], dtype=object),
        "site": np.array([layout.site_names[s] for s in model.dev_site], dtype=object),
        "site_end": np.array([layout.site_names[s] for s in st.dev_site], dtype=object),
        "handovers": st.dev_handovers.copy(),
        "x_end_m": st.mob_x_m.copy(),
        "y_end_m": st.mob_y_m.copy(),
        "workload": np.array([layout.workload_names[w] for w in model.grp_workload[model.dev_group]], dtype=object),
        "x_m": layout.dev_x_m,
        "y_m": layout.dev_y_m,
        "offloads": model.dev_offload.copy(),
        "tasks_generated": st.dev_generated.copy(),
        "tasks_completed": st.dev_completed.copy(),
        "tasks_dropped": st.dev_dropped.copy(),
        "latency_mean_s": dev_latency_mean,
        "energy_j": e_total,
        "energy_idle_j": e_idle.copy(),
        "energy_compute_j": e_compute.copy(),
        "energy_tx_j": e_tx.copy(),
        "energy_rx_j": e_rx.copy(),
        "energy_tail_j": e_tail.copy(),
        "tasks_ran_local": st.dev_ran_local.copy(),
        "tasks_offloaded": st.dev_offloaded.copy(),
        "power_mean_w": power_w,
        "battery_life_h": life_h,
        "battery_life_measured": st.dev_depleted.copy(),
        "battery_life_projected_h": projected_h,
        "depleted": st.dev_depleted.copy(),
        "depleted_at_s": st.dev_t_depleted_s.copy(),
        "throughput_ul_bps": throughput[engine.UL],
        "throughput_dl_bps": throughput[engine.DL],
        **(radio or {}),
    }
    n_sites = len(layout.site_names)
    node_names = np.array(layout.node_names + [""], dtype=object)  # index -1: none
    gpu_node = model.site_gpu_node
    sites = {
        "site": np.array(layout.site_names, dtype=object),
        "x_m": layout.site_x_m,
        "y_m": layout.site_y_m,
        "devices": np.bincount(model.dev_site, minlength=n_sites).astype(np.int64),
        "gpu_node": node_names[gpu_node],
        "gpu_latency_s": np.where(gpu_node >= 0, model.route_latency_s[np.arange(n_sites), np.maximum(gpu_node, 0)]
                                  if len(layout.node_names) else np.nan, np.nan),
        "site_energy_j": site_energy,
    }
    nodes = {
        "node": np.array(layout.node_names, dtype=object),
        "kind": np.array([n.kind for n in topo.compute], dtype=object),
        "site": np.array([n.site or "" for n in topo.compute], dtype=object),
        "gpu_servers": servers.astype(np.int64),
        "gpu_instances": model.node_servers.astype(np.int64),
        "sites_served": np.bincount(gpu_node[gpu_node >= 0], minlength=servers.shape[0]).astype(np.int64),
        "gpu_utilization": utilization,
        "gpu_queue_length_mean": np.where(has_gpu, queue_mean, np.nan),
        "gpu_services": st.node_served.copy(),
        "gpu_batches": st.node_batches.copy(),
        "batch_size_mean": np.where(st.node_batches > 0, st.node_served / np.maximum(st.node_batches, 1), np.nan),
        "gpu_rejected": st.node_rejected.copy(),
        "gpu_share_ran": np.where(has_gpu, layout.node_ran_fraction, np.nan),
        "gpu_share_ai": np.where(has_gpu, (1.0 - layout.node_ran_fraction) * utilization, np.nan),
        "gpu_energy_j": np.where(gpu_known, gpu_energy, np.nan),
        "gpu_energy_per_inference_j": np.where(gpu_known & (st.node_served > 0), gpu_energy / np.maximum(
            st.node_served, 1), np.nan),
    }
    links = {**layout.links,
             "load_up": link_load[engine.UL], "load_down": link_load[engine.DL],
             "bits_up": st.cell_bits[engine.UL, n_radio:].copy(), "bits_down": st.cell_bits[engine.DL, n_radio:].copy()}
    edges = histogram.bin_edges_s()
    latency_histogram = {
        "lower_s": np.concatenate(([0.0], edges)),
        "upper_s": np.concatenate((edges, [np.inf])),
        "count": hist_all,
    }
    # per workload (counted tasks): counts, latency quantiles from its own histogram, deadline misses
    wl = st.wl_counts
    wl_quantiles = np.array([histogram.quantiles(st.hist[w], [0.5, 0.95, 0.99], lat_min, lat_max)
                             for w in range(wl.shape[0])]).reshape(-1, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        workloads = {
            "workload": np.array(layout.workload_names, dtype=object),
            "tasks_generated": wl[:, engine.WL_GENERATED].copy(),
            "tasks_completed": wl[:, engine.WL_COMPLETED].copy(),
            "tasks_dropped": wl[:, engine.WL_DROPPED].copy(),
            "tasks_split": st.wl_split_counts.sum(axis=1),
            "latency_mean_s": np.where(wl[:, engine.WL_COMPLETED] > 0,
                                       st.wl_latency_s / np.maximum(wl[:, engine.WL_COMPLETED], 1), np.nan),
            "latency_p50_s": wl_quantiles[:, 0],
            "latency_p95_s": wl_quantiles[:, 1],
            "latency_p99_s": wl_quantiles[:, 2],
            "ttft_mean_s": np.where(st.wl_ttft_hist.sum(axis=1) > 0, st.wl_token_sums[:, 0] / np.maximum(
                st.wl_ttft_hist.sum(axis=1), 1), np.nan),
            "ttft_p95_s": np.array([histogram.quantiles(st.wl_ttft_hist[w], [0.95], 0.0, np.inf)[0]
                                    for w in range(wl.shape[0])]),
            "tokens_per_s": np.where(st.wl_token_sums[:, 2] > 0, st.wl_token_sums[:, 1] / np.maximum(
                st.wl_token_sums[:, 2], 1e-300), np.nan),
            "deadline_miss_ratio": np.where(
                wl[:, engine.WL_COMPLETED] + wl[:, engine.WL_DROPPED] > 0,
                (wl[:, engine.WL_DEADLINE_MISS] + wl[:, engine.WL_DROPPED])
                / np.maximum(wl[:, engine.WL_COMPLETED] + wl[:, engine.WL_DROPPED], 1), np.nan),
        }
    summary["workloads"] = {
        str(name): {k: _json_value(v[i]) for k, v in workloads.items() if k != "workload"}
        for i, name in enumerate(workloads["workload"])}
    for i, workload in enumerate(scenario.workloads):
        if workload.split_points:  # partial offloading: tasks split at each cut
            summary["workloads"][workload.name]["tasks_split_at"] = {
                p.layer: int(st.wl_split_counts[i, j]) for j, p in enumerate(workload.split_points)}
    cells = None
    if layout.cells is not None:
        cells = {**layout.cells, "load_dl": cell_load[engine.DL, :n_radio], "load_ul": cell_load[engine.UL, :n_radio],
                 "bits_dl": st.cell_bits[engine.DL, :n_radio].copy(),
                 "bits_ul": st.cell_bits[engine.UL, :n_radio].copy()}
    return Result(scenario, seed, summary, devices, sites, latency_histogram, cells=cells, nodes=nodes,
                  links=links, topology=topo, workloads=workloads)


def _site_energy_j(scenario: Scenario, layout, st: engine.State, now_s: float) -> np.ndarray:
    """Base-station input energy per site over the run, EARTH model (nan where none is given).

    Each cell of a site transmits at full power while its downlink is busy and
    sleeps otherwise; a site's ``n_trx`` transceivers are split evenly over its
    cells: E = n_trx / n_cells * sum over cells of [(p0 + delta_p p_max) busy + p_sleep idle].
    With the ideal channel there are no shared cells and no load to set the power:
    nan. G. Auer et al., IEEE Wireless Commun. 18(5), 2011.
    """
    out = np.full(len(layout.topology.sites), np.nan)
    for i, site in enumerate(layout.topology.sites):
        bs = site.base_station
        if bs is None:
            continue
        full_w = bs.p0_w + bs.delta_p * bs.p_max_w
        if layout.cells is None:
            continue  # the ideal channel has no cells whose load would set the power
        mine = np.flatnonzero(layout.cells["site"] == site.name)
        busy = np.minimum(st.cell_busy_s[engine.DL, mine], now_s)
        per_cell = bs.n_trx / len(mine)
        out[i] = float(np.sum(per_cell * (full_w * busy + bs.p_sleep_w * (now_s - busy))))
    return out


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def nearest_rank(values: np.ndarray, q: float) -> float:
    """The nearest-rank ``q``-quantile (the ``ceil(q n)``-th smallest), as for latency; inf-safe."""
    ordered = np.sort(values)
    return float(ordered[max(int(math.ceil(q * ordered.size)) - 1, 0)])


def _json_value(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_parquet(path: str | Path, table: dict[str, np.ndarray]) -> None:
    """Write a dict of equal-length columns as a Parquet file (atomically)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.table({k: pa.array(v) for k, v in table.items()}), tmp)
    os.replace(tmp, path)


def read_parquet(path: str | Path) -> dict[str, np.ndarray]:
    """Read a Parquet table written by airan into a dict of numpy columns."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
