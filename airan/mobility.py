"""Device placement and mobility: build-time placement, and a kernel that moves devices.

Positions are in metres inside a rectangular area ``(x_min, x_max, y_min, y_max)``;
no model ever takes a device out of it. Road models move devices along a road graph
built from polylines by :func:`road_graph`.

One way through:

    placement (numpy Generator -> x, y)  ->  initial_state (numpy: first legs and speeds)
    ->  move (@njit, once per mobility step, from inside the event loop, in place)

Models (``kind`` codes, int8 per device)
    ``MOB_STATIC``
        The device never moves.
    ``MOB_WAYPOINT`` (random waypoint)
        Go in a straight line to a destination drawn uniformly in the area, at a speed
        drawn uniformly in ``[v_min, v_max]``; pause ``pause_s`` there; repeat.
    ``MOB_MANHATTAN``
        Drive along road-graph edges, a new speed uniform in ``[v_min, v_max]`` on each
        edge. At a junction (degree >= 3) go straight with probability ``1 - p_turn``,
        else turn into one of the other roads, uniformly; follow the road at a degree-2
        node; U-turn at a dead end.
    ``MOB_HIGHWAY``
        Like Manhattan, but always the straightest continuation and one speed per
        device for the whole run; U-turn at the ends of the road.

Motion is exact and piecewise within a step: a step may contain an arrival, a pause
end and part of a new leg (or several edges). Random draws happen only at the start
of a leg or edge, from the device's own stream, in the same order whatever the step
size, so splitting a run into different steps changes positions only by rounding.

Performance note
    :func:`move` reads a device's position, target and speed and, when the step
    reaches no waypoint or node (the common case), writes back only ``x`` and ``y``;
    arrivals take the slower general path (a loop over the legs or edges in the step).
    Pass the arrays with the dtypes listed in :func:`move` and C-contiguous: another
    dtype or layout (e.g. int64 ``devices``) compiles another specialisation.

References
----------
J. Broch, D. A. Maltz, D. B. Johnson, Y.-C. Hu and J. Jetcheva, "A performance
comparison of multi-hop wireless ad hoc network routing protocols", Proc. ACM
MobiCom 1998 (random waypoint).
T. Camp, J. Boleng and V. Davies, "A survey of mobility models for ad hoc network
research", Wireless Communications and Mobile Computing 2(5), 2002.
J. Yoon, M. Liu and B. Noble, "Random waypoint considered harmful", Proc. IEEE
INFOCOM 2003 (speed decay with ``v_min = 0``; stationary mean speed).
C. Bettstetter, G. Resta and P. Santi, "The node distribution of the random waypoint
mobility model for wireless ad hoc networks", IEEE Trans. Mobile Computing 2(3), 2003.
W. Navidi and T. Camp, "Stationary distributions for the random waypoint mobility
model", IEEE Trans. Mobile Computing 3(1), 2004.
ETSI TR 101 112 V3.2.0 (UMTS 30.03), "Selection procedures for the choice of radio
transmission technologies of the UMTS", 1998, Annex B (Manhattan street mobility).
F. Bai, N. Sadagopan and A. Helmy, "IMPORTANT: a framework to systematically analyze
the impact of mobility on performance of routing protocols for ad hoc networks",
Proc. IEEE INFOCOM 2003 (Manhattan and Freeway models).
M. Thomas, "A generalization of Poisson's binomial limit for use in ecology",
Biometrika 36(1/2), 1949; M. Haenggi, "Stochastic Geometry for Wireless Networks",
Cambridge University Press, 2012, Ch. 3 (cluster processes).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from ._rng import uniform

# ---------------------------------------------------------------------------
# Codes (int constants: Numba freezes them at compile time)
# ---------------------------------------------------------------------------

MOB_STATIC = 0
MOB_WAYPOINT = 1
MOB_MANHATTAN = 2
MOB_HIGHWAY = 3
MODELS = {"static": MOB_STATIC, "random_waypoint": MOB_WAYPOINT, "manhattan": MOB_MANHATTAN, "highway": MOB_HIGHWAY}
_NAMES = {code: name for name, code in MODELS.items()}

#: Points closer than this are one road node; a node this close to a segment splits it.
JOIN_TOL_M = 1e-6

#: A continuation counts as "straight" (Manhattan) if it turns by less than 45 degrees.
_STRAIGHT_COS = math.cos(math.pi / 4.0)


class RoadGraph(NamedTuple):
    """An undirected road graph in CSR form (each road appears in both directions)."""

    node_x_m: np.ndarray  # float64[n_nodes], node positions, m
    node_y_m: np.ndarray  # float64[n_nodes]
    adj_ptr: np.ndarray  # int32[n_nodes + 1], row pointers: neighbours of i are adj[adj_ptr[i]:adj_ptr[i + 1]]
    adj: np.ndarray  # int32[n_adj], neighbour node indices, sorted within each row


class MobilityState(NamedTuple):
    """Per-device mobility state; the event loop keeps and checkpoints these arrays."""

    x_m: np.ndarray  # float64[n_devices], position, m
    y_m: np.ndarray  # float64[n_devices]
    target_x_m: np.ndarray  # float64[n_devices], waypoint destination, or position of to_node
    target_y_m: np.ndarray  # float64[n_devices]
    from_node: np.ndarray  # int32[n_devices], road models: node the device left (-1 otherwise)
    to_node: np.ndarray  # int32[n_devices], road models: node the device is heading to (-1 otherwise)
    speed_mps: np.ndarray  # float64[n_devices], current speed (static: 0)
    pause_until_s: np.ndarray  # float64[n_devices], random waypoint: end of the pause (-inf: moving)


# ---------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------


def _area(area) -> tuple[float, float, float, float]:
    """``area`` as four finite floats with a non-empty interior, or a one-line ValueError."""
    a = np.asarray(area, dtype=np.float64)
    if a.shape != (4,) or not np.all(np.isfinite(a)):
        raise ValueError(f"area: must be 4 finite numbers (x_min, x_max, y_min, y_max), got {area!r}")
    x_min, x_max, y_min, y_max = (float(v) for v in a)
    if not x_max > x_min:
        raise ValueError(f"area: x_max must be > x_min, got x_min={x_min}, x_max={x_max}")
    if not y_max > y_min:
        raise ValueError(f"area: y_max must be > y_min, got y_min={y_min}, y_max={y_max}")
    return x_min, x_max, y_min, y_max


def _count(name: str, n) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"{name}: must be an integer >= 0, got {n!r}")
    return int(n)


def _per_device(name: str, value, n: int, dtype) -> np.ndarray:
    """``value`` (scalar or array) broadcast to a fresh ``dtype[n]`` array."""
    a = np.asarray(value)
    if a.ndim > 1 or (a.ndim == 1 and a.shape[0] != n):
        raise ValueError(f"{name}: must be a scalar or have one entry per device ({n}), got shape {a.shape}")
    if dtype is np.float64 and not np.all(np.isfinite(a.astype(np.float64))):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    return np.broadcast_to(a, (n,)).astype(dtype)


def _first_bad(name: str, bad: np.ndarray, values: np.ndarray, rule: str) -> None:
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: {rule}, got {values[i].item()!r} (device {i})")


# ---------------------------------------------------------------------------
# Road graph
# ---------------------------------------------------------------------------


def _merge_points(px: np.ndarray, py: np.ndarray, tol: float) -> np.ndarray:
    """Cluster label of each point: points within ``tol`` (and chains of them) share one."""
    n = px.shape[0]
    parent = np.arange(n)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    cells: dict[tuple[int, int], list[int]] = {}
    cx = np.floor(px / tol).astype(np.int64)
    cy = np.floor(py / tol).astype(np.int64)
    tol2 = tol * tol
    for i in range(n):
        key = (int(cx[i]), int(cy[i]))
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for j in cells.get((key[0] + dx, key[1] + dy), ()):
                    if (px[i] - px[j]) ** 2 + (py[i] - py[j]) ** 2 <= tol2:
                        ri, rj = find(i), find(j)
                        if ri != rj:
                            parent[max(ri, rj)] = min(ri, rj)
        cells.setdefault(key, []).append(i)
    return np.array([find(i) for i in range(n)], dtype=np.int64)


def _split_at_nodes(a: np.ndarray, b: np.ndarray, nx: np.ndarray, ny: np.ndarray, tol: float):
    """Split each segment (a[s], b[s]) at every other node lying on it (within ``tol``)."""
    order = np.argsort(nx, kind="stable")
    sx = nx[order]
    out_a: list[int] = []
    out_b: list[int] = []
    for s in range(a.shape[0]):
        ia, ib = int(a[s]), int(b[s])
        ax, ay, bx, by = nx[ia], ny[ia], nx[ib], ny[ib]
        lo = np.searchsorted(sx, min(ax, bx) - tol, side="left")
        hi = np.searchsorted(sx, max(ax, bx) + tol, side="right")
        cand = order[lo:hi]
        cand = cand[(ny[cand] >= min(ay, by) - tol) & (ny[cand] <= max(ay, by) + tol)]
        cand = cand[(cand != ia) & (cand != ib)]
        if cand.size:
            dx, dy = bx - ax, by - ay
            length2 = dx * dx + dy * dy
            t = ((nx[cand] - ax) * dx + (ny[cand] - ay) * dy) / length2
            ex = ax + t * dx - nx[cand]
            ey = ay + t * dy - ny[cand]
            on = (t > 0.0) & (t < 1.0) & (ex * ex + ey * ey <= tol * tol)
            if np.any(on):
                inner = cand[on][np.argsort(t[on], kind="stable")]
                chain = [ia, *(int(k) for k in inner), ib]
                out_a.extend(chain[:-1])
                out_b.extend(chain[1:])
                continue
        out_a.append(ia)
        out_b.append(ib)
    return np.array(out_a, dtype=np.int64), np.array(out_b, dtype=np.int64)


def road_graph(polylines) -> RoadGraph:
    """Build the road graph of a list of polylines.

    Parameters
    ----------
    polylines : sequence of array_like float64[k, 2]
        Roads as vertex lists, points in m. Roads are bidirectional.

    Returns
    -------
    RoadGraph
        Nodes are the distinct vertices; edges the segments between consecutive
        vertices. An empty list gives an empty graph (0 nodes, ``adj_ptr = [0]``).

    Notes
    -----
    How roads join:

    - Vertices closer than ``JOIN_TOL_M`` (1e-6 m) are one node (transitively: a chain
      of close points is one node, placed at the first of them), so polylines that
      share a point are connected there.
    - A vertex lying on the inside of another polyline's segment (within 1e-6 m) splits
      that segment there, so a road ending on another (a T junction) is connected.
    - Two segments that merely cross, with no vertex at the crossing, are *not*
      connected (a bridge, as in OpenStreetMap). Give both polylines a vertex at the
      crossing to make it a junction; :func:`grid_roads` does this for a street grid.
    - Zero-length segments are dropped, repeated segments kept once, nodes with no
      road removed.
    """
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    seg_a: list[np.ndarray] = []
    offset = 0
    for k, line in enumerate(polylines):
        p = np.asarray(line, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] < 1:
            raise ValueError(f"polylines[{k}]: must be an array of shape [k >= 1, 2], got shape {p.shape}")
        if not np.all(np.isfinite(p)):
            raise ValueError(f"polylines[{k}]: coordinates must be finite")
        xs.append(p[:, 0])
        ys.append(p[:, 1])
        seg_a.append(offset + np.arange(p.shape[0] - 1))
        offset += p.shape[0]
    if offset == 0:
        return _empty_graph()
    px = np.concatenate(xs)
    py = np.concatenate(ys)
    label = _merge_points(px, py, JOIN_TOL_M)
    rep, node_of_point = np.unique(label, return_inverse=True)  # node id per point, nodes at first point
    nx = px[rep]
    ny = py[rep]
    first = np.concatenate(seg_a).astype(np.int64)
    a = node_of_point[first]
    b = node_of_point[first + 1]
    keep = a != b
    a, b = _split_at_nodes(a[keep], b[keep], nx, ny, JOIN_TOL_M)
    if a.size == 0:
        return _empty_graph()
    edges = np.unique(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1), axis=0)
    used, edges_new = np.unique(edges, return_inverse=True)  # drop nodes without roads
    edges_new = edges_new.reshape(edges.shape)
    n_nodes = used.shape[0]
    src = np.concatenate([edges_new[:, 0], edges_new[:, 1]])
    dst = np.concatenate([edges_new[:, 1], edges_new[:, 0]])
    order = np.lexsort((dst, src))
    # int32[n_nodes + 1]: CSR row pointers
    adj_ptr = np.zeros(n_nodes + 1, dtype=np.int32)
    adj_ptr[1:] = np.cumsum(np.bincount(src, minlength=n_nodes))
    return RoadGraph(
        node_x_m=np.ascontiguousarray(nx[used], dtype=np.float64),
        node_y_m=np.ascontiguousarray(ny[used], dtype=np.float64),
        adj_ptr=adj_ptr,
        adj=np.ascontiguousarray(dst[order], dtype=np.int32),
    )


def _empty_graph() -> RoadGraph:
    return RoadGraph(np.zeros(0, np.float64), np.zeros(0, np.float64), np.zeros(1, np.int32), np.zeros(0, np.int32))


def grid_roads(area, block_m: float) -> list[np.ndarray]:
    """A Manhattan street grid over ``area`` as polylines, with a vertex at every crossing.

    Streets run along ``x_min + i block_m`` and ``y_min + j block_m`` while inside the
    area (the far edge is a street too when ``block_m`` divides the width exactly).
    """
    x_min, x_max, y_min, y_max = _area(area)
    if not (np.isfinite(block_m) and block_m > 0):
        raise ValueError(f"block_m: must be > 0, got {block_m!r}")
    gx = x_min + block_m * np.arange(int(np.floor((x_max - x_min) / block_m + 1e-9)) + 1)
    gy = y_min + block_m * np.arange(int(np.floor((y_max - y_min) / block_m + 1e-9)) + 1)
    gx = np.minimum(gx, x_max)
    gy = np.minimum(gy, y_max)
    lines = [np.stack([gx, np.full_like(gx, y)], axis=1) for y in gy] if gx.size > 1 else []
    if gy.size > 1:
        lines += [np.stack([np.full_like(gy, x), gy], axis=1) for x in gx]
    return lines


def _edges(graph: RoadGraph) -> tuple[np.ndarray, np.ndarray]:
    """Each undirected edge once, as (a, b) with a < b."""
    n_nodes = graph.node_x_m.shape[0]
    src = np.repeat(np.arange(n_nodes), np.diff(graph.adj_ptr))
    dst = graph.adj.astype(np.int64)
    once = src < dst
    return src[once], dst[once]


# ---------------------------------------------------------------------------
# Placement (build time)
# ---------------------------------------------------------------------------


def place_uniform(rng: np.random.Generator, n: int, area) -> tuple[np.ndarray, np.ndarray]:
    """``n`` devices uniform in the area (binomial point process).

    Returns
    -------
    x, y : float64[n], m
    """
    x_min, x_max, y_min, y_max = _area(area)
    n = _count("n", n)
    x = x_min + (x_max - x_min) * rng.random(n)
    y = y_min + (y_max - y_min) * rng.random(n)
    return x, y


def _thomas(rng, n, area, n_hotspots, sigma_m):
    """:func:`place_hotspots`, also returning the centres and each device's centre."""
    x_min, x_max, y_min, y_max = _area(area)
    n = _count("n", n)
    n_hotspots = _count("n_hotspots", n_hotspots)
    if n_hotspots < 1:
        raise ValueError(f"n_hotspots: must be >= 1, got {n_hotspots}")
    if not (np.isfinite(sigma_m) and sigma_m > 0):
        raise ValueError(f"sigma_m: must be > 0, got {sigma_m!r}")
    # float64[n_hotspots]: centres, m
    cx = x_min + (x_max - x_min) * rng.random(n_hotspots)
    cy = y_min + (y_max - y_min) * rng.random(n_hotspots)
    # int64[n]: each device's centre
    centre = rng.integers(0, n_hotspots, size=n)
    x = np.empty(n)
    y = np.empty(n)
    todo = np.arange(n)
    while todo.size:  # redraw the offsets of devices that fell outside (each centre is inside: >= 1/4 accepted)
        ox = cx[centre[todo]] + sigma_m * rng.standard_normal(todo.size)
        oy = cy[centre[todo]] + sigma_m * rng.standard_normal(todo.size)
        inside = (ox >= x_min) & (ox <= x_max) & (oy >= y_min) & (oy <= y_max)
        x[todo[inside]] = ox[inside]
        y[todo[inside]] = oy[inside]
        todo = todo[~inside]
    return x, y, cx, cy, centre


