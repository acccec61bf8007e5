"""Large-scale path loss, line-of-sight probability, shadowing and fast fading.

Plain numpy, vectorised over arrays: these functions run once when a scenario is
built (one value per device-cell link), never per event, so they need no Numba.
Every input broadcasts against the others and every function is pure; random
draws come only from the ``numpy.random.Generator`` passed in.

Contents
--------
* :func:`pathloss_db` -- 3GPP TR 38.901 Table 7.4.1-1 for UMa, UMi-Street Canyon,
  RMa and InH-Office, LOS and NLOS, with the table's validity ranges enforced
  (:class:`PathlossRangeError`) unless ``extrapolate=True``.
* :func:`los_probability` -- TR 38.901 Table 7.4.2-1.
* :func:`shadow_fading_std_db`, :func:`decorrelation_distance_m`,
  :func:`shadow_fading_db` -- log-normal shadowing, i.i.d. or spatially correlated
  with Gudmundson's exponential correlation.
* :func:`free_space_db`, :func:`atmospheric_absorption_db_per_km`,
  :func:`subthz_pathloss_db` -- Friis free space plus ITU-R P.676-12 gaseous
  absorption for sub-THz links (100-300 GHz).
* :func:`power_law_db` -- close-in reference-distance power law.
* :func:`fast_fading_gain` -- Rayleigh and Rician small-scale power gains.

Units: frequencies in GHz (``_ghz``), distances and heights in m (``_m``), losses and
standard deviations in dB (``_db``); log is log10 throughout.

References
----------
.. [1] 3GPP TR 38.901 V17.0.0 (2022-03), "Study on channel model for frequencies from
   0.5 to 100 GHz", clause 7.4.1 (Table 7.4.1-1, path loss and sigma_SF), clause 7.4.2
   (Table 7.4.2-1, LOS probability), clause 7.5 (Table 7.5-6, correlation distances).
.. [2] Recommendation ITU-R P.676-12 (08/2019), "Attenuation by atmospheric gases and
   related effects", Annex 1 (line-by-line specific attenuation).
.. [3] M. Gudmundson, "Correlation model for shadow fading in mobile radio systems",
   Electronics Letters 27(23), pp. 2145-2146, 1991.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

__all__ = [
    "SPEED_OF_LIGHT_M_PER_S",
    "SPEED_OF_LIGHT_TR38901_M_PER_S",
    "PathlossRangeError",
    "pathloss_db",
    "los_probability",
    "shadow_fading_std_db",
    "decorrelation_distance_m",
    "shadow_fading_db",
    "free_space_db",
    "atmospheric_absorption_db_per_km",
    "subthz_pathloss_db",
    "power_law_db",
    "fast_fading_gain",
]

#: Speed of light in vacuum (exact, SI definition of the metre), m/s. Used for free space.
SPEED_OF_LIGHT_M_PER_S = 299_792_458.0

#: Propagation velocity fixed by the notes to TR 38.901 Table 7.4.1-1 for the breakpoint distances, m/s.
SPEED_OF_LIGHT_TR38901_M_PER_S = 3.0e8

_ENVIRONMENTS = ("UMa", "UMi", "RMa", "InH")


class PathlossRangeError(ValueError):
    """An input outside the validity range of the model; the message is one line.

    It names the environment, the quantity, the allowed range and the first offending
    value, e.g. ``UMa: d2d_m must be within [10, 5000] m (TR 38.901 Table 7.4.1-1), got 5``.
    """


# --------------------------------------------------------------------------- #
# Validity ranges (TR 38.901 Table 7.4.1-1 and its notes)
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class _Validity:
    """Applicability range of one TR 38.901 path-loss model (all bounds inclusive)."""

    fc_ghz: tuple[float, float]
    distance: str  # which distance the range applies to: "d2d_m" (outdoor) or "d3d_m" (InH)
    d_min_m: float
    d_max_los_m: float
    d_max_nlos_m: float
    h_ut_m: tuple[float, float] | None
    h_bs_m: tuple[float, float] | None
    h_building_m: tuple[float, float] | None = None
    street_width_m: tuple[float, float] | None = None


_VALIDITY = MappingProxyType(
    {
        # hBS = 25 m is the model's stated BS height; it is not range-checked (as in ns-3, which only warns).
        "UMa": _Validity((0.5, 100.0), "d2d_m", 10.0, 5000.0, 5000.0, (1.5, 22.5), None),
        # hBS = 10 m likewise.
        "UMi": _Validity((0.5, 100.0), "d2d_m", 10.0, 5000.0, 5000.0, (1.5, 22.5), None),
        # RMa is specified for 0.5-30 GHz only; the table's notes give the height/width ranges.
        "RMa": _Validity(
            (0.5, 30.0), "d2d_m", 10.0, 10_000.0, 5000.0, (1.0, 10.0), (10.0, 150.0), (5.0, 50.0), (5.0, 50.0)
        ),
        # InH-Office: the range is on the 3D distance; the table states no height range.
        "InH": _Validity((0.5, 100.0), "d3d_m", 1.0, 150.0, 150.0, None, None),
    }
)

_SOURCE = "TR 38.901 Table 7.4.1-1"


def _environment(environment: str) -> str:
    """Canonical environment name (case-insensitive match of UMa, UMi, RMa, InH)."""
    for name in _ENVIRONMENTS:
        if isinstance(environment, str) and environment.lower() == name.lower():
            return name
    raise ValueError(f"environment: must be one of {', '.join(_ENVIRONMENTS)}, got {environment!r}")


def _check_range(
    where: str, name: str, values: np.ndarray, low: float, high: float, unit: str, source: str = _SOURCE
) -> None:
    """Raise :class:`PathlossRangeError` if any value is outside ``[low, high]`` (or not finite)."""
    values = np.asarray(values, dtype=np.float64)
    bad = ~((values >= low) & (values <= high))  # NaN counts as bad
    if np.any(bad):
        got = values[bad].flat[0]
        n_bad = int(np.count_nonzero(bad))
        count = f" ({n_bad} of {values.size} values)" if values.size > 1 else ""
        raise PathlossRangeError(
            f"{where}: {name} must be within [{low:g}, {high:g}] {unit} ({source}), got {got:g}{count}"
        )


def _check_positive(where: str, name: str, values: np.ndarray, unit: str) -> None:
    """Raise :class:`PathlossRangeError` unless every value is finite and > 0 (needed by the logarithms)."""
    values = np.asarray(values, dtype=np.float64)
    bad = ~(np.isfinite(values) & (values > 0))
    if np.any(bad):
        raise PathlossRangeError(f"{where}: {name} must be finite and > 0 {unit}, got {values[bad].flat[0]:g}")


# --------------------------------------------------------------------------- #
# TR 38.901 path loss
# --------------------------------------------------------------------------- #


def pathloss_db(
    environment: str,
    fc_ghz,
    d2d_m,
    h_bs_m,
    h_ut_m,
    los,
    *,
    h_building_m=5.0,
    street_width_m=20.0,
    extrapolate: bool = False,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""Basic path loss of 3GPP TR 38.901 Table 7.4.1-1 (no shadowing, no O2I loss), dB.

    Geometry: :math:`d_{3D} = \sqrt{d_{2D}^2 + (h_{BS} - h_{UT})^2}`; log is log10,
    :math:`f_c` in GHz in the formulas and in Hz in the breakpoints, and
    :math:`c = 3.0\cdot10^8` m/s as the notes to the table fix.

    **UMa** (:math:`h_{BS}` = 25 m, 1.5 m <= :math:`h_{UT}` <= 22.5 m, 10 m <= :math:`d_{2D}` <= 5 km)

    .. math::
        PL_1 &= 28.0 + 22\log d_{3D} + 20\log f_c, \quad d_{2D} \le d'_{BP} \\
        PL_2 &= 28.0 + 40\log d_{3D} + 20\log f_c - 9\log(d'^2_{BP} + (h_{BS}-h_{UT})^2),
                \quad d_{2D} > d'_{BP} \\
        PL'_{NLOS} &= 13.54 + 39.08\log d_{3D} + 20\log f_c - 0.6(h_{UT} - 1.5), \quad
        PL_{NLOS} = \max(PL_{LOS}, PL'_{NLOS})

    with :math:`d'_{BP} = 4 h'_{BS} h'_{UT} f_c/c`, :math:`h' = h - h_E`. The effective
    environment height is :math:`h_E` = 1 m with probability :math:`1/(1 + C(d_{2D}, h_{UT}))`
    and otherwise uniform on the discrete set {12, 15, ..., :math:`h_{UT}` - 1.5} m, where
    :math:`C = ((h_{UT}-13)/10)^{1.5} g(d_{2D})` for :math:`h_{UT}` >= 13 m (else 0) and
    :math:`g = 1.25 (d_{2D}/100)^3 \exp(-d_{2D}/150)` for :math:`d_{2D}` > 18 m (else 0).
    Hence :math:`h_E` = 1 m always when :math:`h_{UT}` < 13 m. When the discrete set is
    empty (13 m <= :math:`h_{UT}` < 13.5 m) :math:`h_E` = 1 m.
    **With** ``rng=None`` **the choice is deterministic:** :math:`h_E` = 1 m for every link,
    which is exact for :math:`h_{UT}` < 13 m and for :math:`d_{2D}` <= 18 m, and otherwise
    one realisation of the standard's random choice (the one drawn with probability
    :math:`1/(1+C)`), not an average over it. Pass ``rng`` for the standard's draw; one
    :math:`h_E` is drawn per link and used for both the LOS term and the NLOS maximum.

    **UMi-Street Canyon** (:math:`h_{BS}` = 10 m, 1.5 m <= :math:`h_{UT}` <= 22.5 m,
    10 m <= :math:`d_{2D}` <= 5 km, :math:`h_E` = 1 m)

    .. math::
        PL_1 &= 32.4 + 21\log d_{3D} + 20\log f_c \\
        PL_2 &= 32.4 + 40\log d_{3D} + 20\log f_c - 9.5\log(d'^2_{BP} + (h_{BS}-h_{UT})^2) \\
        PL'_{NLOS} &= 35.3\log d_{3D} + 22.4 + 21.3\log f_c - 0.3(h_{UT} - 1.5), \quad
        PL_{NLOS} = \max(PL_{LOS}, PL'_{NLOS})

    **RMa** (10 m <= :math:`h_{BS}` <= 150 m, 1 m <= :math:`h_{UT}` <= 10 m, building height
    5 m <= h <= 50 m, street width 5 m <= W <= 50 m; LOS 10 m <= :math:`d_{2D}` <= 10 km,
    NLOS up to 5 km; 0.5-30 GHz). The breakpoint uses the actual heights,
    :math:`d_{BP} = 2\pi h_{BS} h_{UT} f_c/c`:

    .. math::
        PL_1(d) &= 20\log(40\pi d f_c/3) + \min(0.03h^{1.72}, 10)\log d
                   - \min(0.044h^{1.72}, 14.77) + 0.002\log(h)\,d, \quad d = d_{3D} \\
        PL_2 &= PL_1(d_{BP}) + 40\log(d_{3D}/d_{BP}), \quad d_{2D} > d_{BP} \\
        PL'_{NLOS} &= 161.04 - 7.1\log W + 7.5\log h - (24.37 - 3.7(h/h_{BS})^2)\log h_{BS} \\
                   &\quad + (43.42 - 3.1\log h_{BS})(\log d_{3D} - 3) + 20\log f_c
                   - (3.2(\log(11.75 h_{UT}))^2 - 4.97), \quad
        PL_{NLOS} = \max(PL_{LOS}, PL'_{NLOS})

    **InH-Office** (1 m <= :math:`d_{3D}` <= 150 m; typical :math:`h_{BS}` = 3 m, :math:`h_{UT}` = 1 m)

    .. math::
        PL_{LOS} = 32.4 + 17.3\log d_{3D} + 20\log f_c, \quad
        PL_{NLOS} = \max(PL_{LOS},\ 38.3\log d_{3D} + 17.30 + 24.9\log f_c)

    Parameters
    ----------
    environment : {"UMa", "UMi", "RMa", "InH"}
        Urban macro, urban micro street canyon, rural macro, indoor hotspot office
        (case-insensitive).
    fc_ghz : array_like
        Carrier frequency, GHz. 0.5-100 GHz (RMa: 0.5-30 GHz).
    d2d_m : array_like
        Horizontal BS-UT distance, m.
    h_bs_m, h_ut_m : array_like
        BS and UT antenna heights above ground (floor for InH), m. The formulas were
        derived for :math:`h_{BS}` = 25 m (UMa) and 10 m (UMi); other BS heights are
        computed, not rejected.
    los : array_like of bool
        True for a line-of-sight link, False for NLOS.
    h_building_m, street_width_m : array_like, optional
        RMa average building height h and street width W, m (defaults 5 m and 20 m,
        the standard's). Ignored by the other environments.
    extrapolate : bool, optional
        If False (default), an input outside the model's validity range raises
        :class:`PathlossRangeError`. If True, distances below the minimum are clamped
        to it (10 m 2D; 1 m 3D for InH) and everything else is computed by the formula
        as it stands (e.g. a 7 km UMa link or a 40 GHz RMa link). Non-positive
        frequencies are rejected either way.
    rng : numpy.random.Generator, optional
        Draws the UMa effective environment height; see above. Unused elsewhere.

    Returns
    -------
    numpy.ndarray or numpy.float64
        Path loss in dB, with the broadcast shape of the inputs (a scalar for scalar inputs).

    Raises
    ------
    PathlossRangeError
        An input outside the validity range, named in the one-line message.
    ValueError
        An unknown environment.

    Notes
    -----
    The standard's 0.01 dB-level ambiguity: Sionna uses c = 299 792 458 m/s in the
    breakpoint, which moves UMa/UMi PL2 by about 0.005 dB; this function follows the
    spec note and ns-3 (3.0e8 m/s).

    References
    ----------
    .. [1] 3GPP TR 38.901 V17.0.0 (2022-03), clause 7.4.1, Table 7.4.1-1 and its notes
       (UMa effective height h_E, breakpoint distances with c = 3.0e8 m/s, RMa ranges).
    .. [2] ns-3 ``src/propagation/model/three-gpp-propagation-loss-model.cc`` (same
       formulas and ranges; RMa asserted for 0.5-30 GHz).
    """
    env = _environment(environment)
    fc, d2d, h_bs, h_ut, los_b, h_bld, width = np.broadcast_arrays(
        np.asarray(fc_ghz, dtype=np.float64),
        np.asarray(d2d_m, dtype=np.float64),
        np.asarray(h_bs_m, dtype=np.float64),
        np.asarray(h_ut_m, dtype=np.float64),
        np.asarray(los, dtype=bool),
        np.asarray(h_building_m, dtype=np.float64),
        np.asarray(street_width_m, dtype=np.float64),
    )
    validity = _VALIDITY[env]
    _check_positive(env, "fc_ghz", fc, "GHz")
    d_min = validity.d_min_m

    if env == "InH":
        d3d = np.hypot(d2d, h_bs - h_ut)
        if extrapolate:
            d3d = np.maximum(d3d, d_min)
        else:
            _validate(env, validity, fc, d3d, los_b, h_bs, h_ut, h_bld, width)
        return _inh_db(fc, d3d, los_b)[()]

    if extrapolate:
        d2d = np.maximum(d2d, d_min)
    else:
        _validate(env, validity, fc, d2d, los_b, h_bs, h_ut, h_bld, width)
    d3d = np.hypot(d2d, h_bs - h_ut)
    if env == "UMa":
        h_e = _uma_effective_height_m(d2d, h_ut, rng)
        out = _uma_db(fc, d2d, d3d, h_bs, h_ut, h_e, los_b)
    elif env == "UMi":
        out = _umi_db(fc, d2d, d3d, h_bs, h_ut, los_b)
    else:
        out = _rma_db(fc, d2d, d3d, h_bs, h_ut, h_bld, width, los_b)
    return out[()]


