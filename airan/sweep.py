"""Parameter sweeps: many runs of one scenario, on local processes or a Dask cluster, into one folder.

A sweep file (TOML) names a base scenario, fixed overrides, the axes to vary and
how to sample them, and the replications per point::

    name = "policy_load"
    scenario = "quickstart.toml"          # relative to the sweep file
    set = ["simulation.duration_s=600"]   # applied to every run, before the axes
    replications = 3
    seed = 2026                           # master seed (default: the scenario's)

    [[axes]]
    path = "policy.name"                  # any field, as `--set` writes it
    values = ["local", "offload"]

    [[axes]]
    path = "devices[0].rate_hz"
    linspace = [0.5, 4.0, 8]

A run is a pure function of its resolved scenario and seed (:func:`execute`), so
the tables come out the same bit for bit in one process, on local worker
processes or on any Dask cluster. Seeds follow the house rule: each (point,
replication) gets :func:`derive_seed` (master seed, the point's parameter values,
the replication index), never the point's number, the worker count or the
order of execution, so adding a point or reordering axes changes no other
point's results. An axis marked ``same_seeds = true`` is left out of the seeds,
so points that differ only there share them (common random numbers: policies
compared on the same arrivals).

Output folder::

    DIR/sweep.json          the resolved sweep, its hash and the point table
    DIR/provenance.json     versions, executor, times, run counts of the last invocation
    DIR/runs/p0007-r1/      one run's full results folder (as `airan run` writes it) + sweep_run.json
    DIR/runs/p0003-r0.error.json   a run that raised: type, message, overrides, traceback
    DIR/results.parquet     one row per finished run: run, point, replication, seed, axes, summary metrics
    DIR/aggregate.parquet   one row per point: axes, n, <metric>_mean and <metric>_ci95

The tables are rebuilt from the run folders at the end of every invocation, so a
sweep stopped anywhere (Ctrl-C, a killed worker, a lost machine) loses no
finished run, and running the same command again does only what is missing.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import platform
import shutil
import signal
import sys
import tempfile
import threading
import tomllib
import traceback
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ._version import __version__
from .results import _atomic_write_text, read_parquet, write_parquet
from .scenario import (
    Scenario,
    ScenarioError,
    _describe,
    _split_path,
    dump_scenario,
    load_scenario,
    read_scenario_file,
    scenario_from_dict,
    scenario_from_file_data,
)

__all__ = [
    "Sweep",
    "SweepError",
    "SweepReport",
    "SweepTables",
    "RunSpec",
    "aggregate_table",
    "collect_tables",
    "derive_seed",
    "execute",
    "format_points",
    "load_sweep",
    "plan_runs",
    "read_results",
    "run_sweep",
    "t_quantile_975",
]

#: Bumped when the meaning of a sweep folder changes (part of the sweep hash).
FOLDER_FORMAT = 1


class SweepError(ValueError):
    """A sweep file, point or output folder that cannot be used; the message is one line."""


# ----------------------------------------------------------------------------
# The sweep file
# ----------------------------------------------------------------------------


class _Model(BaseModel):
    # as the scenario: strict types, unknown keys are errors
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Axis(_Model):
    """One swept field: explicit values, a lin/log range (grid) or a range to sample (random, lhs)."""

    path: str = Field(min_length=1, description="the scenario field, as --set writes it: devices[0].rate_hz")
    values: list[Any] | None = Field(None, min_length=1, description="explicit values (any TOML values)")
    linspace: list[int | float] | None = Field(None, description="[low, high, num]: num values evenly spaced, grid")
    logspace: list[int | float] | None = Field(None, description="[low, high, num]: num values log-spaced, grid")
    low: int | float | None = Field(None, description="random / lhs: the lower end of the range")
    high: int | float | None = Field(None, description="random / lhs: the upper end of the range")
    log: bool = Field(False, description="random / lhs: sample the range uniformly in log")
    integer: bool = Field(False, description="integer values: a range's ends are integers, samples are rounded")
    zip: str | None = Field(None, min_length=1, description="grid: axes with the same label move together")
    same_seeds: bool = Field(False, description="leave this axis out of the seeds: points that differ only here "
                             "share their seeds (common random numbers, e.g. policies on the same arrivals)")

    @model_validator(mode="after")
    def _one_kind(self) -> Axis:
        given = [k for k in ("values", "linspace", "logspace") if getattr(self, k) is not None]
        if self.low is not None or self.high is not None:
            given.append("low")
        if len(given) != 1:
            raise ValueError(f"values: give one of values, linspace, logspace or low and high, got "
                             f"{' and '.join(given) or 'none'}")
        for key in ("linspace", "logspace"):
            spec = getattr(self, key)
            if spec is None:
                continue
            if len(spec) != 3 or isinstance(spec[2], float):
                raise ValueError(f"{key}: must be [low, high, num] with an integer num, got {spec!r}")
            if spec[2] < 1:
                raise ValueError(f"{key}: num must be >= 1, got {spec[2]!r}")
            if not all(math.isfinite(v) for v in spec[:2]):
                raise ValueError(f"{key}: low and high must be finite, got {spec!r}")
            if key == "logspace" and min(spec[:2]) <= 0:
                raise ValueError(f"logspace: low and high must be > 0, got {spec!r}")
        if "low" in given:
            if self.low is None or self.high is None:
                raise ValueError(f"{'high' if self.high is None else 'low'}: required with "
                                 f"{'low' if self.high is None else 'high'}")
            if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
                raise ValueError(f"high: must be finite and >= low ({self.low!r}), got {self.high!r}")
            if self.log and self.low <= 0:
                raise ValueError(f"low: must be > 0 with log = true, got {self.low!r}")
            if self.integer and not (isinstance(self.low, int) and isinstance(self.high, int)):
                raise ValueError(f"low: must be integers with integer = true, got {self.low!r} and {self.high!r}")
        elif self.log:
            raise ValueError("log: only with low and high (use logspace for a grid)")
        if self.values is not None and self.integer:
            raise ValueError("integer: only with linspace, logspace or low and high")
        path = _split_path(self.path)
        if not path:
            raise ValueError(f"path: must be a dotted field path, got {self.path!r}")
        if path == ["simulation", "seed"]:
            raise ValueError("path: simulation.seed is derived per run from the sweep's seed; sweep seed instead")
        return self


class Sampling(_Model):
    """How points are made from the axes."""

    method: Literal["grid", "random", "lhs"] = Field(
        "grid", description="grid: every combination; random: independent uniform draws; lhs: Latin hypercube")
    points: int | None = Field(None, ge=1, description="random / lhs: the number of points")

    @model_validator(mode="after")
    def _points_with_method(self) -> Sampling:
        if self.method == "grid" and self.points is not None:
            raise ValueError("points: only with method = \"random\" or \"lhs\" (a grid has one point per combination)")
        if self.method != "grid" and self.points is None:
            raise ValueError(f"points: required with method = \"{self.method}\"")
        return self


class Cluster(_Model):
    """Where to run: a Dask scheduler (the command line's --scheduler wins)."""

    scheduler: str = Field(min_length=1, description="a Dask scheduler address (tcp://host:8786) or \"local\"")


class SweepFile(_Model):
    """What a sweep ``.toml`` file holds."""

    name: str | None = Field(None, min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                             description="the sweep's name, also its default folder under results/ (letters, digits, "
                             "_ . -; default: the file's stem)")
    scenario: str = Field(min_length=1, description="the base scenario file, relative to the sweep file")
    set: list[str] = Field(default_factory=list, description="overrides applied to every run, before the axes")
    replications: int = Field(1, ge=1, description="runs per point, each with its own seed")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="master seed (default: the scenario's)")
    sampling: Sampling = Sampling()
    axes: list[Axis] = Field(default_factory=list, description="the swept fields")
    cluster: Cluster | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SweepFile:
        for i, item in enumerate(self.set):
            if "=" not in item:
                raise ValueError(f"set[{i}]: must be dotted.path=value, got {item!r}")
            if _split_path(item.split("=", 1)[0].strip()) == ["simulation", "seed"]:
                raise ValueError(f"set[{i}]: simulation.seed is derived per run; give the sweep's seed instead")
        if self.sampling.method != "grid" and not self.axes:
            raise ValueError(f"axes: method = \"{self.sampling.method}\" samples axes; give at least one")
        seen: dict[str, int] = {}
        for i, axis in enumerate(self.axes):
            if axis.path in seen:
                raise ValueError(f"axes[{i}].path: must be unique, got {axis.path!r} again (axes[{seen[axis.path]}])")
            seen[axis.path] = i
            if self.sampling.method == "grid":
                if axis.low is not None:
                    raise ValueError(f"axes[{i}].low: low and high are for method = \"random\" or \"lhs\"; a grid "
                                     f"takes values, linspace or logspace")
            else:
                for key in ("linspace", "logspace", "zip"):
                    if getattr(axis, key) is not None:
                        raise ValueError(f"axes[{i}].{key}: only with method = \"grid\"; {self.sampling.method} "
                                         f"samples low..high or values")
        return self


