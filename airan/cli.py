"""The ``airan`` command: a thin layer over the Python API.

    airan run SCENARIO.toml [--out DIR] [--seed N] [--set dotted.path=value ...] [--trace]
    airan validate SCENARIO.toml [--set ...]
    airan reference            (the scenario file reference, as Markdown)

Bad input (a scenario or override that does not validate) prints one line naming
the file, the field and what is allowed, and exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .build import BuildError
from .results import write_parquet
from .scenario import ScenarioError, load_scenario
from .simulation import Simulation

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1

#: (summary key, label, unit, scale) rows of the printed table.
SUMMARY_ROWS = [
    ("tasks_generated", "tasks generated", "", 1.0),
    ("tasks_completed", "tasks completed", "", 1.0),
    ("tasks_dropped", "tasks dropped", "", 1.0),
    ("tasks_in_flight", "tasks in flight at the end", "", 1.0),
    ("offload_ratio", "offload ratio", "", 1.0),
    ("latency_mean_s", "latency mean", "ms", 1e3),
    ("latency_p50_s", "latency p50", "ms", 1e3),
    ("latency_p95_s", "latency p95", "ms", 1e3),
    ("latency_p99_s", "latency p99", "ms", 1e3),
    ("deadline_miss_ratio", "deadline miss ratio", "", 1.0),
    ("local_compute_mean_s", "local compute mean", "ms", 1e3),
    ("uplink_mean_s", "uplink mean", "ms", 1e3),
    ("gpu_wait_mean_s", "GPU wait mean", "ms", 1e3),
    ("gpu_service_mean_s", "GPU service mean", "ms", 1e3),
    ("downlink_mean_s", "downlink mean", "ms", 1e3),
    ("gpu_utilization_mean", "GPU utilisation mean", "", 1.0),
    ("device_energy_per_task_j", "device energy per task", "J", 1.0),
    ("device_energy_per_local_task_j", "device energy per local task", "J", 1.0),
    ("device_energy_per_offloaded_task_j", "device energy per offloaded task", "J", 1.0),
    ("device_power_mean_w", "device power mean", "W", 1.0),
    ("battery_life_mean_h", "battery life mean", "h", 1.0),
    ("battery_life_p5_h", "battery life p5", "h", 1.0),
    ("devices_depleted", "devices depleted", "", 1.0),
    ("gpu_energy_per_inference_j", "GPU energy per inference", "J", 1.0),
    ("network_energy_per_task_j", "network energy per task", "J", 1.0),
    ("sim_time_s", "simulated time", "s", 1.0),
    ("events", "events", "", 1.0),
    ("wall_time_s", "wall time (kernel)", "s", 1.0),
]


def format_summary(summaries: dict[str, dict], rows=SUMMARY_ROWS) -> str:
    """A plain-text table: one row per metric, one column per run (label -> summary)."""
    labels = list(summaries)
    width = max(len(f"{label} [{unit}]" if unit else label) for _, label, unit, _ in rows)
    col = max(12, *(len(label) for label in labels))
    lines = [" " * width + "".join(f"  {label:>{col}}" for label in labels)]
    for key, label, unit, scale in rows:
        name = f"{label} [{unit}]" if unit else label
        cells = []
        for summary in summaries.values():
            value = summary.get(key)
            if value is None:
                cells.append("-")
            elif isinstance(value, int):
                cells.append(f"{value:,}")
            else:
                cells.append(f"{value * scale:.4g}")
        lines.append(f"{name:<{width}}" + "".join(f"  {cell:>{col}}" for cell in cells))
    return "\n".join(lines)


class _TraceWriter:
    """Streams trace chunks into a Parquet file, renamed into place when closed."""

    def __init__(self, path: Path):
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        self._writer = None

    def __call__(self, chunk) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({k: pa.array(v) for k, v in chunk.items()})
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.tmp, table.schema)
        self._writer.write_table(table)

    def close(self, empty_columns) -> None:
        if self._writer is None:
            write_parquet(self.path, empty_columns)
            return
        self._writer.close()
        self.tmp.replace(self.path)


def _run(args: argparse.Namespace) -> int:
    # --seed N is simulation.seed=N, validated (and recorded) like any other field
    seed_override = [] if args.seed is None else [f"simulation.seed={args.seed}"]
    scenario = load_scenario(args.scenario, [*args.set, *seed_override])
    out = Path(args.out) if args.out else Path("results") / Path(args.scenario).stem
    problem = _unwritable(out)
    if problem:
        print(f"airan: error: --out {out}: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    writer = _TraceWriter(out / "trace.parquet") if args.trace else None
    try:
        sim = Simulation(scenario, trace=writer)
    except BuildError as exc:
        raise BuildError(f"{Path(args.scenario).name}: {exc}") from None
    progress = None
    steps = 1
    if args.progress or (args.progress is None and not args.quiet and sys.stderr.isatty()):
        from tqdm import tqdm

        steps = 100
        bar = tqdm(total=sim.duration_s, unit="sim s", desc=scenario.name)

        def progress(now_s: float) -> None:
            bar.update(now_s - bar.n)
    try:
        result = sim.run(steps=steps, progress=progress)
    finally:
        if progress is not None:
            bar.close()
    if not args.quiet:
        # shown before anything is written, so a failing disk cannot hide the results
        print(format_summary({scenario.policy.name: result.summary}))
    try:
        result.write(out)
        if writer is not None:
            writer.close(sim.trace_rows(0))
    except OSError as exc:
        print(f"airan: error: cannot write the results to {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    if not args.quiet:
        print(f"results written to {out}/")
    return 0


def _unwritable(out: Path) -> str | None:
    """Why results cannot be written to ``out`` (None if they can): checked before a long run."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".airan-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"cannot write there: {exc.strerror or exc}"
    for name in ("summary.json", "scenario.toml", "devices.parquet", "sites.parquet", "latency_histogram.parquet",
                 "trace.parquet"):
        if (out / name).is_dir():
            return f"{out / name} is a folder"
    return None