def place_hotspots(rng: np.random.Generator, n: int, area, n_hotspots: int, sigma_m: float):
    """``n`` devices clustered around ``n_hotspots`` hotspots (a Thomas cluster process).

    A Thomas process (Thomas 1949; Haenggi 2012, Ch. 3) places parent points (the
    hotspot centres) uniformly and each daughter (device) at its parent plus an
    isotropic Gaussian offset with standard deviation ``sigma_m`` per coordinate, so a
    device's distance to its centre is Rayleigh: ``P(R <= r) = 1 - exp(-r^2 / (2 sigma^2))``.
    Here the numbers are fixed rather than Poisson: ``n_hotspots`` centres uniform in
    the area, each device attached to a centre chosen uniformly, and a device falling
    outside the area gets a new offset around the same centre until it is inside
    (the Gaussian truncated to the area), so hotspots near the edge stay dense.

    Returns
    -------
    x, y : float64[n], m
    """
    x, y, _, _, _ = _thomas(rng, n, area, n_hotspots, sigma_m)
    return x, y


def place_on_roads(rng: np.random.Generator, n: int, graph: RoadGraph):
    """``n`` devices uniform over the total road length, each with a random direction.

    A segment is drawn with probability proportional to its length, the position
    uniformly along it, and the direction of travel (which end is ``to_node``) by a
    fair coin.

    Returns
    -------
    x, y : float64[n], m
    from_node, to_node : int32[n], the road segment and direction of travel
    """
    n = _count("n", n)
    a, b = _edges(graph)
    if a.size == 0:
        raise ValueError("graph: has no roads (build it with road_graph from at least one polyline of >= 2 points)")
    nx, ny = graph.node_x_m, graph.node_y_m
    length = np.hypot(nx[b] - nx[a], ny[b] - ny[a])
    cum = np.cumsum(length)
    seg = np.minimum(np.searchsorted(cum, cum[-1] * rng.random(n), side="right"), a.size - 1)
    t = rng.random(n)
    flip = rng.random(n) < 0.5
    f = np.where(flip, b[seg], a[seg]).astype(np.int32)
    to = np.where(flip, a[seg], b[seg]).astype(np.int32)
    x = nx[a[seg]] + t * (nx[b[seg]] - nx[a[seg]])
    y = ny[a[seg]] + t * (ny[b[seg]] - ny[a[seg]])
    return x, y, f, to


