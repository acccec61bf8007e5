"""Link budget, antennas, SINR and rates (airan.radio.link) and the band presets (airan.radio.bands).

The key check is the stochastic-geometry one: on a Poisson network with Rayleigh fading,
the SINR that :func:`sinr_db` computes has the coverage probability of Andrews,
Baccelli & Ganti (2011) in closed form.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from airan.radio import link
from airan.radio.bands import BANDS, band
from airan.radio.link import (
    CQI_TABLE_1,
    CQI_TABLE_2,
    MAX_SE_256QAM,
    associate,
    cqi_index,
    cqi_spectral_efficiency,
    cqi_thresholds_db,
    draw_uplink_interferers,
    nr_peak_rate_bps,
    rate_bps,
    received_power_dbm,
    sector_boresights_deg,
    sector_gain_db,
    shannon_spectral_efficiency,
    sinr_db,
    thermal_noise_dbm,
    uplink_sinr_db,
    uplink_tx_power_dbm,
)
from airan.radio.pathloss import power_law_db

# --------------------------------------------------------------------------- noise


def test_thermal_noise_100mhz_nf9():
    # -174 dBm/Hz + 10*log10(1e8) = -174 + 80 = -94 dBm; + 9 dB NF = -85.0 dBm
    # (not -84.0: 10*log10(100e6) is 80 dB exactly).
    assert thermal_noise_dbm(100e6, 9.0) == pytest.approx(-85.0, abs=1e-12)
    # kT0 at 290 K is -173.975 dBm/Hz: 0.025 dB more noise (kT at 290 K).
    kt0_dbm_hz = 10 * np.log10(1.380649e-23 * 290.0) + 30.0
    assert thermal_noise_dbm(100e6, 9.0, kt0_dbm_hz) - thermal_noise_dbm(100e6, 9.0) == pytest.approx(0.025, abs=1e-3)
    # 20 MHz: -174 + 73.0103 + 7; 400 MHz: -174 + 86.0206 + 7.
    np.testing.assert_allclose(thermal_noise_dbm(np.array([20e6, 400e6]), 7.0), [-93.9897, -80.9794], atol=1e-4)
    with pytest.raises(ValueError, match="bandwidth_hz"):
        thermal_noise_dbm(0.0, 9.0)


# --------------------------------------------------------------------------- antennas


def test_sector_gain_boresight_3db_points_and_floor():
    assert sector_gain_db(0.0) == pytest.approx(8.0)
    # A_H = -12 (phi/65)^2 = -3 dB exactly at phi = 65/2 = 32.5 degrees.
    np.testing.assert_allclose(sector_gain_db([32.5, -32.5]), [5.0, 5.0], atol=1e-12)
    # Same in elevation: theta = 90 +- 32.5 degrees.
    np.testing.assert_allclose(sector_gain_db(0.0, [57.5, 122.5]), [5.0, 5.0], atol=1e-12)
    # 90 degrees off boresight: 12 (90/65)^2 = 23.006 dB down.
    assert sector_gain_db(90.0) == pytest.approx(8.0 - 12 * (90 / 65) ** 2)
    # Beyond 65 sqrt(30/12) = 102.8 degrees the attenuation saturates at A_m = 30 dB: 8 - 30 = -22 dBi.
    np.testing.assert_allclose(sector_gain_db([180.0, -180.0, 120.0, 103.0]), -22.0)
    assert sector_gain_db(102.0) > -22.0
    # Horizontal plus vertical attenuation is also capped at A_m.
    assert sector_gain_db(100.0, 10.0) == pytest.approx(-22.0)
    assert np.all(sector_gain_db(np.linspace(-400, 400, 1601), np.linspace(0, 180, 1601)) >= -22.0 - 1e-12)


def test_sector_gain_wraps_and_follows_boresight():
    phi = np.array([10.0, 170.0, -100.0])
    np.testing.assert_allclose(sector_gain_db(phi + 360.0), sector_gain_db(phi), atol=1e-12)
    np.testing.assert_allclose(sector_gain_db(phi - 720.0), sector_gain_db(phi), atol=1e-12)
    # A sector pointing at 270 degrees sees -80 degrees as 10 degrees off boresight (wrap through 180).
    assert sector_gain_db(-80.0, boresight_deg=270.0) == pytest.approx(sector_gain_db(10.0))
    assert sector_gain_db(20.0, boresight_deg=350.0) == pytest.approx(sector_gain_db(30.0))
    # Downtilt moves the vertical peak below the horizon.
    assert sector_gain_db(0.0, 100.0, downtilt_deg=10.0, max_gain_dbi=18.0) == pytest.approx(18.0)
    assert link.omni_gain_db(phi, 2.0).tolist() == [2.0, 2.0, 2.0]


def test_wrap_angle_is_numpys_mod_exactly():
    # wrap_angle_deg skips np.mod's division when angle + 180 lies in (-360, 720); its values must
    # still be mod(angle + 180, 360) - 180 bit for bit, at the edges and their neighbours too
    edges = np.array([0.0, -0.0, 180.0, -180.0, 360.0, -540.0 + 1e-12, 539.9999999999, 1e-300, -1e-300, 1e-14, -1e-14])
    edges = np.concatenate([edges, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf)])
    rng = np.random.default_rng(0)
    for angles in (edges, rng.uniform(-539.0, 539.0, 100_000), rng.uniform(-1e-12, 1e-12, 1000),
                   np.array([1000.0, -900.0, 30.0]), np.array([np.nan, 30.0])):
        np.testing.assert_array_equal(link.wrap_angle_deg(angles), np.mod(angles + 180.0, 360.0) - 180.0)
    assert link.wrap_angle_deg(190.0) == -170.0


def test_sector_boresights():
    np.testing.assert_allclose(sector_boresights_deg(3), [30.0, 150.0, 270.0])
    np.testing.assert_allclose(sector_boresights_deg(6, first_deg=0.0), [0, 60, 120, 180, 240, 300])
    # Three sectors cover the circle: every azimuth is within 60 degrees of a boresight.
    phi = np.linspace(0, 360, 721)
    best = np.max([sector_gain_db(phi, boresight_deg=b) for b in sector_boresights_deg(3)], axis=0)
    assert best.min() == pytest.approx(8.0 - 12 * (60 / 65) ** 2)


# --------------------------------------------------------------------------- power control and link budget


def test_uplink_power_control_open_loop_and_cap():
    kw = dict(p0_dbm=-90.0, alpha=0.8, p_max_dbm=23.0, n_prb=10, scs_khz=30)
    # 30 kHz: mu = 1, so 10*log10(2 * 10) = 13.0103 dB; -90 + 13.0103 + 0.8 * 100 = 3.0103 dBm.
    assert uplink_tx_power_dbm(100.0, **kw) == pytest.approx(3.0103, abs=1e-4)
    pl = np.linspace(60.0, 160.0, 101)
    p = uplink_tx_power_dbm(pl, **kw)
    below = p < 23.0 - 1e-9
    # Linear with slope alpha below the cap ...
    np.testing.assert_allclose(np.diff(p[below]) / np.diff(pl[below]), 0.8, atol=1e-12)
    # ... and limited by P_CMAX above it (-90 + 13.01 + 0.8 PL = 23 at PL = 124.99 dB).
    assert np.all(p <= 23.0) and np.all(p[pl >= 125.0] == 23.0)
    # Full compensation keeps the received power at P0 + 10 log10(2^mu M_RB) whatever the path loss.
    p_full = uplink_tx_power_dbm(pl, p0_dbm=-100.0, alpha=1.0, p_max_dbm=60.0, n_prb=1, scs_khz=15)
    np.testing.assert_allclose(p_full - pl, -100.0, atol=1e-12)
    with pytest.raises(ValueError, match="alpha"):
        uplink_tx_power_dbm(100.0, p0_dbm=-90.0, alpha=1.2, p_max_dbm=23.0, n_prb=1, scs_khz=30)
    with pytest.raises(ValueError, match="scs_khz"):
        uplink_tx_power_dbm(100.0, p0_dbm=-90.0, alpha=1.0, p_max_dbm=23.0, n_prb=1, scs_khz=20)


def test_received_power_link_budget():
    assert received_power_dbm(46.0, 18.0, 0.0, 120.0, 4.0) == pytest.approx(-60.0)
    rx = received_power_dbm(np.array([46.0, 30.0])[None, :], 8.0, 0.0, np.array([[100.0, 90.0], [130.0, 80.0]]))
    np.testing.assert_allclose(rx, [[-46.0, -52.0], [-76.0, -42.0]])


# --------------------------------------------------------------------------- association and SINR


def test_association_strongest_and_bias():
    rx = np.array([[-70.0, -75.0, -90.0], [-80.0, -79.0, -60.0], [-65.0, -65.0, -100.0]])
    assert associate(rx).tolist() == [0, 2, 0]  # ties go to the lower index
    # A 6 dB range-expansion bias on cell 1 takes over device 0 (5 dB weaker) and the tie.
    assert associate(rx, np.array([0.0, 6.0, 0.0])).tolist() == [1, 2, 1]
    assert associate(rx, 3.0).tolist() == [0, 2, 0]  # a common bias changes nothing


def test_sinr_of_an_isolated_link_is_the_link_budget():
    rng = np.random.default_rng(1)
    rx = rng.uniform(-120.0, -60.0, size=(50, 4))
    serving = associate(rx)
    noise = thermal_noise_dbm(100e6, 9.0)
    expected = rx[np.arange(50), serving] - noise
    # All other cells silent:
    np.testing.assert_allclose(sinr_db(rx, serving, 0.0, noise), expected, rtol=0, atol=1e-9)
    # One cell only:
    np.testing.assert_allclose(sinr_db(rx[:, :1], np.zeros(50, int), 1.0, noise), rx[:, 0] - noise, atol=1e-9)
    # The serving cell's own load does not matter.
    load = np.zeros(4)
    load[2] = 1.0
    only_cell_2 = serving == 2
    np.testing.assert_allclose(sinr_db(rx, serving, load, noise)[only_cell_2], expected[only_cell_2], atol=1e-9)
    # Without noise and interference the SINR is infinite, not NaN.
    assert sinr_db(rx[:1], serving[:1], 0.0, -np.inf)[0] == np.inf


def test_interference_scales_with_load():
    rx = np.array([[-60.0, -70.0, -80.0], [-90.0, -65.0, -75.0]])
    serving = np.array([0, 1])
    s_mw = 10 ** (np.array([-60.0, -65.0]) / 10)
    full_load_i_mw = np.array([10**-7 + 10**-8, 10**-9 + 10**-7.5])  # the other two cells of each row
    for load in (0.1, 0.5, 1.0):
        got = 10 ** (sinr_db(rx, serving, load, -np.inf) / 10)
        np.testing.assert_allclose(s_mw / got, load * full_load_i_mw, rtol=1e-12)
    # Per-cell loads weight each interferer separately; fading multiplies each link.
    g = np.array([[2.0, 0.5, 4.0], [1.0, 1.0, 1.0]])
    got = 10 ** (sinr_db(rx, serving, np.array([0.3, 0.2, 0.7]), -np.inf, fading_gain=g) / 10)
    expected = np.array([2e-6 / (0.2 * 0.5e-7 + 0.7 * 4e-8), 10**-6.5 / (0.3 * 1e-9 + 0.7 * 10**-7.5)])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="load"):
        sinr_db(rx, serving, 1.5, -np.inf)
    with pytest.raises(ValueError, match="serving"):
        sinr_db(rx, np.array([0, 3]), 1.0, -np.inf)


def test_uplink_sinr_one_interferer_per_cell():
    # Devices 0, 1 in cell 0; devices 2, 3 in cell 1. rx[u, c]: power cell c receives from device u.
    rx = np.array([[-70.0, -95.0], [-75.0, -85.0], [-100.0, -72.0], [-90.0, -68.0]])
    serving = np.array([0, 0, 1, 1])
    noise = -100.0
    n_mw = 1e-10
    # Cell 1 schedules device 3, cell 0 schedules device 1; cell 1 active half the time.
    got = uplink_sinr_db(rx, serving, np.array([1.0, 0.5]), noise, interferer=np.array([1, 3]))
    p = 10 ** (rx / 10)
    expected = [
        p[0, 0] / (0.5 * p[3, 0] + n_mw),
        p[1, 0] / (0.5 * p[3, 0] + n_mw),
        p[2, 1] / (1.0 * p[1, 1] + n_mw),
        p[3, 1] / (1.0 * p[1, 1] + n_mw),
    ]
    np.testing.assert_allclose(got, 10 * np.log10(expected), atol=1e-9)
    # The mean-interference model is the average of the linear interference over each cell's devices.
    i_of = {}
    for k1 in (2, 3):
        for k0 in (0, 1):
            s = uplink_sinr_db(rx, serving, 1.0, -np.inf, interferer=np.array([k0, k1]))
            i_of[(k0, k1)] = p[np.arange(4), serving] / 10 ** (s / 10)
    mean_i = np.mean(list(i_of.values()), axis=0)
    s_mean = uplink_sinr_db(rx, serving, 1.0, -np.inf)
    np.testing.assert_allclose(p[np.arange(4), serving] / 10 ** (s_mean / 10), mean_i, rtol=1e-12)
    # Silent cells (-1) and zero load give the link budget.
    np.testing.assert_allclose(
        uplink_sinr_db(rx, serving, 1.0, noise, interferer=np.array([-1, -1])), rx[np.arange(4), serving] - noise
    )
    with pytest.raises(ValueError, match="served by that cell"):
        uplink_sinr_db(rx, serving, 1.0, noise, interferer=np.array([2, 3]))


def test_draw_uplink_interferers_uniform_within_cell():
    serving = np.array([0, 1, 1, 0, 1, 3])  # cell 2 has no device
    rng = np.random.default_rng(5)
    draws = np.array([draw_uplink_interferers(serving, 4, rng) for _ in range(3000)])
    assert np.all(draws[:, 2] == -1) and np.all(draws[:, 3] == 5)
    assert np.all(serving[draws[:, 0]] == 0) and np.all(serving[draws[:, 1]] == 1)
    # Cell 1's three devices are each picked about 1/3 of the time (binomial sd 0.0086 at n = 3000).
    freq = np.array([np.mean(draws[:, 1] == k) for k in (1, 2, 4)])
    np.testing.assert_allclose(freq, 1 / 3, atol=0.04)


# --------------------------------------------------------------------------- rates


def test_shannon_gap_and_cap():
    assert shannon_spectral_efficiency(0.0) == pytest.approx(1.0)
    assert shannon_spectral_efficiency(10 * np.log10(3.0)) == pytest.approx(2.0)
    # A gap of G dB is the same as G dB less SINR.
    np.testing.assert_allclose(shannon_spectral_efficiency(13.0, gap_db=3.0), shannon_spectral_efficiency(10.0))
    se = shannon_spectral_efficiency(np.array([-np.inf, 0.0, 30.0, 60.0]), max_se=MAX_SE_256QAM)
    np.testing.assert_allclose(se, [0.0, 1.0, MAX_SE_256QAM, MAX_SE_256QAM])
    assert MAX_SE_256QAM == pytest.approx(7.4063, abs=1e-4)


def test_cqi_tables_are_the_38214_tables():
    for table in (CQI_TABLE_1, CQI_TABLE_2):
        assert [e.cqi for e in table] == list(range(1, 16))
        for e in table:
            # The spec prints Qm * R / 1024 rounded half-up to 4 decimals.
            assert e.efficiency == pytest.approx(e.qm * e.code_rate_x1024 / 1024, abs=5e-5 + 1e-12)
            assert e.qm == {"QPSK": 2, "16QAM": 4, "64QAM": 6, "256QAM": 8}[e.modulation]
    assert CQI_TABLE_1[-1].efficiency == 5.5547 and CQI_TABLE_2[-1].efficiency == 7.4063


def test_cqi_mapping_monotone_zero_below_first_threshold_top_at_high_sinr():
    sinr = np.linspace(-20.0, 40.0, 2401)
    for table in (1, 2):
        thr = cqi_thresholds_db(table)
        assert thr.shape == (15,) and np.all(np.diff(thr) > 0)
        se = cqi_spectral_efficiency(sinr, table=table)
        assert np.all(np.diff(se) >= 0)
        assert np.all(se[sinr < thr[0]] == 0.0)
        assert cqi_index(thr[0], table=table) == 1  # the threshold itself is reached
        assert cqi_spectral_efficiency(-np.inf, table=table) == 0.0
        # Below the Shannon bound everywhere (a BLER-0.1 curve cannot beat capacity).
        assert np.all(se <= shannon_spectral_efficiency(sinr) + 1e-12)
    assert cqi_spectral_efficiency(-6.0) == 0.0 and cqi_spectral_efficiency(-5.6) == 0.1523
    assert cqi_spectral_efficiency(40.0, table=1) == 5.5547
    assert cqi_spectral_efficiency(40.0, table=2) == 7.4063
    # Table 2 shares Table 1's thresholds where the efficiencies coincide.
    t1 = dict(zip([e.efficiency for e in CQI_TABLE_1], cqi_thresholds_db(1), strict=True))
    for e, thr in zip(CQI_TABLE_2, cqi_thresholds_db(2), strict=True):
        if e.efficiency in t1:
            assert thr == t1[e.efficiency]
    # The curve is overridable.
    custom = np.arange(15, dtype=float)
    assert cqi_index(np.array([-0.5, 0.0, 7.2, 99.0]), thresholds_db=custom).tolist() == [0, 1, 8, 15]
    with pytest.raises(ValueError, match="thresholds_db"):
        cqi_index(0.0, thresholds_db=custom[::-1])
    with pytest.raises(ValueError, match="table"):
        cqi_spectral_efficiency(0.0, table=3)


def test_nr_peak_rate_38306_examples():
    n78 = band("n78")
    # TS 38.306 4.1.2 worked out: FR1 DL, 100 MHz, 273 PRB, 4 layers, 256QAM, f = 1, OH 0.14 -> 2337.0 Mb/s.
    dl = nr_peak_rate_bps(n78.n_prb, n78.scs_khz, layers=4, qm=8, overhead=link.PEAK_RATE_OVERHEAD["FR1_DL"])
    assert dl / 1e6 == pytest.approx(2337.0, abs=0.05)
    # FR1 UL, 1 layer, 256QAM, OH 0.08 -> 625.0 Mb/s.
    ul = nr_peak_rate_bps(273, 30, layers=1, qm=8, overhead=0.08)
    assert ul / 1e6 == pytest.approx(625.0, abs=0.05)
    # FR2 DL, 400 MHz at 120 kHz (264 PRB), 2 layers, 64QAM, OH 0.18 -> 3232.3 Mb/s.
    assert nr_peak_rate_bps(264, 120, layers=2, qm=6, overhead=0.18) / 1e6 == pytest.approx(3232.3, abs=0.05)
    assert nr_peak_rate_bps(273, 30, layers=4, qm=8, scaling=0.75, overhead=0.14) == pytest.approx(0.75 * dl)


def test_n78_shannon_rate_at_max_se_is_in_the_38306_ballpark():
    """Per layer, B * SE_max * (1 - OH) versus the 38.306 rate of one layer.

    The two differ by exactly two known factors: the 38.306 formula counts only the
    N_PRB * 12 subcarriers (98.28 of the 100 MHz for n78: guard bands) and 14 * 2^mu
    symbols per ms rather than SCS symbols per second (the cyclic prefix: 28 000 / 30 000
    = 0.933). We check that identity to 1e-9 and that the ratio is in the 0.75-0.95 ballpark.
    """
    n78 = band("n78")
    oh = link.PEAK_RATE_OVERHEAD["FR1_DL"]
    shannon = rate_bps(n78.bandwidth_hz, shannon_spectral_efficiency(80.0, max_se=MAX_SE_256QAM), oh)
    peak_per_layer = nr_peak_rate_bps(n78.n_prb, n78.scs_khz, layers=1, qm=8, overhead=oh)
    guard = n78.occupied_bandwidth_hz / n78.bandwidth_hz
    cyclic_prefix = 14 * 2**n78.mu * 1e3 / (n78.scs_khz * 1e3)
    assert guard == pytest.approx(0.98280) and cyclic_prefix == pytest.approx(14 / 15)
    assert peak_per_layer / shannon == pytest.approx(guard * cyclic_prefix, rel=1e-9)
    assert 0.75 < peak_per_layer / shannon < 0.95
    assert shannon / 1e6 == pytest.approx(636.9, abs=0.1)  # 100 MHz * 7.40625 b/s/Hz * 0.86


# --------------------------------------------------------------------------- bands


def test_band_presets():
    assert set(BANDS) >= {"n78", "fr3_7ghz", "subthz_140ghz"}
    n78 = band("n78")
    assert (n78.fc_ghz, n78.bandwidth_hz, n78.scs_khz, n78.n_prb, n78.mu) == (3.5, 100e6, 30, 273, 1)
    assert band("fr3_7ghz").bandwidth_hz == 400e6 and band("subthz_140ghz").fc_ghz == 140.0
    assert band("subthz_140ghz").default_pathloss == "subthz" and n78.default_pathloss == "38.901"
    for b in BANDS.values():
        assert b.occupied_bandwidth_hz <= b.bandwidth_hz
        assert b.sources and all(isinstance(s, str) for s in b.sources)
    with pytest.raises(dataclasses.FrozenInstanceError):
        n78.n_prb = 1  # type: ignore[misc]
    with pytest.raises(ValueError, match="known bands: n78, fr3_7ghz, subthz_140ghz"):
        band("n79")
    with pytest.raises(ValueError, match="occupy"):
        dataclasses.replace(n78, n_prb=300)


def test_subthz_preset_link_budget_is_a_short_range_link():
    # 140 GHz at 50 m in free space: 20 + 25 + 15 - 109.35 dB -> about -49.3 dBm; noise over
    # 2 GHz with NF 11.7 dB is -69.3 dBm: about 20 dB SNR, the regime the preset is for.
    b = band("subthz_140ghz")
    fspl_db = 20 * np.log10(4 * np.pi * 50.0 * b.fc_ghz * 1e9 / 299_792_458.0)
    rx = received_power_dbm(b.bs_tx_power_dbm, b.bs_antenna_gain_dbi, b.ue_antenna_gain_dbi, fspl_db)
    snr = rx - thermal_noise_dbm(b.bandwidth_hz, b.ue_noise_figure_db)
    assert 15.0 < snr < 25.0


# --------------------------------------------------------------------------- stochastic geometry


def _abg_coverage_alpha4(threshold_db: np.ndarray) -> np.ndarray:
    """p_c(T) = 1 / (1 + rho(T, 4)), rho(T, 4) = sqrt(T) (pi/2 - arctan(1/sqrt(T))).

    Andrews, Baccelli & Ganti 2011, Theorem 2 without noise and its alpha = 4 case: PPP network,
    Rayleigh fading, path-loss exponent 4, nearest-BS association; independent of density.
    """
    t = 10 ** (np.asarray(threshold_db) / 10)
    return 1.0 / (1.0 + np.sqrt(t) * (np.pi / 2 - np.arctan(1.0 / np.sqrt(t))))


def test_ppp_rayleigh_coverage_matches_andrews_baccelli_ganti():
    """Monte Carlo downlink SINR of a typical user at the origin of a PPP of base stations.

    Set-up: units with pi * lambda = 1 so the base stations of one realisation are a
    Poisson(N) number of points uniform in the disc of radius sqrt(N); every BS transmits
    0 dBm at full load, PL = 40 log10(d), i.i.d. Exp(1) fading on every link, no noise,
    association to the nearest BS (the strongest before fading). Only distances matter
    for a user at the centre, so no angles are drawn.

    Tolerance: each p_hat(T) is a binomial mean over n realisations, standard error at
    most 0.5 / sqrt(n) = 0.0035 for n = 20 000; we allow 4 standard errors (0.0141).
    Truncating the network at radius R drops interferers; to first order this raises
    p_c by (T / N) * 2 / (1 + rho)^3 (from rho_R = sqrt(T) (arctan(R^2 / (r^2 sqrt T)) -
    arctan(1 / sqrt T)) in ABG's derivation), at most 0.0012 for N = 300 over these
    thresholds (largest at 0 dB); we allow 0.0015. Total 0.0156 < 0.02. (Checked over
    20 seeds: the largest error was 0.0084; with every cell at 0.8 load instead of full
    load the error reaches 0.048.)
    """
    rng = np.random.default_rng(20111101)
    n_mean, n_real, chunk = 300, 20_000, 5_000
    radius_m = np.sqrt(n_mean)  # pi * lambda = 1 -> lambda * pi * R^2 = N
    thresholds_db = np.array([-10.0, -5.0, 0.0, 5.0, 10.0])

    sinr = []
    for _ in range(n_real // chunk):
        n_bs = rng.poisson(n_mean, size=chunk)  # [chunk] int, base stations per realisation
        width = int(n_bs.max())
        # [chunk, width] float64, m: distance of each BS, uniform in the disc; columns past n_bs are padding
        d = radius_m * np.sqrt(1.0 - rng.random((chunk, width)))
        is_bs = np.arange(width)[None, :] < n_bs[:, None]
        # [chunk, width] float64, dB: PL = 40 log10(d) (power law, 0 dB at 1 m); padding is an infinite loss
        pl = np.full((chunk, width), np.inf)
        pl[is_bs] = power_law_db(d[is_bs], 4.0, reference_db=0.0)
        rx = received_power_dbm(0.0, 0.0, 0.0, pl)  # -inf dBm for padding
        serving = associate(rx)
        fading = rng.exponential(1.0, size=(chunk, width))
        sinr.append(sinr_db(rx, serving, 1.0, -np.inf, fading_gain=fading))
    sinr = np.concatenate(sinr)

    assert np.all(np.isfinite(sinr))
    p_hat = np.array([np.mean(sinr > t) for t in thresholds_db])
    tol = 4 * 0.5 / np.sqrt(n_real) + 0.0015
    assert tol < 0.02
    np.testing.assert_allclose(p_hat, _abg_coverage_alpha4(thresholds_db), rtol=0, atol=tol)
    # Sanity of the closed form itself: p_c(0 dB) = 1 / (1 + pi/4) = 0.5601.
    assert _abg_coverage_alpha4(0.0) == pytest.approx(1 / (1 + np.pi / 4))
