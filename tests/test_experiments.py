"""Smoke runs of the studies in ``experiments/`` at a tiny size, with the closed forms and invariants each can check."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np

import airan
from airan.results import read_parquet
from airan.sweep import read_results
from airan.topology import load_topology

ROOT = Path(__file__).resolve().parents[1]
RADIO_BANDS = ROOT / "experiments" / "radio_bands.py"
RADIO_BANDS_SWEEP = ROOT / "experiments" / "radio_bands.sweep.toml"
BANDS = ("n78", "fr3_7ghz", "subthz_140ghz")


def _sweep_points(folder: Path) -> tuple[int, int]:
    """A sweep folder's number of points and replications (from its sweep.json)."""
    record = json.loads((folder / "sweep.json").read_text(encoding="utf-8"))
    return len(record["points"]), record["definition"]["replications"]


def test_radio_bands_study_runs_its_sweep_at_a_tiny_size(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(RADIO_BANDS), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "radio_bands.png").stat().st_size > 10_000
    assert (tmp_path / "radio_bands.pdf").exists()
    results, aggregate = read_results(tmp_path)
    n_points, replications = _sweep_points(tmp_path)
    assert replications >= 2 and n_points == 3 * 2  # three bands x two sizes
    # every point has a row and a full run folder per replication
    np.testing.assert_array_equal(np.sort(results["point"]), np.repeat(np.arange(n_points), replications))
    np.testing.assert_array_equal(aggregate["n"], replications)
    for run in results["run"]:
        for name in ("summary.json", "scenario.toml", "devices.parquet", "cells.parquet"):
            assert (tmp_path / "runs" / run / name).exists(), (run, name)
    bands = np.array([json.loads(c)["band"] for c in results["channel"]])
    assert set(bands) == set(BANDS)
    for band in BANDS:
        assert band in proc.stdout
    # same_seeds on the band: at each size and replication the three bands share one seed, so the same
    # device drops (common random numbers); the replications have seeds of their own
    runs = {}
    for i in range(results["run"].shape[0]):
        runs.setdefault((int(results["devices[0].count"][i]), int(results["replication"][i])), {})[bands[i]] = i
    assert len({int(results["seed"][next(iter(by_band.values()))]) for by_band in runs.values()}) == len(runs)
    for by_band in runs.values():
        assert sorted(by_band) == sorted(BANDS)
        assert len({int(results["seed"][i]) for i in by_band.values()}) == 1
        drops = [read_parquet(tmp_path / "runs" / results["run"][i] / "devices.parquet") for i in by_band.values()]
        for devices in drops[1:]:
            np.testing.assert_array_equal(devices["x_m"], drops[0]["x_m"])
            np.testing.assert_array_equal(devices["y_m"], drops[0]["y_m"])
        # the study's finding: on the same drops, a wider band gives lower latency, run by run
        assert (results["latency_mean_s"][by_band["n78"]] > results["latency_mean_s"][by_band["fr3_7ghz"]]
                > results["latency_mean_s"][by_band["subthz_140ghz"]])
    # the GPU is out of the way: deterministic service of 28.6 GFLOP at 5e13 FLOP/s in every run
    scenario = airan.load_scenario(ROOT / "experiments" / "radio_bands.toml")
    service_s = scenario.workloads[0].flops / scenario.sites[0].gpu.flops_per_s
    np.testing.assert_allclose(results["gpu_service_mean_s"], service_s, rtol=1e-9)
    # the figure's table: one row per point, saturated exactly where a run's busiest cell is offered a full load
    points = read_parquet(tmp_path / "points.parquet")
    np.testing.assert_array_equal(points["point"], aggregate["point"])
    np.testing.assert_array_equal(points["saturated"], points["offered_load_max"] >= 1.0 - 1e-9)
    # run again into the same folder: every run is found done, nothing runs, the figure is redrawn
    again = subprocess.run(
        [sys.executable, str(RADIO_BANDS), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1].startswith(f"{results['run'].shape[0]} runs (0 run now")


def test_radio_bands_sweep_changes_only_the_band_of_the_scenario_channel():
    # the band axis sets the whole [channel] table (the sub-THz band needs its own model): the n78 table
    # must be radio_bands.toml's, and the others may differ from it in band and model only
    sweep = tomllib.loads(RADIO_BANDS_SWEEP.read_text(encoding="utf-8"))
    channel = tomllib.loads((ROOT / "experiments" / "radio_bands.toml").read_text(encoding="utf-8"))["channel"]
    tables = {t["band"]: t for t in next(a["values"] for a in sweep["axes"] if a["path"] == "channel")}
    assert sorted(tables) == sorted(BANDS)
    assert tables["n78"] == channel
    for band, table in tables.items():
        assert {k: v for k, v in table.items() if k not in ("band", "model")} == \
            {k: v for k, v in channel.items() if k not in ("band", "model")}, band
    assert tables["subthz_140ghz"]["model"] == "subthz" and tables["fr3_7ghz"]["model"] == "tr38901"


def test_radio_bands_study_reports_a_bad_override_in_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(RADIO_BANDS), "--quick", "--out", str(tmp_path), "--set", "simulation.duration_s=-1"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("radio_bands: error: radio_bands.toml: simulation.duration_s")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


TOPOLOGIES_STUDY = ROOT / "experiments" / "topologies.py"
TOPOLOGIES_SWEEP = ROOT / "experiments" / "topologies.sweep.toml"
TOPOLOGIES = ("hex19", "hetnet", "highway", "poisson_example")
PLACEMENTS = ("every_site", "cluster", "aggregation", "cloud")


def test_topologies_study_runs_its_sweep_at_a_tiny_size(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(TOPOLOGIES_STUDY), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "topologies.png").stat().st_size > 10_000
    assert (tmp_path / "topologies.pdf").exists()
    results, aggregate = read_results(tmp_path)
    n_points, replications = _sweep_points(tmp_path)
    assert replications >= 2 and n_points == len(TOPOLOGIES) * len(PLACEMENTS)
    # every point has a row and a full run folder per replication
    np.testing.assert_array_equal(np.sort(results["point"]), np.repeat(np.arange(n_points), replications))
    np.testing.assert_array_equal(aggregate["n"], replications)
    for run in results["run"]:
        for name in ("summary.json", "scenario.toml", "nodes.parquet", "sites.parquet"):
            assert (tmp_path / "runs" / run / name).exists(), (run, name)
    networks = [json.loads(t) for t in results["topology"]]
    topology = np.array([n["file"] for n in networks])
    placement = np.asarray(results["compute.placement"])
    assert sorted(set(zip(topology, placement, strict=True))) == sorted((t, p) for t in TOPOLOGIES for p in PLACEMENTS)
    for name in TOPOLOGIES:
        assert name in proc.stdout
    # the zipped axes: the same devices per site on every network, and wrap-around where the layout has it
    per_site = results["devices"] / results["sites"]
    assert np.all(per_site == per_site[0])
    for network, sites in zip(networks, results["sites"], strict=True):
        topo = load_topology(network["file"])
        assert len(topo.sites) == sites and network["wrap_around"] == (topo.wrap is not None)
    # same_seeds on the placement: within a network and replication the four placements share one seed
    for name in TOPOLOGIES:
        for r in range(replications):
            rows = (topology == name) & (results["replication"] == r)
            assert rows.sum() == len(PLACEMENTS) and len(set(results["seed"][rows].tolist())) == 1
    # the placements: a GPU at every site or one in the cloud; no transport at the sites, and the cloud 5 ms
    # away one way behind the aggregation node, so both crossings cost >= 10 ms
    at_site, in_cloud = placement == "every_site", placement == "cloud"
    np.testing.assert_array_equal(results["gpu_nodes"][at_site], results["sites"][at_site])
    assert np.all(results["gpu_nodes"][in_cloud] == 1)
    assert np.all(results["backhaul_mean_s"][at_site] == 0.0)
    assert np.all(results["backhaul_mean_s"][in_cloud] >= 10e-3)
    # the figure's table: the energy parts per task add up to the energy per task, point by point
    points = read_parquet(tmp_path / "points.parquet")
    parts = sum(points[f"energy_{part}_per_task_j"] for part in ("idle", "compute", "tx", "rx", "tail"))
    np.testing.assert_allclose(parts, points["device_energy_per_task_j"], rtol=1e-9)


def test_topologies_sweep_puts_ten_devices_on_every_site():
    sweep = tomllib.loads(TOPOLOGIES_SWEEP.read_text(encoding="utf-8"))
    axes = {axis["path"]: axis for axis in sweep["axes"]}
    networks, counts = axes["topology"]["values"], axes["devices[0].count"]["values"]
    assert axes["topology"]["zip"] == axes["devices[0].count"]["zip"]
    assert [n["file"] for n in networks] == list(TOPOLOGIES)
    for network, count in zip(networks, counts, strict=True):
        topo = load_topology(network["file"])
        assert count == 10 * len(topo.sites), network
        assert network["wrap_around"] == (topo.wrap is not None), network


def test_topologies_study_reports_a_bad_override_in_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(TOPOLOGIES_STUDY), "--quick", "--out", str(tmp_path), "--set", "compute.gpu.servers=0"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("topologies: error: topologies.toml: compute.gpu.servers")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


QUICKSTART = ROOT / "experiments" / "quickstart.py"


def test_quickstart_study_runs_its_sweep_at_a_tiny_size(tmp_path):
    # the README's first command, shortened: both policies on the same arrivals, their summaries, the figure
    proc = subprocess.run(
        [sys.executable, str(QUICKSTART), "--out", str(tmp_path),
         "--set", "simulation.duration_s=20.0", "--set", "simulation.warmup_s=1.0"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "offload" in proc.stdout and "local" in proc.stdout and "latency p95 [ms]" in proc.stdout
    assert (tmp_path / "quickstart.png").stat().st_size > 10_000
    assert (tmp_path / "quickstart.pdf").exists()
    results, _ = read_results(tmp_path)
    assert sorted(results["policy.name"]) == ["local", "offload"]
    for run in results["run"]:
        for name in ("summary.json", "latency_histogram.parquet", "devices.parquet", "scenario.toml"):
            assert (tmp_path / "runs" / run / name).exists(), (run, name)
    # same_seeds: one seed for both policies, so the same devices and task arrivals
    assert results["seed"][0] == results["seed"][1]
    assert results["tasks_generated"][0] == results["tasks_generated"][1] > 0
    offload = results["policy.name"] == "offload"
    assert results["offload_ratio"][offload][0] == 1.0 and results["tasks_offloaded"][~offload][0] == 0
    # locally, a pair of glasses takes 8.7 GFLOP / 3e11 FLOP/s = 29 ms a frame, one frame every 100 ms: none waits
    scenario = airan.load_scenario(ROOT / "experiments" / "quickstart.toml")
    glasses = scenario.devices[1]
    flops = next(w.flops for w in scenario.workloads if w.name == glasses.workload)
    np.testing.assert_allclose(results[f"workloads.{glasses.workload}.latency_mean_s"][~offload],
                               flops / glasses.compute_flops_per_s, rtol=1e-9)


RAN_SHARING = ROOT / "experiments" / "ran_sharing.py"
RAN_GPU = "sites[0].gpu"


def test_ran_sharing_study_runs_its_sweep_at_a_tiny_size(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(RAN_SHARING), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "ran_sharing.png").stat().st_size > 10_000
    assert (tmp_path / "ran_sharing.pdf").exists()
    results, aggregate = read_results(tmp_path)
    points = read_parquet(tmp_path / "points.parquet")
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    n_points, n_reps = len(sweep["points"]), sweep["definition"]["replications"]
    loads = sorted(set(aggregate[f"{RAN_GPU}.ran_load"].tolist()))
    assert len(loads) >= 3 and 1.0 in loads and n_reps >= 3
    # a point for each batching and load, a row and a run folder for each of its replications
    pairs = zip(aggregate[f"{RAN_GPU}.batch_max"].tolist(), aggregate[f"{RAN_GPU}.ran_load"].tolist(), strict=True)
    assert sorted(pairs) == sorted((b, load) for b in (1, 8) for load in loads)
    assert n_points == 2 * len(loads) and np.all(aggregate["n"] == n_reps)
    assert sorted(zip(results["point"].tolist(), results["replication"].tolist(), strict=True)) \
        == [(p, r) for p in range(n_points) for r in range(n_reps)]
    for run in results["run"]:
        for name in ("summary.json", "scenario.toml", "nodes.parquet", "sweep_run.json"):
            assert (tmp_path / "runs" / run / name).exists(), (run, name)
    # common random numbers: in a replication every point has the same seed, so the same arrivals
    for r in range(n_reps):
        mine = results["replication"] == r
        assert len(set(results["seed"][mine].tolist())) == 1
        assert len(set(results["tasks_generated"][mine].tolist())) == 1
    assert len(set(results["seed"].tolist())) == n_reps
    # every task ends once, or is still in flight at the end
    np.testing.assert_array_equal(results["tasks_generated"],
                                  results["tasks_completed"] + results["tasks_dropped"] + results["tasks_in_flight"])

    base = airan.load_scenario(ROOT / "experiments" / "ran_sharing.toml")
    gpu, workload = base.sites[0].gpu, base.workloads[0]
    rate_hz = base.devices[0].count * base.devices[0].rate_hz
    t1_s = gpu.batch_overhead_s + workload.flops / gpu.flops_per_s
    load = results[f"{RAN_GPU}.ran_load"]
    batch = results[f"{RAN_GPU}.batch_max"]
    duration_s = float(results["sim_time_s"][0])
    # the strict baseband takes ran_share x the cell load of the GPU's time, in every run
    np.testing.assert_allclose(results["gpu_share_ran_mean"], gpu.ran_share * load, rtol=1e-12, atol=0)
    # inference's share is the GPU time of its work, batches x overhead + frames x FLOPs / rate, over the run
    for i, run in enumerate(results["run"]):
        nodes = read_parquet(tmp_path / "runs" / run / "nodes.parquet")
        work_s = (nodes["gpu_batches"][0] * gpu.batch_overhead_s
                  + nodes["gpu_services"][0] * workload.flops / gpu.flops_per_s)
        assert abs(results["gpu_share_ai_mean"][i] - work_s / duration_s) <= 0.02 * work_s / duration_s, run

    # unbatched and stable, the GPU is an M/D/1 queue on what the baseband leaves: service S = t1 / (1 - x),
    # mean latency S + rho S / (2 (1 - rho)) (Pollaczek-Khinchine), plus the links' microsecond, within two
    # of the replications' 95 % half-widths (the interval is Student t over few runs of a short,
    # empty-started queue: about six standard errors, room for the warm-up's bias)
    strict = points["ran_priority"] == "strict"
    x = gpu.ran_share * points["cell_load"]
    service_s = t1_s / (1.0 - x)
    rho = rate_hz * service_s
    stable_md1 = strict & (points["batch_max"] == 1) & (rho < 1.0)
    md1_s = service_s + rho * service_s / (2.0 * (1.0 - rho)) + points["uplink_mean_s"] + points["downlink_mean_s"]
    assert stable_md1.sum() >= 2
    np.testing.assert_allclose(points["md1_latency_mean_s"][stable_md1], md1_s[stable_md1], rtol=1e-6)
    assert np.all(np.abs(points["latency_mean_s"][stable_md1] - md1_s[stable_md1])
                  <= 2.0 * points["latency_mean_s_ci95"][stable_md1])
    # saturation as the closed form has it: unbatched, strict priority saturates where the baseband leaves less
    # than lambda t1 (L > (1 - lambda t1) / ran_share = 0.63) and the reserved slice always; batches of 8 keep up
    unbatched = points["batch_max"] == 1
    np.testing.assert_array_equal(points["saturated"][strict & unbatched],
                                  points["cell_load"][strict & unbatched] > (1.0 - rate_hz * t1_s) / gpu.ran_share)
    assert points["saturated"][~strict & unbatched].tolist() == [True]
    assert not points["saturated"][points["batch_max"] == 8].any()
    # ... and the runs agree: a saturated run's backlog grows at lambda - mu for the whole run, mu = (1 - x) / t1,
    # within five Poisson standard deviations of the arrivals, sqrt(lambda T); a stable run ends with few tasks
    saturated = (batch == 1) & (gpu.ran_share * load > 1.0 - rate_hz * t1_s)
    backlog = (rate_hz - (1.0 - gpu.ran_share * load) / t1_s) * duration_s
    assert saturated.any() and (~saturated).any()
    assert np.all(np.abs(results["tasks_in_flight"][saturated] - backlog[saturated])
                  <= 5.0 * np.sqrt(rate_hz * duration_s))
    assert np.all(results["tasks_in_flight"][~saturated] < 0.01 * results["tasks_generated"][~saturated])
    # a reserved slice is the strict baseband at full load: one row per batching, the L = 1 point's numbers ...
    reserved = ~strict
    assert sorted(points["config"][reserved].tolist()) == ["reserved", "reserved_batch8"]
    assert np.all(np.isnan(points["cell_load"][reserved]))
    for config, b in (("reserved", 1), ("reserved_batch8", 8)):
        row = np.flatnonzero(points["config"] == config)[0]
        full = np.flatnonzero(strict & (points["batch_max"] == b) & (points["cell_load"] == 1.0))[0]
        assert points["latency_mean_s"][row] == points["latency_mean_s"][full]
        # ... and running ran_priority = "reserved" (without ran_load) gives that point's run, bit for bit
        run = results["run"][(batch == b) & (load == 1.0) & (results["replication"] == 0)][0]
        raw = tomllib.loads((tmp_path / "runs" / run / "scenario.toml").read_text())
        raw["sites"][0]["gpu"]["ran_priority"] = "reserved"
        del raw["sites"][0]["gpu"]["ran_load"]
        summary = airan.run(airan.scenario_from_dict(raw, source="reserved.toml")).summary
        expected = json.loads((tmp_path / "runs" / run / "summary.json").read_text())
        for key in ("wall_time_s",):
            summary.pop(key), expected.pop(key)
        assert json.loads(json.dumps(summary)) == expected
    for config in ("strict", "reserved", "strict_batch8", "reserved_batch8"):
        assert config in proc.stdout


def test_ran_sharing_study_reports_a_bad_override_in_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(RAN_SHARING), "--quick", "--out", str(tmp_path / "out"),
         "--set", "sites[0].gpu.ran_share=1.5"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("ran_sharing: error: ran_sharing.toml: sites[0].gpu.ran_share")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()  # refused before anything ran


POLICIES_STUDY = ROOT / "experiments" / "policies.py"
POLICIES = ("local", "offload", "min_latency", "min_energy", "deadline", "least_loaded", "battery", "cloud_fallback")


def test_policies_study_runs_its_sweep_at_a_tiny_size(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(POLICIES_STUDY), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "policies.png").stat().st_size > 10_000
    assert (tmp_path / "policies.pdf").exists()
    results, aggregate = read_results(tmp_path)
    points = read_parquet(tmp_path / "points.parquet")
    counts = sorted(set(aggregate["devices[0].count"].tolist()))
    n_reps = json.loads((tmp_path / "sweep.json").read_text())["definition"]["replications"]
    assert len(counts) >= 2 and n_reps >= 2
    # a point for each policy and load, a row and a run folder for each of its replications
    runs = list(zip(results["policy.name"], results["devices[0].count"].tolist(), results["replication"].tolist(),
                    strict=True))
    assert sorted(runs) == sorted((p, n, r) for p in POLICIES for n in counts for r in range(n_reps))
    assert sorted(zip(points["policy"], points["devices"].tolist(), strict=True)) \
        == sorted((p, n) for p in POLICIES for n in counts)
    for run in results["run"]:
        for name in ("summary.json", "scenario.toml", "devices.parquet", "nodes.parquet"):
            assert (tmp_path / "runs" / run / name).exists(), (run, name)
    for policy in POLICIES:
        assert policy in proc.stdout

    def column(policy, key):
        """``key`` of ``policy``'s runs, ordered by load and replication (so policies line up run for run)."""
        rows = np.flatnonzero(results["policy.name"] == policy)
        rows = rows[np.lexsort((results["replication"][rows], results["devices[0].count"][rows]))]
        return np.asarray(results[key])[rows]

    def folders(policy):
        return [tmp_path / "runs" / run for run in column(policy, "run")]

    # common random numbers: at each load and replication every policy has the same seed; no two loads or
    # replications share one
    for policy in POLICIES:
        np.testing.assert_array_equal(column(policy, "seed"), column("local", "seed"))
    assert len(set(results["seed"].tolist())) == len(counts) * n_reps
    # every task ends once, or is still in flight at the end
    np.testing.assert_array_equal(results["tasks_generated"],
                                  results["tasks_completed"] + results["tasks_dropped"] + results["tasks_in_flight"])
    # local: nothing offloaded, no GPU work, at any load
    assert np.all(column("local", "tasks_offloaded") == 0)
    assert np.all(column("local", "gpu_utilization_mean") == 0.0)
    # ... so each pair of glasses is an M/D/1 queue (lambda = 5/s, t = 29 ms) whatever the load. Its wait W
    # has P(W <= w) = (1 - rho) e^(lambda w) for w < t, so the miss ratio P(W > D - t) is
    # 1 - (1 - rho) e^(lambda (D - t)) and the p95 latency t + ln(0.95 / (1 - rho)) / lambda (both waits
    # below t); the simulated ones within five binomial standard errors of the miss ratio, and within five
    # standard errors of the quantile (sqrt(q (1 - q) / n) / f, f the latency density there,
    # lambda (1 - rho) e^(lambda w95)) plus the histogram's 0.5 %
    base = airan.load_scenario(ROOT / "experiments" / "policies.toml")
    rate, t = base.devices[0].rate_hz, base.workloads[0].flops / base.devices[0].compute_flops_per_s
    deadline_s, rho = base.workloads[0].deadline_s, base.devices[0].rate_hz * t
    assert deadline_s - t < t and math.log(0.95 / (1 - rho)) / rate < t
    md1_miss = 1.0 - (1.0 - rho) * math.exp(rate * (deadline_s - t))
    md1_p95 = t + math.log(0.95 / (1.0 - rho)) / rate
    np.testing.assert_allclose(points["md1_local_miss_ratio"], md1_miss, rtol=1e-9)
    np.testing.assert_allclose(points["md1_local_p95_s"], md1_p95, rtol=1e-9)
    n = column("local", "tasks_completed")
    assert np.all(np.abs(column("local", "deadline_miss_ratio") - md1_miss)
                  <= 5.0 * np.sqrt(md1_miss * (1 - md1_miss) / n))
    density = rate * (1.0 - rho) * np.exp(rate * (md1_p95 - t))
    assert np.all(np.abs(column("local", "latency_p95_s") - md1_p95)
                  <= 5.0 * np.sqrt(0.05 * 0.95 / n) / density + 0.005 * md1_p95)
    # ... and, stable, never counts as saturated
    assert not points["saturated"][points["policy"] == "local"].any()
    # offload, least_loaded and cloud_fallback never choose the glasses: a device with a radio link offloads
    # every task it generates (one without computes locally)
    for policy in ("offload", "least_loaded", "cloud_fallback"):
        for folder in folders(policy):
            devices = read_parquet(folder / "devices.parquet")
            covered = devices["covered"].astype(bool)
            np.testing.assert_array_equal(devices["tasks_offloaded"][covered], devices["tasks_generated"][covered])
            assert np.all(devices["tasks_offloaded"][~covered] == 0)
    # offload sends every task to the nearest GPU node, the hub, never to the cloud
    for folder in folders("offload"):
        nodes = read_parquet(folder / "nodes.parquet")
        assert np.all(nodes["gpu_services"][nodes["kind"] == "cloud"] == 0)
    # min_energy spends the least device energy per task, run for run
    for policy in POLICIES:
        assert np.all(column("min_energy", "device_energy_per_task_j")
                      <= column(policy, "device_energy_per_task_j") * (1 + 1e-12)), policy
    # battery is min_latency while the battery holds more than half its charge, as through these short runs:
    # the same decisions on the same seeds, so the same runs
    assert np.all(column("battery", "battery_life_mean_h") > 0.0)
    for key in ("workloads.detect.latency_p95_s", "deadline_miss_ratio", "offload_ratio", "device_energy_j"):
        np.testing.assert_array_equal(column("battery", key), column("min_latency", key))
    # deadline computes a frame on the glasses only when it will be in time there, or nothing will
    assert np.all(column("deadline", "deadline_miss_ratio") <= column("local", "deadline_miss_ratio"))


def test_policies_study_reports_a_bad_override_in_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(POLICIES_STUDY), "--quick", "--out", str(tmp_path / "out"),
         "--set", "devices[0].rate_hz=-5"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("policies: error: policies.toml: devices[0].rate_hz")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()  # refused before anything ran


def test_policies_network_is_hex7_with_gpus_at_the_hub_and_in_the_cloud():
    network = load_topology(ROOT / "experiments" / "policies_hex7.toml")
    gpus = {node.name: node.gpu for node in network.compute if node.gpu is not None}
    assert sorted(gpus) == ["agg0", "cloud"]
    assert gpus["agg0"].servers == gpus["cloud"].servers == 1
    without_gpus = network.model_dump()
    for node in without_gpus["compute"]:
        node["gpu"] = None
    assert without_gpus == load_topology("hex7").model_dump()
