"""Built-in topology files of airan (installed as the package ``airan.topologies``).

Each ``*.toml`` here is written by ``generate.py`` from the generators in
:mod:`airan.topology`; load one with ``airan.topology.load_topology("hex7")``. The
format is described in ``README.md``.
"""
