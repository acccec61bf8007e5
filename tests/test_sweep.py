"""Parameter sweeps: points, seeds, executors, resuming, failures, the tables and the command."""

from __future__ import annotations

import json
import math
import shutil
import statistics
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import airan
import airan.sweep as sweep_module
from airan import cli
from airan.results import read_parquet
from airan.sweep import (
    SweepError,
    derive_seed,
    execute,
    load_sweep,
    plan_runs,
    read_results,
    run_sweep,
    t_quantile_975,
)

#: One site, an ideal channel, four devices for 20 simulated seconds: a run takes milliseconds.
BASE = """
name = "tiny"
[simulation]
duration_s = 20.0
warmup_s = 1.0
seed = 6
[[sites]]
name = "bs"
gpu = { servers = 1, flops_per_s = 1e12 }
[[workloads]]
name = "w"
flops = 1e9
input_bytes = 2000.0
output_bytes = 100.0
deadline_s = 0.5
[[devices]]
name = "d"
count = 4
workload = "w"
rate_hz = 2.0
compute_flops_per_s = 1e10
power_idle_w = 0.1
power_compute_w = 1.0
power_tx_w = 1.0
power_rx_w = 0.5
battery_wh = 10.0
uplink_bps = 1e7
downlink_bps = 1e8
"""

#: 2 policies x 2 rates x 2 replications = 8 runs.
GRID = """
name = "grid"
scenario = "base.toml"
set = ["simulation.duration_s=15"]
replications = 2
seed = 2026
[[axes]]
path = "policy.name"
values = ["local", "offload"]
[[axes]]
path = "devices[0].rate_hz"
values = [1.0, 3.0]
"""


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    (tmp_path / "base.toml").write_text(BASE)
    return tmp_path