# ---------------------------------------------------------------------------
# Initial state (build time)
# ---------------------------------------------------------------------------


def initial_state(kind, x, y, from_node, to_node, speed_min_mps, speed_max_mps, area, graph: RoadGraph,
                  rng: np.random.Generator, *, pause_s=0.0, p_turn=0.5) -> MobilityState:
    """Validate the mobility inputs and draw each device's first leg and speed.

    Parameters
    ----------
    kind : int8[n_devices]
        ``MOB_*`` code per device.
    x, y : float64[n_devices], m
        Start positions, inside ``area`` for moving devices (static ones may be
        anywhere); for road models on the road from ``from_node`` to ``to_node``
        (as :func:`place_on_roads` returns them).
    from_node, to_node : int[n_devices] or None
        Road models: the segment and direction of travel; ignored (set to -1) for
        the others. ``None``: no device uses roads.
    speed_min_mps, speed_max_mps : float or float64[n_devices], m/s
        ``0 <= v_min <= v_max``; ``v_min > 0`` for random waypoint and Manhattan (with
        ``v_min = 0`` the time-average speed decays to zero, Yoon et al. 2003).
    area : (x_min, x_max, y_min, y_max), m
    graph : RoadGraph
        Needed (non-empty, inside the area) when a device uses a road model.
    rng : numpy.random.Generator
        For the first waypoints and speeds.
    pause_s, p_turn : float or float64[n_devices]
        Only checked here (``pause_s >= 0``, ``0 <= p_turn <= 1``); pass the same
        values to :func:`move`.

    Returns
    -------
    MobilityState
        Random waypoint devices head for a uniform destination at a uniform speed,
        not paused. This is not the stationary regime (Navidi and Camp 2004): the
        spatial density and the mean speed converge within a few legs, so leave a
        warm-up of a few mean leg times, ``E[L] E[1 / V]`` with ``E[L] = 0.5214 a``
        for a square of side ``a`` and ``E[1 / V] = ln(v_max / v_min) / (v_max - v_min)``.
        Manhattan devices get a uniform speed for their first edge, highway devices
        their constant speed. Static devices: target = position, speed 0.
    """
    x_min, x_max, y_min, y_max = _area(area)
    kind = np.asarray(kind)
    if kind.ndim != 1 or not np.issubdtype(kind.dtype, np.integer):
        raise ValueError(f"kind: must be a 1-D integer array of MOB_* codes, got {kind.dtype} shape {kind.shape}")
    n = kind.shape[0]
    codes = ", ".join(f"{name} {code}" for name, code in MODELS.items())
    _first_bad("kind", ~np.isin(kind, list(_NAMES)), kind, f"must be a MOB_* code ({codes})")
    kind = kind.astype(np.int8)
    x = _per_device("x", x, n, np.float64)
    y = _per_device("y", y, n, np.float64)
    v_min = _per_device("speed_min_mps", speed_min_mps, n, np.float64)
    v_max = _per_device("speed_max_mps", speed_max_mps, n, np.float64)
    pause = _per_device("pause_s", pause_s, n, np.float64)
    turn = _per_device("p_turn", p_turn, n, np.float64)
    moving = kind != MOB_STATIC
    _first_bad("x", moving & ((x < x_min) | (x > x_max)), x, f"must be inside the area [{x_min}, {x_max}]")
    _first_bad("y", moving & ((y < y_min) | (y > y_max)), y, f"must be inside the area [{y_min}, {y_max}]")
    _first_bad("speed_min_mps", moving & (v_min < 0.0), v_min, "must be >= 0")
    for code in (MOB_WAYPOINT, MOB_MANHATTAN):
        _first_bad("speed_min_mps", (kind == code) & ~(v_min > 0.0), v_min, f"must be > 0 for {_NAMES[code]}")
    _first_bad("speed_max_mps", moving & (v_max < v_min), v_max, "must be >= speed_min_mps")
    _first_bad("pause_s", (kind == MOB_WAYPOINT) & (pause < 0.0), pause, "must be >= 0")
    _first_bad("p_turn", (kind == MOB_MANHATTAN) & ((turn < 0.0) | (turn > 1.0)), turn, "must be in [0, 1]")

    # float64[n_devices] / int32[n_devices]: the state, static defaults
    tx = x.copy()
    ty = y.copy()
    fn = np.full(n, -1, dtype=np.int32)
    tn = np.full(n, -1, dtype=np.int32)
    speed = np.zeros(n)
    pause_until = np.full(n, -np.inf)

    road = (kind == MOB_MANHATTAN) | (kind == MOB_HIGHWAY)
    if np.any(road):
        fa, ta = _check_on_roads(kind, road, x, y, from_node, to_node, graph, (x_min, x_max, y_min, y_max))
        fn[road] = fa[road]
        tn[road] = ta[road]
        tx[road] = graph.node_x_m[tn[road]]
        ty[road] = graph.node_y_m[tn[road]]
    # float64[n_devices, 3]: first draws (destination x, destination y, speed), used by moving devices
    u = rng.random((n, 3))
    wp = kind == MOB_WAYPOINT
    tx[wp] = x_min + (x_max - x_min) * u[wp, 0]
    ty[wp] = y_min + (y_max - y_min) * u[wp, 1]
    speed[moving] = v_min[moving] + (v_max[moving] - v_min[moving]) * u[moving, 2]
    return MobilityState(x, y, tx, ty, fn, tn, speed, pause_until)


