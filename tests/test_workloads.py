"""Workload catalog: it loads, every number has a tagged source, derived numbers recompute
(formulas, token totals, Whisper and Llama counts from their published dimensions, the
ResNet-50 split points from its layer list), the FLOP convention matches the GPU profiles,
unknown names and bad tables give one-line errors, the docs are current."""

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

from airan import workloads
from airan.profiles import ProfileError, UnknownProfileError, accelerator_profile
from airan.scenario import Workload
from airan.workloads import (
    WORKLOAD_PROFILES,
    WorkloadProfile,
    arrival_fields,
    load_workloads,
    split_point_fields,
    workload_fields,
    workload_profile,
    workloads_from_dict,
    workloads_markdown,
)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "workloads.md"
TAG = re.compile(r"\((V|C|R|A)(\)|[ ;,][^()]*\))\s*$")

# arrival fields that only one arrival kind uses (the rest of a row's numbers always apply)
ARRIVAL_ONLY = {"jitter_s": "periodic", "mmpp_on_s": "mmpp", "mmpp_off_s": "mmpp", "mmpp_off_rate_hz": "mmpp"}
TOKEN_ROWS = ("asr_whisper_base_command", "asr_whisper_small_dictation", "llm_llama31_8b_chat", "robot_openvla_7b")


