"""Random streams for the kernels: xoshiro256** generators whose state lives in an array.

Each stream is one row of a ``uint64[n_streams, 4]`` array, so a run's whole random
state is plain data: it is saved with the rest of the state, and every entity (a
device's arrivals, a site's service times) draws from its own stream. Giving each
entity its own stream keeps the draws of one unaffected by the decisions made for
another, which yields common random numbers when two policies are compared.

Streams are seeded from :class:`numpy.random.SeedSequence` (``[seed, family]``),
whose hashed output gives statistically independent 256-bit states.

References
----------
D. Blackman and S. Vigna, "Scrambled linear pseudorandom number generators",
ACM Trans. Math. Softw. 47(4), 2021 (xoshiro256**).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Stream families: a family's streams are independent of how many streams the others have.
FAMILY_DEVICE = 0
FAMILY_SITE = 1  # one stream per compute node (GPU service times)
FAMILY_MOBILITY = 4  # one stream per device (mobility legs); 2, 3 and 5 seed build-time draws


def seed_streams(seed: int, family: int, n_streams: int) -> np.ndarray:
    """Initial states ``uint64[n_streams, 4]`` for one family of streams."""
    words = np.random.SeedSequence([int(seed), int(family)]).generate_state(4 * max(n_streams, 1), np.uint64)
    states = words.reshape(-1, 4)[:n_streams].copy()
    # xoshiro's all-zero state is a fixed point; SeedSequence makes it practically impossible, but be exact.
    states[np.all(states == 0, axis=1), 0] = np.uint64(1)
    return states


@njit(error_model="numpy")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(error_model="numpy")
def next_u64(states, i):
    """Next 64-bit output of stream ``i`` (xoshiro256**), advancing its state."""
    s0 = states[i, 0]
    s1 = states[i, 1]
    s2 = states[i, 2]
    s3 = states[i, 3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    states[i, 0] = s0
    states[i, 1] = s1
    states[i, 2] = s2
    states[i, 3] = s3
    return result


@njit(error_model="numpy")
def uniform(states, i):
    """A float64 uniform on [0, 1) with 53 random bits."""
    return np.float64(next_u64(states, i) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(error_model="numpy")
def exponential(states, i, mean):
    """An exponential variate with the given mean (inverse transform on (0, 1])."""
    return -mean * np.log1p(-uniform(states, i))
