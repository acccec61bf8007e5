"""Imported by a sweep's forkserver before it forks the local worker processes.

Importing this module imports the simulator and loads the compiled kernels from
Numba's cache with a tiny run (compiling them, once, on a cold cache), so that
every worker forked afterwards starts with them instead of loading them itself
(about a quarter of a second of CPU per worker). The tiny run starts no thread;
the forkserver's only other threads are numpy's BLAS pool, which handles fork
itself (the same as before this module existed: any process that imports numpy
has them). A run that fails here is ignored (each worker's first run then loads
the kernels and reports the problem). The forkserver ignores an ImportError of
this module (the workers then load the kernels themselves); any other exception
escaping it would stop the forkserver, which the client reports as the workers
not starting.
"""

from .sweep import _warm_worker

_warm_worker()
