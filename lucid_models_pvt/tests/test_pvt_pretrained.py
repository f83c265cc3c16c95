"""PVT pretrained weights end to end: served on 127.0.0.1, tags, adaptation, checkpoint metadata."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import safetensors.numpy

import lucid
from lucid.models import (
    PretrainedWeightsError,
    create_model,
    get_pretrained_cfg,
    list_models,
    list_pretrained,
)
from lucid_models_pvt import convert
from lucid_models_pvt.pretrained import PRETRAINED, timm_to_official
from lucid_models_pvt.pvt import pvt_tiny
from lucid_models_pvt.pvt_v2 import pvt_v2_b0

torch = pytest.importorskip("torch")

# Small variants keep the tests fast; the weights' names and layout are the real ones.
SMALL = {"depths": [1, 1, 1, 1]}
HUB_PATH = "timm/pvt_v2_b0.in1k/resolve/main/model.safetensors"
RELEASE = "whai362/PVT/releases/download/v2"


def official(model: lucid.nn.Module) -> dict[str, np.ndarray]:
    return {name: t.data.copy() for name, t in model.state_dict().items()}


def timm_names(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """timm's ``_checkpoint_filter_fn`` (timm/models/pvt_v2.py): official names -> timm's."""
    out = {}
    for k, v in state.items():
        if k.startswith("patch_embed"):
            k = k.replace("patch_embed1", "patch_embed")
            k = k.replace("patch_embed2", "stages.1.downsample")
            k = k.replace("patch_embed3", "stages.2.downsample")
            k = k.replace("patch_embed4", "stages.3.downsample")
        k = k.replace("dwconv.dwconv", "dwconv")
        k = re.sub(
            r"block(\d+).(\d+)", lambda x: f"stages.{int(x.group(1)) - 1}.blocks.{x.group(2)}", k
        )
        k = re.sub(r"^norm(\d+)", lambda x: f"stages.{int(x.group(1)) - 1}.norm", k)
        out[k] = v
    return out


def torch_file(state: dict[str, np.ndarray], path) -> bytes:  # type: ignore[no-untyped-def]
    torch.save({"model": {k: torch.from_numpy(v) for k, v in state.items()}, "epoch": 1}, path)
    return path.read_bytes()


def logits(model: lucid.nn.Module) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with lucid.no_grad():
        return model.eval()(lucid.Tensor(x)).data


def by_hand(builder, state, **kwargs):  # type: ignore[no-untyped-def]
    model = builder(**kwargs)
    model.load_state_dict(state)
    return model


@pytest.fixture
def mirror(weights_server, lucid_home, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LUCID_WEIGHTS_MIRROR", weights_server.url)
    return weights_server


@pytest.fixture
def hub_b0(tmp_path, mirror):  # type: ignore[no-untyped-def]
    """A small pvt_v2_b0 saved as timm's Hub file (timm names, safetensors) and served."""
    state = official(pvt_v2_b0(**SMALL))
    path = tmp_path / "model.safetensors"
    safetensors.numpy.save_file(timm_names(state), str(path))
    mirror.put(HUB_PATH, path.read_bytes())
    return state


NO_HASH = {"sha256": None}  # the served file is not the published one


# ----------------------------------------------------------------- table ---


def test_every_tag_is_listed_with_timm_keys():
    tags = list_pretrained("pvt*")
    assert sorted(tags) == sorted(f"{m}.{t}" for m, t in PRETRAINED)
    assert "pvt_huge" not in list_models(pretrained=True, include_tags=False)
    assert list_models("pvt_v2_b0*", pretrained=True) == ["pvt_v2_b0.in1k"]
    for name in tags:
        cfg = get_pretrained_cfg(name)
        for key in (
            "num_classes",
            "input_size",
            "crop_pct",
            "interpolation",
            "mean",
            "std",
            "first_conv",
            "classifier",
            "license",
            "origin_url",
            "paper_ids",
            "top1",
        ):
            assert key in cfg, (name, key)
        assert cfg["first_conv"] == "patch_embed1.proj" and cfg["classifier"] == "head"
        assert cfg["url"].startswith("https://github.com/whai362/PVT/releases/download/v2/")
        if name.startswith("pvt_v2"):
            assert cfg["hf_hub_id"] == f"timm/{name}"
        else:
            assert cfg["settings"] == {"attn_proj": True}