def _check_on_roads(kind, road, x, y, from_node, to_node, graph: RoadGraph, area):
    """Check that road devices sit on a road of a non-empty graph inside the area; their nodes as int32."""
    first = int(np.flatnonzero(road)[0])
    if graph is None or graph.adj.shape[0] == 0:
        raise ValueError(f"graph: {_NAMES[int(kind[first])]} needs a road graph with at least one road, got none "
                         f"(device {first})")
    x_min, x_max, y_min, y_max = area
    nx, ny = graph.node_x_m, graph.node_y_m
    outside = (nx < x_min) | (nx > x_max) | (ny < y_min) | (ny > y_max)
    if np.any(outside):
        k = int(np.flatnonzero(outside)[0])
        raise ValueError(f"graph: road node {k} at ({nx[k]}, {ny[k]}) is outside the area {area}")
    if from_node is None or to_node is None:
        raise ValueError("from_node: road models need from_node and to_node (from place_on_roads), got None")
    n_nodes = nx.shape[0]
    n = kind.shape[0]
    fa = _per_device("from_node", from_node, n, np.int64)
    ta = _per_device("to_node", to_node, n, np.int64)
    _first_bad("from_node", road & ((fa < 0) | (fa >= n_nodes)), fa, f"must be a node index in [0, {n_nodes})")
    _first_bad("to_node", road & ((ta < 0) | (ta >= n_nodes)), ta, f"must be a node index in [0, {n_nodes})")
    src, dst = _edges(graph)
    key = np.concatenate([src * n_nodes + dst, dst * n_nodes + src])
    is_edge = np.isin(np.where(road, fa, 0) * n_nodes + np.where(road, ta, 0), key)
    _first_bad("to_node", road & ~is_edge, ta, "must be joined to from_node by a road")
    fr = np.where(road, fa, 0)
    to = np.where(road, ta, 0)
    ax, ay = nx[fr], ny[fr]
    dx, dy = nx[to] - ax, ny[to] - ay
    length2 = np.where(road, dx * dx + dy * dy, 1.0)
    t = np.clip(((x - ax) * dx + (y - ay) * dy) / length2, 0.0, 1.0)
    dist = np.hypot(ax + t * dx - x, ay + t * dy - y)
    _first_bad("x", road & (dist > JOIN_TOL_M), dist,
               "must lie on the road from from_node to to_node for road models (distance in m)")
    return fa.astype(np.int32), ta.astype(np.int32)


