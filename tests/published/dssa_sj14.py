"""Small SpikingResformer-style model (DSSA attention) written against SpikingJelly 0.0.0.0.14.

Written for snncompile's tests in the style of the published SpikingResformer code: multi-step LIF neurons from
``spikingjelly.activation_based.neuron`` (``step_mode='m'``, ``backend='cupy'`` as published; ``run_reference.py``
switches them to 'torch'), membrane shortcuts (real-valued BN outputs added to the residual stream), dual spike
self-attention (DSSA) whose scales come from registered firing-rate buffers, a grouped-conv FFN (GWFFN) and a
per-step pooled linear head averaged over time.

Layout: stem Conv3x3-BN-MaxPool (no LIF) -> [T, B, 32, 16, 16] -> block(32 ch, 2 heads, patch 4) -> downsample
(LIF, Conv3x3/2, BN) -> [T, B, 64, 8, 8] -> block(64 ch, 4 heads, patch 2) -> LIF -> avgpool -> Linear -> mean over T.
"""

import torch
import torch.nn as nn
from spikingjelly.activation_based import layer, neuron  # noqa: F401  (layer: imported as the published code does)

T = 4
INPUT_SHAPE = (3, 32, 32)


def LIF(v_threshold=1.0):
    return neuron.LIFNode(tau=2.0, v_threshold=v_threshold, detach_reset=True, step_mode='m', backend='cupy')


