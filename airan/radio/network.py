"""A scenario's radio network at build time: cells, link budgets, association, SINR, rates, cell loads.

Every device-cell link is computed once, in numpy, before the event loop starts; the
kernel then only sees each device's serving cell and its full-cell uplink and
downlink rates (the rate it gets when it is alone in the cell; sharing among active
transfers happens in the kernel). Moving devices read the same link budget from a
precomputed grid instead (:mod:`airan.radio.radiomap`), built from the functions here.

Steps (all per device-site link, cells of one site sharing its path loss):

1. geometry: 2D/3D distance, azimuth and zenith angle from each site -- with
   wrap-around, from the copy of the site nearest to the device (see :func:`attach`);
2. propagation: LOS state drawn from TR 38.901 Table 7.4.2-1 (or forced), path
   loss of the chosen model, log-normal shadowing (i.i.d. or spatially
   correlated per site), an optional block-fading gain. With model ``tr38901``
   each link follows its *site's* environment (UMa, UMi, RMa, InH: path loss, LOS
   probability, sigma_SF, decorrelation distance), so macro and small cells mix;
3. antennas: the site's band's gains, plus the 3-sector pattern of TR 38.901
   Table 7.3-1 for 3-sector sites;
4. association: the cell with the strongest reference-signal received power plus
   its site's bias (fast fading excluded, as RSRP averages it out). RSRP is the
   received power per resource element (TS 38.215 §5.1.1: the linear average of the
   power of the resource elements carrying the reference signal), the cell's power
   being spread evenly over its band's N_PRB x 12 subcarriers:
   RSRP = P_rx - 10 log10(12 N_PRB). Within one band this is the total received
   power less a constant, so it only matters when cells of different bands compete:
   a wide carrier with the same total power has a lower RSRP per subcarrier;
5. uplink power: open-loop PUSCH power control (TS 38.213 §7.1.1) on the
   coupling loss to the serving cell, with the serving cell's band (P_CMAX, N_PRB, SCS);
6. SINR: downlink from the serving cell against every other cell *of the same band*
   weighted by its load; uplink against one device per other cell of the same band
   weighted by that cell's uplink load (:func:`airan.radio.link.uplink_sinr_db`).
   Cells of different bands are separate carriers and do not interfere;
7. rates: the serving cell's occupied bandwidth x (1 - overhead) x spectral
   efficiency (Shannon with gap and cap, or TS 38.214 CQI); cell loads from offered
   traffic by the load-coupling fixed point (I. Siomina and D. Yuan, "Analysis of
   cell load coupling for LTE network planning and optimization", IEEE Trans.
   Wireless Commun. 11(6), 2012): load_j = min(1, sum over j's devices of offered
   bit/s / rate), iterated with the SINRs until it settles.

Per-site radio parameters
-------------------------
The ``sites`` argument of :func:`attach` holds one entry per site in arrays
``x_m, y_m, height_m, sectors, azimuth_deg, downtilt_deg, bias_db`` and may also have

- ``environment``: tuple of str, the TR 38.901 scenario of each site's links;
- ``band``: tuple of str, the band preset of each site's cells
  (:data:`airan.radio.bands.BANDS`): carrier, bandwidth, noise figures, antenna
  gains, device P_CMAX. The channel's overrides (``fc_ghz``, ``bs_tx_power_dbm``,
  ``ue_max_power_dbm``) apply to the sites whose band is ``channel.band`` only: they
  edit that preset, not the others;
- ``tx_power_dbm``: float64 array, each site's cell transmit power, dBm (nan: the band's).

An attribute that is absent (or None) takes the channel's value for every site, and
then the result is bit-identical to a network without per-site parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from . import link, pathloss
from .bands import Band, band

#: Antenna heights when a site does not give one, m (TR 38.901 Table 7.4.1-1 defaults).
DEFAULT_BS_HEIGHT_M = {"UMa": 25.0, "UMi": 10.0, "RMa": 35.0, "InH": 3.0}
OTHER_BS_HEIGHT_M = 25.0

#: Smallest distance the TR 38.901 formulas accept, m: 2D for the outdoor scenarios, and
#: for InH a 2D distance that keeps d3D >= 1 m. Only radio maps clamp to it (a grid point
#: can lie on a site); :func:`attach` rejects shorter links unless ``channel.extrapolate``.
MIN_DISTANCE_M = {"UMa": 10.0, "UMi": 10.0, "RMa": 10.0, "InH": 1.0}

_COUPLING_TOLERANCE = 1e-9
_COUPLING_MAX_ITERATIONS = 500


class RadioError(ValueError):
    """A radio configuration that cannot be evaluated (one line, naming the field)."""


class Cells(NamedTuple):
    """The cells of a network: one per sector of each site. Shapes ``[n_cells]``."""

    site: np.ndarray  # int32, site index
    sector: np.ndarray  # int32, sector number within the site
    boresight_deg: np.ndarray  # float64, azimuth of the sector antenna (nan: omni), deg
    band: np.ndarray  # str (numpy unicode), band preset name of the cell's carrier


class Links(NamedTuple):
    """Per-device radio results, ``[n_devices]`` unless stated."""

    cells: Cells
    cell: np.ndarray  # int32, serving cell
    site: np.ndarray  # int32, serving cell's site
    distance_m: np.ndarray  # float64, 2D distance to the serving site (its nearest copy with wrap-around), m
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
    # float64 [n_cells], the loads that weighted the interference in the SINRs above: 0 with
    # interference "none", 1 with "full", and with "coupled" the last iterate (within the
    # coupling tolerance, 1e-9, of load_*). Pass these to radiomap.radio_map.
    interference_load_dl: np.ndarray | None = None
    interference_load_ul: np.ndarray | None = None
    # float64 [n_cells], mW: the uplink interference at each cell's receiver at interference_load_ul,
    # exactly uplink_interference_mw(channel, links, interference_load_ul); radiomap.radio_map takes it.
    interference_ul_mw: np.ndarray | None = None


# =============================================================================== per-site parameters


def resolve_band(channel, name: str | None = None) -> Band:
    """The band preset ``name`` (default ``channel.band``), with the channel's overrides if it is the channel's band.

    ``channel.fc_ghz``, ``bs_tx_power_dbm`` and ``ue_max_power_dbm`` edit the channel's
    band only; a site on another band uses that preset as it stands.
    """
    if name is not None and name != channel.band:
        return band(name)
    preset = band(channel.band)
    changes = {k: getattr(channel, k) for k in ("fc_ghz", "bs_tx_power_dbm", "ue_max_power_dbm")
               if getattr(channel, k) is not None}
    return replace(preset, **changes) if changes else preset


def site_heights_m(channel, heights: list[float | None], environments: list[str] | None = None) -> np.ndarray:
    """Each site's antenna height: its own, or its environment's default (TR 38.901 Table 7.4.1-1).

    ``environments`` gives each site's TR 38.901 scenario (None or absent: the channel's);
    models other than ``tr38901`` default to 25 m.
    """
    if channel.model != "tr38901":
        return np.array([OTHER_BS_HEIGHT_M if h is None else h for h in heights], dtype=np.float64)
    if environments is None:
        environments = [channel.environment] * len(heights)
    return np.array([DEFAULT_BS_HEIGHT_M[e or channel.environment] if h is None else h
                     for h, e in zip(heights, environments, strict=True)], dtype=np.float64)


def make_cells(sectors: np.ndarray, azimuth_deg: np.ndarray, bands: tuple[str, ...] | None = None) -> Cells:
    """One cell per omni site, three per 3-sector site (boresights azimuth + 30, 150, 270 deg).

    ``bands`` names each site's band preset (default: empty names).
    """
    if bands is None:
        bands = ("",) * len(sectors)
    site, sector, boresight, cell_band = [], [], [], []
    for s, (n, az) in enumerate(zip(sectors, azimuth_deg, strict=True)):
        angles = link.sector_boresights_deg(3) + az if n == 3 else [np.nan]
        for k, angle in enumerate(angles):
            site.append(s)
            sector.append(k)
            boresight.append(float(link.wrap_angle_deg(angle)) if n == 3 else np.nan)
            cell_band.append(bands[s])
    return Cells(np.array(site, dtype=np.int32), np.array(sector, dtype=np.int32), np.array(boresight),
                 np.array(cell_band, dtype=str))


class _SiteRadio(NamedTuple):
    """Resolved per-site and per-cell radio parameters (shared with :mod:`airan.radio.radiomap`)."""

    environment: tuple[str, ...]  # [n_sites] TR 38.901 scenario
    band: tuple[str, ...]  # [n_sites] band preset name
    bands: Mapping[str, Band]  # resolved presets by name
    fc_ghz: np.ndarray  # float64[n_sites], GHz
    groups: tuple  # ((environment, fc_ghz), columns): sites sharing a propagation model; columns a slice if one
    cells: Cells
    cell_tx_power_dbm: np.ndarray  # float64[n_cells], dBm
    cell_bs_gain_dbi: np.ndarray  # float64[n_cells], peak BS antenna gain, dBi
    cell_ue_gain_dbi: np.ndarray  # float64[n_cells], device antenna gain, dBi
    cell_rsrp_offset_db: np.ndarray  # float64[n_cells], 10 log10(12 N_PRB): total power minus RSRP, dB
    cell_bias_db: np.ndarray  # float64[n_cells], association bias of the cell's site, dB


def _per_site(sites, name: str, default, n_sites: int, where: str) -> tuple:
    values = getattr(sites, name, None)
    if values is None:
        return (default,) * n_sites
    values = tuple(default if v is None else v for v in values)
    if len(values) != n_sites:
        raise RadioError(f"{where}: sites.{name}: must have one entry per site ({n_sites}), got {len(values)}")
    return values


def _site_radio(channel, sites, where: str = "channel") -> _SiteRadio:
    """Resolve each site's environment, band and power, and expand them to its cells."""
    n_sites = sites.x_m.shape[0]
    try:
        environment = tuple(pathloss._environment(e) for e in
                            _per_site(sites, "environment", channel.environment, n_sites, where))
    except ValueError as exc:
        raise RadioError(f"{where}: sites.{exc}") from None
    names = _per_site(sites, "band", channel.band, n_sites, where)
    try:
        bands = {name: resolve_band(channel, name) for name in dict.fromkeys(names)}
    except ValueError as exc:
        raise RadioError(f"{where}: sites.band: {exc}") from None
    fc_ghz = np.array([bands[b].fc_ghz for b in names], dtype=np.float64)
    tx_site = np.array([bands[b].bs_tx_power_dbm for b in names], dtype=np.float64)
    own = getattr(sites, "tx_power_dbm", None)
    if own is not None:
        own = np.asarray(own, dtype=np.float64)
        if own.shape != (n_sites,):
            raise RadioError(f"{where}: sites.tx_power_dbm: must have shape ({n_sites},), got {own.shape}")
        tx_site = np.where(np.isnan(own), tx_site, own)

    keys = list(zip(environment, fc_ghz.tolist(), strict=True))
    distinct = list(dict.fromkeys(keys))
    if len(distinct) == 1:
        groups = ((distinct[0], slice(None)),)
    else:
        groups = tuple((key, np.array([i for i, k in enumerate(keys) if k == key], dtype=np.intp))
                       for key in distinct)

    cells = make_cells(sites.sectors, sites.azimuth_deg, names)
    site_of = cells.site
    n_sc = np.array([12 * bands[b].n_prb for b in names], dtype=np.float64)[site_of]
    offset = 10.0 * np.log10(n_sc)
    return _SiteRadio(
        environment=environment, band=names, bands=bands, fc_ghz=fc_ghz, groups=groups, cells=cells,
        cell_tx_power_dbm=tx_site[site_of],
        cell_bs_gain_dbi=np.array([bands[b].bs_antenna_gain_dbi for b in names], dtype=np.float64)[site_of],
        cell_ue_gain_dbi=np.array([bands[b].ue_antenna_gain_dbi for b in names], dtype=np.float64)[site_of],
        cell_rsrp_offset_db=offset,
        cell_bias_db=np.asarray(sites.bias_db, dtype=np.float64)[site_of],
    )


