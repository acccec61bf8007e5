"""Smoke runs of the studies in ``experiments/`` at a tiny size (the quickstart's is in test_cli.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from airan.results import read_parquet

ROOT = Path(__file__).resolve().parents[1]
RADIO_BANDS = ROOT / "experiments" / "radio_bands.py"
BANDS = ("n78", "fr3_7ghz", "subthz_140ghz")


def test_radio_bands_study_runs_at_a_tiny_size(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(RADIO_BANDS), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "radio_bands.png").stat().st_size > 10_000
    assert (tmp_path / "radio_bands.pdf").exists()
    sweep = read_parquet(tmp_path / "sweep.parquet")
    assert set(sweep["band"]) == set(BANDS)
    for band, per_site in zip(sweep["band"], sweep["devices_per_site"], strict=True):
        run = tmp_path / band / f"{per_site}_per_site"
        for name in ("summary.json", "scenario.toml", "devices.parquet", "cells.parquet"):
            assert (run / name).exists(), run / name
    for band in BANDS:
        assert band in proc.stdout


def test_radio_bands_study_reports_a_bad_override_in_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(RADIO_BANDS), "--quick", "--out", str(tmp_path), "--set", "simulation.duration_s=-1"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("radio_bands: error: radio_bands.toml: simulation.duration_s")
    assert "Traceback" not in proc.stderr


TOPOLOGIES_STUDY = ROOT / "experiments" / "topologies.py"
TOPOLOGIES = ("hex19", "hetnet", "highway", "poisson_example")
PLACEMENTS = ("every_site", "cluster", "aggregation", "cloud")


def test_topologies_study_runs_at_a_tiny_size(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(TOPOLOGIES_STUDY), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "topologies.png").stat().st_size > 10_000
    assert (tmp_path / "topologies.pdf").exists()
    sweep = read_parquet(tmp_path / "sweep.parquet")
    pairs = list(zip(sweep["topology"], sweep["placement"], strict=True))
    assert sorted(pairs) == sorted((t, p) for t in TOPOLOGIES for p in PLACEMENTS)  # one row each
    for topology, placement in pairs:
        run = tmp_path / topology / placement
        for name in ("summary.json", "scenario.toml", "nodes.parquet", "sites.parquet"):
            assert (run / name).exists(), run / name
    for topology in TOPOLOGIES:
        rows = sweep["topology"] == topology
        gpus = dict(zip(sweep["placement"][rows], sweep["gpu_nodes"][rows], strict=True))
        assert gpus["every_site"] == sweep["sites"][rows][0]
        assert gpus["cloud"] == 1
        # the cloud is 5 ms away, one way, behind the aggregation node: both crossings cost >= 10 ms
        backhaul = dict(zip(sweep["placement"][rows], sweep["backhaul_mean_s"][rows], strict=True))
        assert backhaul["every_site"] == 0.0
        assert backhaul["cloud"] >= 10e-3
        assert topology in proc.stdout


def test_topologies_study_reports_a_bad_override_in_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(TOPOLOGIES_STUDY), "--quick", "--out", str(tmp_path), "--set", "compute.gpu.servers=0"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("topologies: error: topologies.toml: compute.gpu.servers")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
