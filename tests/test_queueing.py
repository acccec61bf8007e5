"""The GPU site against queueing theory (L. Kleinrock, Queueing Systems, Vol. 1, Wiley 1975).

Set-up shared by every case: one site whose GPU has ``c`` servers of rate
mu = 1/s (1e12 FLOP per task at 1e12 FLOP/s), fed by 10 devices with Poisson
arrivals of rate lambda/10 each (a superposition of independent Poisson streams
is Poisson of rate lambda), zero-byte payloads (uplink and downlink take no
time, so a task reaches the GPU when it is generated and its latency is its
sojourn time at the GPU), every task offloaded, and a warm-up of 1000 s. The
queue starts empty; its relaxation time is 1/(mu (1 - sqrt(rho))^2) ~ 20 s at
rho = 0.6, so 1000 s removes the initial transient.

How the tolerances were sized
-----------------------------
Each case is one long run; the run length makes the 3 % tolerance at least
~5 standard errors (SE) of the estimate. The SEs were measured once by running
20-30 independent seeds of each case (relative SD of one run's estimate at the
run length shown, then scaled by 1/sqrt(n) to the length used here):

==========  ======================  ================  ==========  =============
case        estimate                measured SD       n used      SE here / tol
==========  ======================  ================  ==========  =============
M/M/1 .6    Wq                      0.57 % at 1.2e6   1.5e6       0.51 % / 3 %
            W                       0.35 % at 1.2e6               0.31 % / 3 %
            P(wait), utilization    0.14 % at 1.2e6               0.13 % / 1 %
            W quantiles p50/95/99   0.41/0.49/1.0 %   (at 0.6e6)  0.26/0.31/0.65 %
M/D/1 .6    Wq                      0.45 % at 1.2e6   1.5e6       0.41 % / 3 %
M/M/4 .65   Wq                      0.75 % at 2.6e6   4e6         0.61 % / 3 %
            P(wait) (Erlang C)      0.34 % at 2.6e6               0.27 % / 3 %
M/D/4/4     P(block) (Erlang B)     0.48 % at 0.52e6  1e6         0.35 % / 3 %
==========  ======================  ================  ==========  =============

For M/M/1 the SE of Wq also has a closed form (Daley 1968; Whitt 1989): the mean
of n waiting times has variance sigma^2 / n with
sigma^2 = rho (2 + 5 rho - 4 rho^2 + rho^3) / (mu^2 (1 - rho)^4) = 88.5 s^2 at
rho = 0.6, i.e. 0.57 % of Wq = 1.5 s at n = 1.2e6, as measured.
:func:`test_mm1_run_length_gives_four_standard_errors` keeps the run length tied
to the tolerance with it. The mean over the seeds showed no bias beyond its own
SE (< 0.1 %).

References
----------
D. J. Daley, "The serial correlation coefficients of waiting times in a
stationary single server queue", J. Austral. Math. Soc. 8 (1968) 683-699.
W. Whitt, "Planning queueing simulations", Management Science 35(11), 1989.
"""

from __future__ import annotations

import math

import pytest

import airan

MU = 1.0  # service rate of one server, 1/s (mean service 1 s)
WARMUP_S = 1000.0
N_DEVICES = 10
TOL = 0.03  # relative tolerance of the mean-value checks (>= ~5 SE, see above)


# ---------------------------------------------------------------------------
# Closed forms
# ---------------------------------------------------------------------------


def erlang_b(c: int, a: float) -> float:
    """Erlang B blocking probability B(c, a) by the stable recursion B_k = a B_{k-1} / (k + a B_{k-1})."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Erlang C probability of waiting, C = B / (1 - rho + rho B) with rho = a / c."""
    rho = a / c
    b = erlang_b(c, a)
    return b / (1.0 - rho + rho * b)


def mmc_wait_s(lam: float, mu: float, c: int) -> float:
    """Mean waiting time in queue of M/M/c: Wq = C(c, a) / (c mu - lambda)."""
    return erlang_c(c, lam / mu) / (c * mu - lam)


def md1_wait_s(lam: float, mu: float) -> float:
    """Mean waiting time in queue of M/D/1 (Pollaczek-Khinchine, Cs^2 = 0): rho / (2 mu (1 - rho))."""
    rho = lam / mu
    return rho / (2.0 * mu * (1.0 - rho))


def mm1_wait_mean_sd_s(lam: float, mu: float, n: float) -> float:
    """SD of the mean of ``n`` M/M/1 waiting times (Daley 1968), s."""
    rho = lam / mu
    sigma2 = rho * (2 + 5 * rho - 4 * rho**2 + rho**3) / (mu**2 * (1 - rho) ** 4)
    return math.sqrt(sigma2 / n)