# =============================================================================== link budget pieces


class _Geometry(NamedTuple):
    """Device-site geometry, each ``float64[n_devices, n_sites]``."""

    d2d_m: np.ndarray  # 2D distance, m
    d3d_m: np.ndarray  # 3D distance, m
    azimuth_deg: np.ndarray  # azimuth from the site to the device, deg
    zenith_deg: np.ndarray  # zenith angle from the site (90: horizon, > 90: below it), deg
    h_bs_m: np.ndarray  # site antenna height (broadcast), m
    h_ut_m: np.ndarray  # device height (broadcast), m


def check_wrap_shifts(wrap_shifts_m, where: str = "channel") -> np.ndarray | None:
    """Validate wrap-around translations: float64[n_shift, 2], first row (0, 0); None passes through."""
    if wrap_shifts_m is None:
        return None
    shifts = np.asarray(wrap_shifts_m, dtype=np.float64)
    if shifts.ndim != 2 or shifts.shape[1] != 2 or shifts.shape[0] < 1:
        raise RadioError(f"{where}: wrap_shifts_m: must have shape [n_shift, 2], got {shifts.shape}")
    if not np.all(np.isfinite(shifts)) or np.any(shifts[0] != 0.0):
        raise RadioError(f"{where}: wrap_shifts_m: must be finite with first row (0, 0), got {shifts[0]}")
    return shifts


