"""Battery models (airan.battery) against closed forms and an independent ODE solution.

KiBaM (Manwell and McGowan 1993; notation of Jongerden and Haverkort 2009): the closed
form in :func:`airan.battery._kibam` is checked against the *exact* solution of the
two-well ODE

    dy1/dt = -P + k (h2 - h1),  dy2/dt = -k (h2 - h1),  h1 = y1 / c,  h2 = y2 / (1 - c),
    k = k' c (1 - c),

computed here with a matrix exponential of the augmented 3 x 3 system (scaling and
squaring of a Taylor series, written below with numpy only), so the test shares no
algebra with the closed form. Lifetimes are checked against a Newton solution of
``C - P L = (1 - c) P (1 - exp(-k' L)) / (c k')`` written here, and against the ODE
(y1 of the ODE is zero at that time). Peukert and ideal batteries are checked against
``H (E / (P H))^k`` and ``E / P``.

Units: the battery works in energy. With a terminal voltage of V = 1 a charge in As is
an energy in J and a current in A is a power in W, which is how the ampere figures of
REFERENCES.md section 7 are used here.

How the tolerances were sized
-----------------------------
- Closed form against the ODE: both are exact up to rounding. The closed form's largest
  intermediate terms are ``y0 c``, ``P c t`` and ``P / k'`` (the ``(1 - x) / k'`` and
  ``(k' t - 1 + x) / k'`` terms carry an absolute rounding error of a few eps each,
  multiplied by ``P / k'``), so its error is a few eps x ``S = y0 + P t + P / k'``. The
  matrix exponential is scaled so the state is O(1) and the matrix norm is at most
  ``k' t + 1``; scaling and squaring then loses at most ~``4 (k' t + 1)`` eps relative
  to the state (<= ~130 eps for k' t <= 30). The tolerance ``1e-11 S`` (~5e4 eps) covers
  both with two orders of margin; the worst case measured is ~3e-14 S.
- Lifetimes: the Newton root, the bisection in ``battery_segment`` (stops at 1e-15 of
  the time) and the bisection in ``projected_life_s`` (200 halvings) all resolve the
  root to rounding. An error eps (C + P L) in the lifetime equation moves the root by
  that over its slope (>= P), i.e. < 1e-15 of L; ``rel = 1e-12`` leaves margin.
- Time-stepped runs (pulsed loads, split segments): each segment adds ~eps S of
  rounding to the wells (~1e-12 J here), a few hundred segments add < 1e-9 J, which
  moves the empty instant by that over the slope of y1 (>= c P): < 1e-8 s. Tolerances
  of 1e-6 s are used.
- Printed reference numbers (REFERENCES.md section 7, tagged C) are matched to the
  precision printed there (rounding to the printed digits), after the independent
  solver has reproduced them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from airan.battery import (
    BATTERY_IDEAL,
    BATTERY_KIBAM,
    BATTERY_PEUKERT,
    _kibam,
    battery_draw,
    battery_segment,
    initial_wells,
    peukert_drain_w,
    projected_life_s,
)

EPS_REL = 1e-12  # relative tolerance for roots and times resolved to rounding (see module docstring)
ODE_TOL = 1e-11  # closed form vs ODE, as a fraction of S = y0 + P t + P / k' (module docstring)

# Illustrative KiBaM parameter sets of REFERENCES.md section 7 (C in As = J at V = 1; k in 1/s).
SET_A = {"capacity_j": 7200.0, "c": 0.625, "k": 4.5e-5}
SET_B = {"capacity_j": 10800.0, "c": 0.166, "k": 2.815e-4}


def _kprime(c: float, k: float) -> float:
    """Jongerden-Haverkort k' = k / (c (1 - c)) from Manwell-McGowan's k (1/s)."""
    return k / (c * (1.0 - c))


# --------------------------------------------------------------------------- independent reference


def _expm(m: np.ndarray) -> np.ndarray:
    """Matrix exponential by scaling and squaring of a 30-term Taylor series (norm <= 1/4 after scaling)."""
    norm = float(np.max(np.sum(np.abs(m), axis=1)))
    n_squarings = max(0, math.ceil(math.log2(norm / 0.25))) if norm > 0.0 else 0
    a = m / 2.0**n_squarings
    term = np.eye(len(m))
    total = np.eye(len(m))
    for j in range(1, 30):
        term = term @ a / j
        total = total + term
    for _ in range(n_squarings):
        total = total @ total
    return total


def _kibam_ode(y1: float, y2: float, power_w: float, t_s: float, c: float, kp: float) -> tuple[float, float]:
    """Exact solution of the two-well ODE after ``t_s`` at constant ``power_w`` (matrix exponential).

    The affine system y' = A y + b is written as the linear system (y, 1)' = [[A, b], [0, 0]] (y, 1),
    with the state divided by a scale ``q`` so every entry of the exponent is O(k' t + 1).
    """
    k = kp * c * (1.0 - c)
    q = max(abs(y1) + abs(y2), power_w * t_s, 1e-300)
    m = np.array([
        [-k / c, k / (1.0 - c), -power_w / q],
        [k / c, -k / (1.0 - c), 0.0],
        [0.0, 0.0, 0.0],
    ])
    v = _expm(m * t_s) @ np.array([y1 / q, y2 / q, 1.0])
    return float(v[0] * q), float(v[1] * q)


def _kibam_life_newton(capacity_j: float, c: float, kp: float, power_w: float) -> float:
    """Root L of C - P L - (1 - c) P (1 - exp(-k' L)) / (c k') by Newton's method from L = 0.

    The left side is decreasing and convex in L and positive at 0, so Newton's iterates
    from 0 rise monotonically to the root.
    """
    life = 0.0
    for _ in range(200):
        x = math.exp(-kp * life)
        gap = capacity_j - power_w * life - (1.0 - c) * power_w * (1.0 - x) / (c * kp)
        slope = -power_w - (1.0 - c) * power_w * x / c
        step = gap / slope
        life -= step
        if abs(step) <= 1e-16 * life:
            break
    return life


def _scale(y1: float, y2: float, power_w: float, t_s: float, kp: float) -> float:
    """S = y0 + P t + P / k': the size of the closed form's largest terms (module docstring)."""
    return abs(y1) + abs(y2) + power_w * t_s + power_w / kp


# --------------------------------------------------------------------------- KiBaM closed form vs ODE

# (y1, y2, P, t, c, k'): k' t from 1e-3 to 30, full and partly drained wells, both
# wells unequal in height either way, zero power, and one case run on past empty (the
# closed form is the ODE's solution whatever the sign of y1).
_ODE_CASES = [
    (4500.0, 2700.0, 1.0, 1000.0, 0.625, 1.92e-4),  # set A, full, 1 A
    (4500.0, 2700.0, 2.0, 2000.0, 0.625, 1.92e-4),  # set A, full, 2 A
    (3000.0, 1000.0, 0.5, 500.0, 0.3, 1e-3),
    (100.0, 4000.0, 0.2, 2000.0, 0.2, 5e-4),  # bound well high: y1 rises first
    (900.0, 100.0, 0.05, 300.0, 0.5, 1e-2),  # available well high: y1 falls towards c y0
    (1792.8, 9007.2, 0.3, 5.0, 0.166, 2.0333e-3),  # set B, short step (k' t = 1e-2)
    (50.0, 50.0, 0.01, 1.0, 0.5, 1e-3),  # k' t = 1e-3
    (500.0, 1500.0, 0.1, 3000.0, 0.25, 1e-2),  # k' t = 30: wells at equilibrium
    (4500.0, 2700.0, 1.0, 10000.0, 0.625, 1.92e-4),  # past empty: y1 < 0
    (0.0, 2000.0, 0.0, 600.0, 0.4, 2e-3),  # recovery from empty
]


def _random_ode_cases(n: int) -> list[tuple[float, ...]]:
    rng = np.random.default_rng(20250101)
    cases = []
    for _ in range(n):
        c = float(rng.uniform(0.05, 0.95))
        kp = float(10.0 ** rng.uniform(-5.0, -1.0))
        t = float(10.0 ** rng.uniform(-3.0, math.log10(30.0))) / kp
        cases.append((float(rng.uniform(0.0, 5000.0)), float(rng.uniform(0.0, 5000.0)),
                      float(rng.uniform(0.0, 3.0)), t, c, kp))
    return cases


@pytest.mark.parametrize("case", _ODE_CASES + _random_ode_cases(20))
def test_kibam_closed_form_matches_ode(case):
    y1, y2, p, t, c, kp = case
    ref1, ref2 = _kibam_ode(y1, y2, p, t, c, kp)
    got1, got2 = _kibam(y1, y2, p, t, c, kp)
    tol = ODE_TOL * _scale(y1, y2, p, t, kp)
    assert got1 == pytest.approx(ref1, abs=tol)
    assert got2 == pytest.approx(ref2, abs=tol)
    # Charge balance of the ODE: the wells lose exactly P t between them.
    assert got1 + got2 == pytest.approx(y1 + y2 - p * t, abs=tol)


@pytest.mark.parametrize("case", [cs for cs in _ODE_CASES if cs[2] > 0.0][:6])
def test_battery_segment_kibam_wells_match_ode_while_not_empty(case):
    y1, y2, p, t, c, kp = case
    ref1, ref2 = _kibam_ode(y1, y2, p, t, c, kp)
    assert ref1 > 0.0  # these cases stay non-empty over the segment
    got1, got2, t_empty = battery_segment(BATTERY_KIBAM, c, kp, y1, y2, p, t)
    tol = ODE_TOL * _scale(y1, y2, p, t, kp)
    assert t_empty == -1.0
    assert got1 == pytest.approx(ref1, abs=tol)
    assert got2 == pytest.approx(ref2, abs=tol)


@pytest.mark.parametrize("y1", [0.0, 300.0])
def test_kibam_recovery_at_zero_power(y1):
    """At rest with h1 < h2 the available well refills, monotonically, to c y0, conserving charge.

    With P = 0 the height difference decays as exp(-k' t), so y1(t) = c y0 + (y1 - c y0) exp(-k' t).
    """
    c, kp, y2 = 0.625, 1.92e-4, 2700.0
    y0 = y1 + y2
    times = np.linspace(0.0, 30.0 / kp, 61)[1:]
    previous = y1
    for t in times:
        got1, got2, t_empty = battery_segment(BATTERY_KIBAM, c, kp, y1, y2, 0.0, float(t))
        assert t_empty == -1.0
        assert got1 > previous  # y1 rises
        previous = got1
        assert got1 + got2 == pytest.approx(y0, rel=1e-14, abs=0.0)  # a few roundings of y0
        expected = c * y0 + (y1 - c * y0) * math.exp(-kp * t)
        tol = ODE_TOL * _scale(y1, y2, 0.0, float(t), kp)
        assert got1 == pytest.approx(expected, abs=tol)
        assert got1 == pytest.approx(_kibam_ode(y1, y2, 0.0, float(t), c, kp)[0], abs=tol)
    assert previous == pytest.approx(c * y0, rel=1e-12)  # exp(-30) ~ 1e-13: equilibrium


def test_kibam_overfull_available_well_relaxes_down_at_rest():
    """h1 > h2 at rest: y1 falls towards c y0, never to zero, and the total is conserved."""
    c, kp, y1, y2 = 0.5, 1e-3, 900.0, 100.0
    got1, got2, t_empty = battery_segment(BATTERY_KIBAM, c, kp, y1, y2, 0.0, 1e5)
    assert t_empty == -1.0
    assert got1 == pytest.approx(c * (y1 + y2), rel=1e-12)
    assert got1 + got2 == pytest.approx(y1 + y2, rel=1e-14)


# --------------------------------------------------------------------------- KiBaM lifetime


def _lifetime_cases() -> list[tuple[float, float, float, float]]:
    cases = []
    for s in (SET_A, SET_B):
        kp = _kprime(s["c"], s["k"])
        cases += [(s["capacity_j"], s["c"], kp, p) for p in (0.1, 0.5, 1.0, 2.0, 5.0)]
    cases += [(1000.0, 0.9, 1e-2, 0.3), (55440.0, 0.3, 1e-5, 1.5), (100.0, 0.05, 0.5, 10.0)]
    return cases


@pytest.mark.parametrize("case", _lifetime_cases())
def test_kibam_lifetime_from_full_is_the_root_of_the_lifetime_equation(case):
    capacity, c, kp, p = case
    y1, y2 = initial_wells(BATTERY_KIBAM, capacity, c)
    assert (y1, y2) == (c * capacity, (1.0 - c) * capacity)
    expected = _kibam_life_newton(capacity, c, kp, p)
    assert c * capacity / p < expected < capacity / p  # the rate-capacity effect, bounded by the two wells
    # The root is where the ODE's available well empties.
    assert abs(_kibam_ode(y1, y2, p, expected, c, kp)[0]) <= ODE_TOL * _scale(y1, y2, p, expected, kp)
    # One long segment.
    end1, end2, t_empty = battery_segment(BATTERY_KIBAM, c, kp, y1, y2, p, 2.0 * capacity / p)
    assert t_empty == pytest.approx(expected, rel=EPS_REL)
    assert end1 == 0.0
    assert end1 + end2 == pytest.approx(capacity - p * t_empty, rel=1e-12, abs=1e-12 * capacity)
    assert projected_life_s(BATTERY_KIBAM, c, kp, capacity, p) == pytest.approx(expected, rel=EPS_REL)


@pytest.mark.parametrize("set_name, kp_printed, kp_unit_s, kp_digits", [
    ("A", 1.92e-4, 1.0, 6),  # printed in 1/s
    ("B", 0.122, 60.0, 3),  # printed in 1/min
])
def test_references_table_kprime(set_name, kp_printed, kp_unit_s, kp_digits):
    s = SET_A if set_name == "A" else SET_B
    assert round(_kprime(s["c"], s["k"]) * kp_unit_s, kp_digits) == pytest.approx(kp_printed, abs=1e-15)


# REFERENCES.md section 7 table (C): lifetime in s at constant current, rounded as printed.
@pytest.mark.parametrize("set_name, current_a, printed_s, digits", [
    ("A", 0.1, 68875.0, 0),
    ("A", 0.5, 11611.0, 0),
    ("A", 1.0, 5221.7, 1),
    ("A", 2.0, 2433.5, 1),
    ("B", 0.1, 105529.0, 0),
    ("B", 0.5, 19129.0, 0),
    ("B", 1.0, 8329.0, 0),
    ("B", 2.0, 2935.0, 0),
])
def test_references_kibam_lifetime_table(set_name, current_a, printed_s, digits):
    s = SET_A if set_name == "A" else SET_B
    capacity, c = s["capacity_j"], s["c"]
    kp = _kprime(c, s["k"])
    independent = _kibam_life_newton(capacity, c, kp, current_a)
    assert round(independent, digits) == printed_s  # the table is right (checked by our own solver)
    y1, y2 = initial_wells(BATTERY_KIBAM, capacity, c)
    t_empty = battery_segment(BATTERY_KIBAM, c, kp, y1, y2, current_a, 2.0 * capacity / current_a)[2]
    assert t_empty == pytest.approx(independent, rel=EPS_REL)
    assert round(t_empty, digits) == printed_s
    assert round(projected_life_s(BATTERY_KIBAM, c, kp, capacity, current_a), digits) == printed_s


def test_references_constant_one_amp_delivers_72_5_percent():
    kp = _kprime(SET_A["c"], SET_A["k"])
    life = projected_life_s(BATTERY_KIBAM, SET_A["c"], kp, SET_A["capacity_j"], 1.0)
    assert round(100.0 * life * 1.0 / SET_A["capacity_j"], 1) == 72.5


def test_constant_load_split_into_segments_lasts_as_long_as_one_segment():
    """The closed form composes: 60 s segments at 1 A on set A empty when one long segment does."""
    c = SET_A["c"]
    kp = _kprime(c, SET_A["k"])
    y1, y2 = initial_wells(BATTERY_KIBAM, SET_A["capacity_j"], c)
    one = battery_segment(BATTERY_KIBAM, c, kp, y1, y2, 1.0, 1e5)[2]
    t = 0.0
    for _ in range(1000):
        y1, y2, t_empty = battery_segment(BATTERY_KIBAM, c, kp, y1, y2, 1.0, 60.0)
        if t_empty >= 0.0:
            t += t_empty
            break
        t += 60.0
    assert t == pytest.approx(one, abs=1e-6)  # ~90 segments: module docstring


# --------------------------------------------------------------------------- pulsed loads (REFERENCES.md section 7)


def _pulsed_life_segments(current_a: float, on_s: float, off_s: float) -> tuple[float, float]:
    """(lifetime, charge delivered) on set A driving battery_segment on/off from full."""
    c = SET_A["c"]
    kp = _kprime(c, SET_A["k"])
    y1, y2 = initial_wells(BATTERY_KIBAM, SET_A["capacity_j"], c)
    t = delivered = 0.0
    for _ in range(100_000):
        y1, y2, t_empty = battery_segment(BATTERY_KIBAM, c, kp, y1, y2, current_a, on_s)
        if t_empty >= 0.0:
            assert y1 == 0.0 and 0.0 <= t_empty <= on_s
            return t + t_empty, delivered + current_a * t_empty
        t += on_s
        delivered += current_a * on_s
        y1, y2, t_empty = battery_segment(BATTERY_KIBAM, c, kp, y1, y2, 0.0, off_s)
        assert t_empty == -1.0  # a rest never empties a battery with y1 > 0
        t += off_s
    raise AssertionError("the battery did not empty")


def _pulsed_life_ode(current_a: float, on_s: float, off_s: float) -> float:
    """The same pulsed lifetime from the ODE solution alone (bisection inside the last on-period)."""
    c = SET_A["c"]
    kp = _kprime(c, SET_A["k"])
    y1, y2 = SET_A["capacity_j"] * c, SET_A["capacity_j"] * (1.0 - c)
    t = 0.0
    while True:
        on1, on2 = _kibam_ode(y1, y2, current_a, on_s, c, kp)
        if on1 <= 0.0:
            lo, hi = 0.0, on_s
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if _kibam_ode(y1, y2, current_a, mid, c, kp)[0] > 0.0 else (lo, mid)
            return t + hi
        y1, y2 = _kibam_ode(on1, on2, 0.0, off_s, c, kp)
        t += on_s + off_s


def test_references_pulsed_one_amp_60_on_240_off():
    """REFERENCES.md section 7 (C): lasts 32 734 s, delivers 6 574 As (91 % of C)."""
    life, delivered = _pulsed_life_segments(1.0, 60.0, 240.0)
    assert life == pytest.approx(_pulsed_life_ode(1.0, 60.0, 240.0), abs=1e-6)  # module docstring
    assert round(life) == 32734
    assert round(delivered) == 6574
    assert round(100.0 * delivered / SET_A["capacity_j"]) == 91


def test_references_pulsed_two_amp_10_on_10_off():
    """REFERENCES.md section 7 (C): 2 A at 10 s on / 10 s off lasts 5 221.4 s, close to a constant 1 A."""
    life, delivered = _pulsed_life_segments(2.0, 10.0, 10.0)
    assert round(life, 1) == 5221.4
    kp = _kprime(SET_A["c"], SET_A["k"])
    constant = projected_life_s(BATTERY_KIBAM, SET_A["c"], kp, SET_A["capacity_j"], 1.0)
    assert abs(life - constant) < 1.0


# --------------------------------------------------------------------------- battery_segment's empty instant

# (c, k', y1, y2, P, tau): full under load, a bound well that first refills y1 (one
# maximum before the crossing), an already-empty y1 under load, and heavy loads.
_EMPTY_CASES = [
    (0.625, 1.92e-4, 4500.0, 2700.0, 1.0, 1e4),
    (0.625, 1.92e-4, 4500.0, 2700.0, 5.0, 2000.0),
    (0.5, 1e-2, 10.0, 1000.0, 1.0, 2000.0),  # y1 rises (k (h2 - h1) > P) and then falls to zero
    (0.166, 2.0333e-3, 1792.8, 9007.2, 2.0, 5000.0),
    (0.3, 1e-3, 0.0, 500.0, 1.0, 100.0),  # empty at the start
    (0.9, 1e-1, 50.0, 0.0, 0.2, 1e3),
]


@pytest.mark.parametrize("case", _EMPTY_CASES)
def test_battery_segment_empty_instant(case):
    c, kp, y1, y2, p, tau = case
    end1, end2, t_empty = battery_segment(BATTERY_KIBAM, c, kp, y1, y2, p, tau)
    assert 0.0 <= t_empty <= tau
    assert end1 == 0.0
    at1, at2 = _kibam(y1, y2, p, t_empty, c, kp)
    assert end2 == at2  # the bound well is the closed form's at that instant
    # y1 of the closed form and of the ODE is zero there: the bisection resolves 1e-15 of the time,
    # and |dy1/dt| <= P + k' y0, so the residual is rounding (module docstring).
    tol = ODE_TOL * _scale(y1, y2, p, t_empty, kp) + 1e-14 * max(t_empty, 1.0) * (p + kp * (y1 + y2))
    assert abs(at1) <= tol
    ode1, ode2 = _kibam_ode(y1, y2, p, t_empty, c, kp)
    assert abs(ode1) <= tol
    assert end2 == pytest.approx(ode2, abs=tol)
    # It is the first crossing: the ODE's y1 is positive on a grid before it (when y1 starts positive).
    if y1 > 0.0:
        for t in np.linspace(0.0, t_empty, 50)[:-1]:
            assert _kibam_ode(y1, y2, p, float(t), c, kp)[0] > 0.0


def test_battery_segment_empty_at_the_segment_edges():
    """Empty exactly at the end of a segment reports ``tau``; a battery with both wells empty reports ~0."""
    # Ideal and KiBaM with c = 1: y1 = 10 J at 1 W over 10 s empties at 10 s exactly.
    assert battery_segment(BATTERY_IDEAL, 1.0, 0.0, 10.0, 0.0, 1.0, 10.0) == (0.0, 0.0, 10.0)
    assert battery_segment(BATTERY_KIBAM, 1.0, 1.0, 10.0, 0.0, 1.0, 10.0) == (0.0, 0.0, 10.0)
    # Both wells empty, at rest: empty from the start (the bisection stops within 1e-15 s of 0).
    end1, end2, t_empty = battery_segment(BATTERY_KIBAM, 0.5, 1.0, 0.0, 0.0, 0.0, 10.0)
    assert (end1, end2) == (0.0, 0.0)
    assert 0.0 <= t_empty <= 1e-12


# --------------------------------------------------------------------------- limits that are the ideal battery

_IDEAL_CASES = [(1000.0, 0.5, 100.0), (1000.0, 2.0, 600.0), (55440.0, 1.5, 1e5), (7200.0, 0.0, 1e4), (3.0, 7.0, 1.0)]


@pytest.mark.parametrize("y1, p, tau", _IDEAL_CASES)
def test_kibam_with_c_one_is_ideal(y1, p, tau):
    for t in np.linspace(0.0, tau, 11)[1:]:
        ideal = battery_segment(BATTERY_IDEAL, 1.0, 0.0, y1, 0.0, p, float(t))
        kibam = battery_segment(BATTERY_KIBAM, 1.0, 1.92e-4, y1, 0.0, p, float(t))
        assert kibam[0] == pytest.approx(ideal[0], rel=1e-12, abs=1e-12 * y1)
        assert kibam[1] == ideal[1] == 0.0
        assert kibam[2] == pytest.approx(ideal[2], rel=1e-12)  # -1 for both, or the same empty time
    assert projected_life_s(BATTERY_KIBAM, 1.0, 1.92e-4, y1, p) == projected_life_s(BATTERY_IDEAL, 1.0, 0.0, y1, p)
    assert initial_wells(BATTERY_KIBAM, y1, 1.0) == (y1, 0.0)


def test_kibam_tends_to_ideal_as_c_tends_to_one():
    """The c >= 1 shortcut is the limit of the closed form.

    From the lifetime equation, E / P - L = (1 - c)(1 - exp(-k' L)) / (c k') <= (1 - c) / (c k').
    """
    capacity, kp, p = 7200.0, 1e-3, 1.0
    for gap in (1e-3, 1e-6):
        c = 1.0 - gap
        life = projected_life_s(BATTERY_KIBAM, c, kp, capacity, p)
        assert 0.0 < capacity / p - life <= gap / (c * kp) * (1.0 + 1e-9)


@pytest.mark.parametrize("y1, p, tau", _IDEAL_CASES)
def test_peukert_with_k_one_is_ideal(y1, p, tau):
    for t in np.linspace(0.0, tau, 11)[1:]:
        ideal = battery_segment(BATTERY_IDEAL, 1.0, 0.0, y1, 0.0, p, float(t))
        peukert = battery_segment(BATTERY_PEUKERT, 1.0, 0.37, y1, 0.0, p, float(t))
        assert peukert[0] == pytest.approx(ideal[0], rel=1e-12, abs=1e-12 * y1)
        assert peukert[1] == ideal[1] == 0.0
        assert peukert[2] == pytest.approx(ideal[2], rel=1e-12)
    assert projected_life_s(BATTERY_PEUKERT, 1.0, 0.37, y1, p) == pytest.approx(y1 / p if p > 0 else math.inf)


# --------------------------------------------------------------------------- Peukert


@pytest.mark.parametrize("energy_j, hours_rate_s, k, p", [
    (7200.0, 72000.0, 1.2, 0.1),
    (7200.0, 72000.0, 1.2, 1.0),
    (7200.0, 72000.0, 1.2, 0.02),  # below the rated power: lasts longer than E / P
    (55440.0, 36000.0, 1.05, 1.5),
    (1000.0, 3600.0, 1.3, 10.0),
])
def test_peukert_lifetime_at_constant_power(energy_j, hours_rate_s, k, p):
    expected = hours_rate_s * (energy_j / (p * hours_rate_s)) ** k
    reference_w = energy_j / hours_rate_s
    end1, end2, t_empty = battery_segment(BATTERY_PEUKERT, k, reference_w, energy_j, 0.0, p, 10.0 * expected)
    assert (end1, end2) == (0.0, 0.0)
    assert t_empty == pytest.approx(expected, rel=EPS_REL)
    assert projected_life_s(BATTERY_PEUKERT, k, reference_w, energy_j, p) == pytest.approx(expected, rel=EPS_REL)
    # Before it empties the energy drains at P (P / P_ref)^(k - 1): E - drain t after half the life.
    drain = p * (p / reference_w) ** (k - 1.0)
    assert peukert_drain_w(p, k, reference_w) == pytest.approx(drain, rel=1e-14)
    half = battery_segment(BATTERY_PEUKERT, k, reference_w, energy_j, 0.0, p, 0.5 * expected)
    assert half[2] == -1.0
    assert half[0] == pytest.approx(energy_j - drain * 0.5 * expected, rel=1e-12)


def test_references_peukert_example():
    """REFERENCES.md section 7: C = 2 Ah at the 20 h rate, k = 1.2: 0.1 A lasts 20 h, 1 A lasts 1.262 h (V = 1)."""
    energy_j, hours_rate_s, k = 2.0 * 3600.0, 20.0 * 3600.0, 1.2
    reference_w = energy_j / hours_rate_s
    for current_a, printed_h, digits in ((0.1, 20.0, 12), (1.0, 1.262, 3)):
        life = battery_segment(BATTERY_PEUKERT, k, reference_w, energy_j, 0.0, current_a, 1e7)[2]
        assert round(life / 3600.0, digits) == printed_h
        assert round(projected_life_s(BATTERY_PEUKERT, k, reference_w, energy_j, current_a) / 3600.0,
                     digits) == printed_h


def test_peukert_zero_power_drains_nothing():
    assert peukert_drain_w(0.0, 1.2, 0.1) == 0.0
    assert battery_segment(BATTERY_PEUKERT, 1.2, 0.1, 100.0, 0.0, 0.0, 1e6) == (100.0, 0.0, -1.0)
    assert projected_life_s(BATTERY_PEUKERT, 1.2, 0.1, 100.0, 0.0) == math.inf


# --------------------------------------------------------------------------- ideal battery and lumps


@pytest.mark.parametrize("y1, p, tau", _IDEAL_CASES)
def test_ideal_segment_is_exact(y1, p, tau):
    end1, end2, t_empty = battery_segment(BATTERY_IDEAL, 1.0, 0.0, y1, 0.0, p, tau)
    if p * tau < y1:
        assert (end1, end2, t_empty) == (y1 - p * tau, 0.0, -1.0)
    else:
        assert (end1, end2, t_empty) == (0.0, 0.0, y1 / p)  # exactly E / P
    assert projected_life_s(BATTERY_IDEAL, 1.0, 0.0, y1, p) == (y1 / p if p > 0.0 else math.inf)


def test_references_ideal_example():
    """REFERENCES.md section 7: 3.85 V x 4000 mAh = 55.44 kJ lasts 10.27 h at 1.5 W."""
    energy_j = 3.85 * 4.0 * 3600.0
    assert energy_j == pytest.approx(55440.0, rel=1e-15)
    life = battery_segment(BATTERY_IDEAL, 1.0, 0.0, energy_j, 0.0, 1.5, 1e6)[2]
    assert round(life / 3600.0, 2) == 10.27


@pytest.mark.parametrize("model", [BATTERY_IDEAL, BATTERY_PEUKERT, BATTERY_KIBAM])
def test_battery_draw_takes_lumps_from_the_available_well(model):
    assert battery_draw(model, 10.0, 5.0, 4.0) == (6.0, 5.0, False)
    assert battery_draw(model, 10.0, 5.0, 0.0) == (10.0, 5.0, False)
    assert battery_draw(model, 10.0, 5.0, 10.0) == (0.0, 5.0, True)  # exactly the rest: empty
    assert battery_draw(model, 10.0, 5.0, 25.0) == (0.0, 5.0, True)  # more than there is: empty, y2 untouched
    # Lumps and segments compose: a lump then a segment equals the segment from the reduced y1 (ideal).
    if model == BATTERY_IDEAL:
        y1, _, _ = battery_draw(model, 100.0, 0.0, 30.0)
        assert battery_segment(model, 1.0, 0.0, y1, 0.0, 2.0, 100.0)[2] == 35.0
