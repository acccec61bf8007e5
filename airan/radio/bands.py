"""Carrier presets: frequency, bandwidth, numerology and link-budget figures of a band.

Each preset is a frozen :class:`Band`. Its ``sources`` tuple gives, number by number,
where the value comes from and how sure it is, with these tags:

- **V**: checked against a public primary text or two independent public implementations.
- **C**: computed from other figures (the computation is stated).
- **R**: recalled from the cited document, not re-read; keep it overridable.
- **A**: a modelling assumption made here, with the reason stated.

Use :func:`band` to look a preset up by name and :func:`dataclasses.replace` to change a
number for a study, for example ``replace(band("n78"), bs_tx_power_dbm=46.0)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from .link import numerology

__all__ = ["BANDS", "Band", "band"]

PathlossModel = Literal["38.901", "subthz"]


@dataclass(frozen=True)
class Band:
    """One carrier and the radio figures a link budget needs.

    Attributes
    ----------
    name : str
        Short identifier, the key in :data:`BANDS`.
    description : str
        One line for tables and plots.
    fc_ghz : float
        Carrier centre frequency, GHz.
    bandwidth_hz : float
        Channel bandwidth, Hz (the noise bandwidth of a simple link budget).
    scs_khz : float
        Subcarrier spacing, kHz.
    n_prb : int
        Resource blocks available for data across the band (the TS 38.306 N_PRB; summed
        over component carriers when the band is several carriers).
    bs_tx_power_dbm : float
        Total base-station transmit power per cell over the whole bandwidth, dBm.
    ue_max_power_dbm : float
        Device maximum output power P_CMAX, dBm.
    bs_antenna_gain_dbi, ue_antenna_gain_dbi : float
        Peak antenna gains, dBi.
    bs_noise_figure_db, ue_noise_figure_db : float
        Receiver noise figures, dB (BS for uplink, device for downlink).
    default_pathloss : {"38.901", "subthz"}
        Path-loss family to use unless a scenario says otherwise: the TR 38.901
        scenarios (0.5–100 GHz), or free space plus molecular absorption above 100 GHz.
    sources : tuple of str
        Where each number comes from, with its confidence tag.
    """

    name: str
    description: str
    fc_ghz: float
    bandwidth_hz: float
    scs_khz: float
    n_prb: int
    bs_tx_power_dbm: float
    ue_max_power_dbm: float
    bs_antenna_gain_dbi: float
    ue_antenna_gain_dbi: float
    bs_noise_figure_db: float
    ue_noise_figure_db: float
    default_pathloss: PathlossModel
    sources: tuple[str, ...]

    def __post_init__(self) -> None:
        where = f"band {self.name!r}"
        numerology(self.scs_khz)  # raises on an unknown subcarrier spacing
        if not self.fc_ghz > 0:
            raise ValueError(f"{where}: fc_ghz: must be > 0, got {self.fc_ghz!r}")
        if not self.bandwidth_hz > 0:
            raise ValueError(f"{where}: bandwidth_hz: must be > 0, got {self.bandwidth_hz!r}")
        if int(self.n_prb) != self.n_prb or self.n_prb < 1:
            raise ValueError(f"{where}: n_prb: must be an integer >= 1, got {self.n_prb!r}")
        if self.occupied_bandwidth_hz > self.bandwidth_hz:
            raise ValueError(
                f"{where}: n_prb: {self.n_prb} PRB at {self.scs_khz} kHz occupy "
                f"{self.occupied_bandwidth_hz / 1e6:.2f} MHz, more than the {self.bandwidth_hz / 1e6:g} MHz channel"
            )
        if self.default_pathloss not in ("38.901", "subthz"):
            raise ValueError(f"{where}: default_pathloss: must be '38.901' or 'subthz', got {self.default_pathloss!r}")

    @property
    def mu(self) -> int:
        """NR numerology μ of the subcarrier spacing."""
        return numerology(self.scs_khz)

    @property
    def occupied_bandwidth_hz(self) -> float:
        """Bandwidth of the resource blocks, N_PRB · 12 · Δf, Hz (the rest is guard band)."""
        return self.n_prb * 12 * self.scs_khz * 1e3


_N78 = Band(
    name="n78",
    description="NR n78 (3.3-3.8 GHz TDD), 100 MHz carrier, 30 kHz SCS, macro cell",
    fc_ghz=3.5,
    bandwidth_hz=100e6,
    scs_khz=30,
    n_prb=273,
    bs_tx_power_dbm=51.0,
    ue_max_power_dbm=23.0,
    bs_antenna_gain_dbi=18.0,
    ue_antenna_gain_dbi=0.0,
    bs_noise_figure_db=5.0,
    ue_noise_figure_db=9.0,
    default_pathloss="38.901",
    sources=(
        "fc_ghz=3.5: centre of n78, 3300-3800 MHz, TS 38.101-1 Table 5.2-1 (R)",
        "bandwidth_hz=100e6, scs_khz=30, n_prb=273: TS 38.101-1 Table 5.3.2-1 (V: the same N_RB in "
        "several public implementations, e.g. srsRAN and MATLAB 5G Toolbox examples)",
        "bs_tx_power_dbm=51.0: 44 dBm per 20 MHz (TR 38.901 Table 7.8-1 calibration at 6 GHz, R; the same "
        "per-20-MHz figure as ITU-R M.2412 dense urban, R) kept at equal power spectral density: "
        "44 + 10*log10(100/20) = 50.99 (C)",
        "ue_max_power_dbm=23.0: power class 3, TS 38.101-1 §6.2.1 (R)",
        "bs_antenna_gain_dbi=18.0: TR 38.901 §7.8.1 calibration panel, 10 elements in a column of "
        "8 dBi each (Table 7.3-1): 8 + 10*log10(10) = 18 dBi peak, ignoring coupling losses (C from R)",
        "ue_antenna_gain_dbi=0.0: isotropic device, TR 38.901 §7.8.1 calibration (R)",
        "bs_noise_figure_db=5.0: ITU-R M.2412 / TR 38.802 evaluation value below 6 GHz (R)",
        "ue_noise_figure_db=9.0: TR 38.901 Table 7.8-1 calibration (R)",
    ),
)

_FR3_7GHZ = Band(
    name="fr3_7ghz",
    description="6G upper-mid band (FR3) around 7 GHz, 400 MHz, 30 kHz SCS as 4 x 100 MHz, macro cell",
    fc_ghz=7.0,
    bandwidth_hz=400e6,
    scs_khz=30,
    n_prb=4 * 273,
    bs_tx_power_dbm=59.0,
    ue_max_power_dbm=26.0,
    bs_antenna_gain_dbi=24.0,
    ue_antenna_gain_dbi=0.0,
    bs_noise_figure_db=5.0,
    ue_noise_figure_db=9.0,
    default_pathloss="38.901",
    sources=(
        "fc_ghz=7.0: a Rel-20 6G study priority carrier (0.7 / 4 / 7 GHz), summaries of R1-2509386 and "
        "R1-2509142 (proposals, not agreements; R)",
        "bandwidth_hz=400e6: the wide-carrier assumption of the 6G upper-mid-band studies (R, not agreed)",
        "scs_khz=30, n_prb=1092: 6G numerology not agreed (A). Assumed as four NR 100 MHz carriers at 30 kHz "
        "(273 PRB each, TS 38.101-1 Table 5.3.2-1, V): keeps FR1's delay-spread margin for macro cells and "
        "the 98.3 % spectrum utilisation of n78. A single 400 MHz NR carrier would need 120 kHz SCS and "
        "264 PRB (FR2 numerology)",
        "bs_tx_power_dbm=59.0: proposals give 43-49 dBm per 20 MHz for 7 GHz UMa; the midpoint 46 dBm per "
        "20 MHz at equal power spectral density over 400 MHz is 46 + 10*log10(20) = 59.0 (C from R; "
        "range 56-62 dBm)",
        "ue_max_power_dbm=26.0: power class 2 proposed at or above 7 GHz (R, proposal)",
        "bs_antenna_gain_dbi=24.0: the n78 panel's aperture at twice the frequency holds 4x the elements: "
        "18 + 20*log10(7/3.5) = 24.0 dBi (C from the n78 assumption; A)",
        "ue_antenna_gain_dbi=0.0: isotropic device, as for n78 (A)",
        "bs_noise_figure_db=5.0, ue_noise_figure_db=9.0: n78 values kept; consistent with the sub-10 GHz "
        "end (5 dB at 10 GHz) of the linear NF model of Nature Commun. Eng. 2025 (A; R)",
    ),
)

_SUBTHZ_140GHZ = Band(
    name="subthz_140ghz",
    description="Sub-THz D band at 140 GHz, 2 GHz, 960 kHz SCS, short-range high-gain link",
    fc_ghz=140.0,
    bandwidth_hz=2e9,
    scs_khz=960,
    n_prb=162,
    bs_tx_power_dbm=20.0,
    ue_max_power_dbm=20.0,
    bs_antenna_gain_dbi=25.0,
    ue_antenna_gain_dbi=15.0,
    bs_noise_figure_db=10.0,
    ue_noise_figure_db=11.7,
    default_pathloss="subthz",
    sources=(
        "fc_ghz=140.0: D band (110-170 GHz), low water-vapour absorption, 0.915 dB/km at 140 GHz "
        "(ITU-R P.676-12 standard atmosphere, C)",
        "bandwidth_hz=2e9: assumed channel (A); Nature Commun. Eng. 2025 assumes 10 % fractional bandwidth "
        "(14 GHz at 140 GHz), which a single carrier does not reach",
        "scs_khz=960, n_prb=162: NR FR2-2 numerology for a 2000 MHz channel at 960 kHz, TS 38.101-2 "
        "Table 5.3.2-1 (R); 140 GHz is outside every NR range, so this is a borrowed numerology (A)",
        "bs_tx_power_dbm=20.0: Pt = 20 dBm, Nature Commun. Eng. 2025 s44172-025-00545-9 Fig. 1 assumptions "
        "and a worked 140 GHz link budget with 25 dBi at each end (R)",
        "ue_max_power_dbm=20.0: the same Pt at each end in Nature Commun. Eng. 2025 (R); optimistic for a "
        "handset, a CPE-like device is meant",
        "bs_antenna_gain_dbi=25.0: the worked 140 GHz link budget, 25 dBi at each end (C)",
        "ue_antenna_gain_dbi=15.0: 15 dBi at each end, Nature Commun. Eng. 2025 (R)",
        "bs_noise_figure_db=10.0: the worked 140 GHz link budget (C)",
        "ue_noise_figure_db=11.7: NF rising linearly from 5 dB at 10 GHz to 20 dB at 300 GHz, "
        "Nature Commun. Eng. 2025: 5 + 15*(140-10)/(300-10) = 11.72 (C from R)",
    ),
)

#: The presets by name (read-only).
BANDS = MappingProxyType({b.name: b for b in (_N78, _FR3_7GHZ, _SUBTHZ_140GHZ)})


def band(name: str) -> Band:
    """The preset called ``name``; raises ValueError listing the known names otherwise."""
    try:
        return BANDS[name]
    except KeyError:
        raise ValueError(f"unknown band {name!r}; known bands: {', '.join(BANDS)}") from None