# ---------------------------------------------------------------------------
# The kernel
# ---------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _next_node(fn, tn, straightest_only, p_turn, node_x_m, node_y_m, adj_ptr, adj, rng, i):
    """The node after ``tn`` for a device arriving from ``fn`` (see :func:`move`)."""
    start = adj_ptr[tn]
    deg = adj_ptr[tn + 1] - start
    if deg == 1:
        return fn  # dead end: U-turn
    if deg == 2:
        nb = adj[start]
        return adj[start + 1] if nb == fn else nb
    # junction: the straightest continuation (largest cosine of the heading change)
    ux = node_x_m[tn] - node_x_m[fn]
    uy = node_y_m[tn] - node_y_m[fn]
    u_len = math.sqrt(ux * ux + uy * uy)
    best = -1
    best_cos = -2.0
    for k in range(start, start + deg):
        nb = adj[k]
        if nb == fn:
            continue
        wx = node_x_m[nb] - node_x_m[tn]
        wy = node_y_m[nb] - node_y_m[tn]
        c = (ux * wx + uy * wy) / (u_len * math.sqrt(wx * wx + wy * wy))
        if c > best_cos:
            best_cos = c
            best = nb
    if straightest_only:
        return best
    n_out = deg - 1
    skip = -1  # a neighbour excluded from the uniform choice besides fn
    if best_cos > _STRAIGHT_COS:
        if uniform(rng, i) >= p_turn:
            return best
        skip = best
        n_out -= 1
    r = int(uniform(rng, i) * n_out)  # uniform among the n_out other roads
    for k in range(start, start + deg):
        nb = adj[k]
        if nb == fn or nb == skip:
            continue
        if r == 0:
            return nb
        r -= 1
    return best  # not reached


