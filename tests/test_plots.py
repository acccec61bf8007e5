"""Figures from tidy tables: each kind draws its series with labelled axes; ``airan plot`` writes PNG + PDF
and reports bad input in one line with exit status 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import build_scenario
from matplotlib.collections import PolyCollection, QuadMesh

import airan
from airan import plots
from airan.cli import build_parser, main
from airan.plots import PlotError, label
from airan.results import write_parquet

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------
# Small tables, built by hand
# ---------------------------------------------------------------------------------------------

POLICIES = ["local", "offload"]
RATES = [0.5, 1.0, 2.0, 4.0]


def aggregate_table() -> dict[str, np.ndarray]:
    """A sweep's aggregate: 2 policies x 4 rates, latency p95 in s with its CI half-width."""
    policy = np.array([p for p in POLICIES for _ in RATES], dtype=object)
    rate = np.array(RATES * len(POLICIES))
    p95 = np.where(policy == "local", 0.2 * rate, 0.01 + 0.001 * rate)
    return {
        "point": np.arange(rate.size), "policy.name": policy, "devices[0].rate_hz": rate,
        "n": np.full(rate.size, 3),
        "latency_p95_s_mean": p95, "latency_p95_s_ci95": 0.1 * p95,
        "device_energy_per_task_j_mean": np.where(policy == "local", 0.5, 0.1),
        "device_energy_per_task_j_ci95": np.full(rate.size, 0.01),
    }


def results_table() -> dict[str, np.ndarray]:
    """The rows behind :func:`aggregate_table`: three replications per point, +-10 % around the mean."""
    agg = aggregate_table()
    reps = 3
    out = {"run": np.array([f"p{p:04d}-r{r}" for p in agg["point"] for r in range(reps)], dtype=object),
           "point": np.repeat(agg["point"], reps), "replication": np.tile(np.arange(reps), agg["point"].size),
           "seed": np.arange(agg["point"].size * reps),
           "policy.name": np.repeat(agg["policy.name"], reps),
           "devices[0].rate_hz": np.repeat(agg["devices[0].rate_hz"], reps)}
    wiggle = np.tile([0.9, 1.0, 1.1], agg["point"].size)
    out["latency_p95_s"] = np.repeat(agg["latency_p95_s_mean"], reps) * wiggle
    local = out["policy.name"] == "local"
    for part, offload_j, local_j in (("idle", 10.0, 10.0), ("compute", 0.0, 40.0), ("tx", 5.0, 0.0),
                                     ("rx", 2.0, 0.0), ("tail", 3.0, 0.0)):
        out[f"device_energy_{part}_j"] = np.where(local, local_j, offload_j)
    out["device_energy_j"] = np.where(local, 50.0, 20.0)
    out["device_energy_per_task_j"] = out["device_energy_j"] / 100
    return out


