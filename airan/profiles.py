"""Profiles: devices, server / edge GPUs and base stations, as published numbers with sources.

The numbers live in the package data table ``airan/data/profiles.toml``; this module
loads it once (on first use, not on import), validates it strictly and exposes it:

- :data:`DEVICE_PROFILES` / :func:`device_profile`: on-device power, radio, battery and
  accelerator figures (:class:`DeviceProfile`);
- :data:`ACCELERATOR_PROFILES` / :func:`accelerator_profile`: GPUs for GPU sites
  (:class:`AcceleratorProfile`);
- :data:`BASE_STATION_PROFILES` / :func:`base_station_profile`: EARTH base-station power
  model parameters (:class:`BaseStationProfile`);
- :func:`profiles_markdown`: the tables with their sources, for ``docs/profiles.md``.

Every number of a row has an entry in the row's ``sources`` table that says where it
comes from and ends in a confidence tag: **V** (checked against a public primary text or
two independent public implementations), **C** (computed; the row's ``formulas`` table
gives the arithmetic, and loading checks that it reproduces the value), **R** (recalled
from the cited document, not re-read: an overridable parameter) or **A** (a modelling
assumption, with its reason). ``[key]`` in a source names an entry of ``references``.

A lookup of an unknown name raises :class:`UnknownProfileError`, which is both a
``ValueError`` and a ``KeyError`` (so ``name in DEVICE_PROFILES`` and ``.get`` work), with a
one-line message listing the known names. A table that does not validate raises
:class:`ProfileError` with a one-line message such as
``profiles.toml: devices.smartphone.power_tx_w: must be >= 0, got -1.0``.

References
----------
J. Huang et al., "A close examination of performance and power characteristics of 4G LTE
networks", ACM MobiSys 2012 (device radio power model). G. Auer et al., "How much energy
is needed to run a wireless network?", IEEE Wireless Commun. 18(5), 2011 (EARTH model).
MLCommons MLPerf Inference v3.1, v4.0, v4.1 results, closed division, NVIDIA (GPU
throughputs). The full list, with the exact files read, is the ``references`` table.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "ACCELERATOR_PROFILES",
    "BASE_STATION_PROFILES",
    "DEVICE_PROFILES",
    "AcceleratorProfile",
    "BaseStationProfile",
    "DeviceProfile",
    "OnDeviceAccelerator",
    "ProfileError",
    "ProfileTables",
    "UnknownProfileError",
    "accelerator_profile",
    "base_station_profile",
    "device_profile",
    "evaluate_formula",
    "load_profiles",
    "profiles_from_dict",
    "profiles_markdown",
]

_PACKAGE_FILE = "profiles.toml"
_FORMULA_RTOL = 2e-3  # a stated value may round its formula's result to 3-4 significant digits
_TAG = re.compile(r"\((?:V|C|R|A)(?:\)|[ ;,][^()]*\))\s*$")
_REFERENCE = re.compile(r"\[([^\[\]]+)\]")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

AcceleratorKind = Literal["cpu", "gpu", "npu"]


class ProfileError(ValueError):
    """A profile table that does not validate; the message is one line."""


class UnknownProfileError(KeyError, ValueError):
    """An unknown profile name; a ``ValueError`` and a ``KeyError``, with a one-line message."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


# ----------------------------------------------------------------------------
# Schema
# ----------------------------------------------------------------------------


