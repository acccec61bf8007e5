"""Running a scenario: the Python driver around the compiled kernel.

:class:`Simulation` holds one run's arrays. ``advance(until_s)`` runs the kernel up
to a simulated time and returns, with every bit of the run's state in
``Simulation.state`` (plain numpy arrays); calling it again continues the same run.
Splitting a run into steps never changes its results, which is what progress bars,
checkpoints (:meth:`Simulation.save` / :meth:`Simulation.load`) and controllers
acting between steps rely on.
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import engine, policies
from ._version import __version__
from .build import aligned_rows, build_model, grow_heap, grow_tasks, initial_state, plugin_name
from .results import Result, summarize
from .scenario import Scenario, dump_scenario, scenario_from_dict

TraceSink = Callable[[dict[str, np.ndarray]], None]

#: Rows buffered in the kernel before they are handed to the trace sink.
TRACE_BUFFER_ROWS = 1 << 16

OUTCOMES = np.array(["completed", "dropped_queue_full", "dropped_battery", "dropped_radio"], dtype=object)
PLACES = np.array(["local", "gpu", "fallback_local", "split"], dtype=object)


class Simulation:
    """One run of a scenario with one seed.

    Parameters
    ----------
    scenario
        A validated scenario.
    seed
        Master seed; defaults to ``scenario.simulation.seed``.
    trace
        ``None`` (no per-task records), ``True`` (collect them in memory, returned
        as ``Result.trace``) or a callable that receives each chunk of records as a
        dict of columns (used to stream them to a Parquet file).
    """

    def __init__(self, scenario: Scenario, seed: int | None = None, *, trace: bool | TraceSink | None = None):
        self.scenario = scenario
        seed = scenario.simulation.seed if seed is None else seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
            raise ValueError(f"seed: must be an integer in [0, 2**63), got {seed!r}")
        self.seed = int(seed)
        self.model, self.layout = build_model(scenario, self.seed)
        self._plugin_name = plugin_name(scenario)
        self._plugin = policies.compiled(self._plugin_name)
        self._chunks: list[dict[str, np.ndarray]] | None = None
        self._sink: TraceSink | None = None
        if trace is True:
            self._chunks = []
            self._sink = self._chunks.append
        elif callable(trace):
            self._sink = trace
        self.state = initial_state(self.model, self.seed, trace_capacity=TRACE_BUFFER_ROWS if self._sink else 0)
        # compile (or load from the cache) now, so that wall_time_s counts simulation only;
        # no event is before t = 0, so this call changes nothing
        engine.advance(self.model, self.state, 0.0, self._plugin)
        self.now_s = 0.0
        self.wall_time_s = 0.0
        self.mobility_wall_time_s = 0.0  # the part of wall_time_s spent in mobility steps
        self._at_warmup: engine.State | None = None  # the state settled at the end of the warm-up
        # time series (simulation.sample_s): per sample, each node's busy and queue integrals at its end
        self._samples_t: list[float] = [0.0]
        self._samples_busy: list[np.ndarray] = [np.zeros(self.model.node_servers.shape[0])]
        self._samples_queue: list[np.ndarray] = [np.zeros(self.model.node_servers.shape[0])]

    @property
    def duration_s(self) -> float:
        return self.scenario.simulation.duration_s

    def advance(self, until_s: float) -> None:
        """Process all events before ``until_s`` (s) and stop there."""
        until_s = float(until_s)
        if until_s < self.now_s:
            raise ValueError(f"cannot advance to {until_s} s: the run is already at {self.now_s} s")
        warmup_s = self.scenario.simulation.warmup_s
        sample_s = self.scenario.simulation.sample_s
        while True:
            # stop at the end of the warm-up and at every sample instant on the way (splitting changes nothing)
            stops = [until_s]
            if self._at_warmup is None and until_s >= warmup_s:
                stops.append(warmup_s)
            if sample_s is not None:
                stops.append(len(self._samples_t) * sample_s)
            stop = min(stops)
            self._advance(stop)
            if self._at_warmup is None and stop == warmup_s:
                self._at_warmup = self._settled()
            if sample_s is not None and stop == len(self._samples_t) * sample_s:
                self._sample(stop)
            if stop >= until_s:
                break

    def _sample(self, t_s: float) -> None:
        """Note each node's busy and queue integrals up to ``t_s`` (no event is pending before it)."""
        busy, queue = self._integrals_at(t_s)
        self._samples_t.append(t_s)
        self._samples_busy.append(busy)
        self._samples_queue.append(queue)

    def _integrals_at(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Each node's busy (GPUs x s) and queue (tasks x s) integrals up to ``t_s``, with no event before it."""
        st = self.state
        gap = t_s - st.node_t_last_s
        return (st.node_busy_area_s + st.node_busy_slices / self.model.node_mig_slices * gap,
                st.node_queue_area_s + st.node_q_len * gap)

    def timeseries(self) -> dict[str, np.ndarray] | None:
        """Per node and sampling interval: GPU utilisation (whole GPUs busy / GPUs) and mean queue length."""
        if self.scenario.simulation.sample_s is None:
            return None
        t, busy, queue = list(self._samples_t), list(self._samples_busy), list(self._samples_queue)
        if self.now_s > t[-1]:
            # the last interval, shorter than sample_s, up to now (noted here, not stored)
            last_busy, last_queue = self._integrals_at(self.now_s)
            t.append(self.now_s)
            busy.append(last_busy)
            queue.append(last_queue)
        t, busy, queue = np.array(t), np.array(busy), np.array(queue)
        n_int, n_nodes = t.size - 1, busy.shape[1]
        dt = np.diff(t)[:, None]
        gpus = self.model.node_gpus[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            util = np.where(gpus > 0, np.diff(busy, axis=0) / (dt * np.maximum(gpus, 1)), np.nan)
        return {
            "t_start_s": np.repeat(t[:-1], n_nodes),
            "t_end_s": np.repeat(t[1:], n_nodes),
            "node": np.tile(np.array(self.layout.node_names, dtype=object), n_int),
            "gpu_utilization": util.ravel(),
            "gpu_queue_length_mean": (np.diff(queue, axis=0) / dt).ravel(),
        }

    def _advance(self, until_s: float) -> None:
        start = time.perf_counter()
        while True:
            status = engine.advance(self.model, self.state, until_s, self._plugin)
            if status == engine.STATUS_DONE:
                break
            if status == engine.STATUS_POLICY_ERROR:
                row = int(self.state.ints[engine.I_POLICY_BAD_ROW])
                n = int(self.state.ints[engine.I_POLICY_BAD_N])
                if row == policies.RAISED:
                    raise policies.PolicyError(
                        f"policy {self._plugin_name}: raised an exception inside the kernel (call its py_func with "
                        f"the same arrays to see it); the run stopped")
                nodes = "" if n == 1 else (", 1: a GPU node" if n == 2 else f", 1..{n - 1}: GPU nodes")
                raise policies.PolicyError(
                    f"policy {self._plugin_name}: returned row {row}, but the task had {n} option"
                    f"{'s' if n > 1 else ''} (0: the device{nodes}); the run stopped")
            if status == engine.STATUS_GROW_HEAP:
                self.state = grow_heap(self.state)
            elif status == engine.STATUS_GROW_TASKS:
                self.state = grow_tasks(self.state)
            elif status == engine.STATUS_TRACE_FULL:
                self._drain_trace()
            elif status == engine.STATUS_MOVE:
                step_start = time.perf_counter()
                engine.mobility_step(self.model, self.state)
                self.mobility_wall_time_s += time.perf_counter() - step_start
        self._drain_trace()
        self.now_s = until_s
        self.wall_time_s += time.perf_counter() - start

    def run(self, *, steps: int = 1, progress: Callable[[float], Any] | None = None) -> Result:
        """Advance to the scenario's duration in ``steps`` equal steps and return the result.

        ``progress`` is called with the simulated time after each step.
        """
        for i in range(1, steps + 1):
            self.advance(self.duration_s * i / steps if i < steps else self.duration_s)
            if progress is not None:
                progress(self.now_s)
        return self.result()

    def result(self) -> Result:
        """Results as of now. The state is not modified: energies are settled on a copy."""
        settled = self._settled()
        baseline = self._at_warmup if self.now_s > self.scenario.simulation.warmup_s else None
        result = summarize(self.scenario, self.seed, self.model, settled, self.layout, self.now_s, self.wall_time_s,
                           at_warmup=baseline)
        if self._chunks is not None:
            result.trace = _concat(self._chunks) if self._chunks else self.trace_rows(0)
        result.timeseries = self.timeseries()
        return result

    def _settled(self) -> engine.State:
        """A copy of the state with energies and time integrals brought up to now."""
        settled = engine.State(*(a.copy() for a in self.state))
        engine.settle(self.model, settled, self.now_s)
        return settled

    def save(self, path: str | Path) -> Path:
        """Checkpoint the run to one ``.npz`` file: every state array, the resolved scenario and the clock.

        Trace rows already handed to a sink are not part of the checkpoint.
        """
        self._drain_trace()
        path = Path(path)
        meta = {
            "airan": __version__,
            "scenario_toml": dump_scenario(self.scenario),
            "seed": self.seed,
            "now_s": self.now_s,
            "wall_time_s": self.wall_time_s,
            "mobility_wall_time_s": self.mobility_wall_time_s,
        }
        arrays = {f"state.{name}": value for name, value in self.state._asdict().items()}
        arrays.update({"samples.t": np.array(self._samples_t), "samples.busy": np.array(self._samples_busy),
                       "samples.queue": np.array(self._samples_queue)})
        if self._at_warmup is not None:
            arrays.update({f"warmup.{name}": value for name, value in self._at_warmup._asdict().items()})
        tmp = path.with_name(f".{path.name}.tmp.npz")
        np.savez_compressed(tmp, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path, *, trace: bool | TraceSink | None = None) -> Simulation:
        """Resume a run saved by :meth:`save`; continuing it gives the same results as never stopping."""
        with np.load(Path(path), allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            scenario = scenario_from_dict(tomllib.loads(meta["scenario_toml"]), source=str(path))
            sim = cls(scenario, meta["seed"], trace=trace)
            saved = {name[len("state."):]: data[name] for name in data.files if name.startswith("state.")}
            if set(saved) != set(engine.State._fields) or meta.get("airan") != __version__:
                raise ValueError(f"{Path(path).name}: a checkpoint of another airan version "
                                 f"({meta.get('airan')}); resume it with that version")
            state = sim.state._replace(**{k: v for k, v in saved.items() if not k.startswith("trace_")})
            state = state._replace(**{name: aligned_rows(*saved[name].shape, like=saved[name], dtype=saved[name].dtype)
                                      for name in ("ah_entry", "dev_f", "dev_i8", "dev_i4")})
            sim.state = state._replace(trace_f=sim.state.trace_f, trace_i=sim.state.trace_i)
            sim.state.ints[engine.I_TRACE_N] = 0
            if "samples.t" in data.files:
                sim._samples_t = list(data["samples.t"])
                sim._samples_busy = list(data["samples.busy"])
                sim._samples_queue = list(data["samples.queue"])
            if any(name.startswith("warmup.") for name in data.files):
                sim._at_warmup = engine.State(**{name: data[f"warmup.{name}"] for name in engine.State._fields})
        sim.now_s = float(meta["now_s"])
        sim.wall_time_s = float(meta["wall_time_s"])
        sim.mobility_wall_time_s = float(meta["mobility_wall_time_s"])
        return sim

    def trace_rows(self, n: int) -> dict[str, np.ndarray]:
        """The first ``n`` rows of the kernel's trace buffer as named columns (``n = 0``: the empty table)."""
        return _trace_columns(self.state, n, self.layout, self.scenario.simulation.warmup_s)

    def _drain_trace(self) -> None:
        n = int(self.state.ints[engine.I_TRACE_N])
        if self._sink is None or n == 0:
            return
        self._sink(self.trace_rows(n))
        self.state.ints[engine.I_TRACE_N] = 0


def _trace_columns(st: engine.State, n: int, layout, warmup_s: float) -> dict[str, np.ndarray]:
    """The first ``n`` trace rows as named columns (``counted``: generated after the warm-up)."""
    f, i = st.trace_f[:n], st.trace_i[:n]
    site_names = np.array(layout.site_names + [""], dtype=object)  # index -1: none
    node_names = np.array(layout.node_names + [""], dtype=object)
    return {
        "task": i[:, engine.TI_TASK].copy(),
        "device": i[:, engine.TI_DEVICE].copy(),
        "workload": np.array(layout.workload_names, dtype=object)[i[:, engine.TI_WORKLOAD]],
        "node": node_names[i[:, engine.TI_NODE]],
        "site": site_names[i[:, engine.TI_SITE]],
        "outcome": OUTCOMES[i[:, engine.TI_OUTCOME]],
        "ran": PLACES[i[:, engine.TI_RAN]],
        "counted": f[:, engine.TF_T_GEN] >= warmup_s,
        "t_generated_s": f[:, engine.TF_T_GEN].copy(),
        "t_end_s": f[:, engine.TF_T_END].copy(),
        "latency_s": f[:, engine.TF_T_END] - f[:, engine.TF_T_GEN],
        "local_s": f[:, engine.TF_LOCAL].copy(),
        "uplink_s": f[:, engine.TF_UPLINK].copy(),
        "backhaul_s": f[:, engine.TF_BACKHAUL].copy(),
        "gpu_wait_s": f[:, engine.TF_GPU_WAIT].copy(),
        "gpu_service_s": f[:, engine.TF_GPU_SERVICE].copy(),
        "downlink_s": f[:, engine.TF_DOWNLINK].copy(),
        **({} if layout.radio is None else {
            "sinr_ul_db": layout.radio["sinr_ul_db"][i[:, engine.TI_DEVICE]],
            "sinr_dl_db": layout.radio["sinr_dl_db"][i[:, engine.TI_DEVICE]],
            "rate_ul_bps": layout.radio["rate_ul_bps"][i[:, engine.TI_DEVICE]],
            "rate_dl_bps": layout.radio["rate_dl_bps"][i[:, engine.TI_DEVICE]],
        }),
    }


def _concat(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def run(
    scenario: Scenario, seed: int | None = None, *, trace: bool | TraceSink | None = None, steps: int = 1
) -> Result:
    """Run ``scenario`` to its end and return the :class:`~airan.results.Result`."""
    return Simulation(scenario, seed, trace=trace).run(steps=steps)
