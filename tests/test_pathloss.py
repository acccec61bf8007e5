"""Path loss, LOS probability, shadowing and fading against TR 38.901 / ITU-R closed forms.

The expected path losses come from ``_ref_*`` below: a slow scalar re-implementation
written from the formulas of 3GPP TR 38.901 V17 Table 7.4.1-1 with ``math`` only, not
from ``airan.radio.pathloss``. Sample values computed from those formulas (and matching
ns-3's TR 38.901 test vectors) are checked against both (0.01 dB). Monte-Carlo checks state their tolerance from the
estimator's standard error; every generator is seeded, so the runs are reproducible.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from airan.radio.pathloss import (
    PathlossRangeError,
    atmospheric_absorption_db_per_km,
    decorrelation_distance_m,
    fast_fading_gain,
    free_space_db,
    los_probability,
    pathloss_db,
    power_law_db,
    shadow_fading_db,
    shadow_fading_std_db,
    subthz_pathloss_db,
)

C_SPEC = 3.0e8  # m/s, TR 38.901 Table 7.4.1-1 notes
log10 = math.log10


# --------------------------------------------------------------------------- #
# Scalar reference implementation (TR 38.901 Table 7.4.1-1), written independently
# --------------------------------------------------------------------------- #


def _d3d(d2d, h_bs, h_ut):
    return math.sqrt(d2d * d2d + (h_bs - h_ut) * (h_bs - h_ut))


def _bp_uma_umi(fc, h_bs, h_ut, h_e):
    return 4.0 * (h_bs - h_e) * (h_ut - h_e) * (fc * 1e9) / C_SPEC


def _bp_rma(fc, h_bs, h_ut):
    return 2.0 * math.pi * h_bs * h_ut * (fc * 1e9) / C_SPEC


def _ref_uma(fc, d2d, h_bs, h_ut, los, h_e=1.0):
    d3d = _d3d(d2d, h_bs, h_ut)
    d_bp = _bp_uma_umi(fc, h_bs, h_ut, h_e)
    if d2d <= d_bp:
        pl_los = 28.0 + 22.0 * log10(d3d) + 20.0 * log10(fc)
    else:
        pl_los = 28.0 + 40.0 * log10(d3d) + 20.0 * log10(fc) - 9.0 * log10(d_bp**2 + (h_bs - h_ut) ** 2)
    if los:
        return pl_los
    return max(pl_los, 13.54 + 39.08 * log10(d3d) + 20.0 * log10(fc) - 0.6 * (h_ut - 1.5))


def _ref_umi(fc, d2d, h_bs, h_ut, los):
    d3d = _d3d(d2d, h_bs, h_ut)
    d_bp = _bp_uma_umi(fc, h_bs, h_ut, 1.0)
    if d2d <= d_bp:
        pl_los = 32.4 + 21.0 * log10(d3d) + 20.0 * log10(fc)
    else:
        pl_los = 32.4 + 40.0 * log10(d3d) + 20.0 * log10(fc) - 9.5 * log10(d_bp**2 + (h_bs - h_ut) ** 2)
    if los:
        return pl_los
    return max(pl_los, 35.3 * log10(d3d) + 22.4 + 21.3 * log10(fc) - 0.3 * (h_ut - 1.5))


def _ref_rma_pl1(fc, d, h):
    return (
        20.0 * log10(40.0 * math.pi * d * fc / 3.0)
        + min(0.03 * h**1.72, 10.0) * log10(d)
        - min(0.044 * h**1.72, 14.77)
        + 0.002 * log10(h) * d
    )


def _ref_rma(fc, d2d, h_bs, h_ut, los, h=5.0, w=20.0):
    d3d = _d3d(d2d, h_bs, h_ut)
    d_bp = _bp_rma(fc, h_bs, h_ut)
    if d2d <= d_bp:
        pl_los = _ref_rma_pl1(fc, d3d, h)
    else:
        pl_los = _ref_rma_pl1(fc, d_bp, h) + 40.0 * log10(d3d / d_bp)
    if los:
        return pl_los
    pl_nlos = (
        161.04
        - 7.1 * log10(w)
        + 7.5 * log10(h)
        - (24.37 - 3.7 * (h / h_bs) ** 2) * log10(h_bs)
        + (43.42 - 3.1 * log10(h_bs)) * (log10(d3d) - 3.0)
        + 20.0 * log10(fc)
        - (3.2 * log10(11.75 * h_ut) ** 2 - 4.97)
    )
    return max(pl_los, pl_nlos)


def _ref_inh(fc, d2d, h_bs, h_ut, los):
    d3d = _d3d(d2d, h_bs, h_ut)
    pl_los = 32.4 + 17.3 * log10(d3d) + 20.0 * log10(fc)
    if los:
        return pl_los
    return max(pl_los, 38.3 * log10(d3d) + 17.30 + 24.9 * log10(fc))


_REF = {"UMa": _ref_uma, "UMi": _ref_umi, "RMa": _ref_rma, "InH": _ref_inh}


def _side(env, fc, d2d, h_bs, h_ut):
    """Which LOS branch the point is on (PL1 up to the breakpoint, PL2 beyond)."""
    d_bp = _bp_rma(fc, h_bs, h_ut) if env == "RMa" else _bp_uma_umi(fc, h_bs, h_ut, 1.0)
    return "PL1" if d2d <= d_bp else "PL2"


# --------------------------------------------------------------------------- #
# TR 38.901 path loss
# --------------------------------------------------------------------------- #

# Sample values computed from TR 38.901 Table 7.4.1-1 (id, scen, fc GHz, d2D m, hBS, hUT, LOS, PL dB)
SAMPLES = [
    ("PL-01", "UMa", 3.5, 100.0, 25.0, 1.5, True, 83.1382),
    ("PL-03", "UMa", 3.5, 1500.0, 25.0, 1.5, True, 116.4529),
    ("PL-05", "UMa", 3.5, 100.0, 25.0, 1.5, False, 103.0375),
    ("PL-09", "UMi", 3.5, 300.0, 10.0, 1.5, True, 98.2443),
    ("PL-11", "UMi", 3.5, 200.0, 10.0, 1.5, False, 115.2288),
    ("PL-13", "RMa", 0.7, 1000.0, 35.0, 1.5, True, 93.3816),
    ("PL-16", "RMa", 3.5, 1000.0, 35.0, 1.5, False, 130.4243),
    ("PL-18", "InH", 3.5, 10.0, 3.0, 1.0, True, 60.7287),
    ("PL-21", "InH", 28.0, 50.0, 3.0, 1.0, False, 118.4181),
]


@pytest.mark.parametrize("row", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_published_sample_values(row):
    _, env, fc, d2d, h_bs, h_ut, los, expected_db = row
    assert _REF[env](fc, d2d, h_bs, h_ut, los) == pytest.approx(expected_db, abs=0.01)
    assert float(pathloss_db(env, fc, d2d, h_bs, h_ut, los)) == pytest.approx(expected_db, abs=0.01)


# (env, fc GHz, d2D m, hBS m, hUT m, expected LOS branch); every point is also run NLOS.
POINTS = [
    # UMa: d'BP = 560 m at 3.5 GHz / hUT 1.5; 2 304 m at 0.8 GHz / hUT 10; 4 480 m at 28 GHz
    ("UMa", 3.5, 35.0, 25.0, 1.5, "PL1"),
    ("UMa", 3.5, 559.0, 25.0, 1.5, "PL1"),
    ("UMa", 3.5, 561.0, 25.0, 1.5, "PL2"),
    ("UMa", 3.5, 4999.0, 25.0, 1.5, "PL2"),
    ("UMa", 0.8, 2000.0, 25.0, 10.0, "PL1"),
    ("UMa", 0.8, 3000.0, 25.0, 10.0, "PL2"),
    ("UMa", 28.0, 200.0, 25.0, 1.5, "PL1"),
    ("UMa", 28.0, 4800.0, 25.0, 1.5, "PL2"),
    ("UMa", 6.0, 250.0, 25.0, 12.5, "PL1"),
    # UMi: d'BP = 210 m at 3.5 GHz / hUT 1.5
    ("UMi", 3.5, 10.0, 10.0, 1.5, "PL1"),
    ("UMi", 3.5, 150.0, 10.0, 1.5, "PL1"),
    ("UMi", 3.5, 400.0, 10.0, 1.5, "PL2"),
    ("UMi", 28.0, 500.0, 10.0, 1.5, "PL1"),
    ("UMi", 2.0, 1000.0, 10.0, 2.5, "PL2"),
    ("UMi", 0.5, 4000.0, 10.0, 22.5, "PL2"),
    # RMa: dBP = 3 848 m at 3.5 GHz / 35 m / 1.5 m; 770 m at 0.7 GHz
    ("RMa", 3.5, 100.0, 35.0, 1.5, "PL1"),
    ("RMa", 3.5, 3800.0, 35.0, 1.5, "PL1"),
    ("RMa", 3.5, 3900.0, 35.0, 1.5, "PL2"),
    ("RMa", 3.5, 4900.0, 35.0, 1.5, "PL2"),
    ("RMa", 0.7, 600.0, 35.0, 1.5, "PL1"),
    ("RMa", 0.7, 2500.0, 35.0, 1.5, "PL2"),
    ("RMa", 28.0, 3000.0, 100.0, 5.0, "PL1"),
    ("RMa", 1.0, 4500.0, 20.0, 1.0, "PL2"),
    # InH (no breakpoint; the tag is unused)
    ("InH", 3.5, 1.0, 3.0, 1.0, "-"),
    ("InH", 28.0, 20.0, 3.0, 1.0, "-"),
    ("InH", 60.0, 100.0, 3.0, 1.5, "-"),
    ("InH", 100.0, 149.0, 3.0, 1.0, "-"),
]


@pytest.mark.parametrize("los", [True, False], ids=["LOS", "NLOS"])
@pytest.mark.parametrize("point", POINTS, ids=[f"{p[0]}-{p[1]}GHz-{p[2]}m-hut{p[4]}" for p in POINTS])
def test_matches_scalar_reference(point, los):
    env, fc, d2d, h_bs, h_ut, side = point
    if env != "InH":
        assert _side(env, fc, d2d, h_bs, h_ut) == side  # the point covers the intended branch
    expected = _REF[env](fc, d2d, h_bs, h_ut, los)
    assert float(pathloss_db(env, fc, d2d, h_bs, h_ut, los)) == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize("env", ["UMa", "UMi", "RMa", "InH"])
def test_vectorised_call_matches_elementwise(env):
    rows = [p for p in POINTS if p[0] == env]
    fc, d2d, h_bs, h_ut = (np.array([r[i] for r in rows]) for i in (1, 2, 3, 4))
    los = np.arange(len(rows)) % 2 == 0
    out = pathloss_db(env, fc, d2d, h_bs, h_ut, los)
    assert out.shape == (len(rows),)
    expected = [_REF[env](*args) for args in zip(fc, d2d, h_bs, h_ut, los, strict=True)]
    np.testing.assert_allclose(out, expected, atol=1e-9)
    # broadcasting: one frequency, a [2, n] distance grid
    grid = pathloss_db(env, 3.5, np.stack([d2d, d2d]), h_bs, h_ut, True)
    assert grid.shape == (2, len(rows))


def test_environment_names_and_unknown():
    a = pathloss_db("uma", 3.5, 100.0, 25.0, 1.5, True)
    assert a == pathloss_db("UMa", 3.5, 100.0, 25.0, 1.5, True)
    with pytest.raises(ValueError, match="environment"):
        pathloss_db("SMa", 3.5, 100.0, 25.0, 1.5, True)


# Parameter sets (env, fc, hBS, hUT, d2D range) spanning each model's range
RANGES = [
    ("UMa", 3.5, 25.0, 1.5, 10.0, 5000.0),
    ("UMa", 28.0, 25.0, 1.5, 10.0, 5000.0),
    ("UMa", 0.8, 25.0, 10.0, 10.0, 5000.0),
    ("UMa", 3.5, 25.0, 22.5, 10.0, 5000.0),  # hUT >= 13 with rng=None: h_E = 1 m
    ("UMi", 3.5, 10.0, 1.5, 10.0, 5000.0),
    ("UMi", 28.0, 10.0, 1.5, 10.0, 5000.0),
    ("UMi", 0.5, 10.0, 22.5, 10.0, 5000.0),
    ("RMa", 0.7, 35.0, 1.5, 10.0, 10_000.0),
    ("RMa", 3.5, 35.0, 1.5, 10.0, 10_000.0),
    ("RMa", 30.0, 150.0, 10.0, 10.0, 10_000.0),
    ("RMa", 3.5, 10.0, 1.0, 10.0, 10_000.0),
    ("InH", 3.5, 3.0, 1.0, 0.0, math.sqrt(150.0**2 - 4.0)),
    ("InH", 60.0, 3.0, 1.0, 0.0, math.sqrt(150.0**2 - 4.0)),
]


@pytest.mark.parametrize("case", RANGES, ids=[f"{c[0]}-{c[1]}GHz-hut{c[3]}" for c in RANGES])
def test_nlos_never_below_los_and_monotone_in_distance(case):
    env, fc, h_bs, h_ut, d_lo, d_hi = case
    d2d = np.concatenate([np.linspace(d_lo, min(d_hi, 100.0), 500), np.geomspace(max(d_lo, 1.0), d_hi, 2000)])
    d2d = np.unique(np.clip(d2d, d_lo, d_hi))
    pl_los = pathloss_db(env, fc, d2d, h_bs, h_ut, True)
    d_nlos = d2d[d2d <= (5000.0 if env == "RMa" else d_hi)]
    pl_nlos = pathloss_db(env, fc, d_nlos, h_bs, h_ut, False)
    # TR 38.901: PL_NLOS = max(PL_LOS, PL'_NLOS) in all four models
    assert np.all(pl_nlos >= pl_los[: d_nlos.size] - 1e-12)
    # non-decreasing in distance (the breakpoints join continuously for UMa/UMi, upwards for RMa)
    assert np.all(np.diff(pl_los) >= -1e-9)
    assert np.all(np.diff(pl_nlos) >= -1e-9)


def test_nlos_max_binds_where_nlos_formula_is_below_los():
    # InH at d3D = 2 m, 3.5 GHz: PL'_NLOS = 17.3 + 38.3 log 2 + 24.9 log 3.5 = 44.38 dB
    # < PL_LOS = 32.4 + 17.3 log 2 + 20 log 3.5 = 48.49 dB, so NLOS takes the LOS value.
    los = pathloss_db("InH", 3.5, 0.0, 3.0, 1.0, True)
    nlos = pathloss_db("InH", 3.5, 0.0, 3.0, 1.0, False)
    assert 17.3 + 38.3 * log10(2.0) + 24.9 * log10(3.5) < float(los)
    assert nlos == los


def test_uma_effective_height_draw():
    """hUT = 22.5 m, d2D = 1 km, 0.5 GHz: h_E in {1, 12, 15, 18, 21} gives five distinct losses."""
    fc, d2d, h_bs, h_ut = 0.5, 1000.0, 25.0, 22.5
    members = [1.0, 12.0, 15.0, 18.0, 21.0]
    levels = np.array([_ref_uma(fc, d2d, h_bs, h_ut, True, h_e) for h_e in members])
    assert np.min(np.diff(np.sort(levels))) > 0.1
    n = 20_000
    out = pathloss_db("UMa", fc, np.full(n, d2d), h_bs, h_ut, True, rng=np.random.default_rng(7))
    which = np.argmin(np.abs(out[:, None] - levels[None, :]), axis=1)
    np.testing.assert_allclose(out, levels[which], atol=1e-9)  # every draw is one of the standard's h_E
    # P(h_E = 1) = 1/(1 + C), C = ((hUT - 13)/10)^1.5 * 1.25 (d/100)^3 exp(-d/150) = 1.473 here;
    # the others share 1 - P equally. Tolerance: 5 binomial standard errors sqrt(p(1-p)/n) <= 0.018.
    c = ((h_ut - 13.0) / 10.0) ** 1.5 * 1.25 * (d2d / 100.0) ** 3 * math.exp(-d2d / 150.0)
    p_one = 1.0 / (1.0 + c)
    expected = np.array([p_one] + [(1.0 - p_one) / 4.0] * 4)
    freq = np.bincount(which, minlength=5) / n
    np.testing.assert_allclose(freq, expected, atol=5.0 * math.sqrt(0.25 / n))


def test_uma_effective_height_is_one_below_13_m_and_without_rng():
    d2d = np.linspace(10.0, 5000.0, 300)
    det = pathloss_db("UMa", 0.5, d2d, 25.0, 12.9, True)
    drawn = pathloss_db("UMa", 0.5, d2d, 25.0, 12.9, True, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(det, drawn)
    tall = pathloss_db("UMa", 0.5, 1000.0, 25.0, 22.5, True)  # rng=None -> h_E = 1 m
    assert float(tall) == pytest.approx(_ref_uma(0.5, 1000.0, 25.0, 22.5, True, 1.0), abs=1e-9)


# --------------------------------------------------------------------------- #
# Validity ranges
# --------------------------------------------------------------------------- #

BASE = {
    "UMa": dict(fc_ghz=3.5, d2d_m=100.0, h_bs_m=25.0, h_ut_m=1.5, los=True),
    "UMi": dict(fc_ghz=3.5, d2d_m=100.0, h_bs_m=10.0, h_ut_m=1.5, los=True),
    "RMa": dict(fc_ghz=3.5, d2d_m=1000.0, h_bs_m=35.0, h_ut_m=1.5, los=True),
    "InH": dict(fc_ghz=3.5, d2d_m=10.0, h_bs_m=3.0, h_ut_m=1.0, los=True),
}

BAD = [
    ("UMa", dict(d2d_m=5.0), "d2d_m", "10", "5"),
    ("UMa", dict(d2d_m=6000.0), "d2d_m", "5000", "6000"),
    ("UMa", dict(h_ut_m=25.0), "h_ut_m", "22.5", "25"),
    ("UMa", dict(fc_ghz=0.3), "fc_ghz", "0.5", "0.3"),
    ("UMa", dict(fc_ghz=140.0), "fc_ghz", "100", "140"),
    ("UMi", dict(h_ut_m=1.0), "h_ut_m", "1.5", "1"),
    ("UMi", dict(d2d_m=9.0, los=False), "d2d_m", "10", "9"),
    ("RMa", dict(fc_ghz=40.0), "fc_ghz", "30", "40"),
    ("RMa", dict(h_bs_m=5.0), "h_bs_m", "150", "5"),
    ("RMa", dict(h_ut_m=12.0), "h_ut_m", "10", "12"),
    ("RMa", dict(d2d_m=6000.0, los=False), "d2d_m", "5000", "6000"),
    ("RMa", dict(d2d_m=12_000.0, los=True), "d2d_m", "10000", "12000"),
    ("RMa", dict(h_building_m=60.0), "h_building_m", "50", "60"),
    ("RMa", dict(street_width_m=2.0), "street_width_m", "5", "2"),
    ("InH", dict(d2d_m=200.0, h_bs_m=1.0, h_ut_m=1.0), "d3d_m", "150", "200"),
    ("InH", dict(d2d_m=200.0, los=False), "d3d_m", "150", "200.01"),
    ("InH", dict(d2d_m=0.1, h_bs_m=1.0, h_ut_m=1.0), "d3d_m", "1", "0.1"),
]


@pytest.mark.parametrize("case", BAD, ids=[f"{c[0]}-{c[2]}-{c[4]}" for c in BAD])
def test_range_errors_name_quantity_range_and_value(case):
    env, change, quantity, bound, got = case
    kwargs = {**BASE[env], **change}
    with pytest.raises(PathlossRangeError) as info:
        pathloss_db(env, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{env}: {quantity}")
    assert f"{bound}]" in message or f"[{bound}," in message
    assert message.endswith(f"got {got}")
    assert isinstance(info.value, ValueError)
    # the same input is accepted with extrapolate=True and gives a finite loss
    assert np.isfinite(pathloss_db(env, **kwargs, extrapolate=True))


def test_range_error_counts_offending_values_in_arrays():
    with pytest.raises(PathlossRangeError, match=r"got 2 \(2 of 3 values\)"):
        pathloss_db("UMi", 3.5, [2.0, 100.0, 3.0], 10.0, 1.5, True)
    # RMa: 6 km is valid LOS but not NLOS, checked per link
    pathloss_db("RMa", 3.5, [6000.0, 4000.0], 35.0, 1.5, [True, False])


def test_extrapolate_clamps_short_distances_and_extends_the_formula():
    for env, kwargs in BASE.items():
        near = {**kwargs, "d2d_m": 0.0}
        if env == "InH":
            near["h_bs_m"] = near["h_ut_m"] = 1.5
            expected = _ref_inh(3.5, 1.0, 1.5, 1.5, True)  # d3D clamped to 1 m
        else:
            expected = _REF[env](3.5, 10.0, kwargs["h_bs_m"], kwargs["h_ut_m"], True)  # d2D clamped to 10 m
        assert float(pathloss_db(env, **near, extrapolate=True)) == pytest.approx(expected, abs=1e-9)
    far = pathloss_db("UMa", 3.5, 8000.0, 25.0, 1.5, False, extrapolate=True)
    assert float(far) == pytest.approx(_ref_uma(3.5, 8000.0, 25.0, 1.5, False), abs=1e-9)
    hot = pathloss_db("RMa", 60.0, 2000.0, 35.0, 1.5, True, extrapolate=True)
    assert float(hot) == pytest.approx(_ref_rma(60.0, 2000.0, 35.0, 1.5, True), abs=1e-9)
    with pytest.raises(PathlossRangeError, match="fc_ghz"):
        pathloss_db("UMa", 0.0, 100.0, 25.0, 1.5, True, extrapolate=True)


# --------------------------------------------------------------------------- #
# LOS probability (Table 7.4.2-1)
# --------------------------------------------------------------------------- #


def _ref_p_los(env, d, h_ut=1.5, inh="mixed"):
    if env == "RMa":
        return 1.0 if d <= 10 else math.exp(-(d - 10) / 1000)
    if env == "UMi":
        return 1.0 if d <= 18 else 18 / d + math.exp(-d / 36) * (1 - 18 / d)
    if env == "UMa":
        if d <= 18:
            return 1.0
        c = 0.0 if h_ut <= 13 else ((h_ut - 13) / 10) ** 1.5
        first = 18 / d + math.exp(-d / 63) * (1 - 18 / d)
        return min(1.0, first * (1 + c * 1.25 * (d / 100) ** 3 * math.exp(-d / 150)))
    if inh == "mixed":
        return 1.0 if d <= 1.2 else (math.exp(-(d - 1.2) / 4.7) if d < 6.5 else 0.32 * math.exp(-(d - 6.5) / 32.6))
    return 1.0 if d <= 5 else (math.exp(-(d - 5) / 70.8) if d <= 49 else 0.54 * math.exp(-(d - 49) / 211.7))


@pytest.mark.parametrize(
    "env, h_ut, inh, d_one",
    [("RMa", 1.5, "mixed", 10.0), ("UMi", 1.5, "mixed", 18.0), ("UMa", 1.5, "mixed", 18.0),
     ("UMa", 12.0, "mixed", 18.0), ("InH", 1.0, "mixed", 1.2), ("InH", 1.0, "open", 5.0)],
)  # fmt: skip
def test_los_probability_values_bounds_and_decrease(env, h_ut, inh, d_one):
    d = np.round(np.concatenate([np.linspace(0.0, 60.0, 601), np.geomspace(60.0, 5000.0, 400)]), 9)
    p = los_probability(env, d, h_ut, inh=inh)
    assert np.all((p >= 0.0) & (p <= 1.0))
    assert np.all(p[d <= d_one] == 1.0) and np.all(p[d > d_one] < 1.0)
    for di in [0.5, 1.2, 3.0, 6.4, 6.5, 10.0, 18.0, 30.0, 49.0, 60.0, 100.0, 500.0, 2000.0]:
        assert float(los_probability(env, di, h_ut, inh=inh)) == pytest.approx(
            _ref_p_los(env, di, h_ut, inh), abs=1e-12
        )
    steps = np.diff(p)
    if env == "InH" and inh == "open":
        # the standard's open-office curve jumps up at 49 m (exp(-44/70.8) = 0.537 -> 0.54)
        assert np.all(steps[d[1:] != d[np.argmax(d > 49.0)]] <= 1e-15)
    else:
        assert np.all(steps <= 1e-15)


def test_los_probability_tall_uma_ut_stays_a_probability():
    d = np.linspace(0.0, 2000.0, 20_001)
    for h_ut in [13.0, 15.0, 18.0, 22.5, 23.0]:
        p = los_probability("UMa", d, h_ut)
        assert np.all((p >= 0.0) & (p <= 1.0))
    # the height factor raises the probability at mid distances for tall UTs
    assert los_probability("UMa", 100.0, 23.0) > los_probability("UMa", 100.0, 1.5)


def test_los_probability_rejects_bad_input():
    with pytest.raises(ValueError, match="d2d_m"):
        los_probability("UMi", -1.0)
    with pytest.raises(ValueError, match="inh"):
        los_probability("InH", 3.0, inh="closed")


# --------------------------------------------------------------------------- #
# Shadow fading
# --------------------------------------------------------------------------- #


def test_shadow_fading_std_table():
    assert shadow_fading_std_db("UMa", True) == 4.0 and shadow_fading_std_db("UMa", False) == 6.0
    assert shadow_fading_std_db("UMi", True) == 4.0 and shadow_fading_std_db("UMi", False) == 7.82
    assert shadow_fading_std_db("InH", True) == 3.0 and shadow_fading_std_db("InH", False) == 8.03
    assert shadow_fading_std_db("RMa", False) == 8.0
    np.testing.assert_array_equal(shadow_fading_std_db("UMi", np.array([True, False])), [4.0, 7.82])


def test_shadow_fading_std_rma_los_depends_on_breakpoint():
    d_bp = _bp_rma(3.5, 35.0, 1.5)  # 3 848 m
    sigma = shadow_fading_std_db("RMa", True, np.array([100.0, d_bp - 1.0, d_bp + 1.0, 9000.0]), 3.5, 35.0, 1.5)
    np.testing.assert_array_equal(sigma, [4.0, 4.0, 6.0, 6.0])
    mixed = shadow_fading_std_db("RMa", np.array([True, False]), 5000.0, 3.5, 35.0, 1.5)
    np.testing.assert_array_equal(mixed, [6.0, 8.0])
    with pytest.raises(ValueError, match="breakpoint"):
        shadow_fading_std_db("RMa", True)


def test_decorrelation_distances_table_7_5_6():
    expected = {"UMa": (37, 50), "UMi": (10, 13), "RMa": (37, 120), "InH": (10, 6)}
    for env, (los_m, nlos_m) in expected.items():
        np.testing.assert_array_equal(decorrelation_distance_m(env, np.array([True, False])), [los_m, nlos_m])


def test_iid_shadowing_std():
    # n = 200 000 draws: the sample std has relative standard error 1/sqrt(2n) = 0.16 %; tolerance 1 %.
    n = 200_000
    x = shadow_fading_db(np.full(n, 7.82), np.random.default_rng(3))
    assert x.shape == (n,)
    assert abs(x.mean()) < 5 * 7.82 / math.sqrt(n)
    assert x.std() == pytest.approx(7.82, rel=0.01)
    assert shadow_fading_db(4.0, np.random.default_rng(0), n_draws=5).shape == (5,)


def test_correlated_shadowing_marginal_std_and_correlation():
    """Gudmundson: corr(d) = exp(-d / d_corr); at d = d_corr it is 1/e."""
    d_corr = decorrelation_distance_m("UMa", False)  # 50 m
    pos = np.array([[0.0, 0.0], [d_corr, 0.0], [0.0, 2.0 * d_corr], [0.3 * d_corr, 0.4 * d_corr]])
    sigma = np.array([6.0, 6.0, 4.0, 6.0])
    n = 50_000
    x = shadow_fading_db(sigma, np.random.default_rng(11), positions_m=pos, decorrelation_m=d_corr, n_draws=n)
    assert x.shape == (n, 4)
    # marginal std: relative standard error 1/sqrt(2n) = 0.32 %; tolerance 2 % (> 6 standard errors)
    np.testing.assert_allclose(x.std(axis=0), sigma, rtol=0.02)
    # sample correlation: standard error (1 - rho^2)/sqrt(n) <= 0.0045; tolerance 0.02 (> 4 standard errors)
    r = np.corrcoef(x.T)
    assert r[0, 1] == pytest.approx(math.exp(-1.0), abs=0.02)  # distance d_corr
    assert r[0, 2] == pytest.approx(math.exp(-2.0), abs=0.02)  # distance 2 d_corr
    assert r[0, 3] == pytest.approx(math.exp(-0.5), abs=0.02)  # distance 0.5 d_corr (3-4-5 triangle)
    assert r[1, 2] == pytest.approx(math.exp(-math.sqrt(5.0)), abs=0.02)


def test_correlated_shadowing_one_realisation_and_coincident_points():
    rng = np.random.default_rng(5)
    x = shadow_fading_db(8.0, rng, positions_m=np.linspace(0.0, 100.0, 50), decorrelation_m=10.0)
    assert x.shape == (50,)
    # coincident points: R is singular; the draws must then be identical
    y = shadow_fading_db(8.0, rng, positions_m=[[0.0, 0.0], [0.0, 0.0], [5.0, 0.0]], decorrelation_m=10.0)
    assert y[0] == pytest.approx(y[1], abs=1e-6)
    with pytest.raises(ValueError, match="decorrelation_m"):
        shadow_fading_db(8.0, rng, positions_m=[0.0, 1.0])


# --------------------------------------------------------------------------- #
# Free space, sub-THz absorption, power law
# --------------------------------------------------------------------------- #


def test_free_space_examples():
    # 20 log10(4 pi d f / c), c = 299 792 458 m/s
    assert float(free_space_db(140.0, 100.0)) == pytest.approx(115.370, abs=5e-4)
    assert float(free_space_db(300.0, 100.0)) == pytest.approx(121.990, abs=5e-4)
    expected = 20 * log10(4 * math.pi * 50.0 * 28e9 / 299_792_458.0)
    assert float(free_space_db(28.0, 50.0)) == pytest.approx(expected, abs=1e-9)
    with pytest.raises(PathlossRangeError, match="d_m"):
        free_space_db(140.0, 0.0)


# ITU-R P.676-12 Annex 1 standard atmosphere, line by line (3 decimals)
ABSORPTION = [(100.0, 0.454), (140.0, 0.915), (150.0, 1.114), (220.0, 2.466), (240.0, 2.820), (300.0, 5.203)]


def test_absorption_at_tabulated_points():
    f, gamma = np.array(ABSORPTION).T
    np.testing.assert_allclose(atmospheric_absorption_db_per_km(f), gamma, atol=5e-4)
    # the 183.31 GHz water line (P.676-12: 28.26 dB/km at line centre)
    assert 27.0 < float(atmospheric_absorption_db_per_km(183.31)) < 29.0
    assert float(atmospheric_absorption_db_per_km(183.0)) == pytest.approx(27.9, abs=0.3)
    # between nodes the log-linear interpolant stays between its neighbours
    g = atmospheric_absorption_db_per_km(np.linspace(100.0, 300.0, 4001))
    assert np.all(g > 0.4) and np.all(g < 28.3)


def test_absorption_range():
    with pytest.raises(PathlossRangeError, match=r"fc_ghz must be within \[100, 300\] GHz.*got 60"):
        atmospheric_absorption_db_per_km(60.0)
    with pytest.raises(PathlossRangeError, match="got 301"):
        atmospheric_absorption_db_per_km([200.0, 301.0])
    low, high = atmospheric_absorption_db_per_km([90.0, 320.0], extrapolate=True)
    assert 0.0 < low < 0.454 and high > 5.203


def test_subthz_is_free_space_plus_absorption():
    for f, gamma in ABSORPTION:
        for d in [10.0, 100.0, 1000.0]:
            expected = 20 * log10(4 * math.pi * d * f * 1e9 / 299_792_458.0) + gamma * d / 1000.0
            assert float(subthz_pathloss_db(f, d)) == pytest.approx(expected, abs=1e-3)
    with pytest.raises(PathlossRangeError, match="fc_ghz"):
        subthz_pathloss_db(28.0, 100.0)
    assert np.isfinite(subthz_pathloss_db(28.0, 100.0, extrapolate=True))


def test_power_law():
    d = np.array([1.0, 10.0, 100.0])
    # alpha = 2 with the free-space reference at 1 m is free space
    np.testing.assert_allclose(power_law_db(d, 2.0, fc_ghz=28.0), free_space_db(28.0, d), atol=1e-9)
    np.testing.assert_allclose(power_law_db(d, 3.5, reference_db=40.0), [40.0, 75.0, 110.0], atol=1e-12)
    assert float(power_law_db(100.0, 3.0, reference_db=60.0, reference_m=10.0)) == pytest.approx(90.0)
    with pytest.raises(ValueError, match="exactly one"):
        power_law_db(d, 2.0)
    with pytest.raises(ValueError, match="exactly one"):
        power_law_db(d, 2.0, fc_ghz=28.0, reference_db=60.0)


# --------------------------------------------------------------------------- #
# Fast fading
# --------------------------------------------------------------------------- #


def _assert_mean_and_variance(g, variance):
    """Mean 1 and the given variance, each within 5 standard errors estimated from the sample.

    SE(mean) = s / sqrt(n); SE(sample variance) = sqrt((m4 - s^4) / n), m4 the fourth central moment.
    """
    n = g.size
    s2 = g.var()
    m4 = np.mean((g - g.mean()) ** 4)
    assert abs(g.mean() - 1.0) < 5.0 * math.sqrt(s2 / n)
    assert abs(s2 - variance) < 5.0 * math.sqrt((m4 - s2 * s2) / n)


def test_fast_fading_none_and_rayleigh():
    np.testing.assert_array_equal(fast_fading_gain(np.random.default_rng(0), (3, 2), "none"), np.ones((3, 2)))
    g = fast_fading_gain(np.random.default_rng(1), 200_000, "rayleigh")
    assert g.shape == (200_000,) and np.all(g >= 0.0)
    _assert_mean_and_variance(g, 1.0)  # |h|^2 ~ Exp(1): mean 1, variance 1


@pytest.mark.parametrize("k_db", [-np.inf, 0.0, 7.0, 9.0, 15.0])
def test_fast_fading_rician_unit_mean_and_variance(k_db):
    # 2(K+1)|h|^2 ~ noncentral chi-square(2 dof, nc 2K): Var = 2(2 + 4K)/(2(K+1))^2 = (2K+1)/(K+1)^2,
    # so E[g^2] = 1 + (2K+1)/(K+1)^2; K = 0 is Rayleigh (variance 1).
    k = 10.0 ** (k_db / 10.0)
    g = fast_fading_gain(np.random.default_rng(2), 200_000, "rician", k_factor_db=k_db)
    _assert_mean_and_variance(g, (2.0 * k + 1.0) / (k + 1.0) ** 2)


def test_fast_fading_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="k_factor_db"):
        fast_fading_gain(rng, 4, "rician")
    with pytest.raises(ValueError, match="kind"):
        fast_fading_gain(rng, 4, "nakagami")
