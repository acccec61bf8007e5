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
    Two 4-ary min-heaps in parallel arrays, ordered by (time, sequence number),
    with one counter for the sequence numbers: the devices' next arrivals (one
    entry per device) and every other event (those of the tasks in flight, and
    mobility steps). The loop takes the earlier of the two roots, so events come
    in the order one heap would give; the sequence number makes ties resolve in
    scheduling order, deterministically.

Task life cycle
    arrival -> local compute -> done, or
    arrival -> uplink -> transport path -> GPU queue -> GPU service
            -> transport path -> downlink -> done.
    A task that finds a full GPU queue is dropped or sent back to run locally.
    GPUs live on compute nodes (co-located with a site, or at an aggregation or
    cloud node); a site's tasks go to its least-latency GPU node
    (``site_gpu_node``). Crossing the transport path between a site and a node
    takes the transfer over the path's bottleneck link (a flow cell shared by
    processor sharing, like a radio cell, with the link's capacity as every
    flow's rate) and then the path's one-way latency; a co-located node has no
    path. The result goes back through the device's site at the end of service,
    which is another site if the device has handed over meanwhile.

Mobility
    Moving devices take a step every ``mob_step_s`` (airan.mobility), then read
    their serving cell's rates and uplink power from a precomputed radio map and
    hand over by the A3 event (:func:`mobility_step`). A transfer already running
    finishes in its cell at the rate it started with; the next one uses the
    device's current cell.

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
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import histogram
from ._rng import exponential, uniform
from .battery import BATTERY_IDEAL, battery_draw, battery_segment
from .mobility import move
from .policies import (
    O_BUSY,
    O_ENERGY_J,
    O_HOPS,
    O_LATENCY_S,
    O_LOAD,
    O_MEETS_DEADLINE,
    O_NODE,
    O_PATH_LATENCY_S,
    O_QUEUED,
    O_RADIO_S,
    O_SERVERS,
    O_SERVICE_S,
    T_CHARGE,
    T_CPU_BACKLOG_S,
    T_DEADLINE_S,
    T_DEVICE,
    T_FLOPS,
    T_GROUP,
    T_INPUT_BITS,
    T_OUTPUT_BITS,
    T_SITE,
    T_WORKLOAD,
    T_X_M,
    T_Y_M,
)

# ---------------------------------------------------------------------------
# Codes (int constants: Numba freezes them at compile time)
# ---------------------------------------------------------------------------

EV_ARRIVAL = 0  # index: device
EV_LOCAL_END = 1  # index: task slot
EV_CELL_END = 2  # index: 2 * cell + direction; the cell's earliest flow ends
EV_GPU_END = 3  # index: task slot
EV_HOP_END = 4  # index: task slot; the propagation delay of a transport path has passed
EV_MOVE = 5  # index: 0; every moving device takes a mobility step, then handover checks
EV_BATCH_TIMER = 6  # index: compute node; a waiting task's batching delay has run out
_KIND_BITS = 3
#: The arrival heap's root row in ``State.ah_entry``: the 4 children of a node then share a 64-byte
#: cache line (rows of 16 bytes) when the array starts on one (see airan.build.aligned_rows).
AH_ROOT = 3
AH_TIME = 0  # ah_entry column: arrival time, s
AH_DEVICE = 1  # ah_entry column: the device (an integer in a float64, exact below 2**53)

MAP_RATE_UL = 0  # the columns of Model.map_link
MAP_RATE_DL = 1
MAP_TX = 2

UL = 0  # direction rows of the cell and per-device flow arrays
DL = 1

STATUS_DONE = 0
STATUS_GROW_HEAP = 1
STATUS_GROW_TASKS = 2
STATUS_TRACE_FULL = 3
STATUS_MOVE = 4  # the next event is a mobility step: call mobility_step, then advance again
STATUS_POLICY_ERROR = 5  # a plug-in policy returned a row that is not an option (the run cannot go on)

# what a GPU node does with a task it refuses (Model.node_on_full)
ON_FULL_DROP = 0
ON_FULL_LOCAL = 1
ON_FULL_NEXT = 2

# offloading policies (Model.grp_policy), in the order of airan.scenario.POLICY_NAMES
POLICY_LOCAL = 0
POLICY_OFFLOAD = 1
POLICY_MIN_LATENCY = 2
POLICY_MIN_ENERGY = 3
POLICY_DEADLINE = 4
POLICY_LEAST_LOADED = 5
POLICY_BATTERY = 6
POLICY_CLOUD_FALLBACK = 7
POLICY_PARTIAL = 8
POLICY_PLUGIN = 9  # the scenario's plug-in policy (airan.policies)

# arrival processes (Model.grp_arrival)
ARR_POISSON = 0
ARR_PERIODIC = 1
ARR_MMPP = 2
ARR_TRACE = 3

# task flags
F_COUNTED = 1  # generated at or after warm-up: enters the task statistics
F_OFFLOADED = 2  # sent over the uplink
F_FALLBACK = 4  # rejected by a full GPU queue and run locally
F_RETURN = 8  # served: the result is on its way back to the device
F_REROUTED = 16  # the result goes back through another site than the task came in by
F_REFUSED = 32  # a GPU node has refused the task (counted once, however many refuse it)
F_FORWARDED = 64  # the task was sent on to another GPU node
F_SPLIT = 128  # partial offloading: the device runs the layers up to a split point, a GPU node the rest

# trace outcomes and places
OUT_COMPLETED = 0
OUT_DROPPED_QUEUE_FULL = 1
OUT_DROPPED_BATTERY = 2
OUT_DROPPED_RADIO = 3  # the device had no downlink rate when its result was ready (it moved out of coverage)
RAN_LOCAL = 0
RAN_GPU = 1
RAN_FALLBACK = 2
RAN_SPLIT = 3

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
I_DROPPED_RADIO = 20
I_HANDOVERS = 21  # handovers (all devices, whole run)
I_MOVES = 22  # mobility steps taken
I_REROUTED = 23  # counted GPU-served completions whose result went back through another site
I_FORWARDED = 24  # counted tasks a GPU node refused and sent on to the next node (once per task)
I_REFUSED = 25  # counted tasks refused by at least one GPU node
I_GPU_ACCEPTED = 26  # counted tasks a GPU node accepted (each at most once)
I_POLICY_BAD_ROW = 27  # the row a plug-in policy returned that was not an option (STATUS_POLICY_ERROR)
I_POLICY_BAD_N = 28  # the number of options it had
I_SPLIT = 29  # counted tasks the policy split between the device and a GPU node
I_AH_N = 30  # pending arrivals in the arrival heap
N_INTS = 31

# per-workload counters: State.wl_counts[workload, ...] (counted tasks)
WL_GENERATED = 0
WL_COMPLETED = 1
WL_DROPPED = 2
WL_DEADLINE_MISS = 3  # completed late
N_WL = 4

# float64 accumulators: State.sums[...]
S_LATENCY = 0
S_LOCAL = 1
S_UPLINK = 2
S_GPU_WAIT = 3
S_GPU_SERVICE = 4
S_DOWNLINK = 5
S_LATENCY_MIN = 6
S_LATENCY_MAX = 7
S_BACKHAUL = 8
N_SUMS = 9

# trace columns
TF_T_GEN, TF_T_END, TF_LOCAL, TF_UPLINK, TF_BACKHAUL, TF_GPU_WAIT, TF_GPU_SERVICE, TF_DOWNLINK = range(8)
N_TF = 8
TI_TASK, TI_DEVICE, TI_WORKLOAD, TI_NODE, TI_SITE, TI_OUTCOME, TI_RAN = range(7)
N_TI = 7


class Model(NamedTuple):
    """The scenario as arrays; read-only for the kernel. Shapes in brackets."""

    # compute nodes [n_nodes]
    node_servers: np.ndarray  # int32, servers: whole GPUs, or MIG instances of all partitions (0: no GPU)
    node_gpus: np.ndarray  # int32, physical GPUs
    node_mig_slices: np.ndarray  # int64, compute slices per GPU (1 without partitions)
    node_overhead_s: np.ndarray  # float64[n_nodes, n_workloads], the fixed part of a batch's time (FLOPs model), s
    node_wl_pool: np.ndarray  # int32[n_nodes, n_workloads], the server pool serving the workload (-1: refused)
    # server pools [n_pools]: a node's whole GPUs, or each of its MIG-style partitions (own queue, own servers)
    pool_node: np.ndarray  # int32, the pool's node
    pool_servers: np.ndarray  # int64, servers (instances) in the pool
    pool_slices: np.ndarray  # int64, compute slices of one of its servers (whole GPU: node_mig_slices)
    pool_server0: np.ndarray  # int64, the pool's first server in the global server numbering
    node_flops_per_s: np.ndarray  # float64, FLOP/s of one server
    node_exponential: np.ndarray  # bool, exponential service times (else deterministic)
    node_queue_capacity: np.ndarray  # int64, max waiting tasks (-1: unlimited)
    node_on_full: np.ndarray  # int8, ON_FULL_*: a refused task is dropped, runs locally or goes to the next node
    node_deadline_admission: np.ndarray  # bool, also refuse tasks expected to miss their deadline
    node_batch_max: np.ndarray  # int64, largest batch
    node_batch_timeout_s: np.ndarray  # float64, longest wait for a batch to fill, s
    node_service_s: np.ndarray  # float64[n_nodes, n_workloads, max batch], mean time of a batch of b + 1, s
    node_prefill_s: np.ndarray  # float64[n_nodes, n_workloads, max batch], token workloads: until the first token, s
    site_gpu_next: np.ndarray  # int32[n_sites, n_nodes], the GPU node after this one by latency (-1: none)
    # sites [n_sites] and routes [n_sites, n_nodes]
    site_gpu_node: np.ndarray  # int32[n_sites], the least-latency compute node with a GPU (-1: none)
    route_latency_s: np.ndarray  # float64[n_sites, n_nodes], one-way latency of the transport path, s
    route_cell: np.ndarray  # int32[n_sites, n_nodes], flow cell of the path's bottleneck link (-1: none)
    route_direct: np.ndarray  # bool[n_sites, n_nodes], co-located: no bottleneck link and no latency
    route_hops: np.ndarray  # int32[n_sites, n_nodes], transport links on the path
    # cells [n_cells]: radio cells first, then one per transport link
    cell_rate_bps: np.ndarray  # float64, a transport link's capacity per direction (nan: radio cell), bit/s
    cell_site: np.ndarray  # int32[n_radio_cells], site of each radio cell (cells from here on: transport links)
    cell_bias_db: np.ndarray  # float64[n_radio_cells], association bias (the handover cell offset), dB
    # the offloading policy
    policy_max_nodes: np.ndarray  # int64[1], GPU nodes a comparing policy considers
    policy_battery_threshold: np.ndarray  # float64[1], policy battery: the charge fraction it saves energy below
    policy_max_hops: np.ndarray  # int64[1], GPU nodes farther in transport links are not considered
    policy_params: np.ndarray  # float64[n_params], the plug-in policy's parameters
    # devices [n_devices]
    dev_site: np.ndarray  # int32, serving site index at t = 0
    dev_offload: np.ndarray  # bool, the policy may send this device's tasks to a GPU node
    dev_group: np.ndarray  # int32, device group index
    dev_power_tx_w: np.ndarray  # float64, extra power while transmitting at t = 0 (radiated power included), W
    dev_uplink_bps: np.ndarray  # float64, uplink rate when alone in its cell at t = 0, bit/s
    dev_downlink_bps: np.ndarray  # float64, downlink rate when alone in its cell at t = 0, bit/s
    dev_cell: np.ndarray  # int32, radio cell at t = 0
    dev_x_m: np.ndarray  # float64, position at t = 0, m
    dev_y_m: np.ndarray  # float64, m
    dev_road_from: np.ndarray  # int32, road node a road-placed device comes from (-1: off road)
    dev_road_to: np.ndarray  # int32, road node it heads to (-1: off road)
    # device groups [n_groups]: the parameters a group's devices share (indexed by dev_group), one
    # small table rather than an array per device, which a city-scale run's events would miss
    grp_workload: np.ndarray  # int32, workload index
    grp_arrival: np.ndarray  # int8, ARR_* arrival process
    grp_rate_hz: np.ndarray  # float64, arrival rate (periodic: frame rate; MMPP: while on), 1/s
    grp_jitter_s: np.ndarray  # float64, periodic: frames late by U[0, jitter), s
    grp_mmpp_on_s: np.ndarray  # float64, MMPP: mean on period, s
    grp_mmpp_off_s: np.ndarray  # float64, MMPP: mean off period, s
    grp_mmpp_off_rate_hz: np.ndarray  # float64, MMPP: arrival rate while off, 1/s
    grp_trace_start: np.ndarray  # int64, trace: first entry of the group's trace in trace_t_s
    grp_trace_len: np.ndarray  # int64, trace: its number of entries
    grp_trace_cycle_s: np.ndarray  # float64, trace: the replay period, s
    trace_t_s: np.ndarray  # float64[n_trace_entries], the arrival traces one after another, s
    grp_policy: np.ndarray  # int8, POLICY_*: how each task of the group's devices chooses where it runs
    grp_flops_per_s: np.ndarray  # float64, local compute throughput, FLOP/s
    grp_power_idle_w: np.ndarray  # float64, baseline power, W
    grp_power_compute_w: np.ndarray  # float64, extra power while computing, W
    grp_power_tx_base_w: np.ndarray  # float64, extra power while transmitting, without radiated power, W
    grp_power_rx_w: np.ndarray  # float64, extra power while receiving, W
    grp_energy_j: np.ndarray  # float64, battery energy at t = 0, J
    grp_capacity_j: np.ndarray  # float64, battery capacity, J
    grp_battery_model: np.ndarray  # int8, airan.battery.BATTERY_* (ideal, Peukert, KiBaM)
    grp_battery_a: np.ndarray  # float64, Peukert exponent k, or KiBaM c
    grp_battery_b: np.ndarray  # float64, Peukert reference power (W), or KiBaM k' (1/s)
    grp_power_tail_w: np.ndarray  # float64, extra power in the RRC connected tail, W
    grp_power_inactive_w: np.ndarray  # float64, extra power in RRC inactive, W
    grp_rrc_tail_s: np.ndarray  # float64, connected tail after the last transfer, s
    grp_rrc_inactive_s: np.ndarray  # float64, time in RRC inactive before idle, s
    grp_has_tail: np.ndarray  # bool, the device spends energy in RRC tail or inactive states
    grp_tx_j_per_bit: np.ndarray  # float64, throughput-proportional transmit energy, J/bit
    grp_rx_j_per_bit: np.ndarray  # float64, throughput-proportional receive energy, J/bit
    # mobility [n_devices] unless stated (airan.mobility)
    mob_kind: np.ndarray  # int8, airan.mobility.MOB_*
    mob_speed_min_mps: np.ndarray  # float64, m/s
    mob_speed_max_mps: np.ndarray  # float64, m/s
    mob_pause_s: np.ndarray  # float64, random-waypoint pause, s
    mob_p_turn: np.ndarray  # float64, probability of turning at a crossing
    mob_area: np.ndarray  # float64[4], x_min, x_max, y_min, y_max, m
    mob_devices: np.ndarray  # int32[n_moving], the devices that move
    road_x_m: np.ndarray  # float64[n_road_nodes], m
    road_y_m: np.ndarray  # float64[n_road_nodes], m
    road_ptr: np.ndarray  # int32[n_road_nodes + 1], CSR row pointers
    road_adj: np.ndarray  # int32[n_road_adj], neighbouring road nodes
    mob_step_s: np.ndarray  # float64[1], time between mobility steps (0: nobody moves), s
    ho_hysteresis_db: np.ndarray  # float64[1], A3 hysteresis, dB
    ho_ttt_s: np.ndarray  # float64[1], A3 time to trigger, s
    # radio map [n_points, K] (airan.radio.radiomap), grid point (i, j) at (x0 + i step, y0 + j step)
    map_grid: np.ndarray  # float64[5], x0_m, y0_m, step_m, nx, ny
    map_cell: np.ndarray  # int32, candidate cells, best first (-1: none)
    map_rsrp_dbm: np.ndarray  # float32, received power of each candidate, dBm
    # float64[point, candidate, MAP_*]: the candidate's full-cell uplink and downlink rates (bit/s) and
    # radiated uplink power over PA efficiency (W) side by side, as a moving device reads them together
    map_link: np.ndarray
    # workloads [n_workloads]
    wl_flops: np.ndarray  # float64, FLOP per task
    wl_input_bits: np.ndarray  # float64, uplink bits per task
    wl_output_bits: np.ndarray  # float64, downlink bits per task
    wl_deadline_s: np.ndarray  # float64, deadline, s
    wl_output_tokens: np.ndarray  # int64, tokens generated per task (0: not a token workload)
    wl_split_n: np.ndarray  # int64, split points of the workload's layer profile (0: none)
    wl_split_flops: np.ndarray  # float64[n_workloads, max splits], FLOP the device runs before the split
    wl_split_bits: np.ndarray  # float64[n_workloads, max splits], bits of the tensor sent up at the split
    # run [1]
    warmup_s: np.ndarray  # float64[1], tasks generated earlier are not counted, s
    proportional_fair: np.ndarray  # bool[1], cells share by proportional fair (else equal airtime)


