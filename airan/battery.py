"""Battery models for the kernel: ideal, Peukert and the Kinetic Battery Model (KiBaM).

Every model keeps two numbers per device, ``(y1, y2)``, in joules, and the battery is
empty when ``y1`` reaches zero. Power is drawn in segments of constant power
(:func:`battery_segment`) and in instantaneous lumps (:func:`battery_draw`).
Working in energy rather than charge assumes a constant terminal voltage, so a
current ``I`` in the literature is ``P / V`` here and capacities are ``V x C``.

- **Ideal** (coulomb counting): ``y1`` is the energy left; a segment at power ``P``
  for ``t`` removes ``P t``. ``y2`` is unused (0).
- **Peukert**: at constant power ``P`` the battery lasts ``H (E / (P H))^k`` for a
  battery of energy ``E`` rated at the ``H``-hour rate, i.e. energy drains at the
  effective rate ``P (P / P_ref)^(k-1)`` with ``P_ref = E / H``. ``k = 1`` is the
  ideal battery. (W. Peukert, "Über die Abhängigkeit der Kapazität von der
  Entladestromstärke bei Bleiakkumulatoren", Elektrotechnische Zeitschrift 20, 1897;
  the variable-load form of D. Rakhmatov and S. Vrudhula, ICCAD 2001, Sec. 2.)
- **KiBaM** (J. F. Manwell and J. G. McGowan, "Lead acid battery storage model for
  hybrid energy systems", Solar Energy 50(5), 1993; notation of M. R. Jongerden and
  B. R. Haverkort, "Which battery model to use?", IET Software 3(6), 2009): an
  available well ``y1`` (fraction ``c`` of the charge) feeds the load and a bound
  well ``y2`` refills it at a rate set by the height difference:
  ``dy1/dt = -P + k (h2 - h1)``, ``dy2/dt = -k (h2 - h1)``, ``h1 = y1 / c``,
  ``h2 = y2 / (1 - c)``. With ``k' = k / (c (1 - c))`` the closed form for constant
  ``P`` over ``t`` (``y0 = y1 + y2``, ``x = exp(-k' t)``) is

      y1(t) = y1 x + (y0 k' c - P)(1 - x) / k' - P c (k' t - 1 + x) / k'
      y2(t) = y2 x + y0 (1 - c)(1 - x) - P (1 - c)(k' t - 1 + x) / k'

  It captures the rate-capacity effect (a high load empties ``y1`` before the bound
  charge arrives) and recovery (at low load ``y1`` refills). ``c = 1`` is the ideal
  battery. Parameters here: ``a = c``, ``b = k'`` in 1/s.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

BATTERY_IDEAL = 0
BATTERY_PEUKERT = 1
BATTERY_KIBAM = 2
MODELS = {"ideal": BATTERY_IDEAL, "peukert": BATTERY_PEUKERT, "kibam": BATTERY_KIBAM}

_BISECTIONS = 80  # halves the bracket below 1e-24 of the segment: exact to rounding


def initial_wells(model: int, capacity_j: float, a: float) -> tuple[float, float]:
    """``(y1, y2)`` of a battery holding ``capacity_j`` at rest (KiBaM: split ``c : 1 - c``)."""
    if model == BATTERY_KIBAM:
        return capacity_j * a, capacity_j * (1.0 - a)
    return capacity_j, 0.0


@njit(error_model="numpy")
def _kibam(y1, y2, power_w, t, c, kp):
    """KiBaM wells after ``t`` seconds at constant ``power_w`` (closed form, module docstring)."""
    if c >= 1.0:
        return y1 - power_w * t, y2
    one_minus_x = -math.expm1(-kp * t)  # 1 - exp(-k' t), accurate for small k' t
    x = 1.0 - one_minus_x
    y0 = y1 + y2
    ramp = kp * t - one_minus_x  # k' t - 1 + exp(-k' t)
    n1 = y1 * x + (y0 * kp * c - power_w) * one_minus_x / kp - power_w * c * ramp / kp
    n2 = y2 * x + y0 * (1.0 - c) * one_minus_x - power_w * (1.0 - c) * ramp / kp
    return n1, n2


@njit(error_model="numpy")
def peukert_drain_w(power_w, k, reference_w):
    """Rate at which a Peukert battery's energy drains while ``power_w`` is drawn."""
    if power_w <= 0.0 or k == 1.0:
        return power_w
    return power_w * (power_w / reference_w) ** (k - 1.0)


