"""Link budget, antenna patterns, SINR and rate models (vectorised NumPy, build time).

Every function takes and returns plain arrays, so a scenario's radio side is computed
once when the model is built, never per event. Conventions used throughout:

- Powers are in dBm, gains in dBi, losses in dB, bandwidths in Hz; angles in degrees.
- A two-dimensional power array has shape ``[n_devices, n_cells]``: row ``u`` holds what
  device ``u`` receives from (downlink) or delivers to (uplink) each cell.
- Path loss and shadowing are *losses*: positive values reduce the received power, as in
  TR 38.901 §7.4.1, where the large-scale loss is PL + SF with SF ~ N(0, σ_SF²).
- Linear quantities are in mW internally (``10**(dBm/10)``); a fading power gain is a
  dimensionless linear factor (mean 1 for normalised Rayleigh fading).

References
----------
3GPP TR 38.901 V17, "Study on channel model for frequencies from 0.5 to 100 GHz",
Table 7.3-1 (antenna element pattern) and §7.8 (calibration set-up).
3GPP TS 38.213, "Physical layer procedures for control", §7.1.1 (PUSCH power control).
3GPP TS 38.214, "Physical layer procedures for data", Tables 5.2.2.1-2 and 5.2.2.1-3.
3GPP TS 38.306, "UE radio access capabilities", §4.1.2 (approximate peak data rate).
J. G. Andrews, F. Baccelli and R. K. Ganti, "A tractable approach to coverage and rate in
cellular networks", IEEE Trans. Commun. 59(11), 2011 (used to validate :func:`sinr_db`).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = [
    "CQI_TABLE_1",
    "CQI_TABLE_2",
    "CqiEntry",
    "MAX_SE_256QAM",
    "PEAK_RATE_OVERHEAD",
    "R_MAX",
    "VIENNA_CQI_THRESHOLDS_DB",
    "associate",
    "cqi_index",
    "cqi_spectral_efficiency",
    "cqi_thresholds_db",
    "draw_uplink_interferers",
    "nr_peak_rate_bps",
    "numerology",
    "omni_gain_db",
    "rate_bps",
    "received_power_dbm",
    "sector_boresights_deg",
    "sector_gain_db",
    "shannon_spectral_efficiency",
    "sinr_db",
    "thermal_noise_dbm",
    "uplink_sinr_db",
    "uplink_tx_power_dbm",
    "wrap_angle_deg",
]


# =============================================================================== constants

#: Maximum LDPC code rate of NR, TS 38.306 §4.1.2 (R_max = 948/1024).
R_MAX = 948.0 / 1024.0

#: Spectral efficiency of 256QAM at R_max, b/s/Hz: the top entry of CQI Table 2
#: (TS 38.214 Table 5.2.2.1-3 prints it as 7.4063).
MAX_SE_256QAM = 8.0 * R_MAX

#: Overhead OH of the TS 38.306 §4.1.2 peak-rate formula, per frequency range and link.
PEAK_RATE_OVERHEAD = MappingProxyType({"FR1_DL": 0.14, "FR2_DL": 0.18, "FR1_UL": 0.08, "FR2_UL": 0.10})


class CqiEntry(NamedTuple):
    """One row of a 4-bit CQI table of TS 38.214 §5.2.2.1."""

    cqi: int  # CQI index, 1..15 (0 means "out of range" and has no row)
    modulation: str  # "QPSK", "16QAM", "64QAM" or "256QAM"
    qm: int  # bits per modulation symbol
    code_rate_x1024: int  # target code rate times 1024
    efficiency: float  # b/s/Hz, as printed in the spec (Qm·R/1024 rounded half-up to 4 decimals)


#: TS 38.214 Table 5.2.2.1-2, "4-bit CQI Table" (Table 1; 64QAM at most; BLER target 0.1).
#: Checked against the stored spec text (CrzyNxtG/mdspc 38214 §5.2.2) and two public
#: simulators' copies; identical to LTE's TS 36.213 Table 7.2.3-1.
CQI_TABLE_1: tuple[CqiEntry, ...] = (
    CqiEntry(1, "QPSK", 2, 78, 0.1523),
    CqiEntry(2, "QPSK", 2, 120, 0.2344),
    CqiEntry(3, "QPSK", 2, 193, 0.3770),
    CqiEntry(4, "QPSK", 2, 308, 0.6016),
    CqiEntry(5, "QPSK", 2, 449, 0.8770),
    CqiEntry(6, "QPSK", 2, 602, 1.1758),
    CqiEntry(7, "16QAM", 4, 378, 1.4766),
    CqiEntry(8, "16QAM", 4, 490, 1.9141),
    CqiEntry(9, "16QAM", 4, 616, 2.4063),
    CqiEntry(10, "64QAM", 6, 466, 2.7305),
    CqiEntry(11, "64QAM", 6, 567, 3.3223),
    CqiEntry(12, "64QAM", 6, 666, 3.9023),
    CqiEntry(13, "64QAM", 6, 772, 4.5234),
    CqiEntry(14, "64QAM", 6, 873, 5.1152),
    CqiEntry(15, "64QAM", 6, 948, 5.5547),
)

#: TS 38.214 Table 5.2.2.1-3, "4-bit CQI Table 2" (256QAM; BLER target 0.1). Same checks as Table 1.
CQI_TABLE_2: tuple[CqiEntry, ...] = (
    CqiEntry(1, "QPSK", 2, 78, 0.1523),
    CqiEntry(2, "QPSK", 2, 193, 0.3770),
    CqiEntry(3, "QPSK", 2, 449, 0.8770),
    CqiEntry(4, "16QAM", 4, 378, 1.4766),
    CqiEntry(5, "16QAM", 4, 490, 1.9141),
    CqiEntry(6, "16QAM", 4, 616, 2.4063),
    CqiEntry(7, "64QAM", 6, 466, 2.7305),
    CqiEntry(8, "64QAM", 6, 567, 3.3223),
    CqiEntry(9, "64QAM", 6, 666, 3.9023),
    CqiEntry(10, "64QAM", 6, 772, 4.5234),
    CqiEntry(11, "64QAM", 6, 873, 5.1152),
    CqiEntry(12, "256QAM", 8, 711, 5.5547),
    CqiEntry(13, "256QAM", 8, 797, 6.2266),
    CqiEntry(14, "256QAM", 8, 885, 6.9141),
    CqiEntry(15, "256QAM", 8, 948, 7.4063),
)

#: Lowest SINR (dB) at which CQI 1..15 of Table 1 meets 10 % BLER on an AWGN channel, as
#: used by the Vienna 5G system-level simulator (as commonly quoted; not
#: re-checked against the Vienna source). The SINR->CQI mapping is implementation
#: specific, not standardised: treat this as a default curve and override it.
VIENNA_CQI_THRESHOLDS_DB: tuple[float, ...] = (
    -5.6, -3.5, -1.5, 0.7, 2.6, 4.6, 6.5, 8.5, 10.5, 12.5, 14.3, 16.1, 18.1, 20.3, 22.0,
)

_SCS_KHZ = (15, 30, 60, 120, 240, 480, 960)

# TR 38.901 Table 7.3-1 sector element: half-power beamwidths φ_3dB = θ_3dB (deg), maximum
# attenuation A_m and vertical side-lobe attenuation SLA_V (dB); the defaults of :func:`sector_gain_db`.
_SECTOR_BEAMWIDTH_DEG = 65.0
_SECTOR_A_M_DB = 30.0
_SECTOR_SLA_V_DB = 30.0


# =============================================================================== helpers


def _f64(x: npt.ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _db_to_lin(x_db: np.ndarray) -> np.ndarray:
    return np.power(10.0, x_db / 10.0)


def numerology(scs_khz: float) -> int:
    """NR numerology μ of a subcarrier spacing, Δf = 2^μ · 15 kHz (TS 38.211 §4.2).

    Parameters
    ----------
    scs_khz : float
        Subcarrier spacing in kHz: 15, 30, 60, 120, 240, 480 or 960.

    Returns
    -------
    int
        μ, from 0 (15 kHz) to 6 (960 kHz).
    """
    if scs_khz not in _SCS_KHZ:
        raise ValueError(f"scs_khz: must be one of {', '.join(map(str, _SCS_KHZ))}, got {scs_khz!r}")
    return _SCS_KHZ.index(scs_khz)


def wrap_angle_deg(angle_deg: npt.ArrayLike) -> np.ndarray:
    """Wrap angles to [−180, 180) degrees: ``mod(angle + 180, 360) - 180``."""
    shifted = _f64(angle_deg) + 180.0
    if shifted.ndim and shifted.size and shifted.min() > -360.0 and shifted.max() < 720.0:
        # np.mod's values without its division, for x in (-360, 720): x - 360 from [360, 720) is
        # exact (Sterbenz lemma), as fmod is; x + 360 below 0 rounds as np.mod's own correction does
        np.subtract(shifted, 360.0, out=shifted, where=shifted >= 360.0)
        np.add(shifted, 360.0, out=shifted, where=shifted < 0.0)
    else:
        shifted = np.mod(shifted, 360.0)
    return shifted - 180.0


# =============================================================================== noise


def thermal_noise_dbm(
    bandwidth_hz: npt.ArrayLike, noise_figure_db: npt.ArrayLike, density_dbm_hz: float = -174.0
) -> np.ndarray:
    """Receiver noise power N = N0 + 10·log10(B) + NF, in dBm.

    Parameters
    ----------
    bandwidth_hz : array_like
        Noise bandwidth B in Hz (> 0).
    noise_figure_db : array_like
        Receiver noise figure NF in dB.
    density_dbm_hz : float, optional
        Thermal noise density N0 in dBm/Hz. The default −174 dBm/Hz is the usual
        convention; kT at T0 = 290 K is −173.975 dBm/Hz (0.025 dB higher).

    Returns
    -------
    ndarray
        Noise power in dBm, broadcast over the inputs.

    References
    ----------
    -174 dBm/Hz is the rounded kT0 at T0 = 290 K (exactly -173.975 dBm/Hz);
    H. T. Friis, "Noise figures of radio receivers",
    Proc. IRE 32(7), 1944 (noise figure).
    """
    bandwidth_hz = _f64(bandwidth_hz)
    if np.any(~(bandwidth_hz > 0)):
        raise ValueError(f"bandwidth_hz: must be > 0, got {bandwidth_hz}")
    return density_dbm_hz + 10.0 * np.log10(bandwidth_hz) + _f64(noise_figure_db)


# =============================================================================== antennas


def sector_gain_db(
    phi_deg: npt.ArrayLike,
    theta_deg: npt.ArrayLike = 90.0,
    *,
    boresight_deg: float = 0.0,
    max_gain_dbi: float = 8.0,
    downtilt_deg: float = 0.0,
    h_beamwidth_deg: float = _SECTOR_BEAMWIDTH_DEG,
    v_beamwidth_deg: float = _SECTOR_BEAMWIDTH_DEG,
    front_to_back_db: float = _SECTOR_A_M_DB,
    sla_v_db: float = _SECTOR_SLA_V_DB,
) -> np.ndarray:
    """Gain of a 3GPP sector antenna element towards (φ, θ), in dBi.

    TR 38.901 Table 7.3-1, with φ'' = φ − boresight wrapped to [−180°, 180°) and θ the
    zenith angle (90° = horizon; a downtilt moves the beam peak to θ = 90° + tilt):

        A_H = −min(12 (φ''/φ_3dB)², A_m)
        A_V = −min(12 ((θ − 90° − tilt)/θ_3dB)², SLA_V)
        G   = G_max − min(−(A_V + A_H), A_m)

    Defaults are the table's: φ_3dB = θ_3dB = 65°, A_m = SLA_V = 30 dB, G_max = 8 dBi.
    So the gain is G_max − 3 dB at φ'' = ±φ_3dB/2 = ±32.5° and never falls below
    G_max − A_m. The tilt term is exact in the vertical cut through the boresight and an
    approximation elsewhere (a mechanical tilt also rotates the azimuth cut).

    Parameters
    ----------
    phi_deg : array_like
        Azimuth of the direction, degrees (any range; wrapped).
    theta_deg : array_like, optional
        Zenith angle of the direction, degrees; 90 is the horizon.
    boresight_deg : float, optional
        Azimuth the sector points at, degrees.
    max_gain_dbi : float, optional
        Peak gain G_max in dBi (8 dBi for one TR 38.901 element; pass a panel's peak gain
        to use this as the azimuth pattern of a vertical array).
    downtilt_deg : float, optional
        Electrical/mechanical downtilt, degrees (positive points below the horizon).
    h_beamwidth_deg, v_beamwidth_deg : float, optional
        Horizontal and vertical half-power beamwidths φ_3dB and θ_3dB, degrees.
    front_to_back_db : float, optional
        Maximum attenuation A_m, dB.
    sla_v_db : float, optional
        Vertical side-lobe attenuation SLA_V, dB.

    Returns
    -------
    ndarray
        Gain in dBi, broadcast over ``phi_deg`` and ``theta_deg``.

    References
    ----------
    3GPP TR 38.901 V17, Table 7.3-1 (radiation power pattern of a single antenna element).
    """
    phi = wrap_angle_deg(_f64(phi_deg) - boresight_deg)
    a_h = _sector_horizontal_db(phi, h_beamwidth_deg, front_to_back_db)
    a_v = _sector_vertical_db(_f64(theta_deg), downtilt_deg, v_beamwidth_deg, sla_v_db)
    return _sector_combined_db(a_v, a_h, max_gain_dbi, front_to_back_db)


# The three steps of sector_gain_db, also used by airan.radio.network on large arrays: given
# ``out`` (an array of the result's shape, which may be an input) they work in place; the
# operations and their order are the same either way.


def _sector_horizontal_db(phi_deg, h_beamwidth_deg: float, front_to_back_db: float, out: np.ndarray | None = None):
    """A_H = −min(12 (φ''/φ_3dB)², A_m) of TR 38.901 Table 7.3-1, from the wrapped azimuth φ'' in degrees."""
    a_h = np.divide(phi_deg, h_beamwidth_deg, out=out)
    step = None if out is None else a_h
    a_h = np.square(a_h, out=step)
    a_h = np.multiply(12.0, a_h, out=step)
    a_h = np.minimum(a_h, front_to_back_db, out=step)
    return np.negative(a_h, out=step)


def _sector_vertical_db(theta_deg, downtilt_deg, v_beamwidth_deg: float, sla_v_db: float):
    """A_V = −min(12 ((θ − 90° − tilt)/θ_3dB)², SLA_V) of TR 38.901 Table 7.3-1, θ the zenith angle in degrees."""
    return -np.minimum(12.0 * ((theta_deg - 90.0 - downtilt_deg) / v_beamwidth_deg) ** 2, sla_v_db)


def _sector_combined_db(a_v, a_h, max_gain_dbi, front_to_back_db: float, out: np.ndarray | None = None):
    """G = G_max − min(−(A_V + A_H), A_m) of TR 38.901 Table 7.3-1, dBi."""
    g = np.add(a_v, a_h, out=out)
    step = None if out is None else g
    g = np.negative(g, out=step)
    g = np.minimum(g, front_to_back_db, out=step)
    return np.subtract(max_gain_dbi, g, out=step)


def omni_gain_db(phi_deg: npt.ArrayLike, gain_dbi: float = 0.0) -> np.ndarray:
    """Gain of an omnidirectional antenna: ``gain_dbi`` in every direction, shaped like ``phi_deg``."""
    return np.full(np.shape(phi_deg), float(gain_dbi))


def sector_boresights_deg(n_sectors: int = 3, first_deg: float = 30.0) -> np.ndarray:
    """Boresight azimuths of the sectors of one site, evenly spaced, in [0, 360) degrees.

    The default gives 30°, 150° and 270° for three sectors. That is the orientation of the
    3GPP hexagonal layout used for system-level evaluation (TR 38.901 §7.8 calibration, as
    set up by public implementations such as QuaDRiGa's and the MONSTER simulator's
    calibration scripts): with the site lattice's first-tier neighbours at azimuths
    0°, 60°, …, 300°, each boresight bisects the gap between two neighbouring sites and
    points at the centre of its own hexagonal sector cell, so the main lobes do not point
    at the nearest co-channel sites.

    Parameters
    ----------
    n_sectors : int, optional
        Number of sectors (>= 1).
    first_deg : float, optional
        Boresight of sector 0, degrees.

    Returns
    -------
    ndarray
        float64[n_sectors], degrees.
    """
    if int(n_sectors) != n_sectors or n_sectors < 1:
        raise ValueError(f"n_sectors: must be an integer >= 1, got {n_sectors!r}")
    return np.mod(first_deg + 360.0 * np.arange(int(n_sectors)) / n_sectors, 360.0)


# =============================================================================== power


def uplink_tx_power_dbm(
    pathloss_db: npt.ArrayLike,
    *,
    p0_dbm: npt.ArrayLike,
    alpha: float,
    p_max_dbm: npt.ArrayLike,
    n_prb: npt.ArrayLike,
    scs_khz: float,
) -> np.ndarray:
    """Open-loop PUSCH transmit power of TS 38.213 §7.1.1, in dBm.

        P = min(P_CMAX, P_O_PUSCH + 10·log10(2^μ · M_RB) + α · PL)

    The closed-loop adjustment f(i, l) and the transport-format term Δ_TF are taken as 0
    dB (Δ_TF is 0 unless ``deltaMCS`` is configured; f is what TPC commands accumulate),
    so this is the fractional power control working point. Above the cap the device
    transmits at P_CMAX and its received power falls with path loss.

    Parameters
    ----------
    pathloss_db : array_like
        Downlink path loss estimate PL the device uses, dB (include shadowing if the
        device sees it: PL is measured from the reference signal).
    p0_dbm : array_like
        Target received power P_O_PUSCH per 15 kHz-equivalent PRB, dBm (typically −110 to −60).
    alpha : float
        Fractional path-loss compensation α in [0, 1]; the spec's set is
        {0, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}.
    p_max_dbm : array_like
        Configured maximum output power P_CMAX, dBm (23 for power class 3).
    n_prb : array_like
        PUSCH bandwidth M_RB in resource blocks (>= 1).
    scs_khz : float
        Subcarrier spacing in kHz, which sets μ.

    Returns
    -------
    ndarray
        Transmit power in dBm.

    References
    ----------
    3GPP TS 38.213, §7.1.1 "UE behaviour" (PUSCH power control).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha: must be in [0, 1], got {alpha!r}")
    n_prb = _f64(n_prb)
    if np.any(~(n_prb >= 1)):
        raise ValueError(f"n_prb: must be >= 1, got {n_prb}")
    mu = numerology(scs_khz)
    open_loop = _f64(p0_dbm) + 10.0 * np.log10(2.0**mu * n_prb) + alpha * _f64(pathloss_db)
    return np.minimum(_f64(p_max_dbm), open_loop)


