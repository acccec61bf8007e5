"""Placement and mobility (airan.mobility) against theory and slow reference versions.

The kernel :func:`airan.mobility.move` is compared with event-by-event references
written here (``_RwpRef``, ``_RoadRef``): they build each device's legs or edges as a
list of (start time, start point, end point, speed) from the same random stream and
evaluate the position at any time by interpolation, so they share no stepping logic
with the kernel; the next node on the road graph is chosen from ``atan2`` headings
rather than cosines.

How the tolerances were sized
-----------------------------
- Kernel against reference, and one step of 2 dt against two of dt: both are exact up
  to rounding. Coordinates are <= 1e3 m, so each leg or edge adds a few 1e-13 m of
  rounding and a few 1e-16 relative of time; a few hundred legs stay far below the
  1e-9 m used.
- "On the road": a position is an affine combination of two node positions, off the
  segment by rounding only (~1e-13 m); the test allows 1e-6 m (the graph's join
  tolerance).
- Turn fractions: each decision is a Bernoulli trial; the tolerance is 3 standard
  errors ``3 sqrt(p (1 - p) / n)`` of the counted decisions.
- Random waypoint, time-average speed: with zero pause it is ``1 / E[1 / V] =
  (v_max - v_min) / ln(v_max / v_min)`` (Yoon et al. 2003). The run holds ~35 000
  legs after the warm-up; the standard error of the mean of the 500 per-device
  averages is measured (~0.4 %); the brief's 3 % is about 7 of them.
- Random waypoint, spatial density: with zero pause the stationary position is a
  point uniform on a leg chosen with probability proportional to its length (the
  time on a leg is L / V with V independent of L). Its mass in the centre quarter is
  computed here by Monte Carlo over 400 000 legs (standard error ~4e-4) and is
  ~0.4546; Bettstetter et al.'s (2003) product approximation
  ``f(x, y) = 36 / a^6 (x^2 - a^2/4)(y^2 - a^2/4)`` gives 0.6875^2 = 0.4727. The run's
  fraction is compared with the exact value within 4 measured standard errors of the
  per-device averages plus the Monte Carlo error.
- Chi-square tests use the 99.9 % quantile (Wilson-Hilferty approximation), so a
  correct model fails one of them with probability ~1e-3 for a given seed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from airan._rng import seed_streams, uniform
from airan.mobility import (
    MOB_HIGHWAY,
    MOB_MANHATTAN,
    MOB_STATIC,
    MOB_WAYPOINT,
    MODELS,
    RoadGraph,
    _thomas,
    grid_roads,
    initial_state,
    move,
    place_hotspots,
    place_on_roads,
    place_uniform,
    road_graph,
)

EMPTY = road_graph([])


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


class Sim:
    """Parameters, state and streams of a group of devices, moved with the kernel."""

    def __init__(self, kind, x, y, area, graph=EMPTY, from_node=None, to_node=None, *, v_min=1.0, v_max=10.0,
                 pause_s=0.0, p_turn=0.5, seed=1):
        n = len(kind)
        self.n = n
        self.kind = np.asarray(kind, dtype=np.int8)
        self.v_min = np.broadcast_to(np.asarray(v_min, dtype=np.float64), (n,)).copy()
        self.v_max = np.broadcast_to(np.asarray(v_max, dtype=np.float64), (n,)).copy()
        self.pause_s = np.broadcast_to(np.asarray(pause_s, dtype=np.float64), (n,)).copy()
        self.p_turn = np.broadcast_to(np.asarray(p_turn, dtype=np.float64), (n,)).copy()
        self.area = np.asarray(area, dtype=np.float64)
        self.graph = graph
        self.state = initial_state(self.kind, x, y, from_node, to_node, self.v_min, self.v_max, area, graph,
                                   np.random.default_rng(seed), pause_s=self.pause_s, p_turn=self.p_turn)
        self.rng = seed_streams(seed, 7, n)
        self.rng0 = self.rng.copy()
        self.start = tuple(a.copy() for a in self.state)
        self.devices = np.arange(n, dtype=np.int32)

    def step(self, t_s, dt_s, devices=None):
        move(t_s, dt_s, self.kind, self.v_min, self.v_max, self.pause_s, self.p_turn, self.area, *self.graph,
             *self.state, self.rng, self.devices if devices is None else devices)

    def run(self, dts):
        """Steps of the given lengths; returns x, y at each step end, float64[n_steps, n]."""
        xs = np.empty((len(dts), self.n))
        ys = np.empty((len(dts), self.n))
        t = 0.0
        for k, dt in enumerate(dts):
            self.step(t, dt)
            t += dt
            xs[k] = self.state.x_m
            ys[k] = self.state.y_m
        return xs, ys


def _road_sim(graph, n, area, kind, seed=1, **kw):
    rng = np.random.default_rng(seed)
    x, y, f, t = place_on_roads(rng, n, graph)
    return Sim(np.full(n, kind), x, y, area, graph, f, t, seed=seed, **kw)


def _chi2_999(dof: int) -> float:
    """99.9 % quantile of chi-square with ``dof`` degrees of freedom (Wilson-Hilferty)."""
    z = 3.090232
    return dof * (1.0 - 2.0 / (9.0 * dof) + z * math.sqrt(2.0 / (9.0 * dof))) ** 3


def _chi2(counts, expected) -> float:
    counts = np.asarray(counts, dtype=np.float64)
    return float(np.sum((counts - expected) ** 2 / expected))


def _segment_distance(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    return np.hypot(ax + t * dx - px, ay + t * dy - py)


def _irregular_network(seed=5):
    """A jittered 6 x 6 grid with missing streets and spurs: nodes of degree 1 to 4, any angle."""
    rng = np.random.default_rng(seed)
    n = 6
    gx = 50.0 + 100.0 * np.arange(n)[:, None] + rng.uniform(-25, 25, (n, n))
    gy = 50.0 + 100.0 * np.arange(n)[None, :] + rng.uniform(-25, 25, (n, n))
    lines = []
    for i in range(n):
        for j in range(n):
            if i + 1 < n and rng.random() < 0.8:
                lines.append(np.array([[gx[i, j], gy[i, j]], [gx[i + 1, j], gy[i + 1, j]]]))
            if j + 1 < n and rng.random() < 0.8:
                lines.append(np.array([[gx[i, j], gy[i, j]], [gx[i, j + 1], gy[i, j + 1]]]))
    lines.append(np.array([[gx[2, 2], gy[2, 2]], [gx[2, 2] + 30.0, gy[2, 2] + 40.0], [gx[2, 2] + 10, gy[2, 2] + 70]]))
    return road_graph(lines), (0.0, 600.0, 0.0, 600.0)


# ---------------------------------------------------------------------------
# References (slow, obvious)
# ---------------------------------------------------------------------------


class _RwpRef:
    """Random waypoint for one device as a list of legs (t0, x0, y0, x1, y1, v, t_arrive, t_leave)."""

    def __init__(self, sim: Sim, i: int):
        self.sim, self.i = sim, i
        self.states = sim.rng0.copy()
        s = sim.start
        self.legs = [self._leg(0.0, s[0][i], s[1][i], s[2][i], s[3][i], s[6][i])]

    def _leg(self, t0, x0, y0, x1, y1, v):
        t_arrive = t0 + math.hypot(x1 - x0, y1 - y0) / v
        return (t0, x0, y0, x1, y1, v, t_arrive, t_arrive + self.sim.pause_s[self.i])

    def position(self, t):
        while self.legs[-1][7] <= t:  # draw the next leg (destination x, y, then speed)
            last = self.legs[-1]
            x_min, x_max, y_min, y_max = self.sim.area
            x1 = x_min + (x_max - x_min) * uniform(self.states, self.i)
            y1 = y_min + (y_max - y_min) * uniform(self.states, self.i)
            v = self.sim.v_min[self.i] + (self.sim.v_max[self.i] - self.sim.v_min[self.i]) * uniform(self.states,
                                                                                                     self.i)
            self.legs.append(self._leg(last[7], last[3], last[4], x1, y1, v))
        for t0, x0, y0, x1, y1, _, t_arrive, _ in reversed(self.legs):
            if t >= t0:
                if t >= t_arrive:
                    return x1, y1
                f = (t - t0) / (t_arrive - t0)
                return x0 + f * (x1 - x0), y0 + f * (y1 - y0)
        raise AssertionError("time before the first leg")


def _heading_change(g: RoadGraph, a, b, c):
    """Absolute heading change (rad) from edge a->b to edge b->c."""
    h1 = math.atan2(g.node_y_m[b] - g.node_y_m[a], g.node_x_m[b] - g.node_x_m[a])
    h2 = math.atan2(g.node_y_m[c] - g.node_y_m[b], g.node_x_m[c] - g.node_x_m[b])
    return abs((h2 - h1 + math.pi) % (2.0 * math.pi) - math.pi)


class _RoadRef:
    """A road device as a list of edges (t0, x0, y0, to_node, v, t_arrive)."""

    def __init__(self, sim: Sim, i: int):
        self.sim, self.i = sim, i
        self.states = sim.rng0.copy()
        s = sim.start
        self.fn, self.tn = int(s[4][i]), int(s[5][i])
        self.edges = [self._edge(0.0, s[0][i], s[1][i], self.tn, s[6][i])]

    def _edge(self, t0, x0, y0, to, v):
        g = self.sim.graph
        return (t0, x0, y0, to, v, t0 + math.hypot(g.node_x_m[to] - x0, g.node_y_m[to] - y0) / v)

    def _next(self):
        g, sim, i = self.sim.graph, self.sim, self.i
        fn, tn = self.fn, self.tn
        nbrs = [int(k) for k in g.adj[g.adj_ptr[tn]:g.adj_ptr[tn + 1]]]
        if len(nbrs) == 1:
            return fn
        out = [k for k in nbrs if k != fn]
        if len(out) == 1:
            return out[0]
        turn = [_heading_change(g, fn, tn, k) for k in out]
        best = out[int(np.argmin(turn))]
        if sim.kind[i] == MOB_HIGHWAY:
            return best
        if min(turn) < math.pi / 4:
            if uniform(self.states, i) >= sim.p_turn[i]:
                return best
            out.remove(best)
        return out[int(uniform(self.states, i) * len(out))]

    def position(self, t):
        g, sim, i = self.sim.graph, self.sim, self.i
        while self.edges[-1][5] <= t:
            last = self.edges[-1]
            nxt = self._next()
            self.fn, self.tn = self.tn, nxt
            v = last[4]
            if sim.kind[i] == MOB_MANHATTAN:
                v = sim.v_min[i] + (sim.v_max[i] - sim.v_min[i]) * uniform(self.states, i)
            self.edges.append(self._edge(last[5], g.node_x_m[last[3]], g.node_y_m[last[3]], nxt, v))
        for t0, x0, y0, to, _, t_arrive in reversed(self.edges):
            if t >= t0:
                f = (t - t0) / (t_arrive - t0)
                return x0 + f * (g.node_x_m[to] - x0), y0 + f * (g.node_y_m[to] - y0)
        raise AssertionError("time before the first edge")


# ---------------------------------------------------------------------------
# Road graph
# ---------------------------------------------------------------------------


def _degrees(g: RoadGraph) -> np.ndarray:
    return np.diff(g.adj_ptr)


def _node_at(g: RoadGraph, x, y) -> int:
    return int(np.argmin(np.hypot(g.node_x_m - x, g.node_y_m - y)))


def test_road_graph_joins_shared_points_and_t_junctions_but_not_crossings():
    g = road_graph([
        [[0, 0], [100, 0], [200, 0]],
        [[200, 0], [200, 100]],  # shares the point (200, 0) with the first road
        [[100, 100 + 5e-7], [300, 100]],  # passes 5e-7 m from (200, 100): split there
        [[200, 100 + 3e-7], [250, 150]],  # starts 3e-7 m from (200, 100): the same node
        [[50, 0], [50, -80]],  # ends on the inside of the first road: a T junction
        [[150, -50], [150, 50]],  # crosses the first road without a vertex: a bridge
    ])
    assert g.adj_ptr.dtype == np.int32 and g.adj.dtype == np.int32 and g.node_x_m.dtype == np.float64
    assert g.adj_ptr.shape == (g.node_x_m.shape[0] + 1,) and g.node_x_m.shape == (11,)
    deg = _degrees(g)
    assert deg[_node_at(g, 200, 0)] == 2
    assert deg[_node_at(g, 200, 100)] == 4
    assert deg[_node_at(g, 50, 0)] == 3
    assert np.min(np.hypot(g.node_x_m - 150, g.node_y_m)) > 1.0  # no node at the crossing
    assert deg[_node_at(g, 150, 50)] == 1 and deg[_node_at(g, 150, -50)] == 1
    # symmetric, sorted rows, no self loops or repeats
    for a in range(g.node_x_m.shape[0]):
        row = g.adj[g.adj_ptr[a]:g.adj_ptr[a + 1]]
        assert np.all(np.diff(row) > 0) and a not in row
        for b in row:
            assert a in g.adj[g.adj_ptr[b]:g.adj_ptr[b + 1]]


def test_road_graph_empty_duplicates_and_grid():
    assert EMPTY.node_x_m.shape == (0,) and list(EMPTY.adj_ptr) == [0] and EMPTY.adj.shape == (0,)
    assert road_graph([[[5.0, 5.0]]]).adj.shape == (0,)
    g = road_graph([[[0, 0], [10, 0]], [[10, 0], [0, 0]], [[0, 0], [0, 0], [10, 0]]])
    assert g.node_x_m.shape == (2,) and list(_degrees(g)) == [1, 1]
    grid = road_graph(grid_roads((0, 300, 0, 200), 100.0))
    deg = _degrees(grid)
    assert grid.node_x_m.shape == (12,)
    assert np.sum(deg == 4) == 2 and np.sum(deg == 3) == 6 and np.sum(deg == 2) == 4


# ---------------------------------------------------------------------------
# Placement
# ---------------------------------------------------------------------------


def test_place_uniform_inside_and_uniform():
    area = (-50.0, 150.0, 10.0, 60.0)
    x, y = place_uniform(np.random.default_rng(2), 40_000, area)
    assert x.dtype == np.float64 and x.shape == (40_000,)
    assert np.all((x >= -50) & (x <= 150) & (y >= 10) & (y <= 60))
    counts, _, _ = np.histogram2d(x, y, bins=(10, 5), range=((-50, 150), (10, 60)))
    assert _chi2(counts, 40_000 / 50) < _chi2_999(49)


def test_place_hotspots_thomas_counts_near_centres():
    area = (0.0, 10_000.0, 0.0, 10_000.0)
    n, n_hot, sigma = 30_000, 6, 20.0
    x, y, cx, cy, centre = _thomas(np.random.default_rng(3), n, area, n_hot, sigma)
    assert np.all((x >= 0) & (x <= 10_000) & (y >= 0) & (y <= 10_000))
    # devices per hotspot: multinomial with equal probabilities
    assert _chi2(np.bincount(centre, minlength=n_hot), n / n_hot) < _chi2_999(n_hot - 1)
    # distance to the own centre is Rayleigh(sigma): 10 equiprobable bins
    r = np.hypot(x - cx[centre], y - cy[centre])
    edges = np.append(sigma * np.sqrt(-2.0 * np.log(1.0 - np.arange(10) / 10.0)), np.inf)
    counts = np.histogram(r, bins=edges)[0]
    assert _chi2(counts, n / 10) < _chi2_999(9)
    # 95 % of the devices lie within 2.448 sigma of some centre
    nearest = np.min(np.hypot(x[:, None] - cx[None, :], y[:, None] - cy[None, :]), axis=1)
    assert np.mean(nearest <= 2.448 * sigma) >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / n)
    # the public function is the same draw
    px, py = place_hotspots(np.random.default_rng(3), n, area, n_hot, sigma)
    assert np.array_equal(px, x) and np.array_equal(py, y)


def test_place_hotspots_truncated_to_the_area():
    x, y = place_hotspots(np.random.default_rng(4), 5_000, (0.0, 100.0, 0.0, 50.0), 2, 500.0)
    assert np.all((x >= 0) & (x <= 100) & (y >= 0) & (y <= 50))


def test_place_on_roads_uniform_per_unit_length():
    g = road_graph([[[0, 0], [10, 0], [30, 0], [70, 0], [150, 0], [310, 0]], [[310, 0], [310, 40]]])
    n = 60_000
    x, y, f, t = place_on_roads(np.random.default_rng(6), n, g)
    assert f.dtype == np.int32 and t.dtype == np.int32 and x.dtype == np.float64
    adjacent = [t[k] in g.adj[g.adj_ptr[f[k]]:g.adj_ptr[f[k] + 1]] for k in range(200)]
    assert all(adjacent)
    d = _segment_distance(x, y, g.node_x_m[f], g.node_y_m[f], g.node_x_m[t], g.node_y_m[t])
    assert np.max(d) < 1e-9
    # devices per segment proportional to length (lengths 10, 20, 40, 80, 160, 40)
    a, b = np.minimum(f, t), np.maximum(f, t)
    keys, counts = np.unique(a.astype(np.int64) * 1000 + b, return_counts=True)
    length = np.hypot(g.node_x_m[keys // 1000] - g.node_x_m[keys % 1000], g.node_y_m[keys // 1000] -
                      g.node_y_m[keys % 1000])
    assert keys.shape == (6,)
    assert _chi2(counts, n * length / length.sum()) < _chi2_999(5)
    # uniform along each segment: position fraction in 10 bins on the longest segment
    on_long = (a == keys[np.argmax(length)] // 1000) & (b == keys[np.argmax(length)] % 1000)
    frac = (x[on_long] - 150.0) / 160.0
    counts = np.histogram(frac, bins=10, range=(0, 1))[0]
    assert _chi2(counts, on_long.sum() / 10) < _chi2_999(9)
    # both directions equally likely
    assert abs(np.mean(f < t) - 0.5) < 3 * math.sqrt(0.25 / n)


# ---------------------------------------------------------------------------
# Random waypoint
# ---------------------------------------------------------------------------

A_RWP = 200.0  # side of the square, m
V_MIN, V_MAX = 1.0, 10.0


@pytest.fixture(scope="module")
def rwp_run():
    n, n_steps, dt = 500, 2000, 1.0
    area = (0.0, A_RWP, 0.0, A_RWP)
    x, y = place_uniform(np.random.default_rng(11), n, area)
    sim = Sim(np.full(n, MOB_WAYPOINT), x, y, area, v_min=V_MIN, v_max=V_MAX, seed=11)
    xs = np.empty((n_steps + 1, n))
    ys = np.empty((n_steps + 1, n))
    speed = np.empty((n_steps + 1, n))
    tx = np.empty((n_steps + 1, n))
    paused = np.empty((n_steps + 1, n), dtype=bool)
    xs[0], ys[0], speed[0], tx[0], paused[0] = x, y, sim.state.speed_mps, sim.state.target_x_m, False
    for k in range(n_steps):
        sim.step(k * dt, dt)
        s = sim.state
        xs[k + 1], ys[k + 1], speed[k + 1], tx[k + 1] = s.x_m, s.y_m, s.speed_mps, s.target_x_m
        paused[k + 1] = s.pause_until_s != -np.inf
    return dict(xs=xs, ys=ys, speed=speed, tx=tx, paused=paused, dt=dt)


def test_random_waypoint_stays_inside_and_respects_speed(rwp_run):
    xs, ys, speed, dt = rwp_run["xs"], rwp_run["ys"], rwp_run["speed"], rwp_run["dt"]
    assert np.all((xs >= 0) & (xs <= A_RWP) & (ys >= 0) & (ys <= A_RWP))
    step = np.hypot(np.diff(xs, axis=0), np.diff(ys, axis=0))
    assert np.all(step <= V_MAX * dt + 1e-9)
    # within a leg (same destination, never paused) a device covers exactly speed * dt
    same_leg = (rwp_run["tx"][1:] == rwp_run["tx"][:-1]) & ~rwp_run["paused"][1:] & ~rwp_run["paused"][:-1]
    assert same_leg.mean() > 0.9
    assert np.max(np.abs(step - speed[1:] * dt)[same_leg]) < 1e-9


def test_random_waypoint_stationary_speed_and_density(rwp_run):
    warm = 300  # steps dropped: the first legs have uniform (not 1/v-weighted) speeds and positions
    speed = rwp_run["speed"][warm:]
    expected = (V_MAX - V_MIN) / math.log(V_MAX / V_MIN)  # 3.909 m/s (Yoon et al. 2003), not (1 + 10) / 2
    per_device = speed.mean(axis=0)
    se = per_device.std(ddof=1) / math.sqrt(per_device.size)
    assert se < 0.01 * expected
    assert abs(per_device.mean() - expected) < 0.03 * expected

    xs, ys = rwp_run["xs"][warm:], rwp_run["ys"][warm:]
    centre = (np.abs(xs - A_RWP / 2) < A_RWP / 4) & (np.abs(ys - A_RWP / 2) < A_RWP / 4)
    per_device = centre.mean(axis=0)
    fraction = per_device.mean()
    se = per_device.std(ddof=1) / math.sqrt(per_device.size)
    exact = _rwp_centre_fraction(400_000)
    assert abs(exact - 0.4546) < 0.003
    assert fraction > 0.25
    assert abs(fraction - exact) < 4 * se + 0.002
    assert abs(fraction - 0.6875**2) < 0.03  # Bettstetter et al. (2003) approximation


def _rwp_centre_fraction(n_legs: int) -> float:
    """Stationary mass of the centre quarter of the unit square: E[length of leg inside] / E[length]."""
    rng = np.random.default_rng(0)
    p = rng.random((n_legs, 2))
    d = rng.random((n_legs, 2)) - p
    t0 = np.zeros(n_legs)
    t1 = np.ones(n_legs)
    for k in range(2):  # Liang-Barsky clipping to [1/4, 3/4]^2
        with np.errstate(divide="ignore", invalid="ignore"):
            ta = (0.25 - p[:, k]) / d[:, k]
            tb = (0.75 - p[:, k]) / d[:, k]
        t0 = np.maximum(t0, np.minimum(ta, tb))
        t1 = np.minimum(t1, np.maximum(ta, tb))
    length = np.hypot(d[:, 0], d[:, 1])
    return float(np.sum(np.clip(t1 - t0, 0.0, None) * length) / np.sum(length))


def test_random_waypoint_matches_reference_with_pauses_and_random_steps():
    area = (-100.0, 100.0, 0.0, 50.0)
    n = 12
    x, y = place_uniform(np.random.default_rng(8), n, area)
    pause = np.linspace(0.0, 20.0, n)
    sim = Sim(np.full(n, MOB_WAYPOINT), x, y, area, v_min=0.5, v_max=15.0, pause_s=pause, seed=8)
    dts = np.random.default_rng(9).uniform(0.05, 7.0, 600)
    xs, ys = sim.run(dts)
    times = np.cumsum(dts)
    for i in range(n):
        ref = _RwpRef(sim, i)
        for k in range(0, len(dts), 7):
            rx, ry = ref.position(times[k])
            assert abs(xs[k, i] - rx) < 1e-9 and abs(ys[k, i] - ry) < 1e-9
    # some devices are paused at the end (the pauses were exercised)
    assert np.any(sim.state.pause_until_s > times[-1])


# ---------------------------------------------------------------------------
# Road models
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [MOB_MANHATTAN, MOB_HIGHWAY])
def test_road_models_stay_on_roads_inside_area(kind):
    g, area = _irregular_network()
    sim = _road_sim(g, 300, area, kind, v_min=2.0, v_max=25.0, p_turn=0.4)
    dt = 0.9
    xs, ys = sim.run(np.full(1000, dt))
    assert np.all((xs >= 0) & (xs <= 600) & (ys >= 0) & (ys <= 600))
    x0 = np.concatenate([sim.start[0][None, :], xs])
    y0 = np.concatenate([sim.start[1][None, :], ys])
    assert np.all(np.hypot(np.diff(x0, axis=0), np.diff(y0, axis=0)) <= 25.0 * dt + 1e-9)
    # on the edge from_node -> to_node at the end, and near some road at every step
    s = sim.state
    d = _segment_distance(s.x_m, s.y_m, g.node_x_m[s.from_node], g.node_y_m[s.from_node], g.node_x_m[s.to_node],
                          g.node_y_m[s.to_node])
    assert np.max(d) < 1e-9
    a = np.repeat(np.arange(g.node_x_m.shape[0]), np.diff(g.adj_ptr))
    b = g.adj
    for k in range(0, 1000, 50):
        d = _segment_distance(xs[k][:, None], ys[k][:, None], g.node_x_m[a][None, :], g.node_y_m[a][None, :],
                              g.node_x_m[b][None, :], g.node_y_m[b][None, :])
        assert np.max(np.min(d, axis=1)) < 1e-6
    if kind == MOB_HIGHWAY:
        assert np.array_equal(s.speed_mps, sim.start[6])


@pytest.mark.parametrize("kind", [MOB_MANHATTAN, MOB_HIGHWAY])
def test_road_models_match_reference_with_random_steps(kind):
    g, area = _irregular_network()
    sim = _road_sim(g, 15, area, kind, seed=4, v_min=3.0, v_max=30.0, p_turn=0.3)
    dts = np.random.default_rng(10).uniform(0.01, 12.0, 300)  # up to ~3 edges per step
    xs, ys = sim.run(dts)
    times = np.cumsum(dts)
    for i in range(sim.n):
        ref = _RoadRef(sim, i)
        for k in range(len(dts)):
            rx, ry = ref.position(times[k])
            assert abs(xs[k, i] - rx) < 1e-9 and abs(ys[k, i] - ry) < 1e-9


def test_highway_returns_after_two_lengths():
    length, v = 1000.0, 7.0
    g = road_graph([[[0, 0], [300, 0], [700, 0], [1000, 0]]])  # degree-2 nodes inside
    area = (0.0, 1000.0, -1.0, 1.0)
    f, t = _node_at(g, 300, 0), _node_at(g, 700, 0)
    sim = Sim([MOB_HIGHWAY], [423.4], [0.0], area, g, [f], [t], v_min=v, v_max=v)
    period = 2.0 * length / v
    dts = [0.37] * int(period / 0.37)
    dts.append(period - sum(dts))
    sim.run(dts)
    assert abs(sim.state.x_m[0] - 423.4) < 1e-9 and sim.state.y_m[0] == 0.0
    assert sim.state.from_node[0] == f and sim.state.to_node[0] == t


@pytest.mark.parametrize("kind", [MOB_WAYPOINT, MOB_MANHATTAN, MOB_HIGHWAY])
def test_two_steps_equal_one_double_step(kind):
    g = road_graph(grid_roads((0.0, 500.0, 0.0, 400.0), 50.0))
    area = (0.0, 500.0, 0.0, 400.0)

    def make():
        if kind == MOB_WAYPOINT:
            x, y = place_uniform(np.random.default_rng(1), 200, area)
            return Sim(np.full(200, kind), x, y, area, pause_s=3.0)
        return _road_sim(g, 200, area, kind)

    fine, coarse = make(), make()
    xs_f, ys_f = fine.run(np.full(600, 0.7))
    xs_c, ys_c = coarse.run(np.full(300, 1.4))
    assert np.max(np.abs(xs_f[1::2] - xs_c)) < 1e-9 and np.max(np.abs(ys_f[1::2] - ys_c)) < 1e-9
    assert np.array_equal(fine.state.to_node, coarse.state.to_node)


def test_manhattan_turn_fractions_on_grid():
    """Degree-4 crossings: straight 1 - p_turn, left = right; T junctions from the stem: 50/50."""
    area = (0.0, 1000.0, 0.0, 1000.0)
    g = road_graph(grid_roads(area, 50.0))
    p_turn = 0.3
    sim = _road_sim(g, 400, area, MOB_MANHATTAN, v_min=1.0, v_max=10.0, p_turn=p_turn)
    deg = _degrees(g)
    n_straight = n_left = n_right = n_stem = n_stem_left = 0
    prev_f = sim.state.from_node.copy()
    for k in range(2500):  # <= 10 m per step: at most one crossing (50 m apart)
        sim.step(k * 1.0, 1.0)
        f, t = sim.state.from_node, sim.state.to_node
        changed = np.flatnonzero(f != prev_f)
        a, b, c = prev_f[changed], f[changed], t[changed]
        ux, uy = g.node_x_m[b] - g.node_x_m[a], g.node_y_m[b] - g.node_y_m[a]
        wx, wy = g.node_x_m[c] - g.node_x_m[b], g.node_y_m[c] - g.node_y_m[b]
        cross, dot = ux * wy - uy * wx, ux * wx + uy * wy
        four = deg[b] == 4
        n_straight += np.sum(four & (dot > 0))
        n_left += np.sum(four & (cross > 0))
        n_right += np.sum(four & (cross < 0))
        assert not np.any(four & (dot < 0) & (cross == 0))  # never a U-turn at a crossing
        # T junction (grid border) entered from its stem: the way in is perpendicular to the border
        border = deg[b] == 3
        stem = border & ~_along_border(g, a, b, area)
        n_stem += np.sum(stem)
        n_stem_left += np.sum(stem & (cross > 0))
        prev_f = f.copy()
    n = n_straight + n_left + n_right
    assert n > 20_000
    p = 1.0 - p_turn
    assert abs(n_straight / n - p) < 3 * math.sqrt(p * (1 - p) / n)
    assert abs(n_left / (n_left + n_right) - 0.5) < 3 * math.sqrt(0.25 / (n_left + n_right))
    assert n_stem > 500
    assert abs(n_stem_left / n_stem - 0.5) < 3 * math.sqrt(0.25 / n_stem)


def _along_border(g, a, b, area):
    x_min, x_max, y_min, y_max = area
    xa, ya, xb, yb = g.node_x_m[a], g.node_y_m[a], g.node_x_m[b], g.node_y_m[b]
    on_x = ((xa == x_min) & (xb == x_min)) | ((xa == x_max) & (xb == x_max))
    on_y = ((ya == y_min) & (yb == y_min)) | ((ya == y_max) & (yb == y_max))
    return on_x | on_y


# ---------------------------------------------------------------------------
# All models
# ---------------------------------------------------------------------------


def test_mixed_models_static_never_moves_and_same_seed_same_trajectory():
    area = (0.0, 500.0, 0.0, 400.0)
    g = road_graph(grid_roads(area, 100.0))
    rng = np.random.default_rng(12)
    n = 120
    kind = np.array([MOB_STATIC, MOB_WAYPOINT, MOB_MANHATTAN, MOB_HIGHWAY] * (n // 4), dtype=np.int8)
    x, y = place_uniform(rng, n, area)
    rx, ry, f, t = place_on_roads(rng, n, g)
    road = (kind == MOB_MANHATTAN) | (kind == MOB_HIGHWAY)
    x[road], y[road] = rx[road], ry[road]

    def run():
        sim = Sim(kind, x, y, area, g, f, t, v_min=0.5, v_max=12.0, pause_s=2.0, seed=12)
        return sim, *sim.run(np.full(400, 0.5))

    sim, xs, ys = run()
    _, xs2, ys2 = run()
    assert np.array_equal(xs, xs2) and np.array_equal(ys, ys2)
    static = kind == MOB_STATIC
    assert np.all(xs[:, static] == x[static]) and np.all(ys[:, static] == y[static])
    assert np.all(sim.state.speed_mps[static] == 0.0) and np.all(sim.state.from_node[static] == -1)
    moved = np.hypot(xs[-1] - x, ys[-1] - y)
    assert np.all(moved[~static] > 0.0)
    steps = np.hypot(np.diff(xs, axis=0), np.diff(ys, axis=0))
    assert np.all(steps <= 12.0 * 0.5 + 1e-9)
    # moving only a subset leaves the others untouched
    before = sim.state.x_m.copy()
    sim.step(200.0, 0.5, np.array([1, 2], dtype=np.int32))
    others = np.ones(n, dtype=bool)
    others[[1, 2]] = False
    assert np.array_equal(sim.state.x_m[others], before[others])


# ---------------------------------------------------------------------------
# Bad inputs: one-line ValueErrors naming the parameter
# ---------------------------------------------------------------------------

_AREA = (0.0, 100.0, 0.0, 100.0)
_ROADS = road_graph([[[10.0, 10.0], [90.0, 10.0]]])


def _init(kind=MOB_WAYPOINT, x=50.0, y=50.0, f=None, t=None, v_min=1.0, v_max=2.0, area=_AREA, graph=EMPTY, **kw):
    return initial_state(np.array([kind], dtype=np.int8), [x], [y], f, t, v_min, v_max, area, graph,
                         np.random.default_rng(0), **kw)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: place_uniform(np.random.default_rng(0), 3, (0.0, 0.0, 0.0, 1.0)), "area: x_max must be > x_min"),
    (lambda: place_uniform(np.random.default_rng(0), 3, (0.0, 1.0, 5.0, 1.0)), "area: y_max must be > y_min"),
    (lambda: place_uniform(np.random.default_rng(0), -1, _AREA), "n: must be an integer >= 0"),
    (lambda: place_hotspots(np.random.default_rng(0), 3, _AREA, 0, 1.0), "n_hotspots: must be >= 1"),
    (lambda: place_hotspots(np.random.default_rng(0), 3, _AREA, 2, 0.0), "sigma_m: must be > 0"),
    (lambda: place_on_roads(np.random.default_rng(0), 3, EMPTY), "graph: has no roads"),
    (lambda: road_graph([np.zeros((3, 3))]), "polylines[0]: must be an array of shape"),
    (lambda: _init(area=(0.0, 1.0, 0.0, -1.0)), "area: y_max must be > y_min"),
    (lambda: _init(v_min=3.0, v_max=2.0), "speed_max_mps: must be >= speed_min_mps, got 2.0 (device 0)"),
    (lambda: _init(v_min=0.0), "speed_min_mps: must be > 0 for random_waypoint, got 0.0 (device 0)"),
    (lambda: _init(MOB_MANHATTAN, v_min=0.0, graph=_ROADS, x=20.0, y=10.0, f=[0], t=[1]),
     "speed_min_mps: must be > 0 for manhattan"),
    (lambda: _init(MOB_HIGHWAY, v_min=-1.0, graph=_ROADS, x=20.0, y=10.0, f=[0], t=[1]), "speed_min_mps: must be >= 0"),
    (lambda: _init(MOB_MANHATTAN), "graph: manhattan needs a road graph with at least one road"),
    (lambda: _init(MOB_HIGHWAY, graph=_ROADS), "from_node: road models need from_node and to_node"),
    (lambda: _init(MOB_HIGHWAY, graph=_ROADS, x=20.0, y=11.0, f=[0], t=[1]), "x: must lie on the road"),
    (lambda: _init(MOB_HIGHWAY, graph=_ROADS, x=20.0, y=10.0, f=[0], t=[0]), "to_node: must be joined to from_node"),
    (lambda: _init(MOB_HIGHWAY, graph=_ROADS, x=20.0, y=10.0, f=[0], t=[5]), "to_node: must be a node index"),
    (lambda: _init(MOB_HIGHWAY, area=(0.0, 50.0, 0.0, 50.0), graph=_ROADS, x=20.0, y=10.0, f=[0], t=[1]),
     "graph: road node 1 at (90.0, 10.0) is outside the area"),
    (lambda: _init(x=150.0), "x: must be inside the area"),
    (lambda: _init(kind=9), "kind: must be a MOB_* code"),
    (lambda: _init(pause_s=-1.0), "pause_s: must be >= 0"),
    (lambda: _init(MOB_MANHATTAN, graph=_ROADS, x=20.0, y=10.0, f=[0], t=[1], p_turn=1.5), "p_turn: must be in [0, 1]"),
])
def test_bad_inputs_raise_one_line_errors(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)


def test_models_table_and_valid_edge_cases():
    assert MODELS == {"static": 0, "random_waypoint": 1, "manhattan": 2, "highway": 3}
    # static devices need no speeds or roads; v_min == v_max is a constant speed; highway may park (v = 0)
    st = _init(MOB_STATIC, v_min=0.0, v_max=0.0, x=-500.0)  # a static device may sit outside the area
    assert st.speed_mps[0] == 0.0 and st.pause_until_s[0] == -np.inf and st.from_node.dtype == np.int32
    st = _init(v_min=2.0, v_max=2.0)
    assert st.speed_mps[0] == 2.0 and 0.0 <= st.target_x_m[0] <= 100.0
    st = _init(MOB_HIGHWAY, v_min=0.0, v_max=0.0, graph=_ROADS, x=20.0, y=10.0, f=[0], t=[1])
    assert st.target_x_m[0] == 90.0 and st.speed_mps[0] == 0.0