def _geometry(sites, x_m: np.ndarray, y_m: np.ndarray, h_m: np.ndarray, shifts: np.ndarray | None) -> _Geometry:
    """Step 1; with ``shifts`` each pair uses the translated copy of the site nearest (in 2D) to the device."""
    if shifts is None:
        dx = x_m[:, None] - sites.x_m[None, :]
        dy = y_m[:, None] - sites.y_m[None, :]
    else:
        # coordinates of every copy of every site, [n_sites, n_shift], m
        copy_x = sites.x_m[:, None] + shifts[None, :, 0]
        copy_y = sites.y_m[:, None] + shifts[None, :, 1]
        # nearest copy: argmin of |p - c|^2 - |p|^2 = |c|^2 - 2 p.c, [n_dev, n_sites, n_shift] by one product
        copies = np.stack((copy_x.ravel(), copy_y.ravel()))  # [2, n_sites * n_shift]
        rank = np.column_stack((x_m, y_m)) @ (-2.0 * copies) + (copies**2).sum(axis=0)
        nearest = np.argmin(rank.reshape(x_m.shape[0], *copy_x.shape), axis=2)  # ties: the first (unshifted) copy
        del rank
        nearest += np.arange(copy_x.shape[0]) * copy_x.shape[1]  # flat index into copy_x, copy_y
        dx = x_m[:, None] - np.take(copy_x, nearest)
        dy = y_m[:, None] - np.take(copy_y, nearest)
    d2d = np.hypot(dx, dy)
    h_bs = np.broadcast_to(sites.height_m[None, :], d2d.shape)
    h_ut = np.broadcast_to(h_m[:, None], d2d.shape)
    dh = h_bs - h_ut  # m
    d3d = np.sqrt(d2d**2 + dh**2)
    azimuth = np.degrees(np.arctan2(dy, dx))  # from site to device
    zenith = 90.0 + np.degrees(np.arctan2(dh, d2d))  # 90: horizon, > 90: below it
    return _Geometry(d2d, d3d, azimuth, zenith, h_bs, h_ut)


