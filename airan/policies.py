"""Plug-in offloading policies: a researcher's own rule, compiled into the event loop.

A plug-in policy is a Numba-compilable function that the kernel calls for every new
task of a device whose group uses it (``[policy] name``, or a device group's
``policy``). It sees what the built-in comparing policies see, laid out in two
arrays, and returns the row of the option it picks::

    import numpy as np
    from numba import njit
    import airan.policies as P

    @P.register("queue_aware", parameters={"slack_s": 0.005})
    @njit
    def queue_aware(now_s, task, options, params):
        # the nearest GPU node unless it is expected to be late; then the least loaded one
        if options.shape[0] > 1 and options[1, P.O_LATENCY_S] + params[0] <= task[P.T_DEADLINE_S]:
            return 1
        best = 0
        for row in range(1, options.shape[0]):
            if best == 0 or options[row, P.O_LOAD] < options[best, P.O_LOAD]:
                best = row
        return best

Signature: ``policy(now_s, task, options, params) -> int``

``now_s`` (float)
    The task's arrival time, s.
``task`` (float64[N_TASK], read-only by convention)
    The task and its device, indexed by the ``T_*`` constants below.
``options`` (float64[n_options, N_OPTION])
    Row 0 is the device's own CPU; rows 1, 2, ... are the GPU nodes the serving
    site reaches, nearest first by transport latency: at most ``[policy] max_nodes``
    of them, only those within ``[policy] max_hops`` transport links. Columns are
    the ``O_*`` constants. Every estimate is made as in the built-in policies (see
    :class:`airan.scenario.Policy`): from what the device knows (its CPU backlog,
    link rates, powers, battery) and what the network advertises (transfers active
    in its cell and on each path's bottleneck link, each node's queue and busy
    servers).
``params`` (float64[n_parameters])
    The policy's parameters in the order they were registered, with the values the
    scenario gives (``[policy] parameters``) or the registered defaults.

Return the chosen row: 0 runs the task on the device, ``r >= 1`` sends it to the
node in row ``r``. Any other value, or an exception raised inside the function, stops
the run with an error naming the policy. Writing into the arrays has no effect on
the run (``params`` is a fresh copy for each call; the kernel keeps the nodes of
the rows elsewhere).

The function must not keep state between calls other than through its own
arrays (Numba globals are constants); it runs inside the compiled kernel, so it
must compile in nopython mode. A policy file registers its functions when
imported; a scenario names the file in ``[policy] plugin`` (a path relative to
the scenario file) and the policy in ``name``. Only one plug-in policy can be
used per scenario (device groups may mix it with built-in policies).

How it is called: the kernel is compiled once (and cached) for a C function
pointer of one fixed signature; :func:`compiled` wraps the user's function in a
small ``numba.cfunc`` that rebuilds the three arrays from pointers and calls it.
The wrapper compiles in well under a second, so a new policy never recompiles
the event loop.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numba import carray, cfunc, njit, types
from numba.core.registry import CPUDispatcher

# -- the task row (T_*) ----------------------------------------------------------
T_DEVICE = 0  #: device index (its order in the scenario's device groups)
T_GROUP = 1  #: device group index
T_WORKLOAD = 2  #: workload index (order of [[workloads]])
T_SITE = 3  #: serving site index
T_CHARGE = 4  #: battery charge left, fraction of capacity
T_DEADLINE_S = 5  #: the workload's deadline, s
T_FLOPS = 6  #: FLOP of one task
T_INPUT_BITS = 7  #: uplink payload, bit
T_OUTPUT_BITS = 8  #: downlink payload, bit
T_CPU_BACKLOG_S = 9  #: time until the device's CPU is free, s
T_X_M = 10  #: device position, m
T_Y_M = 11  #: m
N_TASK = 12

# -- the option columns (O_*) ----------------------------------------------------
O_NODE = 0  #: compute node index (-1: the device's CPU)
O_LATENCY_S = 1  #: expected latency of the task if run there, s
O_ENERGY_J = 2  #: expected device energy for the task (compute, or transmit and receive), J
O_MEETS_DEADLINE = 3  #: 1.0 if the expected latency is within the deadline, else 0.0
O_QUEUED = 4  #: tasks waiting at the node (all workloads; local: 0)
O_BUSY = 5  #: busy servers at the node (local: 1 if the CPU has a backlog)
O_SERVERS = 6  #: servers at the node (local: 1)
O_LOAD = 7  #: (queued + busy) / servers
O_PATH_LATENCY_S = 8  #: one-way latency of the transport path from the serving site, s (local: 0)
O_HOPS = 9  #: transport links on that path (local and co-located: 0)
O_SERVICE_S = 10  #: compute time of the task alone (local CPU, or a batch of one on a node server), s
O_RADIO_S = 11  #: expected uplink + downlink time in the device's cell, s (local: 0)
N_OPTION = 12

TASK_FIELDS = ("device", "group", "workload", "site", "charge", "deadline_s", "flops", "input_bits", "output_bits",
               "cpu_backlog_s", "x_m", "y_m")
OPTION_FIELDS = ("node", "latency_s", "energy_j", "meets_deadline", "queued", "busy", "servers", "load",
                 "path_latency_s", "hops", "service_s", "radio_s")

#: What the wrapper returns when the user's function raised (the kernel then stops the run).
RAISED = -(1 << 62)

#: The C signature the kernel calls: (now_s, task*, options*, n_options, params*, n_params) -> row.
C_SIGNATURE = types.int64(types.float64, types.CPointer(types.float64), types.CPointer(types.float64), types.int64,
                          types.CPointer(types.float64), types.int64)

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class PolicyError(ValueError):
    """A plug-in policy cannot be registered, loaded or used (a one-line message)."""


@dataclass(frozen=True)
class PluginPolicy:
    """A registered plug-in policy: its name, function and parameters (name -> default)."""

    name: str
    function: Any  # a numba CPUDispatcher
    parameters: dict[str, float]
    source: str  # where it was defined (module or file), for messages

    def parameter_array(self, given: dict[str, float] | None = None) -> np.ndarray:
        """The parameters in registration order: ``given`` values over the defaults."""
        values = dict(self.parameters)
        values.update(given or {})
        return np.array([float(values[k]) for k in self.parameters], dtype=np.float64)


_REGISTRY: dict[str, PluginPolicy] = {}
_COMPILED: dict[int, Any] = {}


def register(name: str, *, parameters: dict[str, float] | None = None):
    """Decorator: register ``function`` as the plug-in policy ``name`` (see the module docstring).

    ``parameters`` maps each parameter's name to its default (float); a scenario may
    set them in ``[policy] parameters``. The function may be a ``numba.njit``
    function or a plain Python function (it is then compiled with ``njit``).
    Registering a name again replaces the earlier policy (re-running a notebook
    cell); the built-in names are refused.
    """
    from .scenario import POLICY_NAMES

    if not isinstance(name, str) or not _NAME.match(name):
        raise PolicyError(f"policy name: must be lower-case letters, digits and _, starting with a letter, "
                          f"got {name!r}")
    if name in POLICY_NAMES:
        raise PolicyError(f"policy name: {name!r} is a built-in policy; choose another name")
    params = dict(parameters or {})
    for key, value in params.items():
        if not isinstance(key, str) or not _NAME.match(key):
            raise PolicyError(f"policy {name}: parameter names must be identifiers, got {key!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise PolicyError(f"policy {name}: parameter {key} default must be a finite number, got {value!r}")
        params[key] = float(value)

    def decorate(function):
        dispatcher = function if isinstance(function, CPUDispatcher) else njit(function)
        py = dispatcher.py_func
        n_args = len(inspect.signature(py).parameters)
        if n_args != 4:
            raise PolicyError(f"policy {name}: the function must take (now_s, task, options, params), "
                              f"got {n_args} arguments")
        source = getattr(py, "__module__", "?")
        _REGISTRY[name] = PluginPolicy(name=name, function=dispatcher, parameters=params, source=source)
        return dispatcher

    return decorate


def registered() -> dict[str, PluginPolicy]:
    """The registered plug-in policies by name."""
    return dict(_REGISTRY)


def get(name: str) -> PluginPolicy:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise PolicyError(f"no plug-in policy named {name!r}") from None


def load_file(path: str | Path) -> None:
    """Import a policy file (which registers its policies); a file already imported is not run again."""
    path = Path(path).resolve()
    module_name = "airan_policy_" + re.sub(r"\W", "_", str(path))
    if module_name in sys.modules:
        return
    if not path.is_file():
        raise PolicyError(f"{path}: no such policy file")
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except PolicyError:
        del sys.modules[module_name]
        raise
    except Exception as exc:  # a user's file: report its error in one line
        del sys.modules[module_name]
        raise PolicyError(f"{path.name}: importing the policy file failed: {type(exc).__name__}: {exc}") from None


@cfunc(C_SIGNATURE, cache=True)
def no_plugin(now_s, task, options, n_options, params, n_params):  # pragma: no cover - never called
    """The function pointer passed to the kernel when no device uses a plug-in policy."""
    return 0


def compiled(name: str | None):
    """The C function the kernel calls for plug-in policy ``name`` (``None``: :func:`no_plugin`)."""
    if name is None:
        return no_plugin
    plugin = get(name)
    key = id(plugin.function)
    if key not in _COMPILED:
        function = plugin.function

        def wrapper(now_s, task, options, n_options, params, n_params):
            try:
                return function(now_s, carray(task, (N_TASK,)), carray(options, (n_options, N_OPTION)),
                                carray(params, (n_params,)))
            except Exception:  # a C callback cannot raise: report it as a row no task has
                return RAISED

        try:
            _COMPILED[key] = cfunc(C_SIGNATURE)(wrapper)
        except Exception as exc:  # a typing error in the user's function
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PolicyError(f"policy {name}: does not compile with Numba: {first}") from None
    return _COMPILED[key]
