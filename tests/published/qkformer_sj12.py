"""Small QKFormer-style model written against SpikingJelly 0.0.0.0.12 (``spikingjelly.clock_driven``).

Written for snncompile's tests in the style of the published QKFormer CIFAR code: multi-step LIF neurons
(``MultiStepLIFNode(..., backend='cupy')`` as published; ``run_reference.py`` switches them to 'torch'), a stage
with token Q-K attention (the query spikes summed over each head's channels, fired by an LIF with threshold 0.5,
then used as a per-token mask on the key spikes), and a stage-3 Spikformer-style SSA block on ``nn.Conv1d``
projections.

``build(leak=True)`` reproduces the published SSA bug: the projection LIF is fed ``x.flatten(0, 1)``, i.e.
``[T*B, C, N]``, so the multi-step neuron walks over the T*B rows as if they were time steps and its membrane leaks
from one sample into the next (and from step t of the last sample into step t+1 of the first).
``build(leak=False)`` feeds it ``[T, B, C, N]``.

Layout: embed1 (conv-BN-LIF, conv-BN-maxpool-LIF) -> [T, B, 32, 16, 16] -> token-QK block (2 heads) -> embed2
(conv-BN-maxpool-LIF) -> [T, B, 64, 8, 8] -> SSA block (4 heads) -> token mean -> Linear -> mean over T.
"""

import torch
import torch.nn as nn
from spikingjelly.clock_driven.neuron import MultiStepLIFNode

T = 4
INPUT_SHAPE = (3, 32, 32)


class MLP(nn.Module):
    def __init__(self, in_features, hidden_features=None, out_features=None):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.mlp1_conv = nn.Conv2d(in_features, hidden_features, kernel_size=1, stride=1)
        self.mlp1_bn = nn.BatchNorm2d(hidden_features)
        self.mlp1_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend='cupy')
        self.mlp2_conv = nn.Conv2d(hidden_features, out_features, kernel_size=1, stride=1)
        self.mlp2_bn = nn.BatchNorm2d(out_features)
        self.mlp2_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend='cupy')
        self.c_hidden = hidden_features
        self.c_output = out_features

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = self.mlp1_conv(x.flatten(0, 1))
        x = self.mlp1_bn(x).reshape(T, B, self.c_hidden, H, W)
        x = self.mlp1_lif(x)
        x = self.mlp2_conv(x.flatten(0, 1))
        x = self.mlp2_bn(x).reshape(T, B, C, H, W)
        x = self.mlp2_lif(x)
        return x