def received_power_dbm(
    tx_power_dbm: npt.ArrayLike,
    tx_gain_dbi: npt.ArrayLike,
    rx_gain_dbi: npt.ArrayLike,
    pathloss_db: npt.ArrayLike,
    shadowing_db: npt.ArrayLike = 0.0,
) -> np.ndarray:
    """Received power of the link budget P_rx = P_tx + G_tx + G_rx − PL − SF, in dBm.

    All inputs broadcast (for example ``tx_power_dbm[None, :]`` per cell against
    ``pathloss_db[n_devices, n_cells]``). ``shadowing_db`` is an extra loss, the SF of
    TR 38.901 §7.4.1; its sign is immaterial for the zero-mean normal draws of that model.
    Fast fading is not included: pass it to :func:`sinr_db` as a linear power gain.
    """
    return _f64(tx_power_dbm) + _f64(tx_gain_dbi) + _f64(rx_gain_dbi) - _f64(pathloss_db) - _f64(shadowing_db)


# =============================================================================== association and SINR


def _check_matrix(rx_power_dbm: npt.ArrayLike, name: str = "rx_power_dbm") -> np.ndarray:
    p = _f64(rx_power_dbm)
    if p.ndim != 2 or p.shape[1] == 0:
        raise ValueError(f"{name}: must have shape [n_devices, n_cells] with n_cells >= 1, got {p.shape}")
    if np.any(np.isnan(p)) or np.any(p == np.inf):
        raise ValueError(f"{name}: must not contain NaN or +inf")
    return p