def test_timm_names_map_back_to_official():
    state = official(pvt_v2_b0())
    assert timm_to_official(timm_names(state)).keys() == state.keys()
    assert timm_to_official(state) is state


# ------------------------------------------------------------- pretrained ---


def test_hub_file_gives_the_same_logits_and_is_fetched_once(hub_b0, mirror, lucid_home):
    model = create_model("pvt_v2_b0.in1k", pretrained=True, pretrained_cfg_overlay=NO_HASH, **SMALL)
    np.testing.assert_array_equal(logits(model), logits(by_hand(pvt_v2_b0, hub_b0, **SMALL)))
    assert model.pretrained_cfg["hf_hub_id"] == "timm/pvt_v2_b0.in1k"
    create_model("pvt_v2_b0", pretrained=True, pretrained_cfg_overlay=NO_HASH, **SMALL)
    assert mirror.requests == [f"/{HUB_PATH}"]
    # A cached copy cut short is noticed and fetched again.
    cached = lucid_home / "hub" / "timm" / "pvt_v2_b0.in1k" / "model.safetensors"
    cached.write_bytes(cached.read_bytes()[:-100])
    again = create_model("pvt_v2_b0", pretrained=True, pretrained_cfg_overlay=NO_HASH, **SMALL)
    np.testing.assert_array_equal(logits(again), logits(model))
    assert mirror.requests == [f"/{HUB_PATH}"] * 2


def test_official_release_file_gives_the_same_logits(tmp_path, mirror):
    state = official(pvt_v2_b0(**SMALL))
    mirror.put(f"{RELEASE}/pvt_v2_b0.pth", torch_file(state, tmp_path / "b0.pth"))
    model = create_model(
        "pvt_v2_b0.in1k", pretrained=True, pretrained_cfg_overlay={"source": "url"}, **SMALL
    )
    np.testing.assert_array_equal(logits(model), logits(by_hand(pvt_v2_b0, state, **SMALL)))
    assert mirror.requests == [f"/{RELEASE}/pvt_v2_b0.pth"]


def test_v1_weights_build_the_layout_they_need(tmp_path, mirror):
    state = official(pvt_tiny(attn_proj=True, **SMALL))
    mirror.put(f"{RELEASE}/pvt_tiny.pth", torch_file(state, tmp_path / "t.pth"))
    model = create_model("pvt_tiny.in1k", pretrained=True, **SMALL)
    assert model.config["attn_proj"] is True
    want = logits(by_hand(pvt_tiny, state, attn_proj=True, **SMALL))
    np.testing.assert_array_equal(logits(model), want)
    with pytest.raises(ValueError, match=r"needs attn_proj=True, but attn_proj=False was passed"):
        create_model("pvt_tiny.in1k", pretrained=True, attn_proj=False, **SMALL)


def test_published_hash_mismatch_keeps_nothing(hub_b0, lucid_home):
    with pytest.raises(PretrainedWeightsError, match="not the published d0927f8c"):
        create_model("pvt_v2_b0.in1k", pretrained=True, **SMALL)
    assert not any(p.is_file() for p in lucid_home.rglob("*"))


def test_offline_names_the_exact_path(hub_b0, lucid_home, monkeypatch):
    monkeypatch.setenv("LUCID_OFFLINE", "1")
    with pytest.raises(PretrainedWeightsError) as info:
        create_model("pvt_v2_b0.in1k", pretrained=True, **SMALL)
    path = lucid_home / "hub" / "timm" / "pvt_v2_b0.in1k" / "model.safetensors"
    assert f"place it at exactly {path}" in str(info.value)
    assert hub_b0 and not path.exists()


