"""The radio in whole runs: link budget, exact transfer times, cell load, energy hook, and
the downlink SINR of a Poisson network against stochastic geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import hex_layout_xy, hex_shifts_m, net_sites

import airan
from airan.radio import link, network, pathloss
from airan.radio.bands import band
from airan.scenario import Channel

EXACT = 1e-9


def radio_raw(*, channel: dict, sites: list[dict] | None = None, device: dict | None = None,
              duration_s: float = 60.0, seed: int = 5, policy: str = "offload") -> dict:
    group = {
        "name": "d", "count": 20, "workload": "w", "rate_hz": 1.0, "compute_flops_per_s": 1e12,
        "power_idle_w": 0.5, "power_compute_w": 2.0, "power_tx_w": 1.0, "power_rx_w": 0.3, "battery_wh": 15.0,
        "cell_radius_m": 280.0, "min_distance_m": 35.0,
    }
    group.update(device or {})
    return {
        "simulation": {"duration_s": duration_s, "seed": seed},
        "policy": {"name": policy},
        "channel": channel,
        "sites": sites or [{"name": "a", "gpu": {"servers": 4, "flops_per_s": 1e14}}],
        "workloads": [{"name": "w", "flops": 1e10, "input_bytes": 60_000.0, "output_bytes": 2_000.0,
                       "deadline_s": 0.1}],
        "devices": [group],
    }


def hex_sites(n_rings: int = 1, isd_m: float = 500.0, **extra) -> list[dict]:
    points = [(0.0, 0.0)]
    if n_rings >= 1:
        points += [(isd_m * math.cos(math.pi / 3 * k), isd_m * math.sin(math.pi / 3 * k)) for k in range(6)]
    return [{"name": f"s{i}", "x_m": x, "y_m": y, "gpu": {"servers": 2, "flops_per_s": 1e14}, **extra}
            for i, (x, y) in enumerate(points)]


def test_isolated_link_sinr_equals_the_link_budget():
    # one omni site, LOS forced, no shadowing or fading: SINR = P_rx - noise in both directions
    raw = radio_raw(channel={"model": "tr38901", "environment": "UMa", "los": "los", "shadowing": False})
    result = airan.run(airan.scenario_from_dict(raw))
    dev = result.devices
    bd = band("n78")
    d2d = np.hypot(dev["x_m"], dev["y_m"])
    pl = pathloss.pathloss_db("UMa", bd.fc_ghz, d2d, 25.0, 1.5, np.ones(d2d.shape, bool))
    np.testing.assert_allclose(dev["pathloss_db"], pl, rtol=EXACT)
    coupling = pl - bd.bs_antenna_gain_dbi - bd.ue_antenna_gain_dbi
    np.testing.assert_allclose(dev["coupling_loss_db"], coupling, rtol=EXACT)
    noise_ue = -174.0 + 10 * math.log10(bd.bandwidth_hz) + bd.ue_noise_figure_db
    noise_bs = -174.0 + 10 * math.log10(bd.bandwidth_hz) + bd.bs_noise_figure_db
    np.testing.assert_allclose(dev["sinr_dl_db"], bd.bs_tx_power_dbm - coupling - noise_ue, rtol=EXACT)
    # uplink: open-loop power control, TS 38.213 7.1.1: min(Pmax, P0 + 10 log10(2^mu M_RB) + alpha PL)
    p0_dbm, alpha = airan.scenario.Channel().p0_dbm, airan.scenario.Channel().pc_alpha
    tx = np.minimum(bd.ue_max_power_dbm, p0_dbm + 10 * math.log10(2**bd.mu * bd.n_prb) + alpha * coupling)
    np.testing.assert_allclose(dev["tx_power_dbm"], tx, rtol=EXACT)
    np.testing.assert_allclose(dev["sinr_ul_db"], tx - coupling - noise_bs, rtol=EXACT)
    # rates: occupied bandwidth x (1 - overhead) x min(log2(1 + SINR), 7.4063)
    se = np.minimum(np.log2(1 + 10 ** (dev["sinr_ul_db"] / 10)), 7.4063)
    np.testing.assert_allclose(dev["rate_ul_bps"], bd.occupied_bandwidth_hz * 0.92 * se, rtol=EXACT)


def test_a_single_transfer_over_an_idle_cell_takes_size_over_rate():
    # one device, tasks 100 s apart: every transfer is alone in its cell
    raw = radio_raw(channel={"model": "tr38901"}, device={"count": 1, "rate_hz": 0.01, "arrival": "periodic"},
                    duration_s=1000.0)
    result = airan.run(airan.scenario_from_dict(raw), trace=True)
    t, dev = result.trace, result.devices
    assert len(t["task"]) >= 9
    np.testing.assert_allclose(t["uplink_s"], 60_000 * 8 / dev["rate_ul_bps"][0], rtol=EXACT)
    np.testing.assert_allclose(t["downlink_s"], 2_000 * 8 / dev["rate_dl_bps"][0], rtol=EXACT)
    np.testing.assert_allclose(t["rate_ul_bps"], dev["rate_ul_bps"][0])


def test_radiated_power_through_the_amplifier_adds_to_transmit_energy():
    raw = radio_raw(channel={"model": "tr38901", "ue_pa_efficiency": 0.4},
                    device={"count": 1, "rate_hz": 0.01, "arrival": "periodic"}, duration_s=1000.0)
    result = airan.run(airan.scenario_from_dict(raw), trace=True)
    radiated_w = 10 ** (result.devices["tx_power_dbm"][0] / 10) / 1000
    tx_power_w = 1.0 + radiated_w / 0.4
    airtime_s = result.trace["uplink_s"].sum()
    assert result.devices["energy_tx_j"][0] == pytest.approx(tx_power_w * airtime_s, rel=1e-9)


def test_association_picks_the_strongest_cell_and_bias_moves_it():
    raw = radio_raw(channel={"model": "tr38901", "los": "los", "shadowing": False},
                    sites=[{"name": "a", "gpu": {"servers": 1, "flops_per_s": 1e14}},
                           {"name": "b", "x_m": 400.0, "gpu": {"servers": 1, "flops_per_s": 1e14}}],
                    device={"count": 200, "cell_radius_m": 390.0, "sites": ["a"]}, policy="local")
    dev = airan.run(airan.scenario_from_dict(raw)).devices
    nearer_b = np.hypot(dev["x_m"] - 400.0, dev["y_m"]) < np.hypot(dev["x_m"], dev["y_m"])
    # equal sites and LOS everywhere: strongest = nearest
    np.testing.assert_array_equal(dev["site"] == "b", nearer_b)
    raw["sites"][1]["association_bias_db"] = 20.0
    biased = airan.run(airan.scenario_from_dict(raw)).devices
    assert (biased["site"] == "b").sum() > (dev["site"] == "b").sum()


def test_measured_cell_load_matches_the_load_coupling_prediction():
    # Work conservation: a cell's busy fraction is its offered airtime per second, which is what
    # the fixed point predicts from the same rates. With 7 x 3 cells, 210 devices at 2 tasks/s
    # over 400 s (cell loads 0.03-0.13), the relative deviation of a cell's measured load has a
    # standard deviation of 0.9-1.5 % (10 seeds; largest single deviation 4.2 %), so 10 % is
    # over 6 standard deviations and still catches a wrong rate or airtime model.
    raw = radio_raw(channel={"model": "tr38901"}, sites=hex_sites(sectors=3),
                    device={"count": 210, "rate_hz": 2.0}, duration_s=400.0)
    result = airan.run(airan.scenario_from_dict(raw))
    cells = result.cells
    busy = cells["load_ul_predicted"] > 0.02
    assert busy.sum() >= 10
    np.testing.assert_allclose(cells["load_ul"][busy], cells["load_ul_predicted"][busy], rtol=0.10)
    assert result.summary["cell_load_ul_mean"] == pytest.approx(np.mean(cells["load_ul"]), rel=1e-12)


def test_sharing_slows_transfers_as_devices_are_added():
    means = []
    for count in (5, 40, 160):
        raw = radio_raw(channel={"model": "tr38901", "shadowing": False, "los": "los"},
                        device={"count": count, "rate_hz": 2.0}, duration_s=120.0)
        means.append(airan.run(airan.scenario_from_dict(raw)).summary["uplink_mean_s"])
    assert means[0] < means[1] < means[2]


def test_proportional_fair_beats_equal_airtime_under_load():
    base = {"model": "tr38901", "shadowing": False, "los": "los"}
    out = {}
    for sharing in ("equal_time", "proportional_fair"):
        raw = radio_raw(channel={**base, "sharing": sharing}, device={"count": 150, "rate_hz": 2.0},
                        duration_s=120.0)
        out[sharing] = airan.run(airan.scenario_from_dict(raw)).summary["uplink_mean_s"]
    assert out["proportional_fair"] < out["equal_time"]


def abg_coverage(threshold_db: float) -> float:
    """Coverage P(SINR > T) of Andrews, Baccelli & Ganti (2011), Theorem 2 with alpha = 4, no noise."""
    t = 10 ** (threshold_db / 10)
    rho = math.sqrt(t) * (math.pi / 2 - math.atan(1 / math.sqrt(t)))
    return 1.0 / (1.0 + rho)


def test_downlink_sinr_of_a_poisson_network_matches_stochastic_geometry():
    # Poisson sites (25 per km^2 in a 10 x 10 km square), power-law path loss alpha = 4, Rayleigh
    # fading on every link, all cells always on, no noise, nearest-site association, sites as
    # high as the devices (so distances are the plane's). Devices are uniform in a 2.5 km disc at
    # the centre: typical users, 2.5 km from the edges (interference from beyond is < 1e-3 of the
    # total for alpha = 4). The spread of the pooled estimate comes mostly from the site
    # realisations: over 10 independent sets of 8 networks x 1500 devices its standard deviation
    # was about 0.005 at every threshold (largest deviation 0.014), so the 0.02 is about
    # 4 standard deviations. A wrong model fails it: cells at 0.8 load instead of 1 move the
    # coverage at 0 dB by about 0.05.
    thresholds = np.array([-10.0, -5.0, 0.0, 5.0, 10.0])
    covered = np.zeros(thresholds.size)
    n = 0
    for seed in range(8):
        rng = np.random.default_rng(1000 + seed)
        xy = rng.uniform(-5000, 5000, size=(rng.poisson(25 * 100), 2))
        sites = [{"name": "centre", "height_m": 1.5}] + [
            {"name": f"s{i}", "x_m": float(x), "y_m": float(y), "height_m": 1.5} for i, (x, y) in enumerate(xy)]
        raw = radio_raw(
            channel={"model": "power_law", "alpha": 4.0, "fast_fading": "rayleigh", "interference": "full",
                     "noise": False, "fc_ghz": 3.5},
            sites=sites, policy="local",
            device={"count": 1500, "sites": ["centre"], "cell_radius_m": 2500.0, "min_distance_m": 0.0,
                    "rate_hz": 1e-6},
            duration_s=1.0, seed=seed,
        )
        sinr = airan.run(airan.scenario_from_dict(raw)).devices["sinr_dl_db"]
        covered += (sinr[:, None] > thresholds[None, :]).sum(axis=0)
        n += sinr.size
    measured = covered / n
    theory = np.array([abg_coverage(t) for t in thresholds])
    np.testing.assert_allclose(measured, theory, atol=0.02)


def test_cqi_rates_are_below_shannon_and_quantised():
    raw = radio_raw(channel={"model": "tr38901", "rate": "cqi", "cqi_table": 2}, policy="local")
    dev = airan.run(airan.scenario_from_dict(raw)).devices
    se = dev["rate_dl_bps"] / (band("n78").occupied_bandwidth_hz * (1 - 0.14))
    table = {round(e, 4) for e in link.cqi_spectral_efficiency(np.linspace(-10, 40, 500), table=2)}
    assert set(np.round(se, 4)) <= table
    shannon = np.log2(1 + 10 ** (dev["sinr_dl_db"] / 10))
    assert np.all(se <= shannon + 1e-12)


def test_out_of_range_distance_is_a_one_line_scenario_error():
    raw = radio_raw(channel={"model": "tr38901"},
                    sites=[{"name": "a"}, {"name": "far", "x_m": 8000.0}])
    with pytest.raises(airan.BuildError, match=r"must be within \[10, 5000\] m .*channel.extrapolate"):
        airan.Simulation(airan.scenario_from_dict(raw))
    raw["channel"]["extrapolate"] = True
    airan.Simulation(airan.scenario_from_dict(raw))  # allowed once the user opts in


# =============================================================================== per-site radio parameters
# These call airan.radio.network directly (the scenario -> sites wiring lives in airan.build).


def annulus(rng, n, centre, r0=35.0, r1=290.0):
    r = np.sqrt(r0**2 + rng.random(n) * (r1**2 - r0**2))
    a = 2 * np.pi * rng.random(n)
    return centre[0] + r * np.cos(a), centre[1] + r * np.sin(a)


def test_uniform_per_site_parameters_are_bit_identical_to_none():
    ch = Channel(model="tr38901")
    xy = hex_layout_xy(1, 500.0)
    plain = net_sites(ch, xy, sectors=3)
    explicit = net_sites(ch, xy, sectors=3, environment=["UMa"] * 7, band_names=["n78"] * 7,
                         tx_power_dbm=np.full(7, np.nan))
    x, y = annulus(np.random.default_rng(1), 400, (0.0, 0.0), r1=700.0)
    h = np.full(400, 1.5)
    a = network.attach(ch, plain, x, y, h, np.random.default_rng(2))
    b = network.attach(ch, explicit, x, y, h, np.random.default_rng(2))
    for name in a._fields[1:]:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert set(a.cells.band) == {"n78"}
    demand = np.full(400, 1e6)
    ra, rb = network.rates(ch, a, demand, demand), network.rates(ch, b, demand, demand)
    for name in ra._fields:
        np.testing.assert_array_equal(getattr(ra, name), getattr(rb, name), err_msg=name)


def test_hetnet_links_follow_each_sites_environment():
    # a UMa macro and a UMi small cell: path loss, default height and shadowing spread per site
    ch = Channel(model="tr38901", los="nlos", shadowing=False)
    sites = net_sites(ch, [(0.0, 0.0), (300.0, 0.0)], environment=["UMa", "UMi"], bias_db=[0.0, 6.0])
    np.testing.assert_array_equal(sites.height_m, [25.0, 10.0])
    x, y = annulus(np.random.default_rng(3), 700, (150.0, 0.0), r0=20.0, r1=400.0)
    far = (np.hypot(x, y) > 12.0) & (np.hypot(x - 300.0, y) > 12.0)  # TR 38.901 needs d2D >= 10 m
    x, y = x[far], y[far]
    n = x.size
    links = network.attach(ch, sites, x, y, np.full(n, 1.5), np.random.default_rng(4))
    bd = band("n78")
    nlos = np.zeros(n, bool)
    pl_uma = pathloss.pathloss_db("UMa", bd.fc_ghz, np.hypot(x, y), 25.0, 1.5, nlos)
    pl_umi = pathloss.pathloss_db("UMi", bd.fc_ghz, np.hypot(x - 300.0, y), 10.0, 1.5, nlos)
    gains = bd.bs_antenna_gain_dbi + bd.ue_antenna_gain_dbi
    np.testing.assert_allclose(links.rx_dl_dbm[:, 0], bd.bs_tx_power_dbm - pl_uma + gains, rtol=EXACT)
    np.testing.assert_allclose(links.rx_dl_dbm[:, 1], bd.bs_tx_power_dbm - pl_umi + gains, rtol=EXACT)
    small = links.site == 1
    assert 50 < small.sum() < n - 50
    np.testing.assert_allclose(links.pathloss_db[small], pl_umi[small], rtol=EXACT)
    np.testing.assert_allclose(links.pathloss_db[~small], pl_uma[~small], rtol=EXACT)

    # sigma_SF per site: NLOS 6 dB (UMa) and 7.82 dB (UMi); the std of n = 4000 draws has a
    # standard error of sigma / sqrt(2 n) < 0.09 dB, so 0.4 dB is over 4 standard errors
    ch = Channel(model="tr38901", los="nlos")
    x, y = annulus(np.random.default_rng(5), 4200, (150.0, 0.0), r0=20.0, r1=400.0)
    far = (np.hypot(x, y) > 12.0) & (np.hypot(x - 300.0, y) > 12.0)
    x, y = x[far][:4000], y[far][:4000]
    n = x.size
    shadowed = network.attach(ch, sites, x, y, np.full(n, 1.5), np.random.default_rng(6))
    sf_uma = bd.bs_tx_power_dbm + gains - shadowed.rx_dl_dbm[:, 0] - pathloss.pathloss_db(
        "UMa", bd.fc_ghz, np.hypot(x, y), 25.0, 1.5, np.zeros(n, bool))
    sf_umi = bd.bs_tx_power_dbm + gains - shadowed.rx_dl_dbm[:, 1] - pathloss.pathloss_db(
        "UMi", bd.fc_ghz, np.hypot(x - 300.0, y), 10.0, 1.5, np.zeros(n, bool))
    assert np.std(sf_uma) == pytest.approx(6.0, abs=0.4)
    assert np.std(sf_umi) == pytest.approx(7.82, abs=0.4)


def test_cells_of_another_band_add_no_interference():
    # three n78 cells and one fr3_7ghz cell, all cells always on: the n78 devices' SINR is that of
    # the network without the fr3 cell (and its devices); on the same band it would interfere.
    ch = Channel(model="tr38901", los="los", shadowing=False, interference="full")
    xy = [(0.0, 0.0), (500.0, 0.0), (250.0, 433.0), (250.0, 150.0)]
    two = net_sites(ch, xy, band_names=["n78", "n78", "n78", "fr3_7ghz"])
    x, y = annulus(np.random.default_rng(7), 600, (250.0, 150.0), r0=12.0, r1=330.0)
    far = np.min(np.hypot(x[:, None] - np.array(xy)[None, :, 0], y[:, None] - np.array(xy)[None, :, 1]), axis=1) > 12
    x, y = x[far], y[far]
    n = x.size
    h = np.full(n, 1.5)
    links = network.attach(ch, two, x, y, h, np.random.default_rng(8))
    np.testing.assert_array_equal(links.cells.band, ["n78", "n78", "n78", "fr3_7ghz"])
    r = network.rates(ch, links, np.zeros(n), np.zeros(n))
    on_fr3 = links.cell == 3
    assert 20 < on_fr3.sum() < n - 20

    # association on RSRP per resource element (TS 38.215): total power - 10 log10(12 N_PRB)
    n_sc = np.array([12 * band(b).n_prb for b in links.cells.band])
    np.testing.assert_array_equal(links.cell, np.argmax(links.rx_dl_dbm - 10 * np.log10(n_sc), axis=1))

    keep = ~on_fr3
    one = net_sites(ch, xy[:3])
    alone = network.attach(ch, one, x[keep], y[keep], h[keep], np.random.default_rng(8))
    np.testing.assert_array_equal(alone.cell, links.cell[keep])
    r_alone = network.rates(ch, alone, np.zeros(keep.sum()), np.zeros(keep.sum()))
    np.testing.assert_allclose(r.sinr_dl_db[keep], r_alone.sinr_dl_db, rtol=1e-12)
    np.testing.assert_allclose(r.sinr_ul_db[keep], r_alone.sinr_ul_db, rtol=1e-12)
    np.testing.assert_allclose(r.downlink_bps[keep], r_alone.downlink_bps, rtol=1e-12)

    # the lone fr3 cell sees only noise of its own band; its rate uses its occupied bandwidth
    fr3 = band("fr3_7ghz")
    noise_fr3 = -174.0 + 10 * math.log10(fr3.bandwidth_hz) + fr3.ue_noise_figure_db
    np.testing.assert_allclose(r.sinr_dl_db[on_fr3], links.rx_dl_dbm[on_fr3, 3] - noise_fr3, rtol=EXACT)
    se = np.minimum(np.log2(1 + 10 ** (r.sinr_dl_db[on_fr3] / 10)), 7.4063)
    np.testing.assert_allclose(r.downlink_bps[on_fr3], fr3.occupied_bandwidth_hz * (1 - 0.14) * se, rtol=EXACT)
    # uplink power control on the serving band: fr3's n_prb and P_CMAX (26 dBm)
    coupling = links.coupling_loss_db[on_fr3]
    tx = np.minimum(fr3.ue_max_power_dbm, ch.p0_dbm + 10 * math.log10(2**fr3.mu * fr3.n_prb) + ch.pc_alpha * coupling)
    np.testing.assert_allclose(links.tx_power_dbm[on_fr3], tx, rtol=EXACT)

    # control: the fourth site on n78 does interfere
    same = net_sites(ch, xy)
    shared = network.attach(ch, same, x, y, h, np.random.default_rng(8))
    r_shared = network.rates(ch, shared, np.zeros(n), np.zeros(n))
    both_n78 = keep & (shared.cell != 3)
    assert np.all(r_shared.sinr_dl_db[both_n78] < r.sinr_dl_db[both_n78])


def test_site_tx_power_shifts_received_power_by_the_difference():
    ch = Channel(model="tr38901")
    xy = hex_layout_xy(1, 500.0)
    x, y = annulus(np.random.default_rng(9), 300, (0.0, 0.0), r1=600.0)
    h = np.full(300, 1.5)
    base = network.attach(ch, net_sites(ch, xy, sectors=3), x, y, h, np.random.default_rng(10))
    power = np.full(7, np.nan)
    power[2] = 40.0
    own = network.attach(ch, net_sites(ch, xy, sectors=3, tx_power_dbm=power), x, y, h, np.random.default_rng(10))
    of_site_2 = base.cells.site == 2
    np.testing.assert_allclose(own.rx_dl_dbm[:, of_site_2], base.rx_dl_dbm[:, of_site_2] + (40.0 - 51.0), rtol=EXACT)
    np.testing.assert_array_equal(own.rx_dl_dbm[:, ~of_site_2], base.rx_dl_dbm[:, ~of_site_2])
    # the channel's override edits its own band only
    ch_override = Channel(model="tr38901", bs_tx_power_dbm=46.0)
    mixed = net_sites(ch_override, xy, sectors=3, band_names=["n78"] * 6 + ["fr3_7ghz"])
    links = network.attach(ch_override, mixed, x, y, h, np.random.default_rng(10))
    assert network.resolve_band(ch_override, "n78").bs_tx_power_dbm == 46.0
    assert network.resolve_band(ch_override, "fr3_7ghz").bs_tx_power_dbm == band("fr3_7ghz").bs_tx_power_dbm
    assert links.cells.band.tolist() == ["n78"] * 18 + ["fr3_7ghz"] * 3


# ------------------------------------------------------------------------------- wrap-around


def test_wraparound_gives_an_edge_site_the_centre_sites_geometry_exactly():
    # 19 three-sector sites, deterministic link budget: with wrap-around the layout is invariant
    # under translation by a site-lattice vector, so devices at the same offsets from the centre
    # site and from a corner site get the same SINR (downlink and uplink) and serving distance.
    ch = Channel(model="tr38901", los="nlos", shadowing=False, interference="full")
    xy = hex_layout_xy(2, 500.0)
    sites = net_sites(ch, xy, sectors=3)
    shifts = hex_shifts_m(2, 500.0)
    corner = int(np.argmax(np.hypot(xy[:, 0], xy[:, 1])))
    rng = np.random.default_rng(11)
    dx, dy = annulus(rng, 300, (0.0, 0.0))
    h = np.full(300, 1.5)
    out = {}
    for name, c in (("centre", xy[0]), ("corner", xy[corner])):
        for wrap in (True, False):
            links = network.attach(ch, sites, c[0] + dx, c[1] + dy, h, np.random.default_rng(0),
                                   wrap_shifts_m=shifts if wrap else None)
            out[name, wrap] = links, network.rates(ch, links, np.zeros(300), np.zeros(300))
    (lc, rc), (le, re_) = out["centre", True], out["corner", True]
    np.testing.assert_allclose(le.distance_m, lc.distance_m, rtol=1e-9)
    np.testing.assert_allclose(re_.sinr_dl_db, rc.sinr_dl_db, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(re_.sinr_ul_db, rc.sinr_ul_db, rtol=1e-9, atol=1e-9)
    # without it the corner devices miss most of their interferers
    assert np.mean(out["corner", False][1].sinr_dl_db) > np.mean(rc.sinr_dl_db) + 2.0
    # near the centre of the layout every site's nearest copy is the original (a corner site's
    # nearest image is 1179 m from the centre, against 1000 m): identical links with and without wrap
    x, y = annulus(rng, 200, (0.0, 0.0), r0=0.0, r1=60.0)
    ch = Channel(model="tr38901", extrapolate=True)  # probabilistic LOS and shadowing: same draws
    with_wrap = network.attach(ch, sites, x, y, h[:200], np.random.default_rng(1), wrap_shifts_m=shifts)
    without = network.attach(ch, sites, x, y, h[:200], np.random.default_rng(1))
    for name in with_wrap._fields[1:]:
        np.testing.assert_array_equal(getattr(with_wrap, name), getattr(without, name), err_msg=name)


def test_wraparound_edge_and_centre_devices_are_statistically_alike():
    # Probabilistic LOS and shadowing, independent draws for each group, devices at the same
    # offsets from the centre site and from a corner site. Over 8 seeds with 15 000 devices the
    # difference of the groups' mean downlink SINR had a standard deviation of 0.09 dB (it scales
    # as 1/sqrt(n)), so with 25 000 devices 0.3 dB is over 4 standard deviations; the mean
    # serving distance (about 190 m) differed by 1.4 m (sd) at 15 000, so 4 % is over 5 sd.
    # Without wrap-around the corner devices' mean SINR was 1.35-1.57 dB higher.
    ch = Channel(model="tr38901", interference="full")
    xy = hex_layout_xy(2, 500.0)
    sites = net_sites(ch, xy, sectors=3)
    shifts = hex_shifts_m(2, 500.0)
    corner = int(np.argmax(np.hypot(xy[:, 0], xy[:, 1])))
    n = 25_000
    dx, dy = annulus(np.random.default_rng(12), n, (0.0, 0.0))
    h = np.full(n, 1.5)
    sinr, dist = {}, {}
    for seed, (name, c) in enumerate((("centre", xy[0]), ("corner", xy[corner]))):
        for wrap in (True, False):
            links = network.attach(ch, sites, c[0] + dx, c[1] + dy, h, np.random.default_rng([13, seed]),
                                   wrap_shifts_m=shifts if wrap else None)
            sinr[name, wrap] = network.rates(ch, links, np.zeros(n), np.zeros(n)).sinr_dl_db.mean()
            dist[name, wrap] = links.distance_m.mean()
    assert sinr["corner", True] == pytest.approx(sinr["centre", True], abs=0.3)
    assert dist["corner", True] == pytest.approx(dist["centre", True], rel=0.04)
    assert sinr["corner", False] > sinr["centre", False] + 1.0


# =============================================================================== fast paths against plain formulas
# The build evaluates large networks through faster paths (gains per site, powers converted
# once, draws for devices it does not evaluate); these check them bit for bit against the plain
# evaluation with the public functions.


def _mixed_sites(channel, band_names=None):
    """Seven 3-sector UMa macros (6 deg downtilt) and two omni UMi small cells."""
    xy = np.vstack([hex_layout_xy(1, 500.0), [(250.0, 150.0), (-200.0, -250.0)]])
    return net_sites(channel, xy, sectors=[3] * 7 + [1] * 2, environment=["UMa"] * 7 + ["UMi"] * 2,
                     band_names=band_names, downtilt_deg=6.0)


def test_coupling_loss_is_the_link_budget_of_the_public_antenna_pattern():
    ch = Channel(model="tr38901")
    sites = _mixed_sites(ch)
    rng = np.random.default_rng(2)
    n = 600
    x, y = rng.uniform(-900.0, 900.0, n), rng.uniform(-900.0, 900.0, n)
    radio = network._site_radio(ch, sites)
    geo = network._geometry(sites, x, y, np.full(n, 1.5), hex_shifts_m(1, 500.0))
    pl, sf = rng.uniform(60.0, 160.0, geo.d2d_m.shape), rng.normal(0.0, 6.0, geo.d2d_m.shape)
    cells = radio.cells
    gain_dbi = np.empty((n, cells.site.shape[0]))
    for c, s in enumerate(cells.site):
        gain_dbi[:, c] = radio.cell_bs_gain_dbi[c]
        if not np.isnan(cells.boresight_deg[c]):  # 3-sector: TR 38.901 Table 7.3-1 towards the device
            gain_dbi[:, c] += link.sector_gain_db(geo.azimuth_deg[:, s] - cells.boresight_deg[c],
                                                  geo.zenith_deg[:, s] - sites.downtilt_deg[s], max_gain_dbi=0.0)
    expected = (pl + sf)[:, cells.site] - gain_dbi - radio.cell_ue_gain_dbi
    np.testing.assert_array_equal(network._coupling_db(radio, sites, geo, pl, sf), expected)


@pytest.mark.parametrize("kw", [
    dict(model="tr38901"),  # probabilistic LOS, UMa effective-height draws, shadowing
    dict(model="tr38901", fast_fading="rayleigh", los="nlos"),
    dict(model="tr38901", fast_fading="rician", shadowing=False),
    dict(model="tr38901", shadowing_correlated=True),
    dict(model="power_law"),
])
def test_attach_of_some_devices_gives_their_rows_and_leaves_the_generator_alike(kw):
    ch = Channel(extrapolate=True, **kw)
    sites = _mixed_sites(ch)
    rng = np.random.default_rng(4)
    n = 240
    x, y, h = rng.uniform(-800.0, 800.0, n), rng.uniform(-800.0, 800.0, n), rng.choice([1.5, 15.0], n)
    full_rng = np.random.default_rng(9)
    full = network.attach(ch, sites, x, y, h, full_rng, wrap_shifts_m=hex_shifts_m(1, 500.0))
    after = full_rng.random(4)
    for rows in (np.sort(rng.choice(n, 90, replace=False)), rng.permutation(n)[:50], np.arange(0)):
        part_rng = np.random.default_rng(9)
        part = network.attach(ch, sites, x, y, h, part_rng, wrap_shifts_m=hex_shifts_m(1, 500.0), rows=rows)
        for name in network.Links._fields[1:]:
            np.testing.assert_array_equal(getattr(part, name), getattr(full, name)[rows], err_msg=name)
        np.testing.assert_array_equal(part_rng.random(4), after)


@pytest.mark.parametrize("interference", ["coupled", "full", "none"])
@pytest.mark.parametrize("bands", ["one", "two"])
def test_rates_are_the_link_sinrs_at_the_interference_loads(interference, bands):
    # 1500 devices: more than one block of the coupling iterations' downlink sums
    ch = Channel(model="tr38901", interference=interference, fast_fading="rayleigh", extrapolate=True)
    sites = _mixed_sites(ch, None if bands == "one" else ["n78"] * 7 + ["fr3_7ghz"] * 2)
    rng = np.random.default_rng(6)
    n = 1500
    x, y = rng.uniform(-700.0, 700.0, n), rng.uniform(-700.0, 700.0, n)
    links = network.attach(ch, sites, x, y, np.full(n, 1.5), np.random.default_rng(7))
    demand = np.full(n, 2e5)
    r = network.rates(ch, links, demand, demand)
    if interference == "coupled":
        assert r.iterations > 1 and np.any((r.load_dl > 0.05) & (r.load_dl < 0.95))
    sinr_dl, sinr_ul = np.empty(n), np.empty(n)
    for name in dict.fromkeys(links.cells.band.tolist()):
        bd = band(name)
        cells = np.flatnonzero(links.cells.band == name)
        dev = np.flatnonzero(links.cells.band[links.cell] == name)
        serving = np.searchsorted(cells, links.cell[dev])
        block = np.ix_(dev, cells)
        sinr_dl[dev] = link.sinr_db(links.rx_dl_dbm[block], serving, r.interference_load_dl[cells],
                                    link.thermal_noise_dbm(bd.bandwidth_hz, bd.ue_noise_figure_db),
                                    fading_gain=links.fading_dl[block])
        sinr_ul[dev] = link.uplink_sinr_db(links.rx_ul_dbm[block], serving, r.interference_load_ul[cells],
                                           np.full(cells.shape[0], link.thermal_noise_dbm(bd.bandwidth_hz,
                                                                                          bd.bs_noise_figure_db)),
                                           fading_gain=links.fading_ul[block])
    np.testing.assert_array_equal(r.sinr_dl_db, sinr_dl)
    np.testing.assert_array_equal(r.sinr_ul_db, sinr_ul)
    np.testing.assert_array_equal(r.interference_ul_mw,
                                  network.uplink_interference_mw(ch, links, r.interference_load_ul))


def test_placements_distance_test_decides_as_hypot_to_every_site_copy():
    # airan.build._too_close looks only at the site copies near each position in x; its decisions
    # must be those of the distance to the nearest copy, including positions exactly at the limit
    from types import SimpleNamespace

    from airan.build import _too_close

    xy = hex_layout_xy(2, 500.0)
    sites = [SimpleNamespace(x_m=float(x), y_m=float(y)) for x, y in xy]
    shifts = hex_shifts_m(2, 500.0)
    rng = np.random.default_rng(8)
    n = 40_000
    home = rng.integers(0, xy.shape[0], n)
    r, a = rng.uniform(0.0, 50.0, n), rng.uniform(0.0, 2 * np.pi, n)
    x = np.concatenate([xy[home, 0] + r * np.cos(a), rng.uniform(-2000, 2000, n), xy[:, 0] + 10.0, xy[:, 0],
                        [np.nan, np.inf, 0.0]])
    y = np.concatenate([xy[home, 1] + r * np.sin(a), rng.uniform(-2000, 2000, n), xy[:, 1], xy[:, 1] - 10.0,
                        [0.0, 0.0, np.nan]])
    for wrap in (None, shifts):
        copies = np.zeros((1, 2)) if wrap is None else wrap
        cx = np.concatenate([xy[:, 0] + dx for dx, _ in copies])
        cy = np.concatenate([xy[:, 1] + dy for _, dy in copies])
        nearest_m = np.min(np.hypot(x[:, None] - cx[None, :], y[:, None] - cy[None, :]), axis=1)
        for limit_m in (0.0, 10.0, np.nextafter(10.0, np.inf), 35.0, 400.0):
            np.testing.assert_array_equal(_too_close(x, y, sites, limit_m, wrap), nearest_m < limit_m)
