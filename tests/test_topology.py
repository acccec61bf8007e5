"""Topologies: file format and errors, built-ins, routing against networkx, wrap-around, placement, CLI."""

from __future__ import annotations

import functools
import importlib.util
import math
import subprocess
import sys
import tomllib
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import tomli_w

from airan import topology as tp
from airan.cli import main as cli_main
from airan.scenario import Gpu

ROOT = Path(__file__).resolve().parents[1]
GPU = Gpu(servers=2, flops_per_s=1e13)


@functools.cache
def builtin(name: str) -> tp.Topology:
    return tp.load_topology(name)


def small_raw() -> dict:
    """Two sites, an aggregation node and a cloud: every latency and capacity known by hand."""
    return {
        "name": "small",
        "sites": [{"name": "s0", "x_m": 0.0, "y_m": 0.0}, {"name": "s1", "x_m": 100.0, "y_m": 0.0}],
        "compute": [
            {"name": "agg", "kind": "aggregation", "x_m": 50.0, "y_m": -50.0},
            {"name": "cloud", "kind": "cloud", "x_m": 50.0, "y_m": -500.0, "gpu": {"servers": 1, "flops_per_s": 1e14}},
            {"name": "s1-box", "kind": "site", "site": "s1"},
        ],
        "links": [
            {"a": "s0", "b": "agg", "latency_s": 1e-3, "capacity_bps": 1e9, "kind": "backhaul"},
            {"a": "s1", "b": "agg", "length_m": 20_000.0, "capacity_bps": 25e9},
            {"a": "agg", "b": "cloud", "latency_s": 2e-3, "capacity_bps": 10e9, "kind": "transport"},
        ],
    }


# ----------------------------------------------------------------------------
# Built-ins
# ----------------------------------------------------------------------------


def test_every_builtin_loads_and_equals_its_generator():
    names = [name for name, _ in tp.builtin_topologies()]
    assert sorted(names) == sorted(tp.BUILTIN_SPECS)
    assert names[:3] == ["hetnet", "hex7", "hex19"]  # natural order
    for name, (kind, params) in tp.BUILTIN_SPECS.items():
        assert builtin(name) == tp.generate(kind, **params), f"{name}.toml is stale: run python topologies/generate.py"


