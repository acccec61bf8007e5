"""airan: an AI-RAN edge-offload simulator.

Describe a scenario (base stations with GPUs, devices, workloads, a policy), run it
on a compiled discrete-event core, and get latency, energy and battery-life results.

    >>> import airan
    >>> scenario = airan.load_scenario("experiments/quickstart.toml", ["policy.name=local"])
    >>> result = airan.run(scenario, seed=7)
    >>> result.summary["latency_p95_s"]
"""

from ._version import __version__
from .build import BuildError
from .results import Result
from .scenario import Scenario, ScenarioError, apply_overrides, dump_scenario, load_scenario, scenario_from_dict
from .simulation import Simulation, run

__all__ = [
    "BuildError",
    "Result",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "apply_overrides",
    "dump_scenario",
    "load_scenario",
    "run",
    "scenario_from_dict",
    "__version__",
]
