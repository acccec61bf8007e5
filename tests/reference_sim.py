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
  activity changes (CPU, transfers, RRC state); after each change the instant the
  battery will empty at the new power is scheduled as an event of its own. (The
  kernel integrates energy at the device's next event, walks the breakpoints of
  that interval segment by segment and bisects for the empty instant inside one.)
- RRC tail: an explicit state machine per device (connected while a transfer is
  active; then ``tail`` for ``rrc_tail_s``, ``inactive`` for ``rrc_inactive_s``,
  ``idle``), each timed state ended by a timer event that a new transfer cancels.
  (The kernel keeps only the end of the last transfer and clips intervals to it.)
- Battery models are written here from their equations, not from
  ``airan.battery``: the KiBaM is kept as its total charge ``y = y1 + y2`` and the
  height difference ``delta = h2 - h1`` (which relaxes exponentially to ``P / (c k')``
  at constant power, so ``y1 = c (y - (1 - c) delta)``), and its empty instant is
  found by Newton's method from the side on which it converges monotonically (the
  kernel keeps the two wells, uses the Manwell-McGowan closed form and bisects).
  Peukert drains at ``P^k / P_ref^(k-1)``; per-bit energy is a lump taken from the
  available charge when a transfer ends, all of what is left if it is not enough.
- Summary statistics come from one record per task, not from running counters.

Per-task times: each phase's time (local wait + compute, uplink, GPU wait, GPU
service, downlink) is recorded when the phase ends, whatever happens to the task
next, so the phases a task went through always add up to ``t_end_s -
t_generated_s``; ``ended_in`` says which phase's end ended the task.

The only thing taken from the package is the random streams: each device's and
each site's xoshiro256** stream is drawn with ``airan._rng`` in the documented
order (a device's stream: its first arrival, then each next gap when an arrival
is handled; a site's stream: one exponential service time per service started
there), so the two simulators see the same random numbers and can be compared
task by task.

The reference reads the kernel's :class:`airan.engine.Model` only as the list of
numbers the scenario describes (rates, powers, sizes, battery model and its two
parameters...), which lets a test edit it (for example put several devices in one
radio cell) and run both. GPU and base-station powers are not in the model; a test
passes them as ``site_powers`` (see :class:`SitePowers`).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from airan import engine
from airan._rng import FAMILY_DEVICE, FAMILY_SITE, exponential, seed_streams, uniform

OUTCOMES = ("completed", "dropped_queue_full", "dropped_battery")
PARTS = ("idle", "compute", "tx", "rx", "tail")  # the five energy components ("tail": RRC tail and inactive)
BATTERY_MODELS = {0: "ideal", 1: "peukert", 2: "kibam"}  # the Model's grp_battery_model codes


# ---------------------------------------------------------------------------
# Batteries, in energy units (a constant terminal voltage)
#
# Each one answers: how much is available now (the load empties the battery when
# this reaches zero), what it becomes after drawing a constant power for a while,
# how long a constant power takes to empty it, and what a lump of energy drawn at
# once takes from it.
# ---------------------------------------------------------------------------


class IdealBattery:
    """Coulomb counting: the energy left goes down by the energy drawn."""

    model = "ideal"

    def __init__(self, energy_j: float):
        self.left_j = energy_j

    def available_j(self) -> float:
        return self.left_j

    def bound_j(self) -> float:
        return 0.0

    def drain_w(self, power_w: float) -> float:
        return power_w

    def spend(self, power_w: float, dt_s: float) -> None:
        self.left_j -= self.drain_w(power_w) * dt_s

    def seconds_to_empty(self, power_w: float) -> float:
        if self.left_j <= 0.0:
            return 0.0
        drain_w = self.drain_w(power_w)
        return self.left_j / drain_w if drain_w > 0.0 else math.inf

    def draw(self, energy_j: float) -> tuple[float, bool]:
        """Take ``energy_j`` at once; ``(energy given, emptied)`` (an emptying battery gives what it has)."""
        if energy_j < self.left_j:
            self.left_j -= energy_j
            return energy_j, False
        given, self.left_j = self.left_j, 0.0
        return given, True

    def empty(self) -> None:
        self.left_j = 0.0


