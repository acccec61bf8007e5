"""Profile tables: they load, every number has a source, derived numbers recompute, EARTH
full-load powers match Auer et al. (2011), unknown names give one-line errors, the docs
are current."""

from __future__ import annotations

import ast
import copy
import math
import re
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from airan import profiles
from airan.profiles import (
    AcceleratorProfile,
    BaseStationProfile,
    DeviceProfile,
    ProfileError,
    UnknownProfileError,
    accelerator_profile,
    base_station_profile,
    device_profile,
    load_profiles,
    profiles_from_dict,
    profiles_markdown,
)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "profiles.md"
TAG = re.compile(r"\((V|C|R|A)(\)|[ ;,][^()]*\))\s*$")

# 2 FLOP per multiply-accumulate x torchvision's "GFLOPS 4.09" (MACs) for ResNet-50 at 224x224
RESNET50_FLOP = 2 * 4.09e9


def raw_tables() -> dict:
    text = (resources.files("airan") / "data" / "profiles.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def one_line_error(raw: dict) -> str:
    with pytest.raises(ProfileError) as info:
        profiles_from_dict(raw, source="p.toml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("p.toml: ")
    return message


def all_rows(tables):
    """(path, row) for every row with numbers, device accelerators included."""
    for name, row in tables.devices.items():
        yield f"devices.{name}", row
        for kind, accelerator in row.accelerators.items():
            yield f"devices.{name}.accelerators.{kind}", accelerator
    for name, row in tables.accelerators.items():
        yield f"accelerators.{name}", row
    for name, row in tables.base_stations.items():
        yield f"base_stations.{name}", row


def safe_eval(expression: str) -> float:
    """Independent of airan: the formula must be plain arithmetic of number literals."""
    tree = ast.parse(expression, mode="eval")
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Add, ast.Sub, ast.Mult, ast.Div,
               ast.Pow, ast.USub, ast.UAdd)
    assert all(isinstance(node, allowed) for node in ast.walk(tree)), expression
    return float(eval(compile(tree, "<formula>", "eval"), {"__builtins__": {}}))


# ----------------------------------------------------------------------------
# Loading and validation
# ----------------------------------------------------------------------------


def test_package_file_loads_and_validates():
    tables = load_profiles()
    assert {"smartphone", "ar_glasses", "service_robot", "vehicle_computer", "iot_camera"} <= set(tables.devices)
    assert {"b200", "h100", "h200", "l4", "rtx_pro_6000_blackwell", "jetson_agx_orin", "jetson_orin_nx"} <= set(
        tables.accelerators)
    assert set(tables.base_stations) == {"macro", "rrh", "micro", "pico", "femto"}
    assert isinstance(device_profile("smartphone"), DeviceProfile)
    assert isinstance(accelerator_profile("h100"), AcceleratorProfile)
    assert isinstance(base_station_profile("macro"), BaseStationProfile)
    # the same objects behind the mappings and the lookup functions, loaded once
    assert profiles.DEVICE_PROFILES["smartphone"] is device_profile("smartphone")
    assert load_profiles() is load_profiles()


def test_load_profiles_reads_a_file_of_the_same_schema(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text((resources.files("airan") / "data" / "profiles.toml").read_text(encoding="utf-8"))
    assert load_profiles(path).devices.keys() == load_profiles().devices.keys()
    with pytest.raises(ProfileError, match="no such profiles file"):
        load_profiles(tmp_path / "missing.toml")
    path.write_text("devices = [")
    with pytest.raises(ProfileError, match="mine.toml: not valid TOML"):
        load_profiles(path)


def test_every_number_has_a_source_with_a_confidence_tag():
    tables = load_profiles()
    counted = 0
    for path, row in all_rows(tables):
        for field, value in row.model_dump().items():
            if field in ("sources", "formulas", "accelerators") or value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) and field != "battery_model":
                continue
            counted += 1
            assert field in row.sources, f"{path}.{field} has no source"
            assert TAG.search(row.sources[field]), f"{path}.sources.{field} lacks a (V)/(C)/(R)/(A) tag"
        assert set(row.sources) <= set(type(row).model_fields), path
    assert counted > 100


def test_every_cited_reference_exists():
    tables = load_profiles()
    cited = set()
    for _path, row in all_rows(tables):
        for text in row.sources.values():
            for group in re.findall(r"\[([^\[\]]+)\]", text):
                cited |= {part.split()[0] for part in group.split(",")}
    assert cited <= set(tables.references)
    assert set(tables.references) <= cited, "an unused reference"


def test_formulas_recompute_the_stated_values():
    tables = load_profiles()
    n = 0
    for path, row in all_rows(tables):
        for field, expression in row.formulas.items():
            assert math.isclose(safe_eval(expression), getattr(row, field), rel_tol=2e-3), f"{path}.{field}"
            n += 1
    assert n >= 30


# ----------------------------------------------------------------------------
# Derived numbers, checked against the published figures directly
# ----------------------------------------------------------------------------


def test_radio_energy_per_bit_is_huang_alpha_converted_from_mw_per_mbps():
    # Huang et al. (2012) LTE: alpha_u = 438.39, alpha_d = 51.97 mW/Mbps, beta = 1288.04 mW;
    # 1 mW/Mbps = 1e-3 W / 1e6 bit/s = 1e-9 J/bit
    for name, row in load_profiles().devices.items():
        assert row.tx_j_per_bit == pytest.approx(438.39e-9, rel=1e-12), name
        assert row.rx_j_per_bit == pytest.approx(51.97e-9, rel=1e-12), name
        assert row.power_tx_w == row.power_rx_w == pytest.approx(1.28804, rel=1e-12), name
        assert row.power_tail_w == pytest.approx(1.060) and row.rrc_tail_s == pytest.approx(11.576)


def test_huang_upload_example_recomputes():
    # 16 Mbit uploaded at 10 Mbit/s, then the tail: 9.075 J + 12.271 J (the 0.315 J
    # promotion is not in the table); P(10 Mbit/s, 0) = 1288.04 + 438.39 * 10 mW
    phone = device_profile("smartphone")
    transfer_j = phone.transfer_power_w(uplink_bps=10e6) * 16e6 / 10e6
    tail_j = phone.power_tail_w * phone.rrc_tail_s
    assert transfer_j == pytest.approx(9.075, abs=5e-4)
    assert tail_j == pytest.approx(12.271, abs=5e-4)
    # beta counts once with both directions active; nothing when idle
    both = phone.transfer_power_w(uplink_bps=1e6, downlink_bps=1e6)
    assert both == pytest.approx(1.28804 + 0.43839 + 0.05197)
    assert phone.transfer_power_w() == 0.0
    with pytest.raises(ValueError):
        phone.transfer_power_w(uplink_bps=-1.0)


MLPERF_RESNET50_OFFLINE = {
    # one-GPU "Samples per second" from the MLPerf summaries cited in the table
    "h100": 88714.3,          # v4.0 DGX-H100_H100-SXM-80GBx1_TRT
    "l4": 12881.7,            # v3.1 L4x1_TRT
    "jetson_agx_orin": 6423.63,  # v3.1 Orin_TRT
    "jetson_orin_nx": 2640.51,   # v3.1 Orin_NX_TRT
}


@pytest.mark.parametrize("name, samples_per_s", MLPERF_RESNET50_OFFLINE.items())
def test_gpu_throughput_is_mlperf_samples_times_resnet50_flops(name, samples_per_s):
    assert accelerator_profile(name).flops_per_s == pytest.approx(samples_per_s * RESNET50_FLOP, rel=1e-5)


def test_gpus_without_a_resnet50_result_use_the_h100_utilisation():
    h100 = accelerator_profile("h100")
    u = 88714.3 * RESNET50_FLOP / 1.979e15
    assert h100.utilization == pytest.approx(u, rel=1e-5)
    for name in ("b200", "rtx_pro_6000_blackwell"):
        row = accelerator_profile(name)
        assert row.flops_per_s == pytest.approx(row.peak_dense_8bit_flops_per_s * u, rel=1e-5), name
    assert accelerator_profile("h200").flops_per_s == h100.flops_per_s


def test_measured_utilisations_are_plausible():
    # effective ResNet-50 throughput over the dense 8-bit peak: INT8 CNN inference on
    # tensor cores reaches a third to a half of peak; far outside says the FLOP count or
    # the peak is wrong (e.g. MACs for FLOPs, or a sparse peak taken as dense)
    for name, row in load_profiles().accelerators.items():
        assert 0.3 <= row.utilization <= 0.5, name
        assert 0 <= row.power_idle_w <= row.power_peak_w, name


def test_on_device_accelerators_recompute_from_their_measurements():
    # Snapdragon 8 Gen 3: ResNet-50 in 1.403 ms
    assert device_profile("smartphone").compute_flops_per_s == pytest.approx(RESNET50_FLOP / 1.403e-3, rel=1e-4)
    # MLPerf v3.1 MaxQ runs: samples/s, and wall power under load minus idle before the run
    robot = device_profile("service_robot").accelerators["gpu"]
    assert robot.flops_per_s == pytest.approx(1681.87 * RESNET50_FLOP, rel=1e-5)
    assert robot.power_w == pytest.approx(14.9 - 5.3)
    car = device_profile("vehicle_computer").accelerators["gpu"]
    assert car.flops_per_s == pytest.approx(3526.29 * RESNET50_FLOP, rel=1e-5)
    assert car.power_w == pytest.approx(23.7 - 5.5)
    # the MaxQ point is slower than the unconstrained MLPerf figure of the same module
    assert robot.flops_per_s < accelerator_profile("jetson_orin_nx").flops_per_s
    assert car.flops_per_s < accelerator_profile("jetson_agx_orin").flops_per_s


def test_battery_parameters_match_the_battery_model():
    for name, row in load_profiles().devices.items():
        given = {f for f in ("peukert_k", "peukert_rated_h", "kibam_c", "kibam_k_prime_per_s")
                 if getattr(row, f) is not None}
        expected = {"ideal": set(), "peukert": {"peukert_k", "peukert_rated_h"},
                    "kibam": {"kibam_c", "kibam_k_prime_per_s"}}[row.battery_model]
        assert given == expected, name
        assert row.default_accelerator in row.accelerators


# ----------------------------------------------------------------------------
# EARTH base-station model
# ----------------------------------------------------------------------------

# Auer et al. (2011) Table 2, P_in at full load = N_TRX (P0 + delta_p P_max)
EARTH_FULL_LOAD_W = {"macro": 1344.0, "rrh": 840.0, "micro": 144.76, "pico": 14.64, "femto": 10.4}


@pytest.mark.parametrize("name, full_w", EARTH_FULL_LOAD_W.items())
def test_earth_full_load_input_power(name, full_w):
    bs = base_station_profile(name)
    assert bs.power_in_full_load_w == pytest.approx(full_w, rel=1e-12)
    assert bs.power_in_w(1.0) == pytest.approx(full_w, rel=1e-12)


def test_earth_load_dependence_and_sleep():
    bs = base_station_profile("macro")
    assert bs.power_in_w(0.0) == 6 * 75.0  # sleep, scaled by N_TRX as in Auer et al.
    assert bs.power_in_w(0.5) == pytest.approx(6 * (130 + 4.7 * 0.5 * 20))
    # linear in load above zero: equal steps give equal increments
    assert bs.power_in_w(0.75) - bs.power_in_w(0.5) == pytest.approx(bs.power_in_w(0.5) - bs.power_in_w(0.25))
    for load in (-0.1, 1.1):
        with pytest.raises(ValueError, match="load"):
            bs.power_in_w(load)


# ----------------------------------------------------------------------------
# Unknown names and invalid tables
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("lookup, mapping, kind, known", [
    (device_profile, "DEVICE_PROFILES", "device", "smartphone"),
    (accelerator_profile, "ACCELERATOR_PROFILES", "accelerator", "h100"),
    (base_station_profile, "BASE_STATION_PROFILES", "base station", "macro"),
])
def test_unknown_names_give_a_one_line_error_listing_known_names(lookup, mapping, kind, known):
    with pytest.raises(ValueError) as info:
        lookup("toaster")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"unknown {kind} profile 'toaster'; known: ")
    assert known in message
    table = getattr(profiles, mapping)
    with pytest.raises(UnknownProfileError) as info:
        table["toaster"]
    assert str(info.value) == message
    # still a Mapping: membership and .get work
    assert "toaster" not in table and known in table
    assert table.get("toaster") is None
    with pytest.raises(TypeError):
        table["x"] = 1  # read-only


