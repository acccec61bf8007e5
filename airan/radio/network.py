"""A scenario's radio network at build time: cells, link budgets, association, SINR, rates, cell loads.

Devices are static within a run, so every device-cell link is computed once, in
numpy, before the event loop starts; the kernel then only sees each device's
serving cell and its full-cell uplink and downlink rates (the rate it gets when
it is alone in the cell; sharing among active transfers happens in the kernel).

Steps (all per device-site link, cells of one site sharing its path loss):

1. geometry: 2D/3D distance, azimuth and zenith angle from each site;
2. propagation: LOS state drawn from TR 38.901 Table 7.4.2-1 (or forced), path
   loss of the chosen model, log-normal shadowing (i.i.d. or spatially
   correlated per site), an optional block-fading gain;
3. antennas: the band's gains, plus the 3-sector pattern of TR 38.901
   Table 7.3-1 for 3-sector sites;
4. association: the cell with the strongest mean downlink received power plus
   its site's bias (fast fading excluded, as RSRP averages it out);
5. uplink power: open-loop PUSCH power control (TS 38.213 §7.1.1) on the
   coupling loss to the serving cell;
6. SINR: downlink from the serving cell against every other cell's power
   weighted by its load; uplink against one device per other cell weighted by
   that cell's uplink load (:func:`airan.radio.link.uplink_sinr_db`);
7. rates: occupied bandwidth x (1 - overhead) x spectral efficiency (Shannon
   with gap and cap, or TS 38.214 CQI); cell loads from offered traffic by the
   load-coupling fixed point (I. Siomina and D. Yuan, "Analysis of cell load
   coupling for LTE network planning and optimization", IEEE Trans. Wireless
   Commun. 11(6), 2012): load_j = min(1, sum over j's devices of offered bit/s /
   rate), iterated with the SINRs until it settles.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import link, pathloss
from .bands import Band, band

#: Antenna heights when a site does not give one, m (TR 38.901 Table 7.4.1-1 defaults).
DEFAULT_BS_HEIGHT_M = {"UMa": 25.0, "UMi": 10.0, "RMa": 35.0, "InH": 3.0}
OTHER_BS_HEIGHT_M = 25.0

_COUPLING_TOLERANCE = 1e-9
_COUPLING_MAX_ITERATIONS = 500


class RadioError(ValueError):
    """A radio configuration that cannot be evaluated (one line, naming the field)."""


class Cells(NamedTuple):
    """The cells of a network: one per sector of each site. Shapes ``[n_cells]``."""

    site: np.ndarray  # int32, site index
    sector: np.ndarray  # int32, sector number within the site
    boresight_deg: np.ndarray  # float64, azimuth of the sector antenna (nan: omni), deg


class Links(NamedTuple):
    """Per-device radio results, ``[n_devices]`` unless stated."""

    cells: Cells
    cell: np.ndarray  # int32, serving cell
    site: np.ndarray  # int32, serving cell's site
    distance_m: np.ndarray  # float64, 2D distance to the serving site, m
    pathloss_db: np.ndarray  # float64, path loss to the serving site (no shadowing), dB
    shadowing_db: np.ndarray  # float64, shadow fading on that link, dB
    los: np.ndarray  # bool, line of sight to the serving site
    coupling_loss_db: np.ndarray  # float64, PL + shadowing - antenna gains to the serving cell, dB
    tx_power_dbm: np.ndarray  # float64, uplink transmit power from power control, dBm
    rx_dl_dbm: np.ndarray  # float64 [n_devices, n_cells], mean downlink received power, dBm
    rx_ul_dbm: np.ndarray  # float64 [n_devices, n_cells], uplink power each cell receives, dBm
    fading_dl: np.ndarray  # float64 [n_devices, n_cells], downlink fading power gain (linear)
    fading_ul: np.ndarray  # float64 [n_devices, n_cells], uplink fading power gain (linear)


class Rates(NamedTuple):
    """SINR, full-cell rates and cell loads."""

    sinr_dl_db: np.ndarray  # float64 [n_devices], dB
    sinr_ul_db: np.ndarray  # float64 [n_devices], dB
    downlink_bps: np.ndarray  # float64 [n_devices], rate when alone in the cell, bit/s
    uplink_bps: np.ndarray  # float64 [n_devices], rate when alone in the cell, bit/s
    load_dl: np.ndarray  # float64 [n_cells], fraction of time the cell's downlink is busy (predicted)
    load_ul: np.ndarray  # float64 [n_cells], same for the uplink
    iterations: int  # load-coupling iterations used


def resolve_band(channel) -> Band:
    """The channel's band preset with its overrides applied."""
    from dataclasses import replace

    preset = band(channel.band)
    changes = {k: getattr(channel, k) for k in ("fc_ghz", "bs_tx_power_dbm", "ue_max_power_dbm")
               if getattr(channel, k) is not None}
    return replace(preset, **changes) if changes else preset


