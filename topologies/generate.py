"""Regenerate the built-in topology files from the generators of :mod:`airan.topology`.

    python topologies/generate.py          (from the repository root)

Each entry of ``airan.topology.BUILTIN_SPECS`` (file name -> generator and
parameters) becomes ``<name>.toml`` next to this script; ``tests/test_topology.py``
checks that the files are current. Edit a generator or ``BUILTIN_SPECS``, then run
this script and commit the files it writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from airan.topology import BUILTIN_SPECS, dump_topology, generate


def render(name: str) -> str:
    """The text of built-in file ``name``: a header naming its generator, then the topology."""
    kind, params = BUILTIN_SPECS[name]
    call = ", ".join(f"{k}={v!r}" for k, v in params.items())
    header = (f"# Built-in topology {name!r}, written by topologies/generate.py from\n"
              f"# airan.topology.{kind}({call}). Do not edit: change the generator and rerun the script.\n"
              "# Format: topologies/README.md\n\n")
    return header + dump_topology(generate(kind, **params))


HERE = Path(__file__).resolve().parent


def main(folder: Path = HERE) -> list[Path]:
    """Write every built-in file into ``folder``; returns the paths written."""
    written = []
    for name in BUILTIN_SPECS:
        path = folder / f"{name}.toml"
        path.write_text(render(name), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in main():
        print(path.name)
    sys.exit(0)
