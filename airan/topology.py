"""Network topologies: base-station sites, compute nodes, transport links and roads.

A topology is the network a scenario runs on: where the sites are, which compute
nodes (GPU servers at a site, an edge room, an aggregation hub, a regional cloud)
exist, which transport links join them and what each link costs in latency and
offers in capacity, and the roads devices can be placed on. It is read once from a
TOML file (format: ``topologies/README.md``), a GraphML file or a generator, into the
frozen, validated :class:`Topology` below; errors are :class:`TopologyError` with one
line::

    hex.toml: links[3].b: must name a site or compute node, got 'agg9'

This is the only module that talks to networkx. Routing happens once, at build
time: :func:`routes` hands the least-latency route from every site to every compute
node on as plain arrays (latency, bottleneck link, hop count), and the kernel never
sees the graph.

A site's own ``gpu`` table (the inline-scenario form) is shorthand for a compute
node of kind ``"site"`` named ``"<site>-gpu"`` co-located with it; validation moves
it there, so GPUs live on compute nodes only.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from . import scenario as _scenario
from .scenario import Gpu, Site, _Model

if TYPE_CHECKING:  # networkx is imported where it is used, so `import airan` stays fast
    import networkx

__all__ = [
    "TopologyError",
    "ComputeNode",
    "Link",
    "Road",
    "Area",
    "Wrap",
    "Topology",
    "Routes",
    "FIBRE_M_PER_S",
    "BUILTIN_SPECS",
    "GENERATORS",
    "load_topology",
    "topology_from_dict",
    "dump_topology",
    "builtin_topologies",
    "to_graph",
    "from_graph",
    "write_graphml",
    "read_graphml",
    "apply_placement",
    "routes",
    "route_path",
    "hex_wrap_shifts_m",
    "generate",
    "hex_grid",
    "manhattan",
    "highway",
    "indoor",
    "hetnet",
    "poisson",
]

#: Signal speed in optical fibre, m/s: c / n_g with the group index n_g ~ 1.468 of
#: standard single-mode fibre (ITU-T G.652) at 1550 nm is 2.04e8 m/s; the usual
#: planning figure of 5 us per km is 2.0e8 m/s, used here.
FIBRE_M_PER_S = 2.0e8

#: Compute-node kinds.
COMPUTE_KINDS = ("site", "edge", "aggregation", "cloud")
#: Transport-link labels (informational; routing treats every link alike).
LINK_KINDS = ("fronthaul", "midhaul", "backhaul", "transport")
#: GPU placements of :func:`apply_placement`.
PLACEMENTS = ("topology", "every_site", "cluster", "aggregation", "cloud")

#: Graph-node kind of a site in :func:`to_graph` (compute nodes carry their own kind).
SITE_KIND = "bs"
#: Edge kind of the implicit link between a site and a co-located compute node.
COLOCATED_KIND = "colocated"


class TopologyError(ValueError):
    """A topology (file, dict, graph or generator call) that does not validate; the message is one line."""


# ----------------------------------------------------------------------------
# Schema
# ----------------------------------------------------------------------------


class ComputeNode(_Model):
    """A compute node: a server room that can host a GPU (``gpu``), reached over transport links.

    ``kind = "site"`` is co-located with a base station (``site`` names it; the
    position is the site's) and joined to it by an implicit link of zero latency
    and unlimited capacity; ``edge``, ``aggregation`` and ``cloud`` nodes stand on
    their own at ``x_m``, ``y_m`` (used for drawing only: latency comes from links).
    """

    name: str = Field(min_length=1, description="unique name (among sites and compute nodes)")
    kind: Literal["site", "edge", "aggregation", "cloud"] = Field(
        description="site (co-located with a base station), edge, aggregation or cloud")
    site: str | None = Field(None, description="kind site only: the site it is co-located with")
    x_m: float | None = Field(None, description="x position for drawing, m (not with kind site)")
    y_m: float | None = Field(None, description="y position for drawing, m (not with kind site)")
    gpu: Gpu | None = Field(None, description="GPU servers at this node (airan.scenario.Gpu); omit for none")

    @model_validator(mode="after")
    def _position(self) -> ComputeNode:
        if self.kind == "site":
            if self.site is None:
                raise ValueError("site: required with kind = \"site\" (the site it is co-located with)")
            for field in ("x_m", "y_m"):
                if getattr(self, field) is not None:
                    raise ValueError(f"{field}: not used with kind = \"site\" (the position is the site's), "
                                     f"got {getattr(self, field)!r}")
        else:
            if self.site is not None:
                raise ValueError(f"site: only used with kind = \"site\", got kind = \"{self.kind}\"")
            for field in ("x_m", "y_m"):
                if getattr(self, field) is None:
                    raise ValueError(f"{field}: required with kind = \"{self.kind}\" (position for drawing, m)")
        return self


class Link(_Model):
    """A transport link between two nodes (sites or compute nodes): undirected, full duplex.

    Its one-way delay is ``latency_s`` (propagation plus switching), or, for plain
    fibre, ``length_m / FIBRE_M_PER_S`` (5 us per km); give exactly one of the two.
    ``capacity_bps`` is available in each direction.
    """

    a: str = Field(min_length=1, description="one end: a site or compute node name")
    b: str = Field(min_length=1, description="the other end: a site or compute node name")
    latency_s: float | None = Field(None, ge=0, description="one-way latency (propagation + switching), s")
    length_m: float | None = Field(
        None, ge=0, description="instead of latency_s: fibre length, m (latency = length / 2.0e8 m/s)")
    capacity_bps: float = Field(gt=0, description="capacity in each direction, bit/s")
    kind: Literal["fronthaul", "midhaul", "backhaul", "transport"] | None = Field(
        None, description="label: fronthaul, midhaul, backhaul or transport (routing ignores it)")

    @model_validator(mode="after")
    def _one_delay(self) -> Link:
        given = (self.latency_s is not None) + (self.length_m is not None)
        if given != 1:
            raise ValueError("latency_s: give exactly one of latency_s (s) and length_m (m), got "
                             + ("both" if given == 2 else "neither"))
        return self

    @property
    def delay_s(self) -> float:
        """One-way delay, s: ``latency_s``, or the fibre delay ``length_m / FIBRE_M_PER_S``."""
        return self.latency_s if self.latency_s is not None else self.length_m / FIBRE_M_PER_S


class Road(_Model):
    """A road: a polyline devices can be placed on and move along (both directions)."""

    name: str = Field(min_length=1, description="road name")
    points_m: tuple[tuple[float, float], ...] = Field(
        strict=False, description="vertices [[x, y], ...], m; at least 2 (give a vertex where roads join)")

    @field_validator("points_m", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        # TOML arrays are lists; the strict tuple type takes each point as a tuple
        if isinstance(value, list | tuple):
            return tuple(tuple(p) if isinstance(p, list) else p for p in value)
        return value

    @model_validator(mode="after")
    def _two_points(self) -> Road:
        if len(self.points_m) < 2:
            raise ValueError(f"points_m: must have at least 2 points, got {len(self.points_m)}")
        return self


class Area(_Model):
    """The simulated area (devices, radio maps), m."""

    x_min_m: float = Field(description="west edge, m")
    x_max_m: float = Field(description="east edge, m")
    y_min_m: float = Field(description="south edge, m")
    y_max_m: float = Field(description="north edge, m")

    @model_validator(mode="after")
    def _ordered(self) -> Area:
        if not self.x_min_m < self.x_max_m:
            raise ValueError(f"x_max_m: must be > x_min_m ({self.x_min_m!r}), got {self.x_max_m!r}")
        if not self.y_min_m < self.y_max_m:
            raise ValueError(f"y_max_m: must be > y_min_m ({self.y_min_m!r}), got {self.y_max_m!r}")
        return self


class Wrap(_Model):
    """Hexagonal wrap-around is possible for this layout (see :func:`hex_wrap_shifts_m`)."""

    isd_m: float = Field(gt=0, description="inter-site distance of the hexagonal grid, m")
    rings: int = Field(ge=1, description="rings around the centre site: 1 (7 sites), 2 (19), 3 (37)")


class Topology(_Model):
    """A whole topology: what a topology file holds.

    Checks beyond the single tables: names are unique across sites and compute
    nodes; links name existing nodes, join two different nodes, and do not repeat
    a pair. A topology with links must be connected (co-located nodes count as
    joined) and have at least one compute node, so every site has a route to one;
    a topology without links (the inline-scenario form) may only have compute
    nodes of kind ``"site"``.
    """

    name: str = Field(min_length=1, description="topology name")
    description: str = Field("", description="one line")
    source: str = Field("", description="where the geometry and the numbers come from")
    area: Area | None = Field(None, description="simulated area; omit for the sites' bounding box + 10 %")
    wrap: Wrap | None = Field(None, description="hexagonal wrap-around parameters; omit if not a hexagonal layout")
    sites: tuple[Site, ...] = Field((), strict=False, description="base stations (airan.scenario.Site)")
    compute: tuple[ComputeNode, ...] = Field((), strict=False, description="compute nodes")
    links: tuple[Link, ...] = Field((), strict=False, description="transport links")
    roads: tuple[Road, ...] = Field((), strict=False, description="roads (polylines)")

    @model_validator(mode="before")
    @classmethod
    def _site_gpus(cls, data: Any) -> Any:
        return _site_gpus_to_compute(data)

    @model_validator(mode="after")
    def _references(self) -> Topology:
        _check_references(self)
        return self

    def bounds(self) -> Area:
        """``area``, or the bounding box of the sites plus a 10 % margin on each side.

        The margin is 10 % of the larger side (50 m when all sites are at one point);
        with no sites, the compute nodes' positions are used, and with nothing at
        all the unit square.
        """
        if self.area is not None:
            return self.area
        xy = np.array([(s.x_m, s.y_m) for s in self.sites], dtype=np.float64).reshape(-1, 2)
        if xy.shape[0] == 0:
            xy = np.array([(c.x_m, c.y_m) for c in self.compute if c.x_m is not None],
                          dtype=np.float64).reshape(-1, 2)
        if xy.shape[0] == 0:
            return Area(x_min_m=0.0, x_max_m=1.0, y_min_m=0.0, y_max_m=1.0)
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        span = float(max(hi - lo))
        margin = 0.1 * span if span > 0 else 50.0
        return Area(x_min_m=float(lo[0] - margin), x_max_m=float(hi[0] + margin),
                    y_min_m=float(lo[1] - margin), y_max_m=float(hi[1] + margin))

    @property
    def n_cells(self) -> int:
        """Number of cells (sectors) over all sites."""
        return sum(s.sectors for s in self.sites)

    def node_xy_m(self, name: str) -> tuple[float, float]:
        """Position of a site or compute node (a co-located node is at its site), m."""
        for s in self.sites:
            if s.name == name:
                return s.x_m, s.y_m
        for c in self.compute:
            if c.name == name:
                return self.node_xy_m(c.site) if c.kind == "site" else (c.x_m, c.y_m)
        raise TopologyError(f"{self.name}: no site or compute node named {name!r}")


def _site_gpus_to_compute(data: Any) -> Any:
    """Move each site's ``gpu`` into a co-located compute node ``<site>-gpu`` (raw data or objects)."""
    if not isinstance(data, dict) or not isinstance(data.get("sites"), list | tuple):
        return data
    sites, extra = [], []
    for i, site in enumerate(data["sites"]):
        if isinstance(site, Site) and site.gpu is not None:
            extra.append(ComputeNode(name=f"{site.name}-gpu", kind="site", site=site.name, gpu=site.gpu))
            site = site.model_copy(update={"gpu": None})
        elif isinstance(site, dict) and site.get("gpu") is not None and isinstance(site.get("name"), str):
            try:
                gpu = Gpu.model_validate(site["gpu"])
            except ValidationError as exc:
                raise ValueError(f"sites[{i}].gpu.{_describe(exc, Gpu)}") from None
            extra.append({"name": f"{site['name']}-gpu", "kind": "site", "site": site["name"], "gpu": gpu})
            site = {k: v for k, v in site.items() if k != "gpu"}
        sites.append(site)
    if not extra:
        return data
    compute = data.get("compute", ())
    if not isinstance(compute, list | tuple):
        return data  # the type check of `compute` reports it
    return {**data, "sites": sites, "compute": [*compute, *extra]}


def _check_references(topo: Topology) -> None:
    """Names, link ends and connectivity; raises ValueError("field.path: ...") for the first problem."""
    where: dict[str, str] = {}
    for field, items in (("sites", topo.sites), ("compute", topo.compute)):
        for i, item in enumerate(items):
            if item.name in where:
                raise ValueError(f"{field}[{i}].name: must be unique across sites and compute nodes, got "
                                 f"{item.name!r} (also {where[item.name]})")
            where[item.name] = f"{field}[{i}]"
    site_names = {s.name for s in topo.sites}
    implicit: set[frozenset[str]] = set()
    for j, c in enumerate(topo.compute):
        if c.kind == "site":
            if c.site not in site_names:
                raise ValueError(f"compute[{j}].site: must name a site, got {c.site!r}")
            implicit.add(frozenset((c.name, c.site)))
    pairs: dict[frozenset[str], int] = {}
    for k, link in enumerate(topo.links):
        for end in ("a", "b"):
            if getattr(link, end) not in where:
                raise ValueError(f"links[{k}].{end}: must name a site or compute node, got {getattr(link, end)!r}")
        if link.a == link.b:
            raise ValueError(f"links[{k}].b: must differ from a (no self-links), got {link.b!r}")
        pair = frozenset((link.a, link.b))
        if pair in implicit:
            raise ValueError(f"links[{k}].b: must not join a site and its co-located compute node (they are joined "
                             f"implicitly), got {link.a!r} - {link.b!r}")
        if pair in pairs:
            raise ValueError(f"links[{k}].b: must not repeat the pair of links[{pairs[pair]}], got "
                             f"{link.a!r} - {link.b!r}")
        pairs[pair] = k

    if not topo.links:
        for j, c in enumerate(topo.compute):
            if c.kind != "site":
                raise ValueError(f"compute[{j}].kind: must be \"site\" in a topology without links (nothing else "
                                 f"can be reached), got {c.kind!r}")
        return
    if not topo.compute:
        raise ValueError(f"sites[0]: must have a route to a compute node, got {topo.sites[0].name!r} (the "
                         "topology has links but no compute nodes)" if topo.sites else
                         "compute: must list at least one compute node in a topology with links")
    # connected components (union-find over links and implicit co-location links)
    parent = {name: name for name in where}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a, b in [tuple(p) for p in implicit] + [(lk.a, lk.b) for lk in topo.links]:
        parent[root(a)] = root(b)
    with_compute = {root(c.name) for c in topo.compute}
    for i, s in enumerate(topo.sites):
        if root(s.name) not in with_compute:
            raise ValueError(f"sites[{i}]: must have a route to a compute node, got {s.name!r} (no links reach one)")
    first = topo.sites[0].name if topo.sites else topo.compute[0].name
    for i, s in enumerate(topo.sites):
        if root(s.name) != root(first):
            raise ValueError(f"sites[{i}]: must be reachable from {first!r} through links, got {s.name!r} "
                             "(the graph is disconnected)")
    for j, c in enumerate(topo.compute):
        if root(c.name) != root(first):
            raise ValueError(f"compute[{j}]: must be reachable from {first!r} through links, got {c.name!r} "
                             "(the graph is disconnected)")


# ----------------------------------------------------------------------------
# Loading, dumping, built-ins
# ----------------------------------------------------------------------------


def load_topology(spec: str | Path, *, base_dir: Path | None = None) -> Topology:
    """A built-in topology by name (``"hex7"``), or a ``.toml`` / ``.graphml`` file.

    Parameters
    ----------
    spec : str or Path
        A built-in name (see :func:`builtin_topologies`) or a path; a relative path
        is taken against ``base_dir`` (default: the working directory).
    base_dir : Path, optional
        Folder relative paths are resolved against, e.g. the scenario file's.

    Raises
    ------
    TopologyError
        One line: unknown name, missing or unreadable file, or a file that does not validate.
    """
    text = str(spec)
    path = Path(spec)
    if isinstance(spec, str) and path.suffix == "" and "/" not in text and "\\" not in text:
        builtin = _builtin_dir() / f"{text}.toml"
        if not builtin.is_file():
            names = ", ".join(name for name, _ in builtin_topologies())
            raise TopologyError(f"unknown topology {text!r}; built-in: {names}; or give a .toml or .graphml file")
        return _load_toml_text(builtin.read_text(encoding="utf-8"), source=builtin.name)
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    if path.suffix not in (".toml", ".graphml"):
        raise TopologyError(f"{path}: a topology file must end in .toml or .graphml")
    if not path.is_file():
        raise TopologyError(f"{path}: no such topology file")
    if path.suffix == ".graphml":
        return read_graphml(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TopologyError(f"{path}: cannot read: {exc}") from None
    return _load_toml_text(text, source=path.name)


def _load_toml_text(text: str, *, source: str) -> Topology:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TopologyError(f"{source}: not valid TOML: {exc}") from None
    return topology_from_dict(raw, source=source)


def topology_from_dict(raw: dict[str, Any], *, source: str) -> Topology:
    """Validate raw (TOML-like) data into a :class:`Topology`; ``source`` names it in errors."""
    try:
        return Topology.model_validate(raw)
    except ValidationError as exc:
        raise TopologyError(f"{source}: {_describe(exc, Topology)}") from None


def dump_topology(topo: Topology) -> str:
    """The topology as TOML text; :func:`load_topology` of it gives an equal object.

    Fields left at their defaults are not written (site positions always are);
    ``gpu`` and ``base_station`` tables are written inline.
    """
    data = topo.model_dump(mode="python", exclude_none=True, exclude_defaults=True)
    # positions are written even where they are the default (0, 0), for readers of the file
    data["sites"] = [{"name": s.name, "x_m": s.x_m, "y_m": s.y_m, **item}
                     for s, item in zip(topo.sites, data.get("sites", ()), strict=True)]
    lines = [f"{key} = {_toml(data[key])}" for key in ("name", "description", "source") if key in data]
    for key in ("area", "wrap"):
        if key in data:
            lines += ["", f"[{key}]"] + [f"{k} = {_toml(v)}" for k, v in data[key].items()]
    for key in ("sites", "compute", "links", "roads"):
        for item in data.get(key, ()):
            lines += ["", f"[[{key}]]"] + [f"{k} = {_toml(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    """One TOML value (inline form) for the types a topology holds."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _toml_float(value)
    if isinstance(value, str):
        return '"' + "".join(_TOML_ESCAPES.get(ch, ch if ch >= " " and ch != "\x7f" else f"\\u{ord(ch):04x}")
                             for ch in value) + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _toml_float(value: float) -> str:
    """Shortest text that reads back as exactly ``value``: ``0.25``, ``1e10``, ``2.5e-05``."""
    text = repr(value)  # shortest round-trip digits; values are finite (allow_inf_nan=False)
    if "e" not in text and abs(value) >= 1e6:
        for digits in range(17):
            mantissa, exponent = f"{value:.{digits}e}".split("e")
            if float(f"{mantissa}e{exponent}") == value:
                return f"{mantissa}e{int(exponent)}"
    return text


_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def _builtin_dir() -> Path:
    """The folder of the built-in topology files.

    Installed, it is the package ``airan.topologies``; in a source checkout (where
    that package is the top-level ``topologies/`` folder, not importable from the
    tree) it is that folder.
    """
    try:
        from importlib.resources import files

        folder = files("airan.topologies")
        if folder.is_dir():
            return Path(str(folder))
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[1] / "topologies"


def builtin_topologies() -> list[tuple[str, str]]:
    """(name, description) of every built-in topology, in natural order (hex7 before hex19)."""
    out = []
    for path in _builtin_dir().glob("*.toml"):
        try:
            description = tomllib.loads(path.read_text(encoding="utf-8")).get("description", "")
        except (OSError, tomllib.TOMLDecodeError):
            description = "(unreadable)"
        out.append((path.stem, str(description)))
    return sorted(out, key=lambda row: _natural_key(row[0]))


def _natural_key(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


# ----------------------------------------------------------------------------
# networkx graphs and GraphML
# ----------------------------------------------------------------------------


def to_graph(topo: Topology) -> networkx.Graph:
    """The topology as an undirected networkx graph.

    Nodes are named as in the topology: sites (attribute ``kind = "bs"``) then
    compute nodes (``kind`` = site, edge, aggregation or cloud), each with ``x_m``,
    ``y_m`` (a co-located node at its site's position), ``index`` (position in
    ``topo.sites`` / ``topo.compute``) and its other non-empty fields; nested
    tables (``gpu``, ``base_station``) are JSON strings, so every attribute is a
    GraphML scalar. Edges are the listed links with ``latency_s`` (the link's
    ``delay_s``, the routing weight), ``capacity_bps``, ``index`` (position in
    ``topo.links``), ``a`` (the end named first), and ``kind`` / ``length_m`` when
    given; plus the implicit site - co-located node edges with ``kind =
    "colocated"``, ``latency_s = 0``, ``capacity_bps = inf`` and ``index = -1``.
    Graph attributes: ``name``, ``description``, ``source`` and, as JSON strings,
    ``area``, ``wrap`` and ``roads``.
    """
    import networkx as nx

    graph = nx.Graph()
    graph.graph.update({"name": topo.name, "description": topo.description, "source": topo.source})
    if topo.area is not None:
        graph.graph["area"] = json.dumps(topo.area.model_dump())
    if topo.wrap is not None:
        graph.graph["wrap"] = json.dumps(topo.wrap.model_dump())
    if topo.roads:
        graph.graph["roads"] = json.dumps([r.model_dump(mode="json") for r in topo.roads])
    for i, site in enumerate(topo.sites):
        attrs = _scalar_attrs(site.model_dump(exclude_none=True, exclude={"name"}))
        graph.add_node(site.name, kind=SITE_KIND, index=i, **attrs)
    for j, node in enumerate(topo.compute):
        attrs = _scalar_attrs(node.model_dump(exclude_none=True, exclude={"name", "x_m", "y_m"}))
        x_m, y_m = topo.node_xy_m(node.name)
        graph.add_node(node.name, index=j, x_m=float(x_m), y_m=float(y_m), **attrs)
    for node in topo.compute:
        if node.kind == "site":
            graph.add_edge(node.site, node.name, kind=COLOCATED_KIND, latency_s=0.0, capacity_bps=math.inf,
                           index=-1, a=node.site)
    for k, link in enumerate(topo.links):
        attrs = {"latency_s": float(link.delay_s), "capacity_bps": float(link.capacity_bps), "index": k, "a": link.a}
        if link.length_m is not None:
            attrs["length_m"] = float(link.length_m)
        if link.kind is not None:
            attrs["kind"] = link.kind
        graph.add_edge(link.a, link.b, **attrs)
    return graph


def _scalar_attrs(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: json.dumps(v) if isinstance(v, dict | list | tuple) else v for k, v in fields.items()}


#: Node and edge attributes :func:`to_graph` adds that are not topology fields.
_GRAPH_BOOKKEEPING = {"kind", "index"}


def from_graph(graph: networkx.Graph, *, name: str, source: str = "graphml") -> Topology:
    """A :class:`Topology` from a graph laid out as :func:`to_graph` makes it.

    Every node needs ``kind`` (``"bs"`` for a site, else a compute kind); sites
    need ``x_m`` and ``y_m``, and so do compute nodes other than kind ``"site"``.
    Edges need ``capacity_bps`` and ``latency_s`` or ``length_m`` (with
    ``length_m`` present, ``latency_s`` is taken as derived from it). Edges of kind
    ``"colocated"`` are the implicit ones and are skipped. Links keep the order of
    their ``index`` attribute where every edge has one, else the graph's edge
    order. Unknown attributes are errors.

    Parameters
    ----------
    graph : networkx.Graph
        The graph; its ``description`` and ``source`` attributes are used if present.
    name : str
        Topology name.
    source : str
        Names the graph in error messages, and is the topology's ``source`` when
        the graph has none.
    """
    raw: dict[str, Any] = {
        "name": name,
        "description": str(graph.graph.get("description", "")),
        "source": str(graph.graph.get("source", source)),
    }
    for key in ("area", "wrap", "roads"):
        if key in graph.graph:
            raw[key] = _json_attr(graph.graph[key], f"graph attribute {key}", source)
    # node_default / edge_default: GraphML defaults that networkx's reader adds
    unknown = set(graph.graph) - {"name", "description", "source", "area", "wrap", "roads", "node_default",
                                  "edge_default"}
    if unknown:
        raise TopologyError(f"{source}: graph attribute {sorted(unknown)[0]!r}: unknown; allowed: area, "
                            "description, name, roads, source, wrap")
    sites, compute = [], []
    site_fields, compute_fields = set(Site.model_fields), set(ComputeNode.model_fields)
    for node, attrs in graph.nodes(data=True):
        kind = attrs.get("kind")
        where = f"{source}: node {node!r}"
        if kind is None:
            raise TopologyError(f"{where}: attribute kind: required (\"bs\" for a site, or one of "
                                f"{', '.join(COMPUTE_KINDS)})")
        fields = {k: v for k, v in attrs.items() if k not in _GRAPH_BOOKKEEPING}
        allowed = site_fields if kind == SITE_KIND else compute_fields
        for key in fields:
            if key not in allowed:
                raise TopologyError(f"{where}: attribute {key!r}: unknown; allowed: {', '.join(sorted(allowed))}")
        for key in ("gpu", "base_station"):
            if key in fields:
                fields[key] = _json_attr(fields[key], f"node {node!r} attribute {key}", source)
        if kind == SITE_KIND:
            sites.append({"name": str(node), **fields})
        else:
            if kind == "site":  # its position is its site's
                fields.pop("x_m", None)
                fields.pop("y_m", None)
            compute.append({"name": str(node), "kind": kind, **fields})
    links = []
    edges = [(u, v, d) for u, v, d in graph.edges(data=True) if d.get("kind") != COLOCATED_KIND]
    if edges and all("index" in d for _, _, d in edges):
        edges.sort(key=lambda e: e[2]["index"])
    link_fields = set(Link.model_fields) | {"index"}
    for u, v, attrs in edges:
        for key in attrs:
            if key not in link_fields:
                raise TopologyError(f"{source}: edge {u!r} - {v!r}: attribute {key!r}: unknown; allowed: "
                                    f"{', '.join(sorted(link_fields))}")
        a, b = (str(u), str(v)) if attrs.get("a", u) == u else (str(v), str(u))
        link = {"a": a, "b": b, **{k: v for k, v in attrs.items() if k not in ("a", "b", "index")}}
        if "length_m" in link:
            link.pop("latency_s", None)
        links.append(link)
    raw.update(sites=sites, compute=compute, links=links)
    return topology_from_dict(raw, source=source)


def _json_attr(value: Any, what: str, source: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise TopologyError(f"{source}: {what}: must be a JSON string, got {value!r}") from None


def write_graphml(topo: Topology, path: str | Path) -> None:
    """Write the topology as GraphML (the graph of :func:`to_graph` without the implicit edges)."""
    import networkx as nx

    graph = to_graph(topo)
    graph.remove_edges_from([(u, v) for u, v, k in graph.edges(data="kind") if k == COLOCATED_KIND])
    nx.write_graphml(graph, str(path))


def read_graphml(path: str | Path) -> Topology:
    """Read a GraphML file written by :func:`write_graphml` (or laid out like it)."""
    import networkx as nx

    path = Path(path)
    try:
        graph = nx.read_graphml(str(path))
    except FileNotFoundError:
        raise TopologyError(f"{path}: no such topology file") from None
    except Exception as exc:  # networkx raises several types for malformed XML  # noqa: BLE001
        raise TopologyError(f"{path.name}: not valid GraphML: {' '.join(str(exc).split())}") from None
    return from_graph(graph, name=str(graph.graph.get("name", path.stem)), source=path.name)


# ----------------------------------------------------------------------------
# Routing
# ----------------------------------------------------------------------------


class Routes(NamedTuple):
    """Least-latency routes from every site to every compute node (:func:`routes`)."""

    gpu_node: np.ndarray  # int32[n_sites], index into topo.compute of the nearest node with a GPU (-1: none)
    latency_s: np.ndarray  # float64[n_sites, n_compute], one-way route latency, s (inf: unreachable)
    bottleneck: np.ndarray  # int32[n_sites, n_compute], index into topo.links of the smallest-capacity link (-1: none)
    hops: np.ndarray  # int32[n_sites, n_compute], listed links on the route
    capacity_bps: np.ndarray  # float64[n_links], capacity of each link in each direction, bit/s


def routes(topo: Topology) -> Routes:
    """Least-latency routes from each site to each compute node, as arrays.

    A route's latency is the sum of its links' ``delay_s`` (Dijkstra on the graph of
    :func:`to_graph`, weight ``latency_s``; a co-located node is 0 s away). Its
    bottleneck is the smallest-capacity listed link on it (ties: the first from the
    site); a transfer over the route gets at most that capacity. Each site's GPU node
    is the compute node with a GPU at the least latency (ties: the fewest links,
    then the lower index).
    Deterministic: ties between equal-latency paths are broken by networkx's
    Dijkstra in the graph's insertion order (sites, compute nodes, links in file
    order).
    """
    n_sites, n_compute = len(topo.sites), len(topo.compute)
    # float64[n_sites, n_compute], s
    latency = np.full((n_sites, n_compute), np.inf, dtype=np.float64)
    # int32[n_sites, n_compute], index into topo.links
    bottleneck = np.full((n_sites, n_compute), -1, dtype=np.int32)
    # int32[n_sites, n_compute], listed links on the route
    hops = np.zeros((n_sites, n_compute), dtype=np.int32)
    # float64[n_links], bit/s
    capacity = np.array([lk.capacity_bps for lk in topo.links], dtype=np.float64)
    if n_compute and not topo.links:
        # no transport links: a site reaches only the nodes co-located with it, 0 s and 0 links away
        # (what Dijkstra finds; this spares importing networkx for scenarios that list sites only)
        site_index = {site.name: i for i, site in enumerate(topo.sites)}
        for j, node in enumerate(topo.compute):
            if node.site is not None:
                latency[site_index[node.site], j] = 0.0
    elif n_compute:
        graph = to_graph(topo)
        for i, site in enumerate(topo.sites):
            dist, paths = _dijkstra(graph, site.name)
            for j, node in enumerate(topo.compute):
                if node.name not in dist:
                    continue
                latency[i, j] = dist[node.name]
                listed = _path_links(graph, paths[node.name])
                hops[i, j] = len(listed)
                if listed:
                    bottleneck[i, j] = min(listed, key=lambda k: capacity[k])  # min keeps the first of ties
    has_gpu = np.array([c.gpu is not None for c in topo.compute], dtype=bool)
    # int32[n_sites], index into topo.compute (-1: no GPU reachable)
    gpu_node = np.full(n_sites, -1, dtype=np.int32)
    if has_gpu.any():
        masked = np.where(has_gpu[None, :], latency, np.inf)
        for i in range(n_sites):
            # least latency; among equals the fewest links (a site's own GPU first), then the lower index
            j = min(range(n_compute), key=lambda j: (masked[i, j], hops[i, j], j))
            if np.isfinite(masked[i, j]):
                gpu_node[i] = j
    return Routes(gpu_node=gpu_node, latency_s=latency, bottleneck=bottleneck, hops=hops, capacity_bps=capacity)


def route_path(topo: Topology, site: str, node: str) -> list[str]:
    """Node names along the least-latency route from ``site`` to compute node ``node`` (both ends included)."""
    if site not in {s.name for s in topo.sites}:
        raise TopologyError(f"{topo.name}: no site named {site!r}")
    if node not in {c.name for c in topo.compute}:
        raise TopologyError(f"{topo.name}: no compute node named {node!r}")
    _, paths = _dijkstra(to_graph(topo), site)
    if node not in paths:
        raise TopologyError(f"{topo.name}: no route from {site!r} to {node!r}")
    return list(paths[node])


def _dijkstra(graph, source: str):
    import networkx as nx

    return nx.single_source_dijkstra(graph, source, weight="latency_s")


def _path_links(graph, path: list[str]) -> list[int]:
    """Indices into topo.links of the listed links along a path, from its start."""
    out = []
    for u, v in zip(path[:-1], path[1:], strict=True):
        k = graph.edges[u, v]["index"]
        if k >= 0:
            out.append(int(k))
    return out


# ----------------------------------------------------------------------------
# GPU placement
# ----------------------------------------------------------------------------


def apply_placement(topo: Topology, placement: str, gpu: Gpu | None) -> Topology:
    """The topology with its GPUs placed.

    Parameters
    ----------
    topo : Topology
    placement : str
        ``"topology"``: unchanged (``gpu`` must be None). ``"every_site"``: ``gpu`` at
        a compute node of kind ``"site"`` at every site (the first existing
        co-located node, or a new one named ``"<site>-gpu"``). ``"cluster"``: one
        such node per cluster, at the cluster's hub site; a site's cluster is its
        ``cluster`` label or, when absent, its least-latency aggregation node, and
        the hub is the member with the least total route latency to the other
        members (ties: the first in file order). ``"aggregation"`` / ``"cloud"``:
        ``gpu`` on every compute node of that kind. In every case but
        ``"topology"``, every other node's GPU is removed.
    gpu : airan.scenario.Gpu or None
        The GPU put at each chosen node; required except for ``"topology"``.

    Raises
    ------
    TopologyError
        Unknown placement, ``gpu`` missing or not allowed, no node of the kind asked
        for, or a site that belongs to no cluster.
    """
    if placement not in PLACEMENTS:
        raise TopologyError(f"placement: must be one of {', '.join(PLACEMENTS)}, got {placement!r}")
    if placement == "topology":
        if gpu is not None:
            raise TopologyError("gpu: only used with a placement other than \"topology\" (the topology's GPUs "
                                "are used)")
        return topo
    if gpu is None:
        raise TopologyError(f"gpu: required with placement = \"{placement}\"")
    compute = [c.model_copy(update={"gpu": None}) for c in topo.compute]
    if placement in ("aggregation", "cloud"):
        chosen = [j for j, c in enumerate(compute) if c.kind == placement]
        if not chosen:
            raise TopologyError(f"placement: topology {topo.name!r} has no compute node of kind "
                                f"\"{placement}\", got placement = \"{placement}\"")
        for j in chosen:
            compute[j] = compute[j].model_copy(update={"gpu": gpu})
    else:
        hubs = [s.name for s in topo.sites] if placement == "every_site" else _cluster_hubs(topo)
        for site in hubs:
            j = next((j for j, c in enumerate(compute) if c.kind == "site" and c.site == site), None)
            if j is None:
                compute.append(ComputeNode(name=f"{site}-gpu", kind="site", site=site, gpu=gpu))
            else:
                compute[j] = compute[j].model_copy(update={"gpu": gpu})
    data = topo.model_dump(exclude_none=True)
    data["compute"] = [c.model_dump(exclude_none=True) for c in compute]
    return topology_from_dict(data, source=topo.name)


def _cluster_hubs(topo: Topology) -> list[str]:
    """The hub site of each cluster, clusters in order of first appearance."""
    r = None
    aggregation = [j for j, c in enumerate(topo.compute) if c.kind == "aggregation"]
    clusters: dict[str, list[int]] = {}
    for i, site in enumerate(topo.sites):
        label = site.cluster
        if label is None:
            r = r if r is not None else routes(topo)
            lat = r.latency_s[i, aggregation] if aggregation else np.empty(0)
            if lat.size == 0 or not np.isfinite(lat.min()):
                raise TopologyError(f"placement: sites[{i}] ({site.name!r}) has no cluster label and no route to "
                                    "an aggregation node, got placement = \"cluster\"")
            label = topo.compute[aggregation[int(np.argmin(lat))]].name
        clusters.setdefault(label, []).append(i)
    graph = to_graph(topo) if topo.sites else None
    hubs = []
    for members in clusters.values():
        names = [topo.sites[i].name for i in members]
        totals = []
        for name in names:
            dist, _ = _dijkstra(graph, name)
            totals.append(sum(dist.get(other, math.inf) for other in names if other != name))
        best = min(totals)
        # ties within rounding (sums of the same latencies in another order): the first in file order
        hubs.append(next(n for n, t in zip(names, totals, strict=True)
                         if t == best or (math.isfinite(best) and t <= best * (1 + 1e-12) + 1e-15)))
    return hubs


# ----------------------------------------------------------------------------
# Hexagonal wrap-around
# ----------------------------------------------------------------------------


def hex_wrap_shifts_m(isd_m: float, rings: int) -> np.ndarray:
    """Translations that tile the plane with copies of a hexagonal cluster of ``rings`` rings.

    A cluster of ``N = 3R^2 + 3R + 1`` sites (R rings around a centre, on the lattice
    ``isd (i e1 + j e2)`` with ``e1 = (1, 0)``, ``e2 = (1/2, sqrt(3)/2)``) tiles the
    plane when translated by ``v = isd ((R+1) e1 + R e2)`` and its rotations by
    multiples of 60 deg, ``|v|^2 = N isd^2``. Wrap-around evaluates each device's
    link to the nearest of the 7 copies (original and 6 shifted) of every site, so
    the cells at the edge of the cluster see the interference of a full network
    (3GPP TR 36.814 Annex A.2.1, and the wrap-around of the hexagonal test
    environments of ITU-R M.2412-0).

    Parameters
    ----------
    isd_m : float
        Inter-site distance, m.
    rings : int
        Rings around the centre site (1: 7 sites, 2: 19, 3: 37).

    Returns
    -------
    numpy.ndarray
        float64[7, 2], m: ``(0, 0)`` then the six shifts, counter-clockwise.
    """
    if not (isd_m > 0 and math.isfinite(isd_m)):
        raise TopologyError(f"isd_m: must be > 0, got {isd_m!r}")
    if int(rings) != rings or rings < 1:
        raise TopologyError(f"rings: must be an integer >= 1, got {rings!r}")
    v = isd_m * np.array([(rings + 1) + rings / 2.0, rings * math.sqrt(3.0) / 2.0])
    out = np.zeros((7, 2), dtype=np.float64)
    for k in range(6):
        a = k * math.pi / 3.0
        out[k + 1] = (math.cos(a) * v[0] - math.sin(a) * v[1], math.sin(a) * v[0] + math.cos(a) * v[1])
    return out


# ----------------------------------------------------------------------------
# Generators
# ----------------------------------------------------------------------------
#
# Transport numbers used by the generators (see topologies/README.md):
#   sourced   fibre delay 5 us/km (FIBRE_M_PER_S; ITU-T G.652 group index ~1.47);
#   assumed   fibre route = rectilinear (|dx| + |dy|) distance, as ducts follow streets;
#   assumed   site backhaul 10 Gbit/s (a 10GE port), aggregation / edge uplink 100 Gbit/s;
#   assumed   regional cloud 5 ms one way from the aggregation / edge node (a data centre a
#             few hundred km away behind IP routers; ~10 ms round trip).

_BACKHAUL_BPS = 10e9
_UPLINK_BPS = 100e9
_CLOUD_LATENCY_S = 5e-3
_TRANSPORT_NOTE = ("transport: fibre 5 us/km along rectilinear routes; 10 Gbit/s site links, 100 Gbit/s uplinks "
                   "and a 5 ms one-way regional cloud are assumptions (topologies/README.md)")


def _check(kind: str, name: str, value: Any, ok: bool, allowed: str) -> None:
    if not ok:
        raise TopologyError(f"{kind}: {name}: must be {allowed}, got {value!r}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _fibre_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Assumed fibre route between two points: rectilinear distance, rounded to 1 m."""
    return float(round(abs(a[0] - b[0]) + abs(a[1] - b[1])))


def _cloud_node(area: dict[str, float]) -> dict[str, Any]:
    """The regional cloud, drawn below the area (its real position is far away; only latency counts)."""
    height = area["y_max_m"] - area["y_min_m"]
    return {"name": "cloud", "kind": "cloud", "x_m": 0.5 * (area["x_min_m"] + area["x_max_m"]),
            "y_m": area["y_min_m"] - 0.15 * height}


def _uplink(node: str, latency_s: float, capacity_bps: float) -> dict[str, Any]:
    return {"a": node, "b": "cloud", "latency_s": latency_s, "capacity_bps": capacity_bps, "kind": "transport"}


def _street_grid(xs: list[float], ys: list[float], area: dict[str, float], prefix: str = "") -> list[dict]:
    """Streets along x = xs and y = ys across the area, with a vertex at every crossing (so they connect)."""
    x0, x1, y0, y1 = area["x_min_m"], area["x_max_m"], area["y_min_m"], area["y_max_m"]
    roads = []
    for k, y in enumerate(ys):
        pts = sorted({x0, x1, *xs})
        roads.append({"name": f"{prefix}ew{k}", "points_m": [[x, y] for x in pts]})
    for k, x in enumerate(xs):
        pts = sorted({y0, y1, *ys})
        roads.append({"name": f"{prefix}ns{k}", "points_m": [[x, y] for y in pts]})
    return roads


def _hex_lattice(rings: int) -> list[tuple[int, int]]:
    """Axial coordinates (i, j) of the sites within ``rings`` of the centre.

    Ordered ring by ring, each ring counter-clockwise from east.
    """
    cells = []
    for i in range(-rings, rings + 1):
        for j in range(-rings, rings + 1):
            ring = max(abs(i), abs(j), abs(i + j))
            if ring <= rings:
                x, y = i + j / 2.0, j * math.sqrt(3.0) / 2.0
                angle = round(math.degrees(math.atan2(y, x)) % 360.0, 6) % 360.0
                cells.append((ring, angle, i, j))
    return [(i, j) for _, _, i, j in sorted(cells)]


def _hex_cluster_of(i: int, j: int) -> tuple[int, int]:
    """Centre (axial) of the 7-site cluster containing lattice point (i, j).

    Cluster centres form the lattice m (2, 1) + n (-1, 3) (the rings = 1 wrap-around
    lattice); every point is the centre or one of its 6 neighbours of exactly one.
    """
    for m in range(-6, 7):
        for n in range(-6, 7):
            ci, cj = 2 * m - n, m + 3 * n
            di, dj = i - ci, j - cj
            if max(abs(di), abs(dj), abs(di + dj)) <= 1:
                return ci, cj
    raise AssertionError("unreachable: 7-site clusters tile the lattice")  # pragma: no cover


def hex_grid(rings: int = 1, isd_m: float = 500.0, sectors: int = 3, environment: str = "UMa",
             height_m: float = 25.0, downtilt_deg: float = 12.0, road_spacing_m: float | None = None,
             backhaul_bps: float = _BACKHAUL_BPS, uplink_bps: float = _UPLINK_BPS,
             cloud_latency_s: float = _CLOUD_LATENCY_S, name: str | None = None) -> Topology:
    """A hexagonal grid of ``3R^2 + 3R + 1`` macro sites with wrap-around (7, 19 or 37 sites).

    Geometry: the TR 38.901 system-level layout (3GPP TR 38.901 V17 Sec. 7.8,
    Table 7.8-1: 19 sites x 3 sectors, UMa ISD 500 m, 25 m antennas, sector
    boresights 30, 150, 270 deg, electrical downtilt 102 deg in the LCS, i.e. 12 deg
    below the horizon; the urban macro test environments of ITU-R M.2135-1 and
    ITU-R M.2412-0: ISD 500 m; the dense-urban macro layer of M.2412 uses
    ``isd_m = 200``). Sites sit at ``isd (i e1 + j e2)``, ``e1 = (1, 0)``, ``e2 = (1/2,
    sqrt(3)/2)``, numbered ring by ring counter-clockwise from east. ``wrap`` is
    set (:func:`hex_wrap_shifts_m`); the area is the sites' hexagonal cells'
    bounding box (half an ISD east-west, ``isd / sqrt(3)`` north-south beyond the
    outermost sites).

    Transport (assumed, see the module notes): sites are grouped into 7-site
    clusters (the wrap-around tiling of the rings = 1 layout; outer rings give
    partial clusters), each cluster's sites are wired by fibre (rectilinear route)
    to one aggregation node ``aggN`` a quarter ISD south of the cluster's centroid,
    each aggregation node to the regional ``cloud``. Each site's ``cluster`` label
    is its aggregation node. Roads: a street grid every ``road_spacing_m``
    (default ISD / 2) through the centre site, across the area.

    No GPUs: choose them with :func:`apply_placement`.
    """
    kind = "hex_grid"
    _check(kind, "rings", rings, isinstance(rings, int) and 1 <= rings <= 6, "an integer from 1 to 6")
    _check(kind, "isd_m", isd_m, isd_m > 0, "> 0")
    _check(kind, "sectors", sectors, sectors in (1, 3), "1 or 3")
    spacing = isd_m / 2.0 if road_spacing_m is None else road_spacing_m
    _check(kind, "road_spacing_m", road_spacing_m, spacing > 0, "> 0")
    lattice = _hex_lattice(rings)
    xy = [(isd_m * (i + j / 2.0), isd_m * j * math.sqrt(3.0) / 2.0) for i, j in lattice]
    centres: list[tuple[int, int]] = []
    site_cluster = []
    for i, j in lattice:
        c = _hex_cluster_of(i, j)
        if c not in centres:
            centres.append(c)
        site_cluster.append(centres.index(c))
    xs, ys = [p[0] for p in xy], [p[1] for p in xy]
    area = {"x_min_m": min(xs) - isd_m / 2.0, "x_max_m": max(xs) + isd_m / 2.0,
            "y_min_m": min(ys) - isd_m / math.sqrt(3.0), "y_max_m": max(ys) + isd_m / math.sqrt(3.0)}
    sites = [{"name": f"s{n}", "x_m": x, "y_m": y, "height_m": height_m, "sectors": sectors,
              "downtilt_deg": downtilt_deg, "environment": environment, "cluster": f"agg{site_cluster[n]}"}
             for n, (x, y) in enumerate(xy)]
    compute, links = [], []
    for c in range(len(centres)):
        members = [n for n in range(len(xy)) if site_cluster[n] == c]
        cx = sum(xy[n][0] for n in members) / len(members)
        cy = sum(xy[n][1] for n in members) / len(members) - isd_m / 4.0
        compute.append({"name": f"agg{c}", "kind": "aggregation", "x_m": cx, "y_m": cy})
        links += [{"a": f"s{n}", "b": f"agg{c}", "length_m": _fibre_m(xy[n], (cx, cy)), "capacity_bps": backhaul_bps,
                   "kind": "backhaul"} for n in members]
    compute.append(_cloud_node(area))
    links += [_uplink(f"agg{c}", cloud_latency_s, uplink_bps) for c in range(len(centres))]
    n = len(xy)
    grid_x = [k * spacing for k in range(math.ceil(area["x_min_m"] / spacing),
                                         math.floor(area["x_max_m"] / spacing) + 1)]
    grid_y = [k * spacing for k in range(math.ceil(area["y_min_m"] / spacing),
                                         math.floor(area["y_max_m"] / spacing) + 1)]
    raw = {
        "name": name or f"hex{n}",
        "description": f"{n} {environment} sites x {sectors} sectors on a hexagonal grid, ISD {isd_m:g} m, "
                       f"wrap-around; {_count(len(centres), 'aggregation node')} and a regional cloud",
        "source": "geometry: 3GPP TR 38.901 Sec. 7.8 Table 7.8-1 (ISD 500 m, 25 m, 3 sectors, 12 deg tilt), "
                  f"ITU-R M.2412 wrap-around; {_TRANSPORT_NOTE}",
        "area": area,
        "wrap": {"isd_m": isd_m, "rings": rings},
        "sites": sites, "compute": compute, "links": links,
        "roads": _street_grid(grid_x, grid_y, area),
    }
    return topology_from_dict(raw, source=kind)


def manhattan(blocks_x: int = 4, blocks_y: int = 4, block_m: float = 200.0, street_m: float = 30.0,
              height_m: float = 10.0, cluster_size: int = 3, backhaul_bps: float = _BACKHAUL_BPS,
              uplink_bps: float = _UPLINK_BPS, cloud_latency_s: float = _CLOUD_LATENCY_S,
              name: str | None = None) -> Topology:
    """A Manhattan street grid with an omni UMi small cell at every street intersection.

    Geometry: square blocks of ``block_m`` separated by streets ``street_m`` wide
    (the Manhattan-grid outdoor-to-indoor and pedestrian test environment of
    ETSI TR 101 112 (UMTS 30.03) Annex B: 200 m blocks, 30 m streets, base
    stations below roof top), street centrelines at ``k (block_m + street_m)``; UMi street-canyon sites
    (3GPP TR 38.901 Table 7.2-1: 10 m antennas, ISD 200 m, here one per
    intersection, 230 m apart), omni. The area is the grid out to the outer
    streets' kerbs. Roads: the street centrelines, with a vertex at every
    intersection. Sites are labelled with clusters of ``cluster_size`` x
    ``cluster_size`` intersections.

    Transport (assumed, see the module notes): every site is wired by fibre along
    the streets to one ``edge`` node (a street cabinet / central office in the block
    next to the grid centre), which connects to the regional ``cloud``.

    No GPUs: choose them with :func:`apply_placement`.
    """
    kind = "manhattan"
    _check(kind, "blocks_x", blocks_x, isinstance(blocks_x, int) and blocks_x >= 1, "an integer >= 1")
    _check(kind, "blocks_y", blocks_y, isinstance(blocks_y, int) and blocks_y >= 1, "an integer >= 1")
    _check(kind, "block_m", block_m, block_m > 0, "> 0")
    _check(kind, "street_m", street_m, street_m > 0, "> 0")
    _check(kind, "cluster_size", cluster_size, isinstance(cluster_size, int) and cluster_size >= 1,
           "an integer >= 1")
    pitch = block_m + street_m
    grid_x = [k * pitch for k in range(blocks_x + 1)]
    grid_y = [k * pitch for k in range(blocks_y + 1)]
    area = {"x_min_m": -street_m / 2.0, "x_max_m": grid_x[-1] + street_m / 2.0,
            "y_min_m": -street_m / 2.0, "y_max_m": grid_y[-1] + street_m / 2.0}
    sites = []
    for j, y in enumerate(grid_y):
        for i, x in enumerate(grid_x):
            sites.append({"name": f"s{len(sites)}", "x_m": x, "y_m": y, "height_m": height_m, "sectors": 1,
                          "environment": "UMi", "cluster": f"c{i // cluster_size}{j // cluster_size}"})
    edge = (((blocks_x - 1) // 2 + 0.5) * pitch, ((blocks_y - 1) // 2 + 0.5) * pitch)
    compute = [{"name": "edge0", "kind": "edge", "x_m": edge[0], "y_m": edge[1]}, _cloud_node(area)]
    links = [{"a": s["name"], "b": "edge0", "length_m": _fibre_m((s["x_m"], s["y_m"]), edge),
              "capacity_bps": backhaul_bps, "kind": "backhaul"} for s in sites]
    links.append(_uplink("edge0", cloud_latency_s, uplink_bps))
    roads = _street_grid(grid_x, grid_y, {"x_min_m": grid_x[0], "x_max_m": grid_x[-1],
                                          "y_min_m": grid_y[0], "y_max_m": grid_y[-1]})
    raw = {
        "name": name or "manhattan",
        "description": f"{len(sites)} omni UMi small cells at the intersections of a {blocks_x} x {blocks_y} "
                       f"Manhattan grid ({block_m:g} m blocks, {street_m:g} m streets); an edge node and a cloud",
        "source": "geometry: ETSI TR 101 112 (UMTS 30.03) Annex B Manhattan grid (200 m blocks, 30 m "
                  f"streets), 3GPP TR 38.901 Table 7.2-1 UMi (10 m); {_TRANSPORT_NOTE}",
        "area": area, "sites": sites, "compute": compute, "links": links, "roads": roads,
    }
    return topology_from_dict(raw, source=kind)


def highway(length_m: float = 10000.0, isd_m: float = 1732.0, offset_m: float = 100.0, height_m: float = 35.0,
            sectors: int = 3, sites_per_aggregation: int = 3, backhaul_bps: float = _BACKHAUL_BPS,
            uplink_bps: float = _UPLINK_BPS, cloud_latency_s: float = _CLOUD_LATENCY_S,
            name: str | None = None) -> Topology:
    """Rural-macro sites along a straight highway.

    Geometry: the carriageway runs along y = 0 from x = 0 to ``length_m``; RMa sites
    (3GPP TR 38.901 Table 7.2-3: ISD 1732 m, 35 m antennas; ITU-R M.2135-1 rural
    macro: ISD 1732 m; the macro layer of the highway scenario of 3GPP TR 38.913
    Sec. 6.1) stand every ``isd_m`` at
    x = isd/2, 3 isd/2, ..., ``offset_m`` south of the road (the offset is an
    assumption), 3 sectors (boresights 30 and 150 deg face the road). The area
    extends half an ISD either side of the road. Roads: the carriageway.

    Transport (assumed, see the module notes): runs of ``sites_per_aggregation``
    consecutive sites share an aggregation node (by the road, ``2 offset_m`` south,
    at the run's mean x) wired by fibre; each aggregation node connects to the
    regional ``cloud``. Each site's ``cluster`` label is its aggregation node.

    No GPUs: choose them with :func:`apply_placement`.
    """
    kind = "highway"
    _check(kind, "length_m", length_m, length_m > 0, "> 0")
    _check(kind, "isd_m", isd_m, 0 < isd_m <= length_m, f"> 0 and <= length_m ({length_m!r})")
    _check(kind, "offset_m", offset_m, offset_m >= 0, ">= 0")
    _check(kind, "sectors", sectors, sectors in (1, 3), "1 or 3")
    _check(kind, "sites_per_aggregation", sites_per_aggregation,
           isinstance(sites_per_aggregation, int) and sites_per_aggregation >= 1, "an integer >= 1")
    n = max(1, math.ceil(length_m / isd_m - 0.5 - 1e-9))  # sites at (k + 1/2) isd < length
    xy = [((k + 0.5) * isd_m, -offset_m) for k in range(n)]
    area = {"x_min_m": 0.0, "x_max_m": length_m, "y_min_m": -isd_m / 2.0, "y_max_m": isd_m / 2.0}
    sites = [{"name": f"s{k}", "x_m": x, "y_m": y, "height_m": height_m, "sectors": sectors, "environment": "RMa",
              "cluster": f"agg{k // sites_per_aggregation}"} for k, (x, y) in enumerate(xy)]
    compute, links = [], []
    for g in range(math.ceil(n / sites_per_aggregation)):
        members = list(range(g * sites_per_aggregation, min(n, (g + 1) * sites_per_aggregation)))
        pos = (sum(xy[k][0] for k in members) / len(members), -2.0 * offset_m)
        compute.append({"name": f"agg{g}", "kind": "aggregation", "x_m": pos[0], "y_m": pos[1]})
        links += [{"a": f"s{k}", "b": f"agg{g}", "length_m": _fibre_m(xy[k], pos), "capacity_bps": backhaul_bps,
                   "kind": "backhaul"} for k in members]
    compute.append(_cloud_node(area))
    links += [_uplink(c["name"], cloud_latency_s, uplink_bps) for c in compute if c["kind"] == "aggregation"]
    raw = {
        "name": name or "highway",
        "description": f"{n} RMa sites x {sectors} sectors along a {length_m / 1000:g} km straight highway, "
                       f"ISD {isd_m:g} m; aggregation nodes and a cloud",
        "source": "geometry: 3GPP TR 38.901 Table 7.2-3 RMa (ISD 1732 m, 35 m), TR 38.913 Sec. 6.1 highway "
                  f"scenario; site offset from the road assumed; {_TRANSPORT_NOTE}",
        "area": area, "sites": sites, "compute": compute, "links": links,
        "roads": [{"name": "carriageway", "points_m": [[0.0, 0.0], [length_m, 0.0]]}],
    }
    return topology_from_dict(raw, source=kind)


def indoor(length_m: float = 120.0, width_m: float = 50.0, isd_m: float = 20.0, height_m: float = 3.0,
           sectors: int = 3, downtilt_deg: float = 20.0, lan_bps: float = _BACKHAUL_BPS,
           uplink_bps: float = _BACKHAUL_BPS, cloud_latency_s: float = _CLOUD_LATENCY_S,
           name: str | None = None) -> Topology:
    """An indoor office floor: 12 ceiling-mounted sites, 20 m apart, in a 120 m x 50 m hall.

    Geometry: 3GPP TR 38.901 Table 7.2-2 (indoor office, InH: 120 m x 50 m, ISD
    20 m, 12 sites, 3 m ceiling height) and the calibration layout of Table 7.8-1
    (3 sectors per site, boresights 30, 150, 270 deg; electrical tilt 110 deg in the
    LCS, i.e. 20 deg below the horizon): ``round(length / isd)`` x ``round(width /
    isd)`` sites centred in the hall. The area is the hall, corner at (0, 0).
    Roads (an assumption; the layout has no walls): a corridor along the hall's
    length at mid-width and cross corridors every ISD, for walking users. Sites are
    labelled with two clusters, west and east half.

    Transport (assumed): every site is cabled (LAN, ``lan_bps``, rectilinear route)
    to an on-premise ``edge`` server room at the hall's centre, which reaches the
    regional ``cloud`` over a ``uplink_bps`` enterprise uplink.

    No GPUs: choose them with :func:`apply_placement` (e.g. ``"every_site"`` or
    ``"cloud"``; the edge server takes a GPU by editing the file).
    """
    kind = "indoor"
    for field, value in (("length_m", length_m), ("width_m", width_m), ("isd_m", isd_m)):
        _check(kind, field, value, value > 0, "> 0")
    _check(kind, "sectors", sectors, sectors in (1, 3), "1 or 3")
    nx_, ny_ = max(1, round(length_m / isd_m)), max(1, round(width_m / isd_m))
    xs = [length_m / 2.0 + (i - (nx_ - 1) / 2.0) * isd_m for i in range(nx_)]
    ys = [width_m / 2.0 + (j - (ny_ - 1) / 2.0) * isd_m for j in range(ny_)]
    sites = [{"name": f"s{j * nx_ + i}", "x_m": x, "y_m": y, "height_m": height_m, "sectors": sectors,
              "downtilt_deg": downtilt_deg if sectors == 3 else 0.0, "environment": "InH",
              "cluster": "west" if x < length_m / 2.0 else "east"}
             for j, y in enumerate(ys) for i, x in enumerate(xs)]
    edge = (length_m / 2.0, width_m / 2.0)
    area = {"x_min_m": 0.0, "x_max_m": length_m, "y_min_m": 0.0, "y_max_m": width_m}
    compute = [{"name": "edge0", "kind": "edge", "x_m": edge[0], "y_m": edge[1]}, _cloud_node(area)]
    links = [{"a": s["name"], "b": "edge0", "length_m": _fibre_m((s["x_m"], s["y_m"]), edge),
              "capacity_bps": lan_bps, "kind": "backhaul"} for s in sites]
    links.append(_uplink("edge0", cloud_latency_s, uplink_bps))
    cross = [k * isd_m for k in range(1, math.ceil(length_m / isd_m)) if k * isd_m < length_m]
    roads = [{"name": "corridor", "points_m": [[x, width_m / 2.0] for x in sorted({0.0, length_m, *cross})]}]
    roads += [{"name": f"cross{k}", "points_m": [[x, 0.0], [x, width_m / 2.0], [x, width_m]]}
              for k, x in enumerate(cross)]
    raw = {
        "name": name or "indoor",
        "description": f"indoor office {length_m:g} m x {width_m:g} m, {len(sites)} InH sites x {sectors} "
                       f"sectors at {isd_m:g} m, on-premise edge server, corridors",
        "source": "geometry: 3GPP TR 38.901 Table 7.2-2 indoor office (120 m x 50 m, ISD 20 m, 12 sites, 3 m), "
                  "Table 7.8-1 (3 sectors, 20 deg tilt); corridors assumed; transport: 10 Gbit/s LAN along "
                  "rectilinear routes, a 10 Gbit/s uplink and a 5 ms one-way regional cloud are assumptions "
                  "(topologies/README.md)",
        "area": area, "sites": sites, "compute": compute, "links": links, "roads": roads,
    }
    return topology_from_dict(raw, source=kind)


def hetnet(small_cells: int = 4, isd_m: float = 500.0, small_radius_m: float | None = None,
           small_tx_power_dbm: float = 30.0, small_height_m: float = 10.0, backhaul_bps: float = _BACKHAUL_BPS,
           uplink_bps: float = _UPLINK_BPS, cloud_latency_s: float = _CLOUD_LATENCY_S,
           name: str | None = None) -> Topology:
    """Seven UMa macro sites with ``small_cells`` UMi small cells around each (a heterogeneous network).

    Geometry: the macro layer is :func:`hex_grid` with one ring (TR 38.901 Table
    7.8-1: ISD 500 m, 25 m, 3 sectors, 12 deg tilt; wrap-around). Small cells
    follow 3GPP TR 36.872 Sec. 4 / Annex A and TR 36.814 Annex A.2.1.1.2
    (pico / small cells of 24 or 30 dBm per 10 MHz carrier against the macro's
    46 dBm, 10 m antennas, omni, at least 75 m from the macro and 40 m from each
    other): here ``small_tx_power_dbm`` (default 30 dBm), evenly on a circle of
    ``small_radius_m`` (default ISD / 3) around their macro site starting at 90 deg
    (between two sector boresights), not dropped at random as in the TRs. Each
    small cell's ``cluster`` is its macro site; environment UMi for small cells,
    UMa for macro sites (whose transmit power is the band's).

    Transport (assumed): each small cell is wired by fibre to its macro site (a
    hub), each macro site to one aggregation node ``agg0`` south of the centre
    site, which connects to the regional ``cloud``.

    No GPUs: choose them with :func:`apply_placement`.
    """
    kind = "hetnet"
    _check(kind, "small_cells", small_cells, isinstance(small_cells, int) and small_cells >= 0, "an integer >= 0")
    _check(kind, "isd_m", isd_m, isd_m > 0, "> 0")
    radius = isd_m / 3.0 if small_radius_m is None else small_radius_m
    _check(kind, "small_radius_m", small_radius_m, 0 < radius < isd_m / 2.0, f"> 0 and < isd_m / 2 ({isd_m / 2:g})")
    macro = hex_grid(rings=1, isd_m=isd_m)
    area = macro.area.model_dump()
    sites, links = [], []
    agg = (0.0, -isd_m / 4.0)
    for m in macro.sites:
        sites.append({**m.model_dump(exclude_none=True), "cluster": m.name})
        links.append({"a": m.name, "b": "agg0", "length_m": _fibre_m((m.x_m, m.y_m), agg),
                      "capacity_bps": backhaul_bps, "kind": "backhaul"})
        for k in range(small_cells):
            angle = math.radians(90.0 + 360.0 * k / small_cells)
            pos = (m.x_m + radius * math.cos(angle), m.y_m + radius * math.sin(angle))
            sc = f"{m.name}-sc{k}"
            sites.append({"name": sc, "x_m": pos[0], "y_m": pos[1], "height_m": small_height_m, "sectors": 1,
                          "environment": "UMi", "tx_power_dbm": small_tx_power_dbm, "cluster": m.name})
            links.append({"a": sc, "b": m.name, "length_m": _fibre_m(pos, (m.x_m, m.y_m)),
                          "capacity_bps": backhaul_bps, "kind": "backhaul"})
    compute = [{"name": "agg0", "kind": "aggregation", "x_m": agg[0], "y_m": agg[1]}, _cloud_node(area)]
    links.append(_uplink("agg0", cloud_latency_s, uplink_bps))
    raw = {
        "name": name or "hetnet",
        "description": f"7 UMa macro sites x 3 sectors (ISD {isd_m:g} m) with {small_cells} UMi small cells "
                       f"({small_tx_power_dbm:g} dBm) each; an aggregation node and a cloud",
        "source": "geometry: 3GPP TR 38.901 Table 7.8-1 macro layer; small cells per TR 36.872 Sec. 4 / "
                  "TR 36.814 Annex A.2.1.1.2 (24-30 dBm, 10 m), placed on a ring (not dropped at random); "
                  f"{_TRANSPORT_NOTE}",
        "area": area, "wrap": macro.wrap.model_dump(), "sites": sites, "compute": compute, "links": links,
        "roads": [r.model_dump() for r in macro.roads],
    }
    return topology_from_dict(raw, source=kind)


def poisson(sites_per_km2: float = 10.0, width_m: float = 2000.0, height_m: float = 2000.0, seed: int = 1,
            aggregation_spacing_m: float = 1000.0, environment: str = "UMa", sectors: int = 1,
            road_spacing_m: float = 250.0, backhaul_bps: float = _BACKHAUL_BPS, uplink_bps: float = _UPLINK_BPS,
            cloud_latency_s: float = _CLOUD_LATENCY_S, name: str | None = None) -> Topology:
    """Sites as a homogeneous Poisson point process (PPP) in a ``width_m`` x ``height_m`` rectangle.

    The number of sites is Poisson with mean ``lambda A`` (``lambda =
    sites_per_km2``, ``A`` the area in km^2) and, given the number, positions are
    i.i.d. uniform over the area: the stochastic-geometry model of cellular
    networks (J. G. Andrews, F. Baccelli and R. K. Ganti, "A tractable approach to
    coverage and rate in cellular networks", IEEE Trans. Commun. 59(11), 2011).
    Drawn with ``numpy.random.default_rng(seed)`` (count, then x, then y);
    positions are rounded to 0.1 m. Sites are omni (``sectors = 1``) by default.

    Transport (assumed): aggregation nodes at the centres of a grid of cells about
    ``aggregation_spacing_m`` wide; every site is wired by fibre to its nearest
    aggregation node (ties: the lower index), every aggregation node to the regional
    ``cloud``; the site's ``cluster`` label is that node. Roads: a street grid every
    ``road_spacing_m``.

    No GPUs: choose them with :func:`apply_placement`.
    """
    kind = "poisson"
    _check(kind, "sites_per_km2", sites_per_km2, sites_per_km2 >= 0, ">= 0")
    for field, value in (("width_m", width_m), ("height_m", height_m),
                         ("aggregation_spacing_m", aggregation_spacing_m), ("road_spacing_m", road_spacing_m)):
        _check(kind, field, value, value > 0, "> 0")
    _check(kind, "seed", seed, isinstance(seed, int) and seed >= 0, "an integer >= 0")
    _check(kind, "sectors", sectors, sectors in (1, 3), "1 or 3")
    rng = np.random.default_rng(seed)
    n = int(rng.poisson(sites_per_km2 * width_m * height_m / 1e6))
    x = np.round(rng.uniform(0.0, width_m, n), 1)
    y = np.round(rng.uniform(0.0, height_m, n), 1)
    area = {"x_min_m": 0.0, "x_max_m": width_m, "y_min_m": 0.0, "y_max_m": height_m}
    gx, gy = max(1, round(width_m / aggregation_spacing_m)), max(1, round(height_m / aggregation_spacing_m))
    agg = [((i + 0.5) * width_m / gx, (j + 0.5) * height_m / gy) for j in range(gy) for i in range(gx)]
    compute = [{"name": f"agg{k}", "kind": "aggregation", "x_m": p[0], "y_m": p[1]} for k, p in enumerate(agg)]
    compute.append(_cloud_node(area))
    sites, links = [], []
    agg_xy = np.array(agg, dtype=np.float64)
    for k in range(n):
        pos = (float(x[k]), float(y[k]))
        nearest = int(np.argmin(np.hypot(agg_xy[:, 0] - pos[0], agg_xy[:, 1] - pos[1])))
        sites.append({"name": f"s{k}", "x_m": pos[0], "y_m": pos[1], "sectors": sectors, "environment": environment,
                      "cluster": f"agg{nearest}"})
        links.append({"a": f"s{k}", "b": f"agg{nearest}", "length_m": _fibre_m(pos, agg[nearest]),
                      "capacity_bps": backhaul_bps, "kind": "backhaul"})
    links += [_uplink(f"agg{k}", cloud_latency_s, uplink_bps) for k in range(len(agg))]
    grid_x = [k * road_spacing_m for k in range(int(math.floor(width_m / road_spacing_m + 1e-9)) + 1)]
    grid_y = [k * road_spacing_m for k in range(int(math.floor(height_m / road_spacing_m + 1e-9)) + 1)]
    raw = {
        "name": name or "poisson",
        "description": f"{n} {environment} sites as a Poisson point process, {sites_per_km2:g} per km^2 over "
                       f"{width_m:g} m x {height_m:g} m (seed {seed}); {_count(len(agg), 'aggregation node')} "
                       "and a cloud",
        "source": "geometry: homogeneous PPP (Andrews, Baccelli, Ganti, IEEE Trans. Commun. 59(11), 2011); "
                  f"{_TRANSPORT_NOTE}",
        "area": area, "sites": sites, "compute": compute, "links": links,
        "roads": _street_grid(grid_x, grid_y, area),
    }
    return topology_from_dict(raw, source=kind)


#: Generators by name (``generate(kind, ...)``, ``airan topology generate KIND``).
GENERATORS: dict[str, Callable[..., Topology]] = {
    "hex_grid": hex_grid,
    "manhattan": manhattan,
    "highway": highway,
    "indoor": indoor,
    "hetnet": hetnet,
    "poisson": poisson,
}

#: The built-in topology files in ``topologies/``: file name -> (generator, parameters).
#: ``topologies/generate.py`` writes them; a test checks they are current.
BUILTIN_SPECS: dict[str, tuple[str, dict[str, Any]]] = {
    "hex7": ("hex_grid", {"rings": 1}),
    "hex19": ("hex_grid", {"rings": 2}),
    "hex37": ("hex_grid", {"rings": 3}),
    "manhattan": ("manhattan", {}),
    "highway": ("highway", {}),
    "indoor": ("indoor", {}),
    "hetnet": ("hetnet", {}),
    "poisson_example": ("poisson", {"sites_per_km2": 10.0, "width_m": 2000.0, "height_m": 2000.0, "seed": 1,
                                    "name": "poisson_example"}),
}


def generate(kind: str, **params: Any) -> Topology:
    """Call the generator named ``kind`` with ``params``, checking names and types first.

    An integer is accepted for a float parameter; anything else must match the
    type of the parameter's default (a parameter defaulting to None takes a number).

    Raises
    ------
    TopologyError
        One line: unknown generator, unknown parameter, wrong type, or out of range.
    """
    if kind not in GENERATORS:
        raise TopologyError(f"unknown topology generator {kind!r}; available: {', '.join(GENERATORS)}")
    func = GENERATORS[kind]
    signature = inspect.signature(func)
    checked = {}
    for key, value in params.items():
        if key not in signature.parameters:
            raise TopologyError(f"{kind}: unknown parameter {key!r}; allowed: {', '.join(signature.parameters)}")
        default = signature.parameters[key].default
        if isinstance(default, bool) or isinstance(value, bool):
            ok = isinstance(default, bool) and isinstance(value, bool)
            want = "true or false"
        elif isinstance(default, int):
            ok, want = isinstance(value, int), "an integer"
        elif isinstance(default, float) or (default is None and key != "name"):
            ok, want = isinstance(value, int | float), "a number"
            value = float(value) if ok else value
        else:
            ok, want = isinstance(value, str), "a string"
        if ok and isinstance(value, float) and not math.isfinite(value):
            ok, want = False, "a finite number"
        if not ok:
            raise TopologyError(f"{kind}: {key}: must be {want}, got {_scenario._toml_type(value)} {value!r}")
        checked[key] = value
    return func(**checked)


# ----------------------------------------------------------------------------
# Error messages (the wording of airan.scenario, rooted at the model being validated)
# ----------------------------------------------------------------------------


def _describe(exc: ValidationError, root: type[BaseModel]) -> str:
    """One line for the first error, worded as :func:`airan.scenario._describe` against ``root``."""
    return _scenario._describe(exc, root)
