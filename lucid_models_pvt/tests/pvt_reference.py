"""PyTorch implementations of PVT v1 and v2, the numerical reference for the lucid models.

Written for these tests from the papers and the behaviour of the official
implementations: the state-dict keys are the official ones, so a state dict
moves between this reference and lucid unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# ------------------------------------------------------------------ blocks ---


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, dwconv: bool, relu: bool) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.relu = relu
        if dwconv:
            self.dwconv = DWConv(hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        x = self.fc1(x)
        if self.relu:
            x = F.relu(x)
        if hasattr(self, "dwconv"):
            x = self.dwconv(x, h, w)
        return self.fc2(F.gelu(x))


class DWConv(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b, _, c = x.shape
        x = self.dwconv(x.transpose(1, 2).reshape(b, c, h, w))
        return x.flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, sr: int, proj: bool, linear: bool) -> None:
        super().__init__()
        self.heads = heads
        self.sr_ratio = sr
        self.linear = linear
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        if proj:
            self.proj = nn.Linear(dim, dim)
        if linear:
            self.sr = nn.Conv2d(dim, dim, 1)
            self.norm = nn.LayerNorm(dim)
        elif sr > 1:
            self.sr = nn.Conv2d(dim, dim, sr, stride=sr)
            self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b, n, c = x.shape
        d = c // self.heads
        q = self.q(x).reshape(b, n, self.heads, d).transpose(1, 2)
        src = x
        if self.linear or self.sr_ratio > 1:
            grid = x.transpose(1, 2).reshape(b, c, h, w)
            if self.linear:
                grid = F.adaptive_avg_pool2d(grid, 7)
            src = self.norm(self.sr(grid).flatten(2).transpose(1, 2))
            if self.linear:
                src = F.gelu(src)
        k, v = self.kv(src).reshape(b, -1, 2, self.heads, d).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) * d**-0.5).softmax(-1)
        out = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(out) if hasattr(self, "proj") else out


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, sr, proj, dwconv, linear) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, sr, proj, linear)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dwconv, relu=linear)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), h, w)
        return x + self.mlp(self.norm2(x), h, w)


class PatchEmbed(nn.Module):
    def __init__(self, cin: int, dim: int, kernel: int, stride: int) -> None:
        super().__init__()
        # v1 patches do not overlap (kernel == stride); v2 pads half the kernel.
        padding = 0 if kernel == stride else kernel // 2
        self.proj = nn.Conv2d(cin, dim, kernel, stride=stride, padding=padding)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        x = self.proj(x)
        h, w = x.shape[2:]
        return self.norm(x.flatten(2).transpose(1, 2)), h, w


def _init(model: nn.Module, conv_fan_out: bool) -> None:
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d) and conv_fan_out:
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, 0, math.sqrt(2.0 / fan_out))
            nn.init.zeros_(m.bias)


# ------------------------------------------------------------------ models ---


class TorchPVT(nn.Module):
    """PVT v1 with official key names; ``attn_proj`` switches the attention output projection.

    ``init=False`` skips the reference initialisation, for weights loaded at once.
    """

    def __init__(
        self,
        img_size=224,
        num_classes=1000,
        embed_dims=(64, 128, 320, 512),
        depths=(2, 2, 2, 2),
        num_heads=(1, 2, 5, 8),
        mlp_ratios=(8, 8, 4, 4),
        sr_ratios=(8, 4, 2, 1),
        attn_proj=False,
        init=True,
    ) -> None:
        super().__init__()
        self.img_size = img_size
        cin = 3
        for i in range(4):
            patch = 4 if i == 0 else 2
            setattr(self, f"patch_embed{i + 1}", PatchEmbed(cin, embed_dims[i], patch, patch))
            side = img_size // 2 ** (i + 2)
            tokens = side * side + (1 if i == 3 else 0)
            setattr(self, f"pos_embed{i + 1}", nn.Parameter(torch.zeros(1, tokens, embed_dims[i])))
            blocks = [
                Block(
                    embed_dims[i],
                    num_heads[i],
                    mlp_ratios[i],
                    sr_ratios[i],
                    attn_proj,
                    False,
                    False,
                )
                for _ in range(depths[i])
            ]
            setattr(self, f"block{i + 1}", nn.ModuleList(blocks))
            cin = embed_dims[i]
        self.norm = nn.LayerNorm(embed_dims[3], eps=1e-6)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims[3]))
        self.head = nn.Linear(embed_dims[3], num_classes) if num_classes else nn.Identity()
        if init:
            for p in [self.cls_token, *(getattr(self, f"pos_embed{i + 1}") for i in range(4))]:
                nn.init.trunc_normal_(p, std=0.02)
            _init(self, conv_fan_out=False)

    def _pos(self, pos: torch.Tensor, h: int, w: int) -> torch.Tensor:
        side = math.isqrt(pos.shape[1])
        if (side, side) == (h, w):
            return pos
        grid = pos.reshape(1, side, side, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(h, w), mode="bilinear", align_corners=False)
        return grid.flatten(2).transpose(1, 2)

    def stages(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Final normalised tokens (class token first) and the four stage maps."""
        b = x.shape[0]
        maps = []
        for i in range(4):
            x, h, w = getattr(self, f"patch_embed{i + 1}")(x)
            pos = getattr(self, f"pos_embed{i + 1}")
            if i == 3:
                x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1)
                pos = torch.cat([pos[:, :1], self._pos(pos[:, 1:], h, w)], dim=1)
            else:
                pos = self._pos(pos, h, w)
            x = x + pos
            for blk in getattr(self, f"block{i + 1}"):
                x = blk(x, h, w)
            if i < 3:
                x = x.reshape(b, h, w, -1).permute(0, 3, 1, 2)
                maps.append(x)
        x = self.norm(x)
        maps.append(x[:, 1:].reshape(b, h, w, -1).permute(0, 3, 1, 2))
        return x, maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(x)[0][:, 0])