def site_heights_m(channel, heights: list[float | None]) -> np.ndarray:
    """Each site's antenna height: its own, or the environment's default."""
    default = DEFAULT_BS_HEIGHT_M[channel.environment] if channel.model == "tr38901" else OTHER_BS_HEIGHT_M
    return np.array([default if h is None else h for h in heights], dtype=np.float64)


def make_cells(sectors: np.ndarray, azimuth_deg: np.ndarray) -> Cells:
    """One cell per omni site, three per 3-sector site (boresights azimuth + 30, 150, 270 deg)."""
    site, sector, boresight = [], [], []
    for s, (n, az) in enumerate(zip(sectors, azimuth_deg, strict=True)):
        angles = link.sector_boresights_deg(3) + az if n == 3 else [np.nan]
        for k, angle in enumerate(angles):
            site.append(s)
            sector.append(k)
            boresight.append(float(link.wrap_angle_deg(angle)) if n == 3 else np.nan)
    return Cells(np.array(site, dtype=np.int32), np.array(sector, dtype=np.int32), np.array(boresight))


def attach(channel, sites, dev_x_m, dev_y_m, dev_h_m, rng: np.random.Generator, *, where: str = "channel") -> Links:
    """Steps 1-5 of the module docstring: link budgets, association and uplink power.

    ``sites`` holds arrays ``x_m, y_m, height_m, sectors, azimuth_deg, downtilt_deg,
    bias_db`` (one entry per site).
    """
    bd = resolve_band(channel)
    cells = make_cells(sites.sectors, sites.azimuth_deg)
    n_dev, n_sites = dev_x_m.shape[0], sites.x_m.shape[0]

    # 1. geometry, [n_dev, n_sites]
    dx = dev_x_m[:, None] - sites.x_m[None, :]
    dy = dev_y_m[:, None] - sites.y_m[None, :]
    d2d = np.hypot(dx, dy)
    h_bs = np.broadcast_to(sites.height_m[None, :], d2d.shape)
    h_ut = np.broadcast_to(dev_h_m[:, None], d2d.shape)
    d3d = np.sqrt(d2d**2 + (h_bs - h_ut) ** 2)
    azimuth = np.degrees(np.arctan2(dy, dx))  # from site to device
    zenith = 90.0 + np.degrees(np.arctan2(h_bs - h_ut, d2d))  # 90: horizon, > 90: below it

    # 2. propagation
    los = np.ones(d2d.shape, dtype=bool)
    sf = np.zeros(d2d.shape)
    try:
        if channel.model == "tr38901":
            if channel.los == "probabilistic":
                p_los = pathloss.los_probability(channel.environment, d2d, h_ut)
                los = rng.random(d2d.shape) < p_los
            else:
                los[:] = channel.los == "los"
            pl = pathloss.pathloss_db(channel.environment, bd.fc_ghz, d2d, h_bs, h_ut, los,
                                      extrapolate=channel.extrapolate, rng=rng)
            if channel.shadowing:
                std = pathloss.shadow_fading_std_db(channel.environment, los, d2d, bd.fc_ghz, h_bs, h_ut)
                if channel.shadowing_correlated:
                    positions = np.column_stack((dev_x_m, dev_y_m))
                    for s in range(n_sites):  # correlated among the links of one site
                        decorrelation = float(np.mean(pathloss.decorrelation_distance_m(channel.environment,
                                                                                         los[:, s])))
                        unit = pathloss.shadow_fading_db(np.ones(n_dev), rng, positions_m=positions,
                                                         decorrelation_m=decorrelation)
                        sf[:, s] = unit * std[:, s]
                else:
                    sf = pathloss.shadow_fading_db(std, rng)
        elif channel.model == "subthz":
            pl = pathloss.subthz_pathloss_db(bd.fc_ghz, d3d, extrapolate=channel.extrapolate)
        else:  # power_law
            pl = pathloss.power_law_db(np.maximum(d3d, 1.0), channel.alpha, fc_ghz=bd.fc_ghz)
    except pathloss.PathlossRangeError as exc:
        raise RadioError(f"{where}: {exc} (set channel.extrapolate = true to allow it)") from None

    # 3. antennas, [n_dev, n_cells]
    site_of = cells.site
    pl_c = pl[:, site_of]
    sf_c = sf[:, site_of]
    gain_bs = np.full(pl_c.shape, bd.bs_antenna_gain_dbi)
    sectored = ~np.isnan(cells.boresight_deg)
    if sectored.any():
        phi = azimuth[:, site_of][:, sectored] - cells.boresight_deg[sectored][None, :]
        theta = zenith[:, site_of][:, sectored]
        tilt = sites.downtilt_deg[site_of][sectored][None, :]
        gain_bs[:, sectored] = bd.bs_antenna_gain_dbi + link.sector_gain_db(
            phi, theta - tilt, max_gain_dbi=0.0)
    coupling = pl_c + sf_c - gain_bs - bd.ue_antenna_gain_dbi

    # fading: one block-fading draw per link and direction
    shape = coupling.shape
    k_db = channel.rician_k_db if channel.fast_fading == "rician" else None
    fading_dl = pathloss.fast_fading_gain(rng, shape, channel.fast_fading, k_factor_db=k_db)
    fading_ul = pathloss.fast_fading_gain(rng, shape, channel.fast_fading, k_factor_db=k_db)

    # 4. association on mean received power plus bias
    rx_dl = bd.bs_tx_power_dbm - coupling
    serving = link.associate(rx_dl, sites.bias_db[site_of]).astype(np.int32)
    rows = np.arange(n_dev)

    # 5. uplink power control on the coupling loss to the serving cell
    tx = link.uplink_tx_power_dbm(coupling[rows, serving], p0_dbm=channel.p0_dbm, alpha=channel.pc_alpha,
                                  p_max_dbm=bd.ue_max_power_dbm, n_prb=bd.n_prb, scs_khz=bd.scs_khz)
    rx_ul = tx[:, None] - coupling
    s_site = site_of[serving]
    return Links(
        cells=cells, cell=serving, site=s_site.astype(np.int32), distance_m=d2d[rows, s_site],
        pathloss_db=pl[rows, s_site], shadowing_db=sf[rows, s_site], los=los[rows, s_site],
        coupling_loss_db=coupling[rows, serving], tx_power_dbm=tx, rx_dl_dbm=rx_dl, rx_ul_dbm=rx_ul,
        fading_dl=fading_dl, fading_ul=fading_ul,
    )