# ----------------------------------------------------------------------------
# A loaded sweep: its points and seeds
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: its base scenario, its points (``{axis path: value}``) and its hash."""

    path: Path
    name: str
    scenario_path: Path
    set: tuple[str, ...]
    replications: int
    seed: int
    method: str
    axes: tuple[str, ...]
    points: tuple[dict[str, Any], ...]
    seeded: tuple[str, ...]  # the axes that enter the seeds (all but those with same_seeds)
    scheduler: str | None
    hash: str
    definition: dict[str, Any] = field(repr=False)

    @property
    def n_runs(self) -> int:
        return len(self.points) * self.replications

    def run_id(self, point: int, replication: int) -> str:
        """``p0007-r1``: the point's number (stable for a given sweep file) and the replication."""
        width = max(4, len(str(len(self.points) - 1)))
        return f"p{point:0{width}d}-r{replication}"

    def overrides(self, point: int) -> list[str]:
        """The point's ``--set`` overrides: the sweep's ``set``, then one per axis."""
        return [*self.set, *(f"{path}={_toml_value(value)}" for path, value in self.points[point].items())]

    def seed_for(self, point: int, replication: int) -> int:
        """The run's seed: from the master seed, the point's values (of the seeded axes) and the replication."""
        values = self.points[point]
        return derive_seed(self.seed, {path: values[path] for path in self.seeded}, replication)