def _los_probability(radio: _SiteRadio, geo: _Geometry) -> np.ndarray:
    """TR 38.901 Table 7.4.2-1 per link, in each site's environment, float64[n_dev, n_sites]."""
    if len(radio.groups) == 1:
        return pathloss.los_probability(radio.groups[0][0][0], geo.d2d_m, geo.h_ut_m)
    p = np.empty(geo.d2d_m.shape)
    for (env, _), cols in radio.groups:
        p[:, cols] = pathloss.los_probability(env, geo.d2d_m[:, cols], geo.h_ut_m[:, cols])
    return p


def _pathloss_db(channel, radio: _SiteRadio, geo: _Geometry, los: np.ndarray, rng, where: str,
                 *, clamp: bool = False) -> np.ndarray:
    """Step 2's path loss, float64[n_dev, n_sites]; ``clamp`` raises distances to the model's minimum."""
    try:
        if channel.model == "tr38901":
            out = np.empty(geo.d2d_m.shape) if len(radio.groups) > 1 else None
            for (env, fc), cols in radio.groups:
                d2d = geo.d2d_m[:, cols]
                if clamp:
                    d2d = np.maximum(d2d, MIN_DISTANCE_M[env])
                pl = pathloss.pathloss_db(env, fc, d2d, geo.h_bs_m[:, cols], geo.h_ut_m[:, cols], los[:, cols],
                                          extrapolate=channel.extrapolate, rng=rng)
                if out is None:
                    return pl
                out[:, cols] = pl
            return out
        out = np.empty(geo.d2d_m.shape)
        for (_, fc), cols in radio.groups:
            d3d = geo.d3d_m[:, cols]
            if channel.model == "subthz":
                out[:, cols] = pathloss.subthz_pathloss_db(fc, np.maximum(d3d, 1.0) if clamp else d3d,
                                                           extrapolate=channel.extrapolate)
            else:  # power_law
                out[:, cols] = pathloss.power_law_db(np.maximum(d3d, 1.0), channel.alpha, fc_ghz=fc)
        return out
    except pathloss.PathlossRangeError as exc:
        raise RadioError(f"{where}: {exc} (set channel.extrapolate = true to allow it)") from None


def _shadow_std_db(radio: _SiteRadio, geo: _Geometry, los: np.ndarray) -> np.ndarray:
    """sigma_SF of TR 38.901 Table 7.4.1-1 per link, in each site's environment, float64[n_dev, n_sites]."""
    if len(radio.groups) == 1:
        (env, fc), _ = radio.groups[0]
        return pathloss.shadow_fading_std_db(env, los, geo.d2d_m, fc, geo.h_bs_m, geo.h_ut_m)
    std = np.empty(geo.d2d_m.shape)
    for (env, fc), cols in radio.groups:
        std[:, cols] = pathloss.shadow_fading_std_db(env, los[:, cols], geo.d2d_m[:, cols], fc,
                                                     geo.h_bs_m[:, cols], geo.h_ut_m[:, cols])
    return std


def _coupling_db(radio: _SiteRadio, sites, geo: _Geometry, pl: np.ndarray, sf: np.ndarray) -> np.ndarray:
    """Step 3: PL + SF - antenna gains, per device and cell, float64[n_dev, n_cells], dB.

    The BS gain of a 3-sector cell is :func:`airan.radio.link.sector_gain_db` (peak gain
    ``cell_bs_gain_dbi``) towards the device, the same operations on the same values, with
    its vertical term computed once per site (it does not depend on the sector).
    """
    cells = radio.cells
    site_of = cells.site
    # PL + SF per cell (the same sums as gathering first), in C order (np.take; a[:, idx] gives F
    # order): the rounding of the SINRs' sums over each device's cells depends on the layout
    coupling = np.take(pl + sf, site_of, axis=1)
    sectored = ~np.isnan(cells.boresight_deg)
    if sectored.any():
        sector_sites, sector_column = np.unique(site_of[sectored], return_inverse=True)
        # A_V towards each 3-sector site, [n_dev, n_sector_sites]; theta - tilt as per cell
        a_v = link._sector_vertical_db(geo.zenith_deg[:, sector_sites] - sites.downtilt_deg[sector_sites][None, :],
                                       0.0, link._SECTOR_BEAMWIDTH_DEG, link._SECTOR_SLA_V_DB)
        # A_H, then the gain, in place, [n_dev, n_sectored]
        gain = link.wrap_angle_deg(np.take(geo.azimuth_deg, site_of[sectored], axis=1)
                                   - cells.boresight_deg[sectored][None, :])
        link._sector_horizontal_db(gain, link._SECTOR_BEAMWIDTH_DEG, link._SECTOR_A_M_DB, out=gain)
        link._sector_combined_db(np.take(a_v, sector_column, axis=1), gain, 0.0, link._SECTOR_A_M_DB, out=gain)
        np.add(radio.cell_bs_gain_dbi[sectored][None, :], gain, out=gain)
        if sectored.all():
            coupling -= gain
        else:
            coupling[:, sectored] -= gain
            coupling[:, ~sectored] -= radio.cell_bs_gain_dbi[~sectored][None, :]
    else:
        coupling -= radio.cell_bs_gain_dbi[None, :]
    coupling -= radio.cell_ue_gain_dbi[None, :]
    return coupling