def _check_serving(serving: npt.ArrayLike, n_devices: int, n_cells: int) -> np.ndarray:
    s = np.asarray(serving)
    if s.shape != (n_devices,) or not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"serving: must be an integer array of shape ({n_devices},), got {s.dtype} {s.shape}")
    if n_devices and (s.min() < 0 or s.max() >= n_cells):
        raise ValueError(f"serving: cell indices must be in [0, {n_cells}), got [{s.min()}, {s.max()}]")
    return s.astype(np.intp)


def _check_load(load: npt.ArrayLike, n_cells: int) -> np.ndarray:
    w = _f64(load)
    if w.ndim > 1 or (w.ndim == 1 and w.shape != (n_cells,)):
        raise ValueError(f"load: must be a scalar or have shape ({n_cells},), got {w.shape}")
    if np.any(~((w >= 0) & (w <= 1))):
        raise ValueError("load: must be in [0, 1]")
    return np.broadcast_to(w, (n_cells,))


def _linear_power_mw(p_dbm: np.ndarray, fading_gain: npt.ArrayLike | None) -> np.ndarray:
    p_mw = _db_to_lin(p_dbm)  # [n_devices, n_cells] float64, mW
    if fading_gain is not None:
        g = _f64(fading_gain)
        if g.shape != p_dbm.shape:
            raise ValueError(f"fading_gain: must have shape {p_dbm.shape}, got {g.shape}")
        if np.any(~(g >= 0)):
            raise ValueError("fading_gain: must be >= 0 (a linear power gain)")
        p_mw *= g
    return p_mw