@pytest.mark.parametrize(
    ("lam", "mu", "c", "wq_s", "p_wait"),
    [  # closed-form values: M/M/1 (8, 10), M/M/2 (15, 10), M/M/4 (30, 10), M/M/8 (70, 10), M/M/6 (5, 1)
        (8, 10, 1, 0.4, 0.8),
        (15, 10, 2, 0.128571, 0.642857),
        (30, 10, 4, 0.050943, 0.509434),
        (70, 10, 8, 0.063532, 0.635316),
        (5, 1, 6, 0.587516, 0.587516),
    ],
)
def test_erlang_helpers_match_reference_table(lam, mu, c, wq_s, p_wait):
    assert erlang_c(c, lam / mu) == pytest.approx(p_wait, abs=1e-6)
    assert mmc_wait_s(lam, mu, c) == pytest.approx(wq_s, abs=1e-6)


def test_md1_helper_matches_reference_table():
    assert md1_wait_s(8, 10) == pytest.approx(0.2, rel=1e-12)


# ---------------------------------------------------------------------------
# Runs (one per case, shared by the tests of that case)
# ---------------------------------------------------------------------------


def _run_queue(make_scenario, *, lam, servers, service, n_tasks, seed, queue_capacity=None):
    """Run the GPU site as an M/G/c queue for about ``n_tasks`` counted tasks."""
    gpu = {"servers": servers, "flops_per_s": 1e12 * MU, "service": service}
    if queue_capacity is not None:
        gpu["queue_capacity"] = queue_capacity
    scenario = make_scenario(
        simulation={"duration_s": WARMUP_S + n_tasks / lam, "warmup_s": WARMUP_S, "seed": seed},
        policy="offload",
        gpu=gpu,
        workload={"flops": 1e12, "input_bytes": 0.0, "output_bytes": 0.0},
        # no device power: no battery empties in these long runs
        device={"count": N_DEVICES, "rate_hz": lam / N_DEVICES, "arrival": "poisson",
                "power_idle_w": 0.0, "power_compute_w": 0.0, "power_tx_w": 0.0, "power_rx_w": 0.0},
    )
    return airan.run(scenario)


MM1_LAM, MM1_N = 0.6, 1.5e6
MD1_LAM, MD1_N = 0.6, 1.5e6
MM4_LAM, MM4_C, MM4_N = 2.6, 4, 4e6
LOSS_LAM, LOSS_C, LOSS_N = 2.6, 4, 1e6


@pytest.fixture(scope="module")
def mm1(make_scenario):
    return _run_queue(make_scenario, lam=MM1_LAM, servers=1, service="exponential", n_tasks=MM1_N, seed=11)


@pytest.fixture(scope="module")
def md1(make_scenario):
    return _run_queue(make_scenario, lam=MD1_LAM, servers=1, service="deterministic", n_tasks=MD1_N, seed=12)


@pytest.fixture(scope="module")
def mm4(make_scenario):
    return _run_queue(make_scenario, lam=MM4_LAM, servers=MM4_C, service="exponential", n_tasks=MM4_N, seed=13)


def _check_run_is_clean(summary, lam, n_tasks):
    """Every task went to the GPU, nothing was dropped, and the counted arrivals match lambda."""
    assert summary["tasks_dropped"] == 0
    assert summary["offload_ratio"] == 1.0
    assert summary["devices_depleted"] == 0
    assert summary["uplink_mean_s"] == 0.0 and summary["downlink_mean_s"] == 0.0
    # Poisson count over the counted period: SD = sqrt(n) (< 0.1 % of n here); 1 % is > 10 SD
    assert summary["tasks_generated"] == pytest.approx(n_tasks, rel=0.01)


# ---------------------------------------------------------------------------
# M/M/1
# ---------------------------------------------------------------------------


def test_mm1_run_length_gives_four_standard_errors():
    wq = mmc_wait_s(MM1_LAM, MU, 1)
    assert TOL * wq >= 4 * mm1_wait_mean_sd_s(MM1_LAM, MU, MM1_N)


def test_mm1_mean_wait_and_sojourn(mm1):
    s = mm1.summary
    _check_run_is_clean(s, MM1_LAM, MM1_N)
    rho = MM1_LAM / MU
    assert mmc_wait_s(MM1_LAM, MU, 1) == pytest.approx(rho / (MU - MM1_LAM), rel=1e-12)  # Wq = rho / (mu - lambda)
    assert s["gpu_wait_mean_s"] == pytest.approx(rho / (MU - MM1_LAM), rel=TOL)
    assert s["latency_mean_s"] == pytest.approx(1.0 / (MU - MM1_LAM), rel=TOL)  # W = 1 / (mu - lambda)
    assert s["gpu_service_mean_s"] == pytest.approx(1.0 / MU, rel=0.01)  # SD 0.08 %
    # PASTA: an arrival waits with the probability that the server is busy, rho
    assert s["gpu_wait_probability"] == pytest.approx(rho, rel=0.01)
    assert s["gpu_utilization_mean"] == pytest.approx(rho, rel=0.01)