def _association_metric_db(radio: _SiteRadio, rx_dl_dbm: np.ndarray) -> np.ndarray:
    """RSRP plus a constant (step 4), float64[n_dev, n_cells]: exactly ``rx_dl_dbm`` when all cells share a band."""
    offset = radio.cell_rsrp_offset_db
    if np.all(offset == offset[0]):
        return rx_dl_dbm
    return rx_dl_dbm - (offset - offset.max())[None, :]


def _uplink_tx_power_dbm(channel, radio: _SiteRadio, serving: np.ndarray, coupling_db: np.ndarray) -> np.ndarray:
    """Step 5 towards cells ``serving`` (any shape) over ``coupling_db`` (same shape), per the cell's band, dBm."""
    cell_band = radio.cells.band[serving]
    names = list(radio.bands) if len(radio.bands) > 1 else None
    if names is None:
        bd = next(iter(radio.bands.values()))
        return link.uplink_tx_power_dbm(coupling_db, p0_dbm=channel.p0_dbm, alpha=channel.pc_alpha,
                                        p_max_dbm=bd.ue_max_power_dbm, n_prb=bd.n_prb, scs_khz=bd.scs_khz)
    tx = np.empty(coupling_db.shape)
    for name in names:
        bd = radio.bands[name]
        on = cell_band == name
        tx[on] = link.uplink_tx_power_dbm(coupling_db[on], p0_dbm=channel.p0_dbm, alpha=channel.pc_alpha,
                                          p_max_dbm=bd.ue_max_power_dbm, n_prb=bd.n_prb, scs_khz=bd.scs_khz)
    return tx


def _links(channel, radio: _SiteRadio, geo: _Geometry, pl, sf, los, coupling, fading_dl, fading_ul) -> Links:
    """Steps 4-5 from the coupling losses: association on RSRP + bias, then uplink power control."""
    rx_dl = radio.cell_tx_power_dbm[None, :] - coupling
    serving = link.associate(_association_metric_db(radio, rx_dl), radio.cell_bias_db).astype(np.int32)
    rows = np.arange(coupling.shape[0])
    tx = _uplink_tx_power_dbm(channel, radio, serving, coupling[rows, serving])
    rx_ul = tx[:, None] - coupling
    s_site = radio.cells.site[serving]
    return Links(
        cells=radio.cells, cell=serving, site=s_site.astype(np.int32), distance_m=geo.d2d_m[rows, s_site],
        pathloss_db=pl[rows, s_site], shadowing_db=sf[rows, s_site], los=los[rows, s_site],
        coupling_loss_db=coupling[rows, serving], tx_power_dbm=tx, rx_dl_dbm=rx_dl, rx_ul_dbm=rx_ul,
        fading_dl=fading_dl, fading_ul=fading_ul,
    )


# =============================================================================== attach


def attach(channel, sites, dev_x_m, dev_y_m, dev_h_m, rng: np.random.Generator, *, where: str = "channel",
           wrap_shifts_m: np.ndarray | None = None, rows: np.ndarray | None = None) -> Links:
    """Steps 1-5 of the module docstring: link budgets, association and uplink power.

    Parameters
    ----------
    channel
        The scenario's channel (:class:`airan.scenario.Channel`).
    sites
        Arrays ``x_m, y_m, height_m, sectors, azimuth_deg, downtilt_deg, bias_db`` (one
        entry per site) and optionally ``environment``, ``band`` (tuples of str) and
        ``tx_power_dbm`` (float64, nan: the band's); see the module docstring.
    dev_x_m, dev_y_m, dev_h_m : ndarray
        float64[n_devices] device positions and heights, m.
    rng : numpy.random.Generator
        Source of the LOS, shadowing and fading draws. Their number depends only on the
        shapes, except the UMa effective-height draws, made per group of sites sharing an
        environment and carrier; with uniform per-site parameters the draws are exactly
        those of a network without them.
    where : str
        Prefix of error messages.
    wrap_shifts_m : ndarray, optional
        float64[n_shift, 2] translations of the whole layout, first row (0, 0). Every
        device-site link then uses the translated copy of the site nearest to the device
        (2D distance, 3D distance, azimuth, zenith), the wrap-around of hexagonal
        layouts (3GPP TR 36.814 Annex A.2.1; the hexagonal test environments of ITU-R M.2412-0), so cells at the edge of
        the layout see the interference of a centre cell. For a 19-site (2-ring) layout
        the six shifts are the 60-degree rotations of ISD * (3 e1 + 2 e2),
        e1 = (1, 0), e2 = (1/2, sqrt(3)/2). Spatially correlated shadowing uses the
        devices' own (unwrapped) positions.
    rows : ndarray, optional
        int, distinct indices of the devices whose links to evaluate and return, in that
        order (default: all). Everything random is still drawn for all devices, so the
        result is exactly these rows of the result for all devices and ``rng`` is left in
        the same state (with correlated shadowing, which ties every device's draws to all
        positions, all devices are evaluated). The path-loss models' range checks see
        these devices only.

    Returns
    -------
    Links
    """
    shifts = check_wrap_shifts(wrap_shifts_m, where)
    radio = _site_radio(channel, sites, where)
    correlated = channel.model == "tr38901" and channel.shadowing and channel.shadowing_correlated
    if rows is not None and correlated:  # every device's draws depend on all positions (and LOS states)
        links = attach(channel, sites, dev_x_m, dev_y_m, dev_h_m, rng, where=where, wrap_shifts_m=wrap_shifts_m)
        return _take_rows(links, np.asarray(rows, dtype=np.intp))
    if rows is not None:
        rows = np.asarray(rows, dtype=np.intp)
        rng = _RowDraws(rng, rows, dev_x_m.shape[0])
        dev_x_m, dev_y_m, dev_h_m = dev_x_m[rows], dev_y_m[rows], dev_h_m[rows]
    n_dev, n_sites = dev_x_m.shape[0], sites.x_m.shape[0]
    geo = _geometry(sites, dev_x_m, dev_y_m, dev_h_m, shifts)

    # 2. propagation
    shape = geo.d2d_m.shape
    los = np.ones(shape, dtype=bool)
    sf = np.zeros(shape)
    if channel.model == "tr38901":
        if channel.los == "probabilistic":
            p_los = _los_probability(radio, geo)
            los = rng.random(shape) < p_los
        else:
            los[:] = channel.los == "los"
    pl = _pathloss_db(channel, radio, geo, los, rng, where)
    if channel.model == "tr38901" and channel.shadowing:
        std = _shadow_std_db(radio, geo, los)
        if correlated:
            positions = np.column_stack((dev_x_m, dev_y_m))  # unwrapped: the device's own surroundings
            for s in range(n_sites):  # correlated among the links of one site
                decorrelation = float(np.mean(pathloss.decorrelation_distance_m(radio.environment[s], los[:, s])))
                unit = pathloss.shadow_fading_db(np.ones(n_dev), rng, positions_m=positions,
                                                 decorrelation_m=decorrelation)
                sf[:, s] = unit * std[:, s]
        else:
            sf = pathloss.shadow_fading_db(std, rng)

    # 3. antennas, [n_dev, n_cells]
    coupling = _coupling_db(radio, sites, geo, pl, sf)

    # fading: one block-fading draw per link and direction
    k_db = channel.rician_k_db if channel.fast_fading == "rician" else None
    fading_dl = pathloss.fast_fading_gain(rng, coupling.shape, channel.fast_fading, k_factor_db=k_db)
    fading_ul = pathloss.fast_fading_gain(rng, coupling.shape, channel.fast_fading, k_factor_db=k_db)

    # 4-5. association and uplink power
    return _links(channel, radio, geo, pl, sf, los, coupling, fading_dl, fading_ul)


