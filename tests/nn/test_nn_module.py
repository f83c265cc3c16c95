"""Module semantics: registration, iteration, modes, hooks, dtype, repr, and the state dict."""

from __future__ import annotations

import numpy as np
import pytest

import lucid
from lucid import nn


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.norm = nn.LayerNorm(3)
        self.register_buffer("steps", lucid.zeros(1))
        self.register_buffer("cache", lucid.zeros(2), persistent=False)
        self.scale = nn.Parameter(lucid.ones(1))

    def forward(self, x):
        return self.norm(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Linear(4, 3)
        self.blocks = nn.ModuleList([Block(), Block()])
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(3, 2))

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


# ----------------------------------------------------------- registration ---


def test_assignment_registers_parameters_modules_and_buffers():
    block = Block()
    assert list(block._parameters) == ["scale"]
    assert list(block._modules) == ["fc", "norm"]
    assert list(block._buffers) == ["steps", "cache"]
    block.steps = lucid.ones(1)  # assigning a tensor to a buffer name replaces the buffer
    assert block._buffers["steps"].tolist() == [1.0]
    block.plain = lucid.ones(1)  # a tensor under a new name is a plain attribute
    assert "plain" not in block._buffers and "plain" in block.__dict__
    del block.fc
    assert "fc" not in block._modules
    with pytest.raises(AttributeError, match="fc"):
        _ = block.fc


def test_reassigning_keeps_order_and_type_checks():
    block = Block()
    block.fc = nn.Linear(3, 3)
    assert list(block._modules) == ["fc", "norm"]
    with pytest.raises(TypeError, match="Parameter or None"):
        block.scale = lucid.ones(1)
    block.scale = None
    assert block.scale is None and "scale" in block._parameters
    with pytest.raises(TypeError, match="Module or None"):
        block.norm = 3


def test_registration_errors_are_explained():
    class Forgetful(nn.Module):
        def __init__(self) -> None:
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__"):
        Forgetful()
    m = nn.Module()
    with pytest.raises(KeyError, match=r"'\.'"):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError, match=r"nn\.Parameter"):
        m.register_parameter("w", lucid.ones(1))
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("training", lucid.ones(1))
    m.add_module("child", nn.ReLU())
    assert m.get_submodule("child") is m.child
    with pytest.raises(AttributeError, match="missing"):
        m.get_submodule("missing")


def test_parameter_is_a_tensor_that_requires_grad():
    p = nn.Parameter(lucid.tensor([1.0, 2.0]))
    assert isinstance(p, lucid.Tensor) and p.requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor([1., 2.]")
    frozen = nn.Parameter(np.zeros(2), requires_grad=False)
    assert not frozen.requires_grad and frozen.dtype == np.float32
    assert isinstance(p * 2, lucid.Tensor) and not isinstance(p * 2, nn.Parameter)


# ------------------------------------------------------------- iteration ---


def test_named_parameters_have_dotted_names():
    names = [name for name, _ in Net().named_parameters()]
    assert names == [
        "stem.weight",
        "stem.bias",
        "blocks.0.scale",
        "blocks.0.fc.weight",
        "blocks.0.fc.bias",
        "blocks.0.norm.weight",
        "blocks.0.norm.bias",
        "blocks.1.scale",
        "blocks.1.fc.weight",
        "blocks.1.fc.bias",
        "blocks.1.norm.weight",
        "blocks.1.norm.bias",
        "head.1.weight",
        "head.1.bias",
    ]
    assert len(list(Net().parameters())) == 14
    assert [n for n, _ in Net().named_parameters(recurse=False)] == []


def test_shared_parameters_and_modules_come_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(model.modules())) == 3
    assert [n for n, _ in model.named_children()] == ["0", "1"]
    tied = nn.Module()
    tied.a, tied.b = nn.Linear(2, 2), nn.Linear(2, 2)
    tied.b.weight = tied.a.weight
    assert [n for n, _ in tied.named_parameters()] == ["a.weight", "a.bias", "b.bias"]
    # The state dict lists a shared tensor under each of its names, as torch does.
    assert list(tied.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]


def test_buffers_and_the_persistent_flag():
    block = Block()
    assert [n for n, _ in block.named_buffers()] == ["steps", "cache", "norm"][:2]
    assert list(block.state_dict()) == [
        "scale",
        "steps",
        "fc.weight",
        "fc.bias",
        "norm.weight",
        "norm.bias",
    ]
    assert len(list(Net().buffers())) == 4


