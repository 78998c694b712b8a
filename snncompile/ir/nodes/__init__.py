"""Every IR node class, and the registry from op name to class."""

from snncompile.ir.node import Node
from snncompile.ir.nodes.attention import SpikeMatMul, SpikingSelfAttention
from snncompile.ir.nodes.dssa import DSSAAggregate, DSSAScore
from snncompile.ir.nodes.loihi import LoihiConv2d, LoihiDense, LoihiEncode, LoihiLIF
from snncompile.ir.nodes.mixers import FourierMixer, WaveletMixer
from snncompile.ir.nodes.neurons import IF, LI, LIF, CubaLI, CubaLIF, I, Threshold
from snncompile.ir.nodes.pooling import AvgPool2d, MaxPool2d, SumPool2d
from snncompile.ir.nodes.qk import HeadSum, SpikeMask, Sum, TokenSum
from snncompile.ir.nodes.static_masks import StaticTokenMask, TokenScatter, TokenSelect
from snncompile.ir.nodes.structure import (
                                           Add,
                                           Concat,
                                           Delay,
                                           Flatten,
                                           Input,
                                           Mean,
                                           Output,
                                           Previous,
                                           Reshape,
                                           Slice,
                                           Transpose,
)
from snncompile.ir.nodes.synapses import Affine, BatchNorm, Conv1d, Conv2d, Linear, Scale
from snncompile.ir.nodes.tokens import TokenHalting, TokenHaltingScore, TokenMask, TokenMerge

NODE_CLASSES: tuple[type[Node], ...] = (
    Input, Output, Affine, Linear, Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten, Scale, Threshold, Delay,
    I, IF, LI, LIF, CubaLI, CubaLIF,
    BatchNorm, MaxPool2d, Reshape, Transpose, Add, Mean, SpikeMatMul, SpikingSelfAttention,
)
NODE_CLASSES += (Slice, Concat, Previous)
NODE_CLASSES += (HeadSum, TokenSum, Sum, SpikeMask)
NODE_CLASSES += (DSSAScore, DSSAAggregate)
NODE_CLASSES += (FourierMixer, WaveletMixer)
NODE_CLASSES += (TokenHaltingScore, TokenHalting, TokenMask, TokenMerge)
NODE_CLASSES += (StaticTokenMask, TokenSelect, TokenScatter)
NODE_CLASSES += (LoihiEncode, LoihiDense, LoihiConv2d, LoihiLIF)
OPS: dict[str, type[Node]] = {cls.op: cls for cls in NODE_CLASSES}
# Unannotated, so that a type checker narrows ``isinstance(node, SYNAPSES)`` to the union of these classes.
SYNAPSES = (Affine, Linear, Conv1d, Conv2d)
NEURONS = (I, IF, LI, LIF, CubaLI, CubaLIF, Threshold, LoihiLIF)

__all__ = [cls.__name__ for cls in NODE_CLASSES] + ["Node", "NODE_CLASSES", "OPS", "SYNAPSES", "NEURONS"]