def test_builtin_files_are_exactly_what_generate_py_writes():
    spec = importlib.util.spec_from_file_location("generate_builtins", ROOT / "topologies" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in tp.BUILTIN_SPECS:
        text = (ROOT / "topologies" / f"{name}.toml").read_text(encoding="utf-8")
        assert text == module.render(name), f"{name}.toml is stale: run python topologies/generate.py"


def test_builtin_geometry_follows_its_sources():
    for name, n in (("hex7", 7), ("hex19", 19), ("hex37", 37)):
        topo = builtin(name)
        xy = np.array([(s.x_m, s.y_m) for s in topo.sites])
        assert len(topo.sites) == n == 3 * topo.wrap.rings**2 + 3 * topo.wrap.rings + 1
        d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + np.eye(n) * 1e9
        np.testing.assert_allclose(d.min(axis=1), 500.0)  # ISD 500 m, TR 38.901 Table 7.8-1
        assert {s.environment for s in topo.sites} == {"UMa"} and topo.n_cells == 3 * n
    indoor = builtin("indoor")  # TR 38.901 Table 7.2-2: 120 m x 50 m, 12 sites, ISD 20 m, 3 m
    xs = sorted({s.x_m for s in indoor.sites})
    assert len(indoor.sites) == 12 and np.allclose(np.diff(xs), 20.0) and {s.height_m for s in indoor.sites} == {3.0}
    assert indoor.bounds() == tp.Area(x_min_m=0.0, x_max_m=120.0, y_min_m=0.0, y_max_m=50.0)
    hetnet = builtin("hetnet")  # TR 36.814: small cells >= 75 m from the macro, >= 40 m apart
    macro = np.array([(s.x_m, s.y_m) for s in hetnet.sites if s.environment == "UMa"])
    small = np.array([(s.x_m, s.y_m) for s in hetnet.sites if s.environment == "UMi"])
    assert len(macro) == 7 and len(small) == 28
    assert np.hypot(*(small[:, None] - macro[None]).transpose(2, 0, 1)).min() >= 75.0
    dss = np.hypot(*(small[:, None] - small[None]).transpose(2, 0, 1)) + np.eye(len(small)) * 1e9
    assert dss.min() >= 40.0
    assert {s.tx_power_dbm for s in hetnet.sites if s.environment == "UMi"} == {30.0}
    highway = builtin("highway")
    assert all(s.environment == "RMa" and s.height_m == 35.0 for s in highway.sites)
    assert np.allclose(np.diff([s.x_m for s in highway.sites]), 1732.0)
    for name in tp.BUILTIN_SPECS:
        assert builtin(name).roads, name  # every built-in has roads for road mobility


def test_street_grids_join_at_every_crossing():
    """Roads that cross share a vertex there (the road graph joins polylines only at shared vertices)."""
    for name in ("hex7", "manhattan", "poisson_example"):
        roads = builtin(name).roads
        vertices = [set(r.points_m) for r in roads]
        ew = [r for r in roads if r.name.startswith("ew")]
        ns = [r for r in roads if r.name.startswith("ns")]
        for a in ew:
            for b in ns:
                crossing = (b.points_m[0][0], a.points_m[0][1])
                assert crossing in vertices[roads.index(a)] and crossing in vertices[roads.index(b)]


# ----------------------------------------------------------------------------
# Routing
# ----------------------------------------------------------------------------


def test_routes_on_a_hand_built_topology():
    topo = tp.topology_from_dict(small_raw(), source="small")
    r = tp.routes(topo)
    # s0 -> agg: 1 ms; s1 -> agg: 20 km of fibre = 0.1 ms; agg -> cloud 2 ms; s1-box is co-located with s1
    np.testing.assert_allclose(r.latency_s, [[1e-3, 3e-3, 1e-3 + 1e-4], [1e-4, 2.1e-3, 0.0]])
    np.testing.assert_array_equal(r.bottleneck, [[0, 0, 0], [1, 2, -1]])
    np.testing.assert_array_equal(r.hops, [[1, 2, 2], [1, 2, 0]])
    np.testing.assert_array_equal(r.gpu_node, [1, 1])
    np.testing.assert_array_equal(r.capacity_bps, [1e9, 25e9, 10e9])
    assert r.gpu_node.dtype == np.int32 and r.latency_s.dtype == np.float64 and r.bottleneck.dtype == np.int32
    assert tp.route_path(topo, "s0", "s1-box") == ["s0", "agg", "s1", "s1-box"]
    assert topo.links[1].delay_s == pytest.approx(1e-4)


def test_routes_without_links_are_the_co_located_nodes_as_dijkstra_finds_them():
    # no transport links: routing skips the graph (and networkx); the result is the graph's
    topo = tp.topology_from_dict({
        "name": "islands",
        "sites": [{"name": "a", "x_m": 0.0, "y_m": 0.0}, {"name": "b", "x_m": 500.0, "y_m": 0.0},
                  {"name": "c", "x_m": 0.0, "y_m": 500.0}],
        "compute": [{"name": "a1", "kind": "site", "site": "a", "gpu": {"servers": 1, "flops_per_s": 1e13}},
                    {"name": "b1", "kind": "site", "site": "b"},
                    {"name": "a2", "kind": "site", "site": "a", "gpu": {"servers": 2, "flops_per_s": 1e13}}],
    }, source="islands")
    assert not topo.links
    r = tp.routes(topo)
    graph = tp.to_graph(topo)
    expected = np.full((3, 3), np.inf)
    for i, site in enumerate(topo.sites):
        for j, node in enumerate(topo.compute):
            if nx.has_path(graph, site.name, node.name):
                expected[i, j] = nx.shortest_path_length(graph, site.name, node.name, weight="latency_s")
    np.testing.assert_array_equal(r.latency_s, expected)
    np.testing.assert_array_equal(r.hops, np.zeros((3, 3)))
    np.testing.assert_array_equal(r.bottleneck, np.full((3, 3), -1))
    np.testing.assert_array_equal(r.gpu_node, [0, -1, -1])  # a: its first GPU node; b's node has no GPU


def test_a_scenario_without_transport_links_does_not_import_networkx():
    raw = {"simulation": {"duration_s": 10.0}, "channel": {"model": "ideal"},
           "sites": [{"name": "a", "gpu": {"servers": 1, "flops_per_s": 1e12}}],
           "workloads": [{"name": "w", "flops": 1e9, "input_bytes": 1e3, "output_bytes": 1e2, "deadline_s": 0.1}],
           "devices": [{"name": "d", "count": 3, "workload": "w", "rate_hz": 1.0, "profile": "smartphone",
                        "uplink_bps": 1e7, "downlink_bps": 1e7}]}
    code = ("import sys, airan; from airan.build import build_model; "
            f"build_model(airan.scenario_from_dict({raw!r}), 1); print('networkx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", list(tp.BUILTIN_SPECS))
def test_route_latency_equals_networkx_shortest_path(name):
    topo = tp.apply_placement(builtin(name), "every_site", GPU)
    graph = tp.to_graph(topo)
    r = tp.routes(topo)
    expected = np.array([[nx.shortest_path_length(graph, s.name, c.name, weight="latency_s") for c in topo.compute]
                         for s in topo.sites])
    np.testing.assert_array_equal(r.latency_s, expected)
    # with a GPU at every site, each site's own co-located node is the nearest (0 s)
    own = [next(j for j, c in enumerate(topo.compute) if c.kind == "site" and c.site == s.name) for s in topo.sites]
    np.testing.assert_array_equal(r.gpu_node, own)


@pytest.mark.parametrize("name", list(tp.BUILTIN_SPECS))
def test_bottleneck_is_the_smallest_capacity_link_on_the_route(name):
    topo = builtin(name)
    r = tp.routes(topo)
    graph = tp.to_graph(topo)
    for i, site in enumerate(topo.sites[:8]):  # the first 8 sites keep the test fast
        for j, node in enumerate(topo.compute):
            path = tp.route_path(topo, site.name, node.name)
            assert path[0] == site.name and path[-1] == node.name
            listed = [graph.edges[u, v]["index"] for u, v in zip(path[:-1], path[1:], strict=True)]
            listed = [k for k in listed if k >= 0]
            assert r.hops[i, j] == len(listed)
            caps = [topo.links[k].capacity_bps for k in listed]
            assert r.bottleneck[i, j] == listed[int(np.argmin(caps))]
            assert sum(topo.links[k].delay_s for k in listed) == pytest.approx(r.latency_s[i, j], rel=1e-12)


def test_gpu_node_is_the_least_latency_gpu_and_ties_go_to_the_lower_index():
    raw = small_raw()
    raw["compute"][0]["gpu"] = {"servers": 1, "flops_per_s": 1e12}  # agg and cloud both have GPUs
    r = tp.routes(tp.topology_from_dict(raw, source="t"))
    np.testing.assert_array_equal(r.gpu_node, [0, 0])
    raw["links"][2]["latency_s"] = 0.0  # cloud as near as agg: the lower index wins
    r = tp.routes(tp.topology_from_dict(raw, source="t"))
    np.testing.assert_array_equal(r.gpu_node, [0, 0])
    for node in raw["compute"]:
        node.pop("gpu", None)
    r = tp.routes(tp.topology_from_dict(raw, source="t"))
    np.testing.assert_array_equal(r.gpu_node, [-1, -1])


def test_a_site_gpu_becomes_a_colocated_compute_node():
    topo = tp.topology_from_dict({"name": "inline", "sites": [
        {"name": "a", "gpu": {"servers": 1, "flops_per_s": 1e12}}, {"name": "b", "x_m": 500.0}]}, source="s.toml")
    assert topo.sites[0].gpu is None and [c.name for c in topo.compute] == ["a-gpu"]
    assert topo.compute[0].kind == "site" and topo.compute[0].gpu.servers == 1
    r = tp.routes(topo)
    np.testing.assert_array_equal(r.gpu_node, [0, -1])  # no links: b reaches nothing, which is allowed
    assert r.latency_s[0, 0] == 0.0 and np.isinf(r.latency_s[1, 0])
    with pytest.raises(tp.TopologyError, match=r"^s\.toml: sites\[0\]\.gpu\.servers: must be >= 1, got 0$"):
        tp.topology_from_dict({"name": "x", "sites": [{"name": "a", "gpu": {"servers": 0, "flops_per_s": 1.0}}]},
                              source="s.toml")


# ----------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------


def _bad(edit) -> dict:
    raw = small_raw()
    edit(raw)
    return raw


BAD = [
    ("missing node", lambda r: r["links"][2].update(b="agg9"),
     "links[2].b: must name a site or compute node, got 'agg9'"),
    ("duplicate name", lambda r: r["compute"][0].update(name="s1"),
     "compute[0].name: must be unique across sites and compute nodes, got 's1' (also sites[1])"),
    ("disconnected", lambda r: r["compute"].append({"name": "lonely", "kind": "edge", "x_m": 0.0, "y_m": 0.0}),
     "compute[3]: must be reachable from 's0' through links, got 'lonely' (the graph is disconnected)"),
    ("site without route", lambda r: r["sites"].append({"name": "s2"}),
     "sites[2]: must have a route to a compute node, got 's2' (no links reach one)"),
    ("links but no compute", lambda r: (r.update(compute=[]), r.update(links=[
        {"a": "s0", "b": "s1", "latency_s": 1e-3, "capacity_bps": 1e9}])),
     "sites[0]: must have a route to a compute node, got 's0' (the topology has links but no compute nodes)"),
    ("unknown key", lambda r: r["links"][0].update(delay=1.0),
     "links[0].delay: unknown key; allowed keys here: a, b, capacity_bps, kind, latency_s, length_m"),
    ("unknown top-level key", lambda r: r.update(nodes=[]),
     "nodes: unknown key; allowed keys here: area, compute, description, links, name, roads, sites, source, wrap"),
    ("latency and length", lambda r: r["links"][0].update(length_m=10.0),
     "links[0].latency_s: give exactly one of latency_s (s) and length_m (m), got both"),
    ("neither latency nor length", lambda r: r["links"][0].pop("latency_s"),
     "links[0].latency_s: give exactly one of latency_s (s) and length_m (m), got neither"),
    ("self-link", lambda r: r["links"][0].update(b="s0"), "links[0].b: must differ from a (no self-links), got 's0'"),
    ("repeated pair", lambda r: r["links"].append({"a": "agg", "b": "s0", "latency_s": 0.0, "capacity_bps": 1.0}),
     "links[3].b: must not repeat the pair of links[0], got 'agg' - 's0'"),
    ("link to a co-located node", lambda r: r["links"].append(
        {"a": "s1", "b": "s1-box", "latency_s": 0.0, "capacity_bps": 1.0}),
     "links[3].b: must not join a site and its co-located compute node (they are joined implicitly), "
     "got 's1' - 's1-box'"),
    ("zero capacity", lambda r: r["links"][0].update(capacity_bps=0.0), "links[0].capacity_bps: must be > 0, got 0.0"),
    ("wrap rings 0", lambda r: r.update(wrap={"isd_m": 500.0, "rings": 0}), "wrap.rings: must be >= 1, got 0"),
    ("short road", lambda r: r.update(roads=[{"name": "r", "points_m": [[0.0, 0.0]]}]),
     "roads[0].points_m: must have at least 2 points, got 1"),
    ("site compute without site", lambda r: r["compute"][2].pop("site"),
     "compute[2].site: required with kind = \"site\" (the site it is co-located with)"),
    ("site compute at a missing site", lambda r: r["compute"][2].update(site="s7"),
     "compute[2].site: must name a site, got 's7'"),
    ("position of a co-located node", lambda r: r["compute"][2].update(x_m=1.0),
     "compute[2].x_m: not used with kind = \"site\" (the position is the site's), got 1.0"),
    ("edge without position", lambda r: r["compute"][0].pop("y_m"),
     "compute[0].y_m: required with kind = \"aggregation\" (position for drawing, m)"),
    ("unknown compute kind", lambda r: r["compute"][0].update(kind="fog"),
     "compute[0].kind: must be one of 'site', 'edge', 'aggregation' or 'cloud', got 'fog'"),
    ("gpu unknown key", lambda r: r["compute"][1]["gpu"].update(cores=2),
     "compute[1].gpu.cores: unknown key; allowed keys here: " + ", ".join(sorted(Gpu.model_fields))),
    ("site downtilt", lambda r: r["sites"][0].update(downtilt_deg=95.0),
     "sites[0].downtilt_deg: must be >= 0 and < 90, got 95.0"),
    ("area inverted", lambda r: r.update(area={"x_min_m": 1.0, "x_max_m": 0.0, "y_min_m": 0.0, "y_max_m": 1.0}),
     "area.x_max_m: must be > x_min_m (1.0), got 0.0"),
]


@pytest.mark.parametrize("edit, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_topology_files_give_one_line_errors(tmp_path, edit, message):
    raw = _bad(edit)
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(raw))
    with pytest.raises(tp.TopologyError) as info:
        tp.load_topology(path)
    assert str(info.value) == f"bad.toml: {message}"
    assert "\n" not in str(info.value)


def test_no_links_means_only_colocated_compute_nodes():
    raw = {"name": "x", "sites": [{"name": "a"}], "compute": [{"name": "e", "kind": "edge", "x_m": 0.0, "y_m": 0.0}]}
    with pytest.raises(tp.TopologyError, match=r"^x\.toml: compute\[0\]\.kind: must be \"site\" in a topology "
                                               r"without links"):
        tp.topology_from_dict(raw, source="x.toml")
    assert tp.topology_from_dict({"name": "x", "sites": [{"name": "a"}]}, source="x").compute == ()


def test_load_errors(tmp_path):
    with pytest.raises(tp.TopologyError, match=r"^unknown topology 'hex8'; built-in: hetnet, hex7, hex19, .*"):
        tp.load_topology("hex8")
    with pytest.raises(tp.TopologyError, match=r"no such topology file$"):
        tp.load_topology("missing.toml", base_dir=tmp_path)
    (tmp_path / "t.toml").write_text("name = \n")
    with pytest.raises(tp.TopologyError, match=r"^t\.toml: not valid TOML: "):
        tp.load_topology(tmp_path / "t.toml")
    with pytest.raises(tp.TopologyError, match=r"must end in \.toml or \.graphml$"):
        tp.load_topology(tmp_path / "t.json")
    (tmp_path / "ok.toml").write_text(tp.dump_topology(builtin("hex7")))
    assert tp.load_topology("ok.toml", base_dir=tmp_path) == builtin("hex7")


# ----------------------------------------------------------------------------
# Round trips
# ----------------------------------------------------------------------------


def _rich() -> tp.Topology:
    raw = small_raw()
    raw["sites"][0].update(sectors=3, azimuth_deg=10.0, band="n78", tx_power_dbm=43.0, cluster="c",
                           base_station={"type": "macro"}, environment="UMi", height_m=12.5)
    raw["compute"][2]["gpu"] = {"accelerator": "l4", "servers": 3, "queue_capacity": 8, "on_full": "local"}
    raw.update(description="a \"quoted\"\tdescription é", source="hand", wrap={"isd_m": 200.0, "rings": 2},
               area={"x_min_m": -10.0, "x_max_m": 110.0, "y_min_m": -600.0, "y_max_m": 10.0},
               roads=[{"name": "r", "points_m": [[0, 0], [100.0, 0.0], [100.0, 5.5]]}])
    return tp.topology_from_dict(raw, source="rich")


def test_toml_round_trip_gives_an_equal_topology():
    for topo in [_rich(), *(builtin(n) for n in tp.BUILTIN_SPECS)]:
        text = tp.dump_topology(topo)
        assert tp.topology_from_dict(tomllib.loads(text), source="rt") == topo


def test_graphml_round_trip_gives_an_equal_topology(tmp_path):
    for topo in [_rich(), tp.apply_placement(builtin("hetnet"), "cluster", GPU), builtin("poisson_example")]:
        path = tmp_path / f"{topo.name}.graphml"
        tp.write_graphml(topo, path)
        assert tp.read_graphml(path) == topo
        assert tp.load_topology(path) == topo


def test_graph_attributes_are_graphml_scalars_and_unknown_ones_are_errors(tmp_path):
    graph = tp.to_graph(_rich())
    for _, attrs in [*graph.nodes(data=True), *((None, d) for _, _, d in graph.edges(data=True)), (None, graph.graph)]:
        assert all(isinstance(v, str | int | float | bool) for v in attrs.values())
    assert graph.nodes["s0"]["kind"] == "bs" and graph.nodes["s1-box"]["x_m"] == 100.0
    assert graph.edges["s1", "s1-box"]["kind"] == "colocated"
    graph.nodes["agg"]["colour"] = "red"
    with pytest.raises(tp.TopologyError, match=r"^g: node 'agg': attribute 'colour': unknown; allowed: "):
        tp.from_graph(graph, name="g", source="g")


# ----------------------------------------------------------------------------
# Wrap-around
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("rings", [1, 2, 3])
def test_hex_wrap_shifts_tile_the_plane(rings):
    isd = 500.0
    shifts = tp.hex_wrap_shifts_m(isd, rings)
    n = 3 * rings**2 + 3 * rings + 1
    assert shifts.shape == (7, 2) and np.all(shifts[0] == 0.0)
    np.testing.assert_allclose(np.hypot(shifts[1:, 0], shifts[1:, 1]), math.sqrt(n) * isd)
    topo = tp.hex_grid(rings=rings, isd_m=isd)
    sites = np.array([(s.x_m, s.y_m) for s in topo.sites])
    copies = (sites[None, :, :] + shifts[:, None, :]).reshape(-1, 2)
    # the 7 copies are distinct lattice points: no site lands on another
    d = np.hypot(*(copies[:, None] - copies[None]).transpose(2, 0, 1)) + np.eye(len(copies)) * 1e9
    assert d.min() == pytest.approx(isd)
    # every point of the area is within a hexagonal cell (circumradius isd / sqrt 3) of some copy of some site
    area = topo.bounds()
    rng = np.random.default_rng(0)
    pts = np.stack([rng.uniform(area.x_min_m, area.x_max_m, 4000), rng.uniform(area.y_min_m, area.y_max_m, 4000)], 1)
    nearest = np.hypot(*(pts[:, None] - copies[None]).transpose(2, 0, 1)).min(axis=1)
    assert nearest.max() <= isd / math.sqrt(3.0) + 1e-9


def test_hex_wrap_shifts_reject_bad_input():
    with pytest.raises(tp.TopologyError, match="rings: must be an integer >= 1, got 0"):
        tp.hex_wrap_shifts_m(500.0, 0)


# ----------------------------------------------------------------------------
# GPU placement
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(tp.BUILTIN_SPECS))
def test_apply_placement_puts_the_gpus_where_asked(name):
    topo = builtin(name)
    kinds = {c.kind for c in topo.compute}
    assert tp.apply_placement(topo, "topology", None) is topo
    for placement in ("every_site", "cluster", "aggregation", "cloud"):
        if placement in ("aggregation", "cloud") and placement not in kinds:
            with pytest.raises(tp.TopologyError, match=f"has no compute node of kind \"{placement}\""):
                tp.apply_placement(topo, placement, GPU)
            continue
        placed = tp.apply_placement(topo, placement, GPU)
        gpus = [c for c in placed.compute if c.gpu is not None]
        assert all(c.gpu == GPU for c in gpus)
        r = tp.routes(placed)
        assert np.all(r.gpu_node >= 0)
        chosen = [placed.compute[j] for j in r.gpu_node]
        if placement == "every_site":
            assert len(gpus) == len(topo.sites)
            assert [c.site for c in chosen] == [s.name for s in topo.sites]
        elif placement == "cluster":
            labels = {s.cluster for s in topo.sites}  # every built-in labels its sites
            assert None not in labels and len(gpus) == len(labels)
            assert all(c.kind == "site" for c in chosen)
            if "aggregation" in kinds:  # other clusters are behind the cloud: each site uses its own hub
                site_of = {s.name: s for s in placed.sites}
                assert [site_of[c.site].cluster for c in chosen] == [s.cluster for s in placed.sites]
        else:
            assert len(gpus) == sum(c.kind == placement for c in topo.compute)
            assert {c.kind for c in chosen} == {placement}


