"""Quickstart study: offload everything to the base-station GPUs, or compute everything locally?

Reproduce it (two runs of one simulated hour, side by side on two cores; writes results/quickstart/):

    python experiments/quickstart.py

Options: ``--out DIR`` (default results/quickstart), ``--set PATH=VALUE`` (repeatable,
applied to both runs; ``simulation.seed`` sets the sweep's master seed), ``--workers N``
(worker processes, default one per core), ``--force`` (take over a folder of another sweep,
e.g. one written by an earlier version of this script).

Runs the sweep experiments/quickstart.sweep.toml (``airan sweep
experiments/quickstart.sweep.toml --out results/quickstart`` runs the same one; the
script then finds the runs done and only draws): experiments/quickstart.toml under
``policy.name`` = ``offload`` (every task to the serving site's GPU) and ``local``
(every task on the device), with ``same_seeds``, so both runs get the same seed and
see the same devices and task arrivals (common random numbers). A sweep, not two
``airan.run`` calls, because it gives the runs their tidy table (OUT/results.parquet),
a seed derived as every other study's, runs on two cores at once, and lets ``airan
plot`` redraw the figure from the folder.

Prints both runs' summaries side by side and draws OUT/quickstart.png (and .pdf)
from their run folders (OUT/runs/<run>/):

(a) the latency CDF of each policy (all tasks: phones and glasses);
(b) the battery-life distribution of each policy and device group.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import airan
from airan import plots
from airan.cli import format_summary
from airan.results import read_parquet
from airan.sweep import SweepError, load_sweep, read_results, run_sweep

HERE = Path(__file__).resolve().parent
SWEEP = HERE / "quickstart.sweep.toml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="results/quickstart")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override a scenario field for both runs (repeatable)")
    parser.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    parser.add_argument("--force", action="store_true", help="take over a folder made by another sweep")
    args = parser.parse_args(argv)
    out = Path(args.out)

    try:
        sweep = load_sweep(SWEEP, settings=args.set)
        report = run_sweep(sweep, out, workers=args.workers, force=args.force)
    except (airan.ScenarioError, SweepError) as exc:
        print(f"quickstart: error: {exc}", file=sys.stderr)
        return 2
    if report.failed or report.not_done:
        print(f"quickstart: {report.failed} run(s) failed, {report.not_done} not done: "
              + "; ".join(report.errors), file=sys.stderr)
        return 1

    results, _ = read_results(out)
    policies = [str(p) for p in results["policy.name"]]
    folders = {p: out / "runs" / str(run) for p, run in zip(policies, results["run"], strict=True)}
    summaries = {p: json.loads((f / "summary.json").read_text(encoding="utf-8")) for p, f in folders.items()}
    print(format_summary(summaries))

    with plots.style():
        fig, (ax_latency, ax_battery) = plots.figure(2)
        plots.plot_latency_cdf(plots.stack({p: read_parquet(f / "latency_histogram.parquet")
                                            for p, f in folders.items()}), ax=ax_latency)
        plots.plot_battery_life(plots.stack({p: read_parquet(f / "devices.parquet") for p, f in folders.items()}),
                                ax=ax_battery)
        ax_latency.set_title("(a) task latency")
        ax_battery.set_title("(b) device battery life")
        written = plots.save(fig, out / "quickstart.png")
    runs = ", ".join(f"{p}: {f}" for p, f in folders.items())
    print(f"runs ({runs}), tables {out}/results.parquet, figure: {', '.join(str(p) for p in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
