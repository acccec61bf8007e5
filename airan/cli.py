"""The ``airan`` command: a thin layer over the Python API.

    airan run SCENARIO.toml [--out DIR] [--seed N] [--set dotted.path=value ...] [--trace]
    airan validate SCENARIO.toml [--set ...]
    airan reference            (the scenario file reference, as Markdown)
    airan topologies           (the built-in topologies)
    airan topology show NAME_OR_FILE --out map.png [--scenario SCENARIO.toml]
    airan topology generate KIND [--param key=value ...] --out FILE.toml|.graphml
    airan topology export NAME_OR_FILE --out FILE.graphml|.toml
    airan plot RESULTS... [--kind cdf|metric|heatmap|battery|energy|gpu|topology] --out FIG.png
               [--x PATH] [--y METRIC] [--by FIELD] [--value METRIC] [--logx] [--where PATH=VALUE ...]
    airan sweep SWEEP.toml [--out DIR] [--workers N] [--scheduler ADDRESS] [--force] [--dry-run] [--quiet]

Bad input (a scenario or override that does not validate) prints one line naming
the file, the field and what is allowed, and exits with status 2.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

from . import __version__
from .build import BuildError
from .policies import PolicyError
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
    ("backhaul_mean_s", "transport (both ways) mean", "ms", 1e3),
    ("gpu_wait_mean_s", "GPU wait mean", "ms", 1e3),
    ("gpu_service_mean_s", "GPU service mean", "ms", 1e3),
    ("downlink_mean_s", "downlink mean", "ms", 1e3),
    ("gpu_utilization_mean", "GPU utilisation mean", "", 1.0),
    ("handovers", "handovers", "", 1.0),
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
    for name in ("summary.json", "scenario.toml", "topology.toml", "devices.parquet", "sites.parquet",
                 "nodes.parquet", "links.parquet", "cells.parquet", "latency_histogram.parquet", "workloads.parquet",
                 "trace.parquet"):
        if (out / name).is_dir():
            return f"{out / name} is a folder"
    return None


def _validate(args: argparse.Namespace) -> int:
    from .build import build_model

    scenario = load_scenario(args.scenario, args.set)
    try:  # everything a run builds before its first event (link budgets included)
        topo = build_model(scenario, scenario.simulation.seed)[1].topology
    except BuildError as exc:
        raise BuildError(f"{Path(args.scenario).name}: {exc}") from None
    gpus = sum(1 for node in topo.compute if node.gpu is not None)
    print(f"{args.scenario}: valid ({len(topo.sites)} sites, {gpus} GPU nodes, {len(topo.links)} transport links, "
          f"{scenario.n_devices} devices, {len(scenario.workloads)} workloads)")
    return 0


def _reference(args: argparse.Namespace) -> int:
    from .scenario import reference_markdown

    print(reference_markdown())
    return 0


def _topology_errors(func):
    """A topology command whose TopologyError is bad input: one line on standard error, exit status 2."""

    @functools.wraps(func)
    def wrapper(args: argparse.Namespace) -> int:
        from .topology import TopologyError

        try:
            return func(args)
        except TopologyError as exc:
            print(f"airan: error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT

    return wrapper


@_topology_errors
def _topologies(args: argparse.Namespace) -> int:
    from .topology import builtin_topologies, load_topology

    rows = [("name", "sites", "compute", "description")]
    for name, description in builtin_topologies():
        topo = load_topology(name)
        rows.append((name, str(len(topo.sites)), str(len(topo.compute)), description))
    width = [max(len(row[i]) for row in rows) for i in range(3)]
    for name, n_sites, n_compute, description in rows:
        print(f"{name:<{width[0]}}  {n_sites:>{width[1]}}  {n_compute:>{width[2]}}  {description}")
    return 0


@_topology_errors
def _topology_show(args: argparse.Namespace) -> int:
    from . import plots
    from .topology import TopologyError, load_topology

    out = Path(args.out)
    if out.suffix not in (".png", ".pdf"):
        raise TopologyError(f"--out {out}: must end in .png or .pdf")
    if args.topology is None and args.scenario is None:
        raise TopologyError("give a topology (a built-in name or a file), or --scenario")
    topo = load_topology(args.topology) if args.topology is not None else None
    devices = {}
    if args.scenario is not None:
        from .build import build_model

        scenario = load_scenario(args.scenario, args.set)
        try:
            model, layout = build_model(scenario, scenario.simulation.seed)
        except BuildError as exc:
            raise BuildError(f"{Path(args.scenario).name}: {exc}") from None
        placed = getattr(layout, "topology", None)  # the scenario's network, its GPUs placed
        if topo is None or (placed is not None and [s.name for s in placed.sites] == [s.name for s in topo.sites]):
            topo = placed if placed is not None else topo
        if topo is None:
            raise TopologyError(f"--scenario {args.scenario}: this build gives no topology; name one")
        if [s.name for s in topo.sites] != list(layout.site_names):
            raise TopologyError(f"--scenario {args.scenario}: its sites are not those of topology {topo.name!r}")
        devices = {"devices_x_m": layout.dev_x_m, "devices_y_m": layout.dev_y_m, "devices_site": model.dev_site}
    with plots.style():
        fig = plots.plot_topology(topo, wrap=args.wrap, **devices)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            for target in [out] if out.suffix == ".png" else [out, out.with_suffix(".png")]:
                fig.savefig(target, bbox_inches="tight")
        except OSError as exc:
            print(f"airan: error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_FAILED
    print(f"{topo.name}: drawn to {out}" + ("" if out.suffix == ".png" else f" and {out.with_suffix('.png')}"))
    return 0


@_topology_errors
def _topology_generate(args: argparse.Namespace) -> int:
    from .scenario import _parse_value
    from .topology import TopologyError, generate

    params = {}
    for item in args.param:
        if "=" not in item:
            raise TopologyError(f"--param {item}: must be key=value")
        key, value = item.split("=", 1)
        params[key.strip()] = _parse_value(value.strip())
    return _write_topology(generate(args.kind, **params), Path(args.out))


@_topology_errors
def _topology_export(args: argparse.Namespace) -> int:
    from .topology import load_topology

    return _write_topology(load_topology(args.topology), Path(args.out))


def _write_topology(topo, out: Path) -> int:
    from .topology import TopologyError, dump_topology, write_graphml

    if out.suffix not in (".toml", ".graphml"):
        raise TopologyError(f"--out {out}: must end in .toml or .graphml")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".toml":
            out.write_text(dump_topology(topo), encoding="utf-8")
        else:
            write_graphml(topo, out)
    except OSError as exc:
        print(f"airan: error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{out}: topology {topo.name!r}, {len(topo.sites)} sites, {len(topo.compute)} compute nodes, "
          f"{len(topo.links)} links")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from .sweep import SweepError, format_points, load_sweep, plan_runs, run_sweep

    try:
        sweep = load_sweep(args.sweep)
        if args.dry_run:
            plan_runs(sweep)  # every point's scenario validates
            print(format_points(sweep))
            return 0
        out = Path(args.out) if args.out else Path("results") / sweep.name
        report = run_sweep(sweep, out, workers=args.workers, scheduler=args.scheduler, force=args.force,
                           progress=not args.quiet)
    except SweepError as exc:
        print(f"airan: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.quiet:
        print(f"{sweep.name}: {report.total} runs: {report.ran} run now, {report.skipped} already done, "
              f"{report.failed} failed ({report.executor})")
        print(f"tables written to {out}/ (results.parquet, aggregate.parquet)")
    if report.failed:
        print(f"airan: {report.failed} of {report.total} runs failed, first {report.errors[0]}; records: "
              f"{out / 'runs'}/*.error.json; run the same command again to retry them", file=sys.stderr)
    if report.stopped:
        print(f"airan: stopped: {report.stopped} ({report.not_done} runs not done)", file=sys.stderr)
    return EXIT_FAILED if report.failed or report.not_done else 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def _plot(args: argparse.Namespace) -> int:
    """One figure from run folders or a sweep folder (:func:`airan.plots.plot_results`), as PNG and PDF."""
    from . import plots

    out = Path(args.out)
    if out.suffix not in (".png", ".pdf"):
        print(f"airan: error: --out {out}: must end in .png or .pdf (both are written)", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        with plots.style():
            fig = plots.plot_results(args.results, kind=args.kind, x=args.x, y=args.y, by=args.by, value=args.value,
                                     logx=args.logx, where=args.where)
            written = plots.save(fig, out)
    except plots.PlotError as exc:
        print(f"airan: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"airan: error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"figure: {', '.join(str(p) for p in written)}")
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

    topologies = sub.add_parser("topologies", help="list the built-in topologies")
    topologies.set_defaults(func=_topologies)

    topology = sub.add_parser("topology", help="draw, generate or export a topology (topologies/README.md)")
    tsub = topology.add_subparsers(dest="topology_command", required=True, parser_class=_Parser)
    show = tsub.add_parser("show", help="draw a topology (and a scenario's devices) to a PNG or PDF")
    show.add_argument("topology", nargs="?", help="built-in name or .toml / .graphml file (default: the "
                      "scenario's)")
    show.add_argument("--out", required=True, help="image file, .png or .pdf (a .pdf also writes the .png)")
    show.add_argument("--scenario", help="also draw this scenario's devices at t = 0, coloured by serving site")
    show.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                      help="override a field of the --scenario (repeatable)")
    show.add_argument("--wrap", action="store_true", help="also draw the wrap-around copies of the sites")
    show.set_defaults(func=_topology_show)
    gen = tsub.add_parser("generate", help="write a generated topology (hex_grid, manhattan, highway, indoor, "
                          "hetnet, poisson)")
    gen.add_argument("kind", help="generator name")
    gen.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                     help="a generator parameter, e.g. --param rings=2 (repeatable)")
    gen.add_argument("--out", required=True, help="output file, .toml or .graphml")
    gen.set_defaults(func=_topology_generate)
    export = tsub.add_parser("export", help="convert a topology to TOML or GraphML")
    export.add_argument("topology", help="built-in name or .toml / .graphml file")
    export.add_argument("--out", required=True, help="output file, .toml or .graphml")
    export.set_defaults(func=_topology_export)

    plot = sub.add_parser("plot", help="draw a figure (PNG and PDF) from run folders or a sweep folder")
    plot.add_argument("results", nargs="+", metavar="RESULTS",
                      help="run folders (summary.json), compared, or one sweep folder (aggregate.parquet)")
    plot.add_argument("--kind", choices=("cdf", "metric", "heatmap", "battery", "energy", "gpu", "topology"),
                      help="figure (default: metric for a sweep, cdf for run folders)")
    plot.add_argument("--out", required=True, help="figure file, .png or .pdf (both are written)")
    plot.add_argument("--x", help="horizontal axis: a swept axis, or a summary field or scenario path "
                      "(default: a sweep's first axis with numbers)")
    plot.add_argument("--y", help="metric: the metric drawn (default latency_p95_s); heatmap: the vertical axis; "
                      "gpu: the time-series column (default gpu_utilization)")
    plot.add_argument("--by", help="one line, bar or group per value of this field, e.g. policy "
                      "(default: the run; for a sweep metric, its second axis)")
    plot.add_argument("--value", help="heatmap: the metric coloured (default latency_p95_s)")
    plot.add_argument("--logx", action="store_true", help="metric: logarithmic horizontal axis")
    plot.add_argument("--where", action="append", default=[], metavar="PATH=VALUE",
                      help="keep the runs (sweep points) with this value, e.g. policy.name=offload (repeatable)")
    plot.set_defaults(func=_plot)

    sweep = sub.add_parser("sweep", help="run a parameter sweep (points x replications) into one folder")
    sweep.add_argument("sweep", help="sweep TOML file (README: Sweeps)")
    sweep.add_argument("--out", help="sweep folder (default: results/<the sweep's name>); an interrupted sweep "
                       "resumes there")
    sweep.add_argument("--workers", type=_positive_int, help="local worker processes (default: the CPU count; "
                       "1: in this process), or the workers of --scheduler local")
    sweep.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster (tcp://host:8786), or 'local' "
                       "for one on this machine (default: [cluster] of the sweep file, else local processes)")
    sweep.add_argument("--force", action="store_true", help="take over a folder made by a different sweep (runs "
                       "the new sweep repeats exactly are kept, the rest removed)")
    sweep.add_argument("--dry-run", action="store_true", help="check every point and print the point table; run "
                       "nothing")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar; print nothing on success")
    sweep.set_defaults(func=_sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ScenarioError, BuildError, PolicyError) as exc:
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