def test_cluster_hub_is_the_member_with_least_total_latency():
    placed = tp.apply_placement(builtin("hex7"), "cluster", GPU)
    assert [(c.name, c.site) for c in placed.compute if c.gpu is not None] == [("s0-gpu", "s0")]  # the centre
    hetnet = tp.apply_placement(builtin("hetnet"), "cluster", GPU)
    assert sorted(c.site for c in hetnet.compute if c.gpu is not None) == [f"s{k}" for k in range(7)]  # the macros
    # without labels, clusters are the sites' nearest aggregation nodes
    raw = builtin("hex19").model_dump(exclude_none=True)
    for site in raw["sites"]:
        site.pop("cluster")
    unlabeled = tp.apply_placement(tp.topology_from_dict(raw, source="x"), "cluster", GPU)
    assert sum(c.gpu is not None for c in unlabeled.compute) == 7


def test_apply_placement_errors():
    topo = builtin("hex7")
    with pytest.raises(tp.TopologyError, match="^gpu: only used with a placement other than"):
        tp.apply_placement(topo, "topology", GPU)
    with pytest.raises(tp.TopologyError, match="^gpu: required with placement = \"cloud\"$"):
        tp.apply_placement(topo, "cloud", None)
    with pytest.raises(tp.TopologyError, match="^placement: must be one of topology, every_site"):
        tp.apply_placement(topo, "everywhere", GPU)
    inline = tp.topology_from_dict({"name": "x", "sites": [{"name": "a"}]}, source="x")
    with pytest.raises(tp.TopologyError, match=r"sites\[0\] \('a'\) has no cluster label and no route"):
        tp.apply_placement(inline, "cluster", GPU)