class _RowDraws:
    """Stands in for :func:`attach`'s generator when only the devices ``rows`` are evaluated.

    Every draw of :func:`attach` is an array whose first axis is the device: each is made
    here for all ``n_devices`` devices, in the same order, and only the rows asked for are
    handed back. Their values, and the generator's state afterwards, are exactly those of
    an evaluation of every device.
    """

    def __init__(self, rng: np.random.Generator, rows: np.ndarray, n_devices: int):
        self._rng, self._rows, self._n = rng, rows, n_devices

    def _all(self, size) -> tuple:
        size = tuple(np.atleast_1d(size).tolist())
        if size[0] != self._rows.shape[0]:
            raise ValueError(f"draws of shape {size}: the first axis must be the {self._rows.shape[0]} devices")
        return (self._n, *size[1:])

    def random(self, size) -> np.ndarray:
        return self._rng.random(self._all(size))[self._rows]

    def standard_normal(self, size) -> np.ndarray:
        return self._rng.standard_normal(self._all(size))[self._rows]

    def exponential(self, scale=1.0, size=None) -> np.ndarray:
        return self._rng.exponential(scale, size=self._all(size))[self._rows]


def _take_rows(links: Links, rows: np.ndarray) -> Links:
    """The links of the devices ``rows``."""
    return Links(links.cells, *(getattr(links, name)[rows] for name in Links._fields[1:]))


# =============================================================================== rates


class _BandBlock(NamedTuple):
    """The devices served on one band and that band's cells (None: all of them)."""

    devices: np.ndarray | None  # intp[n], devices served by a cell of the band
    cells: np.ndarray | None  # intp[m], the band's cells, ascending
    serving: np.ndarray  # intp[n], serving cell as an index into ``cells``
    noise_dl_dbm: float  # device receiver noise, dBm
    noise_ul_dbm: np.ndarray  # float64[m], cell receiver noise, dBm


def _band_blocks(channel, links: Links) -> list[_BandBlock]:
    """Split a network into independent carriers (cells of different bands do not interfere)."""
    cells = links.cells
    names = list(dict.fromkeys(cells.band.tolist()))
    blocks = []
    for name in names:
        bd = resolve_band(channel, name or None)
        if len(names) == 1:
            devices = cell_idx = None
            serving = links.cell
            n_cells = cells.site.shape[0]
        else:
            cell_idx = np.flatnonzero(cells.band == name)
            devices = np.flatnonzero(cells.band[links.cell] == name)
            serving = np.searchsorted(cell_idx, links.cell[devices])
            n_cells = cell_idx.shape[0]
        if channel.noise:
            noise_dl = link.thermal_noise_dbm(bd.bandwidth_hz, bd.ue_noise_figure_db)
            noise_ul = np.full(n_cells, link.thermal_noise_dbm(bd.bandwidth_hz, bd.bs_noise_figure_db))
        else:
            noise_dl, noise_ul = -np.inf, np.full(n_cells, -np.inf)
        blocks.append(_BandBlock(devices, cell_idx, serving, noise_dl, noise_ul))
    return blocks