# ---------------------------------------------------------------------------
# Per-device records
# ---------------------------------------------------------------------------

# A task's events read and write some twenty values of its device. Kept in one array each, they
# are as many cache lines, which a city-scale run (whose device data outgrows the caches) misses at
# every event; kept in a row per device (State.dev_f, dev_i8, dev_i4; 64-byte aligned, rows a
# multiple of 32 bytes) they share a few. The kernel takes each column as a strided view by the
# name it had as an array of its own, and Python code reads them as State properties.

DF_T_ENERGY_S = 0
DF_CPU_FREE_S = 1
DF_RADIO_IDLE_SINCE_S = 2
DF_POWER_TX_W = 3
DF_BATTERY_Y1 = 4
DF_BATTERY_Y2 = 5
DF_E_IDLE_J = 6
DF_E_COMPUTE_J = 7
DF_E_TX_J = 8
DF_E_RX_J = 9
DF_E_TAIL_J = 10
DF_UPLINK_BPS = 11
DF_DOWNLINK_BPS = 12
DF_POWER_TX_NEXT_W = 13
DF_LATENCY_SUM_S = 14
DF_BITS = 15
DF_FLOW_S = 17
DF_WIDTH = 20  # columns, 19 used

DI8_ARRIVAL_SEQ = 0
DI8_GENERATED = 1
DI8_COMPLETED = 2
DI8_OFFLOADED = 3
DI8_WIDTH = 4  # columns, 4 used

DI4_CELL = 0
DI4_SITE = 1
DI4_MAP_SLOT = 2
DI4_FLOWS = 3
DI4_GROUP = 5
DI4_WIDTH = 8  # columns, 6 used

#: State property name -> (record, first column, rows: 0 for [n_devices], 2 for [2, n_devices]); docs
DEVICE_COLUMNS = {
    "dev_t_energy_s": ("dev_f", DF_T_ENERGY_S, 0, "float64, energy integrated up to this time, s"),
    "dev_cpu_free_s": ("dev_f", DF_CPU_FREE_S, 0, "float64, CPU busy until, s"),
    "dev_radio_idle_since_s": ("dev_f", DF_RADIO_IDLE_SINCE_S, 0,
                               "float64, end of the last transfer (-inf: none yet), s"),
    "dev_power_tx_w": ("dev_f", DF_POWER_TX_W, 0,
                       "float64, extra power while transmitting (set when an uplink starts), W"),
    "dev_battery_y1": ("dev_f", DF_BATTERY_Y1, 0, "float64, available energy (KiBaM available well), J"),
    "dev_battery_y2": ("dev_f", DF_BATTERY_Y2, 0, "float64, KiBaM bound well (0 for the other models), J"),
    "dev_e_idle_j": ("dev_f", DF_E_IDLE_J, 0, "float64, baseline energy, J"),
    "dev_e_compute_j": ("dev_f", DF_E_COMPUTE_J, 0, "float64, local compute energy, J"),
    "dev_e_tx_j": ("dev_f", DF_E_TX_J, 0, "float64, transmit energy, J"),
    "dev_e_rx_j": ("dev_f", DF_E_RX_J, 0, "float64, receive energy, J"),
    "dev_e_tail_j": ("dev_f", DF_E_TAIL_J, 0, "float64, RRC tail and inactive energy, J"),
    "dev_uplink_bps": ("dev_f", DF_UPLINK_BPS, 0,
                       "float64, uplink rate alone in the serving cell (nan or 0: none), bit/s"),
    "dev_downlink_bps": ("dev_f", DF_DOWNLINK_BPS, 0, "float64, downlink rate alone in the serving cell, bit/s"),
    "dev_power_tx_next_w": ("dev_f", DF_POWER_TX_NEXT_W, 0, "float64, the value the next uplink will use, W"),
    "dev_latency_sum_s": ("dev_f", DF_LATENCY_SUM_S, 0, "float64, summed latency of completed tasks (all), s"),
    "dev_bits": ("dev_f", DF_BITS, 2, "float64[2, n_devices], bits sent / received, bit"),
    "dev_flow_s": ("dev_f", DF_FLOW_S, 2, "float64[2, n_devices], summed duration of finished flows, s"),
    "dev_arrival_seq": ("dev_i8", DI8_ARRIVAL_SEQ, 0,
                        "int64, scheduling order of the device's arrival heap entry (event heap's counter)"),
    "dev_generated": ("dev_i8", DI8_GENERATED, 0, "int64, tasks generated (all)"),
    "dev_completed": ("dev_i8", DI8_COMPLETED, 0, "int64, tasks completed (all)"),
    "dev_offloaded": ("dev_i8", DI8_OFFLOADED, 0, "int64, tasks sent over the uplink (all)"),
    "dev_cell": ("dev_i4", DI4_CELL, 0, "int32, serving radio cell"),
    "dev_site": ("dev_i4", DI4_SITE, 0, "int32, serving site"),
    "dev_map_slot": ("dev_i4", DI4_MAP_SLOT, 0,
                     "int32, candidate at mob_map_point whose rates the device takes at its next event "
                     "(-1: dev_uplink_bps, dev_downlink_bps and dev_power_tx_next_w are current; "
                     "see refresh_link in advance)"),
    "dev_flows": ("dev_i4", DI4_FLOWS, 2, "int32[2, n_devices], active uplink / downlink flows"),
    "dev_group": ("dev_i4", DI4_GROUP, 0, "int32, the device's group (Model.dev_group, kept beside its state)"),
}


class State(NamedTuple):
    """Everything that changes during a run. Shapes in brackets.

    The per-device values of ``DEVICE_COLUMNS`` live in the records ``dev_f``, ``dev_i8`` and
    ``dev_i4``; each is also a property (a writable view) by its own name, e.g. ``dev_cell``.
    """

    # event heap [heap_capacity], ordered by (time, seq)
    ev_time: np.ndarray  # float64, s
    ev_seq: np.ndarray  # int64, scheduling order (tie-break)
    ev_payload: np.ndarray  # int64, index << _KIND_BITS | kind (index: device or task slot)
    # arrival heap: each device's next arrival (EV_ARRIVAL events only), ordered like the event heap
    ah_entry: np.ndarray  # float64[AH_ROOT + n_devices, 2], rows from AH_ROOT: (time s, device), see _ah_push
    # per-device records [n_devices, columns]: the per-device values that a task's events use, one
    # row per device (see DEVICE_COLUMNS; the arrays are State properties by their own names)
    dev_f: np.ndarray  # float64, columns DF_*
    dev_i8: np.ndarray  # int64, columns DI8_*
    dev_i4: np.ndarray  # int32, columns DI4_*
    # task slots [task_capacity]
    task_id: np.ndarray  # int64, generation order over the run
    task_dev: np.ndarray  # int32, device
    task_flags: np.ndarray  # int16, F_* bits
    task_next: np.ndarray  # int32, next slot in a GPU queue or in the free list (-1: none)
    task_t_gen_s: np.ndarray  # float64, generation time, s
    task_t_mark_s: np.ndarray  # float64, start of the current phase, s
    task_local_s: np.ndarray  # float64, local wait + compute, s
    task_uplink_s: np.ndarray  # float64, uplink wait + transfer, s
    task_gpu_wait_s: np.ndarray  # float64, GPU queueing delay, s
    task_gpu_service_s: np.ndarray  # float64, GPU service, s
    task_vfinish_s: np.ndarray  # float64, cell virtual time at which the task's flow ends, s
    task_backhaul_s: np.ndarray  # float64, time on transport paths (to and from the GPU), s
    task_site: np.ndarray  # int32, site the task entered by (after service: the site it returns through)
    task_node: np.ndarray  # int32, compute node serving the task (-1: none)
    task_server: np.ndarray  # int32, server (global numbering) of the task's batch
    task_split: np.ndarray  # int32, split point of a partially offloaded task (F_SPLIT)
    # compute nodes [n_nodes]
    node_busy: np.ndarray  # int32, servers busy
    node_q_head: np.ndarray  # int32[n_nodes, n_workloads], first waiting task slot per workload (-1: empty)
    node_q_tail: np.ndarray  # int32[n_nodes, n_workloads], last waiting task slot
    node_wq_len: np.ndarray  # int64[n_nodes, n_workloads], waiting tasks per workload
    node_q_len: np.ndarray  # int64, waiting tasks (all workloads)
    node_busy_slices: np.ndarray  # int64, compute slices of the busy servers (GPUs busy x node_mig_slices)
    pool_busy: np.ndarray  # int64[n_pools], busy servers
    pool_q_len: np.ndarray  # int64[n_pools], waiting tasks
    node_timer_s: np.ndarray  # float64, the earliest pending batching timer (inf: none), s
    node_batches: np.ndarray  # int64, batches started (all tasks)
    server_left: np.ndarray  # int64[n_servers], tasks of the running batch not yet ended (0: free)
    node_t_last_s: np.ndarray  # float64, time of the last busy/queue change, s
    node_busy_area_s: np.ndarray  # float64, integral of busy servers over time, server*s
    node_queue_area_s: np.ndarray  # float64, integral of queue length over time, task*s
    node_served: np.ndarray  # int64, services started (all tasks)
    node_rejected: np.ndarray  # int64, tasks that found the queue full (all tasks)
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
    dev_handovers: np.ndarray  # int64, handovers
    dev_ho_target: np.ndarray  # int32, neighbour cell meeting the A3 condition (-1: none)
    dev_ho_since_s: np.ndarray  # float64, since when it has, s
    mob_x_m: np.ndarray  # float64, position, m
    mob_y_m: np.ndarray  # float64, m
    mob_target_x_m: np.ndarray  # float64, waypoint or next road node, m
    mob_target_y_m: np.ndarray  # float64, m
    mob_from_node: np.ndarray  # int32, road node left last (-1: off road)
    mob_to_node: np.ndarray  # int32, road node heading to (-1: off road)
    mob_speed_mps: np.ndarray  # float64, current speed, m/s
    mob_pause_until_s: np.ndarray  # float64, end of a waypoint pause, s
    mob_map_point: np.ndarray  # int64, radio-map grid point of the last handover check (-1: none yet)
    dev_next_nominal_s: np.ndarray  # float64, periodic: the next frame's nominal time, s
    dev_mmpp_on: np.ndarray  # bool, MMPP: in an on period
    dev_mmpp_switch_s: np.ndarray  # float64, MMPP: when the current period ends, s
    dev_trace_pos: np.ndarray  # int64, trace: entry of the next arrival
    dev_trace_base_s: np.ndarray  # float64, trace: start time of the current replay cycle, s
    dev_depleted: np.ndarray  # bool, battery empty
    dev_t_depleted_s: np.ndarray  # float64, time the battery emptied (inf: not), s
    dev_dropped: np.ndarray  # int64, tasks dropped (all)
    dev_ran_local: np.ndarray  # int64, tasks run on the device's CPU, fallbacks included (all)
    # random streams
    rng_dev: np.ndarray  # uint64[n_devices, 4], one stream per device (arrivals)
    rng_node: np.ndarray  # uint64[n_nodes, 4], one stream per compute node (service times)
    rng_mob: np.ndarray  # uint64[n_devices, 4], one stream per device (mobility)
    # statistics
    ints: np.ndarray  # int64[N_INTS], see I_*
    sums: np.ndarray  # float64[N_SUMS], see S_*
    hist: np.ndarray  # int64[n_workloads, histogram.N_BINS + 2], latency histogram of counted completed tasks
    wl_counts: np.ndarray  # int64[n_workloads, N_WL], counted tasks per workload, see WL_*
    wl_latency_s: np.ndarray  # float64[n_workloads], summed latency of counted completed tasks, s
    wl_ttft_hist: np.ndarray  # int64[n_workloads, histogram.N_BINS + 2], token workloads: time to first token
    wl_split_counts: np.ndarray  # int64[n_workloads, max splits], counted tasks split at each point
    wl_token_sums: np.ndarray  # float64[n_workloads, 3], token workloads: summed time to first token (s),
    # tokens generated, decode time (s)
    # policy scratch: what a comparing policy sees (airan.policies)
    policy_task: np.ndarray  # float64[N_TASK], the task and its device (T_*)
    policy_options: np.ndarray  # float64[max_nodes + 1, N_OPTION], row 0 the device, then GPU nodes (O_*)
    policy_nodes: np.ndarray  # int64[max_nodes + 1], the node of each option row (-1: the device)
    policy_params: np.ndarray  # float64[n_params], the plug-in policy's copy of its parameters
    # per-task trace buffer (size 0 when tracing is off)
    trace_f: np.ndarray  # float64[trace_capacity, N_TF], times in s
    trace_i: np.ndarray  # int64[trace_capacity, N_TI]