# ----------------------------------------------------------------------------
# Generators
# ----------------------------------------------------------------------------


def test_poisson_generator_is_seeded_and_has_the_right_mean():
    a = tp.poisson(sites_per_km2=10.0, width_m=1000.0, height_m=1000.0, seed=5)
    assert a == tp.poisson(sites_per_km2=10.0, width_m=1000.0, height_m=1000.0, seed=5)
    assert a != tp.poisson(sites_per_km2=10.0, width_m=1000.0, height_m=1000.0, seed=6)
    # N ~ Poisson(lambda A) with lambda A = 10: the mean of 300 draws has standard error sqrt(10 / 300)
    counts = [len(tp.poisson(sites_per_km2=10.0, width_m=1000.0, height_m=1000.0, seed=s).sites) for s in range(300)]
    assert abs(np.mean(counts) - 10.0) < 3.0 * math.sqrt(10.0 / 300)
    for site in a.sites:
        assert 0.0 <= site.x_m <= 1000.0 and 0.0 <= site.y_m <= 1000.0
    # each site is wired to its nearest aggregation node
    aggs = {c.name: (c.x_m, c.y_m) for c in a.compute if c.kind == "aggregation"}
    for link in a.links:
        if link.a.startswith("s"):
            site = next(s for s in a.sites if s.name == link.a)
            d = {n: math.hypot(site.x_m - p[0], site.y_m - p[1]) for n, p in aggs.items()}
            assert d[link.b] == min(d.values())