def test_import_reads_nothing():
    # no side effects on import: the table is read on first use
    code = ("import airan.profiles as p; assert p._package_tables.cache_info().currsize == 0; "
            "p.DEVICE_PROFILES['smartphone']; assert p._package_tables.cache_info().currsize == 1")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("edit, expected", [
    (lambda r: r["devices"]["smartphone"].update(power_tx_w=-1.0),
     "devices.smartphone.power_tx_w: must be >= 0, got -1.0"),
    (lambda r: r["devices"]["smartphone"].update(power_tx_w="1"),
     "devices.smartphone.power_tx_w: must be a number, got str '1'"),
    (lambda r: r["devices"]["smartphone"].update(colour="red"), "devices.smartphone.colour: unknown key"),
    (lambda r: r["devices"]["smartphone"].pop("battery_wh"), "devices.smartphone.battery_wh: required value"),
    (lambda r: r["devices"]["smartphone"]["sources"].pop("rrc_tail_s"),
     "devices.smartphone.sources: no source for rrc_tail_s"),
    (lambda r: r["devices"]["smartphone"]["sources"].update(rrc_tail_s="from memory"),
     "devices.smartphone.sources.rrc_tail_s: must end with a confidence tag"),
    (lambda r: r["devices"]["smartphone"]["sources"].update(colour="x (A)"),
     "devices.smartphone.sources.colour: names no number of this row"),
    (lambda r: r["devices"]["smartphone"].update(tx_j_per_bit=4.4e-7),
     "devices.smartphone.formulas.tx_j_per_bit: 438.39e-3 / 1e6 = 4.3839e-07, but tx_j_per_bit = 4.4e-07"),
    (lambda r: r["devices"]["smartphone"]["formulas"].update(tx_j_per_bit="__import__('os')"),
     "devices.smartphone.formulas.tx_j_per_bit: only numbers"),
    (lambda r: r["devices"]["smartphone"]["sources"].update(rrc_tail_s="11.576 s [nobody2099] (R)"),
     "devices.smartphone.sources.rrc_tail_s: cites [nobody2099], which is not in references"),
    (lambda r: r["devices"]["smartphone"].update(battery_model="peukert"),
     "devices.smartphone.peukert_k: required with battery_model = 'peukert'"),
    (lambda r: r["devices"]["smartphone"].update(kibam_c=0.6),
     "devices.smartphone.kibam_c: only used by battery_model = 'kibam'; remove it"),
    (lambda r: r["devices"]["smartphone"].update(battery_model="lead"),
     "devices.smartphone.battery_model: must be one of 'ideal', 'peukert' or 'kibam', got 'lead'"),
    (lambda r: r["devices"]["smartphone"].update(default_accelerator="gpu"),
     "devices.smartphone.default_accelerator: must be one of npu, got 'gpu'"),
    (lambda r: r["devices"]["smartphone"]["accelerators"].update(tpu={}),
     "devices.smartphone.accelerators.tpu: must be one of 'cpu', 'gpu' or 'npu', got 'tpu'"),
    (lambda r: r["accelerators"]["h100"].update(power_idle_w=800.0),
     "accelerators.h100.power_idle_w: must be <= power_peak_w (700.0), got 800.0"),
    (lambda r: r["base_stations"]["macro"].update(n_trx=6.0),
     "base_stations.macro.n_trx: must be an integer, got float 6.0"),
    (lambda r: r["base_stations"].update(Macro=r["base_stations"]["macro"]),
     "base_stations.Macro: a name must be lower-case"),
])
def test_invalid_tables_give_one_line_errors(edit, expected):
    raw = copy.deepcopy(raw_tables())
    edit(raw)
    assert expected in one_line_error(raw)


