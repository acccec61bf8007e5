"""Quickstart study: offload everything to the base-station GPUs, or compute everything locally?

    python experiments/quickstart.py [--out results/quickstart] [--set PATH=VALUE ...]

Runs experiments/quickstart.toml once per policy with the same seed (so both see
the same task arrivals), prints the two summaries side by side, writes each run's
results to OUT/<policy>/ and draws OUT/quickstart.png (and .pdf): the latency CDF
and the battery-life distribution of both policies.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import airan
from airan import plots
from airan.cli import format_summary

HERE = Path(__file__).resolve().parent
POLICIES = ("offload", "local")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default=str(HERE / "quickstart.toml"))
    parser.add_argument("--out", default="results/quickstart")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override a scenario field for both runs (repeatable)")
    args = parser.parse_args(argv)
    out = Path(args.out)

    results = {}
    try:
        for policy in POLICIES:
            scenario = airan.load_scenario(args.scenario, [*args.set, f"policy.name={policy}"])
            results[policy] = airan.run(scenario)
            results[policy].write(out / policy)  # written as soon as it is done
    except airan.ScenarioError as exc:
        print(f"quickstart: error: {exc}", file=sys.stderr)
        return 2

    print(format_summary({p: r.summary for p, r in results.items()}))

    with plots.style():
        fig, (ax_latency, ax_battery) = plots.figure(2)
        plots.plot_latency_cdf(plots.stack({p: r.latency_histogram for p, r in results.items()}), ax=ax_latency)
        plots.plot_battery_life(plots.stack({p: r.devices for p, r in results.items()}), ax=ax_battery)
        ax_latency.set_title("(a) task latency")
        ax_battery.set_title("(b) device battery life")
        written = plots.save(fig, out / "quickstart.png")
    print(f"results in {out}/{{{','.join(POLICIES)}}}/, figure: {', '.join(str(p) for p in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