def associate(rx_power_dbm: npt.ArrayLike, bias_db: npt.ArrayLike | None = None) -> np.ndarray:
    """Serving cell of each device: the cell with the highest biased received power.

        serving[u] = argmax_j (P[u, j] + bias[j])

    With no bias this is max-RSRP association (nearest cell for equal powers and a
    monotone path loss); a positive bias on small cells is cell range expansion (CRE).
    Ties go to the lowest cell index.

    Parameters
    ----------
    rx_power_dbm : array_like
        float64[n_devices, n_cells], received (reference-signal) power in dBm, without fast fading.
    bias_db : array_like, optional
        float64[n_cells] (or scalar) association bias in dB.

    Returns
    -------
    ndarray
        intp[n_devices], index of the serving cell.

    References
    ----------
    3GPP TS 38.331 (cell selection on RSRP); D. López-Pérez et al., "Enhanced intercell
    interference coordination challenges in heterogeneous networks", IEEE Wireless
    Commun. 18(3), 2011 (range expansion bias).
    """
    p = _check_matrix(rx_power_dbm)
    if bias_db is not None:
        b = _f64(bias_db)
        if b.ndim > 1 or (b.ndim == 1 and b.shape != (p.shape[1],)):
            raise ValueError(f"bias_db: must be a scalar or have shape ({p.shape[1]},), got {b.shape}")
        p = p + b
    return np.argmax(p, axis=1)