def _validate(env, validity, fc, distance, los, h_bs, h_ut, h_bld, width) -> None:
    """Apply the :class:`_Validity` ranges; ``distance`` is d2D (or d3D for InH)."""
    _check_range(env, "fc_ghz", fc, *validity.fc_ghz, "GHz")
    name = validity.distance
    _check_range(env, name + " (LOS)", distance[los], validity.d_min_m, validity.d_max_los_m, "m")
    _check_range(env, name + " (NLOS)", distance[~los], validity.d_min_m, validity.d_max_nlos_m, "m")
    if validity.h_ut_m is not None:
        _check_range(env, "h_ut_m", h_ut, *validity.h_ut_m, "m")
    if validity.h_bs_m is not None:
        _check_range(env, "h_bs_m", h_bs, *validity.h_bs_m, "m")
    if validity.h_building_m is not None:
        _check_range(env, "h_building_m", h_bld, *validity.h_building_m, "m", _SOURCE + " notes")
    if validity.street_width_m is not None:
        _check_range(env, "street_width_m", width, *validity.street_width_m, "m", _SOURCE + " notes")


def _uma_effective_height_m(d2d_m: np.ndarray, h_ut_m: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """UMa effective environment height h_E (TR 38.901 Table 7.4.1-1 note 1), m; 1 m when ``rng`` is None."""
    h_e = np.ones_like(d2d_m)
    if rng is None:
        return h_e
    # One uniform for the choice "1 m or not", one for the member of {12, 15, ..., hUT - 1.5};
    # both are drawn for every link so the stream does not depend on which links need them.
    u_choice = rng.random(d2d_m.shape)
    u_member = rng.random(d2d_m.shape)
    if not np.any(h_ut_m >= 13.0):  # C = 0: P(h_E = 1 m) = 1, and u_choice < 1 always picks it
        return h_e
    # g(d2D) and C(d2D, hUT); np.maximum keeps the fractional power away from negative bases.
    g = np.where(d2d_m > 18.0, 1.25 * (d2d_m / 100.0) ** 3 * np.exp(-d2d_m / 150.0), 0.0)
    c = np.where(h_ut_m >= 13.0, (np.maximum(h_ut_m - 13.0, 0.0) / 10.0) ** 1.5 * g, 0.0)
    top_m = h_ut_m - 1.5
    n_members = np.where(top_m >= 12.0, np.floor((top_m - 12.0) / 3.0 + 1e-9) + 1.0, 0.0)
    member_m = 12.0 + 3.0 * np.minimum(np.floor(u_member * n_members), np.maximum(n_members - 1.0, 0.0))
    not_one = (u_choice >= 1.0 / (1.0 + c)) & (n_members > 0)
    return np.where(not_one, member_m, h_e)


def _uma_db(fc, d2d, d3d, h_bs, h_ut, h_e, los) -> np.ndarray:
    d_bp = 4.0 * (h_bs - h_e) * (h_ut - h_e) * fc * 1e9 / SPEED_OF_LIGHT_TR38901_M_PER_S
    log_d, log_fc = np.log10(d3d), np.log10(fc)  # each logarithm once (same values as inline)
    pl1 = 28.0 + 22.0 * log_d + 20.0 * log_fc
    pl2 = 28.0 + 40.0 * log_d + 20.0 * log_fc - 9.0 * np.log10(d_bp**2 + (h_bs - h_ut) ** 2)
    pl_los = np.where(d2d <= d_bp, pl1, pl2)
    pl_nlos = 13.54 + 39.08 * log_d + 20.0 * log_fc - 0.6 * (h_ut - 1.5)
    return np.where(los, pl_los, np.maximum(pl_los, pl_nlos))


def _umi_db(fc, d2d, d3d, h_bs, h_ut, los) -> np.ndarray:
    h_e = 1.0
    d_bp = 4.0 * (h_bs - h_e) * (h_ut - h_e) * fc * 1e9 / SPEED_OF_LIGHT_TR38901_M_PER_S
    log_d, log_fc = np.log10(d3d), np.log10(fc)  # each logarithm once (same values as inline)
    pl1 = 32.4 + 21.0 * log_d + 20.0 * log_fc
    pl2 = 32.4 + 40.0 * log_d + 20.0 * log_fc - 9.5 * np.log10(d_bp**2 + (h_bs - h_ut) ** 2)
    pl_los = np.where(d2d <= d_bp, pl1, pl2)
    pl_nlos = 35.3 * log_d + 22.4 + 21.3 * log_fc - 0.3 * (h_ut - 1.5)
    return np.where(los, pl_los, np.maximum(pl_los, pl_nlos))


def _rma_pl1_db(fc, d_m, h_bld):
    return (
        20.0 * np.log10(40.0 * np.pi * d_m * fc / 3.0)
        + np.minimum(0.03 * h_bld**1.72, 10.0) * np.log10(d_m)
        - np.minimum(0.044 * h_bld**1.72, 14.77)
        + 0.002 * np.log10(h_bld) * d_m
    )


def _rma_breakpoint_m(fc, h_bs, h_ut):
    return 2.0 * np.pi * h_bs * h_ut * fc * 1e9 / SPEED_OF_LIGHT_TR38901_M_PER_S


def _rma_db(fc, d2d, d3d, h_bs, h_ut, h_bld, width, los) -> np.ndarray:
    d_bp = _rma_breakpoint_m(fc, h_bs, h_ut)
    pl1 = _rma_pl1_db(fc, d3d, h_bld)
    pl2 = _rma_pl1_db(fc, d_bp, h_bld) + 40.0 * np.log10(d3d / d_bp)
    pl_los = np.where(d2d <= d_bp, pl1, pl2)
    pl_nlos = (
        161.04
        - 7.1 * np.log10(width)
        + 7.5 * np.log10(h_bld)
        - (24.37 - 3.7 * (h_bld / h_bs) ** 2) * np.log10(h_bs)
        + (43.42 - 3.1 * np.log10(h_bs)) * (np.log10(d3d) - 3.0)
        + 20.0 * np.log10(fc)
        - (3.2 * np.log10(11.75 * h_ut) ** 2 - 4.97)
    )
    return np.where(los, pl_los, np.maximum(pl_los, pl_nlos))


def _inh_db(fc, d3d, los) -> np.ndarray:
    pl_los = 32.4 + 17.3 * np.log10(d3d) + 20.0 * np.log10(fc)
    pl_nlos = 38.3 * np.log10(d3d) + 17.30 + 24.9 * np.log10(fc)
    return np.where(los, pl_los, np.maximum(pl_los, pl_nlos))


# --------------------------------------------------------------------------- #
# LOS probability
# --------------------------------------------------------------------------- #


def los_probability(environment: str, d2d_m, h_ut_m=1.5, *, inh: str = "mixed") -> np.ndarray:
    r"""Probability that a link is line of sight, TR 38.901 Table 7.4.2-1.

    With :math:`d` the outdoor 2D distance :math:`d_{2D-out}` in m (the indoor 2D
    distance for InH):

    * RMa: 1 for d <= 10, else :math:`\exp(-(d-10)/1000)`.
    * UMi-Street Canyon: 1 for d <= 18, else :math:`18/d + \exp(-d/36)(1 - 18/d)`.
    * UMa: 1 for d <= 18, else
      :math:`[18/d + \exp(-d/63)(1 - 18/d)]\,[1 + C'(h_{UT})\tfrac54(d/100)^3\exp(-d/150)]`
      with :math:`C'(h_{UT}) = 0` for :math:`h_{UT}` <= 13 m and
      :math:`((h_{UT}-13)/10)^{1.5}` for 13 m < :math:`h_{UT}` <= 23 m.
    * InH-Mixed office: 1 for d <= 1.2; :math:`\exp(-(d-1.2)/4.7)` for 1.2 < d < 6.5;
      :math:`0.32\exp(-(d-6.5)/32.6)` for d >= 6.5.
    * InH-Open office: 1 for d <= 5; :math:`\exp(-(d-5)/70.8)` for 5 < d <= 49;
      :math:`0.54\exp(-(d-49)/211.7)` for d > 49.

    For :math:`h_{UT}` > 13 m the UMa expression is discontinuous at 18 m: the first
    factor tends to 1 there but the height factor does not, so just beyond 18 m the
    product exceeds 1 (by up to 0.65 % for :math:`h_{UT}` = 23 m, up to about 18.5 m);
    the result is clipped to 1. For :math:`h_{UT}` > 13 m the UMa probability is not
    monotone in distance (it is for lower UTs). The InH-Mixed curve is discontinuous at
    6.5 m (from 0.32 to 0.33), as in the standard.

    Parameters
    ----------
    environment : {"UMa", "UMi", "RMa", "InH"}
    d2d_m : array_like
        2D (outdoor) distance, m, >= 0.
    h_ut_m : array_like, optional
        UT height, m; used by UMa only (default 1.5 m).
    inh : {"mixed", "open"}, optional
        InH-Office variant (default mixed office).

    Returns
    -------
    numpy.ndarray or numpy.float64
        LOS probability in [0, 1], broadcast shape of ``d2d_m`` and ``h_ut_m``.

    References
    ----------
    .. [1] 3GPP TR 38.901 V17.0.0, clause 7.4.2, Table 7.4.2-1.
    """
    env = _environment(environment)
    d, h_ut = np.broadcast_arrays(np.asarray(d2d_m, dtype=np.float64), np.asarray(h_ut_m, dtype=np.float64))
    if np.any(~(d >= 0)):
        raise ValueError(f"{env}: d2d_m must be >= 0 m, got {d[~(d >= 0)].flat[0]:g}")
    # Guard the divisions below; the near branches never use these values.
    d_far = np.maximum(d, 1e-9)
    if env == "RMa":
        p = np.where(d <= 10.0, 1.0, np.exp(-(d - 10.0) / 1000.0))
    elif env == "UMi":
        p = np.where(d <= 18.0, 1.0, 18.0 / d_far + np.exp(-d / 36.0) * (1.0 - 18.0 / d_far))
    elif env == "UMa":
        c_prime = np.where(h_ut <= 13.0, 0.0, (np.maximum(h_ut - 13.0, 0.0) / 10.0) ** 1.5)
        base = 18.0 / d_far + np.exp(-d / 63.0) * (1.0 - 18.0 / d_far)
        if np.any(c_prime != 0.0):  # the height factor is exactly 1 for devices at or below 13 m
            base = base * (1.0 + c_prime * 1.25 * (d / 100.0) ** 3 * np.exp(-d / 150.0))
        p = np.where(d <= 18.0, 1.0, np.minimum(base, 1.0))
    else:
        if inh == "mixed":
            p = np.where(
                d <= 1.2,
                1.0,
                np.where(d < 6.5, np.exp(-(d - 1.2) / 4.7), 0.32 * np.exp(-(d - 6.5) / 32.6)),
            )
        elif inh == "open":
            p = np.where(
                d <= 5.0,
                1.0,
                np.where(d <= 49.0, np.exp(-(d - 5.0) / 70.8), 0.54 * np.exp(-(d - 49.0) / 211.7)),
            )
        else:
            raise ValueError(f"InH: inh must be 'mixed' or 'open', got {inh!r}")
    return np.asarray(p, dtype=np.float64)[()]


# --------------------------------------------------------------------------- #
# Shadow fading
# --------------------------------------------------------------------------- #

# sigma_SF (dB), TR 38.901 Table 7.4.1-1: (LOS, NLOS); RMa LOS is 4 dB before the breakpoint, 6 dB after.
_SIGMA_SF_DB = MappingProxyType({"UMa": (4.0, 6.0), "UMi": (4.0, 7.82), "RMa": (4.0, 8.0), "InH": (3.0, 8.03)})
_SIGMA_SF_RMA_LOS_BEYOND_BP_DB = 6.0

# Shadow-fading correlation distance (m), TR 38.901 Table 7.5-6: (LOS, NLOS).
_SF_DECORRELATION_M = MappingProxyType(
    {"UMa": (37.0, 50.0), "UMi": (10.0, 13.0), "RMa": (37.0, 120.0), "InH": (10.0, 6.0)}
)


def shadow_fading_std_db(environment: str, los, d2d_m=None, fc_ghz=None, h_bs_m=None, h_ut_m=None) -> np.ndarray:
    r"""Standard deviation :math:`\sigma_{SF}` of log-normal shadow fading, TR 38.901 Table 7.4.1-1, dB.

    ========  =====  ========
    scenario  LOS    NLOS
    ========  =====  ========
    UMa       4      6
    UMi       4      7.82
    RMa       4 / 6  8
    InH       3      8.03
    ========  =====  ========

    RMa LOS uses 4 dB for :math:`d_{2D} \le d_{BP}` (PL1) and 6 dB beyond (PL2), with
    :math:`d_{BP} = 2\pi h_{BS} h_{UT} f_c/c`, c = 3.0e8 m/s; only that case needs
    ``d2d_m``, ``fc_ghz``, ``h_bs_m`` and ``h_ut_m``. The NLOS values are those of the
    NLOS model (the optional single-slope NLOS models have larger values: 7.8 UMa,
    8.2 UMi, 8.29 InH).

    Parameters
    ----------
    environment : {"UMa", "UMi", "RMa", "InH"}
    los : array_like of bool
        True for LOS links.
    d2d_m, fc_ghz, h_bs_m, h_ut_m : array_like, optional
        2D distance (m), carrier (GHz), BS and UT heights (m); required for RMa LOS links only.

    Returns
    -------
    numpy.ndarray or numpy.float64
        :math:`\sigma_{SF}` in dB, broadcast shape of the inputs.

    Notes
    -----
    ns-3 (``ThreeGppUmaPropagationLossModel::GetShadowingStd`` and the UMi version)
    returns 7 dB for every UMa/UMi link below 6 GHz, LOS or not. This function returns
    the Table 7.4.1-1 values at every frequency.

    References
    ----------
    .. [1] 3GPP TR 38.901 V17.0.0, clause 7.4.1, Table 7.4.1-1 (column sigma_SF).
    """
    env = _environment(environment)
    los_b = np.asarray(los, dtype=bool)
    sigma_los_db, sigma_nlos_db = _SIGMA_SF_DB[env]
    if env == "RMa" and np.any(los_b):
        if d2d_m is None or fc_ghz is None or h_bs_m is None or h_ut_m is None:
            raise ValueError("RMa: LOS sigma_SF depends on the breakpoint: give d2d_m, fc_ghz, h_bs_m and h_ut_m")
        los_b, d2d, fc, h_bs, h_ut = np.broadcast_arrays(
            los_b,
            np.asarray(d2d_m, dtype=np.float64),
            np.asarray(fc_ghz, dtype=np.float64),
            np.asarray(h_bs_m, dtype=np.float64),
            np.asarray(h_ut_m, dtype=np.float64),
        )
        sigma_los = np.where(d2d <= _rma_breakpoint_m(fc, h_bs, h_ut), sigma_los_db, _SIGMA_SF_RMA_LOS_BEYOND_BP_DB)
    else:
        sigma_los = sigma_los_db
    return np.asarray(np.where(los_b, sigma_los, sigma_nlos_db), dtype=np.float64)[()]


def decorrelation_distance_m(environment: str, los) -> np.ndarray:
    """Shadow-fading correlation distance of TR 38.901 Table 7.5-6, m.

    ========  ====  ====
    scenario  LOS   NLOS
    ========  ====  ====
    UMa       37    50
    UMi       10    13
    RMa       37    120
    InH       10    6
    ========  ====  ====

    Parameters
    ----------
    environment : {"UMa", "UMi", "RMa", "InH"}
    los : array_like of bool

    Returns
    -------
    numpy.ndarray or numpy.float64
        Distance d_corr in m at which the exponential SF correlation falls to 1/e.

    References
    ----------
    .. [1] 3GPP TR 38.901 V17.0.0, clause 7.5, Table 7.5-6 (Part-1: UMi, UMa, InH-Office;
       Part-2: RMa), row "Correlation distance in the horizontal plane, SF".
    """
    env = _environment(environment)
    los_m, nlos_m = _SF_DECORRELATION_M[env]
    return np.asarray(np.where(np.asarray(los, dtype=bool), los_m, nlos_m), dtype=np.float64)[()]


def shadow_fading_db(
    std_db,
    rng: np.random.Generator,
    *,
    positions_m=None,
    decorrelation_m: float | None = None,
    n_draws: int | None = None,
) -> np.ndarray:
    r"""Log-normal shadow fading (Gaussian in dB) with zero mean and standard deviation ``std_db``.

    Without ``positions_m`` the draws are independent: :math:`X = \sigma Z`, Z ~ N(0, 1),
    one per element of ``std_db``.

    With ``positions_m`` (n points) the draws are jointly Gaussian with the exponential
    correlation of Gudmundson [2]_ used by TR 38.901 clause 7.5 step 4 and 7.6.3:

    .. math::
        \rho_{ij} = \exp(-\lVert p_i - p_j\rVert / d_{corr}), \qquad
        X = \sigma \odot (L Z), \quad L L^T = R

    generated exactly by a Cholesky factorisation of the n x n correlation matrix R
    (an eigen-decomposition is used if R is singular, e.g. for coincident points).
    Cost: O(n^2) memory (a few n x n float64 arrays of 8 n^2 bytes: 32 MB each for
    2 000 points, 200 MB for 5 000) and O(n^3/3) operations for the factorisation
    (measured on 2 cores: about 0.6 s for 2 000 points, 5 s for 5 000); for larger
    layouts use a grid-based generator instead. The exponential kernel is positive
    definite in any dimension, so R is a valid correlation matrix for distinct points.

    Parameters
    ----------
    std_db : array_like
        Shadow-fading standard deviation(s) in dB (e.g. :func:`shadow_fading_std_db`);
        with positions it broadcasts to ``[n]``.
    rng : numpy.random.Generator
        Source of the Gaussian draws.
    positions_m : array_like, optional
        ``[n]`` or ``[n, k]`` coordinates in m. TR 38.901 correlates shadowing over the
        horizontal plane, so pass (x, y) of the UTs.
    decorrelation_m : float, optional
        Correlation distance :math:`d_{corr}` in m (see :func:`decorrelation_distance_m`);
        required with ``positions_m``.
    n_draws : int, optional
        Number of independent realisations; the result then has a leading axis of that
        length. Default: one realisation without the extra axis.

    Returns
    -------
    numpy.ndarray
        Shadow fading in dB: shape of ``std_db`` (i.i.d.) or ``[n]`` (correlated), with a
        leading ``n_draws`` axis when given.

    References
    ----------
    .. [1] 3GPP TR 38.901 V17.0.0, clause 7.4.1 (log-normal SF) and Table 7.5-6
       (correlation distances).
    .. [2] M. Gudmundson, "Correlation model for shadow fading in mobile radio systems",
       Electronics Letters 27(23), 1991, pp. 2145-2146.
    """
    std = np.asarray(std_db, dtype=np.float64)
    if np.any(~(std >= 0)):
        raise ValueError(f"std_db: must be >= 0 dB, got {std[~(std >= 0)].flat[0]:g}")
    lead = () if n_draws is None else (int(n_draws),)
    if positions_m is None:
        return std * rng.standard_normal(lead + std.shape)

    if decorrelation_m is None or not (float(decorrelation_m) > 0):
        raise ValueError(f"decorrelation_m: must be > 0 m with positions_m, got {decorrelation_m!r}")
    pos = np.asarray(positions_m, dtype=np.float64)
    if pos.ndim == 1:
        pos = pos[:, None]
    if pos.ndim != 2:
        raise ValueError(f"positions_m: must have shape [n] or [n, k], got {pos.shape}")
    n_points = pos.shape[0]
    std = np.broadcast_to(std, (n_points,))
    # [n, n] float64: squared pairwise distance (m^2), accumulated per coordinate to bound memory,
    # then the correlation matrix in place
    corr = np.zeros((n_points, n_points))
    for coord in pos.T:
        corr += (coord[:, None] - coord[None, :]) ** 2
    np.sqrt(corr, out=corr)
    corr *= -1.0 / float(decorrelation_m)
    np.exp(corr, out=corr)
    try:
        factor = np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        eigval, eigvec = np.linalg.eigh(corr)
        factor = eigvec * np.sqrt(np.clip(eigval, 0.0, None))
    z = rng.standard_normal(lead + (n_points,))
    return std * (z @ factor.T)


# --------------------------------------------------------------------------- #
# Free space and sub-THz absorption
# --------------------------------------------------------------------------- #


def free_space_db(fc_ghz, d_m) -> np.ndarray:
    r"""Free-space path loss (Friis), dB.

    .. math::
        FSPL = 20\log_{10}\left(\frac{4\pi d f}{c}\right)
             \approx 32.45 + 20\log_{10} f_{GHz} + 20\log_{10} d_m

    with c = 299 792 458 m/s (exact). Example: 140 GHz at 100 m is 115.370 dB.

    Parameters
    ----------
    fc_ghz : array_like
        Frequency, GHz, > 0.
    d_m : array_like
        Distance, m, > 0 (far field assumed).

    Returns
    -------
    numpy.ndarray or numpy.float64
        Loss between isotropic antennas in dB.

    References
    ----------
    .. [1] H. T. Friis, "A note on a simple transmission formula", Proc. IRE 34(5), 1946.
    .. [2] Recommendation ITU-R P.525-4 (08/2019), "Calculation of free-space attenuation".
    """
    fc, d = np.broadcast_arrays(np.asarray(fc_ghz, dtype=np.float64), np.asarray(d_m, dtype=np.float64))
    _check_positive("free space", "fc_ghz", fc, "GHz")
    _check_positive("free space", "d_m", d, "m")
    return (20.0 * np.log10(4.0 * np.pi * d * fc * 1e9 / SPEED_OF_LIGHT_M_PER_S))[()]


# Specific attenuation of the ITU-R P.676-12 reference standard atmosphere at sea level
# (T = 15 degC = 288.15 K, total pressure 1013.25 hPa, water-vapour density 7.5 g/m^3,
# dry-air pressure 1013.25 hPa - e with e = rho*T/216.7), dB/km: oxygen + water vapour,
# Annex 1 line-by-line. Computed with the `itur` 0.4.0 package (PyPI;
# itu676.gamma0_exact + gammaw_exact, Recommendation version 12) and kept to 5 significant
# figures. The grid is bisected until log-linear interpolation stays within 0.5 %
# (or 0.002 dB/km) of the line-by-line value at every 0.01 GHz from 100 to 300 GHz,
# which puts nodes on the 118.75 GHz O2 line and the 183.31 GHz H2O line.
# The rows at 100, 140, 150, 220, 240 and 300 GHz are 0.454, 0.915, 1.114, 2.466, 2.820, 5.203 dB/km.
_P676_STD_ATM = (
    # (f GHz, gamma dB/km)
    (100.0, 0.45398), (105.0, 0.5059), (107.5, 0.5388), (110.0, 0.58225), (111.25, 0.61203),
    (112.5, 0.65255), (113.75, 0.7137), (114.375, 0.75839), (115.0, 0.81915), (115.625, 0.90508),
    (116.25, 1.031), (116.875, 1.2185), (117.5, 1.4853), (117.812, 1.6405), (118.125, 1.789),
    (118.438, 1.9005), (118.594, 1.9321), (118.75, 1.9436), (118.906, 1.934), (119.062, 1.9044),
    (119.375, 1.7973), (119.688, 1.654), (120.0, 1.5048), (120.625, 1.2516), (120.938, 1.1558),
    (121.25, 1.0785), (121.875, 0.96706), (122.5, 0.89559), (123.125, 0.84922), (123.75, 0.81886),
    (125.0, 0.78625), (126.25, 0.7742), (127.5, 0.77287), (130.0, 0.78646), (135.0, 0.84172),
    (140.0, 0.91545), (145.0, 1.0047), (150.0, 1.1142), (155.0, 1.2561), (160.0, 1.4582),
    (162.5, 1.6003), (165.0, 1.7903), (167.5, 2.0594), (168.75, 2.2406), (170.0, 2.4681),
    (171.25, 2.7604), (172.5, 3.1458), (173.75, 3.6691), (175.0, 4.4036), (176.25, 5.4736),
    (176.875, 6.1969), (177.5, 7.096), (178.125, 8.2239), (178.75, 9.6486), (180.0, 13.725),
    (181.25, 19.812), (181.875, 23.307), (182.188, 24.947), (182.5, 26.372), (182.812, 27.461),
    (183.125, 28.111), (183.31, 28.26), (183.75, 27.884), (184.062, 27.044), (184.375, 25.826),
    (184.688, 24.345), (185.0, 22.716), (185.625, 19.384), (186.25, 16.341), (187.5, 11.698),
    (188.125, 10.04), (188.75, 8.7221), (189.375, 7.6709), (190.0, 6.8269), (190.625, 6.1437),
    (191.25, 5.5857), (192.5, 4.7442), (193.75, 4.1548), (195.0, 3.7303), (196.25, 3.4173),
    (197.5, 3.1821), (198.75, 3.0027), (200.0, 2.8643), (202.5, 2.6728), (205.0, 2.5561),
    (207.5, 2.4868), (210.0, 2.449), (215.0, 2.4331), (220.0, 2.4662), (230.0, 2.6118),
    (240.0, 2.8198), (250.0, 3.0712), (260.0, 3.3615), (270.0, 3.6943), (280.0, 4.0816),
    (290.0, 4.5537), (300.0, 5.2031),
)  # fmt: skip
_P676_F_GHZ = np.array([row[0] for row in _P676_STD_ATM])
_P676_LOG_GAMMA = np.log(np.array([row[1] for row in _P676_STD_ATM]))
_P676_F_GHZ.setflags(write=False)
_P676_LOG_GAMMA.setflags(write=False)
_SUBTHZ_RANGE_GHZ = (100.0, 300.0)


def atmospheric_absorption_db_per_km(fc_ghz, *, extrapolate: bool = False) -> np.ndarray:
    r"""Gaseous specific attenuation of the standard atmosphere at sea level, 100-300 GHz, dB/km.

    Interpolated, linearly in :math:`\ln\gamma` against f, from a 97-node table of the
    ITU-R P.676-12 Annex 1 line-by-line attenuation (oxygen + water vapour) for the
    reference standard atmosphere: 15 degC, 1013.25 hPa, 7.5 g/m^3 water vapour.

    Log-linear interpolation is used because :math:`\gamma` spans two orders of
    magnitude (0.45 dB/km at 100 GHz, 28.3 dB/km on the 183.31 GHz water line) and
    its line wings are close to exponential in f: interpolating the logarithm keeps
    the result positive and follows the convex wings, where linear interpolation
    overshoots. The table is dense enough that the interpolation error is below 0.5 %
    everywhere in 100-300 GHz, so the choice matters far less than the density: the
    six points 100, 140, 150, 220, 240 and 300 GHz alone
    would miss the 183 GHz line by about 26 dB/km.

    Reference values: 0.454 (100 GHz), 0.915 (140), 1.114 (150), 2.466 (220),
    2.820 (240), 5.203 (300); peaks 1.94 at 118.75 GHz (O2) and 28.26 at 183.31 GHz (H2O).

    Parameters
    ----------
    fc_ghz : array_like
        Frequency, GHz, within 100-300 GHz.
    extrapolate : bool, optional
        If True, frequencies outside 100-300 GHz continue the first/last table segment
        log-linearly (a rough trend that knows nothing of the 60 GHz O2 complex or the
        325 GHz H2O line); otherwise they raise :class:`PathlossRangeError`.

    Returns
    -------
    numpy.ndarray or numpy.float64
        Specific attenuation :math:`\gamma` in dB/km.

    References
    ----------
    .. [1] Recommendation ITU-R P.676-12 (08/2019), Annex 1 (line-by-line method with the
       spectroscopic data of its Tables 1 and 2), for the sea-level reference standard
       atmosphere (Recommendation ITU-R P.835).
    .. [2] ``itur`` 0.4.0 (I. del Portillo), ``itur.models.itu676.gamma0_exact`` and
       ``gammaw_exact``, used offline to tabulate the values.
    """
    fc = np.asarray(fc_ghz, dtype=np.float64)
    where = "sub-THz absorption"
    if extrapolate:
        _check_positive(where, "fc_ghz", fc, "GHz")
    else:
        _check_range(where, "fc_ghz", fc, *_SUBTHZ_RANGE_GHZ, "GHz", "ITU-R P.676-12 table in airan")
    log_gamma = np.interp(fc, _P676_F_GHZ, _P676_LOG_GAMMA)
    if extrapolate:
        low, high = fc < _P676_F_GHZ[0], fc > _P676_F_GHZ[-1]
        slope_low = (_P676_LOG_GAMMA[1] - _P676_LOG_GAMMA[0]) / (_P676_F_GHZ[1] - _P676_F_GHZ[0])
        slope_high = (_P676_LOG_GAMMA[-1] - _P676_LOG_GAMMA[-2]) / (_P676_F_GHZ[-1] - _P676_F_GHZ[-2])
        log_gamma = np.where(low, _P676_LOG_GAMMA[0] + slope_low * (fc - _P676_F_GHZ[0]), log_gamma)
        log_gamma = np.where(high, _P676_LOG_GAMMA[-1] + slope_high * (fc - _P676_F_GHZ[-1]), log_gamma)
    return np.exp(log_gamma)[()]


def subthz_pathloss_db(fc_ghz, d_m, *, extrapolate: bool = False) -> np.ndarray:
    r"""Line-of-sight sub-THz path loss: free space plus gaseous absorption, dB.

    .. math::
        PL = FSPL(f, d) + \gamma(f)\, d / 1000

    with FSPL from :func:`free_space_db` (c = 299 792 458 m/s) and :math:`\gamma` in
    dB/km from :func:`atmospheric_absorption_db_per_km` (ITU-R P.676-12 standard
    atmosphere, 7.5 g/m^3 water vapour). Valid for 100-300 GHz; no rain, fog, foliage
    or blockage. Examples: 140 GHz, 100 m: 115.370 + 0.092 dB; 300 GHz, 1 km:
    141.990 + 5.203 dB.

    Parameters
    ----------
    fc_ghz : array_like
        Carrier frequency, GHz, 100-300.
    d_m : array_like
        Link distance, m, > 0.
    extrapolate : bool, optional
        Accept frequencies outside 100-300 GHz (see :func:`atmospheric_absorption_db_per_km`).

    Returns
    -------
    numpy.ndarray or numpy.float64
        Path loss in dB between isotropic antennas.

    References
    ----------
    .. [1] Recommendation ITU-R P.525-4 (free space) and ITU-R P.676-12 Annex 1 (gases).
    .. [2] J. Kokkoniemi, J. Lehtomaeki, M. Juntti, "A line-of-sight channel model for the
       100-450 gigahertz frequency band", EURASIP J. Wireless Commun. Netw. 2021:88.
    """
    fc, d = np.broadcast_arrays(np.asarray(fc_ghz, dtype=np.float64), np.asarray(d_m, dtype=np.float64))
    gamma_db_per_km = atmospheric_absorption_db_per_km(fc, extrapolate=extrapolate)
    return (free_space_db(fc, d) + gamma_db_per_km * d / 1000.0)[()]


# --------------------------------------------------------------------------- #
# Analytical models
# --------------------------------------------------------------------------- #


def power_law_db(d_m, alpha, *, fc_ghz=None, reference_db=None, reference_m: float = 1.0) -> np.ndarray:
    r"""Log-distance power-law path loss with a reference distance, dB.

    .. math::
        PL(d) = PL(d_0) + 10\,\alpha \log_{10}(d/d_0)

    :math:`PL(d_0)` is either given (``reference_db``) or the free-space loss at
    :math:`d_0` for carrier ``fc_ghz`` -- the close-in (CI) free-space reference model,
    for which :math:`\alpha` = 2 reproduces free space exactly.

    Parameters
    ----------
    d_m : array_like
        Distance, m, > 0 (the model is meant for :math:`d \ge d_0`).
    alpha : array_like
        Path-loss exponent (2 in free space, about 2-4 outdoors).
    fc_ghz : array_like, optional
        Carrier, GHz, for the free-space reference; give this or ``reference_db``.
    reference_db : array_like, optional
        Explicit :math:`PL(d_0)`, dB.
    reference_m : float, optional
        Reference distance :math:`d_0`, m (default 1 m).

    Returns
    -------
    numpy.ndarray or numpy.float64
        Path loss in dB.

    References
    ----------
    .. [1] T. S. Rappaport, Wireless Communications: Principles and Practice, 2nd ed.,
       Prentice Hall, 2002, section 4.9.1 (log-distance path loss model).
    .. [2] S. Sun et al., "Investigation of prediction accuracy, sensitivity, and parameter
       stability of large-scale propagation path loss models for 5G wireless
       communications", IEEE Trans. Veh. Technol. 65(5), 2016 (close-in model, d0 = 1 m).
    """
    if (fc_ghz is None) == (reference_db is None):
        raise ValueError("power_law_db: give exactly one of fc_ghz (free-space reference) and reference_db")
    if not (reference_m > 0):
        raise ValueError(f"reference_m: must be > 0 m, got {reference_m!r}")
    d = np.asarray(d_m, dtype=np.float64)
    _check_positive("power law", "d_m", d, "m")
    ref_db = free_space_db(fc_ghz, reference_m) if reference_db is None else np.asarray(reference_db, dtype=np.float64)
    return np.asarray(ref_db + 10.0 * np.asarray(alpha, dtype=np.float64) * np.log10(d / reference_m))[()]


# --------------------------------------------------------------------------- #
# Fast fading
# --------------------------------------------------------------------------- #


def fast_fading_gain(rng: np.random.Generator, shape, kind: str, *, k_factor_db=None) -> np.ndarray:
    r"""Small-scale fading power gains :math:`|h|^2` with unit mean (linear, not dB).

    * ``"none"``: all ones.
    * ``"rayleigh"``: :math:`h \sim CN(0, 1)`, so :math:`|h|^2 \sim \mathrm{Exp}(1)`:
      mean 1, variance 1.
    * ``"rician"``: :math:`h = \sqrt{K/(K+1)} + \sqrt{1/(K+1)}\, CN(0, 1)` with
      :math:`K = 10^{K_{dB}/10}` the power ratio of the specular to the scattered part.
      Then :math:`2(K+1)|h|^2` is non-central chi-square with 2 degrees of freedom and
      non-centrality :math:`2K`, so
      :math:`E|h|^2 = 1` and :math:`\mathrm{Var}|h|^2 = (2K+1)/(K+1)^2`
      (1 for K = 0, the Rayleigh case; :math:`\to 0` as K grows, no fading).

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : int or tuple of int
        Shape of the result.
    kind : {"none", "rayleigh", "rician"}
    k_factor_db : array_like, optional
        Rician K factor in dB (required for ``"rician"``; broadcast to ``shape``;
        ``-inf`` gives Rayleigh). TR 38.901 Table 7.5-6 gives K = 9 dB (UMa LOS),
        9 dB (UMi LOS), 7 dB (InH LOS), 7 dB (RMa LOS) as means.

    Returns
    -------
    numpy.ndarray
        float64 power gains of the requested shape.

    References
    ----------
    .. [1] A. Goldsmith, Wireless Communications, Cambridge University Press, 2005,
       section 3.2.1 (Rayleigh and Ricean fading distributions).
    .. [2] J. G. Proakis, M. Salehi, Digital Communications, 5th ed., McGraw-Hill, 2008,
       chapter 2 (non-central chi-square and Rice distributions).
    """
    if kind == "none":
        return np.ones(shape, dtype=np.float64)
    if kind == "rayleigh":
        return rng.exponential(1.0, size=shape)
    if kind == "rician":
        if k_factor_db is None:
            raise ValueError("fast_fading_gain: kind 'rician' needs k_factor_db")
        k_lin = np.broadcast_to(10.0 ** (np.asarray(k_factor_db, dtype=np.float64) / 10.0), shape)
        x = rng.standard_normal(shape)
        y = rng.standard_normal(shape)
        return ((np.sqrt(2.0 * k_lin) + x) ** 2 + y**2) / (2.0 * (k_lin + 1.0))
    raise ValueError(f"fast_fading_gain: kind must be 'none', 'rayleigh' or 'rician', got {kind!r}")