def test_a_kibam_device_validates():
    raw = copy.deepcopy(raw_tables())
    phone = raw["devices"]["smartphone"]
    phone.update(battery_model="kibam", kibam_c=0.625, kibam_k_prime_per_s=1.92e-4)
    phone["sources"].update(kibam_c="illustrative (A)", kibam_k_prime_per_s="illustrative (A)")
    row = profiles_from_dict(raw).devices["smartphone"]
    assert (row.kibam_c, row.kibam_k_prime_per_s) == (0.625, 1.92e-4)


def test_rows_are_immutable():
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        device_profile("smartphone").power_idle_w = 0.0  # type: ignore[misc]


# ----------------------------------------------------------------------------
# Documentation
# ----------------------------------------------------------------------------


def test_docs_profiles_md_is_current():
    assert DOCS.read_text(encoding="utf-8") == profiles_markdown(), (
        "docs/profiles.md is stale: regenerate with "
        "python -c \"from airan.profiles import profiles_markdown; "
        "open('docs/profiles.md', 'w').write(profiles_markdown())\"")


def test_docs_show_every_row_and_reference():
    text = profiles_markdown()
    tables = load_profiles()
    for _path, row in all_rows(tables):
        for source in row.sources.values():
            assert source in text
    for key in tables.references:
        assert f"| `{key}` |" in text