def sinr_db(
    rx_power_dbm: npt.ArrayLike,
    serving: npt.ArrayLike,
    load: npt.ArrayLike,
    noise_dbm: npt.ArrayLike,
    *,
    fading_gain: npt.ArrayLike | None = None,
) -> np.ndarray:
    """Downlink SINR of each device in dB, with load-weighted interference.

        S_u = P[u, c_u] · g[u, c_u]
        I_u = Σ_{j ≠ c_u} load_j · P[u, j] · g[u, j]
        SINR_u = S_u / (I_u + N_u)

    ``load_j`` is the fraction of time (or of the resource blocks) on which cell j
    transmits on the resources the device is scheduled on, so I_u is the interference
    averaged over the other cells' activity (the usual load-coupling model of
    system-level studies). With ``load = 1`` and a random ``fading_gain`` it is the
    instantaneous full-buffer SINR of Andrews, Baccelli & Ganti (2011).

    Parameters
    ----------
    rx_power_dbm : array_like
        float64[n_devices, n_cells], received power from every cell, dBm (−inf for "no link").
    serving : array_like
        int[n_devices], serving cell index (for example from :func:`associate`).
    load : array_like
        Scalar or float64[n_cells] in [0, 1]; the serving cell's own entry is ignored.
    noise_dbm : array_like
        Scalar or float64[n_devices] noise power in dBm (−inf for an interference-limited
        network).
    fading_gain : array_like, optional
        float64[n_devices, n_cells] linear fast-fading power gains (for example i.i.d.
        Exp(1) draws for Rayleigh fading); None means no fading.

    Returns
    -------
    ndarray
        float64[n_devices], SINR in dB (+inf when there is neither interference nor noise).

    References
    ----------
    J. G. Andrews, F. Baccelli and R. K. Ganti, IEEE Trans. Commun. 59(11), 2011, §II (SINR model);
    I. Siomina and D. Yuan, "Analysis of cell load coupling for LTE network planning and
    optimization", IEEE Trans. Wireless Commun. 11(6), 2012 (load-weighted interference).
    """
    p_dbm = _check_matrix(rx_power_dbm)
    n_devices, n_cells = p_dbm.shape
    cell = _check_serving(serving, n_devices, n_cells)
    w = _check_load(load, n_cells)
    noise = _f64(noise_dbm)
    if noise.ndim > 1 or (noise.ndim == 1 and noise.shape != (n_devices,)):
        raise ValueError(f"noise_dbm: must be a scalar or have shape ({n_devices},), got {noise.shape}")

    p_mw = _linear_power_mw(p_dbm, fading_gain)  # [n_devices, n_cells] float64, mW
    rows = np.arange(n_devices)
    signal_mw = p_mw[rows, cell]  # [n_devices] float64, mW
    interference_mw = _downlink_interference_mw(p_mw, rows, cell, w, out=p_mw)  # [n_devices] float64, mW
    return _sinr_db(_power_db(signal_mw), interference_mw, _db_to_lin(noise))


def draw_uplink_interferers(serving: npt.ArrayLike, n_cells: int, rng: np.random.Generator) -> np.ndarray:
    """Pick, for every cell, one of its devices uniformly at random as the scheduled uplink device.

    Parameters
    ----------
    serving : array_like
        int[n_devices], serving cell of each device.
    n_cells : int
        Number of cells.
    rng : numpy.random.Generator
        Random generator (seeded by the caller).

    Returns
    -------
    ndarray
        int64[n_cells], index of the chosen device, or −1 for a cell with no device.
    """
    s = np.asarray(serving)
    cell = _check_serving(s, s.shape[0] if s.ndim == 1 else -1, n_cells)
    keys = rng.random(cell.shape[0])
    order = np.lexsort((keys, cell))  # by cell, then by a random key: the first of each cell is uniform
    sorted_cells = cell[order]
    first = np.ones(order.shape[0], dtype=bool)
    first[1:] = sorted_cells[1:] != sorted_cells[:-1]
    chosen = np.full(n_cells, -1, dtype=np.int64)
    chosen[sorted_cells[first]] = order[first]
    return chosen