def test_mm1_sojourn_quantiles_are_exponential(mm1):
    # FIFO M/M/1 sojourn time is exponential with rate mu - lambda: q-quantile = -ln(1 - q) / (mu - lambda).
    # SE 0.26/0.31/0.65 % (table above) plus at most 0.5 % from the histogram's bins.
    s = mm1.summary
    for name, q, tol in (("latency_p50_s", 0.5, TOL), ("latency_p95_s", 0.95, TOL), ("latency_p99_s", 0.99, 0.04)):
        assert s[name] == pytest.approx(-math.log1p(-q) / (MU - MM1_LAM), rel=tol), name


# ---------------------------------------------------------------------------
# M/D/1
# ---------------------------------------------------------------------------


def test_md1_pollaczek_khinchine(md1):
    s = md1.summary
    _check_run_is_clean(s, MD1_LAM, MD1_N)
    wq = md1_wait_s(MD1_LAM, MU)
    assert s["gpu_service_mean_s"] == pytest.approx(1.0 / MU, rel=1e-12)  # deterministic service
    assert s["gpu_wait_mean_s"] == pytest.approx(wq, rel=TOL)
    assert s["latency_mean_s"] == pytest.approx(wq + 1.0 / MU, rel=TOL)
    # half the M/M/1 wait at the same load: the P-K factor (1 + Cs^2) / 2; an exponential
    # service mistakenly used here would be 100 % off
    assert s["gpu_wait_mean_s"] < 0.6 * mmc_wait_s(MD1_LAM, MU, 1)
    assert s["gpu_wait_probability"] == pytest.approx(MD1_LAM / MU, rel=0.01)


# ---------------------------------------------------------------------------
# M/M/c
# ---------------------------------------------------------------------------


def test_mmc_erlang_c(mm4):
    s = mm4.summary
    _check_run_is_clean(s, MM4_LAM, MM4_N)
    a = MM4_LAM / MU
    wq = mmc_wait_s(MM4_LAM, MU, MM4_C)
    assert s["gpu_wait_probability"] == pytest.approx(erlang_c(MM4_C, a), rel=TOL)
    assert s["gpu_wait_mean_s"] == pytest.approx(wq, rel=TOL)
    assert s["latency_mean_s"] == pytest.approx(wq + 1.0 / MU, rel=TOL)
    # Little's law for the servers: mean busy servers = lambda / mu; SD 0.1 % at 2.6e6
    assert s["gpu_utilization_mean"] == pytest.approx(a / MM4_C, rel=0.01)


def test_loss_system_blocking_is_erlang_b(make_scenario):
    # queue_capacity = 0: M/D/c/c. Its blocking probability is Erlang B, which is insensitive to
    # the service distribution (deterministic service here). SE 0.35 % at 1e6 tasks (table above).
    result = _run_queue(
        make_scenario, lam=LOSS_LAM, servers=LOSS_C, service="deterministic", n_tasks=LOSS_N, seed=14,
        queue_capacity=0,
    )
    s = result.summary
    b = erlang_b(LOSS_C, LOSS_LAM / MU)
    assert s["tasks_dropped_battery"] == 0
    assert s["tasks_dropped_queue_full"] / s["tasks_generated"] == pytest.approx(b, rel=TOL)
    assert s["gpu_wait_probability"] == 0.0  # nobody ever waits in a loss system
    assert s["gpu_wait_mean_s"] == 0.0
    # carried load: busy servers = lambda (1 - B) / mu
    assert s["gpu_utilization_mean"] * LOSS_C == pytest.approx(LOSS_LAM * (1 - b) / MU, rel=0.01)


# ---------------------------------------------------------------------------
# Little's law for the queue
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("case", "lam", "c"), [("mm1", MM1_LAM, 1), ("md1", MD1_LAM, 1), ("mm4", MM4_LAM, MM4_C)])
def test_little_law_queue_length(request, case, lam, c):
    result = request.getfixturevalue(case)
    s = result.summary
    # Against theory: Lq = lambda Wq, with the SE of Wq (<= 0.61 %, table above).
    wq_theory = mmc_wait_s(lam, MU, c) if case != "md1" else md1_wait_s(lam, MU)
    assert s["gpu_queue_length_mean"] == pytest.approx(lam * wq_theory, rel=TOL)
    # On the sample path: the queue-length integral over the measured span is the sum of the
    # waits of the tasks arriving in it. Both are measured after the warm-up, so they differ
    # only by the few tasks waiting across its end or in flight at the end of the run.
    lam_counted = s["tasks_generated"] / (s["sim_time_s"] - s["warmup_s"])
    assert s["gpu_queue_length_mean"] == pytest.approx(lam_counted * s["gpu_wait_mean_s"], rel=2e-3)