class DSSA(nn.Module):
    """Dual spike self-attention: attention between the spikes and a patch-embedded (p x p, stride p) copy."""

    def __init__(self, dim, num_heads, length, patch_size):
        super().__init__()
        assert dim % num_heads == 0
        self.dim = dim
        self.num_heads = num_heads
        self.length = length  # N' = number of patch tokens
        self.activation_in = LIF()
        self.W = nn.Conv2d(dim, dim * 2, patch_size, patch_size, bias=False)
        self.norm = nn.BatchNorm2d(dim * 2)
        self.activation_attn = LIF()
        self.activation_out = LIF()
        self.Wproj = nn.Conv2d(dim, dim, 1, 1, bias=False)
        self.norm_proj = nn.BatchNorm2d(dim)
        # firing-rate statistics collected in training (values as a trained checkpoint would hold them)
        self.register_buffer('firing_rate_x', torch.linspace(0.1, 0.3, num_heads).reshape(1, 1, num_heads, 1, 1))
        self.register_buffer('firing_rate_attn', torch.linspace(0.3, 0.15, num_heads).reshape(1, 1, num_heads, 1, 1))

    def forward(self, x):
        T, B, C, H, W = x.shape
        x_feat = x
        x = self.activation_in(x)  # spikes [T, B, C, H, W]
        y = self.W(x.flatten(0, 1))
        y = self.norm(y)
        y = y.reshape(T, B, self.num_heads, 2 * C // self.num_heads, -1)  # [T, B, h, 2d, N']
        y1, y2 = y[:, :, :, : C // self.num_heads, :], y[:, :, :, C // self.num_heads :, :]
        x = x.reshape(T, B, self.num_heads, C // self.num_heads, -1)  # [T, B, h, d, N]

        c1 = 1 / torch.sqrt(self.firing_rate_x * (self.dim // self.num_heads))
        attn = y1.transpose(-1, -2) @ x  # [T, B, h, N', N]
        attn = self.activation_attn(attn * c1)

        c2 = 1 / torch.sqrt(self.firing_rate_attn * self.length)
        out = (y2 @ attn) * c2  # [T, B, h, d, N]
        out = out.reshape(T, B, C, H, W)
        out = self.activation_out(out)

        out = self.Wproj(out.flatten(0, 1))
        out = self.norm_proj(out).reshape(T, B, C, H, W)
        out = out + x_feat  # membrane shortcut
        return out


class GWFFN(nn.Module):
    """Grouped-wide FFN: 1x1 up, grouped 3x3 with its own membrane shortcut, 1x1 down."""

    def __init__(self, in_channels, num_conv=1, ratio=4, group_size=16):
        super().__init__()
        inner_channels = in_channels * ratio
        self.up_act = LIF()
        self.up_conv = nn.Conv2d(in_channels, inner_channels, 1, 1, bias=False)
        self.up_bn = nn.BatchNorm2d(inner_channels)
        self.conv_act = nn.ModuleList()
        self.conv = nn.ModuleList()
        self.conv_bn = nn.ModuleList()
        for _ in range(num_conv):
            self.conv_act.append(LIF())
            self.conv.append(nn.Conv2d(inner_channels, inner_channels, 3, 1, 1, groups=inner_channels // group_size,
                                       bias=False))
            self.conv_bn.append(nn.BatchNorm2d(inner_channels))
        self.down_act = LIF()
        self.down_conv = nn.Conv2d(inner_channels, in_channels, 1, 1, bias=False)
        self.down_bn = nn.BatchNorm2d(in_channels)

    def forward(self, x):
        T, B, C, H, W = x.shape
        x_feat_out = x
        x = self.up_act(x)
        x = self.up_bn(self.up_conv(x.flatten(0, 1))).reshape(T, B, -1, H, W)
        for act, conv, bn in zip(self.conv_act, self.conv, self.conv_bn, strict=True):
            x_feat = x
            x = act(x)
            x = bn(conv(x.flatten(0, 1))).reshape(T, B, -1, H, W)
            x = x + x_feat
        x = self.down_act(x)
        x = self.down_bn(self.down_conv(x.flatten(0, 1))).reshape(T, B, C, H, W)
        x = x + x_feat_out
        return x


class DSSABlock(nn.Module):
    def __init__(self, dim, num_heads, length, patch_size):
        super().__init__()
        self.attn = DSSA(dim, num_heads, length, patch_size)
        self.ffn = GWFFN(dim)

    def forward(self, x):
        x = self.attn(x)  # DSSA adds its own membrane shortcut
        x = self.ffn(x)
        return x


class DownsampleLayer(nn.Module):
    def __init__(self, in_channels, out_channels, stride=2):
        super().__init__()
        self.act = LIF()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        T, B = x.shape[:2]
        x = self.act(x)
        x = self.norm(self.conv(x.flatten(0, 1)))
        return x.reshape(T, B, *x.shape[1:])


class SpikingResformer(nn.Module):
    def __init__(self, in_channels=3, num_classes=10, dims=(32, 64), heads=(2, 4), patch_sizes=(4, 2),
                 img_size=32, T=4):
        super().__init__()
        self.T = T
        self.stem_conv = nn.Conv2d(in_channels, dims[0], 3, 1, 1, bias=False)
        self.stem_bn = nn.BatchNorm2d(dims[0])
        self.stem_pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        size = img_size // 2
        self.stage1 = DSSABlock(dims[0], heads[0], (size // patch_sizes[0]) ** 2, patch_sizes[0])
        self.down = DownsampleLayer(dims[0], dims[1])
        size //= 2
        self.stage2 = DSSABlock(dims[1], heads[1], (size // patch_sizes[1]) ** 2, patch_sizes[1])
        self.head_act = LIF()
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(dims[1], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        if x.dim() != 5:
            x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        T, B, C, H, W = x.shape
        x = self.stem_pool(self.stem_bn(self.stem_conv(x.flatten(0, 1))))
        x = x.reshape(T, B, *x.shape[1:])
        x = self.stage1(x)
        x = self.down(x)
        x = self.stage2(x)
        x = self.head_act(x)
        x = self.avgpool(x.flatten(0, 1)).flatten(1)
        x = self.classifier(x).reshape(T, B, -1)
        return x.mean(0)


def build():
    return SpikingResformer(in_channels=INPUT_SHAPE[0], num_classes=10, img_size=INPUT_SHAPE[1], T=T)