def test_generate_checks_names_and_types():
    assert tp.generate("hex_grid", rings=2, isd_m=200) == tp.hex_grid(rings=2, isd_m=200.0)  # int for a float
    with pytest.raises(tp.TopologyError, match="^unknown topology generator 'hexagon'; available: hex_grid, "):
        tp.generate("hexagon")
    with pytest.raises(tp.TopologyError, match="^hex_grid: unknown parameter 'ring'; allowed: rings, "):
        tp.generate("hex_grid", ring=2)
    with pytest.raises(tp.TopologyError, match="^hex_grid: rings: must be an integer, got float 2.5$"):
        tp.generate("hex_grid", rings=2.5)
    with pytest.raises(tp.TopologyError, match="^hex_grid: rings: must be an integer from 1 to 6, got 0$"):
        tp.generate("hex_grid", rings=0)
    with pytest.raises(tp.TopologyError, match="^manhattan: block_m: must be > 0, got -1.0$"):
        tp.generate("manhattan", block_m=-1)


def test_bounds_default_is_the_site_box_plus_ten_percent():
    topo = tp.topology_from_dict({"name": "x", "sites": [{"name": "a"}, {"name": "b", "x_m": 1000.0,
                                                                       "y_m": 500.0}]}, source="x")
    assert topo.bounds() == tp.Area(x_min_m=-100.0, x_max_m=1100.0, y_min_m=-100.0, y_max_m=600.0)