def load_sweep(path: str | Path, *, settings: list[str] | tuple[str, ...] = (),
               values: dict[str, list] | None = None, replications: int | None = None) -> Sweep:
    """Read and validate a sweep file and make its points (without running or checking them).

    A study script may ask for a variant of the file: ``settings`` (``--set PATH=VALUE``)
    go after the file's ``set``, before the axes, except ``simulation.seed=N``, which
    becomes the master seed (a sweep derives every run's seed from it); ``values``
    replaces the values of the axes it names; ``replications`` the number of
    replications. A variant's hash differs from the file's, so it never takes over a
    folder of the file's own sweep.

    Raises
    ------
    SweepError
        One line: ``FILE: field: what is allowed, got X``.
    airan.ScenarioError
        A setting the base scenario refuses, named as ``--set`` names it.
    """
    path = Path(path)
    source = path.name
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(f"{path}: no such sweep file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"{source}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"{path}: cannot read: {exc}") from None
    file_set = list(raw.get("set", [])) if isinstance(raw.get("set", []), list) else []
    for item in settings:
        key, _, text = item.partition("=")
        if key.strip() == "simulation.seed":
            if not text.strip().isdigit():
                raise SweepError(f"--set {item}: simulation.seed: must be an integer >= 0, got {text.strip()!r}")
            raw["seed"] = int(text.strip())
        else:
            raw["set"] = [*raw.get("set", []), item]
    for axis in raw.get("axes", []) if values else []:
        if isinstance(axis, dict) and axis.get("path") in values:
            axis["values"] = list(values[axis["path"]])
            for key in ("linspace", "logspace"):
                axis.pop(key, None)
    if replications is not None:
        raw["replications"] = replications
    try:
        spec = SweepFile.model_validate(raw)
    except ValidationError as exc:
        raise SweepError(f"{source}: {_describe(exc, SweepFile)}") from None
    scenario_path = (path.parent / spec.scenario).resolve()
    if not scenario_path.is_file():
        raise SweepError(f"{source}: scenario: no such scenario file, got {spec.scenario!r}")
    extra = [item for item in settings if item.partition("=")[0].strip() != "simulation.seed"]
    if extra:
        try:
            load_scenario(scenario_path, file_set)
        except ScenarioError:
            pass  # the file's own settings are wrong: reported below as the file's
        else:
            load_scenario(scenario_path, [*file_set, *extra])  # a bad --set: ScenarioError, named as given
    try:
        base_text = scenario_path.read_text(encoding="utf-8")
        base = load_scenario(scenario_path, spec.set)
    except ScenarioError as exc:
        raise SweepError(f"{source}: set: {exc}" if spec.set else f"{source}: scenario: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"{source}: scenario: cannot read {scenario_path}: {exc}") from None
    seed = base.simulation.seed if spec.seed is None else spec.seed
    for i, axis in enumerate(spec.axes):
        for value in axis.values or ():
            try:
                _toml_value(value)
            except SweepError as exc:
                raise SweepError(f"{source}: axes[{i}].values: {exc}") from None
    points = _make_points(spec, seed, source)
    definition = {
        "format": FOLDER_FORMAT,
        "scenario_sha256": hashlib.sha256(base_text.encode("utf-8")).hexdigest(),
        "set": list(spec.set),
        "replications": spec.replications,
        "seed": seed,
        "sampling": spec.sampling.model_dump(exclude_none=True),
        "axes": [axis.model_dump(exclude_none=True, exclude_defaults=True) for axis in spec.axes],
    }
    sweep_hash = hashlib.sha256(_canonical(definition).encode("utf-8")).hexdigest()
    return Sweep(
        path=path, name=spec.name or path.stem, scenario_path=scenario_path, set=tuple(spec.set),
        replications=spec.replications, seed=seed, method=spec.sampling.method,
        axes=tuple(axis.path for axis in spec.axes), points=tuple(points),
        seeded=tuple(axis.path for axis in spec.axes if not axis.same_seeds),
        scheduler=spec.cluster.scheduler if spec.cluster else None, hash=sweep_hash, definition=definition)


def derive_seed(master: int, assignment: dict[str, Any], replication: int) -> int:
    """The seed of one run: a pure function of the master seed, the point's values and the replication.

    ``assignment`` (``{axis path: value}``) is written as canonical JSON (sorted
    keys, no spaces) and hashed with SHA-256; its eight 32-bit words and the
    replication index are the spawn key of a NumPy ``SeedSequence`` with the
    master seed as entropy, whose two 64-bit output words are XORed and shifted
    right by one bit, into ``[0, 2**63)``. The point's number, the order of the
    axes and the other points play no part.
    """
    digest = hashlib.sha256(_canonical(assignment).encode("utf-8")).digest()
    words = [int(w) for w in np.frombuffer(digest, dtype="<u4")]
    state = np.random.SeedSequence(entropy=int(master), spawn_key=(*words, int(replication))).generate_state(
        2, np.uint64)
    return (int(state[0]) ^ int(state[1])) >> 1


def _make_points(spec: SweepFile, seed: int, source: str) -> list[dict[str, Any]]:
    if spec.sampling.method == "grid":
        return _grid_points(spec.axes, source)
    return _sampled_points(spec.axes, spec.sampling.method, spec.sampling.points, seed)


def _grid_points(axes: list[Axis], source: str) -> list[dict[str, Any]]:
    """The cross product of the axes (the first axis varies slowest); zipped axes move together."""
    factors: list[list[dict[str, Any]]] = []
    zipped: dict[str, tuple[int, int]] = {}  # label -> (factor index, its first axis)
    for i, axis in enumerate(axes):
        values = _axis_values(axis)
        seen = set()
        for value in values:
            key = _canonical(value)
            if key in seen:
                raise SweepError(f"{source}: axes[{i}].values: must not repeat a value, got {value!r} twice")
            seen.add(key)
        if axis.zip is not None and axis.zip in zipped:
            f, first = zipped[axis.zip]
            if len(values) != len(factors[f]):
                raise SweepError(f"{source}: axes[{i}].zip: axes zipped as {axis.zip!r} must have as many values "
                                 f"each; {axes[first].path} has {len(factors[f])}, {axis.path} has {len(values)}")
            for row, value in zip(factors[f], values, strict=True):
                row[axis.path] = value
            continue
        if axis.zip is not None:
            zipped[axis.zip] = (len(factors), i)
        factors.append([{axis.path: value} for value in values])
    points = []
    for combo in itertools.product(*factors):
        assignment = {}
        for part in combo:
            assignment.update(part)
        points.append({path: assignment[path] for path in (a.path for a in axes)})
    return points


def _axis_values(axis: Axis) -> list[Any]:
    if axis.values is not None:
        return list(axis.values)
    low, high, num = axis.linspace or axis.logspace
    if axis.linspace is not None:
        grid = np.linspace(float(low), float(high), int(num))
    else:
        grid = np.geomspace(float(low), float(high), int(num))
    if axis.integer:
        return [int(v) for v in dict.fromkeys(np.rint(grid).astype(np.int64).tolist())]
    return [float(v) for v in grid]


def _sampled_points(axes: list[Axis], method: str, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` points, random (independent uniform draws, point by point) or a Latin hypercube.

    Each axis maps a number u in [0, 1) onto its range: low + u (high - low), in
    log for ``log = true``; integers take floor over [low, high + 1); values take
    item floor(u k) of k. Random draws a point's u's in turn, so raising ``points``
    keeps the earlier points. The Latin hypercube cuts [0, 1) into n strata per
    axis and puts one point in each (McKay, Beckman and Conover, Technometrics
    21(2), 1979), with an independent random order of strata per axis.
    """
    rng = np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=(0x53574545,)))  # "SWEE"
    k = len(axes)
    if method == "random":
        u = rng.random((n, k))  # [n, k]: row by row
    else:
        u = np.empty((n, k))
        for j in range(k):
            u[:, j] = (rng.permutation(n) + rng.random(n)) / n
    return [{axis.path: _from_unit(axis, float(u[i, j])) for j, axis in enumerate(axes)} for i in range(n)]


def _from_unit(axis: Axis, u: float) -> Any:
    if axis.values is not None:
        return axis.values[min(int(u * len(axis.values)), len(axis.values) - 1)]
    low, high = axis.low, axis.high
    if axis.integer:
        if axis.log:
            x = math.exp(math.log(low) + u * (math.log(high + 1) - math.log(low)))
        else:
            x = low + u * (high + 1 - low)
        return int(min(max(math.floor(x), low), high))
    if axis.log:
        return float(math.exp(math.log(low) + u * (math.log(high) - math.log(low))))
    return float(low + u * (high - low))


# ----------------------------------------------------------------------------
# Planning: every point validated, every run a self-contained bundle
# ----------------------------------------------------------------------------


class RunSpec(NamedTuple):
    """One run as a worker receives it: plain, picklable data, no paths on the client's machine."""

    run_id: str
    point: int
    replication: int
    seed: int
    values: dict[str, Any]  # {axis path: value}
    overrides: tuple[str, ...]  # the --set overrides that make it from the base scenario
    files: dict[str, bytes]  # the point's scenario.toml (resolved) and the files it names
    key: str  # SHA-256 of the files and the seed: the run's identity


class RunOutput(NamedTuple):
    """What a worker sends back: the result folder's files, or what went wrong."""

    run_id: str
    files: dict[str, bytes] | None
    error: dict[str, str] | None


def plan_runs(sweep: Sweep) -> list[RunSpec]:
    """Validate every point's scenario (base + ``set`` + the point's values) and bundle every run.

    Raises
    ------
    SweepError
        For the first point whose scenario does not validate, naming its values.
    """
    source = sweep.path.name
    cache: dict[str, bytes] = {}
    specs = []
    try:
        base = read_scenario_file(sweep.scenario_path)  # parsed once: every point starts from a copy
    except ScenarioError as exc:
        raise SweepError(f"{source}: scenario: {exc}") from None
    for p, values in enumerate(sweep.points):
        overrides = sweep.overrides(p)
        try:
            scenario = scenario_from_file_data(base, sweep.scenario_path, overrides)
        except ScenarioError as exc:
            where = ", ".join(f"{path} = {_toml_value(value)}" for path, value in values.items())
            raise SweepError(f"{source}: point {p} ({where}): {exc}") from None
        files = _bundle(scenario, cache, source)  # one per point: its replications differ in the seed only
        inputs = hashlib.sha256(b"".join(
            name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data for name, data in sorted(files.items())))
        for r in range(sweep.replications):
            seed = sweep.seed_for(p, r)
            key = inputs.copy()
            key.update(f"seed={seed}".encode())
            specs.append(RunSpec(sweep.run_id(p, r), p, r, seed, dict(values),
                                 (*overrides, f"simulation.seed={seed}"), files, key.hexdigest()))
    return specs


def _bundle(scenario: Scenario, cache: dict[str, bytes], source: str) -> dict[str, bytes]:
    """The resolved scenario and the files it names (topology, traces, policy), by content."""

    def read(path: str) -> bytes:
        if path not in cache:
            try:
                cache[path] = Path(path).read_bytes()
            except OSError as exc:
                raise SweepError(f"{source}: cannot read {path}: {exc.strerror or exc}") from None
        return cache[path]

    files: dict[str, bytes] = {}
    update: dict[str, Any] = {}
    topo = scenario.topology
    if topo is not None and topo.file is not None and Path(topo.file).suffix:
        name = "topology" + Path(topo.file).suffix
        files[name] = read(topo.file)
        update["topology"] = topo.model_copy(update={"file": name})
    groups = []
    for i, group in enumerate(scenario.devices):
        if group.trace_file is not None:
            files[f"arrivals_{i}.csv"] = read(group.trace_file)
            group = group.model_copy(update={"trace_file": f"arrivals_{i}.csv"})
        groups.append(group)
    update["devices"] = tuple(groups)
    if scenario.policy.plugin is not None:
        files["policy_plugin.py"] = read(scenario.policy.plugin)
        update["policy"] = scenario.policy.model_copy(update={"plugin": "policy_plugin.py"})
    files["scenario.toml"] = dump_scenario(scenario.model_copy(update=update)).encode("utf-8")
    return files


# ----------------------------------------------------------------------------
# Running one bundle (on any worker)
# ----------------------------------------------------------------------------


def execute(spec: RunSpec) -> RunOutput:
    """Run one bundle (the point's scenario with the run's seed) in a temporary folder; return the result's files.

    Needs nothing from the client's machine but the bundle, so a Dask worker only
    needs airan installed. An exception is returned (type, message, traceback),
    not raised, so the sweep carries on.
    """
    from .simulation import run

    try:
        with tempfile.TemporaryDirectory(prefix="airan-run-") as tmp:
            inputs, out = Path(tmp) / "in", Path(tmp) / "out"
            inputs.mkdir()
            scenario_text = spec.files["scenario.toml"]
            for name, data in spec.files.items():
                if name == "policy_plugin.py":
                    # at a path named by its content: a worker imports (and compiles) a policy once
                    raw = tomllib.loads(scenario_text.decode("utf-8"))
                    raw["policy"]["plugin"] = str(_plugin_file(data))
                    scenario_text = _dump_toml(raw).encode("utf-8")
                elif name != "scenario.toml":
                    (inputs / name).write_bytes(data)
            (inputs / "scenario.toml").write_bytes(scenario_text)
            scenario = load_scenario(inputs / "scenario.toml")
            run(scenario, spec.seed).write(out)
            files = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
        return RunOutput(spec.run_id, files, None)
    except Exception as exc:  # noqa: BLE001 - any failure of a run is recorded, and the sweep goes on
        return RunOutput(spec.run_id, None, {"type": type(exc).__name__, "message": str(exc),
                                             "traceback": traceback.format_exc()})


def _dump_toml(raw: dict[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps(raw)


def _plugin_file(data: bytes) -> Path:
    folder = Path(tempfile.gettempdir()) / "airan-policies" / hashlib.sha256(data).hexdigest()[:20]
    path = folder / "policy_plugin.py"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".policy_plugin.{os.getpid()}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


def _ignore_interrupts() -> None:
    """Worker processes leave Ctrl-C to the client, which stops them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# ----------------------------------------------------------------------------
# Running a sweep
# ----------------------------------------------------------------------------


@dataclass
class SweepReport:
    """What one call of :func:`run_sweep` did."""

    out: Path
    total: int  # runs in the sweep
    skipped: int = 0  # already done before this call
    ran: int = 0  # done by this call
    ran_here: int = 0  # runs this process did itself (finished or failed; with local workers, while they started)
    failed: int = 0  # raised (recorded as DIR/runs/<run>.error.json)
    not_done: int = 0  # neither done nor failed (interrupted, or the worker pool broke)
    executor: str = ""
    errors: list[str] = field(default_factory=list)  # "run_id: Type: message", in run order
    stopped: str | None = None  # why the call stopped early, if it did

    @property
    def done(self) -> int:
        return self.skipped + self.ran


def run_sweep(sweep: Sweep | str | Path, out: str | Path, workers: int | None = None, scheduler: str | None = None,
              force: bool = False, progress: bool = True) -> SweepReport:
    """Run every run of ``sweep`` not yet in ``out`` and rebuild the tables.

    Parameters
    ----------
    sweep
        A :class:`Sweep` or the path of a sweep file.
    out
        The sweep folder (module docstring). A folder made by another sweep is
        refused unless ``force``.
    workers
        Local worker processes (default ``os.cpu_count()``; 1 runs in this
        process), or the workers of a ``"local"`` Dask cluster.
    scheduler
        A Dask scheduler address (``"tcp://host:8786"``), or ``"local"`` for a
        Dask cluster on this machine; default the sweep file's ``[cluster]``, else
        local processes.
    force
        Continue into a folder made by a different sweep: runs the new sweep also
        has (the same resolved scenario, files and seed) are kept, under their
        new run ids; every other run and error record there is removed.
    progress
        Show a progress bar on standard error.

    Raises
    ------
    SweepError
        Bad input (a point that does not validate, an unusable folder): nothing ran.
    KeyboardInterrupt
        After stopping the workers and writing the tables of what finished.
    """
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SweepError(f"workers: must be an integer >= 1, got {workers!r}")
    out = Path(out)
    scheduler = scheduler if scheduler is not None else sweep.scheduler
    workers = (os.cpu_count() or 1) if workers is None else workers
    n_runs = len(sweep.points) * sweep.replications
    pool = None
    try:
        if scheduler is None and workers > 1 and n_runs > 1:
            # local worker processes start (interpreter, imports, compiled kernels) while this one plans and runs
            pool = _LocalPool(min(workers, n_runs))
        specs = plan_runs(sweep)
        started = datetime.now(UTC)
        runs = _prepare_folder(sweep, specs, out, force)
        existing = _finished_keys(runs)
        todo = [s for s in specs if existing.get(s.run_id) != s.key]
        if pool is not None and len(todo) < 2:
            pool.close()
            pool = None
        report = SweepReport(out=out, total=len(specs), skipped=len(specs) - len(todo))

        from tqdm import tqdm

        bar = tqdm(total=len(specs), initial=report.skipped, unit="run", desc=sweep.name, file=sys.stderr,
                   disable=not progress, dynamic_ncols=True)
    except BaseException:
        if pool is not None:
            pool.close()
        raise
    by_id = {s.run_id: s for s in specs}

    def handle(output: RunOutput) -> None:
        spec = by_id[output.run_id]
        if output.error is None:
            _store_run(runs, spec, output.files, sweep)
            report.ran += 1
        else:
            _store_error(runs, spec, output.error)
            report.failed += 1
            report.errors.append(f"{spec.run_id}: {output.error['type']}: {output.error['message']}")
        bar.update(1)
        if report.failed:
            bar.set_postfix(failed=report.failed)

    try:
        if not todo:
            report.executor = "nothing to run"
        elif scheduler is not None:
            _run_dask(todo, scheduler, workers, handle, report)
        elif pool is None:
            report.executor = "serial (in this process)"
            for spec in todo:
                handle(execute(spec))
                report.ran_here += 1
        else:
            pool.run(todo, handle, report)
    except KeyboardInterrupt:
        report.stopped = "interrupted"
        raise
    finally:
        if pool is not None:
            pool.close()
        bar.close()
        report.errors.sort()
        report.not_done = report.total - report.done - report.failed
        _finish(sweep, specs, out, runs, report, started)
    return report


class _LocalPool:
    """``n`` local worker processes, started in a thread while the client plans and runs.

    The first sweep in a process starts a forkserver, which imports airan and
    loads the compiled kernels (:mod:`airan._sweep_worker`) before forking the
    workers: about a second and a half with a warm Numba cache (a full compile
    with a cold one); each worker then reports it started with a warm-up task
    (a tiny run where the kernels are not loaded yet). Meanwhile
    the client runs the sweep's first runs itself (:meth:`run`); once the warm-ups
    are done, the starting thread hands the workers every run nobody has begun,
    and the client's run in progress finishes beside them (so for the length of
    that one run, ``n + 1`` runs share the cores and the memory; the kernels
    release the GIL, so the hand-over does not wait for the client's run). If the
    workers cannot start, or break while taking the runs, the client runs the rest
    itself and the report says why; a worker that dies later stops the sweep (the
    runs that came back are kept: run it again to resume). Later sweeps in the same
    process reuse the forkserver, unless one was already running without the
    preload (then each worker loads the kernels with its warm-up run).
    """

    #: the module the forkserver imports before forking the workers
    PRELOAD = "airan._sweep_worker"

    def __init__(self, n: int):
        # imported here: in the starting thread, the imports would wait for the client's planning
        import concurrent.futures.process  # noqa: F401
        import multiprocessing

        # forkserver (spawn where there is none): no worker inherits the client's threads (Numba, tqdm, this one)
        self.method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self.n = n
        self.pool = None
        self.error: BaseException | None = None  # why the workers did not start, or broke while taking the runs
        self._lock = threading.Lock()
        self._up = False  # the warm-up runs are done (under _lock)
        self._todo: deque[RunSpec] | None = None  # runs nobody has begun, once run() is called (under _lock)
        self._futures: list = []  # (future, spec) of the runs handed to the workers (under _lock)
        self._here_after_break = 0  # runs the client did after the workers broke while taking the runs
        self._cancel = threading.Event()
        self._wake = threading.Event()  # the warm-ups are done, or close() was called
        self.settled = threading.Event()  # the starting thread is done: workers up (runs handed over) or not
        self._thread = threading.Thread(target=self._start, name="airan-sweep-workers", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        try:
            context = multiprocessing.get_context(self.method)
            if self.method == "forkserver":
                context.set_forkserver_preload([self.PRELOAD])  # the workers fork with the kernels loaded
            self.pool = ProcessPoolExecutor(max_workers=self.n, mp_context=context, initializer=_ignore_interrupts)
            # a worker process is started for each task submitted while none is idle (this blocks until the
            # forkserver is up)
            warm = []
            for _ in range(self.n):
                if self._cancel.is_set():
                    return
                warm.append(self.pool.submit(_warm_worker))

            def warmed(_future) -> None:  # runs in the pool's thread, or here if the future is done already
                if all(f.done() for f in warm):
                    self._wake.set()

            for future in warm:
                future.add_done_callback(warmed)
            self._wake.wait()
            for future in warm:
                if future.done():
                    future.result()  # a worker that died while starting: BrokenProcessPool
            with self._lock:
                if not self._cancel.is_set():
                    self._up = True
                    self._hand_over()
        except BaseException as exc:  # noqa: BLE001 - reported by run(), which then runs the rest itself
            self.error = _start_error(exc, self.method, self.PRELOAD)
        finally:
            self.settled.set()  # (the pool may still be stopping below: close() joins this thread)
            if self._cancel.is_set() or (self.error is not None and not self._up):
                self._stop()  # cancelled, or the workers that did start are of no use

    def _hand_over(self) -> None:
        """Give the workers every run nobody has begun (under ``_lock``, once they are up)."""
        while self._todo:
            spec = self._todo[0]
            self._futures.append((self.pool.submit(execute, spec), spec))  # a broken pool raises: the run stays
            self._todo.popleft()

    def run(self, todo: list[RunSpec], handle, report: SweepReport) -> None:
        """Run ``todo``: in this process until the workers are up, then on them (they stop on return)."""
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        try:
            try:
                with self._lock:
                    self._todo = deque(todo)
                    if self._up:
                        self._hand_over()
            except Exception as exc:  # noqa: BLE001 - the pool broke taking the runs: the rest is run here
                self.error = exc
            while True:
                with self._lock:
                    if not self._todo:  # all handed over, or all begun here
                        break
                    spec = self._todo.popleft()
                    after_break = bool(self._futures)  # handed some over, then the pool broke
                handle(self._execute_here(spec))
                report.ran_here += 1
                self._here_after_break += after_break
            by_future = dict(self._futures)
            broken = False
            for future in as_completed(by_future):
                try:
                    output = future.result()
                except BrokenProcessPool:
                    broken = True  # the runs that finished before are still stored
                    continue
                except Exception as exc:  # noqa: BLE001 - e.g. a result that did not unpickle: that run failed
                    spec = by_future[future]
                    output = RunOutput(spec.run_id, None, {"type": type(exc).__name__, "message": str(exc),
                                                           "traceback": traceback.format_exc()})
                handle(output)
            if broken:
                report.stopped = ("a worker process died (killed, or out of memory); "
                                  "run the same command again to resume")
        finally:
            report.executor = self._describe(report.ran_here)
            self.close()

    def _describe(self, ran_here: int) -> str:
        """What ran where, for the report and the provenance."""
        why = "" if self.error is None else f"{type(self.error).__name__}: {self.error}"
        if self._futures:
            before = ran_here - self._here_after_break
            text = f"local processes ({self.n}, {self.method}); {before} run(s) in this process while they started"
            if self.error is not None:
                text += (f"; the workers broke taking the runs ({why}), and this process ran "
                         f"{self._here_after_break} more")
            return text
        if self.error is not None and not self._up:
            return f"serial (in this process: the worker processes did not start: {why})"
        if self.error is not None:
            return f"serial (in this process: the worker processes broke before taking a run: {why})"
        if self._up:
            return f"serial (in this process: the {self.n} worker processes started after the last run had begun)"
        return f"serial (in this process, before the {self.n} worker processes had started)"

    def _execute_here(self, spec: RunSpec) -> RunOutput:
        """One run in the client's process (a method, so that tests can hold it until the workers are up)."""
        return execute(spec)

    def close(self) -> None:
        """Stop the workers now (runs in progress included).

        Does not wait for a starting thread still blocked in the forkserver's start
        (a full compile on a cold Numba cache): that thread stops the pool itself.
        """
        self._cancel.set()
        self._wake.set()
        if self.settled.is_set():
            self._thread.join()
            self._stop()

    def _stop(self) -> None:
        with self._lock:
            pool, self.pool = self.pool, None
        if pool is not None:
            _stop_pool(pool)


def _start_error(exc: BaseException, method: str, preload: str) -> BaseException:
    """The forkserver's preload failing shows in the client as a bare EOFError: say what it was."""
    if method == "forkserver" and isinstance(exc, (EOFError, ConnectionError)):
        return RuntimeError(f"the forkserver stopped while importing {preload} (its error is on standard error) "
                            f"[{type(exc).__name__}: {exc}]")
    return exc


_warmed = False  # this process (or the forkserver it was forked from) did the warm-up run


def _warm_worker() -> None:
    """A tiny run: loads the compiled kernels where they are not loaded yet (a spawned worker, the forkserver).

    Once it succeeded in a process, it does nothing there (nor in the workers forked from it).
    A failure here is left for the real runs to report.
    """
    global _warmed
    if _warmed:
        return
    from .simulation import run

    try:
        run(scenario_from_dict(_WARM_SCENARIO))
        _warmed = True
    except Exception:  # noqa: BLE001, S110 - only a warm-up; a real run reports the same problem
        pass


#: The tiny run of :func:`_warm_worker`: one GPU site, two devices, one second.
_WARM_SCENARIO = {
    "simulation": {"duration_s": 1.0},
    "sites": [{"name": "bs", "gpu": {"servers": 1, "flops_per_s": 1e12}}],
    "workloads": [{"name": "w", "flops": 1e9, "input_bytes": 1000, "output_bytes": 100, "deadline_s": 0.1}],
    "devices": [{"name": "d", "count": 2, "workload": "w", "rate_hz": 5.0, "compute_flops_per_s": 1e11,
                 "power_idle_w": 0.1, "power_compute_w": 2.0, "power_tx_w": 1.0, "power_rx_w": 0.5,
                 "battery_wh": 10.0, "uplink_bps": 1e7, "downlink_bps": 1e8}],
}


def _stop_pool(pool) -> None:
    """Stop the workers now rather than after the runs in progress."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    pool.shutdown(wait=True)
    for process in processes:  # gone when this returns
        process.join(5)
        if process.exitcode is None:
            process.kill()
            process.join()


def _run_dask(todo: list[RunSpec], scheduler: str, workers: int, handle, report: SweepReport) -> None:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise SweepError("--scheduler: needs dask[distributed] (pip install 'dask[distributed]')") from None
    import logging

    cluster = None
    try:
        if scheduler == "local":
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=logging.ERROR)
            client = Client(cluster)
            report.executor = f"dask LocalCluster ({workers} worker processes)"
        else:
            client = Client(scheduler, timeout="20s")
            report.executor = f"dask {scheduler}"
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise SweepError(f"--scheduler {scheduler}: cannot connect: {exc}") from None
    futures = []
    try:
        futures = [client.submit(execute, spec, key=f"airan-run-{spec.run_id}-{spec.key[:16]}", pure=False)
                   for spec in todo]
        by_key = {f.key: spec for f, spec in zip(futures, todo, strict=True)}
        for future in as_completed(futures):
            spec = by_key[future.key]
            try:
                output = future.result()
            except Exception as exc:  # noqa: BLE001 - the cluster lost the run (e.g. KilledWorker)
                output = RunOutput(spec.run_id, None, {"type": type(exc).__name__, "message": str(exc),
                                                       "traceback": traceback.format_exc()})
            handle(output)
            future.release()
    finally:
        if futures:
            client.cancel(futures)
        client.close()
        if cluster is not None:
            cluster.close()


# ----------------------------------------------------------------------------
# The sweep folder
# ----------------------------------------------------------------------------


def _prepare_folder(sweep: Sweep, specs: list[RunSpec], out: Path, force: bool) -> Path:
    """Check ``out`` belongs to this sweep (or take it over with ``force``); returns ``out/runs``."""
    if out.exists() and not out.is_dir():
        raise SweepError(f"{out}: exists and is not a folder")
    record = out / "sweep.json"
    if record.is_file():
        try:
            old = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        if old.get("hash") != sweep.hash and not force:
            raise SweepError(f"{out}: holds another sweep ({old.get('name', '?')}, hash {str(old.get('hash'))[:12]}; "
                             f"this one is {sweep.hash[:12]}): use --force to take the folder over (runs the new "
                             f"sweep shares are kept), or another --out")
        same = old.get("hash") == sweep.hash
    elif out.is_dir() and any(out.iterdir()):
        if not force:
            raise SweepError(f"{out}: exists and is not a sweep folder (no sweep.json): use another --out, or "
                             f"--force to write the sweep into it")
        same = False
    else:
        same = False
    runs = out / "runs"
    try:
        runs.mkdir(parents=True, exist_ok=True)
        for stale in runs.glob(".*.tmp*"):  # a run being written when a sweep was stopped
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
        if not same:
            _take_over(runs, specs, sweep)
        _atomic_write_text(record, json.dumps({
            "name": sweep.name,
            "hash": sweep.hash,
            "airan": __version__,
            "sweep_file": sweep.path.name,
            "scenario": str(sweep.scenario_path),
            "definition": sweep.definition,
            "axes": list(sweep.axes),
            "points": [{"point": p, "values": values} for p, values in enumerate(sweep.points)],
            "runs": len(specs),
        }, indent=2) + "\n")
    except OSError as exc:
        raise SweepError(f"{out}: cannot write there: {exc.strerror or exc}") from None
    return runs


def _take_over(runs: Path, specs: list[RunSpec], sweep: Sweep) -> None:
    """Keep the runs ``specs`` repeat exactly (renamed to their new ids), remove everything else in ``runs``."""
    by_key = {}
    for folder in runs.iterdir():
        meta = _run_meta(folder) if folder.is_dir() else None
        if meta is not None and (folder / "summary.json").is_file():
            by_key.setdefault(meta.get("key"), folder)
    keep = []
    for spec in specs:
        folder = by_key.pop(spec.key, None)
        if folder is not None:
            staged = runs / f".keep-{spec.run_id}"
            if folder != staged:
                if staged.exists():
                    shutil.rmtree(staged)
                os.rename(folder, staged)
            keep.append((spec, staged))
    for item in runs.iterdir():
        if not item.name.startswith(".keep-"):
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    for spec, staged in keep:
        _write_meta(staged, spec, sweep)
        os.rename(staged, runs / spec.run_id)


def _run_meta(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "sweep_run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _run_record(spec: RunSpec) -> dict[str, Any]:
    """What identifies a run in its folder's sweep_run.json and in an error record."""
    return {"run": spec.run_id, "point": spec.point, "replication": spec.replication, "seed": spec.seed,
            "values": spec.values, "overrides": list(spec.overrides)}


def _write_meta(folder: Path, spec: RunSpec, sweep: Sweep) -> None:
    _atomic_write_text(folder / "sweep_run.json", json.dumps(
        {"sweep": sweep.name, **_run_record(spec), "key": spec.key}, indent=2) + "\n")


def _finished_keys(runs: Path) -> dict[str, str]:
    """run id -> key of every finished run folder."""
    done = {}
    for folder in runs.iterdir():
        if folder.is_dir() and not folder.name.startswith(".") and (folder / "summary.json").is_file():
            meta = _run_meta(folder)
            if meta is not None:
                done[folder.name] = meta.get("key")
    return done


def _store_run(runs: Path, spec: RunSpec, files: dict[str, bytes], sweep: Sweep) -> None:
    """Write a run's folder under a temporary name and rename it into place (all or nothing)."""
    tmp = runs / f".{spec.run_id}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    for name, data in files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(data)
    _write_meta(tmp, spec, sweep)
    final = runs / spec.run_id
    if final.exists():  # an earlier run of other inputs under this id
        shutil.rmtree(final)
    os.rename(tmp, final)
    (runs / f"{spec.run_id}.error.json").unlink(missing_ok=True)


def _store_error(runs: Path, spec: RunSpec, error: dict[str, str]) -> None:
    _atomic_write_text(runs / f"{spec.run_id}.error.json", json.dumps(
        {**_run_record(spec), **error}, indent=2) + "\n")


def _finish(sweep: Sweep, specs: list[RunSpec], out: Path, runs: Path, report: SweepReport,
            started: datetime) -> None:
    """Rebuild the tables from the run folders and write the provenance (also after an interruption)."""
    results, aggregate = collect_tables(runs, specs)
    write_parquet(out / "results.parquet", results)
    write_parquet(out / "aggregate.parquet", aggregate)
    import numba
    import pyarrow

    versions = {"airan": __version__, "python": platform.python_version(), "numpy": np.__version__,
                "numba": numba.__version__, "pyarrow": pyarrow.__version__}
    if report.executor.startswith("dask"):
        import dask
        import distributed

        versions.update(dask=dask.__version__, distributed=distributed.__version__)
    _atomic_write_text(out / "provenance.json", json.dumps({
        "sweep": sweep.name,
        "sweep_hash": sweep.hash,
        "scenario_sha256": sweep.definition["scenario_sha256"],
        "versions": versions,
        "platform": platform.platform(),
        "executor": report.executor,
        "started": started.isoformat(timespec="seconds"),
        "ended": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": {"total": report.total, "done": report.done, "ran": report.ran, "skipped": report.skipped,
                 "failed": report.failed, "not_done": report.not_done, "ran_here": report.ran_here},
        "stopped": report.stopped,
    }, indent=2) + "\n")


# ----------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------


class SweepTables(NamedTuple):
    """A sweep's two tables, each a dict of equal-length numpy columns."""

    results: dict[str, np.ndarray]  # one row per finished run
    aggregate: dict[str, np.ndarray]  # one row per point with a finished run


def read_results(out: str | Path) -> SweepTables:
    """The tables of a sweep folder: ``results, aggregate = read_results("results/my_sweep")``."""
    out = Path(out)
    return SweepTables(read_parquet(out / "results.parquet"), read_parquet(out / "aggregate.parquet"))


def collect_tables(runs: Path, specs: list[RunSpec]) -> SweepTables:
    """Both tables from the finished run folders of ``specs`` (folders of other inputs are left out)."""
    wanted = {s.run_id: s for s in specs}
    rows = []  # (spec, flat summary)
    for run_id, key in _finished_keys(runs).items():
        spec = wanted.get(run_id)
        if spec is None or spec.key != key:
            continue
        summary = json.loads((runs / run_id / "summary.json").read_text(encoding="utf-8"))
        rows.append((spec, _flatten(summary)))
    rows.sort(key=lambda row: (row[0].point, row[0].replication))
    axes = list(specs[0].values) if specs else []
    fixed = ["run", "point", "replication", "seed", *axes]
    results: dict[str, np.ndarray] = {
        "run": np.array([s.run_id for s, _ in rows], dtype=object),
        "point": np.array([s.point for s, _ in rows], dtype=np.int64),
        "replication": np.array([s.replication for s, _ in rows], dtype=np.int64),
        "seed": np.array([s.seed for s, _ in rows], dtype=np.int64),
    }
    for path in axes:
        results[path] = _column([s.values[path] for s, _ in rows])
    metrics = list(dict.fromkeys(name for _, flat in rows for name in flat if name != "seed"))
    for name in metrics:
        column = f"summary.{name}" if name in fixed else name
        results[column] = _column([flat.get(name) for _, flat in rows])
    return SweepTables(results, aggregate_table(results, axes))


def aggregate_table(results: dict[str, np.ndarray], axes: list[str]) -> dict[str, np.ndarray]:
    """One row per point: its axis values, ``n`` runs, and ``<metric>_mean`` / ``<metric>_ci95`` per numeric metric.

    ``_ci95`` is the half-width of the 95 % Student-t confidence interval of the
    mean, t(0.975, n - 1) s / sqrt(n) with s the sample standard deviation over
    the replications; nan with n < 2. A metric missing (nan) in any replication
    has a nan mean.
    """
    skip = {"run", "point", "replication", "seed", *axes}
    metrics = [name for name, col in results.items() if name not in skip and col.dtype.kind in "iuf"]
    points, first, counts = np.unique(results["point"], return_index=True, return_counts=True)
    table: dict[str, np.ndarray] = {"point": points.astype(np.int64)}
    for path in axes:
        table[path] = results[path][first]
    table["n"] = counts.astype(np.int64)
    rows = [np.flatnonzero(results["point"] == p) for p in points]
    half = np.array([t_quantile_975(int(n) - 1) if n >= 2 else math.nan for n in counts])
    for name in metrics:
        column = results[name].astype(np.float64)
        mean = np.array([column[r].mean() for r in rows])
        with np.errstate(invalid="ignore"):
            sd = np.array([column[r].std(ddof=1) if r.size >= 2 else math.nan for r in rows])
        table[f"{name}_mean"] = mean
        table[f"{name}_ci95"] = half * sd / np.sqrt(counts)
    return table


def _flatten(summary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalar metrics by name, nested tables joined with dots (``workloads.detect.latency_p95_s``)."""
    flat = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        elif not isinstance(value, list):
            flat[f"{prefix}{key}"] = value
    return flat


def _column(values: list[Any]) -> np.ndarray:
    """A typed column: int64, float64 (null -> nan), bool or text; anything else as canonical JSON text."""
    present = [v for v in values if v is not None]
    if all(isinstance(v, bool) for v in present) and present and len(present) == len(values):
        return np.array(values, dtype=bool)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        if present and len(present) == len(values) and all(isinstance(v, int) for v in values):
            return np.array(values, dtype=np.int64)
        return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    if all(isinstance(v, str) for v in present):
        return np.array(values, dtype=object)
    return np.array([None if v is None else _canonical(v) for v in values], dtype=object)


@cache
def t_quantile_975(df: int) -> float:
    """The 97.5 % quantile of Student's t distribution with ``df`` >= 1 degrees of freedom.

    Solves A(t | df) = 0.95 by bisection to machine precision, with A(t | df) = P(|T| <= t)
    in closed form for integer df (Abramowitz and Stegun, Handbook of Mathematical
    Functions, 26.7.3 and 26.7.4): with theta = atan(t / sqrt(df)),
    odd df: (2 / pi) (theta + sin theta (cos theta + 2/3 cos^3 theta + ... + (2 4 ... (df-3)) /
    (1 3 ... (df-2)) cos^(df-2) theta)), the sum empty for df = 1;
    even df: sin theta (1 + 1/2 cos^2 theta + ... + (1 3 ... (df-3)) / (2 4 ... (df-2)) cos^(df-2) theta).
    """
    if df < 1:
        raise ValueError(f"df: must be >= 1, got {df!r}")

    def covered(t: float) -> float:
        theta = math.atan(t / math.sqrt(df))
        s, c2 = math.sin(theta), math.cos(theta) ** 2
        if df % 2 == 1:
            term = total = math.cos(theta) if df > 1 else 0.0
            for k in range(1, (df - 1) // 2):
                term *= c2 * (2 * k) / (2 * k + 1)
                total += term
            return 2.0 / math.pi * (theta + s * total)
        term = total = 1.0
        for k in range(1, df // 2):
            term *= c2 * (2 * k - 1) / (2 * k)
            total += term
        return s * total

    low, high = 0.0, 16.0
    while covered(high) < 0.95:
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if covered(mid) < 0.95:
            low = mid
        else:
            high = mid
        if high - low <= 4 * math.ulp(high):
            break
    return 0.5 * (low + high)


# ----------------------------------------------------------------------------
# Text
# ----------------------------------------------------------------------------


def format_points(sweep: Sweep) -> str:
    """The point table and run count, as ``airan sweep --dry-run`` prints it."""
    header = ["point", *sweep.axes]
    rows = [[str(p), *(_toml_value(values[a]) for a in sweep.axes)] for p, values in enumerate(sweep.points)]
    width = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(f"{cell:<{w}}" for cell, w in zip(row, width, strict=True)).rstrip() for row in [header, *rows]]
    lines.append(f"{sweep.name}: {len(sweep.points)} points ({sweep.method}) x {sweep.replications} replications = "
                 f"{sweep.n_runs} runs, master seed {sweep.seed}")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    """``value`` as TOML text on one line (as ``--set`` reads it back)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise SweepError(f"only numbers, strings, booleans, lists and tables can be swept, got {value!r}")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