def _occupied_bandwidth_hz(channel, cells: Cells) -> np.ndarray | float:
    """Each cell's occupied bandwidth N_PRB x 12 x SCS, Hz (a float when all cells share a band)."""
    names = list(dict.fromkeys(cells.band.tolist()))
    if len(names) == 1:
        return resolve_band(channel, names[0] or None).occupied_bandwidth_hz
    by_name = {n: resolve_band(channel, n or None).occupied_bandwidth_hz for n in names}
    return np.array([by_name[n] for n in cells.band.tolist()], dtype=np.float64)


def spectral_efficiency(channel, sinr_db: np.ndarray) -> np.ndarray:
    """The channel's rate model: Shannon with gap and cap, or the TS 38.214 CQI table, b/s/Hz."""
    if channel.rate == "cqi":
        return link.cqi_spectral_efficiency(sinr_db, table=channel.cqi_table)
    return link.shannon_spectral_efficiency(sinr_db, gap_db=channel.shannon_gap_db,
                                            max_se=channel.max_spectral_efficiency)


#: Devices per block of the load-coupling iterations' downlink sums (a 1 MB scratch at 128 cells).
_SCRATCH_ROWS = 1024


class _LinearBlock(NamedTuple):
    """One band's powers in mW, the parts of the SINRs that do not depend on the cell loads."""

    rows: np.ndarray  # intp[n], arange over the block's devices
    serving: np.ndarray  # intp[n], serving cell as an index into the block's cells
    p_dl_mw: np.ndarray  # float64[n, m], downlink received power times fading gain, mW
    scratch_mw: np.ndarray  # float64[<= _SCRATCH_ROWS, m], room for load-weighted downlink powers, mW
    signal_dl_db: np.ndarray  # float64[n], 10 log10 of the serving cell's entry of p_dl_mw, dBm
    noise_dl_mw: np.ndarray  # float64 (0-d), device receiver noise, mW
    x_ul_mw: np.ndarray  # float64[m, m], power at cell c from cell j's mean device, mW (link.uplink_sinr_db)
    signal_ul_db: np.ndarray  # float64[n], uplink power at the serving cell times fading gain, in dBm
    noise_ul_mw: np.ndarray  # float64[n], serving cell's receiver noise, mW


def _linear_block(b: _BandBlock, rx_dl_dbm, rx_ul_dbm, fading_dl, fading_ul) -> _LinearBlock:
    """Validate one band's link powers and convert them to mW, as link.sinr_db and link.uplink_sinr_db do."""
    n, m = rx_dl_dbm.shape
    serving = link._check_serving(b.serving, n, m)
    rows = np.arange(n)
    p_dl_mw = link._linear_power_mw(link._check_matrix(rx_dl_dbm), fading_dl)
    p_ul_mw = link._linear_power_mw(link._check_matrix(rx_ul_dbm), fading_ul)
    noise_ul_mw = link._db_to_lin(np.asarray(b.noise_ul_dbm, dtype=np.float64))
    return _LinearBlock(
        rows=rows, serving=serving, p_dl_mw=p_dl_mw,
        scratch_mw=np.empty((min(n, _SCRATCH_ROWS), m)) if p_dl_mw.flags.c_contiguous else np.empty_like(p_dl_mw),
        signal_dl_db=link._power_db(p_dl_mw[rows, serving]),
        noise_dl_mw=link._db_to_lin(np.asarray(b.noise_dl_dbm, dtype=np.float64)),
        x_ul_mw=link._mean_uplink_power_mw(p_ul_mw, serving, m),
        signal_ul_db=link._power_db(p_ul_mw[rows, serving]),
        noise_ul_mw=noise_ul_mw[serving],
    )


def _block_sinr_db(lin: _LinearBlock, load_dl: np.ndarray, load_ul: np.ndarray) -> tuple[np.ndarray, ...]:
    """Downlink and uplink SINR of one band's devices at the given cell loads, dB, and the uplink interference.

    The values of :func:`airan.radio.link.sinr_db` and :func:`airan.radio.link.uplink_sinr_db`
    (mean interferer) for the block's powers, with the same operations in the same order;
    then the interference at each of the band's cells, mW (:func:`uplink_interference_mw`).
    """
    m = lin.x_ul_mw.shape[0]
    w_dl = link._check_load(load_dl, m)
    if lin.scratch_mw.shape[0] == lin.rows.shape[0]:  # one block, or rows not contiguous: the whole matrix
        i_dl_mw = link._downlink_interference_mw(lin.p_dl_mw, lin.rows, lin.serving, w_dl, out=lin.scratch_mw)
    else:  # by blocks of devices that stay in cache; each row is summed as in the whole matrix
        i_dl_mw = np.empty(lin.rows.shape[0])
        size = lin.scratch_mw.shape[0]
        for a in range(0, lin.rows.shape[0], size):
            b = min(a + size, lin.rows.shape[0])
            i_dl_mw[a:b] = link._downlink_interference_mw(lin.p_dl_mw[a:b], lin.rows[: b - a], lin.serving[a:b],
                                                          w_dl, out=lin.scratch_mw[: b - a])
    i_ul_mw = link._uplink_interference_mw(lin.x_ul_mw, link._check_load(load_ul, m))
    return (link._sinr_db(lin.signal_dl_db, i_dl_mw, lin.noise_dl_mw),
            link._sinr_db(lin.signal_ul_db, i_ul_mw[lin.serving], lin.noise_ul_mw), i_ul_mw)