def histogram(centre_s: float, count: int) -> dict[str, np.ndarray]:
    edges = np.array([0.0, 0.5, 1.0, 1.5, 2.0, np.inf]) * centre_s
    counts = np.array([0, count // 2, count - count // 2, 0, 0])
    return {"lower_s": edges[:-1], "upper_s": edges[1:], "count": counts}


def energy_summary(policy: str, *, idle: float, compute: float, tx: float, rx: float, tail: float,
                   tasks: int) -> dict:
    total = idle + compute + tx + rx + tail
    return {"policy": policy, "device_energy_j": total, "device_energy_idle_j": idle,
            "device_energy_compute_j": compute, "device_energy_tx_j": tx, "device_energy_rx_j": rx,
            "device_energy_tail_j": tail, "device_energy_per_task_j": total / tasks,
            "workloads": {"w": {"latency_p95_s": 0.01}}}


def timeseries_table(n_nodes: int, *, n_intervals: int = 12, step_s: float = 300.0) -> dict[str, np.ndarray]:
    """``n_nodes`` GPU nodes plus one node without a GPU (no values), sampled every ``step_s``."""
    names = [f"n{i}" for i in range(n_nodes)] + ["router"]
    start = np.tile(np.arange(n_intervals) * step_s, len(names))
    node = np.repeat(np.array(names, dtype=object), n_intervals)
    level = np.repeat(np.r_[np.linspace(0.1, 0.9, n_nodes), np.nan], n_intervals)
    return {"t_start_s": start, "t_end_s": start + step_s, "node": node, "gpu_utilization": level,
            "gpu_queue_length_mean": 2 * level}


def labelled_lines(ax) -> list:
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


# ---------------------------------------------------------------------------------------------
# label()
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("metric", "values", "expected"), [
    ("latency_p95_s", None, ("latency p95 [ms]", 1e3)),
    ("latency_p95_s", [0.004, 0.2], ("latency p95 [ms]", 1e3)),
    ("latency_p95_s", [1.5, 2.0], ("latency p95 [s]", 1.0)),
    ("gpu_wait_mean_s", [2e-5, 4e-4], ("GPU wait mean [µs]", 1e6)),
    ("device_energy_per_task_j", None, ("device energy per task [J]", 1.0)),
    ("device_power_mean_w", None, ("device power mean [W]", 1.0)),
    ("battery_life_p5_h", None, ("battery life p5 [h]", 1.0)),
    ("devices[0].rate_hz", [0.5, 4.0], ("devices[0] rate [1/s]", 1.0)),
    ("throughput_ul_mean_bps", None, ("throughput UL mean [Mbit/s]", 1e-6)),
    ("throughput_ul_mean_bps", [2e9], ("throughput UL mean [Gbit/s]", 1e-9)),
    ("sinr_dl_p5_db", None, ("SINR DL p5 [dB]", 1.0)),
    ("workloads.detect.latency_p95_s", None, ("detect latency p95 [ms]", 1e3)),
    ("latency_p95_s_mean", None, ("latency p95 [ms]", 1e3)),
    ("policy.name", None, ("policy", 1.0)),
    ("sites[0].gpu.servers", [1, 4], ("sites[0] GPU servers", 1.0)),
    ("gpu_utilization_mean", None, ("GPU utilisation mean", 1.0)),
    ("offload_ratio", [0.5], ("offload ratio", 1.0)),
])
def test_label_reads_the_unit_from_the_suffix_and_scales_small_times_to_ms(metric, values, expected):
    text, scale = label(metric, values)
    assert (text, scale) == (expected[0], pytest.approx(expected[1]))


# ---------------------------------------------------------------------------------------------
# The plot functions, on tables built by hand
# ---------------------------------------------------------------------------------------------


def test_latency_cdf_draws_one_line_per_run_and_pools_runs_that_share_a_label():
    table = plots._stack_rows([("offload", histogram(0.01, 100)), ("offload", histogram(0.01, 300)),
                               ("local", histogram(0.2, 50))], "policy")
    ax = plots.plot_latency_cdf(table)
    lines = labelled_lines(ax)
    assert [line.get_label() for line in lines] == ["offload", "local"]
    offload = lines[0].get_ydata()
    # pooled: 200 of the 400 tasks in the first occupied bin, then all of them
    assert offload[0] == 0.0 and offload[1] == pytest.approx(0.5) and offload[-1] == pytest.approx(1.0)
    assert ax.get_xlabel() == "task latency [ms]" and ax.get_xscale() == "log"


def test_metric_draws_a_line_and_a_ci_band_per_series():
    agg = aggregate_table()
    ax = plots.plot_metric(agg, "devices[0].rate_hz", "latency_p95_s", by="policy.name", logx=True)
    lines = labelled_lines(ax)
    assert [line.get_label() for line in lines] == POLICIES
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 2
    assert ax.get_xlabel() == "devices[0] rate [1/s]" and ax.get_ylabel() == "latency p95 [ms]"  # < 1 s
    np.testing.assert_allclose(lines[0].get_xdata(), RATES)
    np.testing.assert_allclose(lines[0].get_ydata(), 0.2e3 * np.array(RATES))
    assert ax.get_legend().get_title().get_text() == "policy"
    assert ax.get_xscale() == "log"
    # the band is the mean +- the CI half-width
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(0.9 * 0.2e3 * 0.5) and band.max() == pytest.approx(1.1 * 0.2e3 * 4.0)


def test_metric_from_one_row_per_run_draws_the_mean_of_the_replications():
    ax = plots.plot_metric(results_table(), "devices[0].rate_hz", "latency_p95_s", by="policy.name")
    lines = labelled_lines(ax)
    assert len(lines) == 2 and not [c for c in ax.collections if isinstance(c, PolyCollection)]
    np.testing.assert_allclose(lines[1].get_ydata(), (0.01 + 0.001 * np.array(RATES)) * 1e3)
    assert ax.get_ylabel() == "latency p95 [ms]"


def test_metric_with_categories_along_x_draws_error_bars():
    ax = plots.plot_metric(aggregate_table(), "policy.name", "device_energy_per_task_j", by="devices[0].rate_hz")
    assert [t.get_text() for t in ax.get_xticklabels()] == POLICIES
    assert len(ax.containers) == len(RATES)  # one error-bar container per rate
    assert ax.get_ylabel() == "device energy per task [J]"


def test_metric_refuses_an_aggregate_in_which_another_axis_varies():
    with pytest.raises(PlotError, match="another swept axis varies"):
        plots.plot_metric(aggregate_table(), "devices[0].rate_hz", "latency_p95_s")
    with pytest.raises(PlotError, match="not a metric.*latency_p95_s"):
        plots.plot_metric(aggregate_table(), "devices[0].rate_hz", "latency_p50_s", by="policy.name")


def test_heatmap_colours_one_cell_per_point_with_a_colour_bar():
    agg = aggregate_table()
    ax = plots.plot_heatmap(agg, "policy.name", "devices[0].rate_hz", "latency_p95_s")
    meshes = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(meshes) == 1 and meshes[0].get_array().shape == (len(RATES), len(POLICIES))
    colour_bar = [a for a in ax.figure.axes if a is not ax]
    assert len(colour_bar) == 1 and colour_bar[0].get_ylabel() == "latency p95 [ms]"
    assert ax.get_xlabel() == "policy" and ax.get_ylabel() == "devices[0] rate [1/s]"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0.5", "1", "2", "4"]
    assert len(ax.texts) == len(RATES) * len(POLICIES)  # each cell's value written in it
    # a missing point is a blank cell
    keep = np.arange(agg["point"].size) != 0
    ax = plots.plot_heatmap({k: v[keep] for k, v in agg.items()}, "policy.name", "devices[0].rate_hz",
                            "latency_p95_s")
    assert ax.collections[0].get_array().mask.sum() == 1


def test_energy_breakdown_stacks_five_parts_per_bar_that_add_up_to_the_energy_per_task():
    summaries = [energy_summary("offload", idle=10.0, compute=0.0, tx=5.0, rx=2.0, tail=3.0, tasks=100),
                 energy_summary("local", idle=10.0, compute=40.0, tx=0.0, rx=0.0, tail=0.0, tasks=100),
                 energy_summary("local", idle=10.0, compute=60.0, tx=0.0, rx=0.0, tail=0.0, tasks=100)]
    ax = plots.plot_energy_breakdown(summaries, by="policy")
    assert len(ax.containers) == 5 and all(len(c) == 2 for c in ax.containers)
    tops = [max(bar.get_y() + bar.get_height() for bar in bars) for bars in zip(*ax.containers, strict=True)]
    # offload: 20 J / 100 tasks; local: the mean of its two runs, 50 and 70 J / 100 tasks
    assert tops == [pytest.approx(0.2), pytest.approx(0.6)]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["offload", "local"]
    assert ax.get_ylabel() == "device energy per task [J]"
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "baseline (idle)"


def test_gpu_timeseries_draws_a_line_per_gpu_node_or_the_mean_with_a_band():
    ax = plots.plot_gpu_timeseries(timeseries_table(3))
    assert [line.get_label() for line in labelled_lines(ax)] == ["n0", "n1", "n2"]  # not the router
    assert ax.get_xlabel() == "time [min]" and ax.get_ylabel() == "GPU utilisation"
    assert labelled_lines(ax)[0].get_xdata()[-1] == pytest.approx(60.0)  # 12 x 5 min
    ax = plots.plot_gpu_timeseries(timeseries_table(3), nodes=["n2"], value="gpu_queue_length_mean")
    assert len(labelled_lines(ax)) == 1 and ax.get_ylabel() == "GPU queue length mean"
    ax = plots.plot_gpu_timeseries(timeseries_table(20))
    lines = labelled_lines(ax)
    assert len(lines) == 1 and lines[0].get_label() == "mean of 20 nodes"
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 1
    assert lines[0].get_ydata()[0] == pytest.approx(0.5)
    with pytest.raises(PlotError, match="no node 'x'"):
        plots.plot_gpu_timeseries(timeseries_table(3), nodes=["x"])


def test_tables_missing_a_column_raise_one_line():
    with pytest.raises(PlotError, match="no column 'gpu_utilization'"):
        plots.plot_gpu_timeseries({"t_start_s": [0.0], "t_end_s": [1.0], "node": ["a"]})
    with pytest.raises(PlotError, match=r"no column 'policy\.name'"):
        plots.plot_energy_breakdown([energy_summary("x", idle=1, compute=0, tx=0, rx=0, tail=0, tasks=1)],
                                    by="policy.name")


# ---------------------------------------------------------------------------------------------
# Run folders, a sweep folder and the command line
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_folders(tmp_path_factory) -> dict[str, Path]:
    """Two tiny real runs (one site, ideal channel): local and offload, written as `airan run` does."""
    base = tmp_path_factory.mktemp("runs")
    folders = {}
    for policy in POLICIES:
        scenario = build_scenario(simulation={"duration_s": 20.0, "warmup_s": 1.0}, policy=policy,
                                  workload={"flops": 1e9}, device={"rate_hz": 0.5})
        folders[policy] = airan.run(scenario).write(base / policy)
    return folders


@pytest.fixture()
def sweep_folder(tmp_path, run_folders) -> Path:
    """A sweep folder as airan.sweep lays it out, its tables built by hand, its runs copies of real ones."""
    folder = tmp_path / "sweep"
    results = results_table()
    for run, policy in zip(results["run"], results["policy.name"], strict=True):
        shutil.copytree(run_folders[policy], folder / "runs" / run)
    write_parquet(folder / "results.parquet", results)
    write_parquet(folder / "aggregate.parquet", aggregate_table())
    (folder / "sweep.json").write_text(json.dumps({"name": "s", "axes": ["policy.name", "devices[0].rate_hz"]}))
    return folder


def plot(*args, capsys) -> tuple[int, str, str]:
    code = main(["plot", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_table_names_runs_by_folder_and_holds_summary_and_scenario_fields(run_folders):
    table = plots.runs_table(list(run_folders.values()))
    assert list(table["run"]) == POLICIES
    assert list(table["policy.name"]) == POLICIES and list(table["policy"]) == POLICIES
    assert table["devices[0].rate_hz"].tolist() == [0.5, 0.5]
    assert table["latency_p95_s"].dtype == np.float64
    assert "workloads.w.latency_p95_s" in table


def test_plot_writes_png_and_pdf(tmp_path, run_folders, capsys):
    out = tmp_path / "fig.png"
    code, stdout, err = plot(*run_folders.values(), "--out", out, capsys=capsys)  # default: latency CDF
    assert code == 0, err
    assert out.stat().st_size > 0 and out.with_suffix(".pdf").stat().st_size > 0
    assert stdout == f"figure: {out}, {out.with_suffix('.pdf')}\n"


@pytest.mark.parametrize(("kind", "series"), [("cdf", 2), ("battery", 2), ("energy", 5)])
def test_plot_compares_run_folders(run_folders, kind, series):
    with plots.style():
        ax = plots.plot_results(list(run_folders.values()), kind=kind, by="policy").axes[0]
    assert len(ax.containers if kind == "energy" else labelled_lines(ax)) == series
    labels = [t.get_text() for t in ax.get_xticklabels()] if kind == "energy" else \
        [line.get_label() for line in labelled_lines(ax)]
    assert labels == (POLICIES if kind != "battery" else [f"{p}, d" for p in POLICIES])


def test_plot_metric_over_run_folders_takes_any_scenario_path(run_folders):
    ax = plots.plot_results(list(run_folders.values()), kind="metric", x="policy.name",
                            y="device_energy_per_task_j").axes[0]
    assert ax.get_xlabel() == "policy" and ax.get_ylabel() == "device energy per task [J]"
    assert [t.get_text() for t in ax.get_xticklabels()] == POLICIES


def test_plot_draws_a_runs_topology_and_gpu_time_series(tmp_path, run_folders, capsys):
    fig = plots.plot_results([run_folders["offload"]], kind="topology")
    assert fig.axes[0].get_xlabel() == "x [m]" and "1 sites" in fig.axes[0].get_title()
    run = tmp_path / "run"
    shutil.copytree(run_folders["offload"], run)
    write_parquet(run / "timeseries.parquet", timeseries_table(2))
    code, _, err = plot(run, "--kind", "gpu", "--out", tmp_path / "g.pdf", capsys=capsys)
    assert code == 0, err
    assert (tmp_path / "g.png").is_file() and (tmp_path / "g.pdf").is_file()
    ax = plots.plot_results([run], kind="gpu", y="gpu_queue_length_mean").axes[0]
    assert len(labelled_lines(ax)) == 2 and ax.get_ylabel() == "GPU queue length mean"


def test_plot_sweep_defaults_to_the_metric_against_its_first_numeric_axis(tmp_path, sweep_folder, capsys):
    code, _, err = plot(sweep_folder, "--out", tmp_path / "s.png", capsys=capsys)
    assert code == 0, err and (tmp_path / "s.png").is_file() and (tmp_path / "s.pdf").is_file()
    ax = plots.plot_results([sweep_folder]).axes[0]
    assert ax.get_xlabel() == "devices[0] rate [1/s]" and ax.get_ylabel() == "latency p95 [ms]"
    assert [line.get_label() for line in labelled_lines(ax)] == POLICIES
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 2


def test_plot_sweep_heatmap_energy_and_pooled_cdf(sweep_folder):
    ax = plots.plot_results([sweep_folder], kind="heatmap").axes[0]
    assert ax.get_xlabel() == "policy" and ax.get_ylabel() == "devices[0] rate [1/s]"
    assert len(plots.plot_results([sweep_folder], kind="battery").axes[0].get_lines()) == 8
    ax = plots.plot_results([sweep_folder], kind="energy", by="policy.name").axes[0]
    assert [max(b.get_y() + b.get_height() for b in bars) for bars in zip(*ax.containers, strict=True)] == \
        [pytest.approx(0.5), pytest.approx(0.2)]
    ax = plots.plot_results([sweep_folder], kind="heatmap", value="device_energy_per_task_j").axes[0]
    assert ax.figure.axes[1].get_ylabel() == "device energy per task [J]"
    # one CDF per sweep point by default, the point's replications pooled; --by pools more
    assert len(labelled_lines(plots.plot_results([sweep_folder], kind="cdf").axes[0])) == 8
    assert len(labelled_lines(plots.plot_results([sweep_folder], kind="cdf", by="policy.name").axes[0])) == 2
    ax = plots.plot_results([sweep_folder], kind="metric", x="policy.name",
                            where=["devices[0].rate_hz=2"]).axes[0]
    assert len(ax.containers) == 1


def run_error(tmp_path, *args, capsys) -> str:
    code, _, err = plot(*args, "--out", tmp_path / "x.png", capsys=capsys)
    assert code == 2
    assert err.startswith("airan: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()
    return err


def test_plot_reports_bad_input_in_one_line(tmp_path, sweep_folder, run_folders, capsys):
    assert "no such folder" in run_error(tmp_path, tmp_path / "missing", capsys=capsys)
    assert "neither a run folder (summary.json) nor a sweep folder" in run_error(tmp_path, tmp_path, capsys=capsys)
    err = run_error(tmp_path, sweep_folder, "--x", "rate", capsys=capsys)
    assert "--x rate: not a column" in err and "axes: policy.name, devices[0].rate_hz" in err
    err = run_error(tmp_path, sweep_folder, "--y", "latency_p96_s", capsys=capsys)
    assert "--y latency_p96_s: not a metric" in err and "latency_p95_s" in err
    err = run_error(tmp_path, sweep_folder, "--x", "policy.name", "--by", "policy.name", capsys=capsys)
    assert "also varies devices[0].rate_hz" in err and "--where" in err
    one_axis = sweep_folder.parent / "one_axis"
    one_axis.mkdir()
    agg = aggregate_table()
    write_parquet(one_axis / "aggregate.parquet", {k: v[agg["policy.name"] == "local"] for k, v in agg.items()
                                                   if k != "policy.name"})
    err = run_error(tmp_path, one_axis, "--kind", "heatmap", capsys=capsys)
    assert "heatmap needs two swept axes" in err and "devices[0].rate_hz" in err
    assert "no timeseries.parquet" in run_error(tmp_path, run_folders["local"], "--kind", "gpu", capsys=capsys)
    assert "draws one run" in run_error(tmp_path, *run_folders.values(), "--kind", "topology", capsys=capsys)
    assert "needs --x" in run_error(tmp_path, *run_folders.values(), "--kind", "metric", capsys=capsys)
    assert "--value does not apply" in run_error(tmp_path, sweep_folder, "--value", "x", capsys=capsys)
    err = run_error(tmp_path, sweep_folder, "--where", "policy.name=cloud", capsys=capsys)
    assert "takes: local, offload" in err
    assert "must end in .png or .pdf" in plot(sweep_folder, "--out", tmp_path / "x.svg", capsys=capsys)[2]
    with pytest.raises(SystemExit) as exit_:  # argparse: an unknown kind
        main(["plot", str(sweep_folder), "--kind", "pie", "--out", str(tmp_path / "x.png")])
    assert exit_.value.code == 2 and "invalid choice: 'pie'" in capsys.readouterr().err


def test_plot_command_never_shows_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "airan", "plot", str(tmp_path / "nothing"), "--out",
                           str(tmp_path / "f.png")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr == f"airan: error: {tmp_path / 'nothing'}: no such folder\n"


def test_cli_kinds_are_the_plot_kinds():
    plot_parser = build_parser()._subparsers._group_actions[0].choices["plot"]
    kind = next(a for a in plot_parser._actions if a.dest == "kind")
    assert tuple(kind.choices) == plots.KINDS