def _column(record: str, column: int, rows: int, doc: str) -> property:
    """A State property: one column of a per-device record as a view, or ``rows`` columns as rows."""
    if rows:
        return property(lambda st: getattr(st, record)[:, column:column + rows].T, doc=doc)
    return property(lambda st: getattr(st, record)[:, column], doc=doc)


for _name, (_record, _column_index, _rows, _doc) in DEVICE_COLUMNS.items():
    setattr(State, _name, _column(_record, _column_index, _rows, _doc))


# ---------------------------------------------------------------------------
# Performance note
#
# Numba increments and decrements the reference count of every array inside a
# tuple wherever its reference-count pruning gives up (calls, some branches), so
# passing the whole Model or State around, or reading arrays from them inside a
# helper, costs microseconds each time (a comparing policy's decision cost about
# 9 us when it read its ~50 arrays through the tuples). The event loop therefore
# unpacks the arrays it needs into local variables once per call, outside the
# loop, and hands helpers the arrays themselves: the policy code and the arrival
# processes take them as arguments and are inlined into the loop (Numba IR
# inlining); the energy maths takes scalars. Arrays handed to an inlined function
# are still reference-counted at each call, which matters for the few operations
# of every event: the heap's push and pop are closures inside the loop, which use
# its arrays as they are. Indices the loop uses at every event (heap positions,
# the task slot, the device) are unsigned, which spares Numba's handling of
# negative indices at each array access.
# With many devices (a city: 10^5) their arrays outgrow the processor's caches, and
# a task's first event (its arrival) finds its device's data in memory. The
# arrivals have a heap of their own, so the events of tasks in flight are taken
# from a small heap that stays in the caches; and at an arrival the loop asks the
# processor (``_prefetch``, a hint with no effect on results) for the device data
# that only the task's later events read, whose misses would otherwise be waited
# for one at a time then.
# The kernels use Numba's "numpy" error model: a float division by zero gives
# inf or nan instead of a check and a possible exception at every division (the
# scenario's validation keeps rates, servers, speeds and capacities positive, and
# the divisions by counts are guarded), which also lets the reference-count
# pruning work on functions without exception exits.
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# Event heap
# ---------------------------------------------------------------------------


@njit(inline="always", error_model="numpy")
def _push(ev_time, ev_seq, ev_payload, ints, time_s, kind, index):
    """Insert an event; ties in time keep scheduling order. Returns its sequence number.

    The heap is 4-ary (children of ``i``: ``4i + 1 .. 4i + 4``): half the levels of a
    binary heap, so fewer cache lines per operation on the large heaps of city-scale
    runs. Events are ordered by (time, seq), a total order, so the sequence of events
    does not depend on the heap's shape.
    """
    n = ints[I_EV_N]
    seq = ints[I_SEQ]
    payload = (np.int64(index) << _KIND_BITS) | kind
    ints[I_SEQ] = seq + 1
    ints[I_EV_N] = n + 1
    while n > 0:
        parent = (n - 1) >> 2
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


@njit(inline="always", error_model="numpy")
def _pop(ev_time, ev_seq, ev_payload, ints):
    """Remove the earliest event of the event heap; returns (time_s, kind, index, seq)."""
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
            first = 4 * i + 1
            if first >= n:
                break
            child = first
            tc = ev_time[first]
            for j in range(first + 1, min(first + 4, n)):
                tj = ev_time[j]
                if tj < tc or (tj == tc and ev_seq[j] < ev_seq[child]):
                    child = j
                    tc = tj
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


@njit(inline="always", error_model="numpy")
def _ah_push(ah_entry, dev_arrival_seq, ints, time_s, d):
    """Insert device ``d``'s next arrival into the arrival heap (it has none there); returns its seq.

    The arrival heap is ordered like the event heap, by (time, seq), with seq from the
    same counter, so that merging the two roots gives the order one heap would. It holds
    one entry per device, so it is large in a city-scale run, and an entry is kept to
    16 bytes, (time, device), in one array: a node's four children (logical ``4i + 1 ..
    4i + 4``, at rows ``AH_ROOT +`` those) fill one cache line. The seq of each device's
    entry is kept per device and read only when two times are equal.
    """
    n = np.int64(ints[I_AH_N])
    seq = ints[I_SEQ]
    ints[I_SEQ] = seq + 1
    ints[I_AH_N] = n + 1
    dev_arrival_seq[d] = seq
    while n > 0:
        parent = (n - 1) >> 2
        tp = ah_entry[AH_ROOT + parent, AH_TIME]
        parent_seq = dev_arrival_seq[np.int64(ah_entry[AH_ROOT + parent, AH_DEVICE])] if tp == time_s else 0
        if tp < time_s or (tp == time_s and parent_seq < seq):
            break
        ah_entry[AH_ROOT + n, AH_TIME] = tp
        ah_entry[AH_ROOT + n, AH_DEVICE] = ah_entry[AH_ROOT + parent, AH_DEVICE]
        n = parent
    ah_entry[AH_ROOT + n, AH_TIME] = time_s
    ah_entry[AH_ROOT + n, AH_DEVICE] = np.float64(d)
    return seq


# ---------------------------------------------------------------------------
# Device energy and battery
# ---------------------------------------------------------------------------


@njit(error_model="numpy")
def _clip(x, hi):
    return min(max(x, 0.0), hi)


@njit(error_model="numpy")
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
# Offloading policies
# ---------------------------------------------------------------------------


@intrinsic
def _data_ptr(typingctx, arr):
    """The address of a contiguous array's first element, as a C pointer (for the plug-in policy's call)."""
    sig = types.CPointer(arr.dtype)(arr)

    def codegen(context, builder, signature, args):
        return context.make_array(arr)(context, builder, args[0]).data

    return sig, codegen


