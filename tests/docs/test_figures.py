"""The docs' figures take their data from the models, the pretrained table, the benchmarks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import lucid.models
from lucid import nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
import lucid_figures  # noqa: E402 (the docs' extensions are not a package)


def _shape_only(name: str, **settings: object) -> nn.Module:
    with nn.meta_init():
        return lucid.models.create_model(name, **settings)


def test_pyramid_data_is_the_models_stages() -> None:
    data = lucid_figures.pyramid_data("pvt_v2_b0", 224)
    model = _shape_only("pvt_v2_b0")
    config, reductions = model.config, model.feature_info.reduction()
    assert data["image_size"] == 224 and not data["linear"]
    assert [s["width"] for s in data["stages"]] == config["embed_dims"]
    assert [s["blocks"] for s in data["stages"]] == config["depths"]
    assert [s["heads"] for s in data["stages"]] == config["num_heads"]
    assert [s["sr_ratio"] for s in data["stages"]] == config["sr_ratios"]
    assert [(s["rows"], s["columns"]) for s in data["stages"]] == [
        (224 // r, 224 // r) for r in reductions
    ]
    alt = lucid_figures.pyramid_alt(data)
    for i, (stage, width, ratio) in enumerate(
        zip(data["stages"], config["embed_dims"], config["sr_ratios"], strict=True), 1
    ):
        side = stage["rows"]
        assert f"Stage {i}: {side}x{side} feature map, width {width}," in alt
        if ratio > 1:
            assert f"ratio {int(ratio)} (keys and values on {side // int(ratio)}x" in alt
    svg = lucid_figures.render_svg("pyramid", data)
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
    # No date, fixed ids: the same data draws the same file.
    assert lucid_figures.render_svg("pyramid", data) == svg


def test_the_linear_variant_says_its_keys_are_pooled() -> None:
    data = lucid_figures.pyramid_data("pvt_v2_b2_li", 224)
    assert data["linear"] and _shape_only("pvt_v2_b2_li").config["linear"]
    assert "pooled" in lucid_figures.pyramid_alt(data)
    assert "ratio" not in lucid_figures.pyramid_alt(data)


def test_a_family_that_is_no_pyramid_gets_its_chart_only() -> None:
    from lucid.models import register_model
    from lucid.models._registry import REGISTRY

    lucid.models.list_models()  # plugins first, so the registration below is not reset

    @register_model(family="figure-tests")
    def figure_probe_conv() -> nn.Module:
        return nn.Conv2d(3, 4, 3)

    try:
        with pytest.raises(lucid_figures.NotAPyramid, match=r"figure_probe_conv is not a pyr"):
            lucid_figures.pyramid_data("figure_probe_conv", 224)
        pyramid, chart = lucid_figures.family_figures_data("figure-tests", 224)
        assert pyramid is None
        [variant] = chart["variants"]
        assert variant["name"] == "figure_probe_conv" and variant["weights"] is None
        assert variant["params"] == sum(p.numel() for p in figure_probe_conv().parameters())
        assert variant["macs"] == 4 * 3 * 9 * 222 * 222  # one 224x224 image, no padding
        with pytest.raises(ValueError, match=r"no registered model is of family 'no-such'"):
            lucid_figures.family_data("no-such", 224)
    finally:
        REGISTRY._models.pop("figure_probe_conv", None)


@pytest.mark.slow
def test_family_data_puts_each_top1_on_the_layout_of_its_weights() -> None:
    pyramid, data = lucid_figures.family_figures_data("pvt", 224)
    assert pyramid is not None and pyramid["model"] == "pvt_medium"  # the median-sized one
    names = [v["name"] for v in data["variants"]]
    assert sorted(names) == sorted(lucid.models.list_models(family="pvt"))
    params = [v["params"] for v in data["variants"]]
    assert params == sorted(params)
    for variant in data["variants"]:
        name = variant["name"]
        assert variant["params"] == sum(p.numel() for p in _shape_only(name).parameters())
        try:
            cfg = lucid.models.get_pretrained_cfg(name)
        except lucid.models.PretrainedWeightsError:
            cfg = {}
        if "top1" not in cfg:  # pvt_huge: no weights were released
            assert variant["weights"] is None, name
            continue
        weights = variant["weights"]
        assert weights["top1"] == cfg["top1"]
        # PVT v1's weights need attn_proj=True: the accuracy is that layout's.
        assert weights["settings"] == {k: repr(v) for k, v in cfg["settings"].items()}
        trained = _shape_only(name, **cfg["settings"])
        assert weights["params"] == sum(p.numel() for p in trained.parameters())
        assert weights["params"] > variant["params"]
    alt = lucid_figures.family_alt(data)
    medium = next(v for v in data["variants"] if v["name"] == "pvt_medium")
    assert f"pvt_medium: 41,492,648 parameters, {medium['macs'] / 1e9:.2f} GMACs" in alt
    assert "with attn_proj=True, the layout of its published weights, 44,208,104 param" in alt
    assert "pvt_huge" in alt and "no published top-1" in alt
    assert b"<svg" in lucid_figures.render_svg("family", data)


def test_benchmark_chart_data_is_the_results_file() -> None:
    results = json.loads((ROOT / "benchmarks" / "models.json").read_text())
    data = lucid_figures.benchmark_data(results)
    assert [m["name"] for m in data["models"]] == list(results["models"])
    alt = lucid_figures.benchmark_alt(data)
    for model in data["models"]:
        for task, ratios in model["workloads"].items():
            row = results["models"][model["name"]]["workloads"][task]
            assert ratios == {"time": row["ratio"], "memory": row["memory_ratio"]}
            assert f"time {row['ratio']:.2f}x, memory {row['memory_ratio']:.2f}x" in alt
    assert b"<svg" in lucid_figures.render_svg("benchmark", data)
    assert lucid_figures.benchmark_data({"models": {}})["models"] == []


@pytest.mark.slow
def test_a_wrong_directive_fails_the_build_naming_what_is_wrong(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'docs' / '_ext')!r})\n"
        # The model pages' extension brings the figures' with it.
        "extensions = ['lucid_model_pages']\n"
        # The generated model pages need autodoc; this project is about the directives.
        "exclude_patterns = ['models/generated']\n"
    )
    (source / "results.json").write_text("[1, 2]")
    (source / "index.rst").write_text(
        "Figures\n=======\n\n"
        ".. lucid-pyramid-figure:: pvt_mediun\n\n"
        ".. lucid-family-chart:: no-such-family\n\n"
        ".. lucid-benchmark-chart:: results.json\n"
    )
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    proc = subprocess.run(
        [*command, str(source), str(tmp_path / "html")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "unknown model 'pvt_mediun'; did you mean 'pvt_medium'" in output
    assert "no registered model is of family 'no-such-family'; the families are: " in output
    assert "results.json hold a list, not an object" in output
    assert not list((tmp_path / "html").glob("_images/lucid-*.svg"))