def rates(channel, links: Links, demand_ul_bps: np.ndarray, demand_dl_bps: np.ndarray) -> Rates:
    """Steps 6-7 of the module docstring: SINR, full-cell rates and (coupled) cell loads.

    ``demand_*_bps`` is each device's offered traffic (bits per second it sends or
    receives on average); it sets the cell loads that weight interference. Each cell's
    band (``links.cells.band``) sets its noise and occupied bandwidth; only cells of the
    same band interfere.
    """
    n_cells = links.cells.site.shape[0]
    n_dev = links.cell.shape[0]
    occupied_hz = _occupied_bandwidth_hz(channel, links.cells)
    occupied_dev = occupied_hz if np.ndim(occupied_hz) == 0 else occupied_hz[links.cell]
    blocks = _band_blocks(channel, links)
    if len(blocks) == 1:
        views = [(links.rx_dl_dbm, links.rx_ul_dbm, links.fading_dl, links.fading_ul)]
    else:
        views = [tuple(a[np.ix_(b.devices, b.cells)] for a in (links.rx_dl_dbm, links.rx_ul_dbm, links.fading_dl,
                                                            links.fading_ul)) for b in blocks]
    # what does not change between iterations, converted to mW once per band
    linear = [_linear_block(b, *v) for b, v in zip(blocks, views, strict=True)]
    del views

    def evaluate(load_dl, load_ul):
        if len(blocks) == 1:
            sinr_dl, sinr_ul, i_ul_mw = _block_sinr_db(linear[0], load_dl, load_ul)
        else:
            sinr_dl, sinr_ul, i_ul_mw = np.empty(n_dev), np.empty(n_dev), np.zeros(n_cells)
            for b, lin in zip(blocks, linear, strict=True):
                if b.devices.size == 0:  # a band without devices: no uplink interference
                    continue
                sinr_dl[b.devices], sinr_ul[b.devices], i_ul_mw[b.cells] = _block_sinr_db(
                    lin, load_dl[b.cells], load_ul[b.cells])
        r_dl = link.rate_bps(occupied_dev, spectral_efficiency(channel, sinr_dl), channel.dl_overhead)
        r_ul = link.rate_bps(occupied_dev, spectral_efficiency(channel, sinr_ul), channel.ul_overhead)
        return sinr_dl, sinr_ul, r_dl, r_ul, i_ul_mw

    def offered_load(demand, rate):
        with np.errstate(divide="ignore", invalid="ignore"):
            busy = np.where(demand > 0, demand / rate, 0.0)  # inf where a device has no rate
        return np.minimum(np.bincount(links.cell, weights=busy, minlength=n_cells), 1.0)

    if channel.interference == "none":
        load_dl = load_ul = np.zeros(n_cells)
    else:
        load_dl = load_ul = np.ones(n_cells)
    sinr_dl, sinr_ul, r_dl, r_ul, i_ul_mw = evaluate(load_dl, load_ul)
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
            sinr_dl, sinr_ul, r_dl, r_ul, i_ul_mw = evaluate(load_dl, load_ul)
    return Rates(sinr_dl, sinr_ul, r_dl, r_ul, offered_load(demand_dl_bps, r_dl), offered_load(demand_ul_bps, r_ul),
                 iterations, np.array(load_dl, dtype=np.float64), np.array(load_ul, dtype=np.float64),
                 np.array(i_ul_mw, dtype=np.float64))


def uplink_interference_mw(channel, links: Links, load_ul: np.ndarray) -> np.ndarray:
    """Mean uplink interference at each cell's receiver, float64[n_cells], mW.

    The interference term of :func:`airan.radio.link.uplink_sinr_db` with
    ``interferer=None`` (each other cell of the same band schedules one of its devices
    uniformly at random, active a fraction ``load_ul`` of the time), evaluated exactly as
    :func:`rates` does, so that a device added at cell c sees SINR
    ``P_rx / (I[c] + N[c])``. Used by :mod:`airan.radio.radiomap`.
    """
    n_cells = links.cells.site.shape[0]
    out = np.zeros(n_cells)
    for b in _band_blocks(channel, links):
        if b.devices is None:
            p_dbm, g, cells_b = links.rx_ul_dbm, links.fading_ul, slice(None)
        else:
            p_dbm = links.rx_ul_dbm[np.ix_(b.devices, b.cells)]
            g = links.fading_ul[np.ix_(b.devices, b.cells)]
            cells_b = b.cells
        m = b.noise_ul_dbm.shape[0]
        w = np.broadcast_to(np.asarray(load_ul, dtype=np.float64)[cells_b], (m,))
        # as in link.uplink_sinr_db: x_mw[j, c], power at cell c from cell j's mean scheduled device, mW
        x_mw = link._mean_uplink_power_mw(link._linear_power_mw(p_dbm, g), b.serving, m)
        out[cells_b] = link._uplink_interference_mw(x_mw, w)
    return out