class _Model(BaseModel):
    # as airan.scenario: no silent coercion, unknown keys are errors, immutable
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class _Row(_Model):
    """A table row: numbers, plus ``sources`` (one per number) and ``formulas`` (derived ones)."""

    # text fields that are modelling claims and so need a source too
    _SOURCED_TEXT: ClassVar[tuple[str, ...]] = ()

    description: str = Field("", description="one line for tables and docs")
    sources: dict[str, str] = Field(
        description="field name -> where the number comes from, ending in a tag (V), (C), (R) or (A)")
    formulas: dict[str, str] = Field(
        default_factory=dict,
        description="field name -> arithmetic of published figures that reproduces the value (to 0.2 %)")

    def numeric_fields(self) -> list[str]:
        """Names of this row's numbers (ints and floats that are set), in declaration order."""
        return [
            name for name in type(self).model_fields
            if isinstance(getattr(self, name), int | float) and not isinstance(getattr(self, name), bool)
        ]

    def sourced_fields(self) -> list[str]:
        """Fields that must have a ``sources`` entry: every number and the modelling choices."""
        return self.numeric_fields() + [f for f in self._SOURCED_TEXT if getattr(self, f) is not None]

    def _check_row(self) -> None:
        """Cross-field checks of a row kind; run before its sources are checked."""

    @model_validator(mode="after")
    def _validate_row(self) -> _Row:
        self._check_row()
        need = self.sourced_fields()
        missing = [f for f in need if f not in self.sources]
        if missing:
            raise ValueError(f"sources: no source for {', '.join(missing)}")
        for key, text in self.sources.items():
            if key not in need:
                raise ValueError(f"sources.{key}: names no number of this row (numbers: {', '.join(need)})")
            if not _TAG.search(text):
                raise ValueError(f"sources.{key}: must end with a confidence tag (V), (C), (R) or (A), got {text!r}")
        numbers = self.numeric_fields()
        for key, expression in self.formulas.items():
            if key not in numbers:
                raise ValueError(f"formulas.{key}: names no number of this row (numbers: {', '.join(numbers)})")
            value = evaluate_formula(expression, where=f"formulas.{key}")
            stated = getattr(self, key)
            if not math.isclose(value, stated, rel_tol=_FORMULA_RTOL):
                raise ValueError(f"formulas.{key}: {expression} = {value:.6g}, but {key} = {stated!r}")
        return self


class OnDeviceAccelerator(_Row):
    """A processor on a device that can run inference: throughput and the extra power it draws."""

    flops_per_s: float = Field(gt=0, description="effective inference throughput, FLOP/s")
    power_w: float = Field(ge=0, description="extra power while computing, above the device baseline, W")