# ----------------------------------------------------------------------------
# Plot and command line
# ----------------------------------------------------------------------------


def test_plot_topology_draws_a_figure():
    from matplotlib.figure import Figure

    from airan.plots import plot_topology

    topo = tp.apply_placement(builtin("hetnet"), "every_site", GPU)
    fig = plot_topology(topo, devices_x_m=[0.0, 100.0], devices_y_m=[10.0, -20.0], devices_site=[0, 1], wrap=True)
    assert isinstance(fig, Figure) and fig.axes[0].get_xlabel() == "x [m]"
    assert plot_topology(builtin("highway")).axes[0].get_xlabel() == "x [km]"


def test_cli_topology_commands(tmp_path, capsys):
    assert cli_main(["topologies"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["name", "sites", "compute", "description"] and len(out) == 1 + len(tp.BUILTIN_SPECS)
    assert cli_main(["topology", "show", "hex7", "--out", str(tmp_path / "map.pdf"), "--wrap"]) == 0
    assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "map.pdf").exists()
    assert cli_main(["topology", "generate", "poisson", "--param", "seed=3", "--param", "sites_per_km2=4",
                     "--out", str(tmp_path / "p.toml")]) == 0
    assert tp.load_topology(tmp_path / "p.toml") == tp.poisson(seed=3, sites_per_km2=4.0)
    assert cli_main(["topology", "export", str(tmp_path / "p.toml"), "--out", str(tmp_path / "p.graphml")]) == 0
    assert tp.read_graphml(tmp_path / "p.graphml") == tp.poisson(seed=3, sites_per_km2=4.0)


def test_cli_topology_show_with_a_scenario(tmp_path):
    out = tmp_path / "qs.png"
    assert cli_main(["topology", "show", "--scenario", str(ROOT / "experiments" / "quickstart.toml"),
                     "--out", str(out)]) == 0
    assert out.stat().st_size > 0


@pytest.mark.parametrize("argv, message", [
    (["topology", "show", "hex8", "--out", "x.png"], "airan: error: unknown topology 'hex8'; built-in: "),
    (["topology", "show", "hex7", "--out", "x.jpg"], "airan: error: --out x.jpg: must end in .png or .pdf"),
    (["topology", "generate", "hex_grid", "--param", "rings=0", "--out", "x.toml"],
     "airan: error: hex_grid: rings: must be an integer from 1 to 6, got 0"),
    (["topology", "generate", "hex_grid", "--param", "rings", "--out", "x.toml"],
     "airan: error: --param rings: must be key=value"),
    (["topology", "export", "hex7", "--out", "x.csv"], "airan: error: --out x.csv: must end in .toml or .graphml"),
])
def test_cli_topology_bad_input_exits_2_with_one_line(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_pyproject_lists_every_package():
    """The packages are listed, not found (topologies/ is mapped to airan.topologies): none may be missing."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "airan").rglob("__init__.py")}
    assert found | {"airan.topologies"} == set(config["packages"])
    assert config["package-dir"]["airan.topologies"] == "topologies"


def test_equal_latency_ties_prefer_a_sites_own_gpu():
    # two sites joined by a 0 s link, each with its own GPU: each uses its own, not the lower index
    topo = tp.topology_from_dict({
        "name": "twins",
        "sites": [{"name": "a", "gpu": {"servers": 1, "flops_per_s": 1e12}},
                  {"name": "b", "x_m": 100.0, "gpu": {"servers": 1, "flops_per_s": 1e12}}],
        "links": [{"a": "a", "b": "b", "latency_s": 0.0, "capacity_bps": 1e9}],
    }, source="twins.toml")
    r = tp.routes(topo)
    names = [c.name for c in topo.compute]
    assert [names[j] for j in r.gpu_node] == ["a-gpu", "b-gpu"]