@intrinsic
def _prefetch(typingctx, arr, i, j):
    """Ask the processor to bring ``arr[i]`` (1-d; ``j`` ignored) or ``arr[i, j]`` (2-d) into its caches.

    A hint (LLVM's ``llvm.prefetch``: a read, kept in every cache level) with no effect
    on results; the indices are not checked, so they must be valid.
    """
    sig = types.void(arr, i, j)

    def codegen(context, builder, signature, args):
        ary = context.make_array(arr)(context, builder, args[0])
        index = [args[1]] if arr.ndim == 1 else [args[1], args[2]]
        ptr = cgutils.get_item_pointer(context, builder, arr, ary, index, wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


# ---------------------------------------------------------------------------
# Arrival processes
# ---------------------------------------------------------------------------


@njit(inline="always", error_model="numpy")
def _mmpp_next(t, on, switch_s, rate_on_hz, rate_off_hz, mean_on_s, mean_off_s, rng_dev, d):
    """Device ``d``'s next MMPP arrival after time ``t``; returns (arrival, on, switch_s) for it.

    A two-state Markov-modulated Poisson process (W. Fischer and K. Meier-Hellstern,
    "The Markov-modulated Poisson process (MMPP) cookbook", Performance Evaluation
    18(2), 1993): Poisson at ``rate_on_hz`` while on and ``rate_off_hz`` while off, on
    and off periods exponential with means ``mean_on_s`` and ``mean_off_s``; ``on`` is
    the state at ``t`` and ``switch_s`` the end of its period. Simulated exactly, by
    drawing the next arrival in the current state and switching state where the
    period ends first (memoryless: the new state's draws start at the switch).
    """
    while True:
        rate = rate_on_hz if on else rate_off_hz
        candidate = t + exponential(rng_dev, d, 1.0 / rate) if rate > 0.0 else np.inf
        if candidate < switch_s:
            return candidate, on, switch_s
        t = switch_s
        switch_s = switch_s + exponential(rng_dev, d, mean_off_s if on else mean_on_s)
        on = not on


# ---------------------------------------------------------------------------
# Shared cells
# ---------------------------------------------------------------------------


@njit(error_model="numpy")
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
# Mobility and handover
# ---------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def mobility_step(m, st):
    """Process the mobility-step event at the top of the heap: move, check handovers, plan the next.

    Kept out of :func:`advance` (which returns ``STATUS_MOVE`` when this event is
    next) so that runs without moving devices neither compile nor carry it.
    """
    now, _, _, _ = _pop(st.ev_time, st.ev_seq, st.ev_payload, st.ints)
    st.ints[I_EVENTS] += 1
    st.ints[I_MOVES] += 1
    step = m.mob_step_s[0]
    move(now - step, step, m.mob_kind, m.mob_speed_min_mps, m.mob_speed_max_mps, m.mob_pause_s, m.mob_p_turn,
         m.mob_area, m.road_x_m, m.road_y_m, m.road_ptr, m.road_adj, st.mob_x_m, st.mob_y_m, st.mob_target_x_m,
         st.mob_target_y_m, st.mob_from_node, st.mob_to_node, st.mob_speed_mps, st.mob_pause_until_s, st.rng_mob,
         m.mob_devices)
    st.ints[I_HANDOVERS] += _handover_check(
        now, m.mob_devices, st.mob_x_m, st.mob_y_m, m.map_grid, m.map_cell, m.map_rsrp_dbm, m.cell_bias_db,
        m.cell_site, m.ho_hysteresis_db[0], m.ho_ttt_s[0], st.dev_depleted, st.dev_i4[:, DI4_CELL],
        st.dev_i4[:, DI4_SITE], st.dev_handovers, st.dev_ho_target, st.dev_ho_since_s, st.mob_map_point,
        st.dev_i4[:, DI4_MAP_SLOT])
    _push(st.ev_time, st.ev_seq, st.ev_payload, st.ints, now + step, EV_MOVE, 0)


#: Slack on the time-to-trigger comparison: simulated times add up steps, whose rounding must not
#: cost a whole step (1 ns, far below any step).
_TTT_TOLERANCE_S = 1e-9

#: Devices per block of the handover check (see :func:`_handover_check`).
_HO_BLOCK = 64


@njit(error_model="numpy")
def _handover_check(now, devices, x_m, y_m, map_grid, map_cell, map_rsrp_dbm, cell_bias_db, cell_site, hysteresis_db,
                    ttt_s, depleted, dev_cell, dev_site, handovers, ho_target, ho_since_s, map_point, map_slot):
    """After a mobility step: each moving device's link from the radio map, and handover (A3).

    Handover follows the A3 event of 3GPP TS 38.331 Sec. 5.5.4.4 on the radio
    map's received powers (layer-3 means, no fast fading): the best neighbour
    ``t`` is handed over to when ``P_t + O_t - hys > P_s + O_s`` (``O``: the
    cells' association biases as cell individual offsets) has held without a
    break for the time to trigger; the condition is checked at mobility steps,
    so the time to trigger is rounded up to a whole number of steps. The timer
    runs while some neighbour meets the condition (TS 38.331 keeps one per
    cell; the best one may change while it runs), and the device then hands
    over to the best. A serving cell that has fallen out of the map's strongest
    candidates at the device's point is left at once (a radio link failure and
    re-establishment on the best cell, counted as a handover). The serving
    cell's rates and uplink power follow the device at every step: the step notes
    the map point and candidate in ``map_point`` and ``map_slot``, and the device's
    link arrays take them at its next event (``refresh_link`` in :func:`advance`; the same values,
    read only for the devices that use them); a transfer already running finishes
    in its cell at the rate it started with.
    A device still at the grid point of its last check reads nothing again unless
    a time to trigger may have run out (the decisions would be the same).
    Returns the number of handovers.
    """
    x0 = map_grid[0]
    y0 = map_grid[1]
    step = map_grid[2]
    nx = np.int64(map_grid[3])
    ny = np.int64(map_grid[4])
    n_cand = map_cell.shape[1]
    n_handovers = 0
    # Devices are checked in blocks: a first pass finds the block's devices that need the map
    # and their points and asks for the points' rows (a prefetch: the processor overlaps the
    # loads, where the map outgrows the caches of a city-scale run and waiting for its rows one
    # device at a time took most of a step), and the checks then find the rows in the cache. A
    # device's check reads and writes only its own state, so the order of the checks is immaterial.
    block_d = np.empty(_HO_BLOCK, dtype=np.uint64)
    block_p = np.empty(_HO_BLOCK, dtype=np.int64)
    n_devices = devices.shape[0]
    jd = 0
    while jd < n_devices:
        n_block = 0
        while jd < n_devices and n_block < _HO_BLOCK:
            d = np.uint64(devices[jd])  # unsigned: no negative-index handling at each access
            jd += 1
            if depleted[d]:
                continue
            # the nearest grid point, rounded as airan.radio.radiomap.grid_index does
            i = min(max(np.int64(np.rint((x_m[d] - x0) / step)), 0), nx - 1)
            j = min(max(np.int64(np.rint((y_m[d] - y0) / step)), 0), ny - 1)
            p = j * nx + i
            if p == map_point[d] and (ho_target[d] < 0 or now - ho_since_s[d] < ttt_s - _TTT_TOLERANCE_S):
                continue
            _prefetch(map_cell, p, 0)
            _prefetch(map_rsrp_dbm, p, 0)
            block_d[n_block] = d
            block_p[n_block] = p
            n_block += 1
        for r in range(n_block):
            d = block_d[r]
            p = block_p[r]
            map_point[d] = p
            serving = dev_cell[d]
            slot = -1
            for q in range(n_cand):
                if map_cell[p, q] == serving:
                    slot = q
                    break
            best = map_cell[p, 0]
            if best >= 0 and best != serving:
                if slot < 0:
                    go = True  # the serving cell is far below the best: re-establish at once
                else:
                    level_serving = np.float64(map_rsrp_dbm[p, slot]) + cell_bias_db[serving]
                    level_best = np.float64(map_rsrp_dbm[p, 0]) + cell_bias_db[best]
                    go = False
                    if level_best - hysteresis_db > level_serving:
                        if ho_target[d] < 0:
                            ho_since_s[d] = now  # the condition starts to hold: the timer starts
                        ho_target[d] = best
                        go = now - ho_since_s[d] >= ttt_s - _TTT_TOLERANCE_S
                    else:
                        ho_target[d] = -1
                if go:
                    dev_cell[d] = best
                    dev_site[d] = cell_site[best]
                    handovers[d] += 1
                    n_handovers += 1
                    ho_target[d] = -1
                    slot = 0
            else:
                ho_target[d] = -1
            if slot >= 0:
                map_slot[d] = slot
    return n_handovers


# ---------------------------------------------------------------------------
# The event loop
# ---------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def advance(m, st, until_s, plugin):
    """Process every event with time < ``until_s``; return a STATUS_* code.

    Returns early (not STATUS_DONE) when the heap, the task slots or the trace
    buffer has no room for the next event; the caller makes room and calls again.
    ``plugin`` is the plug-in policy's C function (airan.policies.compiled; a
    placeholder when no device uses one).
    """
    until_s = np.float64(until_s)
    # -- unpack (see the performance note above) ------------------------------
    node_servers = m.node_servers
    node_exponential = m.node_exponential
    node_queue_capacity = m.node_queue_capacity
    node_on_full = m.node_on_full
    node_deadline_admission = m.node_deadline_admission
    node_batch_max = m.node_batch_max
    node_batch_timeout_s = m.node_batch_timeout_s
    node_service_s = m.node_service_s
    node_prefill_s = m.node_prefill_s
    wl_output_tokens = m.wl_output_tokens
    wl_ttft_hist = st.wl_ttft_hist
    wl_token_sums = st.wl_token_sums
    node_wl_pool = m.node_wl_pool
    pool_servers = m.pool_servers
    pool_slices = m.pool_slices
    node_mig_slices = m.node_mig_slices
    node_overhead_s = m.node_overhead_s
    pool_server0 = m.pool_server0
    site_gpu_next = m.site_gpu_next
    n_workloads = m.wl_flops.shape[0]
    site_gpu_node = m.site_gpu_node
    route_latency_s = m.route_latency_s
    route_cell = m.route_cell
    route_direct = m.route_direct
    moving = m.mob_devices.shape[0] > 0
    cell_rate_bps = m.cell_rate_bps
    cell_site = m.cell_site
    n_radio_cells = cell_site.shape[0]
    grp_workload = m.grp_workload
    grp_arrival = m.grp_arrival
    grp_rate_hz = m.grp_rate_hz
    dev_offload = m.dev_offload
    grp_flops_per_s = m.grp_flops_per_s
    grp_power_idle_w = m.grp_power_idle_w
    grp_power_compute_w = m.grp_power_compute_w
    grp_power_rx_w = m.grp_power_rx_w
    grp_battery_model = m.grp_battery_model
    grp_battery_a = m.grp_battery_a
    grp_battery_b = m.grp_battery_b
    grp_power_tail_w = m.grp_power_tail_w
    grp_power_inactive_w = m.grp_power_inactive_w
    grp_rrc_tail_s = m.grp_rrc_tail_s
    grp_rrc_inactive_s = m.grp_rrc_inactive_s
    grp_has_tail = m.grp_has_tail
    grp_tx_j_per_bit = m.grp_tx_j_per_bit
    grp_rx_j_per_bit = m.grp_rx_j_per_bit
    wl_flops = m.wl_flops
    wl_input_bits = m.wl_input_bits
    wl_output_bits = m.wl_output_bits
    wl_deadline_s = m.wl_deadline_s
    warmup_s = m.warmup_s[0]
    pf = m.proportional_fair[0]
    grp_policy = m.grp_policy
    dev_group = st.dev_i4[:, DI4_GROUP]  # Model.dev_group, in the device's record
    grp_capacity_j = m.grp_capacity_j
    grp_jitter_s = m.grp_jitter_s
    grp_mmpp_on_s = m.grp_mmpp_on_s
    grp_mmpp_off_s = m.grp_mmpp_off_s
    grp_mmpp_off_rate_hz = m.grp_mmpp_off_rate_hz
    grp_trace_start = m.grp_trace_start
    grp_trace_len = m.grp_trace_len
    grp_trace_cycle_s = m.grp_trace_cycle_s
    trace_t_s = m.trace_t_s
    wl_split_n = m.wl_split_n
    wl_split_flops = m.wl_split_flops
    wl_split_bits = m.wl_split_bits
    route_hops = m.route_hops
    model_params = m.policy_params
    max_nodes = m.policy_max_nodes[0]
    max_hops = m.policy_max_hops[0]
    battery_threshold = m.policy_battery_threshold[0]

    ev_time = st.ev_time
    ev_seq = st.ev_seq
    ev_payload = st.ev_payload
    ah_entry = st.ah_entry
    dev_arrival_seq = st.dev_i8[:, DI8_ARRIVAL_SEQ]
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
    task_backhaul_s = st.task_backhaul_s
    task_site = st.task_site
    task_node = st.task_node
    node_busy = st.node_busy
    node_q_head = st.node_q_head
    node_q_tail = st.node_q_tail
    node_wq_len = st.node_wq_len
    node_q_len = st.node_q_len
    node_busy_slices = st.node_busy_slices
    pool_busy = st.pool_busy
    pool_q_len = st.pool_q_len
    node_timer_s = st.node_timer_s
    node_batches = st.node_batches
    server_left = st.server_left
    task_server = st.task_server
    task_split = st.task_split
    wl_split_counts = st.wl_split_counts
    node_t_last_s = st.node_t_last_s
    node_busy_area_s = st.node_busy_area_s
    node_queue_area_s = st.node_queue_area_s
    node_served = st.node_served
    node_rejected = st.node_rejected
    cell_flows = st.cell_flows
    cell_head = st.cell_head
    cell_vtime_s = st.cell_vtime_s
    cell_vmin_s = st.cell_vmin_s
    cell_t_last_s = st.cell_t_last_s
    cell_event_seq = st.cell_event_seq
    cell_busy_s = st.cell_busy_s
    cell_bits = st.cell_bits
    dev_cell = st.dev_i4[:, DI4_CELL]
    dev_site = st.dev_i4[:, DI4_SITE]
    dev_uplink_bps = st.dev_f[:, DF_UPLINK_BPS]
    dev_downlink_bps = st.dev_f[:, DF_DOWNLINK_BPS]
    dev_power_tx_w = st.dev_f[:, DF_POWER_TX_W]
    dev_power_tx_next_w = st.dev_f[:, DF_POWER_TX_NEXT_W]
    dev_cpu_free_s = st.dev_f[:, DF_CPU_FREE_S]
    dev_next_nominal_s = st.dev_next_nominal_s
    dev_mmpp_on = st.dev_mmpp_on
    dev_mmpp_switch_s = st.dev_mmpp_switch_s
    dev_trace_pos = st.dev_trace_pos
    dev_trace_base_s = st.dev_trace_base_s
    mob_x_m = st.mob_x_m
    mob_y_m = st.mob_y_m
    mob_map_point = st.mob_map_point
    dev_map_slot = st.dev_i4[:, DI4_MAP_SLOT]
    map_link = m.map_link
    grp_power_tx_base_w = m.grp_power_tx_base_w
    policy_options = st.policy_options
    policy_nodes = st.policy_nodes
    policy_task = st.policy_task
    policy_params = st.policy_params
    dev_flows = st.dev_i4[:, DI4_FLOWS:DI4_FLOWS + 2].T
    dev_bits = st.dev_f[:, DF_BITS:DF_BITS + 2].T
    dev_flow_s = st.dev_f[:, DF_FLOW_S:DF_FLOW_S + 2].T
    dev_t_energy_s = st.dev_f[:, DF_T_ENERGY_S]
    dev_e_idle_j = st.dev_f[:, DF_E_IDLE_J]
    dev_e_compute_j = st.dev_f[:, DF_E_COMPUTE_J]
    dev_e_tx_j = st.dev_f[:, DF_E_TX_J]
    dev_e_rx_j = st.dev_f[:, DF_E_RX_J]
    dev_e_tail_j = st.dev_f[:, DF_E_TAIL_J]
    dev_battery_y1 = st.dev_f[:, DF_BATTERY_Y1]
    dev_battery_y2 = st.dev_f[:, DF_BATTERY_Y2]
    dev_radio_idle_since_s = st.dev_f[:, DF_RADIO_IDLE_SINCE_S]
    dev_depleted = st.dev_depleted
    dev_t_depleted_s = st.dev_t_depleted_s
    dev_generated = st.dev_i8[:, DI8_GENERATED]
    dev_completed = st.dev_i8[:, DI8_COMPLETED]
    dev_dropped = st.dev_dropped
    dev_ran_local = st.dev_ran_local
    dev_offloaded = st.dev_i8[:, DI8_OFFLOADED]
    dev_latency_sum_s = st.dev_f[:, DF_LATENCY_SUM_S]
    rng_dev = st.rng_dev
    rng_node = st.rng_node
    ints = st.ints
    sums = st.sums
    hist = st.hist
    wl_counts = st.wl_counts
    wl_latency_s = st.wl_latency_s
    trace_f = st.trace_f
    trace_i = st.trace_i
    trace_capacity = trace_f.shape[0]
    # -- the event heap's push and pop (the code of _push and _pop) as closures over its
    # arrays: Numba inlines a closure with the outer variables as they are, whereas arrays
    # handed to an inlined function are reference-counted at every call (about a tenth of
    # an event's time when the heap operations took them as arguments)
    def push(time_s, kind, index):
        # unsigned positions: Numba checks signed indices for negative values at every access
        n = np.uint64(ints[I_EV_N])
        seq = ints[I_SEQ]
        payload = (np.int64(index) << _KIND_BITS) | kind
        ints[I_SEQ] = seq + 1
        ints[I_EV_N] += 1
        while n > 0:
            parent = (n - np.uint64(1)) >> np.uint64(2)
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

    def pop():
        time_s = ev_time[0]
        payload = ev_payload[0]
        seq0 = ev_seq[0]
        ints[I_EV_N] -= 1
        n = np.uint64(ints[I_EV_N])
        if n > 0:
            t_last = ev_time[n]
            q_last = ev_seq[n]
            p_last = ev_payload[n]
            i = np.uint64(0)
            while True:
                first = np.uint64(4) * i + np.uint64(1)
                if first >= n:
                    break
                child = first
                tc = ev_time[first]
                j = first + np.uint64(1)
                last = min(first + np.uint64(4), n)
                while j < last:
                    tj = ev_time[j]
                    if tj < tc or (tj == tc and ev_seq[j] < ev_seq[child]):
                        child = j
                        tc = tj
                    j += np.uint64(1)
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

    # -- the arrival heap (see _ah_push): each device's next arrival. Kept apart from the event
    # heap, which then holds only the few events of the tasks in flight (it stays in the fastest
    # caches), while the devices' arrivals (as many as there are devices) take one sift-down
    # each: the event being handled stays at the root until the device's next arrival replaces
    # it. The two heaps are merged by (time, seq) with one counter for seq, so the order of
    # events is the one a single heap gives. Positions are logical; row = position + AH_ROOT.
    root = np.uint64(AH_ROOT)

    def ah_seq_at(i):
        return dev_arrival_seq[np.uint64(np.int64(ah_entry[i + root, AH_DEVICE]))]

    def ah_sift(n, time_s, seq, dev):
        # put (time_s, dev) of sequence number seq at the root of the heap of n entries; sift it down
        i = np.uint64(0)
        while True:
            first = np.uint64(4) * i + np.uint64(1)
            if first >= n:
                break
            child = first
            tc = ah_entry[first + root, AH_TIME]
            j = first + np.uint64(1)
            last = min(first + np.uint64(4), n)
            while j < last:
                tj = ah_entry[j + root, AH_TIME]
                if tj < tc or (tj == tc and ah_seq_at(j) < ah_seq_at(child)):
                    child = j
                    tc = tj
                j += np.uint64(1)
            if time_s < tc or (time_s == tc and seq < ah_seq_at(child)):
                break
            ah_entry[i + root, AH_TIME] = tc
            ah_entry[i + root, AH_DEVICE] = ah_entry[child + root, AH_DEVICE]
            i = child
        ah_entry[i + root, AH_TIME] = time_s
        ah_entry[i + root, AH_DEVICE] = dev

    def ah_replace_top(time_s, d):
        # the root's device d (the arrival being handled) gets its next arrival
        seq = ints[I_SEQ]
        ints[I_SEQ] = seq + 1
        dev_arrival_seq[d] = seq
        ah_sift(np.uint64(ints[I_AH_N]), time_s, seq, ah_entry[root, AH_DEVICE])

    def ah_pop_top():
        ints[I_AH_N] -= 1
        n = np.uint64(ints[I_AH_N])
        if n > 0:
            ah_sift(n, ah_entry[n + root, AH_TIME], ah_seq_at(n), ah_entry[n + root, AH_DEVICE])

    # -- a moving device's full-cell rates and uplink power from the radio-map candidate of its
    # last mobility step: _handover_check only notes the candidate (dev_map_slot, -1 once taken),
    # as reading the map for every device at every step cost more than the rest of the step,
    # while most devices have no event before their next step. (A closure, like push and pop:
    # arrays handed to a function are reference-counted at every call.)
    def refresh_link(d):
        q = dev_map_slot[d]
        if q >= 0:
            p = mob_map_point[d]
            dev_uplink_bps[d] = map_link[p, q, MAP_RATE_UL]
            dev_downlink_bps[d] = map_link[p, q, MAP_RATE_DL]
            dev_power_tx_next_w[d] = grp_power_tx_base_w[dev_group[d]] + map_link[p, q, MAP_TX]
            dev_map_slot[d] = -1

    # -- the non-Poisson arrivals and the comparing policies: closures, like push and pop (arrays
    # handed to an inlined function are reference-counted at every call: a quarter of the time of
    # a run under min_energy went to that)

    def next_arrival(d, g, now):
        # device d's next arrival after one at now: periodic with jitter (frame k is due at phase
        # + k / rate and arrives a uniform U[0, jitter) later; jitter < period keeps the order),
        # MMPP (_mmpp_next) or trace (the next entry of the device's trace, wrapping around to the
        # start with the cycle added). Poisson and periodic without jitter are inlined in the loop.
        process = grp_arrival[g]
        if process == ARR_PERIODIC:
            nominal = dev_next_nominal_s[d] + 1.0 / grp_rate_hz[g]
            dev_next_nominal_s[d] = nominal
            return nominal + grp_jitter_s[g] * uniform(rng_dev, d)
        if process == ARR_MMPP:
            t, on, switch_s = _mmpp_next(now, dev_mmpp_on[d], dev_mmpp_switch_s[d], grp_rate_hz[g],
                                         grp_mmpp_off_rate_hz[g], grp_mmpp_on_s[g], grp_mmpp_off_s[g], rng_dev, d)
            dev_mmpp_on[d] = on
            dev_mmpp_switch_s[d] = switch_s
            return t
        pos = dev_trace_pos[d] + 1
        if pos == grp_trace_len[g]:
            pos = 0
            dev_trace_base_s[d] += grp_trace_cycle_s[g]
        dev_trace_pos[d] = pos
        return dev_trace_base_s[d] + trace_t_s[grp_trace_start[g] + pos]

    def path_and_gpu_s(s, nd, w, in_bits, out_bits):
        # expected time on the transport path (both ways) and at GPU node nd for a task of workload w
        path_s = 0.0
        if not route_direct[s, nd]:
            path_s = 2.0 * route_latency_s[s, nd]
            bc = route_cell[s, nd]
            if bc >= 0:
                path_s += (in_bits * (cell_flows[UL, bc] + 1) + out_bits * (cell_flows[DL, bc] + 1)) \
                    / cell_rate_bps[bc]
        pool = node_wl_pool[nd, w]
        if pool < 0:
            return np.inf  # the node does not serve this workload
        one_s = node_service_s[nd, w, 0]
        return path_s + pool_q_len[pool] * one_s / pool_servers[pool] + one_s

    def device_option(d, g, backlog, flops, in_bits, out_bits, deadline, c):
        # row 0 of a comparing policy's options (airan.policies O_*): running the task on device d's
        # CPU. Latency: the CPU's backlog (s) plus the task's compute time; energy: compute power x
        # compute time. Returns what every GPU option shares: the uplink and downlink times at the
        # device's full-cell rates divided among the transfers now in its cell c plus this one
        # (processor sharing), s, and transmit and receive power over them plus the per-bit
        # energies, J (the RRC tail, common to every transfer, is left out).
        opts = policy_options
        t_ul = in_bits * (cell_flows[UL, c] + 1) / dev_uplink_bps[d]
        t_dl = out_bits * (cell_flows[DL, c] + 1) / dev_downlink_bps[d]
        e_radio = (dev_power_tx_next_w[d] * t_ul + grp_power_rx_w[g] * t_dl
                   + in_bits * grp_tx_j_per_bit[g] + out_bits * grp_rx_j_per_bit[g])
        compute = flops / grp_flops_per_s[g]
        opts[0, O_NODE] = -1.0
        opts[0, O_LATENCY_S] = backlog + compute
        opts[0, O_ENERGY_J] = grp_power_compute_w[g] * compute
        opts[0, O_MEETS_DEADLINE] = 1.0 if backlog + compute <= deadline else 0.0
        opts[0, O_QUEUED] = 0.0
        opts[0, O_BUSY] = 1.0 if backlog > 0.0 else 0.0
        opts[0, O_SERVERS] = 1.0
        opts[0, O_LOAD] = opts[0, O_BUSY]
        opts[0, O_PATH_LATENCY_S] = 0.0
        opts[0, O_HOPS] = 0.0
        opts[0, O_SERVICE_S] = compute
        opts[0, O_RADIO_S] = 0.0
        return t_ul, t_dl, e_radio

    def node_options(s, w, in_bits, out_bits, deadline, t_radio, e_radio):
        # rows 1, 2, ... of the options: the GPU nodes nearest site s by latency (site_gpu_node
        # then site_gpu_next) that serve workload w, at most max_nodes of them and only those within
        # max_hops transport links; a node's queue, busy and servers are those of the pool serving
        # the workload (the whole node, or its partition). Latency: the radio time of
        # device_option, then path_and_gpu_s. Each row's node is kept in policy_nodes (row 0: -1,
        # the device), which a plug-in policy never sees. Returns the number of rows, the device's
        # included.
        opts = policy_options
        nodes = policy_nodes
        n = 1
        nd = site_gpu_node[s]
        nodes[0] = -1
        while nd >= 0 and n <= max_nodes:
            pool = node_wl_pool[nd, w]
            if route_hops[s, nd] <= max_hops and pool >= 0:
                t = t_radio + path_and_gpu_s(s, nd, w, in_bits, out_bits)
                servers = pool_servers[pool]
                nodes[n] = nd
                opts[n, O_NODE] = nd
                opts[n, O_LATENCY_S] = t
                opts[n, O_ENERGY_J] = e_radio
                opts[n, O_MEETS_DEADLINE] = 1.0 if t <= deadline else 0.0
                opts[n, O_QUEUED] = pool_q_len[pool]
                opts[n, O_BUSY] = pool_busy[pool]
                opts[n, O_SERVERS] = servers
                opts[n, O_LOAD] = (pool_q_len[pool] + pool_busy[pool]) / servers
                opts[n, O_PATH_LATENCY_S] = 0.0 if route_direct[s, nd] else route_latency_s[s, nd]
                opts[n, O_HOPS] = route_hops[s, nd]
                opts[n, O_SERVICE_S] = node_service_s[nd, w, 0]
                opts[n, O_RADIO_S] = t_radio
                n += 1
            nd = site_gpu_next[s, nd]
        return n

    def compare(policy, n):
        # the row a built-in comparing policy picks among the n options; returns its node (-1: the
        # device). min_latency takes the fastest; min_energy the least energy (ties: the faster);
        # deadline the least energy among those expected within the workload's deadline, else the
        # fastest; least_loaded the node with the fewest tasks per server (queued and in service;
        # ties: the nearer); cloud_fallback the nearest node unless it is expected to miss the
        # deadline, else the farthest one considered. Ties go to the earlier row (the device, then
        # the nearer node).
        opts = policy_options
        nodes = policy_nodes
        choice = -1
        if policy == POLICY_LEAST_LOADED:
            best = 1
            for r in range(2, n):
                if opts[r, O_LOAD] < opts[best, O_LOAD]:
                    best = r
            if n > 1:
                choice = nodes[best]
        elif policy == POLICY_CLOUD_FALLBACK:
            if n > 1:
                choice = nodes[1] if opts[1, O_MEETS_DEADLINE] > 0.0 else nodes[n - 1]
        else:
            best = 0
            for r in range(1, n):
                t = opts[r, O_LATENCY_S]
                e = opts[r, O_ENERGY_J]
                meets = opts[r, O_MEETS_DEADLINE] > 0.0
                best_t = opts[best, O_LATENCY_S]
                best_e = opts[best, O_ENERGY_J]
                best_meets = opts[best, O_MEETS_DEADLINE] > 0.0
                if policy == POLICY_MIN_LATENCY:
                    better = t < best_t
                elif policy == POLICY_MIN_ENERGY:
                    better = e < best_e or (e == best_e and t < best_t)
                else:  # deadline: meeting it first, then the least energy; if none meets it, the fastest
                    if meets and not best_meets:
                        better = True
                    elif meets == best_meets and meets:
                        better = e < best_e or (e == best_e and t < best_t)
                    elif meets == best_meets:
                        better = t < best_t
                    else:
                        better = False
                if better:
                    best = r
            choice = nodes[best]
        return choice

    def plugin_choice(now, n, d, group, w, s, charge, deadline, flops, in_bits, out_bits, backlog, x_m, y_m):
        # call the scenario's plug-in policy (airan.policies) on the n options; its node, or -2 with
        # a bad row. Fills the task row (T_*) and a fresh copy of the parameters (what the policy
        # writes there is lost); the row it returns must be one of the options.
        task = policy_task
        task[T_DEVICE] = d
        task[T_GROUP] = group
        task[T_WORKLOAD] = w
        task[T_SITE] = s
        task[T_CHARGE] = charge
        task[T_DEADLINE_S] = deadline
        task[T_FLOPS] = flops
        task[T_INPUT_BITS] = in_bits
        task[T_OUTPUT_BITS] = out_bits
        task[T_CPU_BACKLOG_S] = backlog
        task[T_X_M] = x_m
        task[T_Y_M] = y_m
        policy_params[:] = model_params
        row = plugin(now, _data_ptr(task), _data_ptr(policy_options), n, _data_ptr(policy_params),
                     policy_params.shape[0])
        if row < 0 or row >= n:
            return -2, row
        return policy_nodes[row], row

    def choose_split(d, g, w, s, n, flops, out_bits, backlog, t_dl, ul_sharers):
        # partial offloading: the fastest of running locally, offloading whole, or splitting at a
        # layer. For each considered node (the rows of the options) and each split point j of the
        # workload's layer profile, the expected latency of computing the first f_j FLOP on the
        # device (after its backlog), sending the b_j-bit tensor up (shared with the ul_sharers
        # transfers its cell would then have, as the input would be), crossing the path, queueing,
        # and serving the rest, a batch-of-one time whose FLOPs part is scaled by 1 - f_j / F, then
        # the result down (t_dl); the device's energy is its compute power over its part plus the
        # radio's for b_j bits (Y. Kang et al., "Neurosurgeon: collaborative intelligence between
        # the cloud and mobile edge", ASPLOS 2017, choose the split the same way, from per-layer
        # latency and data size). Takes the least latency (ties: the less energy, then the earlier
        # option). Returns (node, split point); node -1 is the device, split -1 none.
        opts = policy_options
        nodes = policy_nodes
        best = 0
        best_t = opts[0, O_LATENCY_S]
        best_e = opts[0, O_ENERGY_J]
        best_split = -1
        for r in range(1, n):
            t = opts[r, O_LATENCY_S]
            e = opts[r, O_ENERGY_J]
            if t < best_t or (t == best_t and e < best_e):
                best, best_t, best_e, best_split = r, t, e, -1
        n_split = wl_split_n[w]
        if n_split > 0 and n > 1:
            uplink_bps = dev_uplink_bps[d]
            flops_per_s = grp_flops_per_s[g]
            p_compute_w = grp_power_compute_w[g]
            p_tx_w = dev_power_tx_next_w[d]
            p_rx_w = grp_power_rx_w[g]
            tx_j_per_bit = grp_tx_j_per_bit[g]
            rx_j_per_bit = grp_rx_j_per_bit[g]
            for j in range(n_split):
                f = wl_split_flops[w, j]
                bits = wl_split_bits[w, j]
                t_dev = f / flops_per_s
                t_ul = bits * ul_sharers / uplink_bps
                e = (p_compute_w * t_dev + p_tx_w * t_ul + p_rx_w * t_dl
                     + bits * tx_j_per_bit + out_bits * rx_j_per_bit)
                for r in range(1, n):
                    nd = nodes[r]
                    one_s = opts[r, O_SERVICE_S]
                    flops_s = one_s - node_overhead_s[nd, w]  # the part of a batch of one that scales with FLOPs
                    t = (backlog + t_dev + t_ul + t_dl + path_and_gpu_s(s, nd, w, bits, out_bits)
                         - flops_s * f / flops)
                    if t < best_t or (t == best_t and e < best_e):
                        best, best_t, best_e, best_split = r, t, e, j
        return nodes[best], best_split

    # room for the worst case of one event: two pushes, plus the batches one node can start at once
    heap_room = ev_time.shape[0] - 2 - n_workloads * (np.max(node_batch_max) if node_batch_max.shape[0] else 1)

    while True:
        # the next event: the earlier, by (time, seq), of the two heaps' roots
        if ints[I_AH_N] > 0 and (ints[I_EV_N] == 0 or ah_entry[root, AH_TIME] < ev_time[0]
                                 or (ah_entry[root, AH_TIME] == ev_time[0] and ah_seq_at(np.uint64(0)) < ev_seq[0])):
            arrival = True
            if ah_entry[root, AH_TIME] >= until_s:
                break
        elif ints[I_EV_N] > 0:
            arrival = False
            if ev_time[0] >= until_s:
                break
        else:
            break
        # room for the worst case of one event (see heap_room), one new task, one trace row
        if ints[I_EV_N] > heap_room:
            return STATUS_GROW_HEAP
        if ints[I_FREE] < 0:
            return STATUS_GROW_TASKS
        if trace_capacity > 0 and ints[I_TRACE_N] >= trace_capacity:
            return STATUS_TRACE_FULL
        if arrival:
            # left at the arrival heap's root until the device's next arrival replaces it
            now = ah_entry[root, AH_TIME]
            index = np.int64(ah_entry[root, AH_DEVICE])
            seq = dev_arrival_seq[index]
            kind = EV_ARRIVAL
        else:
            if (ev_payload[0] & ((1 << _KIND_BITS) - 1)) == EV_MOVE:
                return STATUS_MOVE  # the caller runs mobility_step, then calls again
            now, kind, index, seq = pop()
        # task slot (for every kind but arrivals) and device: unsigned, like the heap's positions
        k = np.uint64(index)
        d = np.uint64(index)
        direction = 0
        c = 0
        if kind == EV_CELL_END:
            direction = index & 1
            c = index >> 1
            if seq != cell_event_seq[direction, c]:
                ints[I_STALE] += 1
                continue  # replaced by a later reschedule of this cell
            # the flow with the smallest virtual finish time ends now
            found = -1
            prev = -1
            k_prev = -1
            vbest = np.inf
            j = cell_head[direction, c]
            while j >= 0:
                if task_vfinish_s[j] < vbest:
                    vbest = task_vfinish_s[j]
                    found = j
                    k_prev = prev
                prev = j
                j = task_next[j]
            k = np.uint64(found)
        ints[I_EVENTS] += 1
        timer = kind == EV_BATCH_TIMER
        if kind != EV_ARRIVAL and not timer:
            d = np.uint64(task_dev[k])
        # the device's group, whose parameters (grp_*) it shares: one small table for them all
        # rather than a row of each per device (fewer cache lines per event at city scale)
        g = np.uint64(0) if timer else np.uint64(dev_group[d])
        if moving and not timer:
            refresh_link(d)

        # -- the device's energy up to now; is its battery still alive? -------
        alive = timer or not dev_depleted[d]
        t0 = now if timer else dev_t_energy_s[d]
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
            if grp_has_tail[g] and not ul_active and not dl_active:
                tail_end = dev_radio_idle_since_s[d] + grp_rrc_tail_s[g]
                busy_tail = min(max(tail_end - t0, 0.0), dt)
                busy_inactive = min(max(tail_end + grp_rrc_inactive_s[g] - t0, 0.0), dt) - busy_tail
                e_tail = grp_power_tail_w[g] * busy_tail + grp_power_inactive_w[g] * busy_inactive
            p_rx = grp_power_rx_w[g]
            if ul_active and dl_active:  # the radio's constant power is counted once
                p_rx = max(p_rx - dev_power_tx_w[d], 0.0)
            e_idle = grp_power_idle_w[g] * dt
            e_compute = grp_power_compute_w[g] * busy_cpu
            e_tx = dev_power_tx_w[d] * busy_ul
            e_rx = p_rx * busy_dl
            empty = False
            total = e_idle + e_compute + e_tx + e_rx + e_tail
            if grp_battery_model[g] == BATTERY_IDEAL and total < dev_battery_y1[d]:
                dev_battery_y1[d] -= total  # the common case inline: the battery outlasts the interval
            else:
                dt, busy_cpu, busy_ul, busy_dl, busy_tail, busy_inactive, y1, y2, empty = _device_energy(
                    t0, now, dev_cpu_free_s[d], ul_active, dl_active, dev_radio_idle_since_s[d],
                    grp_power_idle_w[g], grp_power_compute_w[g], dev_power_tx_w[d], p_rx,
                    grp_power_tail_w[g], grp_power_inactive_w[g], grp_rrc_tail_s[g], grp_rrc_inactive_s[g],
                    grp_battery_model[g], grp_battery_a[g], grp_battery_b[g], dev_battery_y1[d], dev_battery_y2[d],
                )
                dev_battery_y1[d] = y1
                dev_battery_y2[d] = y2
                e_idle = grp_power_idle_w[g] * dt
                e_compute = grp_power_compute_w[g] * busy_cpu
                e_tx = dev_power_tx_w[d] * busy_ul
                e_rx = p_rx * busy_dl
                e_tail = grp_power_tail_w[g] * busy_tail + grp_power_inactive_w[g] * busy_inactive
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
        to_gpu = False  # the task joins its compute node's queue
        to_transport = False  # the task starts on the transport path between its site and node
        node = -1  # a compute node whose queue may now be served
        hop_end_s = -1.0  # the task is on a transport path's propagation delay until then
        flow_direction = -1  # the task starts a flow in this direction ...
        flow_cell = -1  # ... in this cell

        if kind == EV_CELL_END:
            # -- a flow ends: take it out of its cell, re-time the others -----
            radio = c < n_radio_cells
            n_before = cell_flows[direction, c]
            share = 1.0 if n_before == 1 else share_per_flow(n_before, pf and radio)
            cell_vtime_s[direction, c] += share * (now - cell_t_last_s[direction, c])
            cell_busy_s[direction, c] += now - cell_t_last_s[direction, c]
            cell_t_last_s[direction, c] = now
            if k_prev < 0:
                cell_head[direction, c] = task_next[k]
            else:
                task_next[k_prev] = task_next[k]
            task_next[k] = -1
            cell_flows[direction, c] -= 1
            bits = wl_input_bits[grp_workload[g]] if direction == UL else wl_output_bits[grp_workload[g]]
            if direction == UL and task_flags[k] & F_SPLIT:
                bits = wl_split_bits[grp_workload[g], task_split[k]]
            cell_bits[direction, c] += bits
            if radio:
                dev_flows[direction, d] -= 1
                if alive:
                    # throughput-proportional radio energy, drawn when the transfer completes
                    lump = bits * (grp_tx_j_per_bit[g] if direction == UL else grp_rx_j_per_bit[g])
                    if lump > 0.0:
                        drawn = min(lump, dev_battery_y1[d])  # an emptying battery gives what it has left
                        if direction == UL:
                            dev_e_tx_j[d] += drawn
                        else:
                            dev_e_rx_j[d] += drawn
                        y1, y2, emptied = battery_draw(
                            grp_battery_model[g], dev_battery_y1[d], dev_battery_y2[d], lump)
                        dev_battery_y1[d] = y1
                        dev_battery_y2[d] = y2
                        if emptied:
                            dev_depleted[d] = True
                            dev_t_depleted_s[d] = now
                            alive = False
                if dev_flows[UL, d] + dev_flows[DL, d] == 0:
                    dev_radio_idle_since_s[d] = now  # the RRC tail starts
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
                share = 1.0 if n_left == 1 else share_per_flow(n_left, pf and radio)
                wait = max(vmin - cell_vtime_s[direction, c], 0.0) / share
                cell_event_seq[direction, c] = push(now + wait, EV_CELL_END, 2 * c + direction)
            else:
                cell_vmin_s[direction, c] = np.inf
                cell_event_seq[direction, c] = -1

            # the transfer's time counts whether or not the device is still alive
            if radio:
                if direction == DL:
                    downlink_s = now - task_t_mark_s[k]
                else:
                    task_uplink_s[k] = now - task_t_mark_s[k]
            if not alive:
                outcome = OUT_DROPPED_BATTERY
            elif radio and direction == DL:
                outcome = OUT_COMPLETED
            elif radio:
                # uplink done: on to the compute node, over the transport path unless co-located
                if route_direct[task_site[k], task_node[k]]:
                    to_gpu = True
                else:
                    to_transport = True
            else:
                # off the bottleneck link: the propagation delay, or straight on
                lat = route_latency_s[task_site[k], task_node[k]]
                if lat > 0.0:
                    hop_end_s = now + lat
                else:
                    task_backhaul_s[k] += now - task_t_mark_s[k]
                    if direction == UL:
                        to_gpu = True
                    else:
                        flow_direction = DL

        elif kind == EV_ARRIVAL:
            # -- arrival: next arrival, new task, local or uplink -------------
            if not alive:
                ah_pop_top()
                continue  # an empty battery generates no more tasks
            process = grp_arrival[g]
            if process == ARR_POISSON:
                t_next = now + exponential(rng_dev, d, 1.0 / grp_rate_hz[g])
            elif process == ARR_PERIODIC and grp_jitter_s[g] == 0.0:
                t_next = now + 1.0 / grp_rate_hz[g]
            else:
                t_next = next_arrival(d, g, now)
            ah_replace_top(t_next, d)
            # the device's data that only the task's later events use (transfer ends, completion;
            # the rest of its record): asked for now, while the arrival's own cache misses are
            # waited for, rather than missed one at a time then (city-scale runs, where device
            # data outgrows the caches)
            _prefetch(dev_bits, UL, d)
            _prefetch(dev_bits, DL, d)
            _prefetch(dev_flow_s, UL, d)
            _prefetch(dev_flow_s, DL, d)
            _prefetch(dev_completed, d, 0)
            _prefetch(dev_latency_sum_s, d, 0)
            k = np.uint64(ints[I_FREE])
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
                wl_counts[grp_workload[g], WL_GENERATED] += 1
            s = dev_site[d]
            # offload where the policy says so, a GPU is reachable and the device has a link
            choice = -1  # local
            split = -1  # partial offloading: the split point chosen (-1: none)
            if dev_offload[d] and site_gpu_node[s] >= 0 and dev_uplink_bps[d] > 0.0 and dev_downlink_bps[d] > 0.0:
                choice = site_gpu_node[s]
                if grp_policy[g] >= POLICY_MIN_LATENCY:
                    # a comparing policy (see the Policy docs): the device's option, then the GPU nodes'
                    policy = grp_policy[g]
                    w = grp_workload[g]
                    flops = wl_flops[w]
                    in_bits = wl_input_bits[w]
                    out_bits = wl_output_bits[w]
                    deadline = wl_deadline_s[w]
                    c = dev_cell[d]
                    backlog = max(dev_cpu_free_s[d] - now, 0.0)
                    t_ul, t_dl, e_radio = device_option(d, g, backlog, flops, in_bits, out_bits, deadline, c)
                    n_opts = node_options(s, w, in_bits, out_bits, deadline, t_ul + t_dl, e_radio)
                    charge = (dev_battery_y1[d] + dev_battery_y2[d]) / grp_capacity_j[g]
                    if policy == POLICY_PLUGIN:
                        choice, row = plugin_choice(now, n_opts, d, dev_group[d], w, s, charge, deadline, flops,
                                                    in_bits, out_bits, backlog, mob_x_m[d], mob_y_m[d])
                        if choice == -2:
                            ints[I_POLICY_BAD_ROW] = row
                            ints[I_POLICY_BAD_N] = n_opts
                            return STATUS_POLICY_ERROR
                    elif policy == POLICY_PARTIAL:
                        choice, split = choose_split(d, g, w, s, n_opts, flops, out_bits, backlog, t_dl,
                                                     cell_flows[UL, c] + 1)
                    else:
                        if policy == POLICY_BATTERY:
                            policy = POLICY_MIN_LATENCY if charge > battery_threshold else POLICY_MIN_ENERGY
                        choice = compare(policy, n_opts)
            if choice >= 0:
                task_site[k] = s
                task_node[k] = choice
                task_backhaul_s[k] = 0.0
                flags |= F_OFFLOADED
                if flags & F_COUNTED:
                    ints[I_OFFLOADED] += 1
                dev_offloaded[d] += 1
                if split >= 0:
                    # the device runs the first layers, then sends their output up
                    flags |= F_SPLIT
                    task_split[k] = split
                    if flags & F_COUNTED:
                        ints[I_SPLIT] += 1
                        wl_split_counts[grp_workload[g], split] += 1
                    to_local = True
                else:
                    flow_direction = UL
            else:
                if flags & F_COUNTED:
                    ints[I_LOCAL] += 1
                to_local = True
            task_flags[k] = flags

        elif kind == EV_GPU_END:
            # -- service done: free the server, send the result back ----------
            nd = task_node[k]
            dt_node = now - node_t_last_s[nd]
            node_busy_area_s[nd] += node_busy_slices[nd] * dt_node / node_mig_slices[nd]
            node_queue_area_s[nd] += node_q_len[nd] * dt_node
            node_t_last_s[nd] = now
            free = True
            if node_batch_max[nd] > 1:
                server = task_server[k]
                server_left[server] -= 1
                free = server_left[server] == 0  # the batch's last task: the server is free
            if free:
                pool = node_wl_pool[nd, grp_workload[g]]
                node_busy[nd] -= 1
                pool_busy[pool] -= 1
                node_busy_slices[nd] -= pool_slices[pool]
            node = nd
            task_flags[k] |= F_RETURN
            if not alive:
                outcome = OUT_DROPPED_BATTERY
            else:
                s = dev_site[d]
                if s != task_site[k] and route_latency_s[s, nd] < np.inf:
                    # back through the device's site now: it has moved (with no transport path from
                    # there, as between the sites of a topology without links, the result goes back
                    # the way it came and reaches the device's new cell at no cost)
                    task_flags[k] |= F_REROUTED
                    task_site[k] = s
                if route_direct[task_site[k], nd]:
                    flow_direction = DL
                else:
                    to_transport = True

        elif kind == EV_HOP_END:
            # -- the propagation delay of the transport path has passed --------
            if not alive:
                outcome = OUT_DROPPED_BATTERY
            elif task_flags[k] & F_FALLBACK:
                task_backhaul_s[k] += now - task_t_mark_s[k]  # the refusal is back: run the task locally
                to_local = True
            else:
                task_backhaul_s[k] += now - task_t_mark_s[k]
                if task_flags[k] & F_RETURN:
                    flow_direction = DL
                else:
                    to_gpu = True

        elif timer:
            # -- a batching delay ran out: the node may start a smaller batch --
            node = index
            if now >= node_timer_s[node]:
                node_timer_s[node] = np.inf
            dt_node = now - node_t_last_s[node]  # integrals up to now, before a batch starts
            node_busy_area_s[node] += node_busy_slices[node] * dt_node / node_mig_slices[node]
            node_queue_area_s[node] += node_q_len[node] * dt_node
            node_t_last_s[node] = now

        else:  # EV_LOCAL_END
            if not alive:
                outcome = OUT_DROPPED_BATTERY
            elif (task_flags[k] & F_SPLIT) != 0 and (task_flags[k] & F_FALLBACK) == 0:
                flow_direction = UL  # the device's layers are done: their output goes up
                s = dev_site[d]
                if s != task_site[k] and route_latency_s[s, task_node[k]] < np.inf:
                    task_site[k] = s  # it has moved meanwhile: up through its current site
            else:
                outcome = OUT_COMPLETED

        # -- the task reaches its compute node: FIFO, or a full queue ---------
        if to_gpu:
            nd = task_node[k]
            w = grp_workload[g]
            task_t_mark_s[k] = now
            counted = (task_flags[k] & F_COUNTED) != 0
            if counted:
                ints[I_GPU_ARRIVALS] += 1
            pool = node_wl_pool[nd, w]
            admit = pool >= 0  # a node whose partitions do not serve the workload refuses it
            if admit and node_deadline_admission[nd]:
                # expected completion: the work queued ahead spread over the servers, then its own service
                own_s = node_service_s[nd, w, 0]
                ahead_s = pool_q_len[pool] * own_s / pool_servers[pool]
                if task_flags[k] & F_SPLIT:  # its own layers are done: the rest
                    own_s = node_overhead_s[nd, w] + (own_s - node_overhead_s[nd, w]) * (
                        1.0 - wl_split_flops[w, task_split[k]] / wl_flops[w])
                expected_s = now + ahead_s + own_s
                admit = expected_s - task_t_gen_s[k] <= wl_deadline_s[w]
            if admit and pool_busy[pool] < pool_servers[pool]:
                node = nd
            elif admit and (node_queue_capacity[nd] < 0 or pool_q_len[pool] < node_queue_capacity[nd]):
                node = nd
                if counted:
                    ints[I_GPU_ENQUEUED] += 1
            elif node_on_full[nd] == ON_FULL_NEXT and site_gpu_next[task_site[k], nd] >= 0:
                # on to the next GPU node by latency from the task's site, over its transport path
                node_rejected[nd] += 1
                if counted and (task_flags[k] & F_REFUSED) == 0:
                    ints[I_REFUSED] += 1
                    ints[I_FORWARDED] += 1
                task_flags[k] |= F_REFUSED | F_FORWARDED
                task_node[k] = site_gpu_next[task_site[k], nd]
                to_transport = True
            else:
                node_rejected[nd] += 1
                if counted and (task_flags[k] & F_REFUSED) == 0:
                    ints[I_REFUSED] += 1
                task_flags[k] |= F_REFUSED
                if node_on_full[nd] == ON_FULL_LOCAL:
                    task_flags[k] |= F_FALLBACK
                    if counted:
                        ints[I_FALLBACK] += 1
                    lat = route_latency_s[task_site[k], nd]
                    if lat > 0.0:  # the refusal travels back over the path first (a small message)
                        hop_end_s = now + lat
                    else:
                        to_local = True
                else:
                    outcome = OUT_DROPPED_QUEUE_FULL
            if node >= 0:
                if counted:
                    ints[I_GPU_ACCEPTED] += 1
                # integrals up to now, then append to the workload's queue (served below)
                dt_node = now - node_t_last_s[nd]
                node_busy_area_s[nd] += node_busy_slices[nd] * dt_node / node_mig_slices[nd]
                node_queue_area_s[nd] += node_q_len[nd] * dt_node
                node_t_last_s[nd] = now
                if node_wq_len[nd, w] == 0:
                    node_q_head[nd, w] = k
                else:
                    task_next[node_q_tail[nd, w]] = k
                node_q_tail[nd, w] = k
                task_next[k] = -1
                node_wq_len[nd, w] += 1
                node_q_len[nd] += 1
                pool_q_len[pool] += 1

        # -- onto the transport path (not co-located; a refused task to the next node): bottleneck link or delay
        if to_transport:
            task_t_mark_s[k] = now
            s = task_site[k]
            nd = task_node[k]
            bc = route_cell[s, nd]
            if bc >= 0:
                flow_cell = bc
                flow_direction = UL if (task_flags[k] & F_RETURN) == 0 else DL
            else:
                hop_end_s = now + route_latency_s[s, nd]

        if hop_end_s >= 0.0:
            push(hop_end_s, EV_HOP_END, k)

        # -- a new flow joins a cell: the device's radio cell, or a transport link
        if flow_direction >= 0:
            w = grp_workload[g]
            bits = wl_input_bits[w] if flow_direction == UL else wl_output_bits[w]
            if flow_direction == UL and task_flags[k] & F_SPLIT:
                bits = wl_split_bits[w, task_split[k]]
            if flow_cell >= 0:
                c = flow_cell
                airtime = bits / cell_rate_bps[c]
                radio = False
            else:
                c = dev_cell[d]
                radio = True
                if flow_direction == UL:
                    rate = dev_uplink_bps[d]
                    if moving:
                        dev_power_tx_w[d] = dev_power_tx_next_w[d]
                else:
                    rate = dev_downlink_bps[d]
                if rate > 0.0:
                    airtime = bits / rate
                else:
                    airtime = 0.0
                    outcome = OUT_DROPPED_RADIO  # moved out of coverage while its task was away
                    flow_direction = -1
        if flow_direction >= 0:
            n_now = cell_flows[flow_direction, c]
            if n_now > 0:
                share = 1.0 if n_now == 1 else share_per_flow(n_now, pf and radio)
                cell_vtime_s[flow_direction, c] += share * (now - cell_t_last_s[flow_direction, c])
                cell_busy_s[flow_direction, c] += now - cell_t_last_s[flow_direction, c]
            else:
                cell_vmin_s[flow_direction, c] = np.inf
            cell_t_last_s[flow_direction, c] = now
            vfinish = cell_vtime_s[flow_direction, c] + airtime
            task_vfinish_s[k] = vfinish
            if radio:
                task_t_mark_s[k] = now
                dev_flows[flow_direction, d] += 1
            task_next[k] = cell_head[flow_direction, c]
            cell_head[flow_direction, c] = k
            cell_flows[flow_direction, c] = n_now + 1
            vmin = min(cell_vmin_s[flow_direction, c], vfinish)
            cell_vmin_s[flow_direction, c] = vmin
            share = 1.0 if n_now == 0 else share_per_flow(n_now + 1, pf and radio)
            wait = max(vmin - cell_vtime_s[flow_direction, c], 0.0) / share
            cell_event_seq[flow_direction, c] = push(now + wait, EV_CELL_END, 2 * c + flow_direction)

        # -- a node with a free server starts batches: dynamic batching -------
        if node >= 0:
            batch_max = node_batch_max[node]
            timeout_s = node_batch_timeout_s[node]
            while node_busy[node] < node_servers[node] and node_q_len[node] > 0:
                # the workload whose oldest task has waited longest, among those with a full batch
                # or a task whose batching delay has run out and a free server in their pool;
                # otherwise wake up when one runs out
                pick = -1
                t_pick = np.inf
                wake_s = np.inf
                for wq in range(n_workloads):
                    length = node_wq_len[node, wq]
                    if length == 0:
                        continue
                    pool = node_wl_pool[node, wq]
                    if pool_busy[pool] == pool_servers[pool]:
                        continue
                    t_head = task_t_mark_s[node_q_head[node, wq]]
                    if length >= batch_max or now >= t_head + timeout_s:
                        if t_head < t_pick:
                            pick = wq
                            t_pick = t_head
                    else:
                        wake_s = min(wake_s, t_head + timeout_s)
                if pick < 0:
                    if wake_s < node_timer_s[node]:
                        node_timer_s[node] = wake_s
                        push(wake_s, EV_BATCH_TIMER, node)
                    break
                size = min(node_wq_len[node, pick], batch_max)
                mean = node_service_s[node, pick, size - 1]
                if wl_split_n[pick] > 0:
                    # split tasks bring their first layers done: the batch runs the largest remainder (the
                    # fixed overhead in full; a measured latency row, with no overhead known, scales whole)
                    left = 0.0
                    j = node_q_head[node, pick]
                    for _ in range(size):
                        if task_flags[j] & F_SPLIT:
                            left = max(left, 1.0 - wl_split_flops[pick, task_split[j]] / wl_flops[pick])
                        else:
                            left = 1.0
                        j = task_next[j]
                    overhead = node_overhead_s[node, pick]
                    mean = overhead + (mean - overhead) * left
                service = exponential(rng_node, node, mean) if node_exponential[node] else mean
                pool = node_wl_pool[node, pick]
                server = -1
                if batch_max > 1:
                    server = pool_server0[pool]
                    while server_left[server] > 0:
                        server += 1
                    server_left[server] = size
                node_busy[node] += 1
                pool_busy[pool] += 1
                node_busy_slices[node] += pool_slices[pool]
                pool_q_len[pool] -= size
                node_batches[node] += 1
                for _ in range(size):
                    j = node_q_head[node, pick]
                    node_q_head[node, pick] = task_next[j]
                    task_next[j] = -1
                    node_wq_len[node, pick] -= 1
                    node_q_len[node] -= 1
                    node_served[node] += 1
                    task_gpu_wait_s[j] = now - task_t_mark_s[j]
                    task_gpu_service_s[j] = service
                    task_server[j] = server
                    push(now + service, EV_GPU_END, j)
                    tokens = wl_output_tokens[pick]
                    dj = task_dev[j]
                    if tokens > 0 and moving:  # the time to first token reads the device's downlink rate
                        refresh_link(dj)
                    if tokens > 0 and (task_flags[j] & F_COUNTED) != 0 and dev_downlink_bps[dj] > 0.0:
                        # the first token: the batch's prefill, the path back and the token's own airtime
                        prefill = node_prefill_s[node, pick, size - 1] * service / mean
                        ttft = (now - task_t_gen_s[j] + prefill + route_latency_s[task_site[j], node]
                                + wl_output_bits[pick] / tokens / dev_downlink_bps[dj])
                        wl_ttft_hist[pick, histogram.bin_index(ttft)] += 1
                        wl_token_sums[pick, 0] += ttft
                        wl_token_sums[pick, 1] += tokens
                        wl_token_sums[pick, 2] += service - prefill

        # -- the task joins its device's CPU queue (FIFO, deterministic) ------
        if to_local:
            start = max(now, dev_cpu_free_s[d])
            work = wl_flops[grp_workload[g]]
            if task_flags[k] & F_SPLIT:
                # the layers up to the split, or (refused by the GPU) the rest of them
                part = wl_split_flops[grp_workload[g], task_split[k]]
                work = work - part if task_flags[k] & F_FALLBACK else part
            end = start + work / grp_flops_per_s[g]
            dev_cpu_free_s[d] = end
            task_local_s[k] += end - now
            if (task_flags[k] & F_SPLIT) == 0 or (task_flags[k] & F_FALLBACK) != 0:
                dev_ran_local[d] += 1  # a split task's own layers are not a local run; its refused rest is
            push(end, EV_LOCAL_END, k)

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
                    w = grp_workload[g]
                    hist[w, histogram.bin_index(latency)] += 1
                    wl_counts[w, WL_COMPLETED] += 1
                    wl_latency_s[w] += latency
                    if latency > wl_deadline_s[w]:
                        ints[I_DEADLINE_MISS] += 1
                        wl_counts[w, WL_DEADLINE_MISS] += 1
                    if flags & F_OFFLOADED:
                        ints[I_N_UPLINK_DONE] += 1
                        sums[S_UPLINK] += task_uplink_s[k]
                    if (flags & F_SPLIT) != 0 and (flags & F_FALLBACK) == 0:
                        ints[I_N_LOCAL_DONE] += 1
                        sums[S_LOCAL] += task_local_s[k]
                    if (flags & F_OFFLOADED) != 0 and (flags & F_FALLBACK) == 0:
                        ints[I_N_GPU_DONE] += 1
                        sums[S_GPU_WAIT] += task_gpu_wait_s[k]
                        sums[S_GPU_SERVICE] += task_gpu_service_s[k]
                        sums[S_DOWNLINK] += downlink_s
                        sums[S_BACKHAUL] += task_backhaul_s[k]
                        if flags & F_REROUTED:
                            ints[I_REROUTED] += 1
                    else:
                        ints[I_N_LOCAL_DONE] += 1
                        sums[S_LOCAL] += task_local_s[k]
            else:
                dev_dropped[d] += 1
                if flags & F_COUNTED:
                    wl_counts[grp_workload[g], WL_DROPPED] += 1
                    if outcome == OUT_DROPPED_QUEUE_FULL:
                        ints[I_DROPPED_QUEUE] += 1
                    elif outcome == OUT_DROPPED_RADIO:
                        ints[I_DROPPED_RADIO] += 1
                    else:
                        ints[I_DROPPED_BATTERY] += 1
            if trace_capacity > 0:
                n = ints[I_TRACE_N]
                trace_f[n, TF_T_GEN] = task_t_gen_s[k]
                trace_f[n, TF_T_END] = now
                trace_f[n, TF_LOCAL] = task_local_s[k]
                trace_f[n, TF_UPLINK] = task_uplink_s[k]
                trace_f[n, TF_BACKHAUL] = task_backhaul_s[k] if flags & F_OFFLOADED else 0.0
                trace_f[n, TF_GPU_WAIT] = task_gpu_wait_s[k]
                trace_f[n, TF_GPU_SERVICE] = task_gpu_service_s[k]
                trace_f[n, TF_DOWNLINK] = downlink_s
                trace_i[n, TI_TASK] = task_id[k]
                trace_i[n, TI_DEVICE] = d
                trace_i[n, TI_WORKLOAD] = grp_workload[g]
                trace_i[n, TI_NODE] = task_node[k] if flags & F_OFFLOADED else -1
                trace_i[n, TI_SITE] = task_site[k] if flags & F_OFFLOADED else -1
                trace_i[n, TI_OUTCOME] = outcome
                if flags & F_FALLBACK:
                    trace_i[n, TI_RAN] = RAN_FALLBACK
                elif flags & F_SPLIT:
                    trace_i[n, TI_RAN] = RAN_SPLIT
                elif flags & F_OFFLOADED:
                    trace_i[n, TI_RAN] = RAN_GPU
                else:
                    trace_i[n, TI_RAN] = RAN_LOCAL
                ints[I_TRACE_N] = n + 1
            task_next[k] = ints[I_FREE]
            ints[I_FREE] = k
    return STATUS_DONE


@njit(cache=True, nogil=True, error_model="numpy")
def schedule_first_arrivals(m, st):
    """Put each device's first arrival in the heap (Poisson: exponential gap; periodic: random phase)."""
    for d in range(m.dev_site.shape[0]):
        g = m.dev_group[d]
        process = m.grp_arrival[g]
        if process == ARR_POISSON:
            first = exponential(st.rng_dev, d, 1.0 / m.grp_rate_hz[g])
        elif process == ARR_PERIODIC:
            first = uniform(st.rng_dev, d) / m.grp_rate_hz[g]  # a uniformly random phase
            st.dev_next_nominal_s[d] = first
            if m.grp_jitter_s[g] > 0.0:
                first += m.grp_jitter_s[g] * uniform(st.rng_dev, d)
        elif process == ARR_MMPP:
            # the stationary state: on with probability on / (on + off), a residual period (memoryless)
            on_s = m.grp_mmpp_on_s[g]
            off_s = m.grp_mmpp_off_s[g]
            on = uniform(st.rng_dev, d) < on_s / (on_s + off_s)
            switch_s = exponential(st.rng_dev, d, on_s if on else off_s)
            first, on, switch_s = _mmpp_next(0.0, on, switch_s, m.grp_rate_hz[g], m.grp_mmpp_off_rate_hz[g], on_s,
                                             off_s, st.rng_dev, d)
            st.dev_mmpp_on[d] = on
            st.dev_mmpp_switch_s[d] = switch_s
        else:
            # replay from a uniformly random offset into the cycle: arrivals at base + t_i
            start = m.grp_trace_start[g]
            n = m.grp_trace_len[g]
            offset = m.grp_trace_cycle_s[g] * uniform(st.rng_dev, d)
            pos = np.searchsorted(m.trace_t_s[start:start + n], offset)
            base = -offset
            if pos == n:
                pos = 0
                base += m.grp_trace_cycle_s[g]
            st.dev_trace_pos[d] = pos
            st.dev_trace_base_s[d] = base
            first = base + m.trace_t_s[start + pos]
        _ah_push(st.ah_entry, st.dev_i8[:, DI8_ARRIVAL_SEQ], st.ints, first, d)
    if m.mob_step_s[0] > 0.0 and m.mob_devices.shape[0] > 0:
        _push(st.ev_time, st.ev_seq, st.ev_payload, st.ints, m.mob_step_s[0], EV_MOVE, 0)


@njit(cache=True, nogil=True, error_model="numpy")
def settle(m, st, now):
    """Bring every device's energy and every node's and cell's integrals up to ``now`` (end of a run).

    Always the segment walk of :func:`_device_energy` (the loop inlines its common
    case); it runs on a copy of the state, so results never depend on when it ran.
    """
    now = np.float64(now)
    dev_battery_y1 = st.dev_f[:, DF_BATTERY_Y1]
    dev_battery_y2 = st.dev_f[:, DF_BATTERY_Y2]
    dev_cpu_free_s = st.dev_f[:, DF_CPU_FREE_S]
    dev_e_compute_j = st.dev_f[:, DF_E_COMPUTE_J]
    dev_e_idle_j = st.dev_f[:, DF_E_IDLE_J]
    dev_e_rx_j = st.dev_f[:, DF_E_RX_J]
    dev_e_tail_j = st.dev_f[:, DF_E_TAIL_J]
    dev_e_tx_j = st.dev_f[:, DF_E_TX_J]
    dev_flows = st.dev_i4[:, DI4_FLOWS:DI4_FLOWS + 2].T
    dev_power_tx_w = st.dev_f[:, DF_POWER_TX_W]
    dev_radio_idle_since_s = st.dev_f[:, DF_RADIO_IDLE_SINCE_S]
    dev_t_energy_s = st.dev_f[:, DF_T_ENERGY_S]
    for d in range(m.dev_site.shape[0]):
        t0 = dev_t_energy_s[d]
        if st.dev_depleted[d] or now <= t0:
            continue
        g = m.dev_group[d]
        ul_active = dev_flows[UL, d] > 0
        dl_active = dev_flows[DL, d] > 0
        p_rx = m.grp_power_rx_w[g]
        if ul_active and dl_active:  # the radio's constant power is counted once
            p_rx = max(p_rx - dev_power_tx_w[d], 0.0)
        dt, busy_cpu, busy_ul, busy_dl, busy_tail, busy_inactive, y1, y2, empty = _device_energy(
            t0, now, dev_cpu_free_s[d], ul_active, dl_active,
            dev_radio_idle_since_s[d],
            m.grp_power_idle_w[g], m.grp_power_compute_w[g], dev_power_tx_w[d], p_rx,
            m.grp_power_tail_w[g], m.grp_power_inactive_w[g], m.grp_rrc_tail_s[g], m.grp_rrc_inactive_s[g],
            m.grp_battery_model[g], m.grp_battery_a[g], m.grp_battery_b[g], dev_battery_y1[d],
            dev_battery_y2[d],
        )
        dev_battery_y1[d] = y1
        dev_battery_y2[d] = y2
        dev_e_idle_j[d] += m.grp_power_idle_w[g] * dt
        dev_e_compute_j[d] += m.grp_power_compute_w[g] * busy_cpu
        dev_e_tx_j[d] += dev_power_tx_w[d] * busy_ul
        dev_e_rx_j[d] += p_rx * busy_dl
        dev_e_tail_j[d] += m.grp_power_tail_w[g] * busy_tail + m.grp_power_inactive_w[g] * busy_inactive
        dev_t_energy_s[d] = t0 + dt
        if empty:
            st.dev_depleted[d] = True
            st.dev_t_depleted_s[d] = t0 + dt
    for n in range(m.node_servers.shape[0]):
        dt_node = now - st.node_t_last_s[n]
        if dt_node > 0.0:
            st.node_busy_area_s[n] += st.node_busy_slices[n] * dt_node / m.node_mig_slices[n]
            st.node_queue_area_s[n] += st.node_q_len[n] * dt_node
            st.node_t_last_s[n] = now
    n_radio_cells = m.cell_site.shape[0]
    for direction in range(2):
        for c in range(st.cell_flows.shape[1]):
            if st.cell_flows[direction, c] > 0 and now > st.cell_t_last_s[direction, c]:
                pf = m.proportional_fair[0] and c < n_radio_cells
                st.cell_vtime_s[direction, c] += share_per_flow(st.cell_flows[direction, c], pf) * (
                    now - st.cell_t_last_s[direction, c])
                st.cell_busy_s[direction, c] += now - st.cell_t_last_s[direction, c]
                st.cell_t_last_s[direction, c] = now