class DeviceProfile(_Row):
    """A device class: baseline, radio, battery and on-device accelerators.

    Power model (all increments are above ``power_idle_w`` and add up):

    - always while on: ``power_idle_w`` (includes the radio in RRC_IDLE, paging DRX);
    - transferring at uplink rate ``R_ul`` and downlink rate ``R_dl`` (bit/s): the LTE
      model of Huang et al. (2012), ``beta + alpha_u R_ul + alpha_d R_dl`` with
      ``beta = power_tx_w`` (= ``power_rx_w``), ``alpha_u = tx_j_per_bit``,
      ``alpha_d = rx_j_per_bit``; ``beta`` is counted once when both directions are
      active (:meth:`transfer_power_w`);
    - for ``rrc_tail_s`` after the last transfer: ``power_tail_w`` (RRC_CONNECTED, DRX);
    - then for ``rrc_inactive_s``: ``power_inactive_w`` (NR RRC_INACTIVE), then RRC_IDLE;
    - computing on accelerator ``k``: ``accelerators[k].power_w``.

    Battery: ``battery_wh`` of energy and a discharge model, ``ideal``, ``peukert``
    (exponent ``peukert_k`` for a capacity rated at the ``peukert_rated_h``-hour rate) or
    ``kibam`` (available-charge fraction ``kibam_c`` and rate constant
    ``kibam_k_prime_per_s``, which is Jongerden and Haverkort's k' = k / (c (1 - c)) in
    1/s, the constant of the height difference's decay, equal to Manwell and McGowan's k).

    References
    ----------
    J. Huang et al., "A close examination of performance and power characteristics of 4G
    LTE networks", ACM MobiSys 2012. M. R. Jongerden and B. R. Haverkort, "Which battery
    model to use?", IET Software 3(6), 2009.
    """

    _SOURCED_TEXT: ClassVar[tuple[str, ...]] = ("battery_model",)

    power_idle_w: float = Field(ge=0, description="baseline power while on, radio in RRC_IDLE, W")
    power_tx_w: float = Field(ge=0, description="extra power while transmitting, constant term (Huang beta), W")
    power_rx_w: float = Field(ge=0, description="extra power while receiving, constant term (Huang beta), W")
    tx_j_per_bit: float = Field(ge=0, description="extra uplink energy per bit sent (Huang alpha_u), J/bit")
    rx_j_per_bit: float = Field(ge=0, description="extra downlink energy per bit received (Huang alpha_d), J/bit")
    rrc_tail_s: float = Field(ge=0, description="RRC_CONNECTED tail after the last transfer, s")
    power_tail_w: float = Field(ge=0, description="extra power during the RRC_CONNECTED tail, W")
    rrc_inactive_s: float = Field(ge=0, description="time in RRC_INACTIVE after the tail, before RRC_IDLE, s")
    power_inactive_w: float = Field(ge=0, description="extra power in RRC_INACTIVE over RRC_IDLE, W")
    battery_wh: float = Field(gt=0, description="battery energy, Wh")
    battery_model: Literal["ideal", "peukert", "kibam"] = Field(description="battery discharge model")
    peukert_k: float | None = Field(None, ge=1, description="Peukert exponent k (peukert only)")
    peukert_rated_h: float | None = Field(
        None, gt=0, description="discharge time at which the capacity is rated, h (peukert only)")
    kibam_c: float | None = Field(None, gt=0, le=1, description="KiBaM available-charge fraction c (kibam only)")
    kibam_k_prime_per_s: float | None = Field(
        None, gt=0, description="KiBaM rate constant k' = k / (c (1 - c)), 1/s (kibam only)")
    accelerators: dict[AcceleratorKind, OnDeviceAccelerator] = Field(
        min_length=1, description="on-device processors that can run inference, by kind")
    default_accelerator: AcceleratorKind = Field(description="the processor local inference runs on")

    _BATTERY_PARAMETERS: ClassVar[dict[str, tuple[str, ...]]] = {
        "ideal": (),
        "peukert": ("peukert_k", "peukert_rated_h"),
        "kibam": ("kibam_c", "kibam_k_prime_per_s"),
    }

    def _check_row(self) -> None:
        wanted = self._BATTERY_PARAMETERS[self.battery_model]
        for model, names in self._BATTERY_PARAMETERS.items():
            for name in names:
                given = getattr(self, name) is not None
                if name in wanted and not given:
                    raise ValueError(f"{name}: required with battery_model = {self.battery_model!r}")
                if name not in wanted and given:
                    raise ValueError(f"{name}: only used by battery_model = {model!r}; remove it")
        if self.default_accelerator not in self.accelerators:
            raise ValueError(
                f"default_accelerator: must be one of {', '.join(self.accelerators)}, got {self.default_accelerator!r}")

    @property
    def compute_flops_per_s(self) -> float:
        """Throughput of the default accelerator, FLOP/s."""
        return self.accelerators[self.default_accelerator].flops_per_s

    @property
    def power_compute_w(self) -> float:
        """Extra power of the default accelerator while computing, W."""
        return self.accelerators[self.default_accelerator].power_w

    def transfer_power_w(self, uplink_bps: float = 0.0, downlink_bps: float = 0.0) -> float:
        """Extra radio power while transferring, above the baseline, W.

        ``beta + alpha_u R_ul + alpha_d R_dl`` (Huang et al. 2012, with rates in bit/s and
        alphas in J/bit), ``beta`` being ``power_tx_w`` while sending (``power_rx_w`` while
        only receiving), counted once; zero when neither rate is positive.
        """
        if uplink_bps < 0 or downlink_bps < 0:
            raise ValueError(f"rates must be >= 0, got uplink {uplink_bps!r}, downlink {downlink_bps!r} bit/s")
        if uplink_bps == 0 and downlink_bps == 0:
            return 0.0
        beta = self.power_tx_w if uplink_bps > 0 else self.power_rx_w
        return beta + self.tx_j_per_bit * uplink_bps + self.rx_j_per_bit * downlink_bps