def test_module_list_and_dict_containers():
    blocks = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    blocks.append(nn.Sigmoid())
    blocks.insert(0, nn.Identity())
    assert [type(m).__name__ for m in blocks] == ["Identity", "ReLU", "Tanh", "Sigmoid"]
    assert list(blocks._modules) == ["0", "1", "2", "3"]
    del blocks[1]
    assert list(blocks._modules) == ["0", "1", "2"] and isinstance(blocks[-1], nn.Sigmoid)
    assert isinstance(blocks[1:], nn.ModuleList) and len(blocks[1:]) == 2
    heads = nn.ModuleDict({"a": nn.Linear(1, 1)})
    heads["b"] = nn.Linear(1, 2)
    assert list(heads) == ["a", "b"] and "b" in heads and len(heads) == 2
    assert [n for n, _ in heads.named_parameters()] == ["a.weight", "a.bias", "b.weight", "b.bias"]
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    assert isinstance(seq[:2], nn.Sequential) and len(seq[:2]) == 2
    del seq[0]
    assert list(seq._modules) == ["0", "1"]


# ------------------------------------------------------------------ modes ---


def test_train_eval_return_self_and_reach_every_module():
    net = Net()
    assert net.eval() is net
    assert all(not m.training for m in net.modules())
    assert net.train() is net
    assert all(m.training for m in net.modules())
    with pytest.raises(TypeError):
        net.train("no")


def test_apply_visits_children_first():
    net = nn.Sequential(nn.Linear(1, 1), nn.Sequential(nn.ReLU()))
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]


def test_zero_grad_and_requires_grad_():
    net = Net()
    net(lucid.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(not p.grad.data.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())


def test_dtype_conversion_keeps_parameter_identity():
    net = Net()
    weight = net.stem.weight
    assert net.double() is net
    assert weight is net.stem.weight and weight.dtype == np.float64
    assert net.blocks[0].steps.dtype == np.float64
    assert net(lucid.randn(2, 4, dtype=lucid.float64)).dtype == np.float64
    net.to(lucid.float32)
    assert all(p.dtype == np.float32 for p in net.parameters())
    bn = nn.BatchNorm2d(2).to("float64", "cpu")
    assert bn.num_batches_tracked.dtype == np.int64 and bn.running_var.dtype == np.float64
    with pytest.raises(TypeError, match="floating"):
        net.to(lucid.int32)


# ------------------------------------------------------------------ hooks ---


def test_forward_hooks_run_around_forward_and_can_be_removed():
    layer = nn.Linear(2, 2)
    calls = []
    pre = layer.register_forward_pre_hook(lambda m, args: calls.append(("pre", args[0].shape)))
    post = layer.register_forward_hook(lambda m, args, out: calls.append(("post", out.shape)))
    layer(lucid.zeros(3, 2))
    assert calls == [("pre", (3, 2)), ("post", (3, 2))]
    pre.remove()
    post.remove()
    post.remove()  # removing twice is harmless
    layer(lucid.zeros(1, 2))
    assert len(calls) == 2


def test_hooks_can_replace_arguments_and_output():
    layer = nn.Identity()
    layer.register_forward_pre_hook(lambda m, args: args[0] * 2)
    with layer.register_forward_hook(lambda m, args, out: out + 1):
        assert layer(lucid.ones(1)).tolist() == [3.0]
    assert layer(lucid.ones(1)).tolist() == [2.0]


# ------------------------------------------------------------------- repr ---


def test_repr_prints_the_module_tree():
    assert repr(Net()) == (
        "Net(\n"
        "  (stem): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (blocks): ModuleList(\n"
        "    (0-1): 2 x Block(\n"
        "      (fc): Linear(in_features=3, out_features=3, bias=True)\n"
        "      (norm): LayerNorm((3,), eps=1e-05, elementwise_affine=True, bias=True)\n"
        "    )\n"
        "  )\n"
        "  (head): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Linear(in_features=3, out_features=2, bias=True)\n"
        "  )\n"
        ")"
    )


def test_layer_reprs_match_torch():
    torch = pytest.importorskip("torch")
    pairs = [
        (
            nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
            torch.nn.Conv2d(3, 8, 3, 2, 1, bias=False),
        ),
        (
            nn.Conv2d(4, 4, 3, padding="same", groups=4, dilation=2),
            torch.nn.Conv2d(4, 4, 3, padding="same", groups=4, dilation=2),
        ),
        (nn.Conv1d(2, 3, 5), torch.nn.Conv1d(2, 3, 5)),
        (nn.LayerNorm((4, 5)), torch.nn.LayerNorm((4, 5))),
        (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)),
        (nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4)),
        (nn.Dropout(0.1), torch.nn.Dropout(0.1)),
        (nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")),
        (nn.ReLU(), torch.nn.ReLU()),
        (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
        (nn.Embedding(10, 3, padding_idx=0), torch.nn.Embedding(10, 3, padding_idx=0)),
        (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
        (nn.AvgPool2d(3, 1, 1), torch.nn.AvgPool2d(3, 1, 1)),
        (nn.AdaptiveAvgPool2d((1, 1)), torch.nn.AdaptiveAvgPool2d((1, 1))),
        (nn.Flatten(), torch.nn.Flatten()),
        (
            nn.Upsample(scale_factor=2, mode="bilinear"),
            torch.nn.Upsample(scale_factor=2, mode="bilinear"),
        ),
        (nn.Identity(), torch.nn.Identity()),
        (
            nn.Sequential(nn.Linear(2, 3), nn.Tanh()),
            torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh()),
        ),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


# ------------------------------------------------------------- state dict ---


def test_state_dict_round_trip_restores_outputs():
    a, b = Net(), Net()
    x = lucid.randn(2, 4)
    assert not np.allclose(a(x).data, b(x).data)
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_state_dict_values_are_detached_and_share_data():
    layer = nn.Linear(2, 2)
    state = layer.state_dict()
    assert not state["weight"].requires_grad and not isinstance(state["weight"], nn.Parameter)
    assert state["weight"].data is layer.weight.data
    assert layer.state_dict(keep_vars=True)["weight"] is layer.weight


def test_load_state_dict_accepts_arrays_and_casts_dtype():
    layer = nn.Linear(2, 2)
    weight = layer.weight
    layer.load_state_dict({"weight": np.eye(2), "bias": lucid.tensor([1, 2])})
    assert layer.weight is weight and layer.weight.dtype == np.float32
    assert layer.weight.tolist() == [[1.0, 0.0], [0.0, 1.0]] and layer.bias.tolist() == [1.0, 2.0]


def test_strict_load_reports_every_problem_and_changes_nothing():
    net = Net()
    before = {k: v.data.copy() for k, v in net.state_dict().items()}
    state = {k: v.data + 1 for k, v in net.state_dict().items()}
    del state["stem.bias"], state["head.1.weight"]
    state["blocks.0.fc.weight"] = np.zeros((2, 2))
    state["extra.weight"] = np.zeros(1)
    state["blocks.9.scale"] = np.zeros(1)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(state)
    message = str(info.value)
    for expected in (
        "'stem.bias'",
        "'head.1.weight'",
        "'extra.weight'",
        "'blocks.9.scale'",
        "size mismatch for blocks.0.fc.weight",
        "(2, 2)",
        "(3, 3)",
        "strict=False",
    ):
        assert expected in message
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k], err_msg=k)


