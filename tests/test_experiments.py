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