def test_other_num_classes_keeps_a_fresh_head(hub_b0, capsys):
    model = create_model(
        "pvt_v2_b0.in1k", pretrained=True, pretrained_cfg_overlay=NO_HASH, num_classes=10, **SMALL
    )
    state = official(model)
    assert state["head.weight"].shape == (10, 256)
    assert all(np.array_equal(state[k], v) for k, v in hub_b0.items() if not k.startswith("head"))
    assert (
        "classifier 'head' keeps its fresh initialisation for 10 classes" in capsys.readouterr().err
    )
    headless = create_model(
        "pvt_v2_b0.in1k", pretrained=True, pretrained_cfg_overlay=NO_HASH, num_classes=0, **SMALL
    )
    assert "head.weight" not in official(headless)


def test_one_input_channel_sums_the_rgb_filters(hub_b0):
    model = create_model(
        "pvt_v2_b0.in1k", pretrained=True, pretrained_cfg_overlay=NO_HASH, in_chans=1, **SMALL
    )
    got = official(model)["patch_embed1.proj.weight"]
    np.testing.assert_allclose(
        got, hub_b0["patch_embed1.proj.weight"].sum(axis=1, keepdims=True), rtol=1e-6
    )


def test_unknown_tag_and_missing_weights_are_named():
    with pytest.raises(PretrainedWeightsError, match=r"tagged 'in22k'.*pvt_v2_b0\.in1k"):
        create_model("pvt_v2_b0.in22k")
    with pytest.raises(PretrainedWeightsError, match="no pretrained weights are published"):
        create_model("pvt_huge", pretrained=True)
    assert create_model("pvt_v2_b0", pretrained=False, **SMALL).pretrained_cfg["tag"] == "in1k"
    assert create_model("pvt_huge", **SMALL).pretrained_cfg == {"architecture": "pvt_huge"}


# -------------------------------------------------------- checkpoint_path ---


def test_checkpoint_metadata_builds_the_matching_layout(tmp_path):
    state = official(pvt_tiny(attn_proj=True, **SMALL))
    path = tmp_path / "tiny.safetensors"
    settings = json.dumps({"attn_proj": True})
    lucid.save(state, path, metadata={"model": "pvt_tiny", "settings": settings})
    model = create_model("pvt_tiny", checkpoint_path=path, **SMALL)
    assert model.config["attn_proj"] is True
    np.testing.assert_array_equal(
        official(model)["block1.0.attn.proj.weight"], state["block1.0.attn.proj.weight"]
    )
    with pytest.raises(ValueError, match=r"holds weights for 'pvt_tiny', not 'pvt_small'"):
        create_model("pvt_small", checkpoint_path=path)
    with pytest.raises(ValueError, match="pass attn_proj=True or leave it out"):
        create_model("pvt_tiny", checkpoint_path=path, attn_proj=False, **SMALL)


def test_checkpoint_with_other_classes_reinitialises_the_head(tmp_path, capsys):
    path = tmp_path / "b0.pth"
    state = official(pvt_v2_b0(**SMALL))
    torch_file(state, path)
    model = create_model("pvt_v2_b0", num_classes=10, checkpoint_path=path, **SMALL)
    assert official(model)["head.weight"].shape == (10, 256)
    assert "keeps its fresh initialisation" in capsys.readouterr().err


def test_strict_is_passed_to_load_state_dict(tmp_path):
    state = official(pvt_v2_b0(**SMALL))
    del state["norm4.weight"]
    path = tmp_path / "partial.safetensors"
    lucid.save(state, path)
    with pytest.raises(RuntimeError, match=r"(?s)pass strict=False.*missing key.*norm4\.weight"):
        create_model("pvt_v2_b0", checkpoint_path=path, **SMALL)
    model = create_model("pvt_v2_b0", checkpoint_path=path, strict=False, **SMALL)
    np.testing.assert_array_equal(official(model)["norm4.bias"], state["norm4.bias"])


# -------------------------------------------------------------- converter ---


