"""The compiled discrete-event core.

Everything the event loop touches is a preallocated numpy array, grouped in two
named tuples of arrays: :class:`Model` (the scenario turned into numbers, never
written by the kernel) and :class:`State` (everything that changes: the event heap,
task slots, queues, device energy, counters, histogram, random streams). The
kernel :func:`advance` processes events until a given simulated time and returns,
leaving the whole run in ``State``; calling it again continues exactly where it
stopped, so a run split into any number of steps gives bit-identical results.

When an array is full (event heap, task slots, trace buffer) the kernel returns
early with a status code; :mod:`airan.simulation` grows or drains it and calls
again. Memory is therefore bounded by the number of devices plus the tasks in
flight, never by the number of tasks simulated.

Event queue
    A binary min-heap in parallel arrays ordered by (time, sequence number); the
    sequence number makes ties resolve in scheduling order, deterministically.

Task life cycle
    arrival -> local compute -> done, or
    arrival -> uplink -> GPU queue -> GPU service -> downlink -> done.
    A task that finds a full GPU queue is dropped or sent back to run locally.

Shared radio cells
    Every transfer is a flow in a cell's uplink or downlink. The active flows of a
    cell share it by processor sharing: with ``n`` flows each gets ``1/n`` of the
    airtime (``H_n / n`` with proportional fair, see :func:`share_per_flow`),
    and a flow of ``b`` bits needs ``b / R`` seconds of airtime at its device's
    full-cell rate ``R``. Each cell keeps a virtual time ``V`` that grows at the
    share per flow; a flow started at ``V0`` ends when ``V`` reaches
    ``V0 + b / R``. Finishing order in ``V`` does not depend on ``n``, so a start or
    an end re-times all flows exactly by rescheduling one event per cell (events
    made stale by a reschedule are recognised by their sequence number). The
    ``ideal`` channel gives every device a cell of its own.

Device energy
    A device draws its baseline power, plus extra power while its CPU computes
    (a FIFO with deterministic service, busy up to ``dev_cpu_free_s``) and while it
    has an uplink or downlink flow (with both, the radio's constant power is
    counted once: ``max(power_tx_w, power_rx_w)``, booked ``power_tx_w`` to
    transmit and the rest to receive). Those states change only at the device's own
    events, so energy is integrated exactly at each event that concerns the device;
    the battery-empty instant is solved for inside the last interval.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from . import histogram
from ._rng import exponential, uniform
from .battery import BATTERY_IDEAL, battery_draw, battery_segment

# ---------------------------------------------------------------------------
# Codes (int constants: Numba freezes them at compile time)
# ---------------------------------------------------------------------------

EV_ARRIVAL = 0  # index: device
EV_LOCAL_END = 1  # index: task slot
EV_CELL_END = 2  # index: 2 * cell + direction; the cell's earliest flow ends
EV_GPU_END = 3  # index: task slot
_KIND_BITS = 3

UL = 0  # direction rows of the cell and per-device flow arrays
DL = 1

STATUS_DONE = 0
STATUS_GROW_HEAP = 1
STATUS_GROW_TASKS = 2
STATUS_TRACE_FULL = 3

# task flags
F_COUNTED = 1  # generated at or after warm-up: enters the task statistics
F_OFFLOADED = 2  # sent over the uplink
F_FALLBACK = 4  # rejected by a full GPU queue and run locally

# trace outcomes and places
OUT_COMPLETED = 0
OUT_DROPPED_QUEUE_FULL = 1
OUT_DROPPED_BATTERY = 2
RAN_LOCAL = 0
RAN_GPU = 1
RAN_FALLBACK = 2

# int64 counters: State.ints[...]
I_EV_N = 0  # events in the heap
I_SEQ = 1  # next event sequence number
I_FREE = 2  # head of the free task-slot list (-1: none)
I_NEXT_TASK_ID = 3  # tasks generated so far (all), also the next task id
I_TRACE_N = 4  # rows in the trace buffer
I_EVENTS = 5  # events processed
I_GENERATED = 6  # counted tasks (generated at or after warm-up) from here on
I_COMPLETED = 7
I_DROPPED_QUEUE = 8
I_DROPPED_BATTERY = 9
I_LOCAL = 10  # tasks the policy kept on the device
I_OFFLOADED = 11  # tasks the policy offloaded (sent over the uplink; fallbacks included)
I_FALLBACK = 12
I_DEADLINE_MISS = 13  # completed late (drops are added in the summary)
I_N_LOCAL_DONE = 14  # completed tasks with a local phase
I_N_GPU_DONE = 15  # completed tasks served by a GPU (uplink, GPU and downlink phases)
I_N_UPLINK_DONE = 16  # completed tasks with an uplink phase (GPU-served and fallbacks)
I_GPU_ARRIVALS = 17  # counted tasks that reached a GPU site
I_GPU_ENQUEUED = 18  # counted tasks that found all servers busy and waited
I_STALE = 19  # cell events skipped because a later reschedule replaced them
N_INTS = 20

# float64 accumulators: State.sums[...]
S_LATENCY = 0
S_LOCAL = 1
S_UPLINK = 2
S_GPU_WAIT = 3
S_GPU_SERVICE = 4
S_DOWNLINK = 5
S_LATENCY_MIN = 6
S_LATENCY_MAX = 7
N_SUMS = 8

# trace columns
TF_T_GEN, TF_T_END, TF_LOCAL, TF_UPLINK, TF_GPU_WAIT, TF_GPU_SERVICE, TF_DOWNLINK = range(7)
N_TF = 7
TI_TASK, TI_DEVICE, TI_WORKLOAD, TI_SITE, TI_OUTCOME, TI_RAN = range(6)
N_TI = 6


class Model(NamedTuple):
    """The scenario as arrays; read-only for the kernel. Shapes in brackets."""

    # sites [n_sites]
    site_servers: np.ndarray  # int32, GPU servers (0: no GPU)
    site_flops_per_s: np.ndarray  # float64, FLOP/s of one server
    site_exponential: np.ndarray  # bool, exponential service times (else deterministic)
    site_queue_capacity: np.ndarray  # int64, max waiting tasks (-1: unlimited)
    site_on_full_local: np.ndarray  # bool, a full queue sends the task back to its device (else drops it)
    # devices [n_devices]
    dev_site: np.ndarray  # int32, serving site index
    dev_workload: np.ndarray  # int32, workload index
    dev_periodic: np.ndarray  # bool, periodic arrivals (else Poisson)
    dev_rate_hz: np.ndarray  # float64, task arrival rate, 1/s
    dev_offload: np.ndarray  # bool, the policy sends this device's tasks to its site's GPU
    dev_flops_per_s: np.ndarray  # float64, local compute throughput, FLOP/s
    dev_power_idle_w: np.ndarray  # float64, baseline power, W
    dev_power_compute_w: np.ndarray  # float64, extra power while computing, W
    dev_power_tx_w: np.ndarray  # float64, extra power while transmitting, W
    dev_power_rx_w: np.ndarray  # float64, extra power while receiving, W
    dev_energy_j: np.ndarray  # float64, battery energy at t = 0, J
    dev_battery_model: np.ndarray  # int8, airan.battery.BATTERY_* (ideal, Peukert, KiBaM)
    dev_battery_a: np.ndarray  # float64, Peukert exponent k, or KiBaM c
    dev_battery_b: np.ndarray  # float64, Peukert reference power (W), or KiBaM k' (1/s)
    dev_power_tail_w: np.ndarray  # float64, extra power in the RRC connected tail, W
    dev_power_inactive_w: np.ndarray  # float64, extra power in RRC inactive, W
    dev_rrc_tail_s: np.ndarray  # float64, connected tail after the last transfer, s
    dev_rrc_inactive_s: np.ndarray  # float64, time in RRC inactive before idle, s
    dev_has_tail: np.ndarray  # bool, the device spends energy in RRC tail or inactive states
    dev_tx_j_per_bit: np.ndarray  # float64, throughput-proportional transmit energy, J/bit
    dev_rx_j_per_bit: np.ndarray  # float64, throughput-proportional receive energy, J/bit
    dev_uplink_bps: np.ndarray  # float64, uplink rate when alone in its cell, bit/s
    dev_downlink_bps: np.ndarray  # float64, downlink rate when alone in its cell, bit/s
    dev_cell: np.ndarray  # int32, radio cell whose uplink and downlink the device shares
    # workloads [n_workloads]
    wl_flops: np.ndarray  # float64, FLOP per task
    wl_input_bits: np.ndarray  # float64, uplink bits per task
    wl_output_bits: np.ndarray  # float64, downlink bits per task
    wl_deadline_s: np.ndarray  # float64, deadline, s
    # run [1]
    warmup_s: np.ndarray  # float64[1], tasks generated earlier are not counted, s
    proportional_fair: np.ndarray  # bool[1], cells share by proportional fair (else equal airtime)


class State(NamedTuple):
    """Everything that changes during a run. Shapes in brackets."""

    # event heap [heap_capacity], ordered by (time, seq)
    ev_time: np.ndarray  # float64, s
    ev_seq: np.ndarray  # int64, scheduling order (tie-break)
    ev_payload: np.ndarray  # int64, index << _KIND_BITS | kind (index: device or task slot)
    # task slots [task_capacity]
    task_id: np.ndarray  # int64, generation order over the run
    task_dev: np.ndarray  # int32, device
    task_flags: np.ndarray  # int8, F_* bits
    task_next: np.ndarray  # int32, next slot in a GPU queue or in the free list (-1: none)
    task_t_gen_s: np.ndarray  # float64, generation time, s
    task_t_mark_s: np.ndarray  # float64, start of the current phase, s
    task_local_s: np.ndarray  # float64, local wait + compute, s
    task_uplink_s: np.ndarray  # float64, uplink wait + transfer, s
    task_gpu_wait_s: np.ndarray  # float64, GPU queueing delay, s
    task_gpu_service_s: np.ndarray  # float64, GPU service, s
    task_vfinish_s: np.ndarray  # float64, cell virtual time at which the task's flow ends, s
    # sites [n_sites]
    site_busy: np.ndarray  # int32, servers busy
    site_q_head: np.ndarray  # int32, first waiting task slot (-1: empty)
    site_q_tail: np.ndarray  # int32, last waiting task slot
    site_q_len: np.ndarray  # int64, waiting tasks
    site_t_last_s: np.ndarray  # float64, time of the last busy/queue change, s
    site_busy_area_s: np.ndarray  # float64, integral of busy servers over time, server*s
    site_queue_area_s: np.ndarray  # float64, integral of queue length over time, task*s
    site_served: np.ndarray  # int64, services started (all tasks)
    site_rejected: np.ndarray  # int64, tasks that found the queue full (all tasks)
    # cells [2, n_cells]: row UL, row DL
    cell_flows: np.ndarray  # int64, active flows
    cell_head: np.ndarray  # int32, first active flow (task slot; list through task_next; -1: none)
    cell_vtime_s: np.ndarray  # float64, virtual time: airtime received by each active flow, s
    cell_vmin_s: np.ndarray  # float64, smallest virtual finish time among the active flows, s
    cell_t_last_s: np.ndarray  # float64, time the virtual time was last advanced, s
    cell_event_seq: np.ndarray  # int64, sequence number of the valid end event (-1: none)
    cell_busy_s: np.ndarray  # float64, time with at least one active flow, s
    cell_bits: np.ndarray  # float64, bits carried, bit
    # devices [n_devices]
    dev_cpu_free_s: np.ndarray  # float64, CPU busy until, s
    dev_flows: np.ndarray  # int32[2, n_devices], active uplink / downlink flows
    dev_bits: np.ndarray  # float64[2, n_devices], bits sent / received, bit
    dev_flow_s: np.ndarray  # float64[2, n_devices], summed duration of finished flows, s
    dev_t_energy_s: np.ndarray  # float64, energy integrated up to this time, s
    dev_e_idle_j: np.ndarray  # float64, baseline energy, J
    dev_e_compute_j: np.ndarray  # float64, local compute energy, J
    dev_e_tx_j: np.ndarray  # float64, transmit energy, J
    dev_e_rx_j: np.ndarray  # float64, receive energy, J
    dev_e_tail_j: np.ndarray  # float64, RRC tail and inactive energy, J
    dev_battery_y1: np.ndarray  # float64, available energy (KiBaM available well), J
    dev_battery_y2: np.ndarray  # float64, KiBaM bound well (0 for the other models), J
    dev_radio_idle_since_s: np.ndarray  # float64, end of the last transfer (-inf: none yet), s
    dev_depleted: np.ndarray  # bool, battery empty
    dev_t_depleted_s: np.ndarray  # float64, time the battery emptied (inf: not), s
    dev_generated: np.ndarray  # int64, tasks generated (all)
    dev_completed: np.ndarray  # int64, tasks completed (all)
    dev_dropped: np.ndarray  # int64, tasks dropped (all)
    dev_ran_local: np.ndarray  # int64, tasks run on the device's CPU, fallbacks included (all)
    dev_offloaded: np.ndarray  # int64, tasks sent over the uplink (all)
    dev_latency_sum_s: np.ndarray  # float64, summed latency of completed tasks (all), s
    # random streams
    rng_dev: np.ndarray  # uint64[n_devices, 4], one stream per device (arrivals)
    rng_site: np.ndarray  # uint64[n_sites, 4], one stream per site (service times)
    # statistics
    ints: np.ndarray  # int64[N_INTS], see I_*
    sums: np.ndarray  # float64[N_SUMS], see S_*
    hist: np.ndarray  # int64[histogram.N_BINS + 2], latency histogram of counted completed tasks
    # per-task trace buffer (size 0 when tracing is off)
    trace_f: np.ndarray  # float64[trace_capacity, N_TF], times in s
    trace_i: np.ndarray  # int64[trace_capacity, N_TI]


# ---------------------------------------------------------------------------
# Performance note
#
# Numba increments and decrements the reference count of every array inside a
# tuple wherever its reference-count pruning gives up (calls, some branches), so
# passing the whole Model or State around costs about 0.5-1 us each time. The
# event loop therefore unpacks the arrays it needs into local variables once per
# call, and the helpers take only a few arrays (heap, random streams) or scalars
# (energy maths). The heap's push and pop are inlined into the loop (Numba IR
# inlining): about 5 % more events per second for about 5 s more compile time.
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# Event heap
# ---------------------------------------------------------------------------


@njit(inline="always")
def _push(ev_time, ev_seq, ev_payload, ints, time_s, kind, index):
    """Insert an event; ties in time keep scheduling order. Returns its sequence number."""
    n = ints[I_EV_N]
    seq = ints[I_SEQ]
    payload = (np.int64(index) << _KIND_BITS) | kind
    ints[I_SEQ] = seq + 1
    ints[I_EV_N] = n + 1
    while n > 0:
        parent = (n - 1) >> 1
        tp = ev_time[parent]
        if tp < time_s or (tp == time_s and ev_seq[parent] < seq):
            break
        ev_time[n] = tp
        ev_seq[n] = ev_seq[parent]
        ev_payload[n] = ev_payload[parent]
        n = parent
    ev_time[n] = time_s
    ev_seq[n] = seq
    ev_payload[n] = payload
    return seq


@njit(inline="always")
def _pop(ev_time, ev_seq, ev_payload, ints):
    """Remove the earliest event; returns (time_s, kind, index, seq)."""
    time_s = ev_time[0]
    payload = ev_payload[0]
    seq0 = ev_seq[0]
    n = ints[I_EV_N] - 1
    ints[I_EV_N] = n
    if n > 0:
        # sift the last element down from the root
        t_last = ev_time[n]
        q_last = ev_seq[n]
        p_last = ev_payload[n]
        i = 0
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            right = child + 1
            if right < n:
                tr = ev_time[right]
                tc = ev_time[child]
                if tr < tc or (tr == tc and ev_seq[right] < ev_seq[child]):
                    child = right
            tc = ev_time[child]
            if t_last < tc or (t_last == tc and q_last < ev_seq[child]):
                break
            ev_time[i] = tc
            ev_seq[i] = ev_seq[child]
            ev_payload[i] = ev_payload[child]
            i = child
        ev_time[i] = t_last
        ev_seq[i] = q_last
        ev_payload[i] = p_last
    return time_s, payload & ((1 << _KIND_BITS) - 1), payload >> _KIND_BITS, seq0


# ---------------------------------------------------------------------------
# Device energy and battery
# ---------------------------------------------------------------------------


@njit
def _clip(x, hi):
    return min(max(x, 0.0), hi)


@njit
def _device_energy(t0, now, cpu_free_s, ul_active, dl_active, idle_since_s, p_idle, p_compute, p_tx, p_rx,
                   p_tail, p_inactive, tail_s, inactive_s, model, a, b, y1, y2):
    """One device's energy from ``t0`` to ``now``, stopping where its battery empties.

    Between two events of a device its state changes only at known instants: the
    CPU goes idle at ``cpu_free_s``; with no transfer active, the RRC connected tail
    ends ``tail_s`` after the last transfer and RRC inactive ``inactive_s`` later.
    Power is constant between those breakpoints (baseline, plus compute, transmit,
    receive, tail or inactive power), so the interval is walked segment by segment
    through the battery model (:mod:`airan.battery`) and the instant the battery
    empties is found inside its segment.

    Returns
    -------
    (dt, cpu_s, ul_s, dl_s, tail_s, inactive_s, y1, y2, empty): the accounted time
    (s, shorter than ``now - t0`` if the battery emptied), the busy time of each
    state within it (s), and the battery's wells afterwards.
    """
    dt = now - t0
    c = _clip(cpu_free_s - t0, dt)
    u = dt if ul_active else 0.0
    r = dt if dl_active else 0.0
    ta = 0.0
    ia = 0.0
    if not ul_active and not dl_active:
        ta = _clip(idle_since_s + tail_s - t0, dt)
        ia = _clip(idle_since_s + tail_s + inactive_s - t0, dt)
    # the breakpoints c, ta, ia (sorted) and dt
    b0, b1, b2 = c, ta, ia
    if b0 > b1:
        b0, b1 = b1, b0
    if b1 > b2:
        b1, b2 = b2, b1
    if b0 > b1:
        b0, b1 = b1, b0
    prev = 0.0
    for k in range(4):
        end = dt
        if k == 0:
            end = b0
        elif k == 1:
            end = b1
        elif k == 2:
            end = b2
        if end <= prev:
            continue
        mid = 0.5 * (prev + end)
        power = p_idle + p_tx * (u > 0.0) + p_rx * (r > 0.0)
        if mid < c:
            power += p_compute
        if mid < ta:
            power += p_tail
        elif mid < ia:
            power += p_inactive
        y1, y2, t_empty = battery_segment(model, a, b, y1, y2, power, end - prev)
        if t_empty >= 0.0:
            x = prev + t_empty
            return x, min(c, x), min(u, x), min(r, x), min(ta, x), max(min(ia, x) - ta, 0.0), y1, y2, True
        prev = end
    return dt, c, u, r, ta, max(ia - ta, 0.0), y1, y2, False


# ---------------------------------------------------------------------------
# Shared cells
# ---------------------------------------------------------------------------


@njit
def share_per_flow(n_flows, proportional_fair):
    """Airtime rate of each of ``n_flows`` active flows in a cell (virtual time per second).

    Equal airtime (round robin, processor sharing): ``1 / n``. Proportional fair
    over i.i.d. Rayleigh-faded links: ``H_n / n`` with ``H_n = sum_{k<=n} 1/k``, the
    multi-user diversity gain of scheduling each slot to the user at the highest
    rate relative to its mean (J.-G. Choi and S. Bahk, "Cell-throughput analysis
    of the proportional fair scheduler in the single-cell environment", IEEE
    Trans. Veh. Technol. 56(2), 2007; exact for exponential SNR at high SNR).
    """
    if n_flows <= 1:  # callers use 1.0 directly for a lone flow (the common case)
        return 1.0
    if not proportional_fair:
        return 1.0 / n_flows
    harmonic = 0.0
    for k in range(1, n_flows + 1):
        harmonic += 1.0 / k
    return harmonic / n_flows


# ---------------------------------------------------------------------------
# The event loop
# ---------------------------------------------------------------------------


@njit(cache=True)
def advance(m, st, until_s):
    """Process every event with time < ``until_s``; return a STATUS_* code.

    Returns early (not STATUS_DONE) when the heap, the task slots or the trace
    buffer has no room for the next event; the caller makes room and calls again.
    """
    until_s = np.float64(until_s)
    # -- unpack (see the performance note above) ------------------------------
    site_servers = m.site_servers
    site_flops_per_s = m.site_flops_per_s
    site_exponential = m.site_exponential
    site_queue_capacity = m.site_queue_capacity
    site_on_full_local = m.site_on_full_local
    dev_site = m.dev_site
    dev_workload = m.dev_workload
    dev_periodic = m.dev_periodic
    dev_rate_hz = m.dev_rate_hz
    dev_offload = m.dev_offload
    dev_flops_per_s = m.dev_flops_per_s
    dev_power_idle_w = m.dev_power_idle_w
    dev_power_compute_w = m.dev_power_compute_w
    dev_power_tx_w = m.dev_power_tx_w
    dev_power_rx_w = m.dev_power_rx_w
    dev_battery_model = m.dev_battery_model
    dev_battery_a = m.dev_battery_a
    dev_battery_b = m.dev_battery_b
    dev_power_tail_w = m.dev_power_tail_w
    dev_power_inactive_w = m.dev_power_inactive_w
    dev_rrc_tail_s = m.dev_rrc_tail_s
    dev_rrc_inactive_s = m.dev_rrc_inactive_s
    dev_has_tail = m.dev_has_tail
    dev_tx_j_per_bit = m.dev_tx_j_per_bit
    dev_rx_j_per_bit = m.dev_rx_j_per_bit
    dev_uplink_bps = m.dev_uplink_bps
    dev_downlink_bps = m.dev_downlink_bps
    dev_cell = m.dev_cell
    wl_flops = m.wl_flops
    wl_input_bits = m.wl_input_bits
    wl_output_bits = m.wl_output_bits
    wl_deadline_s = m.wl_deadline_s
    warmup_s = m.warmup_s[0]
    pf = m.proportional_fair[0]

    ev_time = st.ev_time
    ev_seq = st.ev_seq
    ev_payload = st.ev_payload
    task_id = st.task_id
    task_dev = st.task_dev
    task_flags = st.task_flags
    task_next = st.task_next
    task_t_gen_s = st.task_t_gen_s
    task_t_mark_s = st.task_t_mark_s
    task_local_s = st.task_local_s
    task_uplink_s = st.task_uplink_s
    task_gpu_wait_s = st.task_gpu_wait_s
    task_gpu_service_s = st.task_gpu_service_s
    task_vfinish_s = st.task_vfinish_s
    site_busy = st.site_busy
    site_q_head = st.site_q_head
    site_q_tail = st.site_q_tail
    site_q_len = st.site_q_len
    site_t_last_s = st.site_t_last_s
    site_busy_area_s = st.site_busy_area_s
    site_queue_area_s = st.site_queue_area_s
    site_served = st.site_served
    site_rejected = st.site_rejected
    cell_flows = st.cell_flows
    cell_head = st.cell_head
    cell_vtime_s = st.cell_vtime_s
    cell_vmin_s = st.cell_vmin_s
    cell_t_last_s = st.cell_t_last_s
    cell_event_seq = st.cell_event_seq
    cell_busy_s = st.cell_busy_s
    cell_bits = st.cell_bits
    dev_cpu_free_s = st.dev_cpu_free_s
    dev_flows = st.dev_flows
    dev_bits = st.dev_bits
    dev_flow_s = st.dev_flow_s
    dev_t_energy_s = st.dev_t_energy_s
    dev_e_idle_j = st.dev_e_idle_j
    dev_e_compute_j = st.dev_e_compute_j
    dev_e_tx_j = st.dev_e_tx_j
    dev_e_rx_j = st.dev_e_rx_j
    dev_e_tail_j = st.dev_e_tail_j
    dev_battery_y1 = st.dev_battery_y1
    dev_battery_y2 = st.dev_battery_y2
    dev_radio_idle_since_s = st.dev_radio_idle_since_s
    dev_depleted = st.dev_depleted
    dev_t_depleted_s = st.dev_t_depleted_s
    dev_generated = st.dev_generated
    dev_completed = st.dev_completed
    dev_dropped = st.dev_dropped
    dev_ran_local = st.dev_ran_local
    dev_offloaded = st.dev_offloaded
    dev_latency_sum_s = st.dev_latency_sum_s
    rng_dev = st.rng_dev
    rng_site = st.rng_site
    ints = st.ints
    sums = st.sums
    hist = st.hist
    trace_f = st.trace_f
    trace_i = st.trace_i
    trace_capacity = trace_f.shape[0]
    heap_room = ev_time.shape[0] - 2

    while ints[I_EV_N] > 0:
        if ev_time[0] >= until_s:
            break
        # room for the worst case of one event: two pushes, one new task, one trace row
        if ints[I_EV_N] > heap_room:
            return STATUS_GROW_HEAP
        if ints[I_FREE] < 0:
            return STATUS_GROW_TASKS
        if trace_capacity > 0 and ints[I_TRACE_N] >= trace_capacity:
            return STATUS_TRACE_FULL
        now, kind, index, seq = _pop(ev_time, ev_seq, ev_payload, ints)
        k = index  # task slot (for every kind but arrivals)
        d = index
        direction = 0
        c = 0
        if kind == EV_CELL_END:
            direction = index & 1
            c = index >> 1
            if seq != cell_event_seq[direction, c]:
                ints[I_STALE] += 1
                continue  # replaced by a later reschedule of this cell
            # the flow with the smallest virtual finish time ends now
            k = -1
            prev = -1
            k_prev = -1
            vbest = np.inf
            j = cell_head[direction, c]
            while j >= 0:
                if task_vfinish_s[j] < vbest:
                    vbest = task_vfinish_s[j]
                    k = j
                    k_prev = prev
                prev = j
                j = task_next[j]
        ints[I_EVENTS] += 1
        if kind != EV_ARRIVAL:
            d = task_dev[k]

        # -- the device's energy up to now; is its battery still alive? -------
        alive = not dev_depleted[d]
        t0 = dev_t_energy_s[d]
        if alive and now > t0:
            ul_active = dev_flows[UL, d] > 0
            dl_active = dev_flows[DL, d] > 0
            dt = now - t0
            busy_cpu = min(max(dev_cpu_free_s[d] - t0, 0.0), dt)
            busy_ul = dt if ul_active else 0.0
            busy_dl = dt if dl_active else 0.0
            busy_tail = 0.0
            busy_inactive = 0.0
            e_tail = 0.0
            if dev_has_tail[d] and not ul_active and not dl_active:
                tail_end = dev_radio_idle_since_s[d] + dev_rrc_tail_s[d]
                busy_tail = min(max(tail_end - t0, 0.0), dt)
                busy_inactive = min(max(tail_end + dev_rrc_inactive_s[d] - t0, 0.0), dt) - busy_tail
                e_tail = dev_power_tail_w[d] * busy_tail + dev_power_inactive_w[d] * busy_inactive
            p_rx = dev_power_rx_w[d]
            if ul_active and dl_active:  # the radio's constant power is counted once
                p_rx = max(p_rx - dev_power_tx_w[d], 0.0)
            e_idle = dev_power_idle_w[d] * dt
            e_compute = dev_power_compute_w[d] * busy_cpu
            e_tx = dev_power_tx_w[d] * busy_ul
            e_rx = p_rx * busy_dl
            empty = False
            total = e_idle + e_compute + e_tx + e_rx + e_tail
            if dev_battery_model[d] == BATTERY_IDEAL and total < dev_battery_y1[d]:
                dev_battery_y1[d] -= total  # the common case inline: the battery outlasts the interval
            else:
                dt, busy_cpu, busy_ul, busy_dl, busy_tail, busy_inactive, y1, y2, empty = _device_energy(
                    t0, now, dev_cpu_free_s[d], ul_active, dl_active, dev_radio_idle_since_s[d],
                    dev_power_idle_w[d], dev_power_compute_w[d], dev_power_tx_w[d], p_rx,
                    dev_power_tail_w[d], dev_power_inactive_w[d], dev_rrc_tail_s[d], dev_rrc_inactive_s[d],
                    dev_battery_model[d], dev_battery_a[d], dev_battery_b[d], dev_battery_y1[d], dev_battery_y2[d],
                )
                dev_battery_y1[d] = y1
                dev_battery_y2[d] = y2
                e_idle = dev_power_idle_w[d] * dt
                e_compute = dev_power_compute_w[d] * busy_cpu
                e_tx = dev_power_tx_w[d] * busy_ul
                e_rx = p_rx * busy_dl
                e_tail = dev_power_tail_w[d] * busy_tail + dev_power_inactive_w[d] * busy_inactive
            dev_e_idle_j[d] += e_idle
            dev_e_compute_j[d] += e_compute
            dev_e_tx_j[d] += e_tx
            dev_e_rx_j[d] += e_rx
            dev_e_tail_j[d] += e_tail
            dev_t_energy_s[d] = t0 + dt
            if empty:
                dev_depleted[d] = True
                dev_t_depleted_s[d] = t0 + dt
                alive = False

        outcome = -1  # OUT_* once the task ends in this event
        downlink_s = 0.0
        to_local = False  # the task goes to the device's CPU queue
        site = -1  # a site whose queue may now be served
        flow_direction = -1  # the task starts a flow in this direction

        if kind == EV_CELL_END:
            # -- a flow ends: take it out of its cell, re-time the others -----
            n_before = cell_flows[direction, c]
            share = 1.0 if n_before == 1 else share_per_flow(n_before, pf)
            cell_vtime_s[direction, c] += share * (now - cell_t_last_s[direction, c])
            cell_busy_s[direction, c] += now - cell_t_last_s[direction, c]
            cell_t_last_s[direction, c] = now
            if k_prev < 0:
                cell_head[direction, c] = task_next[k]
            else:
                task_next[k_prev] = task_next[k]
            task_next[k] = -1
            cell_flows[direction, c] -= 1
            dev_flows[direction, d] -= 1
            bits = wl_input_bits[dev_workload[d]] if direction == UL else wl_output_bits[dev_workload[d]]
            if alive:
                # throughput-proportional radio energy, drawn when the transfer completes
                lump = bits * (dev_tx_j_per_bit[d] if direction == UL else dev_rx_j_per_bit[d])
                if lump > 0.0:
                    drawn = min(lump, dev_battery_y1[d])  # an emptying battery gives what it has left
                    if direction == UL:
                        dev_e_tx_j[d] += drawn
                    else:
                        dev_e_rx_j[d] += drawn
                    y1, y2, emptied = battery_draw(dev_battery_model[d], dev_battery_y1[d], dev_battery_y2[d], lump)
                    dev_battery_y1[d] = y1
                    dev_battery_y2[d] = y2
                    if emptied:
                        dev_depleted[d] = True
                        dev_t_depleted_s[d] = now
                        alive = False
            if dev_flows[UL, d] + dev_flows[DL, d] == 0:
                dev_radio_idle_since_s[d] = now  # the RRC tail starts
            cell_bits[direction, c] += bits
            dev_bits[direction, d] += bits
            dev_flow_s[direction, d] += now - task_t_mark_s[k]
            n_left = cell_flows[direction, c]
            if n_left > 0:
                vmin = np.inf
                j = cell_head[direction, c]
                while j >= 0:
                    vmin = min(vmin, task_vfinish_s[j])
                    j = task_next[j]
                cell_vmin_s[direction, c] = vmin
                share = 1.0 if n_left == 1 else share_per_flow(n_left, pf)
                wait = max(vmin - cell_vtime_s[direction, c], 0.0) / share
                cell_event_seq[direction, c] = _push(
                    ev_time, ev_seq, ev_payload, ints, now + wait, EV_CELL_END, 2 * c + direction)
            else:
                cell_vmin_s[direction, c] = np.inf
                cell_event_seq[direction, c] = -1

            # the transfer's time counts whether or not the device is still alive
            if direction == DL:
                downlink_s = now - task_t_mark_s[k]
            else:
                task_uplink_s[k] = now - task_t_mark_s[k]
            if not alive:
                outcome = OUT_DROPPED_BATTERY
            elif direction == DL:
                outcome = OUT_COMPLETED
            else:
                # -- uplink done: join the site's FIFO, or meet a full queue --
                s = dev_site[d]
                task_t_mark_s[k] = now
                counted = (task_flags[k] & F_COUNTED) != 0
                if counted:
                    ints[I_GPU_ARRIVALS] += 1
                if site_busy[s] < site_servers[s]:
                    site = s
                elif site_queue_capacity[s] < 0 or site_q_len[s] < site_queue_capacity[s]:
                    site = s
                    if counted:
                        ints[I_GPU_ENQUEUED] += 1
                else:
                    site_rejected[s] += 1
                    if site_on_full_local[s]:
                        task_flags[k] |= F_FALLBACK
                        if counted:
                            ints[I_FALLBACK] += 1
                        to_local = True
                    else:
                        outcome = OUT_DROPPED_QUEUE_FULL
                if site >= 0:
                    # integrals up to now, then append to the FIFO (served below)
                    dt_site = now - site_t_last_s[s]
                    site_busy_area_s[s] += site_busy[s] * dt_site
                    site_queue_area_s[s] += site_q_len[s] * dt_site
                    site_t_last_s[s] = now
                    if site_q_len[s] == 0:
                        site_q_head[s] = k
                    else:
                        task_next[site_q_tail[s]] = k
                    site_q_tail[s] = k
                    task_next[k] = -1
                    site_q_len[s] += 1

        elif kind == EV_ARRIVAL:
            # -- arrival: next arrival, new task, local or uplink -------------
            if not alive:
                continue  # an empty battery generates no more tasks
            rate = dev_rate_hz[d]
            gap = 1.0 / rate if dev_periodic[d] else exponential(rng_dev, d, 1.0 / rate)
            _push(ev_time, ev_seq, ev_payload, ints, now + gap, EV_ARRIVAL, d)
            k = ints[I_FREE]
            ints[I_FREE] = task_next[k]
            task_next[k] = -1
            task_id[k] = ints[I_NEXT_TASK_ID]
            ints[I_NEXT_TASK_ID] += 1
            task_dev[k] = d
            task_t_gen_s[k] = now
            task_t_mark_s[k] = now
            task_local_s[k] = 0.0
            task_uplink_s[k] = 0.0
            task_gpu_wait_s[k] = 0.0
            task_gpu_service_s[k] = 0.0
            dev_generated[d] += 1
            flags = 0
            if now >= warmup_s:
                flags = F_COUNTED
                ints[I_GENERATED] += 1
            if dev_offload[d]:
                flags |= F_OFFLOADED
                if flags & F_COUNTED:
                    ints[I_OFFLOADED] += 1
                dev_offloaded[d] += 1
                flow_direction = UL
            else:
                if flags & F_COUNTED:
                    ints[I_LOCAL] += 1
                to_local = True
            task_flags[k] = flags

        elif kind == EV_GPU_END:
            # -- service done: free the server, start the downlink ------------
            s = dev_site[d]
            dt_site = now - site_t_last_s[s]
            site_busy_area_s[s] += site_busy[s] * dt_site
            site_queue_area_s[s] += site_q_len[s] * dt_site
            site_t_last_s[s] = now
            site_busy[s] -= 1
            site = s
            if not alive:
                outcome = OUT_DROPPED_BATTERY
            else:
                flow_direction = DL

        else:  # EV_LOCAL_END
            outcome = OUT_COMPLETED if alive else OUT_DROPPED_BATTERY

        # -- a new flow joins the device's cell --------------------------------
        if flow_direction >= 0:
            c = dev_cell[d]
            w = dev_workload[d]
            if flow_direction == UL:
                airtime = wl_input_bits[w] / dev_uplink_bps[d]
            else:
                airtime = wl_output_bits[w] / dev_downlink_bps[d]
            n_now = cell_flows[flow_direction, c]
            if n_now > 0:
                share = 1.0 if n_now == 1 else share_per_flow(n_now, pf)
                cell_vtime_s[flow_direction, c] += share * (now - cell_t_last_s[flow_direction, c])
                cell_busy_s[flow_direction, c] += now - cell_t_last_s[flow_direction, c]
            else:
                cell_vmin_s[flow_direction, c] = np.inf
            cell_t_last_s[flow_direction, c] = now
            vfinish = cell_vtime_s[flow_direction, c] + airtime
            task_vfinish_s[k] = vfinish
            task_t_mark_s[k] = now
            task_next[k] = cell_head[flow_direction, c]
            cell_head[flow_direction, c] = k
            cell_flows[flow_direction, c] = n_now + 1
            dev_flows[flow_direction, d] += 1
            vmin = min(cell_vmin_s[flow_direction, c], vfinish)
            cell_vmin_s[flow_direction, c] = vmin
            share = 1.0 if n_now == 0 else share_per_flow(n_now + 1, pf)
            wait = max(vmin - cell_vtime_s[flow_direction, c], 0.0) / share
            cell_event_seq[flow_direction, c] = _push(
                ev_time, ev_seq, ev_payload, ints, now + wait, EV_CELL_END, 2 * c + flow_direction)

        # -- a site with a free server serves the head of its FIFO ------------
        if site >= 0:
            while site_busy[site] < site_servers[site] and site_q_len[site] > 0:
                j = site_q_head[site]
                site_q_head[site] = task_next[j]
                task_next[j] = -1
                site_q_len[site] -= 1
                site_busy[site] += 1
                site_served[site] += 1
                task_gpu_wait_s[j] = now - task_t_mark_s[j]
                mean = wl_flops[dev_workload[task_dev[j]]] / site_flops_per_s[site]
                service = exponential(rng_site, site, mean) if site_exponential[site] else mean
                task_gpu_service_s[j] = service
                _push(ev_time, ev_seq, ev_payload, ints, now + service, EV_GPU_END, j)

        # -- the task joins its device's CPU queue (FIFO, deterministic) ------
        if to_local:
            start = max(now, dev_cpu_free_s[d])
            end = start + wl_flops[dev_workload[d]] / dev_flops_per_s[d]
            dev_cpu_free_s[d] = end
            task_local_s[k] = end - now
            dev_ran_local[d] += 1
            _push(ev_time, ev_seq, ev_payload, ints, end, EV_LOCAL_END, k)

        # -- the task ended: statistics, trace row, free slot -----------------
        if outcome >= 0:
            flags = task_flags[k]
            if outcome == OUT_COMPLETED:
                latency = now - task_t_gen_s[k]
                dev_completed[d] += 1
                dev_latency_sum_s[d] += latency
                if flags & F_COUNTED:
                    ints[I_COMPLETED] += 1
                    sums[S_LATENCY] += latency
                    sums[S_LATENCY_MIN] = min(sums[S_LATENCY_MIN], latency)
                    sums[S_LATENCY_MAX] = max(sums[S_LATENCY_MAX], latency)
                    hist[histogram.bin_index(latency)] += 1
                    if latency > wl_deadline_s[dev_workload[d]]:
                        ints[I_DEADLINE_MISS] += 1
                    if flags & F_OFFLOADED:
                        ints[I_N_UPLINK_DONE] += 1
                        sums[S_UPLINK] += task_uplink_s[k]
                    if (flags & F_OFFLOADED) != 0 and (flags & F_FALLBACK) == 0:
                        ints[I_N_GPU_DONE] += 1
                        sums[S_GPU_WAIT] += task_gpu_wait_s[k]
                        sums[S_GPU_SERVICE] += task_gpu_service_s[k]
                        sums[S_DOWNLINK] += downlink_s
                    else:
                        ints[I_N_LOCAL_DONE] += 1
                        sums[S_LOCAL] += task_local_s[k]
            else:
                dev_dropped[d] += 1
                if flags & F_COUNTED:
                    if outcome == OUT_DROPPED_QUEUE_FULL:
                        ints[I_DROPPED_QUEUE] += 1
                    else:
                        ints[I_DROPPED_BATTERY] += 1
            if trace_capacity > 0:
                n = ints[I_TRACE_N]
                trace_f[n, TF_T_GEN] = task_t_gen_s[k]
                trace_f[n, TF_T_END] = now
                trace_f[n, TF_LOCAL] = task_local_s[k]
                trace_f[n, TF_UPLINK] = task_uplink_s[k]
                trace_f[n, TF_GPU_WAIT] = task_gpu_wait_s[k]
                trace_f[n, TF_GPU_SERVICE] = task_gpu_service_s[k]
                trace_f[n, TF_DOWNLINK] = downlink_s
                trace_i[n, TI_TASK] = task_id[k]
                trace_i[n, TI_DEVICE] = d
                trace_i[n, TI_WORKLOAD] = dev_workload[d]
                trace_i[n, TI_SITE] = dev_site[d] if flags & F_OFFLOADED else -1
                trace_i[n, TI_OUTCOME] = outcome
                if flags & F_FALLBACK:
                    trace_i[n, TI_RAN] = RAN_FALLBACK
                elif flags & F_OFFLOADED:
                    trace_i[n, TI_RAN] = RAN_GPU
                else:
                    trace_i[n, TI_RAN] = RAN_LOCAL
                ints[I_TRACE_N] = n + 1
            task_next[k] = ints[I_FREE]
            ints[I_FREE] = k
    return STATUS_DONE


@njit(cache=True)
def schedule_first_arrivals(m, st):
    """Put each device's first arrival in the heap (Poisson: exponential gap; periodic: random phase)."""
    for d in range(m.dev_site.shape[0]):
        period = 1.0 / m.dev_rate_hz[d]
        if m.dev_periodic[d]:
            first = period * uniform(st.rng_dev, d)
        else:
            first = exponential(st.rng_dev, d, period)
        _push(st.ev_time, st.ev_seq, st.ev_payload, st.ints, first, EV_ARRIVAL, d)


