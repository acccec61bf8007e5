"""An example plug-in offloading policy: the cheapest option with a safety margin, away from crowded GPUs.

Used by experiments/plugin_policy.toml (``[policy] plugin = "plugin_policy.py"``):

    airan run experiments/plugin_policy.toml

The rule, ``margin_energy``: among the options expected to finish within the
deadline with ``margin`` of it to spare (expected latency <= (1 - margin) x
deadline), and skipping GPU nodes with more than ``max_load`` tasks per server,
take the one that costs the device the least energy; if none qualifies, the
fastest option. It is the built-in ``deadline`` policy made cautious in two ways a
researcher might want to study: the estimates ignore the variance of queueing and
radio sharing (the margin covers it), and a node's advertised queue may be stale
(the load cap keeps away from one that is filling up).

The function sees what airan.policies documents: ``task`` (indexed by T_*),
``options`` (row 0 the device's CPU, then the GPU nodes nearest the serving site;
columns O_*) and ``params`` in the order registered below. It returns a row.
"""

from numba import njit

from airan.policies import O_ENERGY_J, O_LATENCY_S, O_LOAD, T_DEADLINE_S, register


@register("margin_energy", parameters={"margin": 0.25, "max_load": 2.0})
@njit
def margin_energy(now_s, task, options, params):
    margin = params[0]
    max_load = params[1]
    budget_s = (1.0 - margin) * task[T_DEADLINE_S]
    best = -1
    fastest = 0
    for row in range(options.shape[0]):
        if options[row, O_LATENCY_S] < options[fastest, O_LATENCY_S]:
            fastest = row
        if options[row, O_LATENCY_S] > budget_s:
            continue
        if row > 0 and options[row, O_LOAD] > max_load:
            continue
        if best < 0 or options[row, O_ENERGY_J] < options[best, O_ENERGY_J]:
            best = row
    return best if best >= 0 else fastest