class PeukertBattery(IdealBattery):
    """Peukert's law: at constant power ``P`` the rated energy drains at ``P^k / P_ref^(k-1)``.

    (At constant power a battery of rated energy ``E = P_ref H`` then lasts
    ``E P_ref^(k-1) / P^k = H (E / (P H))^k``, Peukert's lifetime.) A lump is rated
    energy taken as it is.
    """

    model = "peukert"

    def __init__(self, energy_j: float, k: float, rated_w: float):
        super().__init__(energy_j)
        self.k = k
        self.rated_w = rated_w

    def drain_w(self, power_w: float) -> float:
        if power_w <= 0.0:
            return 0.0
        return power_w ** self.k / self.rated_w ** (self.k - 1.0)


class KineticBattery:
    """The kinetic battery model of Manwell and McGowan, kept as total charge and height difference.

    Wells ``y1`` (available, width ``c``) and ``y2`` (bound, width ``1 - c``) at heights
    ``h1 = y1 / c`` and ``h2 = y2 / (1 - c)``; the load takes ``P`` from ``y1`` and
    ``k (h2 - h1)`` flows from ``y2`` to ``y1``. Write ``y = y1 + y2`` and
    ``delta = h2 - h1``: then ``dy/dt = -P`` and, with ``k' = k / (c (1 - c))``,
    ``d delta/dt = P / c - k' delta``, so at constant power

        y(t) = y - P t,    delta(t) = delta + (P / (c k') - delta) (1 - exp(-k' t)),

    and ``y1 = c (y - (1 - c) delta)``, ``y2 = (1 - c) (y + c delta)``. At rest both
    wells are at the same height (``delta = 0``). ``y1`` is convex in ``t`` while
    ``delta < P / (c k')`` and concave otherwise (it rises, then falls: recovery), and
    at ``t = y / P`` it is ``-c (1 - c) delta(t) <= 0``; Newton's method from ``t = 0``
    (convex) or from ``t = y / P`` (concave) then approaches its one zero from one side.
    """

    model = "kibam"

    def __init__(self, energy_j: float, c: float, k_prime_per_s: float):
        self.c = c
        self.kp = k_prime_per_s
        self.total_j = energy_j
        self.delta_j = 0.0  # h2 - h1 (J per unit well width)

    def available_j(self) -> float:
        return self.c * (self.total_j - (1.0 - self.c) * self.delta_j)

    def bound_j(self) -> float:
        return (1.0 - self.c) * (self.total_j + self.c * self.delta_j)

    def _delta_after(self, power_w: float, t_s: float) -> float:
        steady = power_w / (self.c * self.kp)
        return self.delta_j - (steady - self.delta_j) * math.expm1(-self.kp * t_s)

    def _available_after(self, power_w: float, t_s: float) -> float:
        return self.c * (self.total_j - power_w * t_s - (1.0 - self.c) * self._delta_after(power_w, t_s))

    def _available_slope(self, power_w: float, t_s: float) -> float:
        steady = power_w / (self.c * self.kp)
        return self.c * (-power_w + (1.0 - self.c) * self.kp * (self.delta_j - steady) * math.exp(-self.kp * t_s))

    def spend(self, power_w: float, dt_s: float) -> None:
        self.delta_j = self._delta_after(power_w, dt_s)
        self.total_j -= power_w * dt_s

    def seconds_to_empty(self, power_w: float) -> float:
        if self.available_j() <= 0.0:
            return 0.0
        if power_w <= 0.0:
            return math.inf  # y1 relaxes towards c y > 0
        concave = self.delta_j > power_w / (self.c * self.kp)
        t = self.total_j / power_w if concave else 0.0
        for _ in range(100):
            step = self._available_after(power_w, t) / self._available_slope(power_w, t)
            t -= step
            # quadratic convergence: after a step this small the error left is far below rounding
            # (a tighter test would chase the rounding noise of y1, ~1e-16 y, back and forth)
            if abs(step) <= 1e-11 * t:
                break
        else:  # pragma: no cover
            raise RuntimeError("KiBaM empty instant: Newton did not converge")
        return t

    def draw(self, energy_j: float) -> tuple[float, bool]:
        """Take ``energy_j`` at once from the available well (h1 drops by energy / c)."""
        available = self.available_j()
        if energy_j < available:
            self.total_j -= energy_j
            self.delta_j += energy_j / self.c
            return energy_j, False
        self.empty()
        return available, True

    def empty(self) -> None:
        """The available well at zero, the bound well as it is."""
        bound = self.bound_j()
        self.total_j = bound
        self.delta_j = bound / (1.0 - self.c) if self.c < 1.0 else 0.0


