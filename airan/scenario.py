"""Scenario files: TOML in, frozen and validated objects out.

A scenario is parsed once into the immutable :class:`Scenario` tree below. Every
field states its unit (in its name or description) and its default; unknown keys,
wrong types, missing required values and out-of-range numbers are rejected with
:class:`ScenarioError`, whose message is one line::

    quickstart.toml: sites[0].gpu.servers: must be >= 1, got 0

``--set a.b=value`` overrides edit the raw TOML data *before* validation, so an
override is checked exactly like the file.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "BaseStation",
    "Compute",
    "Mobility",
    "TopologyRef",
    "Gpu",
    "Site",
    "Workload",
    "DeviceGroup",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "scenario_from_dict",
    "apply_overrides",
    "dump_scenario",
]


class ScenarioError(ValueError):
    """A scenario (file, dict or override) that does not validate; the message is one line."""


class _Model(BaseModel):
    # strict: no silent coercion ("1" is not a number, 1.0 is not an integer);
    # forbid: an unknown key is an error, never ignored.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class Partition(_Model):
    """A MIG-style partition of every GPU at a node: ``count`` instances of ``slices`` compute
    slices each, with a queue of their own for the workloads listed.

    An instance has ``slices / mig_slices`` of the GPU's FLOP/s and memory bandwidth (NVIDIA
    Multi-Instance GPU: an A100 or H100 splits into 7 compute slices, with memory and cache
    partitioned alongside; "MIG User Guide", NVIDIA), so a batch of ``b`` takes
    ``batch_overhead_s + b flops / (flops_per_s x slices / mig_slices)``; the instances are
    isolated: work waiting for one partition never runs on another.
    """

    name: str = Field(min_length=1, description="partition name, unique within the GPU")
    slices: int = Field(ge=1, description="compute slices of one instance (e.g. 1, 2, 3, 4 or 7 of an H100's 7)")
    count: int = Field(1, ge=1, description="instances of this size on each GPU")
    workloads: tuple[str, ...] = Field(
        min_length=1, strict=False, description="the workloads this partition serves (each workload in at most one "
        "partition; a workload in none is refused by the node)")


class Gpu(_Model):
    """A GPU node (at a site, an aggregation node or in the cloud): ``servers`` identical GPUs fed
    by one queue per workload, or, with ``partitions``, each GPU split MIG-style into instances
    that serve only their partition's workloads.

    A free server takes a batch of up to ``batch_max`` tasks of one workload (the
    workload whose oldest task has waited longest) as soon as a full batch is waiting
    or its oldest task has waited ``batch_timeout_s`` (dynamic batching, as in
    Triton's dynamic batcher). A batch of ``b`` takes ``batch_overhead_s + b flops /
    flops_per_s`` (or the workload's ``batch_latency_s`` row), deterministic or
    exponential with that mean; with ``batch_max = 1`` this is one task per server,
    FIFO. At a site, the GPU may also run the radio's baseband: it then takes a share
    of the GPU's time and inference runs on the rest (a time-average, fluid model;
    see ``ran_share``).
    """

    accelerator: str | None = Field(
        None, description="accelerator profile (docs/profiles.md) filling flops_per_s and the powers; omit for none")
    servers: int = Field(ge=1, description="number of identical servers (GPUs or GPU instances), c")
    flops_per_s: float = Field(gt=0, description="sustained inference throughput of one server, FLOP/s")
    power_idle_w: float | None = Field(None, ge=0, description="power of one idle server, W; omit: no GPU energy")
    power_peak_w: float | None = Field(None, ge=0, description="power of one busy server, W (linear in between)")
    memory_bw_bytes_per_s: float | None = Field(
        None, gt=0, description="memory bandwidth of one server, bytes/s: an LLM's decode reads every weight per "
        "token, so a token takes at least weight_bytes / this; omit for compute-bound decoding")
    service: Literal["deterministic", "exponential"] = Field(
        "deterministic", description="service-time distribution; its mean is flops / flops_per_s"
    )
    queue_capacity: int | None = Field(
        None, ge=0, description="maximum number of waiting tasks (not counting those in service; with partitions, "
        "in each partition); omit for unlimited"
    )
    on_full: Literal["drop", "local", "next_node"] = Field(
        "drop", description="what happens to a task the queue refuses: dropped, executed on its device, or sent on "
        "to the next GPU node by latency from its site (dropped when there is none)"
    )
    admission: Literal["queue", "deadline"] = Field(
        "queue", description="refuse a task only when the queue is full, or also when its expected completion "
        "would miss its deadline: the tasks queued ahead of it times its own batch-of-one time, spread over the "
        "servers, plus that time (a simple estimate: batching delays and running batches are left out)")
    batch_max: int = Field(1, ge=1, le=1024, description="largest batch a server takes")
    batch_timeout_s: float = Field(
        0.0, ge=0, description="longest a task waits for its batch to fill before a smaller batch starts, s")
    batch_overhead_s: float = Field(
        0.0, ge=0, description="fixed time of a batch on top of its FLOPs (kernel launches, weight reads), s")
    batch_latency_s: dict[str, Annotated[tuple[float, ...], Field(strict=False)]] | None = Field(
        None, strict=False, description="per workload name, the measured latency of a batch of 1, 2, ... tasks, s "
        "(at least batch_max entries); replaces the overhead + FLOPs model for that workload")
    ran_share: float = Field(
        0.0, ge=0, lt=1, description="fraction of the GPU's time the site's baseband takes: at full cell load "
        "(ran_priority strict) or always (reserved); 0: inference only")
    ran_priority: Literal["strict", "reserved"] = Field(
        "strict", description="strict: the baseband takes ran_share x the site's cell load first; reserved: it "
        "keeps ran_share whatever the load")
    ran_load: float | None = Field(
        None, ge=0, le=1, description="the cell load the baseband follows (strict); omit for the site's cell load "
        "predicted from the offered traffic")
    partitions: tuple[Partition, ...] | None = Field(
        None, strict=False, min_length=1, description="MIG-style partitions of each GPU, each with its own queue for "
        "its workloads; omit for whole GPUs serving every workload")
    mig_slices: int = Field(
        7, ge=1, le=64, description="compute slices a GPU splits into (7 on an A100 or H100)")

    @model_validator(mode="before")
    @classmethod
    def _from_profile(cls, data: Any) -> Any:
        return _fill_from_profile(data, "accelerator", _accelerator_fields)

    @model_validator(mode="after")
    def _batching(self) -> Gpu:
        for name, row in (self.batch_latency_s or {}).items():
            if len(row) < self.batch_max:
                raise ValueError(f"batch_latency_s.{name}: needs at least batch_max ({self.batch_max}) latencies, "
                                 f"got {len(row)}")
            if any(not (t > 0 and math.isfinite(t)) for t in row):
                raise ValueError(f"batch_latency_s.{name}: latencies must be finite and > 0, got {list(row)!r}")
        if self.ran_load is not None and self.ran_priority != "strict":
            raise ValueError("ran_load: only used with ran_priority = \"strict\"")
        if self.partitions is not None:
            used = sum(p.slices * p.count for p in self.partitions)
            if used > self.mig_slices:
                raise ValueError(f"partitions: the instances take {used} slices, more than the GPU's mig_slices "
                                 f"({self.mig_slices})")
            names: set[str] = set()
            served: set[str] = set()
            for i, part in enumerate(self.partitions):
                if part.name in names:
                    raise ValueError(f"partitions[{i}].name: must be unique, got duplicate {part.name!r}")
                names.add(part.name)
                for w in part.workloads:
                    if w in served:
                        raise ValueError(f"partitions[{i}].workloads: {w!r} is already served by another partition")
                    served.add(w)
            if self.batch_latency_s:
                raise ValueError("batch_latency_s: not with partitions (an instance's batch time follows from its "
                                 "share of flops_per_s)")
        return self

    @model_validator(mode="after")
    def _powers_together(self) -> Gpu:
        if (self.power_idle_w is None) != (self.power_peak_w is None):
            raise ValueError("power_peak_w: give both power_idle_w and power_peak_w, or neither")
        if self.power_idle_w is not None and self.power_idle_w > self.power_peak_w:
            raise ValueError(
                f"power_idle_w: must be <= power_peak_w ({self.power_peak_w!r}), got {self.power_idle_w!r}")
        return self


class BaseStation(_Model):
    """Base-station power of the EARTH model (G. Auer et al., "How much energy is needed to run a
    wireless network?", IEEE Wireless Commun. 18(5), 2011): ``n_trx (p0_w + delta_p p_out)``
    while transmitting at RF power ``p_out`` per transceiver, ``n_trx p_sleep_w`` when idle."""

    type: str = Field(description="base-station profile filling the rest (macro, rrh, micro, pico, femto)")
    n_trx: int = Field(ge=1, description="transceiver chains (sectors x antennas)")
    p_max_w: float = Field(gt=0, description="maximum RF output per transceiver, W")
    p0_w: float = Field(ge=0, description="input power per transceiver at minimum non-zero output, W")
    delta_p: float = Field(ge=0, description="slope of input over RF output power")
    p_sleep_w: float = Field(ge=0, description="input power per transceiver when idle (sleep), W")

    @model_validator(mode="before")
    @classmethod
    def _from_profile(cls, data: Any) -> Any:
        return _fill_from_profile(data, "type", _base_station_fields)


class Site(_Model):
    """A base station at a position, optionally hosting a GPU site."""

    name: str = Field(min_length=1, description="unique site name")
    x_m: float = Field(0.0, description="x position, m")
    y_m: float = Field(0.0, description="y position, m")
    height_m: float | None = Field(
        None, gt=0,
        description="antenna height, m; omit for the environment's (UMa 25, UMi 10, RMa 35, InH 3; others 25)")
    sectors: Literal[1, 3] = Field(1, description="cells at this site: 1 (omni) or 3 (TR 38.901 Table 7.3-1 pattern)")
    azimuth_deg: float = Field(0.0, description="rotation of the sector boresights (30, 150, 270 deg), deg")
    downtilt_deg: float = Field(0.0, ge=0, lt=90, description="electrical downtilt of the sector antennas, deg")
    association_bias_db: float = Field(0.0, description="added to this site's received power for association, dB")
    environment: Literal["UMa", "UMi", "RMa", "InH"] | None = Field(
        None, description="TR 38.901 scenario of this site's links (model tr38901); omit for channel.environment")
    band: str | None = Field(
        None, description="band preset of this site's cells; omit for channel.band (cells of different bands "
        "do not interfere)")
    tx_power_dbm: float | None = Field(
        None, description="transmit power of each of this site's cells, dBm; omit for channel.bs_tx_power_dbm "
        "or the band's")
    cluster: str | None = Field(
        None, description="cluster label (GPU placement \"cluster\": one GPU site per cluster); omit to group "
        "sites by their nearest aggregation node")
    gpu: Gpu | None = Field(None, description="GPU site at this base station; omit for none")
    base_station: BaseStation | None = Field(
        None, description="base-station power model (EARTH); omit to leave site energy out")


    @model_validator(mode="after")
    def _known_band(self) -> Site:
        from .radio.bands import BANDS

        if self.band is not None and self.band not in BANDS:
            raise ValueError(f"band: must be one of {', '.join(BANDS)}, got {self.band!r}")
        return self


class SplitPoint(_Model):
    """A cut in a DNN's layer profile: the device runs the layers up to ``layer``, then sends their output."""

    layer: str = Field(min_length=1, description="the last layer the device runs")
    device_flops: float = Field(gt=0, description="FLOP the device computes up to the cut (cumulative)")
    upload_bytes: float = Field(gt=0, description="bytes of the intermediate tensor sent up at the cut")


class Workload(_Model):
    """An inference task type: compute demand, payload sizes and deadline.

    ``catalog`` names a row of the workload catalog (docs/workloads.md), which fills
    every field not given; device groups running the workload then take the row's
    arrival process unless they give their own ``arrival``.
    """

    name: str = Field(min_length=1, description="unique workload name")
    catalog: str | None = Field(
        None, description="workload catalog row (docs/workloads.md) filling the fields not given; omit for none")
    flops: float = Field(gt=0, description="compute demand of one inference, FLOP")
    input_bytes: float = Field(ge=0, description="uplink payload per task, bytes")
    output_bytes: float = Field(ge=0, description="downlink payload per task, bytes")
    deadline_s: float = Field(gt=0, description="latency deadline, s (a task completing later misses it)")
    prompt_tokens: int | None = Field(None, ge=1, description="LLM-style workloads: prompt tokens per task")
    output_tokens: int | None = Field(
        None, ge=1, description="LLM-style workloads: tokens generated per task (time to first token and tokens/s "
        "are reported)")
    prefill_flops: float | None = Field(None, gt=0, description="LLM-style workloads: FLOP of the prompt's prefill")
    decode_flops_per_token: float | None = Field(
        None, gt=0, description="LLM-style workloads: FLOP per generated token")
    weight_bytes: float | None = Field(
        None, gt=0, description="LLM-style workloads: bytes of weights read per decode step (memory-bound decode)")
    split_points: tuple[SplitPoint, ...] | None = Field(
        None, strict=False, description="layer profile for partial offloading (policy partial): cuts in network order, "
        "device_flops increasing and below flops; omit for none")

    @model_validator(mode="before")
    @classmethod
    def _from_catalog(cls, data: Any) -> Any:
        return _fill_from_profile(data, "catalog", _workload_fields)

    @model_validator(mode="after")
    def _tokens_together(self) -> Workload:
        token = ("prompt_tokens", "output_tokens", "prefill_flops", "decode_flops_per_token")
        given = [f for f in token if getattr(self, f) is not None]
        if given and len(given) < len(token):
            missing = [f for f in token if getattr(self, f) is None]
            raise ValueError(f"{missing[0]}: give all of {', '.join(token)} for a token workload, or none")
        if self.weight_bytes is not None and not given:
            raise ValueError("weight_bytes: only used by token workloads (give output_tokens and the rest)")
        if self.split_points:
            if given:
                raise ValueError("split_points: not for a token workload")
            previous = 0.0
            layers = [p.layer for p in self.split_points]
            for i, point in enumerate(self.split_points):
                if point.layer in layers[:i]:
                    raise ValueError(f"split_points[{i}].layer: must be unique, got duplicate {point.layer!r}")
                if not previous < point.device_flops < self.flops:
                    raise ValueError(f"split_points[{i}].device_flops: must be above the previous cut's ({previous!r}) "
                                     f"and below flops ({self.flops!r}), got {point.device_flops!r}")
                previous = point.device_flops
        if given and not math.isclose(self.flops, self.prefill_flops + self.output_tokens
                                      * self.decode_flops_per_token, rel_tol=1e-6):
            raise ValueError(f"flops: must equal prefill_flops + output_tokens x decode_flops_per_token "
                             f"({self.prefill_flops + self.output_tokens * self.decode_flops_per_token!r}), "
                             f"got {self.flops!r}")
        return self


class DeviceGroup(_Model):
    """``count`` identical devices, spread over base stations, generating one workload.

    Power model: the device draws ``power_idle_w`` at all times while its battery
    lasts, plus ``power_compute_w`` while computing a task locally, ``power_tx_w``
    while it has an uplink transfer and ``power_rx_w`` while it has a downlink
    transfer, ``tx_j_per_bit`` / ``rx_j_per_bit`` for each bit moved (the
    throughput-proportional terms of Huang et al.), and after its last transfer
    ``power_tail_w`` for ``rrc_tail_s`` (RRC connected with DRX) then
    ``power_inactive_w`` for ``rrc_inactive_s`` (RRC inactive) before idle. These
    are increments above the baseline and add up when activities overlap, except
    that with an uplink and a downlink active at once the radio's constant power is
    counted once, ``max(power_tx_w, power_rx_w)`` (Huang's single beta): the
    state-based linear model of offloading studies (Y. Mao et al., "A survey on
    mobile edge computing: the communication perspective", IEEE Commun. Surveys
    Tuts. 19(4), 2017, Sec. III), with the baseline playing the role of the
    constant term of the LTE power model of J. Huang et al., "A close examination
    of performance and power characteristics of 4G LTE networks",
    MobiSys 2012.
    """

    name: str = Field(min_length=1, description="unique group name")
    policy: str | None = Field(
        None, description="this group's offloading policy (a built-in or the plug-in policy); omit for [policy] name")
    profile: str | None = Field(
        None, description="device profile (docs/profiles.md) filling every power, battery and compute field not given")
    accelerator: Literal["cpu", "gpu", "npu"] | None = Field(
        None, description="with a profile: the processor local inference runs on (default: the profile's)")
    count: int = Field(ge=1, le=10_000_000, description="number of devices in the group")
    workload: str = Field(description="name of the workload the devices generate")
    placement: Literal["disc", "area", "hotspots", "roads"] = Field(
        "disc", description="where devices start: in a disc around their site, uniformly over the topology's "
        "area, in Gaussian hotspots (Thomas cluster process) over it, or uniformly along its roads")
    sites: tuple[str, ...] | None = Field(
        None, strict=False,
        description="placement disc: sites the devices are dropped around, in turn; omit for all sites"
    )
    cell_radius_m: float = Field(
        250.0, gt=0, description="placement disc: devices are dropped uniformly in a disc of this radius, m"
    )
    min_distance_m: float = Field(
        10.0, ge=0, description="no device is dropped closer than this to its site (disc) or to any site "
        "(other placements: drawn again), m (TR 38.901 minimum 2D distance)")
    hotspots: int = Field(5, ge=1, description="placement hotspots: number of hotspot centres")
    hotspot_sigma_m: float = Field(30.0, gt=0, description="placement hotspots: spread of devices around a centre, m")
    height_m: float = Field(1.5, gt=0, description="device antenna height, m")
    mobility: Literal["static", "random_waypoint", "manhattan", "highway"] = Field(
        "static", description="how devices move (airan.mobility); manhattan and highway follow the roads")
    speed_min_mps: float = Field(
        0.8333, gt=0, description="lowest speed, m/s (default 3 km/h, the TR 38.901 pedestrian speed)")
    speed_max_mps: float = Field(0.8333, gt=0, description="highest speed, m/s (each leg or street: uniform)")
    pause_s: float = Field(0.0, ge=0, description="random_waypoint: pause at each waypoint, s")
    p_turn: float = Field(0.5, ge=0, le=1, description="manhattan: probability of turning at a crossing")
    arrival: Literal["poisson", "periodic", "mmpp", "trace"] = Field(
        "poisson", description="task arrivals: Poisson; periodic frames (a uniformly random phase per device, "
        "optional jitter); bursty on/off (a two-state Markov-modulated Poisson process); or replayed from a CSV "
        "trace")
    rate_hz: float | None = Field(
        None, gt=0, description="arrival rate per device (periodic: frame rate; mmpp: rate while on), 1/s; "
        "required except with a trace")
    jitter_s: float = Field(
        0.0, ge=0, description="periodic: each frame is late by a uniform delay in [0, jitter_s), s (less than "
        "the period, so frames keep their order)")
    mmpp_on_s: float | None = Field(None, gt=0, description="mmpp: mean duration of an on (bursty) period, s")
    mmpp_off_s: float | None = Field(None, gt=0, description="mmpp: mean duration of an off period, s")
    mmpp_off_rate_hz: float = Field(0.0, ge=0, description="mmpp: arrival rate while off, 1/s")
    trace_file: str | None = Field(
        None, description="trace: CSV of arrival times in s (a column named t_s, or the first column), relative "
        "to the scenario file; each device replays it cyclically from its own random offset")
    compute_flops_per_s: float = Field(gt=0, description="on-device inference throughput, FLOP/s")
    power_idle_w: float = Field(ge=0, description="baseline power, drawn at all times, W")
    power_compute_w: float = Field(ge=0, description="extra power while computing locally, W")
    power_tx_w: float = Field(ge=0, description="extra power while transmitting, W")
    power_rx_w: float = Field(ge=0, description="extra power while receiving, W")
    battery_wh: float = Field(gt=0, description="battery capacity, Wh")
    initial_charge: float = Field(1.0, ge=0, le=1, description="state of charge at t = 0, fraction of capacity")
    battery_model: Literal["ideal", "peukert", "kibam"] = Field(
        "ideal", description="battery model: coulomb counting, Peukert, or the kinetic battery model (airan.battery)")
    peukert_k: float = Field(1.05, ge=1, le=2, description="Peukert exponent (about 1.05 for Li-ion)")
    peukert_rated_h: float = Field(20.0, gt=0, description="discharge time at which battery_wh is rated, h")
    kibam_c: float = Field(0.625, gt=0, le=1, description="KiBaM fraction of the charge in the available well")
    kibam_k_prime_per_s: float = Field(
        1.92e-4, gt=0, description="KiBaM rate constant k' = k / (c (1 - c)) of Jongerden and Haverkort, 1/s")
    tx_j_per_bit: float = Field(0.0, ge=0, description="transmit energy per bit on top of power_tx_w, J/bit")
    rx_j_per_bit: float = Field(0.0, ge=0, description="receive energy per bit on top of power_rx_w, J/bit")
    rrc_tail_s: float = Field(0.0, ge=0, description="RRC connected tail after the last transfer, s")
    power_tail_w: float = Field(0.0, ge=0, description="extra power during the RRC connected tail, W")
    rrc_inactive_s: float = Field(0.0, ge=0, description="time in RRC inactive after the tail, before idle, s")
    power_inactive_w: float = Field(0.0, ge=0, description="extra power in RRC inactive, W")
    uplink_bps: float | None = Field(None, gt=0, description="uplink rate, ideal channel only, bit/s")
    downlink_bps: float | None = Field(None, gt=0, description="downlink rate, ideal channel only, bit/s")

    @model_validator(mode="before")
    @classmethod
    def _from_profile(cls, data: Any) -> Any:
        return _fill_from_profile(data, "profile", _device_fields)

    @model_validator(mode="after")
    def _parameters_in_use(self) -> DeviceGroup:
        if self.accelerator is not None and self.profile is None:
            raise ValueError("accelerator: only used with a profile (give compute_flops_per_s instead)")
        for prefix, model in (("peukert_", "peukert"), ("kibam_", "kibam")):
            given = sorted(f for f in self.model_fields_set if f.startswith(prefix))
            if given and self.battery_model != model:
                raise ValueError(f"{given[0]}: only used with battery_model = \"{model}\", "
                                 f"got battery_model = \"{self.battery_model}\"")
        return self

    @model_validator(mode="after")
    def _inside_the_disc(self) -> DeviceGroup:
        if self.min_distance_m >= self.cell_radius_m:
            raise ValueError(
                f"min_distance_m: must be < cell_radius_m ({self.cell_radius_m!r}), got {self.min_distance_m!r}")
        if self.placement != "disc":
            for f in ("sites", "cell_radius_m"):
                if f in self.model_fields_set:
                    raise ValueError(f"{f}: only used with placement = \"disc\", got placement = \"{self.placement}\"")
        if self.placement != "hotspots":
            for f in ("hotspots", "hotspot_sigma_m"):
                if f in self.model_fields_set:
                    raise ValueError(f"{f}: only used with placement = \"hotspots\", "
                                     f"got placement = \"{self.placement}\"")
        if self.mobility in ("manhattan", "highway") and self.placement != "roads":
            raise ValueError(f"placement: must be \"roads\" with mobility = \"{self.mobility}\" (devices start "
                             f"on the roads they follow), got {self.placement!r}")
        if self.arrival == "trace":
            if self.trace_file is None:
                raise ValueError("trace_file: required with arrival = \"trace\"")
            if self.rate_hz is not None:
                raise ValueError("rate_hz: not used with arrival = \"trace\" (the trace sets the rate); remove it")
        elif self.rate_hz is None:
            raise ValueError(f"rate_hz: required with arrival = \"{self.arrival}\"")
        for f, kind in (("jitter_s", "periodic"), ("mmpp_on_s", "mmpp"), ("mmpp_off_s", "mmpp"),
                        ("mmpp_off_rate_hz", "mmpp"), ("trace_file", "trace")):
            if f in self.model_fields_set and self.arrival != kind:
                raise ValueError(f"{f}: only used with arrival = \"{kind}\", got arrival = \"{self.arrival}\"")
        if self.arrival == "mmpp" and (self.mmpp_on_s is None or self.mmpp_off_s is None):
            raise ValueError("mmpp_on_s: mmpp_on_s and mmpp_off_s are required with arrival = \"mmpp\"")
        if self.arrival == "periodic" and self.jitter_s >= 1.0 / self.rate_hz:
            raise ValueError(f"jitter_s: must be < the period 1 / rate_hz ({1.0 / self.rate_hz!r} s), "
                             f"got {self.jitter_s!r}")
        if self.speed_min_mps > self.speed_max_mps:
            raise ValueError(f"speed_min_mps: must be <= speed_max_mps ({self.speed_max_mps!r}), "
                             f"got {self.speed_min_mps!r}")
        return self


class Channel(_Model):
    """Radio channel model and link budget.

    ``ideal``: each device has the fixed ``uplink_bps`` / ``downlink_bps`` of its
    group, in a cell of its own (for validation). ``tr38901``: TR 38.901 path loss,
    LOS probability and shadowing in ``environment``; ``subthz``: free space plus
    ITU-R P.676 absorption (100-300 GHz); ``power_law``: PL = FSPL(1 m) + 10 alpha
    log10(d). For the last three, rates follow from SINR in a band preset
    (``airan.radio.bands``), cells share their uplink and downlink among active
    transfers, and devices attach to the cell with the strongest received power.
    """

    model: Literal["ideal", "tr38901", "subthz", "power_law"] = Field("ideal", description="channel model")
    band: str = Field("n78", description="band preset: n78, fr3_7ghz or subthz_140ghz (airan.radio.bands)")
    fc_ghz: float | None = Field(None, gt=0, description="carrier frequency, GHz; omit for the band's")
    bs_tx_power_dbm: float | None = Field(None, description="cell transmit power, dBm; omit for the band's")
    ue_max_power_dbm: float | None = Field(None, description="device maximum power P_CMAX, dBm; omit for the band's")
    environment: Literal["UMa", "UMi", "RMa", "InH"] = Field(
        "UMa", description="TR 38.901 scenario (UMi: street canyon, InH: office) for model tr38901")
    los: Literal["probabilistic", "los", "nlos"] = Field(
        "probabilistic", description="line of sight per link: drawn from TR 38.901 Table 7.4.2-1, or forced")
    shadowing: bool = Field(True, description="log-normal shadow fading per device-site link (tr38901)")
    shadowing_correlated: bool = Field(
        False, description="shadowing spatially correlated among a site's links (exponential, Table 7.5-6 distances)")
    alpha: float = Field(3.5, gt=0, description="path-loss exponent of model power_law")
    fast_fading: Literal["none", "rayleigh", "rician"] = Field(
        "none", description="a fading power gain drawn once per link (block fading over the run)")
    rician_k_db: float = Field(6.0, description="Rician K factor, dB")
    rate: Literal["shannon", "cqi"] = Field(
        "shannon", description="spectral efficiency from Shannon (with gap and cap) or the TS 38.214 CQI table")
    shannon_gap_db: float = Field(0.0, ge=0, description="implementation gap to Shannon capacity, dB")
    max_spectral_efficiency: float = Field(
        7.4063, gt=0, description="cap on spectral efficiency, bit/s/Hz (256QAM, R = 948/1024)")
    cqi_table: Literal[1, 2] = Field(2, description="TS 38.214 CQI table (1: up to 64QAM, 2: up to 256QAM)")
    dl_overhead: float = Field(0.14, ge=0, lt=1, description="downlink overhead fraction (TS 38.306, FR1 0.14)")
    ul_overhead: float = Field(0.08, ge=0, lt=1, description="uplink overhead fraction (TS 38.306, FR1 0.08)")
    sharing: Literal["equal_time", "proportional_fair"] = Field(
        "equal_time", description="how a cell's active transfers share it")
    interference: Literal["coupled", "full", "none"] = Field(
        "coupled", description="other cells' activity: load from offered traffic (fixed point), always on, or off")
    noise: bool = Field(True, description="thermal noise (-174 dBm/Hz + noise figure); false for interference-only")
    p0_dbm: float = Field(
        -80.0, description="uplink power control P0, target received power per resource block, dBm (R: -76 to "
        "-90 dBm are typical p0-NominalWithGrant settings with alpha 0.8)")
    pc_alpha: float = Field(0.8, ge=0, le=1, description="uplink power control path-loss compensation factor")
    ue_pa_efficiency: float = Field(
        0.35, gt=0, le=1, description="device power-amplifier efficiency: radiated power / this is added to tx power")
    extrapolate: bool = Field(False, description="allow frequencies and distances outside a model's validity range")

    @model_validator(mode="after")
    def _known_band(self) -> Channel:
        from .radio.bands import BANDS

        if self.band not in BANDS:
            raise ValueError(f"band: must be one of {', '.join(BANDS)}, got {self.band!r}")
        return self


class TopologyRef(_Model):
    """The network: a topology file (``topologies/README.md``) or a generated one, instead of ``[[sites]]``."""

    file: str | None = Field(
        None, description="a built-in topology (airan topologies) or a .toml / .graphml file, relative to the "
        "scenario file")
    generator: str | None = Field(
        None, description="instead of a file: a topology generator (hex_grid, manhattan, highway, indoor, hetnet, "
        "poisson)")
    parameters: dict[str, int | float | str | bool] = Field(
        default_factory=dict, strict=False, description="the generator's parameters (airan topology generate)")
    wrap_around: bool = Field(
        False, description="hexagonal wrap-around (TR 36.814 A.2.1): every device sees the nearest copy of "
        "each site, so edge cells get the interference of centre cells; needs a topology with [wrap]")

    @model_validator(mode="after")
    def _one_source(self) -> TopologyRef:
        if (self.file is None) == (self.generator is None):
            raise ValueError("file: give a topology file or a generator, not both or neither")
        if self.parameters and self.generator is None:
            raise ValueError("parameters: only used with a generator")
        return self


class Compute(_Model):
    """Where the GPUs are: as the topology says, or one ``gpu`` at every site, at one site per
    cluster, at every aggregation node or in the cloud. Each site's tasks go to the GPU node
    with the least transport latency from it."""

    placement: Literal["topology", "every_site", "cluster", "aggregation", "cloud"] = Field(
        "topology", description="GPU placement")
    gpu: Gpu | None = Field(None, description="the GPU put at each chosen node (not with placement topology)")

    @model_validator(mode="after")
    def _gpu_given(self) -> Compute:
        if self.placement == "topology" and self.gpu is not None:
            raise ValueError("gpu: only used with a placement other than \"topology\" (the topology's GPUs are used)")
        if self.placement != "topology" and self.gpu is None:
            raise ValueError(f"gpu: required with placement = \"{self.placement}\"")
        return self


class Mobility(_Model):
    """Mobility steps and handover (used when a device group moves).

    Moving devices take their link budget from a radio map precomputed over the
    topology's area (``airan.radio.radiomap``); handover is the A3 event of 3GPP
    TS 38.331 Sec. 5.5.4.4 with hysteresis and time to trigger (R: 3GPP TR 36.839
    evaluated offsets of 1-5 dB and times to trigger of 40-480 ms).
    """

    step_s: float = Field(0.1, gt=0, description="time between mobility steps and handover checks, s")
    hysteresis_db: float = Field(3.0, ge=0, description="A3 hysteresis, dB")
    time_to_trigger_s: float = Field(0.16, ge=0, description="A3 time to trigger, s (rounded up to whole steps)")
    map_resolution_m: float = Field(10.0, gt=0, description="spacing of the radio map's grid, m")
    map_candidates: int = Field(8, ge=1, le=64, description="strongest cells kept per radio-map point")


POLICY_NAMES = ("local", "offload", "min_latency", "min_energy", "deadline", "least_loaded", "battery",
                "cloud_fallback", "partial")


class Policy(_Model):
    """Where tasks run, decided per task when it arrives. ``local``: always on the device.
    ``offload``: always to the GPU node its serving site routes to (the least-latency one). The
    others compare running locally with the ``max_nodes`` GPU nodes nearest the serving site by
    latency, on estimates a device could make from what it knows (its CPU backlog, its link rates
    and power) and what the network advertises (the active transfers in its cell and on the path,
    the nodes' queue lengths): ``min_latency`` takes the fastest, ``min_energy`` the one that
    costs the device least energy (compute, or transmit and receive power over the transfers plus
    their per-bit energy; ties to the faster), ``deadline`` the least energy among those expected
    to meet the workload's deadline, else the fastest; ``least_loaded`` the GPU node with the fewest
    tasks per server (queued and in service; ties to the nearer); ``battery`` the fastest while the
    device's battery is above ``battery_threshold`` of its capacity and the cheapest below it;
    ``cloud_fallback`` the nearest GPU node unless it is expected to miss the deadline, then the
    farthest one considered (the cloud, in the built-in topologies); ``partial`` the fastest of
    computing locally, offloading whole, or splitting the network at one of the workload's
    ``split_points`` (the device runs the layers up to the cut, sends their output, the node runs
    the rest; Neurosurgeon, Kang et al. ASPLOS 2017). A device whose site reaches no GPU, or
    that has no radio link, computes locally.

    A plug-in policy is a researcher's own Numba function, registered by name in a Python
    file (``plugin``) with ``airan.policies.register``; it sees the same options and
    estimates (airan/policies.py documents the arrays) and picks one. One plug-in policy
    per scenario; ``parameters`` sets its registered parameters."""

    name: str = Field("offload", description="offloading policy: local, offload, min_latency, min_energy, deadline, "
                      "least_loaded, battery, cloud_fallback, partial, or a plug-in policy's name (device groups may "
                      "set their own)")
    max_nodes: int = Field(3, ge=1, le=64, description="GPU nodes a comparing policy considers, nearest first")
    max_hops: int | None = Field(
        None, ge=0, description="a comparing policy considers only GPU nodes within this many transport links of the "
        "serving site (0: co-located); omit for no limit")
    battery_threshold: float = Field(
        0.5, ge=0, le=1, description="policy battery: below this fraction of its capacity a device saves energy")
    plugin: str | None = Field(
        None, description="Python file registering plug-in policies (airan.policies.register), relative to the "
        "scenario file; omit for none")
    parameters: dict[str, float] | None = Field(
        None, strict=False, description="the plug-in policy's parameters by name (the others keep their registered "
        "defaults)")


class Simulation(_Model):
    """Run length, warm-up and seed."""

    duration_s: float = Field(gt=0, description="simulated time, s")
    warmup_s: float = Field(
        0.0, ge=0, description="tasks generated before this time are simulated but left out of task statistics, s"
    )
    seed: int = Field(1, ge=0, le=2**63 - 1, description="master seed; the same seed gives bit-identical results")
    sample_s: float | None = Field(
        None, gt=0, description="record each GPU node's utilisation and queue every this long (timeseries.parquet), "
        "s; omit for none")

    @model_validator(mode="after")
    def _warmup_inside_run(self) -> Simulation:
        if self.warmup_s >= self.duration_s:
            raise ValueError(f"warmup_s: must be < duration_s ({self.duration_s!r}), got {self.warmup_s!r}")
        if self.sample_s is not None and self.duration_s / self.sample_s > 1e6:
            raise ValueError(f"sample_s: at most a million samples per run (duration_s / 1e6 = "
                             f"{self.duration_s / 1e6!r}), got {self.sample_s!r}")
        return self


class Scenario(_Model):
    """A whole scenario: what a ``.toml`` file holds."""

    name: str = Field("scenario", min_length=1, description="scenario name, used in outputs")
    simulation: Simulation
    policy: Policy = Policy()
    channel: Channel = Channel()
    topology: TopologyRef | None = Field(None, description="the network from a topology file or generator")
    compute: Compute = Compute()
    mobility: Mobility = Mobility()
    # tuples (read from TOML arrays) keep the validated scenario immutable
    sites: tuple[Site, ...] | None = Field(
        None, min_length=1, strict=False, description="base stations (instead of a topology)")
    workloads: tuple[Workload, ...] = Field(min_length=1, strict=False, description="inference task types")
    devices: tuple[DeviceGroup, ...] = Field(min_length=1, strict=False, description="device groups")

    @model_validator(mode="before")
    @classmethod
    def _arrivals_from_catalog(cls, data: Any) -> Any:
        """A device group without its own ``arrival`` takes its catalog workload's arrival process."""
        if not isinstance(data, dict) or not isinstance(data.get("workloads"), list | tuple) \
                or not isinstance(data.get("devices"), list | tuple):
            return data
        catalog = {w.get("name"): w.get("catalog") for w in data["workloads"]
                   if isinstance(w, dict) and isinstance(w.get("catalog"), str)}
        groups = []
        for group in data["devices"]:
            row = catalog.get(group.get("workload")) if isinstance(group, dict) else None
            if row is not None and "arrival" not in group:
                try:
                    suggested = _arrival_fields(row)
                except LookupError:
                    suggested = {}  # the workload's own check reports the unknown row
                group = {**suggested, **group}
            groups.append(group)
        return {**data, "devices": groups}

    @model_validator(mode="before")
    @classmethod
    def _import_plugin(cls, data: Any) -> Any:
        """Import the policy file first, so that the policies it registers are known names."""
        policy = data.get("policy") if isinstance(data, dict) else None
        if isinstance(policy, dict) and isinstance(policy.get("plugin"), str):
            from .policies import PolicyError, load_file

            try:
                load_file(policy["plugin"])
            except PolicyError as exc:
                raise ValueError(f"policy.plugin: {exc}") from None
        return data

    @model_validator(mode="after")
    def _policies(self) -> Scenario:
        from .policies import registered

        plugins = registered()
        allowed = ", ".join(POLICY_NAMES + tuple(sorted(plugins)))
        used = set()
        for where, name in [("policy.name", self.policy.name)] + [
                (f"devices[{i}].policy", g.policy) for i, g in enumerate(self.devices) if g.policy is not None]:
            if name not in POLICY_NAMES and name not in plugins:
                hint = "" if self.policy.plugin else " (a plug-in policy needs policy.plugin, the file registering it)"
                raise ValueError(f"{where}: must be one of {allowed}, got {name!r}{hint}")
        for g in self.devices:
            name = g.policy or self.policy.name
            if name not in POLICY_NAMES:
                used.add(name)
        if len(used) > 1:
            raise ValueError(f"policy.name: one plug-in policy per scenario, got {', '.join(sorted(used))}")
        if self.policy.parameters:
            if not used:
                raise ValueError("policy.parameters: only used by a plug-in policy, and no device group uses one")
            plugin = plugins[next(iter(used))]
            for key in self.policy.parameters:
                if key not in plugin.parameters:
                    allowed = ", ".join(plugin.parameters) or "none"
                    raise ValueError(f"policy.parameters.{key}: policy {plugin.name} has no such parameter "
                                     f"(allowed: {allowed})")
        return self

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        if (self.sites is None) == (self.topology is None):
            raise ValueError("sites: give [[sites]] or a [topology], not both or neither")
        for field, items in (("sites", self.sites or ()), ("workloads", self.workloads), ("devices", self.devices)):
            seen: set[str] = set()
            for i, item in enumerate(items):
                if item.name in seen:
                    raise ValueError(f"{field}[{i}].name: must be unique, got duplicate {item.name!r}")
                seen.add(item.name)
        site_names = [s.name for s in self.sites or ()]
        workload_names = [w.name for w in self.workloads]
        for i, group in enumerate(self.devices):
            if group.workload not in workload_names:
                raise ValueError(
                    f"devices[{i}].workload: must be one of {', '.join(workload_names)}, got {group.workload!r}"
                )
            for j, site in enumerate(group.sites or []):
                if self.sites is not None and site not in site_names:
                    raise ValueError(
                        f"devices[{i}].sites[{j}]: must be one of {', '.join(site_names)}, got {site!r}"
                    )
            if group.sites is not None and not group.sites:
                raise ValueError(f"devices[{i}].sites: must name at least one site (omit it for all sites)")
            if group.mobility != "static" and self.channel.model == "ideal":
                raise ValueError(f"devices[{i}].mobility: moving devices need a channel model other than "
                                 f"\"ideal\" (their rates follow the link budget)")
            for field in ("uplink_bps", "downlink_bps"):
                given = getattr(group, field) is not None
                if self.channel.model == "ideal" and not given:
                    raise ValueError(f"devices[{i}].{field}: required with channel.model = \"ideal\"")
                if self.channel.model != "ideal" and given:
                    raise ValueError(
                        f"devices[{i}].{field}: only used by channel.model = \"ideal\" (rates follow from "
                        f"the {self.channel.model} link budget); remove it")
        return self

    @property
    def n_devices(self) -> int:
        return sum(g.count for g in self.devices)


# ----------------------------------------------------------------------------
# Profiles: named rows of airan/data/profiles.toml fill the fields a table omits
# ----------------------------------------------------------------------------


def _fill_from_profile(data: Any, key: str, fields) -> Any:
    """Return ``data`` with the fields of the profile named by ``data[key]`` filled in where absent."""
    if not isinstance(data, dict) or data.get(key) is None or not isinstance(data[key], str):
        return data
    try:
        defaults = fields(data[key], data)
    except LookupError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        raise ValueError(f"{getattr(exc, 'field', key)}: {message}") from None
    return {**defaults, **data}


class _FieldLookupError(LookupError):
    """A profile lookup that failed because of another field than the profile name."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _device_fields(name: str, data: dict) -> dict[str, Any]:
    from .profiles import device_profile

    row = device_profile(name)
    kind = data.get("accelerator") or row.default_accelerator
    if not isinstance(kind, str):
        kind = row.default_accelerator  # the accelerator field's own type check reports it
    elif kind not in row.accelerators:
        raise _FieldLookupError(
            "accelerator", f"profile {name!r} has no {kind!r} accelerator; it has {', '.join(row.accelerators)}")
    out = {f: getattr(row, f) for f in (
        "power_idle_w", "power_tx_w", "power_rx_w", "tx_j_per_bit", "rx_j_per_bit", "rrc_tail_s", "power_tail_w",
        "rrc_inactive_s", "power_inactive_w", "battery_wh", "battery_model")}
    for f in ("peukert_k", "peukert_rated_h", "kibam_c", "kibam_k_prime_per_s"):
        if getattr(row, f) is not None:
            out[f] = getattr(row, f)
    out["compute_flops_per_s"] = row.accelerators[kind].flops_per_s
    out["power_compute_w"] = row.accelerators[kind].power_w
    return out


#: Bytes per weight assumed for a catalog model's decode reads (bf16 / fp16 serving).
_BYTES_PER_WEIGHT = 2.0


def _workload_fields(name: str, data: dict) -> dict[str, Any]:
    from .workloads import workload_profile

    row = workload_profile(name)
    out = row.workload_fields()
    if row.output_tokens is not None:
        out.update(prompt_tokens=row.prompt_tokens, output_tokens=row.output_tokens, prefill_flops=row.prefill_flops,
                   decode_flops_per_token=row.decode_flops_per_token)
        if row.params is not None:
            out["weight_bytes"] = row.params * _BYTES_PER_WEIGHT
    if row.split_point_fields():
        out["split_points"] = row.split_point_fields()
    return out


def _arrival_fields(name: str) -> dict[str, Any]:
    from .workloads import arrival_fields

    return arrival_fields(name)


def _accelerator_fields(name: str, data: dict) -> dict[str, Any]:
    from .profiles import accelerator_profile

    row = accelerator_profile(name)
    return {"flops_per_s": row.flops_per_s, "power_idle_w": row.power_idle_w, "power_peak_w": row.power_peak_w,
            "memory_bw_bytes_per_s": row.memory_bw_bytes_per_s}


def _base_station_fields(name: str, data: dict) -> dict[str, Any]:
    from .profiles import base_station_profile

    row = base_station_profile(name)
    return {f: getattr(row, f) for f in ("n_trx", "p_max_w", "p0_w", "delta_p", "p_sleep_w")}


# ----------------------------------------------------------------------------
# Loading, overriding, dumping
# ----------------------------------------------------------------------------


def load_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Scenario:
    """Read a TOML scenario file, apply ``dotted.path=value`` overrides, validate.

    Raises
    ------
    ScenarioError
        With a one-line message naming the file, the field path and what is allowed.
    """
    return scenario_from_file_data(read_scenario_file(path), path, overrides)


def read_scenario_file(path: str | Path) -> dict[str, Any]:
    """The raw TOML data of a scenario file, not yet validated (:func:`scenario_from_file_data` does that).

    For callers that build many scenarios from one file (a sweep's points), which
    then parse it once.

    Raises
    ------
    ScenarioError
        If the file is missing, unreadable or not valid TOML.
    """
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path.name}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from None


def scenario_from_file_data(raw: dict[str, Any], path: str | Path,
                            overrides: list[str] | tuple[str, ...] = ()) -> Scenario:
    """Validate the data :func:`read_scenario_file` read from ``path``, with ``overrides`` applied.

    ``raw`` is not changed. Files the scenario names by relative paths (a topology,
    arrival traces, a policy plug-in) are resolved next to ``path``.
    """
    path = Path(path)
    source = path.name
    raw = apply_overrides(raw, overrides, source=source)  # a copy
    # files named by the scenario (a topology, arrival traces) are found next to it, wherever the run starts
    topology = raw.get("topology")
    if isinstance(topology, dict) and isinstance(topology.get("file"), str):
        file = Path(topology["file"])
        if file.suffix and not file.is_absolute():
            topology["file"] = str((path.parent / file).resolve())
    policy = raw.get("policy")
    if isinstance(policy, dict) and isinstance(policy.get("plugin"), str) and not Path(policy["plugin"]).is_absolute():
        policy["plugin"] = str((path.parent / policy["plugin"]).resolve())
    for group in raw.get("devices") or []:
        if isinstance(group, dict) and isinstance(group.get("trace_file"), str):
            file = Path(group["trace_file"])
            if not file.is_absolute():
                group["trace_file"] = str((path.parent / file).resolve())
    return scenario_from_dict(raw, source=source)


def scenario_from_dict(raw: dict[str, Any], *, source: str = "<scenario>") -> Scenario:
    """Validate raw (TOML-like) data into a :class:`Scenario`; ``source`` names it in errors."""
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(f"{source}: {_describe(exc)}") from None


def apply_overrides(raw: dict[str, Any], overrides: list[str] | tuple[str, ...], *, source: str) -> dict[str, Any]:
    """Return a copy of ``raw`` with each ``dotted.path=value`` applied.

    The value is parsed as a TOML value (``4``, ``2.5e9``, ``"text"``, ``[1, 2]``,
    ``true``); a bare word that is not valid TOML is taken as a string, so
    ``policy.name=local`` works. List items are addressed by index:
    ``sites.0.gpu.servers=4`` or ``sites[0].gpu.servers=4``.
    """
    data = _deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise ScenarioError(f"--set {item}: must be dotted.path=value")
        path_text, value_text = item.split("=", 1)
        keys = _split_path(path_text.strip())
        if not keys:
            raise ScenarioError(f"--set {item}: empty field path")
        value = _parse_value(value_text.strip())
        node: Any = data
        for depth, key in enumerate(keys[:-1]):
            here = _path(keys[: depth + 1])
            node = _child(node, key, here, source, create=isinstance(keys[depth + 1], str))
        last = keys[-1]
        here = _path(keys)
        if isinstance(node, list):
            if not isinstance(last, int) or not -len(node) <= last < len(node):
                raise ScenarioError(f"{source}: {here}: no such list item (the list has {len(node)})")
            node[last] = value
        elif isinstance(node, dict):
            node[str(last)] = value
        else:
            raise ScenarioError(f"{source}: {here}: cannot set a field inside a {type(node).__name__}")
    return data


def dump_scenario(scenario: Scenario) -> str:
    """The fully resolved scenario (every default written out) as TOML text.

    Battery parameters of models a group does not use are left out, since giving
    them is an error.
    """
    data = scenario.model_dump(mode="python", exclude_none=True)
    for group in data["devices"]:
        for prefix, model in (("peukert_", "peukert"), ("kibam_", "kibam")):
            if group["battery_model"] != model:
                for key in [k for k in group if k.startswith(prefix)]:
                    del group[key]
        if group["placement"] != "disc":
            for key in ("sites", "cell_radius_m", "min_distance_m"):
                group.pop(key, None)
        if group["placement"] != "hotspots":
            for key in ("hotspots", "hotspot_sigma_m"):
                group.pop(key, None)
        for key, kind in (("jitter_s", "periodic"), ("mmpp_off_rate_hz", "mmpp")):
            if group["arrival"] != kind:
                group.pop(key, None)
    if "topology" in data and not data["topology"]["parameters"]:
        del data["topology"]["parameters"]
    return tomli_w.dumps(data)


def _child(node: Any, key: str | int, here: str, source: str, *, create: bool) -> Any:
    if isinstance(node, dict):
        key = str(key)
        if key not in node:
            node[key] = {} if create else []
        return node[key]
    if isinstance(node, list):
        if not isinstance(key, int) or not -len(node) <= key < len(node):
            raise ScenarioError(f"{source}: {here}: no such list item (the list has {len(node)})")
        return node[key]
    raise ScenarioError(f"{source}: {here}: is a {type(node).__name__}, not a table")


def _split_path(text: str) -> list[str | int]:
    keys: list[str | int] = []
    for part in text.replace("[", ".").replace("]", "").split("."):
        if part == "":
            continue
        keys.append(int(part) if part.lstrip("-").isdigit() else part)
    return keys


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _deepcopy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deepcopy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deepcopy(v) for v in value]
    return value


# ----------------------------------------------------------------------------
# Error messages
# ----------------------------------------------------------------------------

_TYPE_WORDS = {
    "float_type": "must be a number",
    "int_type": "must be an integer",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "model_type": "must be a table",
    "dict_type": "must be a table",
}


def _describe(exc: ValidationError, root: type[BaseModel] | None = None) -> str:
    """One line for the first error: ``field.path: what is allowed, got value``.

    ``root`` is the model that was validated (the scenario unless given), for the
    allowed keys and bounds at the error's path.
    """
    root = Scenario if root is None else root
    err = exc.errors(include_url=False)[0]
    loc = list(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if kind == "value_error":
        # our own cross-field checks name the field path below their model
        message = str(ctx.get("error", err["msg"]))
        return f"{_path(loc)}.{message}" if loc else message
    if kind == "extra_forbidden":
        allowed = _allowed_keys(root, loc[:-1])
        return f"{_path(loc)}: unknown key; allowed keys here: {', '.join(allowed)}"
    if kind == "missing":
        return f"{_path(loc)}: required value is missing"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{_path(loc)}: must be {_allowed_range(root, loc, kind, ctx)}, got {got!r}"
    if kind == "literal_error":
        return f"{_path(loc)}: must be one of {ctx.get('expected')}, got {got!r}"
    if kind == "string_too_short" or (kind == "too_short" and ctx.get("min_length") == 1):
        return f"{_path(loc)}: must not be empty"
    if kind in ("too_short", "too_long"):
        n = len(got) if isinstance(got, list | tuple) else got
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return f"{_path(loc)}: must have {'at least' if kind == 'too_short' else 'at most'} {bound} items, got {n}"
    if kind in _TYPE_WORDS:
        return f"{_path(loc)}: {_TYPE_WORDS[kind]}, got {_toml_type(got)} {got!r}"
    if kind == "finite_number":
        return f"{_path(loc)}: must be a finite number, got {got!r}"
    return f"{_path(loc)}: {err['msg']}, got {got!r}"


def _allowed_range(root: type[BaseModel], loc: list[Any], kind: str, ctx: dict[str, Any]) -> str:
    """``>= 0 and <= 1`` from the field's declared bounds (or the one that failed)."""
    words = []
    field = _field_at(root, loc)
    for meta in field.metadata if field is not None else ():
        for attr, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            bound = getattr(meta, attr, None)
            if bound is not None:
                words.append(f"{op} {bound}")
    if not words:
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
        words.append(f"{op} {next(iter(ctx.values()), '?')}")
    return " and ".join(words)


def _path(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<top level>"


def _toml_type(value: Any) -> str:
    return {str: "string", bool: "boolean", int: "integer", float: "float", list: "list", dict: "table"}.get(
        type(value), type(value).__name__
    )


def _model_at(root: type[BaseModel], loc: list[Any]) -> type[BaseModel] | None:
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _inner_model(field.annotation)
        if model is None:
            return None
    return model


def _field_at(root: type[BaseModel], loc: list[Any]) -> Any:
    names = [p for p in loc if not isinstance(p, int)]
    if not names:
        return None
    model = _model_at(root, names[:-1])
    return None if model is None else model.model_fields.get(names[-1])


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _allowed_keys(root: type[BaseModel], loc: list[Any]) -> list[str]:
    model = _model_at(root, loc)
    return sorted(model.model_fields) if model is not None else []


# ----------------------------------------------------------------------------
# Reference documentation (docs/scenario.md is generated from the schema)
# ----------------------------------------------------------------------------

_SECTIONS = [
    ("name", None, "top level"),
    ("simulation", Simulation, "[simulation]"),
    ("policy", Policy, "[policy]"),
    ("channel", Channel, "[channel]"),
    ("topology", TopologyRef, "[topology] (or [[sites]])"),
    ("compute", Compute, "[compute]"),
    ("compute.gpu", Gpu, "[compute.gpu] (with a placement other than topology)"),
    ("mobility", Mobility, "[mobility]"),
    ("sites", Site, "[[sites]] (one or more; or a [topology])"),
    ("sites.gpu", Gpu, "[sites.gpu] (optional, per site)"),
    ("sites.base_station", BaseStation, "[sites.base_station] (optional, per site)"),
    ("workloads", Workload, "[[workloads]] (one or more)"),
    ("devices", DeviceGroup, "[[devices]] (one or more device groups)"),
]


def reference_markdown() -> str:
    """The scenario file reference, generated from the schema (every field, unit, default)."""
    lines = [
        "# Scenario file reference",
        "",
        "Generated from the schema in `airan/scenario.py` by `airan reference > docs/scenario.md`; "
        "a test keeps it current. Units are in the field names and descriptions. "
        "Fields without a default are required. Unknown keys are errors.",
        "",
    ]
    for _, model, title in _SECTIONS:
        if model is None:
            lines += [f"## {title}", "", "| field | type | default | meaning |", "|---|---|---|---|"]
            field = Scenario.model_fields["name"]
            lines += [f"| `name` | string | `{field.default}` | {field.description} |", ""]
            continue
        doc = " ".join((model.__doc__ or "").strip().split("\n\n")[0].split())
        lines += [f"## {title}", "", doc, "", "| field | type | default | meaning |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            if _inner_model(field.annotation) is not None:
                continue  # a sub-table, documented in its own section
            if field.is_required():
                default = "required"
            elif field.default_factory is not None:
                default = f"`{_toml_default(field.default_factory())}`"
            else:
                default = f"`{_toml_default(field.default)}`"
            lines.append(f"| `{name}` | {_type_name(field.annotation)} | {default} | {field.description} |")
        lines.append("")
    return "\n".join(lines)


def _toml_default(value: Any) -> str:
    if value is None:
        return "(omitted)"
    if isinstance(value, dict) and not value:
        return "{}"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _type_name(annotation: Any) -> str:
    import types
    import typing

    if typing.get_origin(annotation) is Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) is dict:
        value = typing.get_args(annotation)[1]
        if typing.get_origin(value) in (typing.Union, types.UnionType):
            return f"table of {' or '.join(sorted({_type_name(a) for a in typing.get_args(value)}))}"
        return f"table of {_type_name(value)}"
    if typing.get_origin(annotation) is Literal:
        return " or ".join(f'"{v}"' for v in typing.get_args(annotation))
    args = typing.get_args(annotation)
    if args and typing.get_origin(annotation) not in (list, tuple):  # a union such as int | None
        return " or ".join(_type_name(a) for a in args)
    if typing.get_origin(annotation) in (list, tuple):
        return f"list of {_type_name(args[0])}"
    return {float: "number", int: "integer", str: "string", bool: "boolean", type(None): "omitted"}.get(
        annotation, str(annotation))
