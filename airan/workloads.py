"""Workload catalog: AI inference tasks at the base station, as published numbers with sources.

The rows live in the package data table ``airan/data/workloads.toml``; this module loads
it once (on first use, not on import), validates it strictly and exposes it:

- :data:`WORKLOAD_PROFILES` / :func:`workload_profile`: one row per task (camera object
  detection, photo classification, AR segmentation, speech recognition, an LLM
  assistant turn, a robot control policy) as a :class:`WorkloadProfile`;
- :func:`workload_fields`: the scenario ``Workload`` fields a row fills (``flops``,
  ``input_bytes``, ``output_bytes``, ``deadline_s``);
- :func:`arrival_fields`: the device-group arrival fields it suggests (``arrival``,
  ``rate_hz`` and, as they apply, ``jitter_s`` or the ``mmpp_*`` fields);
- :func:`split_point_fields`: the row's layer profile for partial offloading, the cuts at
  which the device can stop and send an intermediate tensor up (:class:`SplitPoint`);
- :func:`workloads_markdown`: the table with its sources, for ``docs/workloads.md``.

FLOP convention: ``flops`` counts floating-point operations, 2 per multiply-accumulate
(MAC), per inference. It matches the GPU and device profiles of :mod:`airan.profiles`,
whose ``flops_per_s`` are MLPerf ResNet-50 samples/s x 8.18 GFLOP (2 x torchvision's
4.09 G MACs), so ``flops / flops_per_s`` is a service time. Ultralytics' "GFLOPs" are
already 2 x MACs; torchvision's "GFLOPS" are MACs and are doubled here.

The sources follow :mod:`airan.profiles`: every number of a row has a ``sources`` entry
ending in a confidence tag (V, C, R or A), ``formulas`` give the arithmetic of C values
and are checked at load, ``[key]`` cites the ``references`` table. An unknown name
raises :class:`~airan.profiles.UnknownProfileError` (a ``KeyError`` and a ``ValueError``)
listing the known names; a table that does not validate raises
:class:`~airan.profiles.ProfileError` with a one-line message such as
``workloads.toml: workloads.detect_yolov8n_640.rate_hz: must be > 0, got 0.0``.

References
----------
3GPP TS 22.261, clause 7.10 (KPIs for split AI/ML inference); 3GPP TR 22.874 (AI/ML
model transfer in 5GS). Ultralytics YOLOv8; torchvision model weights; K. He et al.,
"Deep residual learning for image recognition", CVPR 2016; A. Radford et al., "Robust
speech recognition via large-scale weak supervision" (Whisper), 2022; Meta Llama 3.1;
M. J. Kim et al., "OpenVLA: an open-source vision-language-action model", 2024; Y. Kang
et al., "Neurosurgeon: collaborative intelligence between the cloud and mobile edge",
ASPLOS 2017 (layer split points). The full list, with what was read, is the
``references`` table.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from .profiles import (
    _NAME,
    _TAGS,
    UnknownProfileError,
    _cited_keys,
    _doc_paragraph,
    _entries,
    _fmt,
    _Model,
    _Row,
    _row_section,
    parse_table,
    read_table,
    validate_table,
)

__all__ = [
    "WORKLOAD_PROFILES",
    "SplitPoint",
    "WorkloadProfile",
    "WorkloadTables",
    "arrival_fields",
    "load_workloads",
    "split_point_fields",
    "workload_fields",
    "workload_profile",
    "workloads_from_dict",
    "workloads_markdown",
]

_PACKAGE_FILE = "workloads.toml"
_TOKEN_RTOL = 1e-6  # flops = prefill + output_tokens x decode is an identity, not a rounding

Arrival = Literal["poisson", "periodic", "mmpp"]

#: The scenario ``Workload`` fields a catalog row fills.
WORKLOAD_FIELDS: tuple[str, ...] = ("flops", "input_bytes", "output_bytes", "deadline_s")
#: Arrival fields that only one arrival kind uses.
_ARRIVAL_ONLY: dict[str, Arrival] = {
    "jitter_s": "periodic", "mmpp_on_s": "mmpp", "mmpp_off_s": "mmpp", "mmpp_off_rate_hz": "mmpp",
}
_TOKEN_FIELDS = ("prefill_flops", "decode_flops_per_token", "output_tokens")


# ----------------------------------------------------------------------------
# Schema
# ----------------------------------------------------------------------------


class SplitPoint(_Model):
    """A cut of a network for partial offloading: the device runs it up to ``layer``, then uploads.

    ``device_flops`` is the compute from the input up to and including ``layer``, FLOP (2
    per multiply-accumulate), cumulative; ``upload_bytes`` is the intermediate tensor the
    device sends up at the cut.
    """

    layer: str = Field(min_length=1, description="the last layer (or stage) the device runs, the model's own name")
    device_flops: float = Field(gt=0, description="compute on the device before the cut, cumulative FLOP")
    upload_bytes: float = Field(gt=0, description="intermediate tensor sent up at the cut, bytes")


class WorkloadProfile(_Row):
    """An inference task a device offloads: compute, payloads, deadline and arrivals.

    ``flops`` is the compute of one inference in FLOP (2 per multiply-accumulate), the
    unit of the GPU profiles' ``flops_per_s``; ``input_bytes`` go up the uplink,
    ``output_bytes`` come back on the downlink, and a result later than ``deadline_s``
    after the task arose misses its deadline. Arrivals per device: ``poisson`` at
    ``rate_hz``; ``periodic`` every ``1 / rate_hz`` seconds, each arrival displaced from
    its slot by at most ``jitter_s``; or ``mmpp``, a two-state Markov-modulated Poisson
    process that stays on for exponential periods of mean ``mmpp_on_s`` (arrivals at
    ``rate_hz``) and off for periods of mean ``mmpp_off_s`` (arrivals at
    ``mmpp_off_rate_hz``, usually 0).

    Token-generating models (LLMs, Whisper's decoder, a VLA's action tokens) also give
    ``prefill_flops`` (everything before the first output token: the prompt, or an
    encoder pass), ``decode_flops_per_token`` and ``output_tokens``, and ``flops`` is
    their total, ``prefill_flops + output_tokens x decode_flops_per_token``: the one job
    today's simulator serves. Time to first token and tokens per second come with the
    GPU serving model, which will use the parts; decode is memory-bandwidth-bound, so a
    compute-derived service time ``flops / flops_per_s`` is optimistic for it.

    Layer profiles for partial offloading (Neurosurgeon-style, Kang et al. 2017) list
    ``split_points``, cuts in network order: at a cut the device computes up to and
    including ``layer``, ``device_flops`` FLOP counted from the input, sends the
    intermediate tensor of ``upload_bytes`` up, and the GPU computes the rest,
    ``flops - device_flops``, and returns ``output_bytes``. Full offload (``input_bytes`` up,
    nothing on the device) and local execution (all ``flops`` on the device) are the
    implied ends and are not listed, so ``device_flops`` rises strictly from cut to cut and
    stays between 0 and ``flops``.
    """

    _SOURCED_TEXT: ClassVar[tuple[str, ...]] = ("arrival",)

    name: str = Field(description="catalog name, the row's key in the table")
    description: str = Field(min_length=1, description="one line: the task, what the device sends and gets back")
    model: str = Field(min_length=1, description="the model and the input it assumes")
    params: float | None = Field(None, gt=0, description="model parameters (weights), a count")
    flops: float = Field(gt=0, description="compute of one inference, FLOP (2 per multiply-accumulate)")
    input_bytes: float = Field(ge=0, description="uplink payload per inference, bytes")
    output_bytes: float = Field(ge=0, description="downlink payload per inference, bytes")
    deadline_s: float = Field(gt=0, description="application latency requirement, s")
    arrival: Arrival = Field(description="arrival process per device: poisson, periodic or mmpp")
    rate_hz: float = Field(gt=0, description="arrivals per second per device (mmpp: while on)")
    jitter_s: float = Field(0.0, ge=0, description="periodic: largest displacement of an arrival from its slot, s")
    mmpp_on_s: float | None = Field(None, gt=0, description="mmpp: mean duration of an on period, s")
    mmpp_off_s: float | None = Field(None, gt=0, description="mmpp: mean duration of an off period, s")
    mmpp_off_rate_hz: float = Field(0.0, ge=0, description="mmpp: arrivals per second while off")
    prompt_tokens: int | None = Field(None, ge=0, description="tokens processed before the first output token")
    output_tokens: int | None = Field(None, ge=1, description="tokens generated")
    prefill_flops: float | None = Field(None, gt=0, description="compute before the first output token, FLOP")
    decode_flops_per_token: float | None = Field(None, gt=0, description="compute per generated token, FLOP")
    # strict=False on the tuple only: TOML gives an array; each point is validated strictly
    split_points: tuple[SplitPoint, ...] = Field(
        (), strict=False, description="cuts for partial offloading, in network order (implied ends not listed)")

    @model_validator(mode="before")
    @classmethod
    def _split_points_array(cls, data: Any) -> Any:
        if isinstance(data, dict) and "split_points" in data and not isinstance(data["split_points"], list | tuple):
            raise ValueError(f"split_points: must be an array of tables with layer, device_flops and upload_bytes, "
                             f"got {type(data['split_points']).__name__} {data['split_points']!r}")
        return data

    def numeric_fields(self) -> list[str]:
        """This row's numbers, without arrival fields its arrival kind does not use."""
        return [f for f in super().numeric_fields() if _ARRIVAL_ONLY.get(f, self.arrival) == self.arrival]

    def sourced_fields(self) -> list[str]:
        """Fields that must have a ``sources`` entry; ``split_points`` has one for all its cuts."""
        return super().sourced_fields() + (["split_points"] if self.split_points else [])

    def _check_row(self) -> None:
        for field, kind in _ARRIVAL_ONLY.items():
            if field in self.model_fields_set and self.arrival != kind:
                raise ValueError(f"{field}: only used with arrival = {kind!r}; remove it")
        if self.arrival == "periodic" and self.jitter_s > 0.5 / self.rate_hz:
            raise ValueError(f"jitter_s: must be <= half the period, 0.5 / rate_hz = {0.5 / self.rate_hz:.6g} s, "
                             f"got {self.jitter_s!r}")
        if self.arrival == "mmpp":
            for field in ("mmpp_on_s", "mmpp_off_s"):
                if getattr(self, field) is None:
                    raise ValueError(f"{field}: required with arrival = 'mmpp'")
        given = [f for f in _TOKEN_FIELDS if getattr(self, f) is not None]
        if given and len(given) < len(_TOKEN_FIELDS):
            missing = next(f for f in _TOKEN_FIELDS if getattr(self, f) is None)
            raise ValueError(f"{missing}: required with {', '.join(given)} (token models give all of "
                             f"{', '.join(_TOKEN_FIELDS)})")
        if self.prompt_tokens is not None and not given:
            raise ValueError(f"prompt_tokens: only used with {', '.join(_TOKEN_FIELDS)}; remove it")
        if given:
            total = self.prefill_flops + self.output_tokens * self.decode_flops_per_token
            if not math.isclose(self.flops, total, rel_tol=_TOKEN_RTOL):
                raise ValueError(f"flops: must equal prefill_flops + output_tokens x decode_flops_per_token = "
                                 f"{total:.9g}, got {self.flops:.9g}")
        self._check_split_points()

    def _check_split_points(self) -> None:
        seen: dict[str, int] = {}
        previous = 0.0
        for i, point in enumerate(self.split_points):
            if point.layer in seen:
                raise ValueError(f"split_points.{i}.layer: {point.layer!r} is already split_points.{seen[point.layer]}")
            seen[point.layer] = i
            if point.device_flops >= self.flops:
                raise ValueError(f"split_points.{i}.device_flops: must be < flops ({self.flops!r}; running all of "
                                 f"it on the device is the implied local end), got {point.device_flops!r}")
            if point.device_flops <= previous:
                raise ValueError(f"split_points.{i}.device_flops: must be > split_points.{i - 1}.device_flops "
                                 f"({previous!r}; cuts go in network order), got {point.device_flops!r}")
            previous = point.device_flops

    @property
    def mean_rate_hz(self) -> float:
        """Long-run arrivals per second per device (for mmpp, averaged over on and off)."""
        if self.arrival != "mmpp":
            return self.rate_hz
        on, off = self.mmpp_on_s, self.mmpp_off_s
        return (self.rate_hz * on + self.mmpp_off_rate_hz * off) / (on + off)

    def workload_fields(self) -> dict[str, float]:
        """The scenario ``Workload`` fields this row fills."""
        return {f: getattr(self, f) for f in WORKLOAD_FIELDS}

    def split_point_fields(self) -> tuple[dict[str, Any], ...]:
        """The layer profile: one ``{layer, device_flops, upload_bytes}`` dict per cut, in network
        order; an empty tuple for a row without split points."""
        return tuple(point.model_dump() for point in self.split_points)

    def arrival_fields(self) -> dict[str, Any]:
        """The device-group arrival fields this row suggests, only those its arrival kind uses."""
        out: dict[str, Any] = {"arrival": self.arrival, "rate_hz": self.rate_hz}
        for field, kind in _ARRIVAL_ONLY.items():
            if kind == self.arrival:
                out[field] = getattr(self, field)
        return out