def rates(channel, links: Links, demand_ul_bps: np.ndarray, demand_dl_bps: np.ndarray) -> Rates:
    """Steps 6-7 of the module docstring: SINR, full-cell rates and (coupled) cell loads.

    ``demand_*_bps`` is each device's offered traffic (bits per second it sends or
    receives on average); it sets the cell loads that weight interference.
    """
    bd = resolve_band(channel)
    n_cells = links.cells.site.shape[0]
    occupied_hz = bd.occupied_bandwidth_hz
    if channel.noise:
        noise_dl = link.thermal_noise_dbm(bd.bandwidth_hz, bd.ue_noise_figure_db)
        noise_ul = np.full(n_cells, link.thermal_noise_dbm(bd.bandwidth_hz, bd.bs_noise_figure_db))
    else:
        noise_dl, noise_ul = -np.inf, np.full(n_cells, -np.inf)

    def spectral_efficiency(sinr):
        if channel.rate == "cqi":
            return link.cqi_spectral_efficiency(sinr, table=channel.cqi_table)
        return link.shannon_spectral_efficiency(sinr, gap_db=channel.shannon_gap_db,
                                                max_se=channel.max_spectral_efficiency)

    def evaluate(load_dl, load_ul):
        sinr_dl = link.sinr_db(links.rx_dl_dbm, links.cell, load_dl, noise_dl, fading_gain=links.fading_dl)
        sinr_ul = link.uplink_sinr_db(links.rx_ul_dbm, links.cell, load_ul, noise_ul, fading_gain=links.fading_ul)
        r_dl = link.rate_bps(occupied_hz, spectral_efficiency(sinr_dl), channel.dl_overhead)
        r_ul = link.rate_bps(occupied_hz, spectral_efficiency(sinr_ul), channel.ul_overhead)
        return sinr_dl, sinr_ul, r_dl, r_ul

    def offered_load(demand, rate):
        with np.errstate(divide="ignore", invalid="ignore"):
            busy = np.where(demand > 0, demand / rate, 0.0)  # inf where a device has no rate
        return np.minimum(np.bincount(links.cell, weights=busy, minlength=n_cells), 1.0)

    if channel.interference == "none":
        load_dl = load_ul = np.zeros(n_cells)
    else:
        load_dl = load_ul = np.ones(n_cells)
    sinr_dl, sinr_ul, r_dl, r_ul = evaluate(load_dl, load_ul)
    iterations = 0
    if channel.interference == "coupled":
        # Start from full load: more load means more interference, lower rates and so more load,
        # so the map is monotone and the iterates decrease to its largest fixed point.
        change = np.inf
        while change >= _COUPLING_TOLERANCE and iterations < _COUPLING_MAX_ITERATIONS:
            iterations += 1
            new_dl, new_ul = offered_load(demand_dl_bps, r_dl), offered_load(demand_ul_bps, r_ul)
            change = max(np.max(np.abs(new_dl - load_dl), initial=0.0), np.max(np.abs(new_ul - load_ul), initial=0.0))
            load_dl, load_ul = new_dl, new_ul
            sinr_dl, sinr_ul, r_dl, r_ul = evaluate(load_dl, load_ul)
    return Rates(sinr_dl, sinr_ul, r_dl, r_ul, offered_load(demand_dl_bps, r_dl), offered_load(demand_ul_bps, r_ul),
                 iterations)