def raw_tables() -> dict:
    text = (resources.files("airan") / "data" / "workloads.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def one_line_error(raw: dict) -> str:
    with pytest.raises(ProfileError) as info:
        workloads_from_dict(raw, source="w.toml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("w.toml: ")
    return message


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


def test_package_file_loads_with_every_kind_of_workload():
    tables = load_workloads()
    assert {
        "detect_yolov8n_640", "detect_yolov8s_640",  # object detection on camera frames
        "classify_resnet50",  # image classification
        "ar_segment_deeplabv3_mnv3",  # AR scene understanding
        "asr_whisper_base_command",  # speech recognition
        "llm_llama31_8b_chat",  # LLM assistant turn
        "robot_openvla_7b",  # robot control policy
    } <= set(tables.workloads)
    assert {row.arrival for row in tables.workloads.values()} == {"poisson", "periodic", "mmpp"}
    for name, row in tables.workloads.items():
        assert isinstance(row, WorkloadProfile)
        assert row.name == name
        assert row.description and row.model
    # the same objects behind the mapping and the lookup function, loaded once
    assert WORKLOAD_PROFILES["classify_resnet50"] is workload_profile("classify_resnet50")
    assert load_workloads() is load_workloads()
    assert len(WORKLOAD_PROFILES) == len(tables.workloads) and list(WORKLOAD_PROFILES) == list(tables.workloads)


def test_load_workloads_reads_a_file_of_the_same_schema(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text((resources.files("airan") / "data" / "workloads.toml").read_text(encoding="utf-8"))
    assert load_workloads(path).workloads.keys() == load_workloads().workloads.keys()
    with pytest.raises(ProfileError, match="no such workloads file"):
        load_workloads(tmp_path / "missing.toml")
    path.write_text("workloads = [")
    with pytest.raises(ProfileError, match="mine.toml: not valid TOML"):
        load_workloads(path)


def test_a_corrupted_copy_of_the_table_names_the_file_and_the_field(tmp_path):
    text = (resources.files("airan") / "data" / "workloads.toml").read_text(encoding="utf-8")
    path = tmp_path / "workloads.toml"
    path.write_text(text.replace("rate_hz = 0.1\n", "rate_hz = 0.0\n", 1))
    with pytest.raises(ProfileError) as info:
        load_workloads(path)
    assert str(info.value) == "workloads.toml: workloads.classify_resnet50.rate_hz: must be > 0, got 0.0"
    path.write_text(text.replace('arrival = "mmpp"', 'arrival = "bursty"', 1))
    with pytest.raises(ProfileError) as info:
        load_workloads(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("workloads.toml: workloads.llm_llama31_8b_chat.arrival: must be one of")


def test_every_number_has_a_source_with_a_confidence_tag():
    counted = 0
    for name, row in load_workloads().workloads.items():
        for field, value in row.model_dump().items():
            if field in ("sources", "formulas") or value is None or value == () or isinstance(value, bool | str):
                if field == "arrival":
                    assert TAG.search(row.sources["arrival"]), f"{name}.sources.arrival lacks a tag"
                continue
            if ARRIVAL_ONLY.get(field, row.arrival) != row.arrival:
                assert field not in row.sources, f"{name}.{field} does not apply to arrival {row.arrival}"
                continue
            counted += 1
            assert field in row.sources, f"{name}.{field} has no source"
            assert TAG.search(row.sources[field]), f"{name}.sources.{field} lacks a (V)/(C)/(R)/(A) tag"
        assert set(row.sources) <= set(type(row).model_fields), name
    assert counted >= 75


def test_every_cited_reference_exists_and_is_used():
    tables = load_workloads()
    cited = set()
    for row in tables.workloads.values():
        for text in row.sources.values():
            for group in re.findall(r"\[([^\[\]]+)\]", text):
                cited |= {part.split()[0] for part in group.split(",")}
    assert cited <= set(tables.references)
    assert set(tables.references) <= cited, "an unused reference"


def test_formulas_recompute_the_stated_values():
    n = 0
    for name, row in load_workloads().workloads.items():
        for field, expression in row.formulas.items():
            assert math.isclose(safe_eval(expression), getattr(row, field), rel_tol=2e-3), f"{name}.{field}"
            n += 1
        # a value computed from others is tagged C and shows its arithmetic
        for field in row.formulas:
            assert "(C" in row.sources[field], f"{name}.{field}: a formula but no C tag"
    assert n >= 30


# ----------------------------------------------------------------------------
# Derived numbers, checked against the published figures directly
# ----------------------------------------------------------------------------


def test_token_models_total_prefill_plus_decode():
    tables = load_workloads()
    token_rows = [name for name, row in tables.workloads.items() if row.prefill_flops is not None]
    assert set(TOKEN_ROWS) == set(token_rows)
    for name in token_rows:
        row = tables.workloads[name]
        assert row.flops == pytest.approx(row.prefill_flops + row.output_tokens * row.decode_flops_per_token,
                                          rel=1e-9), name
        assert row.prefill_flops > 0 and row.decode_flops_per_token > 0 and row.output_tokens >= 1
    # the rows without tokens carry none of the token fields
    for name, row in tables.workloads.items():
        if name not in token_rows:
            assert (row.prompt_tokens, row.output_tokens, row.decode_flops_per_token) == (None, None, None), name


@pytest.mark.parametrize("name", ["llm_llama31_8b_chat", "robot_openvla_7b"])
def test_transformer_flops_are_two_per_weight_per_token(name):
    # Kaplan et al. (2020): a forward pass costs about 2 N FLOP per token for N weights
    row = workload_profile(name)
    assert row.decode_flops_per_token == pytest.approx(2 * row.params, rel=1e-12)
    assert row.prefill_flops == pytest.approx(2 * row.params * row.prompt_tokens, rel=1e-12)


def test_llama_31_8b_parameter_count_from_its_config():
    # config.json: hidden 4096, 32 layers, 8 KV heads of 128, MLP 14336, vocab 128256, untied
    # input and output embeddings, RMSNorm weights (2 per layer and 1 final)
    h, n_layers, kv, mlp, vocab = 4096, 32, 8 * 128, 14336, 128256
    per_layer = 2 * h * h + 2 * h * kv + 3 * h * mlp + 2 * h
    params = 2 * vocab * h + n_layers * per_layer + h
    assert params == 8_030_261_248
    assert workload_profile("llm_llama31_8b_chat").params == pytest.approx(params, rel=1e-3)


def whisper_counts(d: int, n_layers: int, n_prompt: int = 4) -> dict[str, float]:
    """Slow, obvious FLOP and weight count of Whisper from its dimensions (openai/whisper model.py).

    2 FLOP per multiply-accumulate; 30 s window = 3000 mel frames of 80 channels, 1500 audio
    positions after the stride-2 convolution; MLP width 4d; vocabulary 51865; decoding
    with a key-value cache, self-attention products over the short text left out.
    """
    mels, frames, positions, vocab, mlp, text_ctx = 80, 3000, 1500, 51865, 4 * d, 448

    def linear(n_in, n_out, n_rows):  # FLOP of an (n_rows x n_in) @ (n_in x n_out) product
        return 2 * n_rows * n_in * n_out

    encoder = 2 * frames * (mels * 3) * d + 2 * positions * (d * 3) * d  # conv1, conv2 (stride 2)
    for _ in range(n_layers):
        encoder += 4 * linear(d, d, positions) + linear(d, mlp, positions) + linear(mlp, d, positions)
        encoder += 2 * (2 * positions * positions * d)  # q @ k^T and w @ v
    cross_kv = n_layers * 2 * linear(d, d, positions)  # keys and values of the audio, once
    decode = linear(d, vocab, 1)  # logits through the tied embedding
    for _ in range(n_layers):
        decode += 4 * linear(d, d, 1)  # self-attention q, k, v, out
        decode += 2 * linear(d, d, 1)  # cross-attention q, out
        decode += 2 * (2 * positions * d)  # cross-attention products over 1500 positions
        decode += linear(d, mlp, 1) + linear(mlp, d, 1)
    weights = mels * d * 3 + d * d * 3 + n_layers * (4 * d * d + 2 * d * mlp)  # encoder
    weights += vocab * d + text_ctx * d + n_layers * (8 * d * d + 2 * d * mlp)  # decoder
    return {"prefill": encoder + cross_kv + n_prompt * decode, "decode": decode, "weights": weights}


@pytest.mark.parametrize("name, d, n_layers, published_params", [
    ("asr_whisper_base_command", 512, 6, 74e6),
    ("asr_whisper_small_dictation", 768, 12, 244e6),
])
def test_whisper_counts_follow_from_its_dimensions(name, d, n_layers, published_params):
    row = workload_profile(name)
    counts = whisper_counts(d, n_layers, row.prompt_tokens)
    assert row.prefill_flops == pytest.approx(counts["prefill"], rel=1e-12)
    assert row.decode_flops_per_token == pytest.approx(counts["decode"], rel=1e-12)
    # the same dimensions give the published size, less the biases and norms (< 5 %)
    assert 0.95 * published_params < counts["weights"] < published_params
    assert row.params == published_params


def test_vision_flops_match_the_published_tables():
    # Ultralytics "GFLOPs" at 640 (already 2 x MACs) and parameters in millions
    for name, gflop, mparams in (("detect_yolov8n_640", 8.7, 3.2), ("detect_yolov8s_640", 28.6, 11.2),
                                 ("detect_yolov8m_640", 78.9, 25.9)):
        row = workload_profile(name)
        assert (row.flops, row.params) == (gflop * 1e9, mparams * 1e6), name
    # torchvision "GFLOPS" count multiply-accumulates: doubled
    assert workload_profile("classify_resnet50").flops == 2 * 4.09e9
    assert workload_profile("ar_segment_deeplabv3_mnv3").flops == pytest.approx(2 * 10.452e9, rel=1e-12)


# ----------------------------------------------------------------------------
# Layer profiles: split points for partial offloading
# ----------------------------------------------------------------------------


def resnet50_layers() -> tuple[list[tuple[str, int, int, int, int]], dict[str, int]]:
    """Slow, obvious layer list of torchvision's ResNet-50 v1.5 at 224x224.

    Returns the convolutions as (stage, kernel, c_in, c_out, output side) and the elements of
    each stage's output. He et al. (2016), Table 1: conv1 7x7 stride 2 to 112x112, a 3x3
    stride-2 max pool to 56x56, then 3, 4, 6 and 3 bottlenecks [1x1 w, 3x3 w, 1x1 4w] with
    w = 64, 128, 256, 512; torchvision (v1.5) puts a stage's stride 2 in the 3x3 conv, and a
    stage's first block adds a 1x1 projection of its input, strided like the 3x3. layer4 ends
    in a global average pool, so the last cut is named after it.
    """
    convs = [("maxpool", 7, 3, 64, 112)]
    side, c_in = 56, 64  # after the max pool
    outputs = {"maxpool": side * side * c_in}
    for stage, width, n_blocks, stride in (("layer1", 64, 3, 1), ("layer2", 128, 4, 2), ("layer3", 256, 6, 2),
                                           ("avgpool", 512, 3, 2)):
        for block in range(n_blocks):
            out_side = side // stride if block == 0 else side
            convs.append((stage, 1, c_in, width, side))  # 1x1 reduce, at the input resolution
            convs.append((stage, 3, width, width, out_side))  # 3x3, carries the stride
            convs.append((stage, 1, width, 4 * width, out_side))  # 1x1 expand
            if block == 0:
                convs.append((stage, 1, c_in, 4 * width, out_side))  # projection shortcut
            side, c_in = out_side, 4 * width
        outputs[stage] = c_in if stage == "avgpool" else side * side * c_in
    return convs, outputs


def test_resnet50_split_points_follow_from_its_layers():
    convs, outputs = resnet50_layers()
    stage_macs: dict[str, int] = {}
    for stage, kernel, c_in, c_out, side in convs:  # batch norm, ReLU, additions, pooling: no MACs counted
        stage_macs[stage] = stage_macs.get(stage, 0) + side * side * c_in * c_out * kernel * kernel
    expected, cumulative = [], 0
    for stage, macs in stage_macs.items():
        cumulative += macs
        # 2 FLOP per MAC; 2 bytes per fp16 activation
        expected.append({"layer": stage, "device_flops": 2.0 * cumulative, "upload_bytes": 2.0 * outputs[stage]})
    row = workload_profile("classify_resnet50")
    # exact: integers far below 2**53, and the catalog writes them out in full
    assert row.split_point_fields() == tuple(expected)
    total_macs = cumulative + 2048 * 1000  # and the fc, which stays on the GPU at every cut
    assert total_macs == pytest.approx(4.09e9, rel=0.01)  # torchvision's published count
    assert row.flops == pytest.approx(2 * total_macs, rel=0.01)
    assert expected[-1]["device_flops"] < row.flops  # the last cut leaves the fc


def test_only_the_pooled_resnet50_cut_uploads_less_than_its_input():
    # Kang et al. (2017): early layers output more than the input, so early cuts rarely pay off
    row = workload_profile("classify_resnet50")
    assert [p.layer for p in row.split_points if p.upload_bytes < row.input_bytes] == ["avgpool"]
    assert row.split_points[0].upload_bytes > 224 * 224 * 3  # the stem's output beats even raw 8-bit RGB


def test_split_point_fields_give_plain_dicts_in_network_order():
    assert split_point_fields("detect_yolov8n_640") == ()
    n_profiles = 0
    for name, row in WORKLOAD_PROFILES.items():
        fields = split_point_fields(name)
        assert isinstance(fields, tuple) and fields == row.split_point_fields()
        for point in fields:
            assert set(point) == {"layer", "device_flops", "upload_bytes"}
            assert point["upload_bytes"] > 0
        device_flops = [point["device_flops"] for point in fields]
        assert device_flops == sorted(set(device_flops)) and all(0 < f < row.flops for f in device_flops), name
        n_profiles += bool(fields)
    assert n_profiles >= 1
    # copies: editing one leaves the catalog as it was
    split_point_fields("classify_resnet50")[0]["device_flops"] = 0.0
    assert workload_profile("classify_resnet50").split_points[0].device_flops > 0
    # the scenario Workload fields do not include them
    assert "split_points" not in workload_fields("classify_resnet50")


def test_flop_convention_matches_the_gpu_profiles():
    # the GPU profiles' flops_per_s are MLPerf ResNet-50 samples/s x 8.18 GFLOP, so the
    # catalog's ResNet-50 row on an H100 takes exactly one MLPerf sample time
    service_s = workload_profile("classify_resnet50").flops / accelerator_profile("h100").flops_per_s
    assert service_s == pytest.approx(1 / 88714.3, rel=1e-5)


def test_periodic_frame_deadlines_are_one_period():
    for name, row in load_workloads().workloads.items():
        if row.arrival == "periodic" and row.rate_hz >= 5:
            assert row.deadline_s == pytest.approx(1 / row.rate_hz, rel=2e-3), name
            assert row.jitter_s <= 0.5 / row.rate_hz, name


# ----------------------------------------------------------------------------
# Fields for the scenario
# ----------------------------------------------------------------------------


def test_workload_fields_fill_a_scenario_workload():
    for name in WORKLOAD_PROFILES:
        fields = workload_fields(name)
        assert set(fields) == {"flops", "input_bytes", "output_bytes", "deadline_s"}
        workload = Workload(name="w", **fields)  # validates against today's scenario schema
        assert workload.flops == workload_profile(name).flops


def test_arrival_fields_give_only_what_the_arrival_uses():
    assert arrival_fields("classify_resnet50") == {"arrival": "poisson", "rate_hz": 0.1}
    assert arrival_fields("detect_yolov8n_640") == {"arrival": "periodic", "rate_hz": 30.0, "jitter_s": 0.002}
    chat = arrival_fields("llm_llama31_8b_chat")
    assert set(chat) == {"arrival", "rate_hz", "mmpp_on_s", "mmpp_off_s", "mmpp_off_rate_hz"}
    assert chat["arrival"] == "mmpp" and chat["mmpp_off_rate_hz"] == 0.0


def test_mmpp_mean_rate_weights_on_and_off_periods():
    row = workload_profile("llm_llama31_8b_chat")
    on, off = row.mmpp_on_s, row.mmpp_off_s
    assert row.mean_rate_hz == pytest.approx((row.rate_hz * on + row.mmpp_off_rate_hz * off) / (on + off))
    assert row.mean_rate_hz < row.rate_hz
    assert workload_profile("classify_resnet50").mean_rate_hz == 0.1


# ----------------------------------------------------------------------------
# Unknown names and invalid tables
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("lookup", [workload_profile, workload_fields, arrival_fields])
def test_unknown_name_gives_a_one_line_error_listing_known_names(lookup):
    with pytest.raises(ValueError) as info:
        lookup("toaster")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("unknown workload profile 'toaster'; known: ")
    for name in WORKLOAD_PROFILES:
        assert name in message
    with pytest.raises(UnknownProfileError) as info:
        WORKLOAD_PROFILES["toaster"]
    assert str(info.value) == message
    # still a Mapping: membership and .get work
    assert "toaster" not in WORKLOAD_PROFILES and "classify_resnet50" in WORKLOAD_PROFILES
    assert WORKLOAD_PROFILES.get("toaster") is None
    with pytest.raises(TypeError):
        WORKLOAD_PROFILES["x"] = 1  # read-only


def test_import_reads_nothing():
    # no side effects on import: the table is read on first use
    code = ("import airan.workloads as w; assert w._package_tables.cache_info().currsize == 0; "
            "w.WORKLOAD_PROFILES['classify_resnet50']; assert w._package_tables.cache_info().currsize == 1")
    subprocess.run([sys.executable, "-c", code], check=True)


def _drop_token_field(raw: dict, field: str) -> None:
    row = raw["workloads"]["llm_llama31_8b_chat"]
    for table in (row, row["sources"], row["formulas"]):
        table.pop(field, None)


@pytest.mark.parametrize("edit, expected", [
    (lambda r: r["workloads"]["detect_yolov8n_640"].update(rate_hz=-1.0),
     "workloads.detect_yolov8n_640.rate_hz: must be > 0, got -1.0"),
    (lambda r: r["workloads"]["detect_yolov8n_640"].update(flops="8.7e9"),
     "workloads.detect_yolov8n_640.flops: must be a number, got str '8.7e9'"),
    (lambda r: r["workloads"]["detect_yolov8n_640"].update(colour="red"),
     "workloads.detect_yolov8n_640.colour: unknown key"),
    (lambda r: r["workloads"]["detect_yolov8n_640"].pop("deadline_s"),
     "workloads.detect_yolov8n_640.deadline_s: required value"),
    (lambda r: r["workloads"]["detect_yolov8n_640"].update(description=""),
     "workloads.detect_yolov8n_640.description:"),
    (lambda r: r["workloads"]["detect_yolov8n_640"]["sources"].pop("flops"),
     "workloads.detect_yolov8n_640.sources: no source for flops"),
    (lambda r: r["workloads"]["detect_yolov8n_640"]["sources"].update(flops="Ultralytics"),
     "workloads.detect_yolov8n_640.sources.flops: must end with a confidence tag"),
    (lambda r: r["workloads"]["detect_yolov8n_640"]["sources"].update(flops="8.7 [nobody2099] (V)"),
     "workloads.detect_yolov8n_640.sources.flops: cites [nobody2099], which is not in references"),
    (lambda r: r["workloads"]["detect_yolov8n_640"].update(deadline_s=0.05),
     "workloads.detect_yolov8n_640.formulas.deadline_s: 1 / 30 = 0.0333333, but deadline_s = 0.05"),
    (lambda r: r["workloads"]["detect_yolov8n_640"].update(arrival="bursty"),
     "workloads.detect_yolov8n_640.arrival: must be one of 'poisson', 'periodic' or 'mmpp', got 'bursty'"),
    (lambda r: r["workloads"]["detect_yolov8n_640"].update(jitter_s=0.02),
     "workloads.detect_yolov8n_640.jitter_s: must be <= half the period"),
    (lambda r: r["workloads"]["detect_yolov8n_640"].update(mmpp_on_s=10.0),
     "workloads.detect_yolov8n_640.mmpp_on_s: only used with arrival = 'mmpp'; remove it"),
    (lambda r: r["workloads"]["classify_resnet50"].update(jitter_s=0.0),
     "workloads.classify_resnet50.jitter_s: only used with arrival = 'periodic'; remove it"),
    (lambda r: r["workloads"]["classify_resnet50"].update(prompt_tokens=3),
     "workloads.classify_resnet50.prompt_tokens: only used with prefill_flops"),
    (lambda r: r["workloads"]["llm_llama31_8b_chat"].pop("mmpp_off_s"),
     "workloads.llm_llama31_8b_chat.mmpp_off_s: required with arrival = 'mmpp'"),
    (lambda r: r["workloads"]["llm_llama31_8b_chat"].update(flops=1.2e13),
     "workloads.llm_llama31_8b_chat.flops: must equal prefill_flops + output_tokens x decode_flops_per_token = "
     "1.1242e+13, got 1.2e+13"),
    (lambda r: _drop_token_field(r, "decode_flops_per_token"),
     "workloads.llm_llama31_8b_chat.decode_flops_per_token: required with prefill_flops, output_tokens"),
    (lambda r: r["workloads"]["llm_llama31_8b_chat"].update(output_tokens=150.0),
     "workloads.llm_llama31_8b_chat.output_tokens: must be an integer, got float 150.0"),
    (lambda r: r["workloads"]["llm_llama31_8b_chat"].update(output_tokens=0),
     "workloads.llm_llama31_8b_chat.output_tokens: must be >= 1, got 0"),
    (lambda r: r["workloads"]["classify_resnet50"].update(name="other"),
     "workloads.classify_resnet50.name: comes from the table key; remove it"),
    (lambda r: r["workloads"].update(Classify=r["workloads"]["classify_resnet50"]),
     "workloads.Classify: a name must be lower-case"),
    (lambda r: r.update(workloads={}), "workloads: must not be empty"),
])
def test_invalid_tables_give_one_line_errors(edit, expected):
    raw = copy.deepcopy(raw_tables())
    edit(raw)
    assert expected in one_line_error(raw)


def _cut(raw: dict, i: int) -> dict:
    return raw["workloads"]["classify_resnet50"]["split_points"][i]


@pytest.mark.parametrize("edit, expected", [
    (lambda r: _cut(r, 2).update(device_flops=1.5e9),
     "workloads.classify_resnet50.split_points.2.device_flops: must be > split_points.1.device_flops "
     "(1571913728.0; cuts go in network order), got 1500000000.0"),
    (lambda r: _cut(r, 2).update(device_flops=_cut(r, 1)["device_flops"]),
     "workloads.classify_resnet50.split_points.2.device_flops: must be > split_points.1.device_flops"),
    (lambda r: _cut(r, 4).update(device_flops=8.18e9),
     "workloads.classify_resnet50.split_points.4.device_flops: must be < flops (8180000000.0; running all of it "
     "on the device is the implied local end), got 8180000000.0"),
    (lambda r: _cut(r, 0).update(device_flops=0.0),
     "workloads.classify_resnet50.split_points.0.device_flops: must be > 0, got 0.0"),
    (lambda r: _cut(r, 0).update(upload_bytes=-1.0),
     "workloads.classify_resnet50.split_points.0.upload_bytes: must be > 0, got -1.0"),
    (lambda r: _cut(r, 0).update(device_flops="2.36e8"),
     "workloads.classify_resnet50.split_points.0.device_flops: must be a number, got str '2.36e8'"),
    (lambda r: _cut(r, 0).update(kind="conv"),
     "workloads.classify_resnet50.split_points.0.kind: unknown key"),
    (lambda r: _cut(r, 0).pop("upload_bytes"),
     "workloads.classify_resnet50.split_points.0.upload_bytes: required value is missing"),
    (lambda r: _cut(r, 1).update(layer="maxpool"),
     "workloads.classify_resnet50.split_points.1.layer: 'maxpool' is already split_points.0"),
    (lambda r: r["workloads"]["classify_resnet50"].update(split_points=[1.0]),
     "workloads.classify_resnet50.split_points.0: must be a table, got float 1.0"),
    (lambda r: r["workloads"]["classify_resnet50"].update(split_points={"layer": "maxpool"}),
     "workloads.classify_resnet50.split_points: must be an array of tables with layer, device_flops and "
     "upload_bytes, got dict"),
    (lambda r: r["workloads"]["classify_resnet50"]["sources"].pop("split_points"),
     "workloads.classify_resnet50.sources: no source for split_points"),
    (lambda r: r["workloads"]["classify_resnet50"].update(split_points=[]),
     "workloads.classify_resnet50.sources.split_points: names no number of this row"),
])
def test_invalid_split_points_give_one_line_errors(edit, expected):
    raw = copy.deepcopy(raw_tables())
    edit(raw)
    assert expected in one_line_error(raw)


def test_rows_are_immutable():
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        workload_profile("classify_resnet50").flops = 0.0  # type: ignore[misc]


# ----------------------------------------------------------------------------
# Documentation
# ----------------------------------------------------------------------------


def test_docs_workloads_md_is_current():
    assert DOCS.read_text(encoding="utf-8") == workloads_markdown(), (
        "docs/workloads.md is stale: regenerate with "
        "python -c \"from airan.workloads import workloads_markdown; "
        "open('docs/workloads.md', 'w').write(workloads_markdown())\"")


def test_docs_show_every_row_source_and_reference():
    text = workloads_markdown()
    tables = load_workloads()
    for name, row in tables.workloads.items():
        assert f"### `{name}`" in text
        for source in row.sources.values():
            assert source in text
    for key in tables.references:
        assert f"| `{key}` |" in text
    assert workloads.__doc__ and "2 per multiply-accumulate" in workloads.__doc__


def test_docs_show_each_rows_split_points_as_a_table():
    section = workloads_markdown().split("## Split points")[1].split("\n### ")[0]
    n_tables = 0
    for name, row in load_workloads().workloads.items():
        if not row.split_points:
            assert f"`{name}`:" not in section
            continue
        n_tables += 1
        table = section.split(f"`{name}`:")[1].split("\n\n")[1].splitlines()
        assert table[0] == "| device runs up to | device GFLOP | share of FLOP | upload kB | upload / input |"
        cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in table[2:]]
        # the two implied ends, then one line per cut: GFLOP to 4 digits, kB to 6
        assert len(cells) == len(row.split_points) + 2
        assert cells[0][0] == "*nothing: full offload*" and float(cells[0][3]) == pytest.approx(row.input_bytes / 1e3)
        assert cells[-1][0] == "*everything: local*" and float(cells[-1][1]) == pytest.approx(row.flops / 1e9)
        for point, line in zip(row.split_points, cells[1:-1], strict=True):
            assert line[0] == f"`{point.layer}`"
            assert float(line[1]) == pytest.approx(point.device_flops / 1e9, rel=1e-3)
            assert float(line[3]) == pytest.approx(point.upload_bytes / 1e3, rel=1e-5)
    assert n_tables >= 1