def make_battery(model, d: int):
    """Device ``d``'s battery at t = 0, at rest, from the numbers in ``model``."""
    g = model.dev_group[d]
    kind = BATTERY_MODELS[int(model.grp_battery_model[g])]
    energy_j, a, b = float(model.grp_energy_j[g]), float(model.grp_battery_a[g]), float(model.grp_battery_b[g])
    if kind == "peukert":
        return PeukertBattery(energy_j, k=a, rated_w=b)
    if kind == "kibam":
        return KineticBattery(energy_j, c=a, k_prime_per_s=b)
    return IdealBattery(energy_j)


@dataclass(frozen=True)
class SitePowers:
    """A site's power figures, which the kernel's model does not carry (None: not given)."""

    gpu_idle_w: float | None = None  # one idle GPU server
    gpu_peak_w: float | None = None  # one busy GPU server (linear in between)
    bs_n_trx: int | None = None  # EARTH base station: transceivers,
    bs_p0_w: float | None = None  # power at zero RF output per transceiver,
    bs_delta_p: float | None = None  # slope,
    bs_p_max_w: float | None = None  # and maximum RF output per transceiver


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
    battery: Any  # IdealBattery, PeukertBattery or KineticBattery
    p_idle_w: float
    p_compute_w: float
    p_tx_w: float
    p_rx_w: float
    p_tail_w: float = 0.0
    p_inactive_w: float = 0.0
    rrc_tail_s: float = 0.0
    rrc_inactive_s: float = 0.0
    tx_j_per_bit: float = 0.0
    rx_j_per_bit: float = 0.0
    cpu_queue: deque = field(default_factory=deque)  # tasks waiting for the CPU
    cpu_task: Task | None = None  # task being computed
    n_uplink: int = 0
    n_downlink: int = 0
    rrc: str = "idle"  # "connected" (a transfer is active), "tail", "inactive" or "idle"
    rrc_version: int = 0  # bumped at each RRC change; older timer events are ignored
    energy_j: dict = field(default_factory=lambda: dict.fromkeys(PARTS, 0.0))
    t_energy_s: float = 0.0
    battery_version: int = 0
    depleted: bool = False
    t_depleted_s: float = math.inf
    emptied_by: str = ""  # what drew the last energy: "lump", or the power components then drawn
    ran_local: int = 0  # tasks queued on the CPU, fallbacks included
    offloaded: int = 0  # tasks sent over the uplink
    notes: set = field(default_factory=set)  # things that happened, for the branch-coverage test

    def powers_w(self) -> dict[str, float]:
        """Each power component being drawn now."""
        return {
            "idle": self.p_idle_w,
            "compute": self.p_compute_w if self.cpu_task is not None else 0.0,
            "tx": self.p_tx_w if self.n_uplink > 0 else 0.0,
            # with both directions active the radio's constant power is counted once (the larger)
            "rx": (0.0 if self.n_downlink == 0 else self.p_rx_w if self.n_uplink == 0
                   else max(self.p_rx_w - self.p_tx_w, 0.0)),
            "tail": {"tail": self.p_tail_w, "inactive": self.p_inactive_w}.get(self.rrc, 0.0),
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

    def __init__(self, model, seed: int, duration_s: float, site_powers: list[SitePowers] | None = None):
        m = model
        self.m = m
        self.site_powers = site_powers
        self.duration_s = float(duration_s)
        self.warmup_s = float(m.warmup_s[0])
        self.proportional_fair = bool(m.proportional_fair[0])
        n_dev = len(m.dev_site)
        n_sites = len(m.node_servers)  # the GPU "sites" here are the model's compute nodes
        self.rng_dev = seed_streams(seed, FAMILY_DEVICE, n_dev)
        self.rng_site = seed_streams(seed, FAMILY_SITE, n_sites)

        self.events: list = []
        self.seq = 0
        self.next_task_id = 0
        self.tasks: list[Task] = []
        self.ended: list[Task] = []

        self.sites = [
            Site(
                servers=int(m.node_servers[s]),
                flops_per_s=float(m.node_flops_per_s[s]),
                exponential=bool(m.node_exponential[s]),
                capacity=None if m.node_queue_capacity[s] < 0 else int(m.node_queue_capacity[s]),
                on_full_local=bool(m.node_on_full[s] == engine.ON_FULL_LOCAL),
            )
            for s in range(n_sites)
        ]
        self.devices = [
            Device(
                index=d,
                battery=make_battery(m, d),
                p_idle_w=float(m.grp_power_idle_w[g]),
                p_compute_w=float(m.grp_power_compute_w[g]),
                p_tx_w=float(m.dev_power_tx_w[d]),
                p_rx_w=float(m.grp_power_rx_w[g]),
                p_tail_w=float(m.grp_power_tail_w[g]),
                p_inactive_w=float(m.grp_power_inactive_w[g]),
                rrc_tail_s=float(m.grp_rrc_tail_s[g]),
                rrc_inactive_s=float(m.grp_rrc_inactive_s[g]),
                tx_j_per_bit=float(m.grp_tx_j_per_bit[g]),
                rx_j_per_bit=float(m.grp_rx_j_per_bit[g]),
            )
            for d, g in enumerate(m.dev_group)
        ]
        n_cells = int(max(m.dev_cell)) + 1 if n_dev else 0
        self.links = {(c, direction): Link(direction) for c in range(n_cells) for direction in ("ul", "dl")}

        for d in range(n_dev):
            period_s = 1.0 / float(m.grp_rate_hz[m.dev_group[d]])
            if m.grp_arrival[m.dev_group[d]] == engine.ARR_PERIODIC:
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
        """Add each power component times the time since the last update, and take it from the battery
        (nothing once empty)."""
        if dev.depleted:
            return
        dt = now - dev.t_energy_s
        powers_w = dev.powers_w()
        for part, power_w in powers_w.items():
            dev.energy_j[part] += power_w * dt
        before_j = dev.battery.available_j()
        dev.battery.spend(sum(powers_w.values()), dt)
        if dev.battery.available_j() > before_j:
            dev.notes.add("available charge recovered")
        dev.t_energy_s = now

    def plan_battery(self, dev: Device, now: float) -> None:
        """Schedule the instant the battery empties at the present power (call after each change)."""
        if dev.depleted:
            return
        dev.battery_version += 1
        wait_s = dev.battery.seconds_to_empty(sum(dev.powers_w().values()))
        if wait_s <= 0.0:
            self.on_battery_empty(now, dev, dev.battery_version)
        elif wait_s < math.inf:
            self.schedule(now + wait_s, self.on_battery_empty, dev, dev.battery_version)

    def on_battery_empty(self, now: float, dev: Device, version: int) -> None:
        if version != dev.battery_version or dev.depleted:
            return
        self.accrue_energy(dev, now)
        dev.battery.empty()
        dev.notes.add(f"emptied in RRC {dev.rrc}")
        self.deplete(dev, now, "+".join(part for part, p in dev.powers_w().items() if p > 0.0))

    def deplete(self, dev: Device, now: float, emptied_by: str) -> None:
        dev.depleted = True
        dev.t_depleted_s = now
        dev.emptied_by = emptied_by

    def change_activity(self, dev: Device, now: float, change) -> None:
        """Apply ``change(dev)`` to the device's activity, with the energy brought up to ``now`` first."""
        self.accrue_energy(dev, now)
        change(dev)
        self.plan_battery(dev, now)

    # -- the radio's RRC state: connected, tail, inactive, idle -----------------

    AFTER = {"tail": "inactive", "inactive": "idle"}

    def enter_rrc(self, dev: Device, state: str, now: float) -> None:
        """Put the device's radio in ``state`` (skipping timed states of length 0) and start its timer."""
        length_s = {"tail": dev.rrc_tail_s, "inactive": dev.rrc_inactive_s}
        while state in length_s and length_s[state] <= 0.0:
            state = self.AFTER[state]
        dev.rrc = state
        dev.rrc_version += 1  # cancels the timer of the state left
        if state in length_s:
            self.schedule(now + length_s[state], self.on_rrc_timer, dev, dev.rrc_version)

    def on_rrc_timer(self, now: float, dev: Device, version: int) -> None:
        if version != dev.rrc_version:
            return  # a transfer started since
        self.change_activity(dev, now, lambda dev: self.enter_rrc(dev, self.AFTER[dev.rrc], now))

    # -- arrivals -----------------------------------------------------------

    def on_arrival(self, now: float, d: int) -> None:
        dev = self.devices[d]
        if dev.depleted:
            return  # an empty device generates no more tasks
        rate_hz = float(self.m.grp_rate_hz[self.m.dev_group[d]])
        periodic = self.m.grp_arrival[self.m.dev_group[d]] == engine.ARR_PERIODIC
        gap_s = 1.0 / rate_hz if periodic else exponential(self.rng_dev, d, 1.0 / rate_hz)
        self.schedule(now + gap_s, self.on_arrival, d)

        task = Task(id=self.next_task_id, device=d, t_gen_s=now, counted=now >= self.warmup_s)
        self.next_task_id += 1
        self.tasks.append(task)
        if self.m.dev_offload[d]:
            task.offloaded = True
            dev.offloaded += 1
            self.start_flow(task, "ul", now)
        else:
            self.to_cpu(task, now)

    # -- device CPU: one FIFO server, deterministic service --------------------

    def to_cpu(self, task: Task, now: float) -> None:
        dev = self.devices[task.device]
        task.t_phase_s = now
        dev.ran_local += 1
        dev.cpu_queue.append(task)
        if dev.cpu_task is None:
            self.start_cpu(dev, now)

    def start_cpu(self, dev: Device, now: float) -> None:
        task = dev.cpu_queue.popleft()

        def begin(dev: Device) -> None:
            dev.cpu_task = task

        self.change_activity(dev, now, begin)
        g = self.m.dev_group[dev.index]
        compute_s = self.m.wl_flops[self.m.grp_workload[g]] / self.m.grp_flops_per_s[g]
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
        w = self.m.grp_workload[self.m.dev_group[d]]
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
            if dev.rrc in ("tail", "inactive") and not dev.depleted:
                dev.notes.add(f"transfer started in RRC {dev.rrc}")
            self.enter_rrc(dev, "connected", now)

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
            # the transfer's per-bit energy, at once
            j_per_bit = dev.tx_j_per_bit if link.direction == "ul" else dev.rx_j_per_bit
            if not dev.depleted and flow[2] * j_per_bit > 0.0:
                given_j, emptied = dev.battery.draw(flow[2] * j_per_bit)
                dev.energy_j["tx" if link.direction == "ul" else "rx"] += given_j
                if emptied:
                    self.deplete(dev, now, "lump")
            if dev.n_uplink + dev.n_downlink == 0:
                self.enter_rrc(dev, "tail", now)  # the last transfer ended

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
        s = int(self.m.site_gpu_node[self.m.dev_site[task.device]])
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
        mean_s = self.m.wl_flops[self.m.grp_workload[self.m.dev_group[task.device]]] / site.flops_per_s
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
            "node": np.array([int(self.m.site_gpu_node[self.m.dev_site[t.device]]) if t.offloaded else -1
                              for t in rows], dtype=np.int64),
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
            if any(math.isinf(v) for v in values):
                return math.inf
            return sum(values) / len(values) if values else None

        def ratio(num: float | None, den: float) -> float | None:
            return num / den if num is not None and den > 0 else None

        gpu_sites = [s for s in self.sites if s.servers > 0]
        span_s = self.duration_s - self.warmup_s
        energy = {part: sum(dev.energy_j[part] for dev in self.devices) for part in PARTS}
        device_j = sum(energy.values())
        n_done_all = sum(1 for t in self.tasks if t.outcome == "completed")
        table = self.device_table()
        life_h = sorted(table["battery_life_h"])
        gpu_j, site_j = self.site_energies_j()
        gpu_known = [s for s in range(len(self.sites)) if not math.isnan(gpu_j[s])]
        gpu_total_j = sum(gpu_j[s] for s in gpu_known) if gpu_known else None
        site_total_j = sum(x for x in site_j if not math.isnan(x)) if any(not math.isnan(x) for x in site_j) else None
        network_j = device_j + (gpu_total_j or 0.0) + (site_total_j or 0.0)
        late = sum(1 for t in done if t.t_end_s - t.t_gen_s > deadline[self.m.grp_workload[self.m.dev_group[t.device]]])
        summary = {
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
                                          sum(t.accepted_by_gpu for t in counted)),
            "gpu_utilization_mean": mean(s.busy_area_after_warmup_s / (s.servers * span_s) for s in gpu_sites),
            "gpu_utilization_max": max((s.busy_area_after_warmup_s / (s.servers * span_s) for s in gpu_sites),
                                       default=None),
            "gpu_queue_length_mean": mean(s.queue_area_after_warmup_s / span_s for s in gpu_sites),
            "device_energy_j": device_j,
            **{f"device_energy_{part}_j": value for part, value in energy.items()},
            "device_energy_per_task_j": ratio(device_j, n_done_all),
            "device_energy_active_per_task_j": ratio(energy["compute"] + energy["tx"] + energy["rx"] + energy["tail"],
                                                     n_done_all),
            "device_energy_per_local_task_j": ratio(energy["compute"], sum(dev.ran_local for dev in self.devices)),
            "device_energy_per_offloaded_task_j": ratio(energy["tx"] + energy["rx"] + energy["tail"],
                                                        sum(dev.offloaded for dev in self.devices)),
            "device_power_mean_w": mean(table["power_mean_w"]),
            "battery_life_mean_h": mean(life_h),
            "battery_life_p5_h": life_h[max(math.ceil(0.05 * len(life_h)) - 1, 0)],  # nearest rank
            "battery_life_min_h": life_h[0],
            "devices_depleted": sum(dev.depleted for dev in self.devices),
            "gpu_energy_j": gpu_total_j,
            "gpu_energy_per_inference_j": ratio(gpu_total_j, sum(self.sites[s].served for s in gpu_known))
            if gpu_known else None,
            "site_energy_j": site_total_j,
            "network_energy_j": network_j,
            "network_energy_per_task_j": ratio(network_j, n_done_all),
        }
        # as in summary.json: no value where it is undefined or infinite
        return {key: None if isinstance(v, float) and not math.isfinite(v) else v for key, v in summary.items()}

    def life_s(self, dev: Device) -> float:
        """Battery life: the instant it emptied, or how long a fresh battery of its model lasts at its mean power."""
        if dev.depleted:
            return dev.t_depleted_s
        return make_battery(self.m, dev.index).seconds_to_empty(self.mean_power_w(dev))

    def mean_power_w(self, dev: Device) -> float:
        """Energy drawn over the time the device was alive (0 for no time)."""
        alive_s = dev.t_depleted_s if dev.depleted else self.duration_s
        return sum(dev.energy_j.values()) / alive_s if alive_s > 0.0 else 0.0

    def site_energies_j(self) -> tuple[list[float], list[float]]:
        """Each site's GPU energy (servers x idle power x run + (peak - idle) x busy server-seconds), nan
        where no power is given; base-station energy is nan: the random scenarios use the ideal channel,
        which has no cell load to set a base station's power (the EARTH model is tested in test_energy)."""
        gpu_j, site_j = [], []
        powers = self.site_powers or [SitePowers()] * len(self.sites)
        for site, pw in zip(self.sites, powers, strict=True):
            if site.servers > 0 and pw.gpu_idle_w is not None:
                gpu_j.append(site.servers * pw.gpu_idle_w * self.duration_s
                             + (pw.gpu_peak_w - pw.gpu_idle_w) * site.busy_area_s)
            else:
                gpu_j.append(math.nan)
            site_j.append(math.nan)
        return gpu_j, site_j

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
            "energy_j": np.array([sum(dev.energy_j.values()) for dev in self.devices]),
            **{f"energy_{part}_j": np.array([dev.energy_j[part] for dev in self.devices]) for part in PARTS},
            "tasks_ran_local": np.array([dev.ran_local for dev in self.devices], dtype=np.int64),
            "tasks_offloaded": np.array([dev.offloaded for dev in self.devices], dtype=np.int64),
            "power_mean_w": np.array([self.mean_power_w(dev) for dev in self.devices]),
            "battery_life_h": np.array([self.life_s(dev) / 3600.0 for dev in self.devices]),
            "battery_life_measured": np.array([dev.depleted for dev in self.devices]),
            "depleted": np.array([dev.depleted for dev in self.devices]),
            "depleted_at_s": np.array([dev.t_depleted_s for dev in self.devices]),
        }

    def battery_table(self) -> dict[str, np.ndarray]:
        """Each battery at the end: available charge (y1, 0 once empty) and bound charge (y2, KiBaM only), J."""
        return {
            "model": np.array([dev.battery.model for dev in self.devices], dtype=object),
            "y1_j": np.array([0.0 if dev.depleted else dev.battery.available_j() for dev in self.devices]),
            "y2_j": np.array([dev.battery.bound_j() for dev in self.devices]),
            "emptied_by": np.array([dev.emptied_by for dev in self.devices], dtype=object),
        }

    def site_table(self) -> dict[str, np.ndarray]:
        gpu_j, site_j = self.site_energies_j()
        return {
            "gpu_energy_j": np.array(gpu_j),
            "gpu_energy_per_inference_j": np.array([e / s.served if s.served > 0 else math.nan
                                                    for e, s in zip(gpu_j, self.sites, strict=True)]),
            "site_energy_j": np.array(site_j),
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


def simulate(model, seed: int, duration_s: float, site_powers: list[SitePowers] | None = None
             ) -> ReferenceSimulation:
    """Run the reference model to ``duration_s`` and return it (read its tables)."""
    return ReferenceSimulation(model, seed, duration_s, site_powers).run()