class AcceleratorProfile(_Row):
    """A GPU (or edge module) for a GPU site.

    ``flops_per_s`` is an effective sustained inference throughput: a workload of F FLOP
    takes F / ``flops_per_s`` seconds of one server. It comes from MLPerf ResNet-50 Offline
    samples/s x 8.18 GFLOP per sample where NVIDIA published a one-GPU figure, otherwise
    from the dense 8-bit peak x the H100's measured ratio of the two (see each row).
    """

    flops_per_s: float = Field(gt=0, description="effective sustained inference throughput, FLOP/s")
    peak_dense_8bit_flops_per_s: float = Field(
        gt=0, description="dense (no sparsity) INT8 / FP8 tensor peak, operations/s")
    power_idle_w: float = Field(ge=0, description="power with a model resident and no work, W")
    power_peak_w: float = Field(gt=0, description="board power limit (TDP / TGP), W")
    memory_gb: float = Field(gt=0, description="accelerator memory, GB")
    memory_bw_bytes_per_s: float = Field(
        gt=0, description="memory bandwidth, bytes/s (bounds LLM decode: each token reads every weight)")

    def _check_row(self) -> None:
        if self.power_idle_w > self.power_peak_w:
            raise ValueError(
                f"power_idle_w: must be <= power_peak_w ({self.power_peak_w!r}), got {self.power_idle_w!r}")
        if self.flops_per_s > self.peak_dense_8bit_flops_per_s:
            raise ValueError(
                f"flops_per_s: must be <= peak_dense_8bit_flops_per_s ({self.peak_dense_8bit_flops_per_s!r}), "
                f"got {self.flops_per_s!r}")

    @property
    def utilization(self) -> float:
        """``flops_per_s`` as a fraction of the dense 8-bit peak."""
        return self.flops_per_s / self.peak_dense_8bit_flops_per_s


class BaseStationProfile(_Row):
    """EARTH base-station power model (Auer et al. 2011).

    ``P_in = n_trx (p0_w + delta_p P_out)`` for ``0 < P_out <= p_max_w`` and
    ``P_in = n_trx p_sleep_w`` for ``P_out = 0``, where ``P_out`` is the RF output power
    per transceiver; at load ``chi`` (fraction of resources in use), ``P_out = chi p_max_w``.

    References
    ----------
    G. Auer et al., "How much energy is needed to run a wireless network?", IEEE Wireless
    Commun. 18(5), 2011, Table 2. A public MATLAB implementation does not scale the sleep
    power by ``n_trx``; Auer et al. do, and so does this class.
    """

    n_trx: int = Field(ge=1, description="transceiver chains (sectors x antennas)")
    p_max_w: float = Field(gt=0, description="maximum RF output power per transceiver, W")
    p0_w: float = Field(ge=0, description="input power per transceiver at minimum non-zero output, W")
    delta_p: float = Field(ge=0, description="slope of input over RF output power (dimensionless)")
    p_sleep_w: float = Field(ge=0, description="input power per transceiver in sleep (zero output), W")

    def power_in_w(self, load: float) -> float:
        """Input power at ``load`` (0 = sleep, 1 = full RF output), W."""
        if not 0.0 <= load <= 1.0:
            raise ValueError(f"load: must be >= 0 and <= 1, got {load!r}")
        if load == 0.0:
            return self.n_trx * self.p_sleep_w
        return self.n_trx * (self.p0_w + self.delta_p * load * self.p_max_w)

    @property
    def power_in_full_load_w(self) -> float:
        """Input power at full load, ``n_trx (p0_w + delta_p p_max_w)``, W."""
        return self.power_in_w(1.0)