def write(folder: Path, text: str, name: str = "sweep.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def assert_same_tables(a, b) -> None:
    """Equal columns, dtypes and values (nan equal to nan); the kernel's wall time aside."""
    for table_a, table_b in zip(a, b, strict=True):
        assert list(table_a) == list(table_b)
        for name in table_a:
            if name.startswith("wall_time_s"):
                continue
            x, y = table_a[name], table_b[name]
            assert x.dtype == y.dtype, name
            if x.dtype.kind == "f":
                np.testing.assert_array_equal(x, y, err_msg=name)  # nan == nan here, and bit-exact otherwise
            else:
                assert list(x) == list(y), name


# ----------------------------------------------------------------------------
# Points
# ----------------------------------------------------------------------------


def test_grid_crosses_axes_and_zipped_axes_move_together(folder):
    sweep = load_sweep(write(folder, """
scenario = "base.toml"
[[axes]]
path = "policy.name"
values = ["local", "offload"]
[[axes]]
path = "devices[0].rate_hz"
linspace = [1.0, 3.0, 3]
zip = "load"
[[axes]]
path = "devices.0.count"
values = [2, 4, 8]
zip = "load"
[[axes]]
path = "sites[0].gpu.flops_per_s"
logspace = [1e11, 1e13, 3]
[[axes]]
path = "sites[0].gpu.servers"
linspace = [1, 4, 3]
integer = true
"""))
    assert sweep.name == "sweep" and sweep.axes == ("policy.name", "devices[0].rate_hz", "devices.0.count",
                                                     "sites[0].gpu.flops_per_s", "sites[0].gpu.servers")
    assert len(sweep.points) == 2 * 3 * 3 * 3
    # the first axis varies slowest; the zipped pair keeps its pairing
    assert [p["policy.name"] for p in sweep.points[:27]] == ["local"] * 27
    assert {(p["devices[0].rate_hz"], p["devices.0.count"]) for p in sweep.points} == {(1.0, 2), (2.0, 4), (3.0, 8)}
    flops = sorted({p["sites[0].gpu.flops_per_s"] for p in sweep.points})
    np.testing.assert_allclose(flops, [1e11, 1e12, 1e13], rtol=1e-15)
    assert sorted({p["sites[0].gpu.servers"] for p in sweep.points}) == [1, 2, 4]  # 1, 2.5, 4 rounded
    assert all(type(p["sites[0].gpu.servers"]) is int for p in sweep.points)
    # every point validates (integers stay integers, floats floats) and names its overrides
    specs = plan_runs(sweep)
    assert len(specs) == 54 and specs[7].run_id == "p0007-r0"
    assert specs[0].overrides == ('policy.name="local"', "devices[0].rate_hz=1.0", "devices.0.count=2",
                                  "sites[0].gpu.flops_per_s=100000000000.0", "sites[0].gpu.servers=1",
                                  f"simulation.seed={specs[0].seed}")


def test_random_points_stay_in_range_and_raising_points_keeps_the_first_ones(folder):
    text = """
scenario = "base.toml"
[sampling]
method = "random"
points = {n}
[[axes]]
path = "devices[0].rate_hz"
low = 0.5
high = 4.0
[[axes]]
path = "sites[0].gpu.flops_per_s"
low = 1e10
high = 1e13
log = true
[[axes]]
path = "devices[0].count"
low = 1
high = 6
integer = true
[[axes]]
path = "policy.name"
values = ["local", "offload", "min_latency"]
"""
    first = load_sweep(write(folder, text.replace("{n}", "200"))).points
    more = load_sweep(write(folder, text.replace("{n}", "250"))).points
    assert more[:200] == first
    rate = np.array([p["devices[0].rate_hz"] for p in more])
    flops = np.array([p["sites[0].gpu.flops_per_s"] for p in more])
    count = [p["devices[0].count"] for p in more]
    assert rate.min() >= 0.5 and rate.max() <= 4.0
    assert flops.min() >= 1e10 and flops.max() <= 1e13
    # log-uniform: about a third of 250 points in each decade (binomial sd 7.5; 6 sd margin)
    decades = np.histogram(np.log10(flops), bins=[10, 11, 12, 13])[0]
    assert np.all(np.abs(decades - 250 / 3) < 45)
    assert set(count) == {1, 2, 3, 4, 5, 6} and all(type(c) is int for c in count)
    assert {p["policy.name"] for p in more} == {"local", "offload", "min_latency"}


def test_latin_hypercube_puts_one_point_in_each_stratum_of_every_axis(folder):
    n = 20
    sweep = load_sweep(write(folder, f"""
scenario = "base.toml"
[sampling]
method = "lhs"
points = {n}
[[axes]]
path = "devices[0].rate_hz"
low = 0.5
high = 4.5
[[axes]]
path = "sites[0].gpu.flops_per_s"
low = 1e10
high = 1e12
log = true
[[axes]]
path = "devices[0].count"
low = 1
high = 20
integer = true
[[axes]]
path = "policy.name"
values = ["local", "offload", "min_latency", "min_energy"]
"""))
    rate = np.array([p["devices[0].rate_hz"] for p in sweep.points])
    flops = np.array([p["sites[0].gpu.flops_per_s"] for p in sweep.points])
    # each of the n equal strata of each range holds exactly one point (in log for a log axis)
    assert sorted(np.floor((rate - 0.5) / 4.0 * n).astype(int)) == list(range(n))
    assert sorted(np.floor(np.log10(flops / 1e10) / 2.0 * n).astype(int)) == list(range(n))
    assert sorted(p["devices[0].count"] for p in sweep.points) == list(range(1, 21))
    names = [p["policy.name"] for p in sweep.points]
    assert {name: names.count(name) for name in set(names)} == {
        "local": 5, "offload": 5, "min_latency": 5, "min_energy": 5}


def test_seeds_depend_on_the_point_values_not_on_its_number_or_the_other_points(folder):
    small = load_sweep(write(folder, GRID, "small.toml"))
    # a value added to one axis, the axes and the values in another order, one replication more
    bigger = load_sweep(write(folder, GRID.replace("replications = 2", "replications = 3").replace(
        '[[axes]]\npath = "policy.name"\nvalues = ["local", "offload"]\n', "") + """
[[axes]]
path = "policy.name"
values = ["offload", "min_latency", "local"]
""", "bigger.toml"))
    assert len(bigger.points) == 6 and bigger.axes == ("devices[0].rate_hz", "policy.name")
    seeds = {}
    for s in (small, bigger):
        for p, values in enumerate(s.points):
            for r in range(s.replications):
                key = (json.dumps(values, sort_keys=True), r)
                seeds.setdefault(key, set()).add(s.seed_for(p, r))
    assert all(len(found) == 1 for found in seeds.values())  # the same (values, replication): the same seed
    values = [next(iter(found)) for found in seeds.values()]
    assert len(set(values)) == len(values) and all(0 <= v < 2**63 for v in values)
    assert derive_seed(2026, {"a": 1}, 0) != derive_seed(2027, {"a": 1}, 0)
    # ... and so the same results: every shared run of the bigger sweep equals the small one's
    run_sweep(small, folder / "small", workers=1, progress=False)
    run_sweep(bigger, folder / "bigger", workers=1, progress=False)
    a, b = read_results(folder / "small").results, read_results(folder / "bigger").results
    rows_b = {(b["policy.name"][i], b["devices[0].rate_hz"][i], b["replication"][i]): i for i in range(len(b["run"]))}
    for i in range(len(a["run"])):
        j = rows_b[(a["policy.name"][i], a["devices[0].rate_hz"][i], a["replication"][i])]
        for name in ("seed", "tasks_generated", "latency_mean_s", "device_energy_j"):
            assert a[name][i] == b[name][j], name


def test_an_axis_with_same_seeds_compares_its_values_on_the_same_arrivals(folder):
    policies = 'values = ["local", "offload"]'
    path = write(folder, GRID.replace(policies, policies + "\nsame_seeds = true"))
    sweep = load_sweep(path)
    assert sweep.seeded == ("devices[0].rate_hz",)
    run_sweep(sweep, folder / "out", workers=1, progress=False)
    results = read_results(folder / "out").results
    local, offload = results["policy.name"] == "local", results["policy.name"] == "offload"
    # the same rates and replications in the same order: the same seeds, so the same tasks arrive
    assert list(results["seed"][local]) == list(results["seed"][offload])
    assert list(results["tasks_generated"][local]) == list(results["tasks_generated"][offload])
    assert list(results["tasks_offloaded"][local]) == [0] * 4
    assert len(set(results["seed"][local])) == 4
    assert sweep.seed_for(0, 0) == derive_seed(2026, {"devices[0].rate_hz": 1.0}, 0)


# ----------------------------------------------------------------------------
# Running: folders, tables, executors
# ----------------------------------------------------------------------------


def test_each_run_folder_holds_its_result_and_the_tables_hold_every_run(folder):
    out = folder / "out"
    report = run_sweep(write(folder, GRID), out, workers=1, progress=False)
    assert (report.total, report.ran, report.skipped, report.failed) == (8, 8, 0, 0)
    results, aggregate = read_results(out)
    axes = ["policy.name", "devices[0].rate_hz"]
    assert list(results)[:6] == ["run", "point", "replication", "seed", *axes]
    assert list(results["run"]) == [f"p{p:04d}-r{r}" for p in range(4) for r in range(2)]
    assert results["seed"].dtype == np.int64 and results["tasks_generated"].dtype == np.int64
    assert results["devices[0].rate_hz"].dtype == np.float64
    assert results["local_compute_mean_s"].dtype == np.float64  # null in summary.json for offload runs -> nan
    for i, run_id in enumerate(results["run"]):
        folder_i = out / "runs" / run_id
        summary = json.loads((folder_i / "summary.json").read_text())
        assert summary["seed"] == results["seed"][i]
        assert f"seed = {results['seed'][i]}" in (folder_i / "scenario.toml").read_text()
        assert results["workloads.w.latency_p95_s"][i] == summary["workloads"]["w"]["latency_p95_s"]
        assert results["tasks_completed"][i] == summary["tasks_completed"]
        assert results["policy"][i] == results["policy.name"][i]
        meta = json.loads((folder_i / "sweep_run.json").read_text())
        assert meta["values"] == {"policy.name": results["policy.name"][i],
                                  "devices[0].rate_hz": results["devices[0].rate_hz"][i]}
    assert list(aggregate)[:4] == ["point", *axes, "n"]
    assert list(aggregate["n"]) == [2, 2, 2, 2]
    assert "latency_mean_s_mean" in aggregate and "workloads.w.latency_p95_s_ci95" in aggregate
    assert "policy_mean" not in aggregate and "seed_mean" not in aggregate
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["executor"] == "serial (in this process)"
    assert provenance["runs"] == {"total": 8, "done": 8, "ran": 8, "skipped": 0, "failed": 0, "not_done": 0,
                                  "ran_here": 8}
    assert {"airan", "numba", "numpy", "python"} <= set(provenance["versions"])
    assert provenance["sweep_hash"] == json.loads((out / "sweep.json").read_text())["hash"]


@pytest.fixture(autouse=True)
def pools_end_with_the_test(monkeypatch):
    """Every local pool a test starts has its starting thread ended (and its workers stopped) at teardown."""
    made = []
    init = sweep_module._LocalPool.__init__

    def recorded(pool, *args, **kwargs):
        init(pool, *args, **kwargs)
        made.append(pool)

    monkeypatch.setattr(sweep_module._LocalPool, "__init__", recorded)
    yield
    for pool in made:
        pool._thread.join(120)


@pytest.fixture
def order_workers(monkeypatch):
    """Order the client and the workers' start: ``configure(after, wait_in)``.

    The starting thread waits until the client has begun its run number ``after``
    (0: it does not wait); the client's run number ``wait_in`` waits until the
    starting thread is done (workers up and the runs handed over, or failed).
    Returns the list of pools started, to check their threads and processes.
    """
    pools = []
    start, execute_here = sweep_module._LocalPool._start, sweep_module._LocalPool._execute_here

    def configure(after=0, wait_in=None, then=None):
        began = threading.Event()
        count = [0]

        def delayed_start(pool):
            pools.append(pool)
            while after and not began.wait(0.02) and not pool._cancel.is_set():
                pass
            start(pool)

        def run_here(pool, spec):
            count[0] += 1
            if count[0] == after:
                began.set()
            if count[0] == wait_in:
                assert pool.settled.wait(120), "the worker processes did not start within 120 s"
                if then is not None:
                    then(pool)
            return execute_here(pool, spec)

        monkeypatch.setattr(sweep_module._LocalPool, "_start", delayed_start)
        monkeypatch.setattr(sweep_module._LocalPool, "_execute_here", run_here)
        return pools

    return configure


def assert_stopped(pools) -> None:
    """Every pool's starting thread has ended and no worker process is left."""
    import multiprocessing

    for pool in pools:
        pool._thread.join(30)
        assert not pool._thread.is_alive()
    assert multiprocessing.active_children() == []


def test_worker_processes_give_the_serial_table(folder, order_workers):
    pools = order_workers(after=1, wait_in=1)  # the client begins one run, then the workers take the other 7
    path = write(folder, GRID)
    run_sweep(path, folder / "serial", workers=1, progress=False)
    report = run_sweep(path, folder / "processes", workers=2, progress=False)
    assert report.executor.startswith("local processes (2, ") and report.executor.endswith(
        "; 1 run(s) in this process while they started")
    assert (report.ran, report.ran_here, report.failed) == (8, 1, 0)
    assert json.loads((folder / "processes" / "provenance.json").read_text())["runs"]["ran_here"] == 1
    assert_same_tables(read_results(folder / "serial"), read_results(folder / "processes"))
    assert_stopped(pools)


def test_the_client_runs_the_whole_sweep_if_it_finishes_before_the_workers_start(folder, order_workers):
    pools = order_workers(after=9)  # the workers would start after the client's 9th run: never
    path = write(folder, GRID)
    run_sweep(path, folder / "serial", workers=1, progress=False)
    report = run_sweep(path, folder / "here", workers=2, progress=False)
    assert (report.ran, report.ran_here, report.failed) == (8, 8, 0)
    assert report.executor == "serial (in this process, before the 2 worker processes had started)"
    assert_same_tables(read_results(folder / "serial"), read_results(folder / "here"))
    assert_stopped(pools)


def test_workers_up_during_the_clients_last_run_take_nothing(folder, order_workers):
    pools = order_workers(after=8, wait_in=8)  # they start as the client begins its last run, which waits for them
    report = run_sweep(write(folder, GRID), folder / "here", workers=2, progress=False)
    assert (report.ran, report.ran_here, report.failed) == (8, 8, 0)
    assert report.executor == "serial (in this process: the 2 worker processes started after the last run had begun)"
    assert_stopped(pools)


def test_the_last_run_of_a_resumed_sweep_runs_in_this_process(folder, order_workers):
    path, out = write(folder, GRID), folder / "out"
    run_sweep(path, out, workers=1, progress=False)
    shutil.rmtree(out / "runs" / "p0002-r1")
    pools = order_workers()
    report = run_sweep(path, out, workers=2, progress=False)
    assert (report.ran, report.skipped, report.ran_here, report.executor) == (1, 7, 1, "serial (in this process)")
    assert_stopped(pools)


def test_workers_that_cannot_start_leave_the_runs_to_the_client(folder, monkeypatch, order_workers):
    import concurrent.futures

    class NoProcesses:
        def __init__(self, *args, **kwargs):
            raise OSError("cannot fork: resource temporarily unavailable")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", NoProcesses)
    order_workers(wait_in=1)  # the client's first run waits until the start has failed
    path = write(folder, GRID)
    report = run_sweep(path, folder / "here", workers=2, progress=False)
    assert (report.ran, report.ran_here, report.failed, report.stopped) == (8, 8, 0, None)
    assert report.executor == ("serial (in this process: the worker processes did not start: "
                               "OSError: cannot fork: resource temporarily unavailable)")
    monkeypatch.undo()
    run_sweep(path, folder / "serial", workers=1, progress=False)
    assert_same_tables(read_results(folder / "serial"), read_results(folder / "here"))


def test_a_forkserver_whose_preload_fails_leaves_the_runs_to_the_client(folder, monkeypatch, order_workers):
    """The forkserver dies importing its preload (not an ImportError): the client says so and runs the sweep."""
    from multiprocessing import forkserver

    (folder / "broken_preload.py").write_text('raise RuntimeError("no kernels today")\n')
    monkeypatch.setenv("PYTHONPATH", str(folder))  # the forkserver's sys.path: its own up to Python 3.12.7,
    monkeypatch.syspath_prepend(str(folder))  # the client's from 3.12.8 and 3.13.1
    monkeypatch.setattr(sweep_module._LocalPool, "PRELOAD", "broken_preload")
    pools = order_workers(wait_in=1)  # the client's first run waits until the start has failed
    forkserver._forkserver._stop()  # a fresh forkserver, which imports the preload
    try:
        report = run_sweep(write(folder, GRID), folder / "here", workers=2, progress=False)
    finally:
        forkserver._forkserver._stop()
    assert (report.ran, report.ran_here, report.failed) == (8, 8, 0)
    assert report.executor.startswith("serial (in this process: the worker processes did not start: RuntimeError: "
                                      "the forkserver stopped while importing broken_preload")
    assert_stopped(pools)


def test_finished_runs_are_kept_when_a_worker_dies(folder, order_workers):
    import os
    import signal

    def kill_a_worker(pool):
        os.kill(next(iter(pool.pool._processes)), signal.SIGKILL)

    pools = order_workers(after=1, wait_in=1, then=kill_a_worker)
    # runs of about a quarter of a second: the killed worker is in the middle of one
    long_runs = GRID.replace('set = ["simulation.duration_s=15"]',
                             'set = ["simulation.duration_s=200", "devices[0].count=1000"]')
    path, out = write(folder, long_runs), folder / "out"
    report = run_sweep(path, out, workers=2, progress=False)
    assert report.stopped.startswith("a worker process died")
    assert report.ran >= 1 and report.failed == 0 and report.ran + report.not_done == 8 and report.not_done >= 1
    assert len(read_results(out).results["run"]) == report.ran  # every run that came back is stored
    assert_stopped(pools)
    resumed = run_sweep(path, out, workers=1, progress=False)
    assert (resumed.ran, resumed.skipped) == (report.not_done, report.ran)
    run_sweep(path, folder / "whole", workers=1, progress=False)
    assert_same_tables(read_results(folder / "whole"), read_results(out))


def test_an_interrupt_during_the_clients_run_stops_the_workers(folder, order_workers):
    def interrupt(pool):
        assert pool.error is None
        raise KeyboardInterrupt  # Ctrl-C during the client's run, the workers up and running the rest

    pools = order_workers(after=1, wait_in=1, then=interrupt)
    out = folder / "out"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(write(folder, GRID), out, workers=2, progress=False)
    assert_stopped(pools)
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["stopped"] == "interrupted" and provenance["runs"]["ran_here"] == 0
    assert provenance["executor"].startswith("local processes (2, ")
    assert provenance["executor"].endswith("; 0 run(s) in this process while they started")


def test_an_interrupt_before_the_workers_are_up_stops_them(folder, order_workers, monkeypatch):
    """Ctrl-C while the starting thread is inside the pool's start (a forkserver compiling on a cold cache, say):
    the sweep stops at once, with the run it finished kept, and the thread stops the pool when its start returns."""
    from concurrent.futures import process

    spawning, release = threading.Event(), threading.Event()
    spawn = process.ProcessPoolExecutor._spawn_process

    def slow_spawn(executor):
        spawning.set()
        assert release.wait(60)
        spawn(executor)

    monkeypatch.setattr(process.ProcessPoolExecutor, "_spawn_process", slow_spawn)
    store = sweep_module._store_run
    stored = []

    def store_then_stop(*args):
        if stored:
            raise KeyboardInterrupt  # Ctrl-C while the client writes its second run
        assert spawning.wait(60)
        store(*args)
        stored.append(args[1].run_id)

    monkeypatch.setattr(sweep_module, "_store_run", store_then_stop)
    pools = order_workers()
    out = folder / "out"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(write(folder, GRID), out, workers=2, progress=False)
    assert pools[0]._thread.is_alive()  # run_sweep did not wait for the start
    release.set()
    assert_stopped(pools)
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["runs"]["done"] == 1 and provenance["runs"]["not_done"] == 7
    assert list(read_results(out).results["run"]) == stored
    assert provenance["executor"] == "serial (in this process, before the 2 worker processes had started)"


def test_workers_that_break_taking_the_runs_leave_the_rest_to_the_client(folder, order_workers, monkeypatch):
    from concurrent.futures import process

    submit = process.ProcessPoolExecutor.submit
    handed = []

    def third_fails(executor, fn, *args, **kwargs):
        if fn is sweep_module.execute:
            if len(handed) == 2:
                raise process.BrokenProcessPool("a worker died")
            handed.append(args[0].run_id)
        return submit(executor, fn, *args, **kwargs)

    monkeypatch.setattr(process.ProcessPoolExecutor, "submit", third_fails)
    pools = order_workers(after=1, wait_in=1)
    path = write(folder, GRID)
    report = run_sweep(path, folder / "mixed", workers=2, progress=False)
    assert (report.ran, report.ran_here, report.failed, report.stopped) == (8, 6, 0, None)
    assert report.executor.endswith("; 1 run(s) in this process while they started; the workers broke taking the "
                                    "runs (BrokenProcessPool: a worker died), and this process ran 5 more")
    assert_stopped(pools)
    monkeypatch.undo()
    run_sweep(path, folder / "serial", workers=1, progress=False)
    assert_same_tables(read_results(folder / "serial"), read_results(folder / "mixed"))


def test_an_interrupt_while_collecting_the_workers_runs_stops_them(folder, order_workers, monkeypatch):
    store = sweep_module._store_run
    stored = []

    def store_then_stop(*args):
        if len(stored) == 3:
            raise KeyboardInterrupt  # Ctrl-C while the fourth run is written (the client's, then three)
        store(*args)
        stored.append(args[1].run_id)

    monkeypatch.setattr(sweep_module, "_store_run", store_then_stop)
    pools = order_workers(after=1, wait_in=1)
    out = folder / "out"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(write(folder, GRID), out, workers=2, progress=False)
    assert_stopped(pools)
    assert sorted(read_results(out).results["run"]) == sorted(stored)
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["stopped"] == "interrupted" and provenance["runs"]["done"] == 3
    assert provenance["executor"].endswith("; 1 run(s) in this process while they started")


def test_workers_started_before_planning_are_stopped_when_the_sweep_is_refused(folder, order_workers):
    """Worker processes start while the client plans; a refused sweep stops them and runs nothing."""
    pools = order_workers()  # (records the pools)
    (folder / "taken").mkdir()
    (folder / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match="exists and is not a sweep folder"):
        run_sweep(write(folder, GRID), folder / "taken", workers=2, progress=False)
    assert sorted(p.name for p in (folder / "taken").iterdir()) == ["notes.txt"]
    # a point that does not validate is refused in planning, with the workers already started
    with pytest.raises(SweepError, match=r"point 0 \(.*devices\[0\]\.rate_hz = -1\.0\): .*must be > 0"):
        run_sweep(write(folder, GRID.replace("values = [1.0, 3.0]", "values = [-1.0, 3.0]")), folder / "bad",
                  workers=2, progress=False)
    assert not (folder / "bad").exists()
    order_workers(after=1, wait_in=1)
    report = run_sweep(write(folder, GRID), folder / "good", workers=2, progress=False)  # and a new sweep still runs
    assert report.ran == 8 and report.executor.startswith("local processes (2, ")
    assert_stopped(pools)


def test_a_dask_cluster_gives_the_serial_table(folder):
    from dask.distributed import LocalCluster

    path = write(folder, GRID)
    run_sweep(path, folder / "serial", workers=1, progress=False)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        report = run_sweep(path, folder / "dask", scheduler=cluster.scheduler_address, progress=False)
    assert report.executor.startswith("dask ") and report.ran == 8 and report.failed == 0
    assert_same_tables(read_results(folder / "serial"), read_results(folder / "dask"))
    assert json.loads((folder / "dask" / "provenance.json").read_text())["executor"].startswith("dask ")


def test_a_resumed_sweep_runs_only_what_is_missing(folder):
    path, out = write(folder, GRID), folder / "out"
    run_sweep(path, out, workers=1, progress=False)
    complete = read_results(out)
    for run_id in ("p0001-r0", "p0003-r1"):
        shutil.rmtree(out / "runs" / run_id)
    (out / "results.parquet").unlink()
    report = run_sweep(path, out, workers=1, progress=False)
    assert (report.ran, report.skipped, report.failed) == (2, 6, 0)
    assert_same_tables(complete, read_results(out))
    assert run_sweep(path, out, workers=1, progress=False).ran == 0


def test_an_interrupted_sweep_keeps_its_finished_runs(folder, monkeypatch):
    path, out = write(folder, GRID), folder / "out"
    store = sweep_module._store_run
    calls = []

    def store_then_stop(*args):
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C while the fourth run is being written
        calls.append(args[1].run_id)
        store(*args)

    monkeypatch.setattr(sweep_module, "_store_run", store_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(path, out, workers=1, progress=False)
    monkeypatch.undo()
    # the tables and provenance were written with what had finished
    assert list(read_results(out).results["run"]) == calls
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["stopped"] == "interrupted" and provenance["runs"]["not_done"] == 5
    report = run_sweep(path, out, workers=1, progress=False)
    assert (report.ran, report.skipped) == (5, 3)
    run_sweep(path, folder / "whole", workers=1, progress=False)
    assert_same_tables(read_results(folder / "whole"), read_results(out))


def test_a_failing_run_is_recorded_and_the_sweep_carries_on(folder, capsys):
    # placement "area" validates, but an ideal channel needs "disc": the build fails when the run starts
    path = write(folder, GRID.replace('path = "policy.name"\nvalues = ["local", "offload"]',
                                      'path = "devices[0].placement"\nvalues = ["disc", "area"]'))
    out = folder / "out"
    code = cli.main(["sweep", str(path), "--out", str(out), "--workers", "1", "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "4 of 8 runs failed, first p0002-r0: BuildError: devices[0].placement" in err
    record = json.loads((out / "runs" / "p0002-r0.error.json").read_text())
    assert record["type"] == "BuildError" and "must be \"disc\"" in record["message"]
    assert 'devices[0].placement="area"' in record["overrides"]
    assert record["overrides"][-1] == f"simulation.seed={record['seed']}"
    results, aggregate = read_results(out)
    assert list(results["devices[0].placement"]) == ["disc"] * 4 and list(aggregate["point"]) == [0, 1]
    # run again: the failed runs are tried again, the finished ones are not
    report = run_sweep(path, out, workers=1, progress=False)
    assert (report.ran, report.skipped, report.failed) == (0, 4, 4)


def test_a_worker_needs_only_the_run_bundle(folder):
    # a topology file, an arrival trace and a policy file, all named relative to the base scenario
    shutil.copy(Path(__file__).resolve().parents[1] / "topologies" / "hex7.toml", folder / "net.toml")
    (folder / "arrivals.csv").write_text("t_s\n0.0\n0.4\n0.5\n1.2\n")
    (folder / "pol.py").write_text(
        "from numba import njit\nfrom airan.policies import register\n\n"
        "@register(\"sweep_first_node\", parameters={\"unused\": 1.0})\n@njit\n"
        "def sweep_first_node(now_s, task, options, params):\n    return 1 if options.shape[0] > 1 else 0\n")
    base = BASE.replace('[[sites]]\nname = "bs"\ngpu = { servers = 1, flops_per_s = 1e12 }', """
[policy]
plugin = "pol.py"
name = "sweep_first_node"
[topology]
file = "net.toml"
[compute]
placement = "every_site"
gpu = { servers = 1, flops_per_s = 1e12 }
""").replace('rate_hz = 2.0', 'arrival = "trace"\ntrace_file = "arrivals.csv"')
    (folder / "base.toml").write_text(base)
    specs = plan_runs(load_sweep(write(folder, 'scenario = "base.toml"\nreplications = 2\n')))
    assert set(specs[0].files) == {"scenario.toml", "topology.toml", "arrivals_0.csv", "policy_plugin.py"}
    for name in ("net.toml", "arrivals.csv", "pol.py", "base.toml"):
        (folder / name).unlink()
    first, second = (execute(spec) for spec in specs)
    assert first.error is None, first.error["traceback"]
    summary = json.loads(first.files["summary.json"])
    assert summary["tasks_completed"] > 0 and summary["offload_ratio"] == 1.0 and summary["seed"] == specs[0].seed
    assert {"scenario.toml", "topology.toml", "arrivals_0.csv", "policy_plugin.py"} <= set(first.files)
    assert second.error is None and json.loads(second.files["summary.json"])["seed"] == specs[1].seed


# ----------------------------------------------------------------------------
# Changed sweeps and bad input
# ----------------------------------------------------------------------------


def test_a_changed_sweep_is_refused_without_force_and_force_keeps_the_shared_runs(folder, capsys):
    path, out = write(folder, GRID), folder / "out"
    run_sweep(path, out, workers=1, progress=False)
    before = read_results(out).results
    path.write_text(GRID.replace("values = [1.0, 3.0]", "values = [0.5, 1.0, 3.0]"))
    assert cli.main(["sweep", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"airan: error: {out}: holds another sweep (grid, hash ") and err.count("\n") == 1
    report = run_sweep(path, out, workers=1, force=True, progress=False)
    # the 8 runs the new sweep repeats exactly are kept (renumbered); only the 4 new ones run
    assert (report.total, report.ran, report.skipped) == (12, 4, 8)
    after = read_results(out).results
    old = {(before["policy.name"][i], before["devices[0].rate_hz"][i], before["replication"][i]): before["seed"][i]
           for i in range(8)}
    for i in range(12):
        key = (after["policy.name"][i], after["devices[0].rate_hz"][i], after["replication"][i])
        assert key[1] == 0.5 or old[key] == after["seed"][i]
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(after["run"])
    assert json.loads((out / "sweep.json").read_text())["hash"] == load_sweep(path).hash


@pytest.mark.parametrize(("text", "expected"), [
    ('scenario = "base.toml"\nreplications = 0\n', "sweep.toml: replications: must be >= 1, got 0"),
    ('scenario = "base.toml"\ncolour = 1\n', "sweep.toml: colour: unknown key; allowed keys here: axes, cluster"),
    ('scenario = "nope.toml"\n', "sweep.toml: scenario: no such scenario file, got 'nope.toml'"),
    ('scenario = "base.toml"\nset = ["oops"]\n', "sweep.toml: set[0]: must be dotted.path=value, got 'oops'"),
    ('scenario = "base.toml"\nset = ["sites[0].gpu.servers=0"]\n',
     "sweep.toml: set: base.toml: sites[0].gpu.servers: must be >= 1, got 0"),
    ('scenario = "base.toml"\n[[axes]]\npath = "policy.name"\n',
     "sweep.toml: axes[0].values: give one of values, linspace, logspace or low and high, got none"),
    ('scenario = "base.toml"\n[[axes]]\npath = "devices[0].rate_hz"\nlinspace = [1, 2, 2.5]\n',
     "sweep.toml: axes[0].linspace: must be [low, high, num] with an integer num, got [1, 2, 2.5]"),
    ('scenario = "base.toml"\n[sampling]\nmethod = "lhs"\npoints = 4\n[[axes]]\npath = "devices[0].rate_hz"\n'
     'linspace = [1, 2, 3]\n', 'sweep.toml: axes[0].linspace: only with method = "grid"'),
    ('scenario = "base.toml"\n[sampling]\nmethod = "random"\n', 'sweep.toml: sampling.points: required with method'),
    ('scenario = "base.toml"\n[[axes]]\npath = "devices[0].rate_hz"\nvalues = [1.0, 2.0]\nzip = "z"\n'
     '[[axes]]\npath = "devices[0].count"\nvalues = [1, 2, 3]\nzip = "z"\n',
     "sweep.toml: axes[1].zip: axes zipped as 'z' must have as many values each; devices[0].rate_hz has 2, "
     "devices[0].count has 3"),
    ('scenario = "base.toml"\n[[axes]]\npath = "simulation.seed"\nvalues = [1, 2]\n',
     "sweep.toml: axes[0].path: simulation.seed is derived per run"),
    ('scenario = "base.toml"\n[[axes]]\npath = "policy.name"\nvalues = ["local", "bogus"]\n',
     'sweep.toml: point 1 (policy.name = "bogus"): base.toml: policy.name: must be one of '),
    ('scenario = "base.toml"\n[[axes]]\npath = "devices[0].rate_hz"\nvalues = [1.0, -2.0]\n',
     "sweep.toml: point 1 (devices[0].rate_hz = -2.0): base.toml: devices[0].rate_hz: must be > 0, got -2.0"),
    ('scenario = "base.toml"\n[[axes]]\npath = "sites[3].gpu.servers"\nvalues = [1]\n',
     "sweep.toml: point 0 (sites[3].gpu.servers = 1): base.toml: sites[3]: no such list item (the list has 1)"),
    ("scenario = \n", "sweep.toml: not valid TOML: "),
])
def test_bad_input_is_one_line_with_exit_status_2_and_nothing_runs(folder, capsys, text, expected):
    path, out = write(folder, text), folder / "out"
    assert cli.main(["sweep", str(path), "--out", str(out), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"airan: error: {expected}"), captured.err
    assert captured.err.count("\n") == 1 and captured.out == ""
    assert not out.exists()


def test_bad_arguments_are_one_line_with_exit_status_2(folder, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["sweep", str(write(folder, GRID)), "--workers", "0"])
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith("airan: error: argument --workers: must be an integer >= 1, got 0")
    (folder / "taken").mkdir()
    (folder / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match="exists and is not a sweep folder"):
        run_sweep(folder / "sweep.toml", folder / "taken", workers=1, progress=False)


# ----------------------------------------------------------------------------
# Aggregation
# ----------------------------------------------------------------------------


def test_aggregate_ci_is_the_student_t_interval_over_replications(folder):
    out = folder / "out"
    run_sweep(write(folder, GRID.replace("replications = 2", "replications = 3")), out, workers=1, progress=False)
    results, aggregate = read_results(out)
    t_2 = 4.302652729749464  # t(0.975, 2), from tables (4.303)
    for row, point in enumerate(aggregate["point"]):
        mine = results["point"] == point
        assert aggregate["n"][row] == 3
        for name in ("latency_mean_s", "tasks_generated", "device_energy_j"):
            values = [float(v) for v in results[name][mine]]
            assert aggregate[f"{name}_mean"][row] == pytest.approx(statistics.fmean(values), rel=1e-12)
            half = t_2 * statistics.stdev(values) / math.sqrt(3)
            assert aggregate[f"{name}_ci95"][row] == pytest.approx(half, rel=1e-9)
    # one replication: no interval
    run_sweep(write(folder, GRID.replace("replications = 2", "replications = 1"), "one.toml"), folder / "one",
              workers=1, progress=False)
    one = read_results(folder / "one").aggregate
    assert np.all(np.isnan(one["latency_mean_s_ci95"])) and np.all(np.isfinite(one["latency_mean_s_mean"]))


@pytest.mark.parametrize(("df", "table"), [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (9, 2.262),
                                           (29, 2.045), (100, 1.984)])
def test_t_quantile_is_the_975_point_of_student_t(df, table):
    q = t_quantile_975(df)
    assert q == pytest.approx(table, abs=6e-4)  # printed tables give 3 decimals
    # slow reference: integrate the density, Simpson's rule on 20,000 panels (error far below 1e-9)
    x = np.linspace(0.0, q, 20_001)
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    f = np.exp(log_c - (df + 1) / 2 * np.log1p(x * x / df))
    h = q / 20_000
    area = h / 3 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum())
    assert 0.5 + area == pytest.approx(0.975, abs=1e-9)


# ----------------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------------


def test_the_command_dry_runs_and_runs_a_sweep(folder, capsys):
    path = write(folder, GRID)
    assert cli.main(["sweep", str(path), "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert dry.splitlines()[:2] == ["point  policy.name  devices[0].rate_hz", '0      "local"      1.0']
    assert "grid: 4 points (grid) x 2 replications = 8 runs, master seed 2026" in dry
    assert not (folder / "results").exists()
    command = [sys.executable, "-m", "airan", "sweep", str(path), "--workers", "1"]
    proc = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "grid: 8 runs: 8 run now, 0 already done, 0 failed" in proc.stdout
    assert "8/8" in proc.stderr  # the progress bar
    assert len(read_parquet(folder / "results" / "grid" / "results.parquet")["run"]) == 8  # under the sweep's name


def test_a_study_loads_a_variant_of_its_sweep_file(folder):
    path = write(folder, GRID)
    plain = load_sweep(path)
    variant = load_sweep(path, settings=["devices[0].count=2", "simulation.seed=7"],
                         values={"devices[0].rate_hz": [5.0]}, replications=1)
    assert variant.set == (*plain.set, "devices[0].count=2")
    assert variant.seed == 7 and variant.replications == 1
    assert [p["devices[0].rate_hz"] for p in variant.points] == [5.0, 5.0]
    assert variant.hash != plain.hash  # a variant never takes over the file's own folder
    assert load_sweep(path, settings=["simulation.seed=2026"]).hash == plain.hash  # the file's own seed
    with pytest.raises(airan.ScenarioError, match=r"^base\.toml: devices\[0\]\.count: must be >= 1"):
        load_sweep(path, settings=["devices[0].count=0"])
    with pytest.raises(SweepError, match=r"^--set simulation\.seed=x: simulation\.seed: must be an integer"):
        load_sweep(path, settings=["simulation.seed=x"])