@njit(cache=True, error_model="numpy")
def move(t_s, dt_s, kind, speed_min_mps, speed_max_mps, pause_s, p_turn, area, node_x_m, node_y_m, adj_ptr, adj,
         x_m, y_m, target_x_m, target_y_m, from_node, to_node, speed_mps, pause_until_s, rng, devices):
    """Advance every device listed in ``devices`` from ``t_s`` to ``t_s + dt_s``, in place.

    Parameters
    ----------
    t_s, dt_s : float
        Start of the step and its length, s. Steps must follow each other
        (``t_s`` = previous ``t_s + dt_s``): random waypoint pauses end at absolute times.
    kind : int8[n_devices]
        ``MOB_*`` code per device.
    speed_min_mps, speed_max_mps, pause_s, p_turn : float64[n_devices]
        Speed range (m/s), random waypoint pause (s), Manhattan turn probability.
    area : float64[4]
        ``(x_min, x_max, y_min, y_max)``, m.
    node_x_m, node_y_m, adj_ptr, adj : the :class:`RoadGraph` arrays
        float64[n_nodes], float64[n_nodes], int32[n_nodes + 1], int32[n_adj]; an empty
        graph when no device uses roads.
    x_m, ... pause_until_s : the :class:`MobilityState` arrays, updated in place.
    rng : uint64[n_devices, 4]
        One xoshiro256** stream per device (row = device index).
    devices : int32[n_move]
        The devices to move (indices; any order, each at most once).

    Notes
    -----
    Random waypoint (Broch et al. 1998; Camp et al. 2002): a moving device covers
    ``v (t_end - t)`` along the straight line to its destination; if that reaches the
    destination it arrives at ``t + d / v``, pauses until ``pause_until_s``, and then
    draws a destination uniform in the area and a speed uniform in ``[v_min, v_max]``
    (two uniforms for the destination, then one for the speed), all within one step
    if time is left. With zero pause the time-average speed is
    ``(v_max - v_min) / ln(v_max / v_min)`` (Yoon et al. 2003) and positions are denser
    in the centre (Bettstetter et al. 2003).

    Road models (ETSI TR 101 112 Annex B; Bai et al. 2003): a device runs from
    ``from_node`` to ``to_node`` at ``speed_mps``; on reaching ``to_node`` it picks the
    next node and continues with the time left. Next node: degree 1, back where it
    came from (U-turn); degree 2, the other neighbour; degree >= 3, never back, and
    - highway: the straightest continuation (largest cosine of the heading change;
      ties to the lowest node index), speed unchanged;
    - Manhattan: if the straightest continuation turns by less than 45 degrees it is
      "straight" and taken with probability ``1 - p_turn`` (one uniform); otherwise,
      or if there is no straight road (arriving at a T junction from its stem), one of
      the remaining roads uniformly (one more uniform). Then a new speed uniform in
      ``[v_min, v_max]`` for the new edge (one uniform; on every edge, dead ends and
      degree-2 nodes included).
    Static devices do not change. A device's draws come only from its own stream and
    only at these events, so they do not depend on the step size.
    """
    x_min = area[0]
    x_max = area[1]
    y_min = area[2]
    y_max = area[3]
    end_s = t_s + dt_s
    for j in range(devices.shape[0]):
        i = np.uint64(devices[j])  # unsigned: no negative-index handling at each access
        k = kind[i]
        if k == MOB_WAYPOINT:
            # -- random waypoint ----------------------------------------------------
            x = x_m[i]
            y = y_m[i]
            tx = target_x_m[i]
            ty = target_y_m[i]
            v = speed_mps[i]
            pause_until = pause_until_s[i]
            if pause_until == -np.inf:  # fast path: moving, no arrival in this step
                dx = tx - x
                dy = ty - y
                d = math.sqrt(dx * dx + dy * dy)
                step = v * dt_s
                if step < d:
                    f = step / d
                    x_m[i] = min(max(x + dx * f, x_min), x_max)
                    y_m[i] = min(max(y + dy * f, y_min), y_max)
                    continue
            now = t_s
            while True:
                if pause_until != -np.inf:  # at a waypoint
                    if pause_until >= end_s:
                        break
                    if pause_until > now:
                        now = pause_until
                    tx = x_min + (x_max - x_min) * uniform(rng, i)
                    ty = y_min + (y_max - y_min) * uniform(rng, i)
                    v = speed_min_mps[i] + (speed_max_mps[i] - speed_min_mps[i]) * uniform(rng, i)
                    pause_until = -np.inf
                dx = tx - x
                dy = ty - y
                d = math.sqrt(dx * dx + dy * dy)
                step = v * (end_s - now)
                if step < d:
                    f = step / d
                    x = min(max(x + dx * f, x_min), x_max)
                    y = min(max(y + dy * f, y_min), y_max)
                    break
                now += d / v
                x = tx
                y = ty
                pause_until = now + pause_s[i]
            x_m[i] = x
            y_m[i] = y
            target_x_m[i] = tx
            target_y_m[i] = ty
            speed_mps[i] = v
            pause_until_s[i] = pause_until
        elif k == MOB_MANHATTAN or k == MOB_HIGHWAY:
            # -- road graph ---------------------------------------------------------
            x = x_m[i]
            y = y_m[i]
            tx = target_x_m[i]
            ty = target_y_m[i]
            v = speed_mps[i]
            fn = from_node[i]
            tn = to_node[i]
            dx = tx - x
            dy = ty - y
            d = math.sqrt(dx * dx + dy * dy)
            step = v * dt_s
            if step < d:  # fast path: no node reached in this step
                f = step / d
                x_m[i] = x + dx * f
                y_m[i] = y + dy * f
                continue
            tau = dt_s  # time left in this step
            while True:
                dx = tx - x
                dy = ty - y
                d = math.sqrt(dx * dx + dy * dy)
                step = v * tau
                if step < d:
                    f = step / d
                    x += dx * f
                    y += dy * f
                    break
                if d > 0.0:
                    tau = max(tau - d / v, 0.0)
                x = tx
                y = ty
                nxt = _next_node(fn, tn, k == MOB_HIGHWAY, p_turn[i], node_x_m, node_y_m, adj_ptr, adj, rng, i)
                fn = tn
                tn = nxt
                tx = node_x_m[tn]
                ty = node_y_m[tn]
                if k == MOB_MANHATTAN:
                    v = speed_min_mps[i] + (speed_max_mps[i] - speed_min_mps[i]) * uniform(rng, i)
                if tau <= 0.0:
                    break
            x_m[i] = x
            y_m[i] = y
            target_x_m[i] = tx
            target_y_m[i] = ty
            speed_mps[i] = v
            from_node[i] = fn
            to_node[i] = tn
