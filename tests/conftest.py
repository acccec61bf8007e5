"""Shared helpers for the model tests: a minimal one-site scenario, edited per test."""

from __future__ import annotations

import copy
import math
from typing import Any, NamedTuple

import numpy as np
import pytest

import airan
from airan.radio import network

#: One base station with a one-server GPU, one workload, one group of devices.
#: Tests change only what they are about, through :func:`build_raw`.
_BASE: dict[str, Any] = {
    "simulation": {"duration_s": 1000.0, "warmup_s": 0.0, "seed": 3},
    "policy": {"name": "offload"},
    "sites": [{"name": "bs", "gpu": {"servers": 1, "flops_per_s": 1e12, "service": "exponential"}}],
    "workloads": [{"name": "w", "flops": 1e11, "input_bytes": 0.0, "output_bytes": 0.0, "deadline_s": 1.0}],
    "devices": [{
        "name": "d", "count": 8, "workload": "w", "rate_hz": 1.0, "compute_flops_per_s": 1e10,
        "power_idle_w": 0.1, "power_compute_w": 2.0, "power_tx_w": 1.0, "power_rx_w": 0.5, "battery_wh": 10.0,
        "uplink_bps": 1e7, "downlink_bps": 1e8,
    }],
}


def build_raw(
    *,
    simulation: dict | None = None,
    policy: str | None = None,
    gpu: dict | None = None,
    workload: dict | None = None,
    device: dict | None = None,
    devices: list[dict] | None = None,
) -> dict[str, Any]:
    """The base scenario as raw data, with the given fields of each section replaced.

    ``gpu``, ``workload`` and ``device`` update the single site's GPU, the single
    workload and the single device group; ``devices`` replaces the device groups
    (each one starting from the base group, so it only names what differs).
    """
    raw = copy.deepcopy(_BASE)
    raw["simulation"].update(simulation or {})
    if policy is not None:
        raw["policy"]["name"] = policy
    raw["sites"][0]["gpu"].update(gpu or {})
    raw["workloads"][0].update(workload or {})
    raw["devices"][0].update(device or {})
    if devices is not None:
        raw["devices"] = [{**raw["devices"][0], **group} for group in devices]
    return raw


def build_scenario(**sections: Any) -> airan.Scenario:
    """:func:`build_raw`, validated into a :class:`airan.Scenario`."""
    return airan.scenario_from_dict(build_raw(**sections))


@pytest.fixture(scope="session")
def make_raw():
    """The :func:`build_raw` factory, as a fixture (usable from module-scoped fixtures)."""
    return build_raw


@pytest.fixture(scope="session")
def make_scenario():
    """The :func:`build_scenario` factory, as a fixture (usable from module-scoped fixtures)."""
    return build_scenario


def regroup_cells(sim, cells, **model_updates) -> None:
    """Put ``sim``'s devices into the radio cells ``cells`` (numbered 0..n-1) and start its state afresh.

    The ideal channel gives each device a cell of its own; sharing tests regroup them.
    ``model_updates`` replace other model arrays at the same time (the state is
    rebuilt from the model, with the same seed and trace capacity).
    """
    import numpy as np

    from airan.build import initial_state

    cells = np.asarray(cells, dtype=np.int32)
    n_cells = int(cells.max()) + 1
    first = [int(np.flatnonzero(cells == c)[0]) for c in range(n_cells)]
    sim.model = sim.model._replace(
        dev_cell=cells, cell_site=sim.model.dev_site[first].astype(np.int32), cell_bias_db=np.zeros(n_cells),
        cell_rate_bps=np.full(n_cells, np.nan), **model_updates)
    sim.state = initial_state(sim.model, sim.seed, trace_capacity=sim.state.trace_f.shape[0])


# ----------------------------------------------------------------------------
# Radio tests: the sites argument of airan.radio.network.attach, hexagonal layouts
# ----------------------------------------------------------------------------

class NetSites(NamedTuple):
    """The ``sites`` argument of network.attach, with the optional per-site attributes."""

    x_m: np.ndarray
    y_m: np.ndarray
    height_m: np.ndarray
    sectors: np.ndarray
    azimuth_deg: np.ndarray
    downtilt_deg: np.ndarray
    bias_db: np.ndarray
    environment: tuple | None = None
    band: tuple | None = None
    tx_power_dbm: np.ndarray | None = None


def net_sites(channel, xy, *, sectors=1, environment=None, band_names=None, tx_power_dbm=None, bias_db=None,
              downtilt_deg=0.0) -> NetSites:
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    n = xy.shape[0]
    return NetSites(
        x_m=xy[:, 0].copy(), y_m=xy[:, 1].copy(),
        height_m=network.site_heights_m(channel, [None] * n, environment),
        sectors=np.broadcast_to(np.asarray(sectors), (n,)).copy(), azimuth_deg=np.zeros(n),
        downtilt_deg=np.full(n, downtilt_deg),
        bias_db=np.zeros(n) if bias_db is None else np.asarray(bias_db, dtype=np.float64),
        environment=None if environment is None else tuple(environment),
        band=None if band_names is None else tuple(band_names),
        tx_power_dbm=None if tx_power_dbm is None else np.asarray(tx_power_dbm, dtype=np.float64),
    )


def hex_layout_xy(rings: int, isd_m: float) -> np.ndarray:
    """Sites of a hexagonal layout with ``rings`` rings around (0, 0), centre first, float64[n, 2]."""
    e1, e2 = np.array([1.0, 0.0]), np.array([0.5, math.sqrt(3) / 2])
    pts = [isd_m * (q * e1 + r * e2) for q in range(-rings, rings + 1) for r in range(-rings, rings + 1)
           if abs(q + r) <= rings]
    return np.array(sorted(pts, key=lambda p: (round(float(np.hypot(*p)), 6), math.atan2(p[1], p[0]))))


def hex_shifts_m(rings: int, isd_m: float) -> np.ndarray:
    """Wrap-around translations: (0, 0) and the 60-degree rotations of ISD ((R + 1) e1 + R e2)."""
    v = isd_m * np.array([rings + 1 + rings * 0.5, rings * math.sqrt(3) / 2])
    rot = [np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]) for a in np.pi / 3 * np.arange(6)]
    return np.vstack([np.zeros(2)] + [r @ v for r in rot])