@njit(error_model="numpy")
def battery_segment(model, a, b, y1, y2, power_w, tau_s):
    """Draw ``power_w`` for ``tau_s`` seconds.

    Returns ``(y1, y2, t_empty_s)``: the wells at the end of the segment, or at the
    instant the battery empties, ``t_empty_s`` into the segment (-1 if it does not).
    ``a, b``: Peukert ``k`` and reference power (W); KiBaM ``c`` and ``k'`` (1/s).
    """
    if model == BATTERY_KIBAM:
        # dy1/dt = -P + k' (c y2 - (1 - c) y1): an empty available well that is not refilling
        # faster than it is drained is empty now (with zero power and bound charge it recovers)
        if y1 <= 0.0 and -power_w + b * (a * y2 - (1.0 - a) * y1) <= 0.0:
            return 0.0, y2, 0.0
        end1, end2 = _kibam(y1, y2, power_w, tau_s, a, b)
        if end1 > 0.0:
            return end1, end2, -1.0
        # y1 is monotone or has one maximum over a segment, so it crosses zero once: bisect
        lo = 0.0
        hi = tau_s
        for _ in range(_BISECTIONS):
            mid = 0.5 * (lo + hi)
            m1, _m2 = _kibam(y1, y2, power_w, mid, a, b)
            if m1 > 0.0:
                lo = mid
            else:
                hi = mid
            if hi - lo <= 1e-15 * max(hi, 1.0):
                break
        end1, end2 = _kibam(y1, y2, power_w, hi, a, b)
        return 0.0, end2, hi
    drain = peukert_drain_w(power_w, a, b) if model == BATTERY_PEUKERT else power_w
    used = drain * tau_s
    if used < y1:
        return y1 - used, y2, -1.0
    return 0.0, y2, (y1 / drain if drain > 0.0 else 0.0)


@njit(error_model="numpy")
def battery_draw(model, y1, y2, energy_j):
    """Draw ``energy_j`` at once (from the available well). Returns ``(y1, y2, emptied)``."""
    if energy_j < y1:
        return y1 - energy_j, y2, False
    return 0.0, y2, True


def projected_life_s(model: int, a: float, b: float, capacity_j: float, power_w: float) -> float:
    """Time a full battery lasts at constant ``power_w`` (inf at zero power).

    Ideal: ``E / P``. Peukert: ``E / (P (P / P_ref)^(k-1))``. KiBaM: the root of
    ``E - P L = (1 - c) P (1 - exp(-k' L)) / (c k')`` (Jongerden and Haverkort 2009),
    found by bisection between ``c E / P`` and ``E / P``.
    """
    if power_w <= 0.0:
        return math.inf
    if model == BATTERY_PEUKERT:
        return capacity_j / float(peukert_drain_w(power_w, a, b))
    if model != BATTERY_KIBAM or a >= 1.0:
        return capacity_j / power_w
    c, kp = a, b
    lo, hi = c * capacity_j / power_w, capacity_j / power_w

    def gap(life_s: float) -> float:
        return capacity_j - power_w * life_s - (1.0 - c) * power_w * (1.0 - math.exp(-kp * life_s)) / (c * kp)

    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if gap(mid) > 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def projected_life_array_s(model: np.ndarray, a: np.ndarray, b: np.ndarray, capacity_j: np.ndarray,
                           power_w: np.ndarray) -> np.ndarray:
    """:func:`projected_life_s` for arrays of devices."""
    return np.array([projected_life_s(int(m), float(x), float(y), float(e), float(p))
                     for m, x, y, e, p in zip(model, a, b, capacity_j, power_w, strict=True)])