class ProfileTables(_Model):
    """The whole profiles file: references, devices, accelerators, base stations."""

    references: dict[str, str] = Field(description="key -> full citation, cited as [key] in sources")
    devices: dict[str, DeviceProfile] = Field(min_length=1)
    accelerators: dict[str, AcceleratorProfile] = Field(min_length=1)
    base_stations: dict[str, BaseStationProfile] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_and_references(self) -> ProfileTables:
        for table in ("devices", "accelerators", "base_stations"):
            for name, row in getattr(self, table).items():
                if not _NAME.match(name):
                    raise ValueError(f"{table}.{name}: a name must be lower-case letters, digits and _")
                for where, sources in _row_sources(row):
                    for key, text in sources.items():
                        for cited in _cited_keys(text):
                            if cited not in self.references:
                                raise ValueError(
                                    f"{table}.{name}.{where}sources.{key}: cites [{cited}], which is not in "
                                    f"references (known: {', '.join(self.references)})")
        return self


def _row_sources(row: _Row) -> Iterator[tuple[str, dict[str, str]]]:
    yield "", row.sources
    if isinstance(row, DeviceProfile):
        for kind, accelerator in row.accelerators.items():
            yield f"accelerators.{kind}.", accelerator.sources


def _cited_keys(text: str) -> list[str]:
    """``[huang2012, aro]`` and ``[mlperf_v31 Orin_TRT_MaxQ spl.txt]`` -> the reference keys."""
    keys = []
    for group in _REFERENCE.findall(text):
        for part in group.split(","):
            words = part.split()
            if words:
                keys.append(words[0])
    return keys


# ----------------------------------------------------------------------------
# Formulas: arithmetic of literal numbers only
# ----------------------------------------------------------------------------

