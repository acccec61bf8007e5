"""A slow, obvious reference simulator, compared with the Numba kernel in test_reference.py.

It is written from the model's description (the docstrings of ``airan.engine``,
``airan.results``, ``airan.build`` and ``airan.scenario``), not from the kernel's
code: plain Python objects, one ``heapq`` event list, and the most direct way of
doing each thing rather than the fastest.

What it does differently from the kernel, on purpose, so that the two share no tricks:

- Radio cells: each active flow keeps its remaining airtime (s). At every change
  in a direction's set of flows, all of them are advanced by the elapsed time
  times their share (``1/n``, or ``H_n/n`` with proportional fair) and the next
  completion is rescheduled at ``min(remaining) / share``. (The kernel keeps a
  virtual time per cell instead.)
- Device CPU: a single FIFO server that starts the next task when one ends. (The
  kernel computes every end time when the task is queued.)
- Battery: the device's power is a step function that changes only when its
  activity changes; after each change the instant the battery will empty is
  scheduled as an event of its own. (The kernel integrates energy at the device's
  next event and solves for the empty instant inside that interval.)
- Summary statistics come from one record per task, not from running counters.

Per-task times: each phase's time (local wait + compute, uplink, GPU wait, GPU
service, downlink) is recorded when the phase ends, whatever happens to the task
next, so the phases a task went through always add up to ``t_end_s -
t_generated_s``; ``ended_in`` says which phase's end ended the task. (The kernel
records 0 s for the uplink or downlink at whose end a task is dropped because its
battery emptied; test_reference.py keeps that difference visible.)

The only thing taken from the package is the random streams: each device's and
each site's xoshiro256** stream is drawn with ``airan._rng`` in the documented
order (a device's stream: its first arrival, then each next gap when an arrival
is handled; a site's stream: one exponential service time per service started
there), so the two simulators see the same random numbers and can be compared
task by task.

The reference reads the kernel's :class:`airan.engine.Model` only as the list of
numbers the scenario describes (rates, powers, sizes...), which lets a test edit
it (for example put several devices in one radio cell) and run both.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from airan._rng import FAMILY_DEVICE, FAMILY_SITE, exponential, seed_streams, uniform

OUTCOMES = ("completed", "dropped_queue_full", "dropped_battery")


# ---------------------------------------------------------------------------
# Entities
# ---------------------------------------------------------------------------


@dataclass(eq=False)
class Task:
    id: int
    device: int
    t_gen_s: float
    counted: bool  # generated at or after the warm-up
    offloaded: bool = False
    fallback: bool = False
    t_phase_s: float = 0.0  # start of the current phase (uplink, GPU queue, CPU queue, downlink)
    local_s: float = 0.0
    uplink_s: float = 0.0
    gpu_wait_s: float = 0.0
    gpu_service_s: float = 0.0
    downlink_s: float = 0.0
    reached_gpu: bool = False  # arrived at the site with its device alive
    accepted_by_gpu: bool = False  # served, or queued, by the site's GPU
    waited_for_gpu: bool = False  # found every server busy and joined the queue
    outcome: str | None = None
    t_end_s: float = math.nan
    ended_in: str = ""  # the phase whose end ended the task: "local", "uplink", "gpu" or "downlink"


@dataclass(eq=False)
class Link:
    """One direction (uplink or downlink) of one radio cell."""

    direction: str  # "ul" or "dl"
    flows: list = field(default_factory=list)  # [task, remaining airtime (s), bits]
    t_last_s: float = 0.0
    version: int = 0  # bumped at each reschedule; older end events are ignored
    busy_s: float = 0.0
    bits: float = 0.0


@dataclass(eq=False)
class Device:
    index: int
    battery_j: float
    p_idle_w: float
    p_compute_w: float
    p_tx_w: float
    p_rx_w: float
    cpu_queue: deque = field(default_factory=deque)  # tasks waiting for the CPU
    cpu_task: Task | None = None  # task being computed
    n_uplink: int = 0
    n_downlink: int = 0
    energy_j: dict = field(default_factory=lambda: {"idle": 0.0, "compute": 0.0, "tx": 0.0, "rx": 0.0})
    t_energy_s: float = 0.0
    battery_version: int = 0
    depleted: bool = False
    t_depleted_s: float = math.inf

    def powers_w(self) -> dict[str, float]:
        """Each power component being drawn now."""
        return {
            "idle": self.p_idle_w,
            "compute": self.p_compute_w if self.cpu_task is not None else 0.0,
            "tx": self.p_tx_w if self.n_uplink > 0 else 0.0,
            "rx": self.p_rx_w if self.n_downlink > 0 else 0.0,
        }


@dataclass(eq=False)
class Site:
    servers: int
    flops_per_s: float
    exponential: bool
    capacity: int | None  # None: unlimited
    on_full_local: bool
    busy: int = 0
    queue: deque = field(default_factory=deque)
    t_last_s: float = 0.0
    busy_area_s: float = 0.0  # integral of busy servers over [0, now]
    queue_area_s: float = 0.0
    busy_area_after_warmup_s: float = 0.0  # the same over [warmup, now]
    queue_area_after_warmup_s: float = 0.0
    served: int = 0
    rejected: int = 0


# ---------------------------------------------------------------------------
# The simulator
# ---------------------------------------------------------------------------


class ReferenceSimulation:
    """One run of the model described by ``model`` (an ``airan.engine.Model``) with ``seed``."""

    def __init__(self, model, seed: int, duration_s: float):
        m = model
        self.m = m
        self.duration_s = float(duration_s)
        self.warmup_s = float(m.warmup_s[0])
        self.proportional_fair = bool(m.proportional_fair[0])
        n_dev = len(m.dev_site)
        n_sites = len(m.site_servers)
        self.rng_dev = seed_streams(seed, FAMILY_DEVICE, n_dev)
        self.rng_site = seed_streams(seed, FAMILY_SITE, n_sites)

        self.events: list = []
        self.seq = 0
        self.next_task_id = 0
        self.tasks: list[Task] = []
        self.ended: list[Task] = []

        self.sites = [
            Site(
                servers=int(m.site_servers[s]),
                flops_per_s=float(m.site_flops_per_s[s]),
                exponential=bool(m.site_exponential[s]),
                capacity=None if m.site_queue_capacity[s] < 0 else int(m.site_queue_capacity[s]),
                on_full_local=bool(m.site_on_full_local[s]),
            )
            for s in range(n_sites)
        ]
        self.devices = [
            Device(
                index=d,
                battery_j=float(m.dev_energy_j[d]),
                p_idle_w=float(m.dev_power_idle_w[d]),
                p_compute_w=float(m.dev_power_compute_w[d]),
                p_tx_w=float(m.dev_power_tx_w[d]),
                p_rx_w=float(m.dev_power_rx_w[d]),
            )
            for d in range(n_dev)
        ]
        n_cells = int(max(m.dev_cell)) + 1 if n_dev else 0
        self.links = {(c, direction): Link(direction) for c in range(n_cells) for direction in ("ul", "dl")}

        for d in range(n_dev):
            period_s = 1.0 / float(m.dev_rate_hz[d])
            if m.dev_periodic[d]:
                first_s = period_s * uniform(self.rng_dev, d)  # a uniformly random phase
            else:
                first_s = exponential(self.rng_dev, d, period_s)
            self.schedule(first_s, self.on_arrival, d)
            self.plan_battery(self.devices[d], 0.0)

    # -- events -------------------------------------------------------------

    def schedule(self, time_s: float, handler, *args: Any) -> None:
        heapq.heappush(self.events, (time_s, self.seq, handler, args))
        self.seq += 1

    def run(self) -> ReferenceSimulation:
        while self.events and self.events[0][0] < self.duration_s:
            now, _, handler, args = heapq.heappop(self.events)
            handler(now, *args)
        end = self.duration_s
        for dev in self.devices:
            self.accrue_energy(dev, end)
        for site in self.sites:
            self.accrue_site(site, end)
        for link in self.links.values():
            self.progress(link, end)
        return self

    # -- device energy ------------------------------------------------------

    def accrue_energy(self, dev: Device, now: float) -> None:
        """Add each power component times the time since the last update (nothing once empty)."""
        if dev.depleted:
            return
        dt = now - dev.t_energy_s
        for part, power_w in dev.powers_w().items():
            dev.energy_j[part] += power_w * dt
        dev.t_energy_s = now

    def plan_battery(self, dev: Device, now: float) -> None:
        """Schedule the instant the battery empties at the present power (call after each change)."""
        if dev.depleted:
            return
        dev.battery_version += 1
        left_j = dev.battery_j - sum(dev.energy_j.values())
        power_w = sum(dev.powers_w().values())
        if left_j <= 0.0:
            self.on_battery_empty(now, dev, dev.battery_version)
        elif power_w > 0.0:
            self.schedule(now + left_j / power_w, self.on_battery_empty, dev, dev.battery_version)

    def on_battery_empty(self, now: float, dev: Device, version: int) -> None:
        if version != dev.battery_version or dev.depleted:
            return
        self.accrue_energy(dev, now)
        dev.depleted = True
        dev.t_depleted_s = now

    def change_activity(self, dev: Device, now: float, change) -> None:
        """Apply ``change(dev)`` to the device's activity, with the energy brought up to ``now`` first."""
        self.accrue_energy(dev, now)
        change(dev)
        self.plan_battery(dev, now)

    # -- arrivals -----------------------------------------------------------

    def on_arrival(self, now: float, d: int) -> None:
        dev = self.devices[d]
        if dev.depleted:
            return  # an empty device generates no more tasks
        rate_hz = float(self.m.dev_rate_hz[d])
        gap_s = 1.0 / rate_hz if self.m.dev_periodic[d] else exponential(self.rng_dev, d, 1.0 / rate_hz)
        self.schedule(now + gap_s, self.on_arrival, d)

        task = Task(id=self.next_task_id, device=d, t_gen_s=now, counted=now >= self.warmup_s)
        self.next_task_id += 1
        self.tasks.append(task)
        if self.m.dev_offload[d]:
            task.offloaded = True
            self.start_flow(task, "ul", now)
        else:
            self.to_cpu(task, now)

    # -- device CPU: one FIFO server, deterministic service --------------------

    def to_cpu(self, task: Task, now: float) -> None:
        dev = self.devices[task.device]
        task.t_phase_s = now
        dev.cpu_queue.append(task)
        if dev.cpu_task is None:
            self.start_cpu(dev, now)

    def start_cpu(self, dev: Device, now: float) -> None:
        task = dev.cpu_queue.popleft()

        def begin(dev: Device) -> None:
            dev.cpu_task = task

        self.change_activity(dev, now, begin)
        compute_s = self.m.wl_flops[self.m.dev_workload[dev.index]] / self.m.dev_flops_per_s[dev.index]
        self.schedule(now + compute_s, self.on_local_end, task)

    def on_local_end(self, now: float, task: Task) -> None:
        dev = self.devices[task.device]
        task.local_s = now - task.t_phase_s

        def finish(dev: Device) -> None:
            dev.cpu_task = None

        self.change_activity(dev, now, finish)
        if dev.cpu_queue:
            self.start_cpu(dev, now)
        self.end(task, now, "dropped_battery" if dev.depleted else "completed", "local")

    # -- radio cells: processor sharing of each direction ---------------------

    def share(self, n: int) -> float:
        """Airtime rate of each of ``n`` flows: 1/n, or H_n/n with proportional fair."""
        if self.proportional_fair:
            return sum(1.0 / k for k in range(1, n + 1)) / n
        return 1.0 / n

    def progress(self, link: Link, now: float) -> None:
        """Give every active flow its share of the airtime since the last change."""
        if link.flows:
            dt = now - link.t_last_s
            rate = self.share(len(link.flows))
            for flow in link.flows:
                flow[1] -= rate * dt
            link.busy_s += dt
        link.t_last_s = now

    def retime(self, link: Link, now: float) -> None:
        """Schedule the next flow end of ``link`` (replacing any earlier one)."""
        link.version += 1
        if link.flows:
            shortest_s = min(flow[1] for flow in link.flows)
            wait_s = max(shortest_s, 0.0) / self.share(len(link.flows))
            self.schedule(now + wait_s, self.on_flow_end, link, link.version)

    def start_flow(self, task: Task, direction: str, now: float) -> None:
        d = task.device
        w = self.m.dev_workload[d]
        if direction == "ul":
            bits = float(self.m.wl_input_bits[w])
            airtime_s = bits / float(self.m.dev_uplink_bps[d])
        else:
            bits = float(self.m.wl_output_bits[w])
            airtime_s = bits / float(self.m.dev_downlink_bps[d])
        link = self.links[(int(self.m.dev_cell[d]), direction)]
        self.progress(link, now)
        link.flows.append([task, airtime_s, bits])
        self.retime(link, now)
        task.t_phase_s = now

        def add(dev: Device) -> None:
            if direction == "ul":
                dev.n_uplink += 1
            else:
                dev.n_downlink += 1

        self.change_activity(self.devices[d], now, add)

    def on_flow_end(self, now: float, link: Link, version: int) -> None:
        if version != link.version:
            return  # a later change in the link rescheduled its next end
        self.progress(link, now)
        flow = min(link.flows, key=lambda f: f[1])
        link.flows.remove(flow)
        link.bits += flow[2]
        self.retime(link, now)
        task = flow[0]
        dev = self.devices[task.device]

        def remove(dev: Device) -> None:
            if link.direction == "ul":
                dev.n_uplink -= 1
            else:
                dev.n_downlink -= 1

        self.change_activity(dev, now, remove)
        if link.direction == "ul":
            task.uplink_s = now - task.t_phase_s
            if dev.depleted:
                self.end(task, now, "dropped_battery", "uplink")
            else:
                self.arrive_at_site(task, now)
        else:
            task.downlink_s = now - task.t_phase_s
            self.end(task, now, "dropped_battery" if dev.depleted else "completed", "downlink")

    # -- GPU sites: c servers and one FIFO queue --------------------------------

    def accrue_site(self, site: Site, now: float) -> None:
        dt = now - site.t_last_s
        dt_after_warmup = max(now, self.warmup_s) - max(site.t_last_s, self.warmup_s)
        site.busy_area_s += site.busy * dt
        site.queue_area_s += len(site.queue) * dt
        site.busy_area_after_warmup_s += site.busy * dt_after_warmup
        site.queue_area_after_warmup_s += len(site.queue) * dt_after_warmup
        site.t_last_s = now

    def arrive_at_site(self, task: Task, now: float) -> None:
        s = int(self.m.dev_site[task.device])
        site = self.sites[s]
        task.reached_gpu = True
        task.t_phase_s = now
        if site.busy < site.servers:
            task.accepted_by_gpu = True
            self.start_service(s, task, now)
        elif site.capacity is None or len(site.queue) < site.capacity:
            task.accepted_by_gpu = True
            task.waited_for_gpu = True
            self.accrue_site(site, now)
            site.queue.append(task)
        else:
            site.rejected += 1
            if site.on_full_local:
                task.fallback = True
                self.to_cpu(task, now)
            else:
                self.end(task, now, "dropped_queue_full", "uplink")

    def start_service(self, s: int, task: Task, now: float) -> None:
        site = self.sites[s]
        self.accrue_site(site, now)
        site.busy += 1
        site.served += 1
        task.gpu_wait_s = now - task.t_phase_s
        mean_s = self.m.wl_flops[self.m.dev_workload[task.device]] / site.flops_per_s
        task.gpu_service_s = exponential(self.rng_site, s, mean_s) if site.exponential else mean_s
        self.schedule(now + task.gpu_service_s, self.on_gpu_end, s, task)

    def on_gpu_end(self, now: float, s: int, task: Task) -> None:
        site = self.sites[s]
        self.accrue_site(site, now)
        site.busy -= 1
        if site.queue:
            self.start_service(s, site.queue.popleft(), now)
        if self.devices[task.device].depleted:
            self.end(task, now, "dropped_battery", "gpu")
        else:
            self.start_flow(task, "dl", now)

    # -- the end of a task ------------------------------------------------------

    def end(self, task: Task, now: float, outcome: str, phase: str) -> None:
        task.outcome = outcome
        task.t_end_s = now
        task.ended_in = phase
        self.ended.append(task)

    # -- results ------------------------------------------------------------------

    def ran(self, task: Task) -> str:
        if task.fallback:
            return "fallback_local"
        return "gpu" if task.offloaded else "local"

    def trace(self) -> dict[str, np.ndarray]:
        """One row per ended task, ordered by task id, in the columns of ``Result.trace`` (site: index, -1: none)."""
        rows = sorted(self.ended, key=lambda t: t.id)
        return {
            "task": np.array([t.id for t in rows], dtype=np.int64),
            "device": np.array([t.device for t in rows], dtype=np.int64),
            "site": np.array([int(self.m.dev_site[t.device]) if t.offloaded else -1 for t in rows], dtype=np.int64),
            "outcome": np.array([t.outcome for t in rows], dtype=object),
            "ran": np.array([self.ran(t) for t in rows], dtype=object),
            "t_generated_s": np.array([t.t_gen_s for t in rows]),
            "t_end_s": np.array([t.t_end_s for t in rows]),
            "local_s": np.array([t.local_s for t in rows]),
            "uplink_s": np.array([t.uplink_s for t in rows]),
            "gpu_wait_s": np.array([t.gpu_wait_s for t in rows]),
            "gpu_service_s": np.array([t.gpu_service_s for t in rows]),
            "downlink_s": np.array([t.downlink_s for t in rows]),
            "ended_in": np.array([t.ended_in for t in rows], dtype=object),  # not a kernel column
        }

    def summary(self) -> dict[str, Any]:
        """The summary's task statistics, from the per-task records (counted tasks only)."""
        counted = [t for t in self.tasks if t.counted]
        done = [t for t in counted if t.outcome == "completed"]
        dropped = [t for t in counted if t.outcome not in (None, "completed")]
        gpu_done = [t for t in done if t.offloaded and not t.fallback]
        local_done = [t for t in done if not t.offloaded or t.fallback]
        uplink_done = [t for t in done if t.offloaded]
        latencies = [t.t_end_s - t.t_gen_s for t in done]
        deadline = self.m.wl_deadline_s

        def mean(values) -> float | None:
            values = list(values)
            return sum(values) / len(values) if values else None

        def ratio(num: float, den: float) -> float | None:
            return num / den if den > 0 else None

        gpu_sites = [s for s in self.sites if s.servers > 0]
        span_s = self.duration_s - self.warmup_s
        energy = {part: sum(dev.energy_j[part] for dev in self.devices) for part in ("idle", "compute", "tx", "rx")}
        n_done_all = sum(1 for t in self.tasks if t.outcome == "completed")
        late = sum(1 for t in done if t.t_end_s - t.t_gen_s > deadline[self.m.dev_workload[t.device]])
        return {
            "tasks_generated": len(counted),
            "tasks_completed": len(done),
            "tasks_dropped": len(dropped),
            "tasks_dropped_queue_full": sum(1 for t in dropped if t.outcome == "dropped_queue_full"),
            "tasks_dropped_battery": sum(1 for t in dropped if t.outcome == "dropped_battery"),
            "tasks_in_flight": sum(1 for t in counted if t.outcome is None),
            "tasks_local": sum(1 for t in counted if not t.offloaded),  # the policy's decision
            "tasks_offloaded": sum(1 for t in counted if t.offloaded),
            "tasks_fallback_local": sum(1 for t in counted if t.fallback),
            "gpu_accepted_ratio": ratio(sum(t.accepted_by_gpu for t in counted), len(counted)),
            "latency_mean_s": mean(latencies),
            "latency_min_s": min(latencies) if latencies else None,
            "latency_max_s": max(latencies) if latencies else None,
            "deadline_miss_ratio": ratio(late + len(dropped), len(done) + len(dropped)),
            "local_compute_mean_s": mean(t.local_s for t in local_done),
            "uplink_mean_s": mean(t.uplink_s for t in uplink_done),
            "gpu_wait_mean_s": mean(t.gpu_wait_s for t in gpu_done),
            "gpu_service_mean_s": mean(t.gpu_service_s for t in gpu_done),
            "downlink_mean_s": mean(t.downlink_s for t in gpu_done),
            "gpu_wait_probability": ratio(sum(t.waited_for_gpu for t in counted),
                                          sum(t.reached_gpu for t in counted)),
            "gpu_utilization_mean": mean(s.busy_area_after_warmup_s / (s.servers * span_s) for s in gpu_sites),
            "gpu_utilization_max": max((s.busy_area_after_warmup_s / (s.servers * span_s) for s in gpu_sites),
                                       default=None),
            "gpu_queue_length_mean": mean(s.queue_area_after_warmup_s / span_s for s in gpu_sites),
            "device_energy_j": sum(energy.values()),
            **{f"device_energy_{part}_j": value for part, value in energy.items()},
            "device_energy_per_task_j": ratio(sum(energy.values()), n_done_all),
            "devices_depleted": sum(dev.depleted for dev in self.devices),
        }

    def device_table(self) -> dict[str, np.ndarray]:
        """Per-device totals over the whole run (warm-up included)."""
        n = len(self.devices)
        generated = np.zeros(n, dtype=np.int64)
        completed = np.zeros(n, dtype=np.int64)
        dropped = np.zeros(n, dtype=np.int64)
        latency_sum = np.zeros(n)
        for t in self.tasks:
            generated[t.device] += 1
            if t.outcome == "completed":
                completed[t.device] += 1
                latency_sum[t.device] += t.t_end_s - t.t_gen_s
            elif t.outcome is not None:
                dropped[t.device] += 1
        with np.errstate(invalid="ignore", divide="ignore"):
            latency_mean = np.where(completed > 0, latency_sum / completed, np.nan)
        return {
            "tasks_generated": generated,
            "tasks_completed": completed,
            "tasks_dropped": dropped,
            "latency_mean_s": latency_mean,
            **{f"energy_{part}_j": np.array([dev.energy_j[part] for dev in self.devices])
               for part in ("idle", "compute", "tx", "rx")},
            "depleted": np.array([dev.depleted for dev in self.devices]),
            "depleted_at_s": np.array([dev.t_depleted_s for dev in self.devices]),
        }

    def site_table(self) -> dict[str, np.ndarray]:
        return {
            "busy_area_s": np.array([s.busy_area_s for s in self.sites]),
            "queue_area_s": np.array([s.queue_area_s for s in self.sites]),
            "gpu_services": np.array([s.served for s in self.sites], dtype=np.int64),
            "gpu_rejected": np.array([s.rejected for s in self.sites], dtype=np.int64),
        }

    def cell_table(self) -> dict[str, np.ndarray]:
        """Busy time and bits carried of each cell, rows (uplink, downlink) as in the kernel's state."""
        n_cells = len(self.links) // 2
        return {
            "busy_s": np.array([[self.links[(c, d)].busy_s for c in range(n_cells)] for d in ("ul", "dl")]),
            "bits": np.array([[self.links[(c, d)].bits for c in range(n_cells)] for d in ("ul", "dl")]),
        }


def simulate(model, seed: int, duration_s: float) -> ReferenceSimulation:
    """Run the reference model to ``duration_s`` and return it (read its tables)."""
    return ReferenceSimulation(model, seed, duration_s).run()
