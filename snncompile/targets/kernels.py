"""The synapses of one synapse node, per output element: how many (its non-zero weights) and which input elements
they read. Counted as a core holding the output element stores them (docs/targets.md, "Core mapping"):

* dense (Affine, Linear, LoihiDense over the last axis): output ``(g, o)`` reads ``(g, i)`` for every ``W[o, i] != 0``;
* convolution (Conv1d, Conv2d, LoihiConv2d; SumPool2d and AvgPool2d as depthwise all-ones kernels): output
  ``(c, y, x)`` reads ``(ci, y*s - p + ky*d, x*s - p + kx*d)`` for every non-zero tap ``W[c, ci, ky, kx]`` that lands
  inside the input (zero padding is no synapse). Every output neuron holds its own copy of the taps: the kernel is
  **not** shared between the neurons of a core;
* identity (a neuron fed without a synapse node): one synapse reading the same element.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

from snncompile.ir import Graph
from snncompile.ir import nodes as n


class Kernel(abc.ABC):
    """Synapses of one node: ``fan_in()`` per output element, ``inputs(outputs)`` the input elements they read."""

    @abc.abstractmethod
    def fan_in(self) -> np.ndarray:
        """Non-zero synapses of every output element (flat order)."""

    @abc.abstractmethod
    def inputs(self, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The flat input index of every synapse of the given output elements, and for each the position in
        ``outputs`` of the element it belongs to."""


@dataclass(frozen=True)
class Identity(Kernel):
    size: int

    def fan_in(self) -> np.ndarray:
        return np.ones(self.size, dtype=np.int64)

    def inputs(self, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return outputs, np.arange(len(outputs))


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(s, s + l)`` for every (s, l)."""
    ends = np.cumsum(lengths)
    return np.arange(int(ends[-1]) if len(ends) else 0) - np.repeat(ends - lengths - starts, lengths)


class Dense(Kernel):
    def __init__(self, weight: np.ndarray, groups: int):
        nz = weight != 0
        self.out, self.inp, self.groups = weight.shape[0], weight.shape[1], groups
        self.rows = nz.sum(1).astype(np.int64)
        self.indptr = np.concatenate([[0], np.cumsum(self.rows)])
        self.cols = np.nonzero(nz)[1].astype(np.int64)

    def fan_in(self) -> np.ndarray:
        return np.tile(self.rows, self.groups)

    def inputs(self, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g, o = np.divmod(outputs, self.out)
        lengths = self.rows[o]
        cols = self.cols[_ranges(self.indptr[o], lengths)]
        return np.repeat(g * self.inp, lengths) + cols, np.repeat(np.arange(len(outputs)), lengths)


class Conv(Kernel):
    """A 2-D convolution (1-D ones as height 1) of input ``[C, H, W]`` with weight ``[C_out, C/groups, kH, kW]``."""

    def __init__(self, nonzero: np.ndarray, in_shape: tuple[int, ...], out_shape: tuple[int, ...],
                 stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int], groups: int):
        self.nz, self.in_shape, self.out_shape = nonzero, in_shape, out_shape
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        per_group = nonzero.shape[0] // groups
        self.taps = []  # per output channel: global input channel, ky, kx of each non-zero tap
        for c in range(nonzero.shape[0]):
            ci, ky, kx = np.nonzero(nonzero[c])
            self.taps.append((ci + (c // per_group) * nonzero.shape[1], ky, kx))

    def _inside(self, axis: int) -> np.ndarray:
        """``[k, out]``: whether tap k of output position ``out`` lands inside the input along ``axis`` (0: y)."""
        size, out, k = self.in_shape[1 + axis], self.out_shape[1 + axis], self.nz.shape[2 + axis]
        at = (np.arange(out)[None, :] * self.stride[axis] - self.padding[axis]
              + np.arange(k)[:, None] * self.dilation[axis])
        return ((at >= 0) & (at < size)).astype(np.int64)

    def fan_in(self) -> np.ndarray:
        per_tap = self.nz.sum(1, dtype=np.int64)  # [C_out, kH, kW]: input channels with a non-zero weight there
        return np.einsum("ckl,ky,lx->cyx", per_tap, self._inside(0), self._inside(1)).reshape(-1)

    def inputs(self, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        _, h, w = self.in_shape
        _, ho, wo = self.out_shape
        channel, pos = np.divmod(outputs, ho * wo)
        found, owners = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        for c in np.unique(channel):
            ci, ky, kx = self.taps[c]
            which = np.nonzero(channel == c)[0]
            y, x = np.divmod(pos[which], wo)
            iy = y[:, None] * self.stride[0] - self.padding[0] + ky[None, :] * self.dilation[0]
            ix = x[:, None] * self.stride[1] - self.padding[1] + kx[None, :] * self.dilation[1]
            inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
            found.append(((ci[None, :] * h + iy) * w + ix)[inside])
            owners.append(np.broadcast_to(which[:, None], inside.shape)[inside])
        return np.concatenate(found), np.concatenate(owners)


def kernel_of(graph: Graph, name: str) -> Kernel:
    """The synapses of synapse node ``name`` (an op of ``connectivity.SYNAPSE_OPS``)."""
    node = graph.nodes[name]
    in_shape = graph.port_types(name)["input"].shape
    if isinstance(node, n.Affine | n.Linear | n.LoihiDense):
        return Dense(node.weight, int(np.prod(in_shape[:-1])))
    if isinstance(node, n.Conv2d | n.LoihiConv2d):
        return Conv(node.weight != 0, in_shape, graph.types[name].shape, node.stride, node.padding, node.dilation,
                    node.groups)
    if isinstance(node, n.Conv1d):
        (c, length), (co, lo) = in_shape, graph.types[name].shape
        return Conv(node.weight[:, :, None, :] != 0, (c, 1, length), (co, 1, lo), (1, node.stride),
                    (0, node.padding), (1, node.dilation), node.groups)
    if isinstance(node, n.SumPool2d | n.AvgPool2d):
        channels = in_shape[0]
        ones = np.ones((channels, 1, *node.kernel_size), dtype=bool)
        return Conv(ones, in_shape, graph.types[name].shape, node.stride, node.padding, (1, 1), channels)
    raise TypeError(f"{node.op} is not a synapse node")