@pytest.mark.slow
def test_converter_records_model_settings_and_source(tmp_path):
    src, dst = tmp_path / "pvt_tiny.pth", tmp_path / "pvt_tiny.safetensors"
    state = official(pvt_tiny(attn_proj=True))
    torch_file(state, src)
    assert convert.convert(src, dst) == "pvt_tiny"
    _, meta = lucid.models.read_weights(dst)
    assert meta["model"] == "pvt_tiny" and meta["source"] == "pvt_tiny.pth"
    assert json.loads(meta["settings"]) == {"attn_proj": True, "img_size": 224}
    model = create_model("pvt_tiny", checkpoint_path=dst)
    assert model.config["attn_proj"] is True


def test_converter_accepts_timm_names_and_bad_input_gets_one_line(tmp_path, capsys):
    state = official(pvt_v2_b0())
    src, dst = tmp_path / "timm.pth", tmp_path / "b0.safetensors"
    torch_file(timm_names(state), src)
    assert convert.convert(src, dst) == "pvt_v2_b0"
    flat = tmp_path / "flat.pth"
    tiny = official(pvt_tiny(attn_proj=True))
    tiny["pos_embed1"] = tiny["pos_embed1"].reshape(-1)
    torch_file(tiny, flat)
    assert convert.main([str(flat), str(tmp_path / "out.safetensors"), "--model", "pvt_tiny"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pos_embed1 of shape" in err
    assert not (tmp_path / "out.safetensors").exists()


@pytest.mark.slow
def test_converter_and_pretrained_run_where_torch_cannot_be_imported(tmp_path, mirror):
    state = official(pvt_v2_b0(**SMALL))
    mirror.put(f"{RELEASE}/pvt_v2_b0.pth", torch_file(state, tmp_path / "served.pth"))
    full = tmp_path / "full.pth"
    torch_file(official(pvt_v2_b0()), full)
    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, Block())
from lucid.models import create_model
from lucid_models_pvt import convert
model = create_model("pvt_v2_b0.in1k", pretrained=True, pretrained_cfg_overlay={{"source": "url"}},
                     depths=[1, 1, 1, 1])
print(convert.main([{str(full)!r}, {str(tmp_path / "out.safetensors")!r}]))
print("torch" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["0", "False"]
    assert (tmp_path / "out.safetensors").exists()


# ---------------------------------------------------------------- predict ---


@pytest.fixture
def served_b0(tmp_path, mirror, monkeypatch):  # type: ignore[no-untyped-def]
    """Small pvt_v2_b0 weights served under the extra tag ``pvt_v2_b0.test`` (no hash).

    The tag's ``settings`` build the small layout, as PVT v1's build ``attn_proj=True``.
    """
    from lucid.models import _pretrained

    state = official(pvt_v2_b0(**SMALL))
    path = tmp_path / "b0.safetensors"
    safetensors.numpy.save_file(timm_names(state), str(path))
    mirror.put("test/pvt_v2_b0/resolve/main/model.safetensors", path.read_bytes())
    cfg = {
        **get_pretrained_cfg("pvt_v2_b0.in1k"),
        "hf_hub_id": "test/pvt_v2_b0",
        "tag": "test",
        "settings": SMALL,
    }
    del cfg["sha256"]
    monkeypatch.setitem(_pretrained._CFGS["pvt_v2_b0"], "test", cfg)
    return state, cfg


@pytest.mark.slow
def test_lucid_predict_prints_the_top_classes(tmp_path, served_b0, capsys):
    from PIL import Image

    from lucid import _cli
    from lucid.models._predict import imagenet_class_names
    from lucid.vision.transforms import create_transform

    state, cfg = served_b0
    image = tmp_path / "cat.png"
    pixels = np.random.default_rng(1).integers(0, 256, (180, 260, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(image)
    x = create_transform(cfg)(Image.open(image).convert("RGB")).unsqueeze(0)
    with lucid.no_grad():
        z = by_hand(pvt_v2_b0, state, **SMALL).eval()(x).data[0].astype(np.float64)
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    best = np.argsort(-p, kind="stable")[:3]

    assert (
        _cli.main(["predict", str(image), "--model", "pvt_v2_b0.test", "--top", "3", "--json"]) == 0
    )
    (result,) = json.loads(capsys.readouterr().out)
    assert result["image"] == str(image)
    assert [q["index"] for q in result["predictions"]] == best.tolist()
    assert [q["label"] for q in result["predictions"]] == [imagenet_class_names()[i] for i in best]
    np.testing.assert_allclose(
        [q["probability"] for q in result["predictions"]], p[best], rtol=1e-6
    )

    assert _cli.main(["predict", str(image), str(image), "--model", "pvt_v2_b0.test"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 12 and lines[0] == lines[6] == str(image)
    label = imagenet_class_names()[best[0]]
    assert lines[1] == f"  1. {p[best[0]]:7.2%}  {label} ({best[0]})"


def test_lucid_predict_errors_are_one_line(tmp_path, served_b0, capsys):
    from lucid import _cli

    missing = tmp_path / "nope.jpg"
    assert _cli.main(["predict", str(missing), "--model", "pvt_v2_b0.test"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no image file" in err
    not_image = tmp_path / "notes.txt"
    not_image.write_text("hello")
    assert _cli.main(["predict", str(not_image), "--model", "pvt_v2_b0.test", "--top", "0"]) == 1
    assert "--top must be between 1 and 1000" in capsys.readouterr().err
    assert _cli.main(["predict", str(not_image), "--model", "pvt_v2_b0.test"]) == 1
    assert "is not an image Pillow can read" in capsys.readouterr().err.splitlines()[-1]
    assert _cli.main(["predict", str(not_image), "--model", "pvt_v2_b0.in22k"]) == 1
    assert "no pretrained weights tagged 'in22k'" in capsys.readouterr().err


def test_cli_lists_weights_and_tags(capsys):
    from lucid import _cli

    assert _cli.main(["models", "list", "--pretrained", "pvt_v2_b0*"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "TOP-1", "TOP-5", "LICENSE", "SOURCE"]
    assert out[1].split() == [
        "pvt_v2_b0.in1k",
        "70.66",
        "90.20",
        "apache-2.0",
        "hf-hub:timm/pvt_v2_b0.in1k",
    ]
    assert _cli.main(["models", "list", "--pretrained", "pvt_tiny", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["name"] == "pvt_tiny.in1k" and entry["settings"] == {"attn_proj": True}
    assert _cli.main(["models", "info", "pvt_v2_b0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pretrained"] == ["pvt_v2_b0.in1k"]
    assert _cli.main(["models", "info", "pvt_v2_b0.in1k"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split() == ["pretrained", "pvt_v2_b0.in1k"]


def test_features_only_keeps_the_backbone_weights(hub_b0):
    backbone = create_model(
        "pvt_v2_b0.in1k",
        pretrained=True,
        pretrained_cfg_overlay=NO_HASH,
        features_only=True,
        **SMALL,
    )
    state = official(backbone)
    assert "head.weight" not in state
    assert all(np.array_equal(v, hub_b0[k]) for k, v in state.items())


def test_builders_take_pretrained_and_carry_their_cfg_as_timm_builders_do(
    hub_b0, mirror, lucid_home
):
    from lucid.models import pvt_huge, pvt_v2_b0

    assert pvt_v2_b0(**SMALL).pretrained_cfg["hf_hub_id"] == "timm/pvt_v2_b0.in1k"
    with lucid.nn.meta_init():  # pvt_huge has no published weights: its cfg names it only
        assert pvt_huge().pretrained_cfg == {"architecture": "pvt_huge"}
    model = pvt_v2_b0(pretrained=True, pretrained_cfg_overlay=NO_HASH, **SMALL)
    np.testing.assert_array_equal(logits(model), logits(by_hand(pvt_v2_b0, hub_b0, **SMALL)))
    assert mirror.requests == [f"/{HUB_PATH}"]