class TokenSpikingTransformer(nn.Module):
    """Q-K token attention: per-head token mask from the summed query spikes, applied to the key spikes."""

    def __init__(self, dim, num_heads=2):
        super().__init__()
        assert dim % num_heads == 0
        self.dim = dim
        self.num_heads = num_heads
        self.q_conv = nn.Conv1d(dim, dim, kernel_size=1, stride=1, bias=False)
        self.q_bn = nn.BatchNorm1d(dim)
        self.q_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend='cupy')
        self.k_conv = nn.Conv1d(dim, dim, kernel_size=1, stride=1, bias=False)
        self.k_bn = nn.BatchNorm1d(dim)
        self.k_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend='cupy')
        self.attn_lif = MultiStepLIFNode(tau=2.0, v_threshold=0.5, detach_reset=True, backend='cupy')
        self.proj_conv = nn.Conv1d(dim, dim, kernel_size=1, stride=1)
        self.proj_bn = nn.BatchNorm1d(dim)
        self.proj_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend='cupy')

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = x.flatten(3)
        T, B, C, N = x.shape
        x_for_qkv = x.flatten(0, 1)  # [T*B, C, N]

        q_conv_out = self.q_conv(x_for_qkv)
        q_conv_out = self.q_bn(q_conv_out).reshape(T, B, C, N)
        q_conv_out = self.q_lif(q_conv_out)
        q = q_conv_out.unsqueeze(2).reshape(T, B, self.num_heads, C // self.num_heads, N)

        k_conv_out = self.k_conv(x_for_qkv)
        k_conv_out = self.k_bn(k_conv_out).reshape(T, B, C, N)
        k_conv_out = self.k_lif(k_conv_out)
        k = k_conv_out.unsqueeze(2).reshape(T, B, self.num_heads, C // self.num_heads, N)

        q = torch.sum(q, dim=3, keepdim=True)  # [T, B, h, 1, N]
        attn = self.attn_lif(q)
        x = torch.mul(attn, k)  # [T, B, h, d, N]

        x = x.flatten(2, 3)  # [T, B, C, N]
        x = self.proj_bn(self.proj_conv(x.flatten(0, 1))).reshape(T, B, C, H, W)
        x = self.proj_lif(x)
        return x


class SpikingSelfAttention(nn.Module):
    """Spikformer-style SSA on Conv1d projections, [T, B, C, N] layout."""

    def __init__(self, dim, num_heads=4, leak=True):
        super().__init__()
        assert dim % num_heads == 0
        self.dim = dim
        self.num_heads = num_heads
        self.leak = leak
        self.scale = 0.125
        self.q_conv = nn.Conv1d(dim, dim, kernel_size=1, stride=1, bias=False)
        self.q_bn = nn.BatchNorm1d(dim)
        self.q_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend='cupy')
        self.k_conv = nn.Conv1d(dim, dim, kernel_size=1, stride=1, bias=False)
        self.k_bn = nn.BatchNorm1d(dim)
        self.k_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend='cupy')
        self.v_conv = nn.Conv1d(dim, dim, kernel_size=1, stride=1, bias=False)
        self.v_bn = nn.BatchNorm1d(dim)
        self.v_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend='cupy')
        self.attn_lif = MultiStepLIFNode(tau=2.0, v_threshold=0.5, detach_reset=True, backend='cupy')
        self.proj_conv = nn.Conv1d(dim, dim, kernel_size=1, stride=1)
        self.proj_bn = nn.BatchNorm1d(dim)
        self.proj_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend='cupy')

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = x.flatten(3)
        T, B, C, N = x.shape
        x_for_qkv = x.flatten(0, 1)  # [T*B, C, N]

        q_conv_out = self.q_conv(x_for_qkv)
        q_conv_out = self.q_bn(q_conv_out).reshape(T, B, C, N).contiguous()
        q_conv_out = self.q_lif(q_conv_out)
        q = q_conv_out.transpose(-1, -2).reshape(T, B, N, self.num_heads, C // self.num_heads)
        q = q.permute(0, 1, 3, 2, 4).contiguous()

        k_conv_out = self.k_conv(x_for_qkv)
        k_conv_out = self.k_bn(k_conv_out).reshape(T, B, C, N).contiguous()
        k_conv_out = self.k_lif(k_conv_out)
        k = k_conv_out.transpose(-1, -2).reshape(T, B, N, self.num_heads, C // self.num_heads)
        k = k.permute(0, 1, 3, 2, 4).contiguous()

        v_conv_out = self.v_conv(x_for_qkv)
        v_conv_out = self.v_bn(v_conv_out).reshape(T, B, C, N).contiguous()
        v_conv_out = self.v_lif(v_conv_out)
        v = v_conv_out.transpose(-1, -2).reshape(T, B, N, self.num_heads, C // self.num_heads)
        v = v.permute(0, 1, 3, 2, 4).contiguous()

        attn = (q @ k.transpose(-2, -1)) * self.scale
        x = attn @ v  # [T, B, h, N, d]
        x = x.transpose(3, 4).reshape(T, B, C, N).contiguous()
        x = self.attn_lif(x)
        x = x.flatten(0, 1)  # [T*B, C, N]
        x = self.proj_bn(self.proj_conv(x))
        # leak=True as published: the multi-step LIF iterates over dim 0 = T*B; leak=False feeds it [T, B, C, N]
        x = self.proj_lif(x) if self.leak else self.proj_lif(x.reshape(T, B, C, N)).flatten(0, 1)
        x = x.reshape(T, B, C, H, W)
        return x


class TokenQKBlock(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4.0):
        super().__init__()
        self.tssa = TokenSpikingTransformer(dim, num_heads)
        self.mlp = MLP(in_features=dim, hidden_features=int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.tssa(x)
        x = x + self.mlp(x)
        return x


class SSABlock(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4.0, leak=True):
        super().__init__()
        self.attn = SpikingSelfAttention(dim, num_heads, leak=leak)
        self.mlp = MLP(in_features=dim, hidden_features=int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(x)
        x = x + self.mlp(x)
        return x


class PatchEmbedInit(nn.Module):
    def __init__(self, in_channels=3, embed_dims=32):
        super().__init__()
        self.proj_conv = nn.Conv2d(in_channels, embed_dims // 2, kernel_size=3, stride=1, padding=1, bias=False)
        self.proj_bn = nn.BatchNorm2d(embed_dims // 2)
        self.proj_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend='cupy')
        self.proj1_conv = nn.Conv2d(embed_dims // 2, embed_dims, kernel_size=3, stride=1, padding=1, bias=False)
        self.proj1_bn = nn.BatchNorm2d(embed_dims)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)
        self.proj1_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend='cupy')

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = self.proj_conv(x.flatten(0, 1))
        x = self.proj_bn(x).reshape(T, B, -1, H, W).contiguous()
        x = self.proj_lif(x).flatten(0, 1).contiguous()
        x = self.proj1_conv(x)
        x = self.proj1_bn(x)
        x = self.maxpool1(x)
        _, _, H, W = x.shape
        x = x.reshape(T, B, -1, H, W).contiguous()
        x = self.proj1_lif(x)
        return x


class PatchEmbeddingStage(nn.Module):
    def __init__(self, in_channels=32, embed_dims=64):
        super().__init__()
        self.proj_conv = nn.Conv2d(in_channels, embed_dims, kernel_size=3, stride=1, padding=1, bias=False)
        self.proj_bn = nn.BatchNorm2d(embed_dims)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)
        self.proj_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend='cupy')

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = self.proj_conv(x.flatten(0, 1))
        x = self.proj_bn(x)
        x = self.maxpool(x)
        _, _, H, W = x.shape
        x = x.reshape(T, B, -1, H, W).contiguous()
        x = self.proj_lif(x)
        return x


class QKFormer(nn.Module):
    def __init__(self, in_channels=3, num_classes=10, embed_dims=64, num_heads=(2, 4), mlp_ratios=4, T=4, leak=True):
        super().__init__()
        self.T = T
        self.patch_embed1 = PatchEmbedInit(in_channels=in_channels, embed_dims=embed_dims // 2)
        self.stage1 = nn.ModuleList([TokenQKBlock(embed_dims // 2, num_heads[0], mlp_ratio=mlp_ratios)])
        self.patch_embed2 = PatchEmbeddingStage(in_channels=embed_dims // 2, embed_dims=embed_dims)
        self.stage3 = nn.ModuleList([SSABlock(embed_dims, num_heads[1], mlp_ratio=mlp_ratios, leak=leak)])
        self.head = nn.Linear(embed_dims, num_classes) if num_classes > 0 else nn.Identity()
        self.apply(self._init_weights)

    def _init_weights(self, m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02, a=-2.0, b=2.0)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.constant_(m.bias, 0)
            nn.init.constant_(m.weight, 1.0)

    def forward_features(self, x):
        x = self.patch_embed1(x)
        for blk in self.stage1:
            x = blk(x)
        x = self.patch_embed2(x)
        for blk in self.stage3:
            x = blk(x)
        return x.flatten(3).mean(3)  # [T, B, C]

    def forward(self, x):
        if x.dim() != 5:
            x = (x.unsqueeze(0)).repeat(self.T, 1, 1, 1, 1)
        x = self.forward_features(x)
        x = self.head(x.mean(0))
        return x


def build(leak=True):
    return QKFormer(in_channels=INPUT_SHAPE[0], num_classes=10, embed_dims=64, num_heads=(2, 4), mlp_ratios=4, T=T,
                    leak=leak)
