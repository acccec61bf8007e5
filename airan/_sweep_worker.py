"""Imported by a sweep's forkserver before it forks the local worker processes.

Importing this module imports what a run needs (the simulator and the Parquet
writer) and loads the compiled kernels from Numba's cache with a tiny run, so
that every worker forked afterwards starts with them instead of loading them
itself (about a quarter of a second of CPU per worker). The forkserver runs no
threads of its own, so forking it after the tiny run is safe; a failure here
only leaves the loading to each worker's first run.
"""

import pyarrow.parquet  # noqa: F401 - each run writes its tables with it

from .sweep import _warm_worker

_warm_worker()