def uplink_sinr_db(
    rx_power_dbm: npt.ArrayLike,
    serving: npt.ArrayLike,
    load: npt.ArrayLike,
    noise_dbm: npt.ArrayLike,
    *,
    interferer: npt.ArrayLike | None = None,
    fading_gain: npt.ArrayLike | None = None,
) -> np.ndarray:
    """Uplink SINR of each device at its serving cell in dB, with one interfering device per other cell.

    Model: scheduling is orthogonal inside a cell, so on a given resource block each cell
    receives one device of its own and, from every other cell j, the one device that j has
    scheduled on the same block, active a fraction ``load_j`` of the time
    (Novlan, Dhillon & Andrews 2013; the full-buffer uplink of 3GPP system-level studies):

        S_u = P[u, c_u] · g[u, c_u]
        I_u = Σ_{j ≠ c_u} load_j · X_j(c_u)
        SINR_u = S_u / (I_u + N_{c_u})

    where X_j(c) is the power cell c receives from cell j's scheduled device:

    - ``interferer`` given: X_j(c) = P[k_j, c] · g[k_j, c] with k_j = interferer[j] (−1: cell j
      is silent). Draw it with :func:`draw_uplink_interferers` for a random snapshot.
    - ``interferer=None``: X_j(c) is the mean over the devices of cell j of P[k, c] · g[k, c],
      that is the expected interference when j schedules one of its devices uniformly at
      random; the result is the SINR at the mean interference, not the mean SINR. A cell
      with no device does not interfere.

    Parameters
    ----------
    rx_power_dbm : array_like
        float64[n_devices, n_cells], power received at every cell from each device, dBm
        (device transmit power, for example from :func:`uplink_tx_power_dbm`, plus gains
        minus losses).
    serving : array_like
        int[n_devices], serving cell of each device.
    load : array_like
        Scalar or float64[n_cells] in [0, 1], uplink activity of each cell on the resources.
    noise_dbm : array_like
        Scalar or float64[n_cells] noise power of each cell's receiver, dBm.
    interferer : array_like, optional
        int[n_cells] index of the scheduled device of each cell (must be served by that
        cell), or −1; None for the mean-interference model above.
    fading_gain : array_like, optional
        float64[n_devices, n_cells] linear fast-fading power gains; None means no fading.

    Returns
    -------
    ndarray
        float64[n_devices], SINR in dB.

    References
    ----------
    T. D. Novlan, H. S. Dhillon and J. G. Andrews, "Analytical modeling of uplink cellular
    networks", IEEE Trans. Wireless Commun. 12(6), 2013 (one uplink interferer per cell).
    3GPP TR 36.814 V9, Annex A (system-level uplink evaluation).
    """
    p_dbm = _check_matrix(rx_power_dbm)
    n_devices, n_cells = p_dbm.shape
    cell = _check_serving(serving, n_devices, n_cells)
    w = _check_load(load, n_cells)
    noise = _f64(noise_dbm)
    if noise.ndim > 1 or (noise.ndim == 1 and noise.shape != (n_cells,)):
        raise ValueError(f"noise_dbm: must be a scalar or have shape ({n_cells},), got {noise.shape}")
    noise_mw = np.broadcast_to(_db_to_lin(noise), (n_cells,))

    p_mw = _linear_power_mw(p_dbm, fading_gain)  # [n_devices, n_cells] float64, mW
    # x_mw[j, c]: power received at cell c from the device scheduled in cell j, mW
    if interferer is None:
        x_mw = _mean_uplink_power_mw(p_mw, cell, n_cells)
    else:
        x_mw = np.zeros((n_cells, n_cells))
        k = np.asarray(interferer)
        if k.shape != (n_cells,) or not np.issubdtype(k.dtype, np.integer):
            raise ValueError(f"interferer: must be an integer array of shape ({n_cells},), got {k.dtype} {k.shape}")
        active = k >= 0
        if np.any(k >= n_devices) or np.any(k < -1):
            raise ValueError(f"interferer: device indices must be in [-1, {n_devices})")
        if np.any(cell[k[active]] != np.flatnonzero(active)):
            raise ValueError("interferer: each cell's scheduled device must be served by that cell")
        x_mw[active] = p_mw[k[active]]
    interference_mw = _uplink_interference_mw(x_mw, w)  # [n_cells] float64, mW, at each cell's receiver

    signal_mw = p_mw[np.arange(n_devices), cell]
    return _sinr_db(_power_db(signal_mw), interference_mw[cell], noise_mw[cell])


# The pieces of sinr_db and uplink_sinr_db, shared with airan.radio.network.rates: its
# load-coupling fixed point converts the powers to mW once and reruns only the load-weighted
# sums, with the same floating-point operations in the same order as the functions above.


