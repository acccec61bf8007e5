"""Smoke run of benchmarks/engine.py at its --quick size: it runs and writes its figures.

Speed itself is not tested here (it lives in benchmarks/); only that each figure is there and positive.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "engine.py"


def test_engine_benchmark_quick(tmp_path):
    out = tmp_path / "engine.json"
    # about 10 s with a warm Numba cache; a cold cache adds one compile (about 15 s)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "tasks/s" in proc.stdout

    data = json.loads(out.read_text())
    assert {"machine", "startup", "cases", "memory", "target"} <= set(data)
    assert {"cpu_model", "n_cpus", "python", "numba", "numpy"} <= set(data["machine"])
    assert data["startup"]["cached_s"] > 0
    assert data["startup"]["cold_s"] is None  # skipped in --quick
    assert set(data["cases"]) == {"a", "b", "c"}
    for case in data["cases"].values():
        assert case["tasks"] > 0 and case["events"] >= case["tasks"]
        assert case["wall_s"] > 0
        assert case["tasks_per_s"] > 0 and case["events_per_s"] > 0
        assert case["peak_rss_mib"] > 0
    assert data["memory"]["peak_rss_ratio"] > 0
    assert data["target"]["tasks_per_s"] > 0
