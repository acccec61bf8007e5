"""Radio environment map: the link budget of a moving device at any position, precomputed on a grid.

Moving devices need their serving-cell candidates, rates and uplink power wherever they
are during the run, inside the compiled event loop. Evaluating the link budget there
would need the whole radio model in the kernel, so it is tabulated at build time on a
square grid over the simulation area, and the kernel reads the nearest grid point:

1. :func:`radio_field` draws the randomness of the map once, spatially consistent so
   that a device moving through the map sees smoothly correlated shadowing and LOS
   state (3GPP TR 38.901 §7.6.3 "spatial consistency"). Per site:

   - two zero-mean unit-variance Gaussian fields with the isotropic exponential
     autocorrelation exp(-d / d_corr) of Gudmundson (1991), one with the LOS and one
     with the NLOS shadow-fading decorrelation distance of TR 38.901 Table 7.5-6 for
     the site's environment. A link uses the field of its LOS state, scaled by its
     sigma_SF, so each state's shadowing has its own correlation distance (Table 7.5-6
     gives LOS and NLOS separate parameter sets; the MONSTER simulator keeps one
     shadowing map per state the same way). A device whose LOS state flips jumps
     between the two fields, as the standard's state change implies;
   - one spatially consistent uniform field, LOS where it is below P_LOS(d2D)
     (TR 38.901 §7.6.3.3 and Table 7.4.2-1). It is a Gaussian field with the
     correlation distance of the LOS state, TR 38.901 Table 7.6.3.1-2 (UMa 50 m,
     UMi 50 m, RMa 60 m, InH 10 m; R: recalled, and the same values as the MONSTER
     simulator's), mapped through the normal CDF, so it is uniform at each point (to
     7.5e-8, the error of the CDF approximation) and its correlation is
     (6/pi) arcsin(rho/2), within 0.02 of rho.
   With ``channel.los`` forced, the state is forced; without ``channel.shadowing``,
   there is no shadowing (``channel.shadowing_correlated`` is not consulted: shadowing
   on a map is always spatially correlated, i.i.d. values per grid point would not
   describe a moving device). There is no fast fading: the map holds local means, and
   the kernel's cell sharing does the scheduling. The UMa effective environment height
   is h_E = 1 m (exact for devices below 13 m; see :func:`pathloss.pathloss_db`).

2. :func:`links_at` evaluates the link budget of devices at grid points exactly as
   :func:`airan.radio.network.attach` does (per-site environment, band, power;
   wrap-around), and returns a :class:`~airan.radio.network.Links` that
   :func:`airan.radio.network.rates` accepts. Distances below a model's minimum
   (a grid point can lie on a site) are raised to it (``network.MIN_DISTANCE_M``).

3. :func:`radio_map` tabulates, for every grid point, the best ``k`` cells by RSRP plus
   association bias with their SINR, full-cell rates and uplink power, given the cell
   loads. Interference uses the loads computed by :func:`airan.radio.network.rates`
   for the devices' initial positions (the load-coupling fixed point): the loads, and
   the uplink interferers, stay at that prediction while devices move.

Generating the Gaussian fields
------------------------------
By circulant embedding (Dietrich & Newsam 1997; Wood & Chan 1994): the grid is embedded
in a torus padded by 10 decorrelation distances, whose covariance matrix is
block-circulant and diagonalised by the 2D FFT, and one complex FFT of white noise
gives two independent fields. The result is the *isotropic* exponential correlation
on the grid, exact up to exp(-10) = 4.5e-5 (pairs whose torus distance wraps; negative
eigenvalues, of the same order, are set to zero). Cost per pair of fields:
O(M log M) for M ~ (n + 10 d_corr / step)^2 torus points. Separable AR(1) filtering
along x then y would be cheaper but gives exp(-(|dx| + |dy|)/d_corr), whose correlation
along a diagonal at distance d_corr is exp(-sqrt 2) = 0.24 instead of exp(-1) = 0.37.

Memory: the field holds 3 float32 values per site and grid point (less when LOS is
forced or shadowing off); the map 48 bytes per grid point and candidate.

References
----------
3GPP TR 38.901 V17.0.0, §7.4.1-7.4.2 (path loss, sigma_SF, LOS probability), §7.5 and
Table 7.5-6 (shadow-fading correlation distances), §7.6.3 and Table 7.6.3.1-2 (spatial
consistency, LOS-state correlation distance).
M. Gudmundson, "Correlation model for shadow fading in mobile radio systems",
Electronics Letters 27(23), 1991.
C. R. Dietrich and G. N. Newsam, "Fast and exact simulation of stationary Gaussian
processes through circulant embedding of the covariance matrix", SIAM J. Sci. Comput.
18(4), 1997; A. T. A. Wood and G. Chan, "Simulation of stationary Gaussian processes in
[0, 1]^d", J. Comput. Graph. Stat. 3(4), 1994.
M. Abramowitz and I. A. Stegun, Handbook of Mathematical Functions, 1964, eq. 7.1.26
(the error function used for the normal CDF, |error| <= 1.5e-7).
The MONSTER system-level simulator (github.com/Sonohi/monster, ``channel/Monster3GPP38901.m``):
per-state shadowing maps and a LOS-state map of TR 38.901 with the same correlation distances.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from . import link, network, pathloss

__all__ = [
    "LOS_STATE_DECORRELATION_M",
    "RadioField",
    "RadioMap",
    "correlated_gaussian_fields",
    "grid_index",
    "grid_xy_m",
    "links_at",
    "radio_field",
    "radio_map",
]

#: Correlation distance of the spatially consistent LOS state, m: TR 38.901 Table 7.6.3.1-2 (R).
LOS_STATE_DECORRELATION_M = MappingProxyType({"UMa": 50.0, "UMi": 50.0, "RMa": 60.0, "InH": 10.0})

#: Torus padding of the circulant embedding, in decorrelation distances (error <= exp(-10)).
_PAD_DECORRELATIONS = 10.0

#: Device-site-copy links evaluated per chunk of grid points (bounds the temporaries to ~10 MB each).
_CHUNK_LINKS = 1 << 20

#: Threads evaluating chunks of the map at once (at most the CPU count).
_MAX_THREADS = 4


class RadioField(NamedTuple):
    """Grid geometry and the spatially consistent random fields of a radio map.

    Grid point (i, j) is at (x0_m + i step_m, y0_m + j step_m), flat index j nx + i.
    """

    x0_m: float  # x of grid column 0, m
    y0_m: float  # y of grid row 0, m
    step_m: float  # grid spacing, m
    nx: int  # grid columns
    ny: int  # grid rows
    ue_height_m: float  # device antenna height, m
    channel: object  # the channel the field was drawn for
    sites: object  # the sites argument (see network.attach)
    wrap_shifts_m: np.ndarray | None  # float64[n_shift, 2] wrap-around translations, or None
    where: str  # prefix of error messages
    los_uniform: np.ndarray | None  # float32[n_points, n_sites] uniform(0, 1) field of the LOS state (None: forced)
    shadow_los: np.ndarray | None  # float32[n_points, n_sites] unit Gaussian field, LOS d_corr (None: no shadowing)
    shadow_nlos: np.ndarray | None  # float32[n_points, n_sites] unit Gaussian field, NLOS d_corr

    @property
    def n_points(self) -> int:
        """Number of grid points, nx * ny."""
        return self.nx * self.ny


class RadioMap(NamedTuple):
    """Per grid point, the best ``k`` cells and the link each would give; ``[n_points, k]`` unless stated.

    Candidates are ordered as :func:`network.attach` associates: by RSRP plus the cell's
    site bias, ties to the lower cell index, so ``cell[:, 0]`` is the serving cell of a
    device at that point. Padding (fewer than ``k`` cells): cell -1, RSRP and SINR
    -inf, rates 0, tx power nan.
    """

    x0_m: float  # x of grid column 0, m
    y0_m: float  # y of grid row 0, m
    step_m: float  # grid spacing, m
    nx: int  # grid columns; grid point (i, j) at (x0 + i step, y0 + j step), flat index j nx + i
    ny: int  # grid rows
    cell: np.ndarray  # int32, candidate cells, best first by rsrp + bias (-1: padding)
    rsrp_dbm: np.ndarray  # float32, RSRP (received power per resource element, TS 38.215), dBm
    rate_dl_bps: np.ndarray  # float64, downlink full-cell rate if served by that cell, bit/s
    rate_ul_bps: np.ndarray  # float64, uplink full-cell rate, bit/s
    tx_power_dbm: np.ndarray  # float64, uplink power from power control towards that cell, dBm
    sinr_dl_db: np.ndarray  # float64, dB
    sinr_ul_db: np.ndarray  # float64, dB
    cell_bias_db: np.ndarray  # float64[n_cells], association bias of each cell's site, dB


# =============================================================================== random fields


def _fast_len(n: int) -> int:
    """Smallest m >= n whose prime factors are 2, 3 and 5 (fast FFT sizes)."""
    m = max(int(n), 1)
    while True:
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 1


def correlated_gaussian_fields(rng: np.random.Generator, nx: int, ny: int, step_m: float, decorrelation_m: float,
                               n_fields: int) -> np.ndarray:
    """Independent zero-mean unit-variance Gaussian fields on a grid with correlation exp(-d / d_corr).

    Circulant embedding (see the module docstring): exact isotropic exponential
    correlation between grid points, up to 4.5e-5.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the white noise (2 x torus size normals per pair of fields).
    nx, ny : int
        Grid columns and rows.
    step_m : float
        Grid spacing, m.
    decorrelation_m : float
        Distance d_corr at which the correlation is 1/e, m.
    n_fields : int
        Number of fields.

    Returns
    -------
    ndarray
        float32[n_fields, ny * nx], point (i, j) at flat index j nx + i.
    """
    if not (decorrelation_m > 0 and step_m > 0):
        raise ValueError(f"decorrelation_m and step_m: must be > 0, got {decorrelation_m!r}, {step_m!r}")
    pad = int(np.ceil(_PAD_DECORRELATIONS * decorrelation_m / step_m))
    mx, my = _fast_len(nx + pad), _fast_len(ny + pad)
    kx = np.minimum(np.arange(mx), mx - np.arange(mx)) * step_m  # torus (minimum-image) lags, m
    ky = np.minimum(np.arange(my), my - np.arange(my)) * step_m
    cov = np.exp(-np.hypot(ky[:, None], kx[None, :]) / decorrelation_m)  # [my, mx] first row of the covariance
    eig = np.fft.fft2(cov).real  # eigenvalues of the block-circulant covariance
    amplitude = np.sqrt(np.clip(eig, 0.0, None) / (mx * my))
    out = np.empty((n_fields, ny * nx), dtype=np.float32)
    for first in range(0, n_fields, 2):
        noise = rng.standard_normal((2, my, mx))
        z = np.fft.fft2(amplitude * (noise[0] + 1j * noise[1]))  # real and imaginary parts: two fields
        out[first] = z.real[:ny, :nx].ravel()
        if first + 1 < n_fields:
            out[first + 1] = z.imag[:ny, :nx].ravel()
    return out


def _normal_cdf(g: np.ndarray) -> np.ndarray:
    """Standard normal CDF via Abramowitz & Stegun 7.1.26 (|error| <= 7.5e-8), float64."""
    x = np.abs(np.asarray(g, dtype=np.float64)) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    half_erfc = 0.5 * poly * np.exp(-x * x)
    return np.where(np.asarray(g) >= 0, 1.0 - half_erfc, half_erfc)


def radio_field(channel, sites, area: tuple[float, float, float, float], resolution_m: float, ue_height_m: float,
                rng: np.random.Generator, *, wrap_shifts_m=None, where: str = "channel") -> RadioField:
    """Grid and spatially consistent random fields of a radio map (step 1 of the module docstring).

    Parameters
    ----------
    channel
        The scenario's channel; its fast fading must be ``"none"``.
    sites
        As for :func:`airan.radio.network.attach` (optional ``environment``, ``band``,
        ``tx_power_dbm``).
    area : (x_min_m, x_max_m, y_min_m, y_max_m)
        Rectangle to cover, m (the convention of :mod:`airan.mobility`). The grid starts
        at (x_min, y_min) and extends to the first grid line at or beyond (x_max, y_max).
    resolution_m : float
        Grid spacing, m (> 0).
    ue_height_m : float
        Device antenna height, m.
    rng : numpy.random.Generator
        Source of the fields; drawn site by site in a fixed order (LOS state, LOS
        shadowing, NLOS shadowing; fields of equal decorrelation distance paired).
    wrap_shifts_m : ndarray, optional
        Wrap-around translations, as for :func:`airan.radio.network.attach`. The random
        fields are indexed by the device's own (unwrapped) grid position.
    where : str
        Prefix of error messages.

    Returns
    -------
    RadioField
    """
    if channel.model == "ideal":
        raise network.RadioError(f"{where}.model: a radio map needs a radio channel model, got 'ideal'")
    if channel.fast_fading != "none":
        raise network.RadioError(f'{where}.fast_fading: must be "none" with moving devices (the radio map holds '
                                 f"local means), got {channel.fast_fading!r}")
    x_min, x_max, y_min, y_max = (float(v) for v in area)
    if not (np.isfinite([x_min, x_max, y_min, y_max]).all() and x_max >= x_min and y_max >= y_min):
        raise network.RadioError(f"{where}: area: must be finite (x_min, x_max, y_min, y_max) with max >= min, "
                                 f"got {tuple(area)}")
    step = float(resolution_m)
    if not (np.isfinite(step) and step > 0):
        raise network.RadioError(f"{where}: resolution_m: must be > 0, got {resolution_m!r}")
    shifts = network.check_wrap_shifts(wrap_shifts_m, where)
    radio = network._site_radio(channel, sites, where)  # validates the per-site attributes
    nx = int(np.ceil((x_max - x_min) / step - 1e-9)) + 1
    ny = int(np.ceil((y_max - y_min) / step - 1e-9)) + 1
    n_sites = sites.x_m.shape[0]

    # requests: (kind, site, decorrelation distance); kinds 0 LOS state, 1 LOS shadowing, 2 NLOS shadowing
    requests = []
    tr38901 = channel.model == "tr38901"
    for s, env in enumerate(radio.environment):
        if tr38901 and channel.los == "probabilistic":
            requests.append((0, s, LOS_STATE_DECORRELATION_M[env]))
        if tr38901 and channel.shadowing:
            requests.append((1, s, float(pathloss.decorrelation_distance_m(env, True))))
            requests.append((2, s, float(pathloss.decorrelation_distance_m(env, False))))
    kinds = {kind for kind, _, _ in requests}
    # [n_points, n_sites] float32 per kind
    fields = {kind: np.empty((nx * ny, n_sites), dtype=np.float32) for kind in kinds}
    for d in dict.fromkeys(d for _, _, d in requests):
        batch = [(kind, s) for kind, s, dd in requests if dd == d]
        values = correlated_gaussian_fields(rng, nx, ny, step, d, len(batch))
        for (kind, s), v in zip(batch, values, strict=True):
            fields[kind][:, s] = _normal_cdf(v) if kind == 0 else v
    return RadioField(
        x0_m=x_min, y0_m=y_min, step_m=step, nx=nx, ny=ny, ue_height_m=float(ue_height_m), channel=channel,
        sites=sites, wrap_shifts_m=shifts, where=where, los_uniform=fields.get(0), shadow_los=fields.get(1),
        shadow_nlos=fields.get(2),
    )


# =============================================================================== lookups


def grid_index(field, x_m, y_m) -> np.ndarray:
    """Flat index (j nx + i) of the grid point nearest to each position, clipped to the grid; int64."""
    i = np.clip(np.rint((np.asarray(x_m, dtype=np.float64) - field.x0_m) / field.step_m), 0, field.nx - 1)
    j = np.clip(np.rint((np.asarray(y_m, dtype=np.float64) - field.y0_m) / field.step_m), 0, field.ny - 1)
    return (j.astype(np.int64) * field.nx + i.astype(np.int64)).astype(np.int64)


def grid_xy_m(field, index) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates (x, y) of grid points given by flat index, m."""
    index = np.asarray(index, dtype=np.int64)
    return field.x0_m + (index % field.nx) * field.step_m, field.y0_m + (index // field.nx) * field.step_m


class _Budget(NamedTuple):
    geo: object  # network._Geometry
    pl: np.ndarray  # float64[n, n_sites], dB
    sf: np.ndarray  # float64[n, n_sites], dB
    los: np.ndarray  # bool[n, n_sites]
    coupling: np.ndarray  # float64[n, n_cells], dB


def _budget(channel, field: RadioField, radio, index: np.ndarray | slice) -> _Budget:
    """Steps 1-3 of :mod:`airan.radio.network` at grid points ``index`` (an index array or a slice)."""
    flat = np.arange(field.n_points)[index] if isinstance(index, slice) else np.asarray(index, dtype=np.int64)
    x, y = grid_xy_m(field, flat)
    geo = network._geometry(field.sites, x, y, np.full(flat.shape[0], field.ue_height_m), field.wrap_shifts_m)
    shape = geo.d2d_m.shape
    los = np.ones(shape, dtype=bool)
    sf = np.zeros(shape)
    tr38901 = channel.model == "tr38901"
    if tr38901:
        if field.los_uniform is not None and channel.los == "probabilistic":
            los = field.los_uniform[index] < network._los_probability(radio, geo)
        else:
            los[:] = channel.los == "los"
    pl = network._pathloss_db(channel, radio, geo, los, None, field.where, clamp=True)
    if tr38901 and channel.shadowing and field.shadow_los is not None:
        unit = np.where(los, field.shadow_los[index], field.shadow_nlos[index])
        sf = network._shadow_std_db(radio, geo, los) * unit
    coupling = network._coupling_db(radio, field.sites, geo, pl, sf)
    return _Budget(geo, pl, sf, los, coupling)


class _KnownCoupling(NamedTuple):
    """Coupling losses already evaluated at some grid points, as :func:`_budget` gives them."""

    index: np.ndarray  # int64[n], flat grid indices, ascending and distinct
    coupling_db: np.ndarray  # float64[n, n_cells], PL + SF - antenna gains, dB


def links_at(field: RadioField, x_m, y_m) -> network.Links:
    """The link budgets of devices at the grid points nearest to (x_m, y_m), as :func:`network.attach` gives them.

    No fast fading: the fading gains are 1 (read-only arrays of ones). The result feeds
    :func:`network.rates`.
    """
    return _links_at(field, x_m, y_m)[0]


def _links_at(field: RadioField, x_m, y_m) -> tuple[network.Links, _KnownCoupling | None]:
    """:func:`links_at`, and the coupling losses of the grid points it evaluated (None: none reusable).

    Each grid point is evaluated once, however many devices share it. The coupling losses
    can spare :func:`radio_map` evaluating those points again (``known``).
    """
    index = grid_index(field, x_m, y_m)
    radio = network._site_radio(field.channel, field.sites, field.where)
    points, inverse = np.unique(index, return_inverse=True)
    distinct = points.shape[0] >= 2
    if not distinct:
        # one point: evaluated once per device, as before, since a single row would take another
        # BLAS path in the geometry's matrix product, whose last bits may differ (_coupling_at)
        points, inverse = index, np.arange(index.shape[0])
    b = _budget(field.channel, field, radio, points)
    links = network._links(field.channel, radio, b.geo, b.pl, b.sf, b.los, b.coupling, None, None)
    ones = np.broadcast_to(np.float64(1.0), (index.shape[0], b.coupling.shape[1]))  # no fading, read-only
    links = network.Links(links.cells, *(getattr(links, name)[inverse] for name in network.Links._fields[1:-2]),
                          ones, ones)
    return links, _KnownCoupling(points, b.coupling) if distinct else None


# =============================================================================== the map


def _coupling_at(channel, field: RadioField, radio, part: slice, known: _KnownCoupling | None) -> np.ndarray:
    """Coupling losses at the grid points ``part``, float64[n, n_cells] dB: from ``known`` where it has them.

    Every value is the one ``_budget(..., part)`` gives. The geometry's matrix product
    gives each point the same bits in any product of two rows or more, but a one-row
    product takes another BLAS path: a one-point ``part`` is evaluated alone, as before,
    and a single missing point is evaluated as two rows.
    """
    if known is None or part.stop - part.start < 2:
        return _budget(channel, field, radio, part).coupling
    flat = np.arange(part.start, part.stop)
    pos = np.minimum(np.searchsorted(known.index, flat), known.index.shape[0] - 1)
    hit = known.index[pos] == flat
    if hit.all():
        return known.coupling_db[pos]
    coupling = np.empty((flat.shape[0], known.coupling_db.shape[1]))
    coupling[hit] = known.coupling_db[pos[hit]]
    missing = flat[~hit]
    evaluated = _budget(channel, field, radio, np.repeat(missing, 2) if missing.shape[0] == 1 else missing).coupling
    coupling[~hit] = evaluated[: missing.shape[0]]
    return coupling


def _best_first(score: np.ndarray, k: int) -> np.ndarray:
    """Columns of the ``k`` largest entries of each row of ``score``, largest first (intp[n, k]).

    Repeated ``np.argmax``, so ties go to the lower column exactly as in ``link.associate``
    (column 0 is the association of :func:`network.attach`); ``k`` must not exceed the columns.
    """
    left = score.copy()
    rows = np.arange(score.shape[0])
    order = np.empty((score.shape[0], k), dtype=np.intp)
    for slot in range(k):
        order[:, slot] = np.argmax(left, axis=1)
        left[rows, order[:, slot]] = -np.inf
    return order


def _cell_loads(channel, load, n_cells: int, name: str) -> np.ndarray:
    if channel.interference == "none":
        return np.zeros(n_cells)
    if channel.interference == "full":
        return np.ones(n_cells)
    w = np.asarray(load, dtype=np.float64)
    if w.shape != (n_cells,) or np.any(~((w >= 0) & (w <= 1))):
        raise ValueError(f"{name}: must be float64[{n_cells}] in [0, 1], got shape {w.shape}")
    return w


def radio_map(channel, field: RadioField, device_links: network.Links, load_dl, load_ul, k: int = 8, *,
              interference_ul_mw: np.ndarray | None = None, known: _KnownCoupling | None = None) -> RadioMap:
    """Best ``k`` cells of every grid point with their SINR, rates and uplink power (step 3 of the module docstring).

    Parameters
    ----------
    channel
        The channel the field was drawn for.
    field : RadioField
        From :func:`radio_field`.
    device_links : network.Links
        The devices at their initial positions (from :func:`network.attach` or
        :func:`links_at`): the uplink interferers, one per other cell of the same band
        (the mean-interferer model of :func:`network.rates`).
    load_dl, load_ul : ndarray
        float64[n_cells] cell loads weighting the interference, from
        :func:`network.rates` for those devices: pass ``interference_load_dl`` and
        ``interference_load_ul`` for entries equal to its SINRs (``load_dl`` /
        ``load_ul`` differ from them by less than the coupling tolerance, 1e-9).
        Ignored with interference "none" (loads 0) and "full" (loads 1).
    k : int
        Candidates kept per grid point (>= 1).
    interference_ul_mw : ndarray, optional
        float64[n_cells], the uplink interference of ``device_links`` at ``load_ul``, mW:
        ``interference_ul_mw`` of the same :func:`network.rates` result (whose
        ``interference_load_ul`` is ``load_ul``). None computes it with
        :func:`network.uplink_interference_mw`, which gives the same values.
    known : optional
        Internal: coupling losses already evaluated at some grid points for this channel
        and field (the build's ``_links_at`` returns them with the devices' links); those
        points are not evaluated again. The map is the same with or without them.

    Returns
    -------
    RadioMap
        For a device at a grid point, the entry of its serving cell (slot 0) equals
        what :func:`network.rates` gives it with those loads and interferers: SINR,
        rates, uplink power.
    """
    if int(k) != k or k < 1:
        raise ValueError(f"k: must be an integer >= 1, got {k!r}")
    k = int(k)
    radio = network._site_radio(channel, field.sites, field.where)
    cells = radio.cells
    n_cells = cells.site.shape[0]
    if device_links.cells.site.shape[0] != n_cells:
        raise ValueError(f"device_links: must have the field's {n_cells} cells, got {device_links.cells.site.shape[0]}")
    w_dl = _cell_loads(channel, load_dl, n_cells, "load_dl")
    w_ul = _cell_loads(channel, load_ul, n_cells, "load_ul")

    # per-cell constants, [n_cells]
    names = list(radio.bands)
    band_code = np.array([names.index(b) for b in cells.band.tolist()], dtype=np.int64)
    bands = [radio.bands[b] for b in cells.band.tolist()]
    if channel.noise:
        noise_dl_dbm = np.array([link.thermal_noise_dbm(b.bandwidth_hz, b.ue_noise_figure_db) for b in bands])
        noise_ul_dbm = np.array([link.thermal_noise_dbm(b.bandwidth_hz, b.bs_noise_figure_db) for b in bands])
    else:
        noise_dl_dbm = noise_ul_dbm = np.full(n_cells, -np.inf)
    noise_dl_mw = np.power(10.0, noise_dl_dbm / 10.0)
    noise_ul_mw = np.power(10.0, noise_ul_dbm / 10.0)
    occupied_hz = np.array([b.occupied_bandwidth_hz for b in bands], dtype=np.float64)
    if interference_ul_mw is None:
        interference_ul_mw = network.uplink_interference_mw(channel, device_links, w_ul)
    elif np.shape(interference_ul_mw) != (n_cells,):
        raise ValueError(f"interference_ul_mw: must be float64[{n_cells}], got shape {np.shape(interference_ul_mw)}")
    one_band = len(names) == 1

    n_points = field.n_points
    kk = min(k, n_cells)
    # outputs, [n_points, k]
    cell = np.full((n_points, k), -1, dtype=np.int32)
    rsrp = np.full((n_points, k), -np.inf, dtype=np.float32)
    rate_dl = np.zeros((n_points, k))
    rate_ul = np.zeros((n_points, k))
    tx = np.full((n_points, k), np.nan)
    sinr_dl = np.full((n_points, k), -np.inf)
    sinr_ul = np.full((n_points, k), -np.inf)

    n_copies = 1 if field.wrap_shifts_m is None else field.wrap_shifts_m.shape[0]
    chunk = max(64, _CHUNK_LINKS // max(n_cells, field.sites.x_m.shape[0] * n_copies))

    def fill(part: slice) -> None:
        """Evaluate the grid points ``part`` and write their rows of the outputs."""
        coupling = _coupling_at(channel, field, radio, part, known)  # [n, n_cells] dB
        rx_dl = radio.cell_tx_power_dbm[None, :] - coupling  # [n, n_cells] dBm
        score = network._association_metric_db(radio, rx_dl) + radio.cell_bias_db  # as link.associate
        order = _best_first(score, kk)
        rows = np.arange(order.shape[0])
        cell[part, :kk] = order
        rsrp[part, :kk] = np.take_along_axis(rx_dl, order, axis=1) - radio.cell_rsrp_offset_db[order]
        p_mw = np.power(10.0, rx_dl / 10.0)
        weighted_mw = p_mw * w_dl  # load-weighted power of every cell, mW
        for slot in range(kk):
            c = order[:, slot]
            # downlink: every other cell of the candidate's band interferes (as link.sinr_db)
            if one_band:  # the candidate's entries zeroed for the sum, then put back
                own_mw = weighted_mw[rows, c]
                weighted_mw[rows, c] = 0.0
                interference_mw = weighted_mw.sum(axis=1)
                weighted_mw[rows, c] = own_mw
            else:
                other = weighted_mw * (band_code[None, :] == band_code[c][:, None])
                other[rows, c] = 0.0
                interference_mw = other.sum(axis=1)
            with np.errstate(divide="ignore"):
                s_dl = 10.0 * np.log10(p_mw[rows, c]) - 10.0 * np.log10(interference_mw + noise_dl_mw[c])
            # uplink: power control towards the candidate, interference of the initial devices
            coupling_c = coupling[rows, c]
            p_tx = network._uplink_tx_power_dbm(channel, radio, c, coupling_c)
            with np.errstate(divide="ignore"):
                s_ul = (10.0 * np.log10(np.power(10.0, (p_tx - coupling_c) / 10.0))
                        - 10.0 * np.log10(interference_ul_mw[c] + noise_ul_mw[c]))
            sinr_dl[part, slot] = s_dl
            sinr_ul[part, slot] = s_ul
            tx[part, slot] = p_tx
            rate_dl[part, slot] = link.rate_bps(occupied_hz[c], network.spectral_efficiency(channel, s_dl),
                                                channel.dl_overhead)
            rate_ul[part, slot] = link.rate_bps(occupied_hz[c], network.spectral_efficiency(channel, s_ul),
                                                channel.ul_overhead)

    # Chunks are independent and draw nothing, so threads (numpy releases the GIL in its loops)
    # give identical results in any order; memory grows by one chunk's temporaries per thread.
    parts = [slice(start, min(start + chunk, n_points)) for start in range(0, n_points, chunk)]
    workers = max(1, min(_MAX_THREADS, os.cpu_count() or 1, len(parts)))
    if workers == 1:
        for part in parts:
            fill(part)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(fill, parts))
    return RadioMap(
        x0_m=field.x0_m, y0_m=field.y0_m, step_m=field.step_m, nx=field.nx, ny=field.ny, cell=cell, rsrp_dbm=rsrp,
        rate_dl_bps=rate_dl, rate_ul_bps=rate_ul, tx_power_dbm=tx, sinr_dl_db=sinr_dl, sinr_ul_db=sinr_ul,
        cell_bias_db=radio.cell_bias_db.copy(),
    )
