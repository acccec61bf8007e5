"""Streaming latency histogram with bounded relative error.

Latencies are counted in logarithmically spaced bins, so memory is fixed however
many tasks a run has. Bin ``i`` (1 <= i <= N_BINS) covers
``[MIN_S * GROWTH**(i-1), MIN_S * GROWTH**i)``; bin 0 holds values below ``MIN_S``
and bin ``N_BINS + 1`` values at or above ``MIN_S * GROWTH**N_BINS`` (just above
``MAX_S``, since ``N_BINS`` is rounded up). A quantile is reported as the
geometric centre of the bin that holds it (clipped to the exact observed minimum
and maximum), so for any value inside ``[MIN_S, MAX_S)`` its relative error is at
most ``sqrt(GROWTH) - 1`` = 0.499 % with ``GROWTH = 1.01``. A quantile that
falls below ``MIN_S`` (1 us) is reported as the observed minimum, without that
bound. This is the scheme of
HdrHistogram and DDSketch (Masson et al., "DDSketch: a fast and fully-mergeable
quantile sketch with relative-error guarantees", PVLDB 12(12), 2019).

Quantiles use the nearest-rank definition: the ``q``-quantile of ``n`` values is
the ``ceil(q n)``-th smallest (the smallest for ``q = 0``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

MIN_S = 1e-6
MAX_S = 1e5
GROWTH = 1.01
N_BINS = int(math.ceil(math.log(MAX_S / MIN_S) / math.log(GROWTH)))
#: Worst-case relative error of a reported quantile inside [MIN_S, MAX_S).
RELATIVE_ERROR = math.sqrt(GROWTH) - 1.0

_LOG_MIN = math.log(MIN_S)
_INV_LOG_GROWTH = 1.0 / math.log(GROWTH)


@njit(error_model="numpy")
def bin_index(value_s):
    """Histogram bin of a latency in seconds."""
    if value_s < MIN_S:
        return 0
    i = int((np.log(value_s) - _LOG_MIN) * _INV_LOG_GROWTH) + 1
    return min(i, N_BINS + 1)


def bin_edges_s() -> np.ndarray:
    """Edges of the regular bins, ``float64[N_BINS + 1]``, s."""
    return MIN_S * GROWTH ** np.arange(N_BINS + 1, dtype=np.float64)


def quantiles(counts: np.ndarray, qs, min_s: float, max_s: float) -> np.ndarray:
    """Nearest-rank quantiles from histogram ``counts`` (``int64[N_BINS + 2]``).

    Returns NaN for each quantile when the histogram is empty.
    """
    qs = np.atleast_1d(np.asarray(qs, dtype=np.float64))
    total = int(counts.sum())
    if total == 0:
        return np.full(qs.shape, np.nan)
    cum = np.cumsum(counts)
    ranks = np.maximum(np.ceil(qs * total), 1).astype(np.int64)
    bins = np.searchsorted(cum, ranks, side="left")
    centre = MIN_S * GROWTH ** (bins.astype(np.float64) - 0.5)
    centre = np.where(bins == 0, min_s, centre)
    centre = np.where(bins == N_BINS + 1, max_s, centre)
    return np.clip(centre, min_s, max_s)