class TorchPVTv2(nn.Module):
    """PVT v2 with official key names; ``linear`` selects the ``_li`` variant (``init`` as v1's)."""

    def __init__(
        self,
        num_classes=1000,
        embed_dims=(32, 64, 160, 256),
        depths=(2, 2, 2, 2),
        num_heads=(1, 2, 5, 8),
        mlp_ratios=(8, 8, 4, 4),
        sr_ratios=(8, 4, 2, 1),
        linear=False,
        init=True,
    ) -> None:
        super().__init__()
        cin = 3
        for i in range(4):
            kernel, stride = (7, 4) if i == 0 else (3, 2)
            setattr(self, f"patch_embed{i + 1}", PatchEmbed(cin, embed_dims[i], kernel, stride))
            blocks = [
                Block(embed_dims[i], num_heads[i], mlp_ratios[i], sr_ratios[i], True, True, linear)
                for _ in range(depths[i])
            ]
            setattr(self, f"block{i + 1}", nn.ModuleList(blocks))
            setattr(self, f"norm{i + 1}", nn.LayerNorm(embed_dims[i], eps=1e-6))
            cin = embed_dims[i]
        self.head = nn.Linear(embed_dims[3], num_classes) if num_classes else nn.Identity()
        if init:
            _init(self, conv_fan_out=True)

    def stages(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Final normalised tokens and the four stage maps."""
        b = x.shape[0]
        maps = []
        for i in range(4):
            x, h, w = getattr(self, f"patch_embed{i + 1}")(x)
            for blk in getattr(self, f"block{i + 1}"):
                x = blk(x, h, w)
            x = getattr(self, f"norm{i + 1}")(x)
            maps.append(x.reshape(b, h, w, -1).permute(0, 3, 1, 2))
            x = maps[-1]
        tokens = maps[-1].flatten(2).transpose(1, 2)
        return tokens, maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(x)[0].mean(1))