class WorkloadTables(_Model):
    """The whole workloads file: references and the catalog rows."""

    references: dict[str, str] = Field(description="key -> full citation, cited as [key] in sources")
    workloads: dict[str, WorkloadProfile] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _names_from_keys(cls, data: Any) -> Any:
        rows = data.get("workloads") if isinstance(data, dict) else None
        if not isinstance(rows, dict):
            return data  # the type check of `workloads` reports it
        named = {}
        for key, row in rows.items():
            if isinstance(row, dict):
                if "name" in row:
                    raise ValueError(f"workloads.{key}.name: comes from the table key; remove it")
                row = {"name": key, **row}
            named[key] = row
        return {**data, "workloads": named}

    @model_validator(mode="after")
    def _names_and_references(self) -> WorkloadTables:
        for name, row in self.workloads.items():
            if not _NAME.match(name):
                raise ValueError(f"workloads.{name}: a name must be lower-case letters, digits and _")
            for key, text in row.sources.items():
                for cited in _cited_keys(text):
                    if cited not in self.references:
                        raise ValueError(
                            f"workloads.{name}.sources.{key}: cites [{cited}], which is not in references "
                            f"(known: {', '.join(self.references)})")
        return self


# ----------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------


def workloads_from_dict(raw: dict[str, Any], *, source: str = "<workloads>") -> WorkloadTables:
    """Validate raw (TOML-like) data into :class:`WorkloadTables`; ``source`` names it in errors."""
    return validate_table(WorkloadTables, raw, source=source)