def test_non_strict_load_returns_the_key_lists():
    net = Net()
    state = {k: v for k, v in net.state_dict().items() if not k.startswith("head")}
    state["unused"] = np.zeros(3)
    result = net.load_state_dict(state, strict=False)
    assert result.missing_keys == ["head.1.weight", "head.1.bias"]
    assert result.unexpected_keys == ["unused"]
    missing, unexpected = result
    assert (missing, unexpected) == (result.missing_keys, result.unexpected_keys)


def test_non_strict_load_still_refuses_wrong_shapes():
    layer = nn.Linear(2, 2)
    weight = layer.weight.data.copy()
    with pytest.raises(RuntimeError, match="size mismatch for bias"):
        layer.load_state_dict({"weight": np.zeros((2, 2)), "bias": np.zeros(3)}, strict=False)
    np.testing.assert_array_equal(layer.weight.data, weight)


def test_load_bumps_versions_so_stale_graphs_are_caught():
    layer = nn.Linear(2, 1)
    y = layer(lucid.ones(1, 2)).sum()
    layer.load_state_dict(layer.state_dict())
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_state_dict_keys_match_torch_for_a_small_convnet():
    torch = pytest.importorskip("torch")

    def build(lib):
        return lib.Sequential(
            lib.Conv2d(1, 4, 3),
            lib.BatchNorm2d(4),
            lib.GroupNorm(2, 4),
            lib.Flatten(),
            lib.LayerNorm(4 * 6 * 6),
            lib.Linear(4 * 6 * 6, 3),
            lib.Embedding(3, 2),
        )

    ours, theirs = build(nn), build(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (name, p), (tname, tp) in zip(
        ours.named_parameters(), theirs.named_parameters(), strict=True
    ):
        assert name == tname and p.shape == tuple(tp.shape)