def _power_db(power_mw: np.ndarray) -> np.ndarray:
    """10 log10(P) of linear powers (mW -> dBm; -inf for 0), the signal term of the SINRs."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(power_mw)


def _sinr_db(signal_db: np.ndarray, interference_mw: np.ndarray, noise_mw) -> np.ndarray:
    """SINR = S / (I + N) in dB, as 10 log10(S) - 10 log10(I + N), from ``signal_db`` = 10 log10(S)."""
    with np.errstate(divide="ignore"):
        return signal_db - 10.0 * np.log10(interference_mw + noise_mw)


def _downlink_interference_mw(p_mw: np.ndarray, rows: np.ndarray, cell: np.ndarray, load: np.ndarray,
                              out: np.ndarray) -> np.ndarray:
    """I_u of :func:`sinr_db`, float64[n_devices] in mW, from the linear powers ``p_mw`` [n_devices, n_cells].

    ``out`` (same shape as ``p_mw``, may be ``p_mw`` itself) receives the load-weighted
    powers; ``rows`` is ``arange(n_devices)`` and ``load`` float64[n_cells].
    """
    np.multiply(p_mw, load, out=out)  # load-weighted contribution of every cell
    out[rows, cell] = 0.0  # the serving cell does not interfere with itself
    return out.sum(axis=1)


def _mean_uplink_power_mw(p_mw: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """X_j(c) of :func:`uplink_sinr_db` with ``interferer=None``, float64[n_cells, n_cells] in mW.

    Row j is the mean over the devices of cell j of their rows of ``p_mw``
    [n_devices, n_cells] (zero for a cell with no device). ``np.bincount`` adds each
    column's powers cell by cell in device order, the sums ``np.add.at`` would give.
    """
    x_mw = np.empty((n_cells, n_cells))
    for c in range(p_mw.shape[1]):
        x_mw[:, c] = np.bincount(cell, weights=p_mw[:, c], minlength=n_cells)
    x_mw /= np.maximum(np.bincount(cell, minlength=n_cells), 1)[:, None]
    return x_mw


def _uplink_interference_mw(x_mw: np.ndarray, load: np.ndarray) -> np.ndarray:
    """I at each cell's receiver of :func:`uplink_sinr_db`, float64[n_cells] in mW.

    From ``x_mw`` [n_cells, n_cells] (X_j(c), row j the interferer's cell) and
    ``load`` float64[n_cells]: the sum over j != c of load_j X_j(c).
    """
    x_mw = x_mw * load[:, None]
    np.fill_diagonal(x_mw, 0.0)
    return x_mw.sum(axis=0)


# =============================================================================== rates


def shannon_spectral_efficiency(
    sinr_db: npt.ArrayLike, *, gap_db: float = 0.0, max_se: float | None = None
) -> np.ndarray:
    """Spectral efficiency of the gap-approximated Shannon bound, in b/s/Hz.

        SE = min(log2(1 + SINR / Γ), SE_max),   Γ = 10^(gap_db/10)

    Parameters
    ----------
    sinr_db : array_like
        SINR in dB.
    gap_db : float, optional
        SNR gap Γ to capacity in dB (0: capacity; a few dB model practical coding and
        receivers).
    max_se : float, optional
        Cap on the efficiency, b/s/Hz, for example :data:`MAX_SE_256QAM` (7.406 b/s/Hz,
        the top of CQI Table 2); None for no cap.

    Returns
    -------
    ndarray
        Spectral efficiency in b/s/Hz.

    References
    ----------
    C. E. Shannon, "A mathematical theory of communication", Bell Syst. Tech. J. 27, 1948;
    G. D. Forney and G. Ungerboeck, "Modulation and coding for linear Gaussian channels",
    IEEE Trans. Inf. Theory 44(6), 1998 (SNR gap).
    """
    with np.errstate(over="ignore"):
        se = np.log2(1.0 + _db_to_lin(_f64(sinr_db) - gap_db))
    if max_se is not None:
        if not max_se > 0:
            raise ValueError(f"max_se: must be > 0, got {max_se!r}")
        se = np.minimum(se, max_se)
    return se


def _cqi_table(table: int) -> tuple[CqiEntry, ...]:
    if table == 1:
        return CQI_TABLE_1
    if table == 2:
        return CQI_TABLE_2
    raise ValueError(f"table: must be 1 (TS 38.214 Table 5.2.2.1-2) or 2 (Table 5.2.2.1-3), got {table!r}")


def cqi_thresholds_db(table: int = 1) -> np.ndarray:
    """Default SINR thresholds (dB) of CQI 1..15 for a CQI table; a new array each call.

    Table 1: :data:`VIENNA_CQI_THRESHOLDS_DB` (10 % BLER on AWGN, Vienna simulators).

    Table 2 (derived here, an assumption): CQI 1–12 of Table 2 have exactly the
    efficiencies of Table 1's CQI 1, 3, 5, 7–15 (CQI 12, 256QAM at 711/1024, matches
    64QAM at 948/1024), so they reuse those thresholds. The 256QAM entries CQI 13–15
    have no Table-1 counterpart; they keep the SNR gap to Shannon of Table 1's top entry
    (22.0 dB for 5.5547 b/s/Hz, a gap of 5.37 dB), giving about 24.1, 26.1 and 27.6 dB.

    The SINR->CQI mapping is not standardised: each simulator uses its own link-level
    curves. Override the thresholds wherever results depend on them.
    """
    entries = _cqi_table(table)
    t1_thr = np.array(VIENNA_CQI_THRESHOLDS_DB)
    if table == 1:
        return t1_thr
    t1_eff = np.array([e.efficiency for e in CQI_TABLE_1])
    gap_db = t1_thr[-1] - 10.0 * np.log10(2.0 ** t1_eff[-1] - 1.0)
    out = np.empty(len(entries))
    for i, entry in enumerate(entries):
        same = np.flatnonzero(t1_eff == entry.efficiency)
        out[i] = t1_thr[same[0]] if same.size else 10.0 * np.log10(2.0**entry.efficiency - 1.0) + gap_db
    return out


def _check_thresholds(thresholds_db: npt.ArrayLike | None, table: int) -> np.ndarray:
    if thresholds_db is None:
        return cqi_thresholds_db(table)
    thr = _f64(thresholds_db)
    if thr.shape != (15,) or np.any(~np.isfinite(thr)) or np.any(np.diff(thr) <= 0):
        raise ValueError(f"thresholds_db: must be 15 finite, strictly increasing values in dB, got {thr}")
    return thr


def cqi_index(sinr_db: npt.ArrayLike, *, table: int = 1, thresholds_db: npt.ArrayLike | None = None) -> np.ndarray:
    """Highest CQI whose SINR threshold is met: CQI k if thr[k] <= SINR < thr[k+1]; 0 below thr[1].

    Parameters
    ----------
    sinr_db : array_like
        SINR in dB (−inf allowed, NaN not).
    table : {1, 2}, optional
        CQI table of TS 38.214 whose default thresholds to use (see :func:`cqi_thresholds_db`).
    thresholds_db : array_like, optional
        float64[15], strictly increasing SINR thresholds of CQI 1..15 in dB; overrides the default.

    Returns
    -------
    ndarray
        int64 CQI index, 0 (out of range) to 15.
    """
    sinr = _f64(sinr_db)
    if np.any(np.isnan(sinr)):
        raise ValueError("sinr_db: must not contain NaN")
    thr = _check_thresholds(thresholds_db, table)
    return np.searchsorted(thr, sinr, side="right").astype(np.int64)


def cqi_spectral_efficiency(
    sinr_db: npt.ArrayLike, *, table: int = 1, thresholds_db: npt.ArrayLike | None = None
) -> np.ndarray:
    """Spectral efficiency (b/s/Hz) of the CQI reached at each SINR; 0 for CQI 0 (out of range).

    The efficiency column of TS 38.214 Table 5.2.2.1-2 (``table=1``, up to 64QAM,
    5.5547 b/s/Hz) or Table 5.2.2.1-3 (``table=2``, up to 256QAM, 7.4063 b/s/Hz), at
    the CQI that :func:`cqi_index` maps the SINR to. These tables target a transport-block
    BLER of 0.1, so the efficiency is that of the first transmission; the mapping from
    SINR is not standardised (see :func:`cqi_thresholds_db`) and ``thresholds_db``
    overrides it.

    References
    ----------
    3GPP TS 38.214, §5.2.2.1, Tables 5.2.2.1-2 and 5.2.2.1-3.
    """
    entries = _cqi_table(table)
    efficiency = np.array([0.0] + [e.efficiency for e in entries])  # [16] float64, b/s/Hz, CQI 0..15
    return efficiency[cqi_index(sinr_db, table=table, thresholds_db=thresholds_db)]


def rate_bps(
    bandwidth_hz: npt.ArrayLike, spectral_efficiency: npt.ArrayLike, overhead: npt.ArrayLike = 0.0
) -> np.ndarray:
    """Bit rate R = B · SE · (1 − OH), in b/s.

    Parameters
    ----------
    bandwidth_hz : array_like
        Bandwidth in Hz allocated to the device.
    spectral_efficiency : array_like
        b/s/Hz, for example from :func:`shannon_spectral_efficiency` or :func:`cqi_spectral_efficiency`.
    overhead : array_like, optional
        Fraction of resources lost to control and reference signals, in [0, 1); TS 38.306
        §4.1.2 uses 0.14 (FR1 DL), 0.18 (FR2 DL), 0.08 (FR1 UL), 0.10 (FR2 UL), see
        :data:`PEAK_RATE_OVERHEAD`. The default 0 gives the raw rate.
    """
    oh = _f64(overhead)
    if np.any(~((oh >= 0) & (oh < 1))):
        raise ValueError(f"overhead: must be in [0, 1), got {oh}")
    return _f64(bandwidth_hz) * _f64(spectral_efficiency) * (1.0 - oh)


def nr_peak_rate_bps(
    n_prb: npt.ArrayLike,
    scs_khz: float,
    *,
    layers: int,
    qm: int,
    scaling: float = 1.0,
    overhead: float,
) -> np.ndarray:
    """Approximate NR peak data rate of one carrier, TS 38.306 §4.1.2, in b/s.

        R = v_layers · Q_m · f · R_max · (N_PRB · 12 / T_s^μ) · (1 − OH),
        R_max = 948/1024,  T_s^μ = 10⁻³ / (14 · 2^μ) s

    For carrier aggregation, sum over carriers (the formula is linear in N_PRB, so
    identical carriers may be passed as one total PRB count).

    Parameters
    ----------
    n_prb : array_like
        Maximum RB allocation N_PRB^{BW(j),μ} (TS 38.101-1/-2 Table 5.3.2-1; 273 for
        100 MHz at 30 kHz).
    scs_khz : float
        Subcarrier spacing in kHz, which sets μ.
    layers : int
        Maximum number of MIMO layers v.
    qm : int
        Maximum modulation order Q_m (2 QPSK, 4 16QAM, 6 64QAM, 8 256QAM, 10 1024QAM).
    scaling : float, optional
        Scaling factor f, one of 1, 0.8, 0.75, 0.4 in the spec.
    overhead : float
        OH: 0.14 FR1 DL, 0.18 FR2 DL, 0.08 FR1 UL, 0.10 FR2 UL (:data:`PEAK_RATE_OVERHEAD`).

    Returns
    -------
    ndarray
        Peak rate in b/s.

    References
    ----------
    3GPP TS 38.306, §4.1.2 "Supported max data rate".
    """
    n_prb = _f64(n_prb)
    if np.any(~(n_prb > 0)):
        raise ValueError(f"n_prb: must be > 0, got {n_prb}")
    if int(layers) != layers or layers < 1:
        raise ValueError(f"layers: must be an integer >= 1, got {layers!r}")
    if qm not in (1, 2, 4, 6, 8, 10):
        raise ValueError(f"qm: must be one of 1, 2, 4, 6, 8, 10, got {qm!r}")
    if not 0 < scaling <= 1:
        raise ValueError(f"scaling: must be in (0, 1], got {scaling!r}")
    if not 0 <= overhead < 1:
        raise ValueError(f"overhead: must be in [0, 1), got {overhead!r}")
    symbol_s = 1e-3 / (14 * 2 ** numerology(scs_khz))  # T_s^μ, average OFDM symbol duration incl. cyclic prefix
    return layers * qm * scaling * R_MAX * (n_prb * 12.0 / symbol_s) * (1.0 - overhead)