@njit(cache=True)
def settle(m, st, now):
    """Bring every device's energy and every site's and cell's integrals up to ``now`` (end of a run).

    Always the segment walk of :func:`_device_energy` (the loop inlines its common
    case); it runs on a copy of the state, so results never depend on when it ran.
    """
    now = np.float64(now)
    for d in range(m.dev_site.shape[0]):
        t0 = st.dev_t_energy_s[d]
        if st.dev_depleted[d] or now <= t0:
            continue
        ul_active = st.dev_flows[UL, d] > 0
        dl_active = st.dev_flows[DL, d] > 0
        p_rx = m.dev_power_rx_w[d]
        if ul_active and dl_active:  # the radio's constant power is counted once
            p_rx = max(p_rx - m.dev_power_tx_w[d], 0.0)
        dt, busy_cpu, busy_ul, busy_dl, busy_tail, busy_inactive, y1, y2, empty = _device_energy(
            t0, now, st.dev_cpu_free_s[d], ul_active, dl_active,
            st.dev_radio_idle_since_s[d],
            m.dev_power_idle_w[d], m.dev_power_compute_w[d], m.dev_power_tx_w[d], p_rx,
            m.dev_power_tail_w[d], m.dev_power_inactive_w[d], m.dev_rrc_tail_s[d], m.dev_rrc_inactive_s[d],
            m.dev_battery_model[d], m.dev_battery_a[d], m.dev_battery_b[d], st.dev_battery_y1[d],
            st.dev_battery_y2[d],
        )
        st.dev_battery_y1[d] = y1
        st.dev_battery_y2[d] = y2
        st.dev_e_idle_j[d] += m.dev_power_idle_w[d] * dt
        st.dev_e_compute_j[d] += m.dev_power_compute_w[d] * busy_cpu
        st.dev_e_tx_j[d] += m.dev_power_tx_w[d] * busy_ul
        st.dev_e_rx_j[d] += p_rx * busy_dl
        st.dev_e_tail_j[d] += m.dev_power_tail_w[d] * busy_tail + m.dev_power_inactive_w[d] * busy_inactive
        st.dev_t_energy_s[d] = t0 + dt
        if empty:
            st.dev_depleted[d] = True
            st.dev_t_depleted_s[d] = t0 + dt
    for s in range(m.site_servers.shape[0]):
        dt_site = now - st.site_t_last_s[s]
        if dt_site > 0.0:
            st.site_busy_area_s[s] += st.site_busy[s] * dt_site
            st.site_queue_area_s[s] += st.site_q_len[s] * dt_site
            st.site_t_last_s[s] = now
    for direction in range(2):
        for c in range(st.cell_flows.shape[1]):
            if st.cell_flows[direction, c] > 0 and now > st.cell_t_last_s[direction, c]:
                st.cell_vtime_s[direction, c] += share_per_flow(st.cell_flows[direction, c], m.proportional_fair[0]) * (
                    now - st.cell_t_last_s[direction, c])
                st.cell_busy_s[direction, c] += now - st.cell_t_last_s[direction, c]
                st.cell_t_last_s[direction, c] = now
