"""The radio map for moving devices: spatially consistent fields, consistency with network.rates, lookups.

Statistical checks state their tolerance from the spread of the estimator, measured over
seeds; every generator is seeded, so the runs are reproducible.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import hex_layout_xy, hex_shifts_m, net_sites

from airan.radio import network, pathloss, radiomap
from airan.radio.bands import band
from airan.scenario import Channel

REL = 1e-9


def make_sites(channel, xy, **kwargs):
    return net_sites(channel, xy, downtilt_deg=6.0, **kwargs)


def lag_correlation(fields: np.ndarray, lag_x: int, lag_y: int) -> np.ndarray:
    """Mean of z(p) z(p + lag) over a grid, per field ([n, ny, nx] zero-mean unit-variance fields)."""
    ny, nx = fields.shape[1:]
    return (fields[:, : ny - lag_y, : nx - lag_x] * fields[:, lag_y:, lag_x:]).mean(axis=(1, 2))


# =============================================================================== fields


def test_fast_fading_is_rejected_with_a_one_line_error():
    ch = Channel(model="tr38901", fast_fading="rayleigh")
    sites = make_sites(ch, [(0.0, 0.0)])
    with pytest.raises(network.RadioError) as err:
        radiomap.radio_field(ch, sites, (-100, 100, -100, 100), 10.0, 1.5, np.random.default_rng(0))
    assert str(err.value) == ('channel.fast_fading: must be "none" with moving devices (the radio map holds local '
                              "means), got 'rayleigh'")


def test_gaussian_fields_have_unit_variance_and_isotropic_exponential_correlation():
    # 16 fields of 3 x 3 km at 5 m, d_corr = 50 m. Per field the estimates below had a standard
    # deviation of 0.03 (variance and correlations, over 16 fields), so the mean over 16 has
    # 0.0075 and 0.03 is 4 of those. Lag (6, 8) cells is 50 m along a diagonal: the isotropic
    # model gives exp(-1) = 0.37 there, a separable AR(1) field exp(-70/50) = 0.25.
    fields = radiomap.correlated_gaussian_fields(np.random.default_rng(0), 600, 600, 5.0, 50.0, 16)
    assert fields.dtype == np.float32 and fields.shape == (16, 360_000)
    f = fields.astype(np.float64).reshape(16, 600, 600)
    assert np.mean(f) == pytest.approx(0.0, abs=0.03)
    assert np.mean(f**2) == pytest.approx(1.0, abs=0.03)
    for lag, distance_m in (((10, 0), 50.0), ((0, 10), 50.0), ((6, 8), 50.0), ((12, 16), 100.0), ((3, 0), 15.0)):
        assert np.mean(lag_correlation(f, *lag)) == pytest.approx(math.exp(-distance_m / 50.0), abs=0.03), lag


def test_shadowing_follows_the_los_and_nlos_decorrelation_distances_and_sigma():
    # 24 co-located UMa sites, 2 x 2 km at 9.25 m: a lag of 4 cells is 37 m, the LOS correlation
    # distance (TR 38.901 Table 7.5-6), so the LOS field's correlation there is exp(-1) and the
    # NLOS field's (50 m) exp(-37/50). Per field the estimate's sd is about 0.045, so 0.04 is
    # over 4 sd of the mean over 24.
    ch = Channel(model="tr38901", los="los")
    n = 24
    sites = make_sites(ch, np.zeros((n, 2)))
    field = radiomap.radio_field(ch, sites, (-1000, 1000, -1000, 1000), 9.25, 1.5, np.random.default_rng(1))
    assert field.los_uniform is None  # LOS forced: no state field
    shape = (n, field.ny, field.nx)
    los_f = field.shadow_los.T.astype(np.float64).reshape(shape)
    nlos_f = field.shadow_nlos.T.astype(np.float64).reshape(shape)
    assert np.mean(lag_correlation(los_f, 4, 0)) == pytest.approx(math.exp(-1.0), abs=0.04)
    assert np.mean(lag_correlation(nlos_f, 4, 0)) == pytest.approx(math.exp(-37.0 / 50.0), abs=0.04)
    assert np.mean(los_f**2) == pytest.approx(1.0, abs=0.04)
    # the links scale the LOS field by sigma_SF = 4 dB (UMa LOS)
    x, y = radiomap.grid_xy_m(field, np.arange(0, field.n_points, 97))
    links = radiomap.links_at(field, x, y)
    index = radiomap.grid_index(field, x, y)
    np.testing.assert_allclose(links.shadowing_db, 4.0 * field.shadow_los[index, links.site], rtol=1e-6)


def test_los_state_fraction_follows_the_los_probability():
    # 400 co-located UMa sites with independent LOS-state fields (50 m correlation); in each
    # distance ring the LOS fraction over sites and points estimates the ring's mean P_LOS.
    # Over 10 seeds the deviation had a standard deviation of at most 0.012 (innermost ring),
    # so 0.05 is over 4 of them.
    ch = Channel(model="tr38901", shadowing=False)
    n = 400
    sites = make_sites(ch, np.zeros((n, 2)))
    field = radiomap.radio_field(ch, sites, (-300, 300, -300, 300), 5.0, 1.5, np.random.default_rng(2))
    assert field.shadow_los is None and field.los_uniform.shape == (field.n_points, n)
    x, y = radiomap.grid_xy_m(field, np.arange(field.n_points))
    d = np.hypot(x, y)
    p_los = pathloss.los_probability("UMa", d, 1.5)
    los = field.los_uniform < p_los[:, None]
    ring = np.digitize(d, [20.0, 60.0, 120.0, 200.0, 300.0])
    for k in range(1, 5):
        assert los[ring == k].mean() == pytest.approx(p_los[ring == k].mean(), abs=0.05), k
    # links_at uses that state for the serving site
    some = np.arange(0, field.n_points, 13)
    links = radiomap.links_at(field, x[some], y[some])
    np.testing.assert_array_equal(links.los, los[some, links.site])


# =============================================================================== the map


def _hetnet(channel):
    macro = hex_layout_xy(1, 500.0)
    small = np.array([(250.0, 150.0), (-200.0, -250.0), (100.0, -400.0)])
    return make_sites(channel, np.vstack([macro, small]), sectors=[3] * 7 + [1] * 3,
                      environment=["UMa"] * 7 + ["UMi"] * 3, band_names=["n78"] * 7 + ["fr3_7ghz"] * 3,
                      tx_power_dbm=[np.nan] * 7 + [40.0] * 3, bias_db=[0.0] * 7 + [3.0] * 3)


CASES = {
    # single band, wrap-around, probabilistic LOS, shadowing, coupled loads
    "coupled-wrap": (dict(model="tr38901", interference="coupled"), "hex", True),
    # UMa n78 macros + UMi fr3 small cells with their own power and bias, cells always on
    "hetnet-full": (dict(model="tr38901", interference="full"), "hetnet", False),
    # CQI rates, no interference
    "cqi-none": (dict(model="tr38901", interference="none", rate="cqi"), "hex", False),
    # hetnet with coupled loads and no noise (interference-limited)
    "hetnet-coupled-noiseless": (dict(model="tr38901", interference="coupled", noise=False), "hetnet", False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_map_entries_equal_the_rates_of_devices_at_grid_points(case):
    kw, layout, wrap = CASES[case]
    ch = Channel(**kw)
    sites = make_sites(ch, hex_layout_xy(1, 500.0), sectors=3) if layout == "hex" else _hetnet(ch)
    field = radiomap.radio_field(ch, sites, (-800, 800, -800, 800), 10.0, 1.5, np.random.default_rng(3),
                                 wrap_shifts_m=hex_shifts_m(1, 500.0) if wrap else None)
    rng = np.random.default_rng(4)
    n = 300
    x, y = rng.uniform(-800, 800, n), rng.uniform(-800, 800, n)  # snapped to the nearest grid point
    links = radiomap.links_at(field, x, y)
    demand = np.full(n, 8e6)
    r = network.rates(ch, links, demand, demand)
    if kw["interference"] == "coupled":
        assert r.iterations > 1 and np.any((r.load_dl > 0.05) & (r.load_dl < 0.95))
    rmap = radiomap.radio_map(ch, field, links, r.interference_load_dl, r.interference_load_ul, k=5)
    i = radiomap.grid_index(field, x, y)
    np.testing.assert_array_equal(rmap.cell[i, 0], links.cell)
    np.testing.assert_allclose(rmap.sinr_dl_db[i, 0], r.sinr_dl_db, rtol=REL)
    np.testing.assert_allclose(rmap.sinr_ul_db[i, 0], r.sinr_ul_db, rtol=REL)
    np.testing.assert_allclose(rmap.rate_dl_bps[i, 0], r.downlink_bps, rtol=REL)
    np.testing.assert_allclose(rmap.rate_ul_bps[i, 0], r.uplink_bps, rtol=REL)
    np.testing.assert_allclose(rmap.tx_power_dbm[i, 0], links.tx_power_dbm, rtol=REL)
    # RSRP per resource element of the serving cell (float32)
    n_sc = np.array([12 * band(b).n_prb for b in links.cells.band])
    rsrp = links.rx_dl_dbm[np.arange(n), links.cell] - 10 * np.log10(n_sc[links.cell])
    np.testing.assert_allclose(rmap.rsrp_dbm[i, 0], rsrp, rtol=1e-6)
    # candidates best first by RSRP + bias, distinct cells
    score = rmap.rsrp_dbm.astype(np.float64) + rmap.cell_bias_db[rmap.cell]
    assert np.all(np.diff(score, axis=1) <= 1e-4)
    assert np.all(np.sort(rmap.cell, axis=1)[:, 1:] != np.sort(rmap.cell, axis=1)[:, :-1])
    np.testing.assert_array_equal(rmap.cell_bias_db, sites.bias_db[links.cells.site])


def test_links_at_evaluates_each_grid_point_once_with_the_values_of_every_device():
    ch = Channel(model="tr38901")
    sites = make_sites(ch, hex_layout_xy(1, 500.0), sectors=3)
    field = radiomap.radio_field(ch, sites, (-800, 800, -800, 800), 40.0, 1.5, np.random.default_rng(3),
                                 wrap_shifts_m=hex_shifts_m(1, 500.0))
    rng = np.random.default_rng(4)
    x, y = rng.uniform(-800, 800, 3000), rng.uniform(-800, 800, 3000)  # about 1 600 points, most shared
    links = radiomap.links_at(field, x, y)
    # the plain evaluation: one row per device
    radio = network._site_radio(ch, field.sites, field.where)
    b = radiomap._budget(ch, field, radio, radiomap.grid_index(field, x, y))
    each = network._links(ch, radio, b.geo, b.pl, b.sf, b.los, b.coupling, None, None)
    for name in network.Links._fields[1:-2]:
        np.testing.assert_array_equal(getattr(links, name), getattr(each, name), err_msg=name)
    assert np.all(links.fading_dl == 1.0) and np.all(links.fading_ul == 1.0) and links.fading_dl.shape == (3000, 21)


@pytest.mark.parametrize("interference", ["coupled", "none"])
def test_a_map_from_known_points_and_the_rates_uplink_interference_is_the_same(interference, monkeypatch):
    # 65 x 65 points in chunks of 64 points: the last chunk is a single point, and the known
    # points leave chunks with no, one and several points to evaluate
    monkeypatch.setattr(radiomap, "_CHUNK_LINKS", 64 * 49)
    ch = Channel(model="tr38901", interference=interference)
    sites = make_sites(ch, hex_layout_xy(1, 500.0), sectors=3)
    field = radiomap.radio_field(ch, sites, (-640, 640, -640, 640), 20.0, 1.5, np.random.default_rng(3),
                                 wrap_shifts_m=hex_shifts_m(1, 500.0))
    assert field.n_points == 65 * 65
    skip = np.r_[5, 64 + 3, 2 * 64 + 7, 2 * 64 + 40, np.arange(10 * 64, 11 * 64), 65 * 65 - 1]
    points = np.setdiff1d(np.arange(field.n_points), skip)
    links, known = radiomap._links_at(field, *radiomap.grid_xy_m(field, points))
    np.testing.assert_array_equal(known.index, points)
    demand = np.full(points.shape[0], 1e5)
    r = network.rates(ch, links, demand, demand)
    plain = radiomap.radio_map(ch, field, links, r.interference_load_dl, r.interference_load_ul, k=5)
    fast = radiomap.radio_map(ch, field, links, r.interference_load_dl, r.interference_load_ul, k=5,
                              interference_ul_mw=r.interference_ul_mw, known=known)
    for name in radiomap.RadioMap._fields:
        np.testing.assert_array_equal(getattr(fast, name), getattr(plain, name), err_msg=name)


def test_a_point_near_only_one_site_has_that_sites_cell_first_and_short_rows_are_padded():
    ch = Channel(model="tr38901", los="nlos")
    sites = make_sites(ch, [(0.0, 0.0), (3000.0, 0.0), (0.0, 3000.0)])
    field = radiomap.radio_field(ch, sites, (-300, 300, -300, 300), 10.0, 1.5, np.random.default_rng(5))
    x, y = radiomap.grid_xy_m(field, np.arange(field.n_points))
    links = radiomap.links_at(field, x, y)
    assert not links.los.any()  # forced NLOS
    r = network.rates(ch, links, np.zeros(field.n_points), np.zeros(field.n_points))
    rmap = radiomap.radio_map(ch, field, links, r.interference_load_dl, r.interference_load_ul, k=8)
    assert rmap.cell.shape == (field.n_points, 8)
    assert np.all(rmap.cell[:, 0] == 0)
    assert np.all(rmap.cell[:, 3:] == -1) and np.all(rmap.rate_dl_bps[:, 3:] == 0.0)
    assert np.all(np.isneginf(rmap.sinr_dl_db[:, 3:])) and np.all(np.isnan(rmap.tx_power_dbm[:, 3:]))
    # a grid point on the site itself is evaluated at the model's minimum distance (10 m)
    on_site = radiomap.grid_index(field, 0.0, 0.0)
    assert links.pathloss_db[on_site] == pytest.approx(
        pathloss.pathloss_db("UMa", 3.5, 10.0, 25.0, 1.5, False), rel=1e-12)


def test_the_same_seed_gives_identical_maps():
    ch = Channel(model="tr38901")
    sites = make_sites(ch, hex_layout_xy(1, 400.0), sectors=3)

    def build(seed):
        field = radiomap.radio_field(ch, sites, (-500, 500, -500, 500), 20.0, 1.5, np.random.default_rng(seed))
        links = radiomap.links_at(field, np.array([0.0, 100.0, -200.0]), np.array([50.0, -300.0, 10.0]))
        r = network.rates(ch, links, np.full(3, 1e6), np.full(3, 1e6))
        return radiomap.radio_map(ch, field, links, r.interference_load_dl, r.interference_load_ul, k=4)

    a, b, c = build(7), build(7), build(8)
    for name in radiomap.RadioMap._fields:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert not np.array_equal(a.sinr_dl_db, c.sinr_dl_db)


def test_grid_index_rounds_to_the_nearest_point_and_clips():
    ch = Channel(model="tr38901")
    field = radiomap.radio_field(ch, make_sites(ch, [(0.0, 0.0)]), (0, 95, 0, 45), 10.0, 1.5,
                                 np.random.default_rng(0))
    assert (field.nx, field.ny) == (11, 6)  # covers the area: the last line at or beyond its edge
    idx = radiomap.grid_index(field, np.array([0.0, 14.9, 15.1, -50.0, 1e6, 37.0]),
                              np.array([0.0, 0.0, 0.0, -1.0, 1e6, 21.0]))
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx, [0, 1, 2, 0, 6 * 11 - 1, 2 * 11 + 4])
    x, y = radiomap.grid_xy_m(field, idx)
    np.testing.assert_array_equal(x, [0.0, 10.0, 20.0, 0.0, 100.0, 40.0])
    np.testing.assert_array_equal(y, [0.0, 0.0, 0.0, 0.0, 50.0, 20.0])