def load_workloads(path: str | Path | None = None) -> WorkloadTables:
    """Read and validate a workloads TOML file; ``None`` reads the one shipped with airan."""
    return _package_tables() if path is None else read_table(WorkloadTables, path, kind="workloads")


@cache
def _package_tables() -> WorkloadTables:
    text = (resources.files("airan") / "data" / _PACKAGE_FILE).read_text(encoding="utf-8")
    return parse_table(WorkloadTables, text, _PACKAGE_FILE)


class _Workloads(Mapping[str, WorkloadProfile]):
    """A read-only name -> :class:`WorkloadProfile` mapping over the shipped file, read on first use.

    A miss raises :class:`~airan.profiles.UnknownProfileError` (a ``KeyError`` and a ``ValueError``).
    """

    def __getitem__(self, name: str) -> WorkloadProfile:
        rows = _package_tables().workloads
        try:
            return rows[name]
        except (KeyError, TypeError):
            raise UnknownProfileError(f"unknown workload profile {name!r}; known: {', '.join(rows)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(_package_tables().workloads)

    def __len__(self) -> int:
        return len(_package_tables().workloads)

    def __repr__(self) -> str:
        return f"<workload profiles: {', '.join(self)}>"


#: Shipped workload profiles by name (:class:`WorkloadProfile`).
WORKLOAD_PROFILES: Mapping[str, WorkloadProfile] = _Workloads()


def workload_profile(name: str) -> WorkloadProfile:
    """The shipped workload profile ``name`` (detect_yolov8n_640, llm_llama31_8b_chat, ...)."""
    return WORKLOAD_PROFILES[name]


def workload_fields(name: str) -> dict[str, float]:
    """The scenario ``Workload`` fields the profile ``name`` fills: flops, input_bytes, output_bytes, deadline_s."""
    return workload_profile(name).workload_fields()


def split_point_fields(name: str) -> tuple[dict[str, Any], ...]:
    """The layer profile of the profile ``name``: a ``{layer, device_flops, upload_bytes}`` dict per
    cut for partial offloading, in network order (empty for a row without one)."""
    return workload_profile(name).split_point_fields()


def arrival_fields(name: str) -> dict[str, Any]:
    """The device-group arrival fields the profile ``name`` suggests: ``arrival``, ``rate_hz`` and, by
    arrival kind, ``jitter_s`` (periodic) or ``mmpp_on_s``, ``mmpp_off_s``, ``mmpp_off_rate_hz`` (mmpp)."""
    return workload_profile(name).arrival_fields()


# ----------------------------------------------------------------------------
# Documentation
# ----------------------------------------------------------------------------


def workloads_markdown(tables: WorkloadTables | None = None) -> str:
    """The catalog with every number's source, as Markdown (``docs/workloads.md``)."""
    tables = _package_tables() if tables is None else tables
    lines = [
        "# Workloads: AI inference at the base station",
        "",
        "Generated from `airan/data/workloads.toml` by `airan.workloads.workloads_markdown()`; a test keeps "
        "it current. Look a row up with `airan.workloads.workload_profile(name)`; `workload_fields(name)` gives "
        "the scenario `Workload` fields it fills and `arrival_fields(name)` the device-group arrival fields it "
        "suggests. Units are in the field names.",
        "",
        f"Confidence tags: {_TAGS} `[key]` cites the references at the end.",
        "",
        "**FLOP convention.** `flops` counts floating-point operations per inference, 2 per multiply-accumulate "
        "(MAC), the unit of the GPU and device profiles (docs/profiles.md), whose `flops_per_s` are MLPerf "
        "ResNet-50 samples/s x 8.18 GFLOP (2 x torchvision's 4.09 G MACs): `flops / flops_per_s` is a service "
        "time. Ultralytics' \"GFLOPs\" are already 2 x MACs (its `get_flops` doubles the MAC count of thop); "
        "torchvision's \"GFLOPS\" are MACs and are doubled here; transformer counts use 2 FLOP per weight per "
        "token plus the attention products.",
        "",
        "## Workloads",
        "",
        _doc_paragraph(WorkloadProfile, 1),
        "",
        "| workload | description | FLOP | input bytes | output bytes | deadline s | arrival | rate Hz | "
        "mean rate Hz |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for name, row in tables.workloads.items():
        lines.append(
            f"| `{name}` | {row.description} | {_fmt(row.flops)} | {_fmt(row.input_bytes)} | "
            f"{_fmt(row.output_bytes)} | {_fmt(row.deadline_s)} | {_arrival_words(row)} | {_fmt(row.rate_hz)} | "
            f"{_fmt(row.mean_rate_hz)} |")
    lines += [
        "",
        "## Token-generating workloads",
        "",
        _doc_paragraph(WorkloadProfile, 2),
        "",
        "| workload | prompt tokens | output tokens | prefill FLOP | decode FLOP per token | total FLOP |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in tables.workloads.items():
        if row.prefill_flops is not None:
            prompt = "" if row.prompt_tokens is None else str(row.prompt_tokens)
            lines.append(
                f"| `{name}` | {prompt} | {row.output_tokens} | {_fmt(row.prefill_flops)} | "
                f"{_fmt(row.decode_flops_per_token)} | {_fmt(row.flops)} |")
    lines += [
        "",
        "## Split points: layer profiles for partial offloading",
        "",
        _doc_paragraph(WorkloadProfile, 3),
        "Each table adds the two implied ends in italics; kB are 1000 bytes, and upload / input compares "
        "a cut's upload with the row's `input_bytes`. `split_point_fields(name)` gives the listed cuts.",
        "",
    ]
    for name, row in tables.workloads.items():
        if row.split_points:
            lines += _split_point_table(name, row)
    for name, row in tables.workloads.items():
        lines += _row_section(name, f"{row.description}.\n\nModel: {row.model}.", list(_row_entries(row)))
    lines += ["## References", "", "| key | reference |", "|---|---|"]
    lines += [f"| `{key}` | {text} |" for key, text in tables.references.items()]
    lines.append("")
    return "\n".join(lines)


def _row_entries(row: WorkloadProfile) -> Iterator[tuple[str, str, str]]:
    # the numbers as for any row (a copy without cuts, whose tuple is no single value), then the cuts' source
    yield from _entries(row.model_copy(update={"split_points": ()}), "")
    if row.split_points:
        yield "split_points", f"{len(row.split_points)} cuts (table above)", row.sources["split_points"]


def _split_point_table(name: str, row: WorkloadProfile) -> list[str]:
    cuts = [("*nothing: full offload*", 0.0, row.input_bytes)]
    cuts += [(f"`{point.layer}`", point.device_flops, point.upload_bytes) for point in row.split_points]
    cuts.append(("*everything: local*", row.flops, 0.0))
    lines = [f"`{name}`: {row.model}; {_fmt(row.flops / 1e9)} GFLOP in all.", "",
             "| device runs up to | device GFLOP | share of FLOP | upload kB | upload / input |",
             "|---|---:|---:|---:|---:|"]
    for layer, device_flops, upload_bytes in cuts:
        ratio = f"{upload_bytes / row.input_bytes:.3g}" if row.input_bytes > 0 else ""
        lines.append(f"| {layer} | {device_flops / 1e9:.4g} | {100 * device_flops / row.flops:.1f} % | "
                     f"{_fmt(upload_bytes / 1e3)} | {ratio} |")
    lines.append("")
    return lines


def _arrival_words(row: WorkloadProfile) -> str:
    if row.arrival == "periodic":
        return f"periodic, jitter {_fmt(row.jitter_s)} s"
    if row.arrival == "mmpp":
        return f"mmpp, on {_fmt(row.mmpp_on_s)} s / off {_fmt(row.mmpp_off_s)} s"
    return "poisson"
