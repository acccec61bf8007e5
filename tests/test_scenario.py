"""Scenario files: validation, one-line errors, overrides, resolved round trip."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w
from pydantic import ValidationError

import airan
from airan.scenario import ScenarioError, apply_overrides, dump_scenario, load_scenario, scenario_from_dict

QUICKSTART = Path(__file__).resolve().parents[1] / "experiments" / "quickstart.toml"


def minimal() -> dict:
    return {
        "simulation": {"duration_s": 10.0},
        "sites": [{"name": "bs", "gpu": {"servers": 1, "flops_per_s": 1e12}}],
        "workloads": [{"name": "w", "flops": 1e9, "input_bytes": 1000, "output_bytes": 100, "deadline_s": 0.1}],
        "devices": [{
            "name": "d", "count": 2, "workload": "w", "rate_hz": 1.0, "compute_flops_per_s": 1e11,
            "power_idle_w": 0.1, "power_compute_w": 2.0, "power_tx_w": 1.0, "power_rx_w": 0.5,
            "battery_wh": 10.0, "uplink_bps": 1e7, "downlink_bps": 1e8,
        }],
    }


def error_of(raw: dict, overrides=()) -> str:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(apply_overrides(raw, list(overrides), source="s.toml"), source="s.toml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("s.toml: ")
    return message


def test_minimal_scenario_fills_documented_defaults():
    sc = scenario_from_dict(minimal())
    assert sc.policy.name == "offload"
    assert sc.channel.model == "ideal"
    assert sc.simulation.seed == 1 and sc.simulation.warmup_s == 0.0
    assert sc.sites[0].gpu.service == "deterministic"
    assert sc.sites[0].gpu.queue_capacity is None and sc.sites[0].gpu.on_full == "drop"
    assert sc.devices[0].arrival == "poisson" and sc.devices[0].initial_charge == 1.0


def test_every_field_documents_itself():
    from airan import scenario as mod

    for model in (mod.Gpu, mod.Site, mod.Workload, mod.DeviceGroup, mod.Channel, mod.Policy, mod.Simulation):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


@pytest.mark.parametrize(
    "override, expected",
    [
        ("sites.0.gpu.servers=0", "sites[0].gpu.servers: must be >= 1, got 0"),
        ("devices.0.rate_hz=-2.0", "devices[0].rate_hz: must be > 0, got -2.0"),
        ("devices.0.initial_charge=1.5", "devices[0].initial_charge: must be >= 0 and <= 1, got 1.5"),
        ("devices.0.count=2.5", "devices[0].count: must be an integer, got float 2.5"),
        ('simulation.duration_s="long"', "simulation.duration_s: must be a number, got string 'long'"),
        ("simulation.duration_s=inf", "simulation.duration_s: must be a finite number"),
        ("simulation.bogus=1",
         "simulation.bogus: unknown key; allowed keys here: duration_s, sample_s, seed, warmup_s"),
        ("sites.0.gpu.service=fast", "sites[0].gpu.service: must be one of 'deterministic' or 'exponential'"),
        ("devices.0.workload=nope", "devices[0].workload: must be one of w, got 'nope'"),
        ('devices.0.sites=["nowhere"]', "devices[0].sites[0]: must be one of bs, got 'nowhere'"),
        ("simulation.warmup_s=20.0", "simulation.warmup_s: must be < duration_s"),
        ('workloads.0.name="w2"', "devices[0].workload: must be one of w2, got 'w'"),
        ("sites[9].x_m=1.0", "sites[9]: no such list item (the list has 1)"),
    ],
)
def test_bad_values_give_one_line_naming_file_field_and_allowed(override, expected):
    assert expected in error_of(minimal(), [override])


def test_missing_required_value_is_named():
    raw = minimal()
    del raw["devices"][0]["battery_wh"]
    assert error_of(raw).endswith("devices[0].battery_wh: required value is missing")
    raw = minimal()
    del raw["simulation"]
    assert "simulation: required value is missing" in error_of(raw)


def test_duplicate_names_are_rejected():
    raw = minimal()
    raw["sites"].append(dict(raw["sites"][0]))
    assert "sites[1].name: must be unique, got duplicate 'bs'" in error_of(raw)


def test_unknown_top_level_key_is_rejected():
    raw = minimal()
    raw["polcy"] = {"name": "local"}
    assert "polcy: unknown key" in error_of(raw)


def test_override_values_are_parsed_as_toml_and_validated_like_the_file():
    raw = minimal()
    edited = apply_overrides(raw, ["sites[0].gpu.servers=4", "policy.name=local", "devices.0.rate_hz=2.5"], source="s")
    sc = scenario_from_dict(edited)
    assert sc.sites[0].gpu.servers == 4 and sc.policy.name == "local" and sc.devices[0].rate_hz == 2.5
    assert raw["sites"][0]["gpu"]["servers"] == 1  # the input is not modified
    # a quoted number stays a string and is rejected as one
    assert "must be an integer, got string '4'" in error_of(minimal(), ['sites.0.gpu.servers="4"'])


def test_one_parse_of_a_file_serves_many_scenarios_like_loading_each(tmp_path):
    """A sweep parses its base file once: each point from that data equals loading the file with its overrides."""
    (tmp_path / "arrivals.csv").write_text("t_s\n0.5\n1.5\n")
    raw = minimal()
    raw["devices"][0].update(arrival="trace", trace_file="arrivals.csv")
    del raw["devices"][0]["rate_hz"]
    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(raw))
    data = airan.scenario.read_scenario_file(path)
    before = tomllib.loads(path.read_text())
    for servers in (1, 3):
        overrides = [f"sites.0.gpu.servers={servers}"]
        built = airan.scenario.scenario_from_file_data(data, path, overrides)
        assert built == load_scenario(path, overrides)
        assert built.sites[0].gpu.servers == servers
        assert Path(built.devices[0].trace_file) == (tmp_path / "arrivals.csv").resolve()
    assert data == before  # the parsed data is left as read: the next point starts from the file again


def test_override_without_equals_sign_is_an_error():
    with pytest.raises(ScenarioError, match="must be dotted.path=value"):
        apply_overrides(minimal(), ["sites.0.gpu.servers"], source="s")


def test_resolved_scenario_round_trips_exactly():
    sc = load_scenario(QUICKSTART)
    text = dump_scenario(sc)
    again = scenario_from_dict(tomllib.loads(text))
    assert again == sc
    # every default is written out, so the file alone reproduces the run
    assert 'service = "deterministic"' in text and "initial_charge = 1.0" in text


def test_load_scenario_reports_file_problems(tmp_path):
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[simulation\nduration_s = 1\n")
    with pytest.raises(ScenarioError, match="bad.toml: not valid TOML"):
        load_scenario(bad)


def test_scenario_objects_are_frozen():
    sc = scenario_from_dict(minimal())
    with pytest.raises(ValidationError, match="frozen"):
        sc.simulation.duration_s = 5.0  # type: ignore[misc]


def test_public_api_exports():
    for name in ("load_scenario", "scenario_from_dict", "run", "Simulation", "Result", "ScenarioError"):
        assert hasattr(airan, name)


def test_scenario_reference_document_is_current():
    from airan.scenario import reference_markdown

    doc = (Path(__file__).resolve().parents[1] / "docs" / "scenario.md").read_text()
    assert doc.strip() == reference_markdown().strip(), "regenerate with: airan reference > docs/scenario.md"


def test_a_catalog_workload_fills_its_fields_and_its_groups_arrivals():
    from airan.workloads import workload_profile

    base = {"simulation": {"duration_s": 10.0}, "sites": [{"name": "a"}]}
    group = {"name": "cams", "count": 1, "profile": "smartphone", "workload": "det", "uplink_bps": 5e7,
             "downlink_bps": 1e8}
    row = workload_profile("detect_yolov8n_640")
    sc = airan.scenario_from_dict({**base, "workloads": [{"name": "det", "catalog": "detect_yolov8n_640",
                                                          "deadline_s": 0.05}], "devices": [group]})
    w, g = sc.workloads[0], sc.devices[0]
    assert (w.flops, w.input_bytes, w.output_bytes) == (row.flops, row.input_bytes, row.output_bytes)
    assert w.deadline_s == 0.05  # a field given overrides the row
    assert (g.arrival, g.rate_hz, g.jitter_s) == (row.arrival, row.rate_hz, row.jitter_s)
    # a group with its own arrival keeps it (and then gives its own rate)
    sc = airan.scenario_from_dict({**base, "workloads": [{"name": "det", "catalog": "detect_yolov8n_640"}],
                                   "devices": [{**group, "arrival": "poisson", "rate_hz": 2.0}]})
    assert (sc.devices[0].arrival, sc.devices[0].rate_hz, sc.devices[0].jitter_s) == ("poisson", 2.0, 0.0)
    # the resolved scenario reads back the same
    assert airan.scenario_from_dict(tomllib.loads(dump_scenario(sc))) == sc
    with pytest.raises(airan.ScenarioError, match=r"workloads\[0\]\.catalog: unknown workload profile 'x'"):
        airan.scenario_from_dict({**base, "workloads": [{"name": "det", "catalog": "x"}], "devices": [group]})