_BINARY: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def evaluate_formula(expression: str, *, where: str = "formula") -> float:
    """Value of an arithmetic expression of numbers (``+ - * / **``, parentheses), nothing else."""

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = walk(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        raise ValueError(f"{where}: only numbers, + - * / ** and parentheses are allowed, got {expression!r}")

    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise ValueError(f"{where}: not an arithmetic expression: {expression!r}") from None
    try:
        return walk(tree)
    except ZeroDivisionError:
        raise ValueError(f"{where}: divides by zero: {expression!r}") from None


# ----------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------


def profiles_from_dict(raw: dict[str, Any], *, source: str = "<profiles>") -> ProfileTables:
    """Validate raw (TOML-like) data into :class:`ProfileTables`; ``source`` names it in errors."""
    return validate_table(ProfileTables, raw, source=source)


def load_profiles(path: str | Path | None = None) -> ProfileTables:
    """Read and validate a profiles TOML file; ``None`` reads the one shipped with airan."""
    return _package_tables() if path is None else read_table(ProfileTables, path, kind="profiles")


def validate_table(model: type[BaseModel], raw: dict[str, Any], *, source: str) -> Any:
    """Validate raw data into a table ``model``; a failure is a one-line :class:`ProfileError`."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ProfileError(f"{source}: {_describe(exc)}") from None


def read_table(model: type[BaseModel], path: str | Path, *, kind: str) -> Any:
    """Read a TOML data table (``kind``: profiles, workloads) from ``path`` and validate it into ``model``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(f"{path}: no such {kind} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read: {exc}") from None
    return parse_table(model, text, path.name)


def parse_table(model: type[BaseModel], text: str, source: str) -> Any:
    """TOML text -> a validated table ``model``; ``source`` names it in errors."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{source}: not valid TOML: {exc}") from None
    return validate_table(model, raw, source=source)


@cache
def _package_tables() -> ProfileTables:
    text = (resources.files("airan") / "data" / _PACKAGE_FILE).read_text(encoding="utf-8")
    return parse_table(ProfileTables, text, _PACKAGE_FILE)


class _Profiles(Mapping[str, Any]):
    """A read-only name -> profile mapping over one table of the shipped file, read on first use.

    A miss raises :class:`UnknownProfileError` (a ``KeyError`` and a ``ValueError``).
    """

    def __init__(self, kind: str, table: str) -> None:
        self._kind = kind
        self._table = table

    @property
    def _rows(self) -> dict[str, Any]:
        return getattr(_package_tables(), self._table)

    def __getitem__(self, name: str) -> Any:
        rows = self._rows
        try:
            return rows[name]
        except (KeyError, TypeError):
            raise UnknownProfileError(f"unknown {self._kind} profile {name!r}; known: {', '.join(rows)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"<{self._kind} profiles: {', '.join(self._rows)}>"


#: Shipped device profiles by name (:class:`DeviceProfile`).
DEVICE_PROFILES: Mapping[str, DeviceProfile] = _Profiles("device", "devices")
#: Shipped GPU / edge-module profiles by name (:class:`AcceleratorProfile`).
ACCELERATOR_PROFILES: Mapping[str, AcceleratorProfile] = _Profiles("accelerator", "accelerators")
#: Shipped EARTH base-station profiles by type (:class:`BaseStationProfile`).
BASE_STATION_PROFILES: Mapping[str, BaseStationProfile] = _Profiles("base station", "base_stations")


def device_profile(name: str) -> DeviceProfile:
    """The shipped device profile ``name`` (smartphone, ar_glasses, ...)."""
    return DEVICE_PROFILES[name]


def accelerator_profile(name: str) -> AcceleratorProfile:
    """The shipped GPU / edge-module profile ``name`` (h100, l4, jetson_orin_nx, ...)."""
    return ACCELERATOR_PROFILES[name]


def base_station_profile(name: str) -> BaseStationProfile:
    """The shipped EARTH base-station profile ``name`` (macro, rrh, micro, pico, femto)."""
    return BASE_STATION_PROFILES[name]


# ----------------------------------------------------------------------------
# Error messages
# ----------------------------------------------------------------------------

_TYPE_WORDS = {
    "float_type": "must be a number",
    "int_type": "must be an integer",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "dict_type": "must be a table",
    "model_type": "must be a table",
}
_BOUND_WORDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def _describe(exc: ValidationError) -> str:
    """One line for the first error: ``field.path: what is allowed, got value``."""
    err = exc.errors(include_url=False)[0]
    loc = [str(part) for part in err["loc"] if part != "[key]"]
    path = ".".join(loc) or "<top level>"
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if kind == "value_error":
        message = str(ctx.get("error", err["msg"])).removeprefix("Value error, ")
        return f"{path}.{message}" if loc else message
    if kind == "extra_forbidden":
        return f"{path}: unknown key"
    if kind == "missing":
        return f"{path}: required value is missing"
    if kind in _BOUND_WORDS:
        bound = next(iter(ctx.values()))
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"{path}: must be {_BOUND_WORDS[kind]} {bound}, got {got!r}"
    if kind == "literal_error":
        return f"{path}: must be one of {ctx.get('expected')}, got {got!r}"
    if kind == "too_short":
        return f"{path}: must not be empty"
    if kind in _TYPE_WORDS:
        return f"{path}: {_TYPE_WORDS[kind]}, got {type(got).__name__} {got!r}"
    if kind == "finite_number":
        return f"{path}: must be a finite number, got {got!r}"
    return f"{path}: {err['msg']}, got {got!r}"


# ----------------------------------------------------------------------------
# Documentation
# ----------------------------------------------------------------------------

_TAGS = (
    "**V** checked against a public primary text or two independent public implementations; "
    "**C** computed (the formula is shown and checked when the table loads); "
    "**R** recalled from the cited document, not re-read: treat it as an overridable parameter; "
    "**A** a modelling assumption, with its reason."
)


def profiles_markdown(tables: ProfileTables | None = None) -> str:
    """The profile tables with every number's source, as Markdown (``docs/profiles.md``)."""
    tables = _package_tables() if tables is None else tables
    lines = [
        "# Profiles: devices, GPUs, base stations",
        "",
        "Generated from `airan/data/profiles.toml` by `airan.profiles.profiles_markdown()`; a test keeps "
        "it current. Look a row up with `airan.profiles.device_profile(name)`, `accelerator_profile(name)` "
        "or `base_station_profile(name)`. Units are in the field names.",
        "",
        f"Confidence tags: {_TAGS} `[key]` cites the references at the end.",
        "",
        "## Devices",
        "",
        _doc_paragraph(DeviceProfile, 0),
        "Radio and RRC numbers are increments above `power_idle_w`; the constant term of a transfer "
        "(`power_tx_w`, `power_rx_w`: Huang's beta) counts once when both directions are active.",
        "",
        "| device | description | idle W | local FLOP/s | compute W | battery Wh | battery model |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for name, row in tables.devices.items():
        lines.append(
            f"| `{name}` | {row.description} | {_fmt(row.power_idle_w)} | {_fmt(row.compute_flops_per_s)} "
            f"({row.default_accelerator}) | {_fmt(row.power_compute_w)} | {_fmt(row.battery_wh)} | "
            f"{row.battery_model} |")
    lines.append("")
    for name, row in tables.devices.items():
        entries = list(_entries(row, ""))
        for kind, accelerator in row.accelerators.items():
            entries += _entries(accelerator, f"accelerators.{kind}.")
        lines += _row_section(name, row.description, entries)

    lines += [
        "## GPUs for GPU sites (`accelerators`)",
        "",
        _doc_paragraph(AcceleratorProfile, 1),
        "",
        "| accelerator | description | FLOP/s | dense 8-bit peak | utilisation | idle W | peak W | memory GB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in tables.accelerators.items():
        lines.append(
            f"| `{name}` | {row.description} | {_fmt(row.flops_per_s)} | {_fmt(row.peak_dense_8bit_flops_per_s)} "
            f"| {row.utilization:.3f} | {_fmt(row.power_idle_w)} | {_fmt(row.power_peak_w)} | {_fmt(row.memory_gb)} |")
    lines.append("")
    for name, row in tables.accelerators.items():
        lines += _row_section(name, row.description, list(_entries(row, "")))

    lines += [
        "## Base stations (EARTH model)",
        "",
        "`P_in = n_trx (p0_w + delta_p P_out)` for `0 < P_out <= p_max_w` (RF output per transceiver, "
        "`P_out = load x p_max_w`); `P_in = n_trx p_sleep_w` at zero output. Auer et al. (2011).",
        "",
        "| type | description | n_trx | p_max_w | p0_w | delta_p | p_sleep_w | P_in at full load W | P_in asleep W |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in tables.base_stations.items():
        lines.append(
            f"| `{name}` | {row.description} | {row.n_trx} | {_fmt(row.p_max_w)} | {_fmt(row.p0_w)} | "
            f"{_fmt(row.delta_p)} | {_fmt(row.p_sleep_w)} | {_fmt(row.power_in_full_load_w)} | "
            f"{_fmt(row.power_in_w(0.0))} |")
    lines.append("")
    for name, row in tables.base_stations.items():
        lines += _row_section(name, row.description, list(_entries(row, "")))

    lines += ["## References", "", "| key | reference |", "|---|---|"]
    lines += [f"| `{key}` | {text} |" for key, text in tables.references.items()]
    lines.append("")
    return "\n".join(lines)


def _doc_paragraph(model: type, index: int) -> str:
    return " ".join((model.__doc__ or "").split("\n\n")[index].split()).replace("``", "`")


def _entries(row: _Row, prefix: str) -> Iterator[tuple[str, str, str]]:
    for field in row.sourced_fields():
        value = getattr(row, field)
        source = row.sources[field]
        if field in row.formulas:
            source += f"; `= {row.formulas[field]}`"
        yield prefix + field, value if isinstance(value, str) else _fmt(value), source


def _row_section(name: str, description: str, entries: list[tuple[str, str, str]]) -> list[str]:
    lines = [f"### `{name}`", "", description, "", "| field | value | source |", "|---|---:|---|"]
    lines += [f"| `{field}` | {value} | {source} |" for field, value, source in entries]
    lines.append("")
    return lines


def _fmt(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6g}"
