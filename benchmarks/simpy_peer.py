"""A side-by-side peer: case (a) of benchmarks/engine.py written plainly in SimPy.

Usage::

    pip install -e '.[bench]'     # SimPy
    python benchmarks/simpy_peer.py [--hours H] [--cpu N]

The same model as the engine benchmark's case a, in the style of a process-based
SimPy simulator (one generator per device and one per task): 7 sites x 100
devices, Poisson arrivals at 0.5 task/s per device; each task goes up its device's
own 50 Mbit/s link (20 kB: 3.2 ms), through its site's GPU (2 servers, FIFO,
deterministic 25 ms) and back down 100 Mbit/s (1 kB: 0.08 ms); the offload policy,
the ideal channel. The device's link is a SimPy resource of capacity 1, so two
transfers of one device queue instead of sharing the link (processor sharing in
airan); with 0.5 task/s and 3.2 ms transfers this changes the mean latency by far
less than the 2 % the comparison allows. The peer models no energy, no battery and
no statistics beyond the latencies, so the speed ratio flatters SimPy.

benchmarks/engine.py imports :func:`run_simpy` and runs it beside its case a in
every invocation. Run alone, this script runs airan on the same scenario
(scenario_dict of benchmarks/engine.py) and prints both mean latencies, their
relative difference (the check: within 2 %), the M/D/2 prediction for the GPU
wait, and the speed ratio in simulated tasks per wall second.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine as bench  # noqa: E402 (benchmarks/engine.py: the case's scenario)

N_SITES = 7
DEVICES_PER_SITE = bench.A_DEVICES_PER_SITE
RATE_HZ = bench.DEVICE["rate_hz"]
UPLINK_S = bench.WORKLOAD["input_bytes"] * 8 / bench.DEVICE["uplink_bps"]
DOWNLINK_S = bench.WORKLOAD["output_bytes"] * 8 / bench.DEVICE["downlink_bps"]
SERVICE_S = bench.WORKLOAD["flops"] / bench.GPU_FLOPS_PER_S
SERVERS = bench.A_SERVERS


def run_simpy(duration_s: float, seed: int) -> tuple[float, int, float]:
    """Mean latency (s), tasks completed and wall time (s) of the SimPy model."""
    import simpy

    rng = random.Random(seed)
    env = simpy.Environment()
    gpus = [simpy.Resource(env, capacity=SERVERS) for _ in range(N_SITES)]
    latencies: list[float] = []

    def task(link, gpu):
        t0 = env.now
        with link.request() as req:
            yield req
            yield env.timeout(UPLINK_S)
        with gpu.request() as req:
            yield req
            yield env.timeout(SERVICE_S)
        with link.request() as req:
            yield req
            yield env.timeout(DOWNLINK_S)
        latencies.append(env.now - t0)

    def device(site):
        link = simpy.Resource(env, capacity=1)
        while True:
            yield env.timeout(rng.expovariate(RATE_HZ))
            env.process(task(link, gpus[site]))

    for site in range(N_SITES):
        for _ in range(DEVICES_PER_SITE):
            env.process(device(site))
    start = time.perf_counter()
    env.run(until=duration_s)
    wall = time.perf_counter() - start
    return sum(latencies) / len(latencies), len(latencies), wall


def md2_wait_s() -> float:
    """Mean wait of an M/D/2 queue, by the Cosmetatos approximation to the M/D/c wait from M/M/c.

    G. P. Cosmetatos, "Some approximate equilibrium results for the multi-server queue
    (M/G/r)", Operational Research Quarterly 27(3), 1976: W(M/D/c) = W(M/M/c) / 2 x
    [1 + (1 - rho)(c - 1)(sqrt(4 + 5c) - 2) / (16 rho c)].
    """
    lam = DEVICES_PER_SITE * RATE_HZ
    c = SERVERS
    a = lam * SERVICE_S
    rho = a / c
    # Erlang C
    import math

    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    w_mmc = p_wait * SERVICE_S / (c * (1 - rho))
    return w_mmc / 2 * (1 + (1 - rho) * (c - 1) * (math.sqrt(4 + 5 * c) - 2) / (16 * rho * c))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0, help="simulated hours (default 1)")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    try:
        import simpy  # noqa: F401
    except ImportError:
        print("simpy_peer: error: SimPy is not installed (pip install -e '.[bench]')", file=sys.stderr)
        return 2
    import airan

    duration_s = args.hours * bench.S_PER_H
    scenario = airan.scenario_from_dict(bench.scenario_dict(DEVICES_PER_SITE, duration_s, SERVERS))
    airan.run(airan.scenario_from_dict(bench.tiny_scenario_dict()))  # compile (or load) first
    ours = airan.run(scenario).summary
    peer_mean, peer_n, peer_wall = run_simpy(duration_s, bench.SEED)
    ours_rate = ours["tasks_completed"] / ours["wall_time_s"]
    peer_rate = peer_n / peer_wall
    diff = ours["latency_mean_s"] / peer_mean - 1
    predicted = UPLINK_S + md2_wait_s() + SERVICE_S + DOWNLINK_S
    print(f"case a, {args.hours:g} h simulated: 7 sites x 100 devices, ideal channel, 2 GPU servers per site")
    print(f"  mean latency  airan {ours['latency_mean_s'] * 1e3:.3f} ms   SimPy {peer_mean * 1e3:.3f} ms   "
          f"difference {diff * 100:+.2f} %   (M/D/2 estimate {predicted * 1e3:.3f} ms)")
    print(f"  tasks/s       airan {ours_rate:,.0f}   SimPy {peer_rate:,.0f}   ratio {ours_rate / peer_rate:.1f}x")
    print(f"  check: mean latencies within 2 %: {'yes' if abs(diff) <= 0.02 else 'NO'}")
    return 0 if abs(diff) <= 0.02 else 1


if __name__ == "__main__":
    sys.exit(main())