def _validate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario, args.set)
    print(f"{args.scenario}: valid ({len(scenario.sites)} sites, {scenario.n_devices} devices, "
          f"{len(scenario.workloads)} workloads)")
    return 0


def _reference(args: argparse.Namespace) -> int:
    from .scenario import reference_markdown

    print(reference_markdown())
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``airan: error: ...`` and exit status 2."""

    def error(self, message: str):  # noqa: D102 (argparse API)
        self.exit(EXIT_BAD_INPUT, f"airan: error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="airan", description="AI-RAN edge-offload simulator")
    parser.add_argument("--version", action="version", version=f"airan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a scenario and write its results")
    run.add_argument("scenario", help="scenario TOML file")
    run.add_argument("--out", help="results folder (default: results/<scenario file name>)")
    run.add_argument("--seed", type=int, help="master seed (default: simulation.seed of the scenario)")
    run.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                     help="override a scenario field, e.g. --set sites[0].gpu.servers=4 (repeatable)")
    run.add_argument("--trace", action="store_true", help="also write one record per task to trace.parquet")
    run.add_argument("--quiet", action="store_true", help="print nothing on success")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress bar on standard error (default: when it is a terminal)")
    run.set_defaults(func=_run)

    validate = sub.add_parser("validate", help="check a scenario file without running it")
    validate.add_argument("scenario", help="scenario TOML file")
    validate.add_argument("--set", action="append", default=[], metavar="PATH=VALUE")
    validate.set_defaults(func=_validate)

    reference = sub.add_parser("reference", help="print the scenario file reference (Markdown)")
    reference.set_defaults(func=_reference)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ScenarioError, BuildError) as exc:
        print(f"airan: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("airan: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our output went away (e.g. `| head`): stop quietly
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (replaces the closed stream for interpreter exit)
        return 1


if __name__ == "__main__":
    sys.exit(main())
