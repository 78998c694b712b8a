"""Kernels of the NIR primitives and the core extension nodes (see snncompile.sim.kernels for the contract)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from snncompile.ir import nodes as n
from snncompile.ir.node import Node
from snncompile.sim.kernels.registry import Step, kernel


def _stateless(fn: Callable[[torch.Tensor], torch.Tensor]) -> Step:
    return lambda x, state: (fn(x["input"]), None)


def _fire(h: torch.Tensor, threshold: torch.Tensor, op: str) -> torch.Tensor:
    return h >= threshold if op == ">=" else h > threshold


def _resetter(node: n.IF | n.LIF | n.CubaLIF, p: Callable[[str], torch.Tensor]
              ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``v(h, s)`` after a spiking step: ``h - s * v_threshold`` (subtract) or ``v_reset where s`` (hard)."""
    if node.reset == "subtract":
        vth = p("v_threshold")
        return lambda h, s: h - s.to(h.dtype) * vth
    v_reset = p("v_reset")
    return lambda h, s: torch.where(s, v_reset.expand_as(h), h)


# -- structure ---------------------------------------------------------------------------------------------------
@kernel(n.Output)
@kernel(n.Add)
def _identity(node: Node, p: Any, dt: float) -> Step:
    return _stateless(lambda x: x)


@kernel(n.Flatten)
def _flatten(node: n.Flatten, p: Any, dt: float) -> Step:
    def f(x: torch.Tensor) -> torch.Tensor:
        rank = x.dim() - 1
        return x.flatten(node.start_dim % rank + 1, node.end_dim % rank + 1)
    return _stateless(f)


@kernel(n.Reshape)
def _reshape(node: n.Reshape, p: Any, dt: float) -> Step:
    return _stateless(lambda x: x.reshape(x.shape[0], *node.shape))


@kernel(n.Transpose)
def _transpose(node: n.Transpose, p: Any, dt: float) -> Step:
    return _stateless(lambda x: x.permute(0, *(a + 1 for a in node.perm)))


@kernel(n.Mean)
def _mean(node: n.Mean, p: Any, dt: float) -> Step:
    return _stateless(lambda x: x.mean(node.axis % (x.dim() - 1) + 1))


@kernel(n.Slice)
def _slice(node: n.Slice, p: Any, dt: float) -> Step:
    return _stateless(lambda x: x.narrow(node.axis % (x.dim() - 1) + 1, node.start, node.stop - node.start))


@kernel(n.Concat)
def _concat(node: n.Concat, p: Any, dt: float) -> Step:
    return lambda x, state: (torch.cat([x["a"], x["b"]], node.axis % (x["a"].dim() - 1) + 1), None)


@kernel(n.Delay)
def _delay(node: n.Delay, p: Any, dt: float) -> Step:
    steps = np.rint(np.asarray(node.delay) / dt).astype(np.int64)
    depth = int(steps.max(initial=0))
    index = torch.as_tensor(steps)

    def step(x: dict[str, torch.Tensor], history: Any) -> tuple[torch.Tensor, Any]:
        xin = x["input"]
        if history is None:
            history = torch.zeros((depth + 1,) + tuple(xin.shape), dtype=xin.dtype)
        history = torch.cat([xin.unsqueeze(0), history[:-1]])
        idx = index.expand(xin.shape[1:]).unsqueeze(0).unsqueeze(0).expand(1, *xin.shape)
        return history.gather(0, idx)[0], history
    return step


# -- synapses ----------------------------------------------------------------------------------------------------
@kernel(n.Affine)
def _affine(node: n.Affine, p: Any, dt: float) -> Step:
    w, b = p("weight"), p("bias")
    return _stateless(lambda x: F.linear(x, w, b))


@kernel(n.Linear)
def _linear(node: n.Linear, p: Any, dt: float) -> Step:
    w = p("weight")
    return _stateless(lambda x: F.linear(x, w))


@kernel(n.Conv2d)
def _conv2d(node: n.Conv2d, p: Any, dt: float) -> Step:
    w, b = p("weight"), p("bias")
    return _stateless(lambda x: F.conv2d(x, w, b, node.stride, node.padding, node.dilation, node.groups))


@kernel(n.Conv1d)
def _conv1d(node: n.Conv1d, p: Any, dt: float) -> Step:
    w, b = p("weight"), p("bias")
    return _stateless(lambda x: F.conv1d(x, w, b, node.stride, node.padding, node.dilation, node.groups))


@kernel(n.Scale)
def _scale(node: n.Scale, p: Any, dt: float) -> Step:
    s = p("scale")
    return _stateless(lambda x: s * x)


@kernel(n.BatchNorm)
def _batchnorm(node: n.BatchNorm, p: Any, dt: float) -> Step:
    mean, var, w, b = p("mean"), p("var"), p("weight"), p("bias")

    def f(x: torch.Tensor) -> torch.Tensor:
        axis = node.axis % (x.dim() - 1) + 1
        y = F.batch_norm(x.movedim(axis, 1), mean, var, w, b, False, 0.0, node.eps)
        return y.movedim(1, axis)
    return _stateless(f)


# -- pooling -----------------------------------------------------------------------------------------------------
@kernel(n.SumPool2d)
def _sumpool(node: n.SumPool2d, p: Any, dt: float) -> Step:
    return _stateless(lambda x: F.avg_pool2d(x, node.kernel_size, node.stride, node.padding,
                                             count_include_pad=True, divisor_override=1))


@kernel(n.AvgPool2d)
def _avgpool(node: n.AvgPool2d, p: Any, dt: float) -> Step:
    return _stateless(lambda x: F.avg_pool2d(x, node.kernel_size, node.stride, node.padding, count_include_pad=True))


@kernel(n.MaxPool2d)
def _maxpool(node: n.MaxPool2d, p: Any, dt: float) -> Step:
    return _stateless(lambda x: F.max_pool2d(x, node.kernel_size, node.stride, node.padding))


# -- attention ---------------------------------------------------------------------------------------------------
@kernel(n.SpikeMatMul)
def _spike_matmul(node: n.SpikeMatMul, p: Any, dt: float) -> Step:
    def step(x: dict[str, torch.Tensor], state: Any) -> tuple[torch.Tensor, Any]:
        a = x["a"].transpose(-2, -1) if node.transpose_a else x["a"]
        b = x["b"].transpose(-2, -1) if node.transpose_b else x["b"]
        return a @ b, None
    return step


@kernel(n.SpikingSelfAttention)
def _ssa(node: n.SpikingSelfAttention, p: Any, dt: float) -> Step:
    def heads(t: torch.Tensor) -> torch.Tensor:
        b, tokens, dim = t.shape
        return t.reshape(b, tokens, node.heads, dim // node.heads).transpose(1, 2)

    def step(x: dict[str, torch.Tensor], state: Any) -> tuple[torch.Tensor, Any]:
        q, k, v = heads(x["q"]), heads(x["k"]), heads(x["v"])
        y = ((q @ k.transpose(-2, -1)) @ v) * node.scale
        return y.transpose(1, 2).reshape(x["q"].shape), None
    return step


# -- neurons -----------------------------------------------------------------------------------------------------
def _rest(v: torch.Tensor | None, x: torch.Tensor, start: torch.Tensor | float) -> torch.Tensor:
    return torch.zeros_like(x) + start if v is None else v


@kernel(n.I)
def _integrator(node: n.I, p: Any, dt: float) -> Step:
    r = p("r")

    def step(x: dict[str, torch.Tensor], v: Any) -> tuple[torch.Tensor, Any]:
        v = _rest(v, x["input"], 0.0) + dt * r * x["input"]
        return v, v
    return step


@kernel(n.LI)
def _li(node: n.LI, p: Any, dt: float) -> Step:
    tau, r, vl = p("tau"), p("r"), p("v_leak")

    def step(x: dict[str, torch.Tensor], v: Any) -> tuple[torch.Tensor, Any]:
        v = _rest(v, x["input"], vl)
        v = v + (vl - v + r * x["input"]) * dt / tau
        return v, v
    return step


@kernel(n.IF)
def _if(node: n.IF, p: Any, dt: float) -> Step:
    r, vth, reset = p("r"), p("v_threshold"), _resetter(node, p)

    def step(x: dict[str, torch.Tensor], v: Any) -> tuple[torch.Tensor, Any]:
        h = _rest(v, x["input"], 0.0) + dt * r * x["input"]
        s = _fire(h, vth, node.fire)
        return s.to(h.dtype), reset(h, s)
    return step


def _lif_charge(node: n.LIF, p: Callable[[str], torch.Tensor], dt: float
                ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``h(v, x)`` of one LIF step, in the float order ``node.form`` names (see ``ir.nodes.neurons.LIF``)."""
    tau, r, vl = p("tau"), p("r"), p("v_leak")
    k = torch.full_like(tau, dt) / tau
    if node.form == "split":
        return lambda v, x: v - (v - vl) * dt / tau + r / tau * x * dt
    if node.form == "nir_k":
        return lambda v, x: v + (vl - v + r * x) * k
    if node.form == "split_k":
        return lambda v, x: v - (v - vl) * k + r / tau * x * dt
    return lambda v, x: v + (vl - v + r * x) * dt / tau


@kernel(n.LIF)
def _lif(node: n.LIF, p: Any, dt: float) -> Step:
    vl, vth, charge, reset = p("v_leak"), p("v_threshold"), _lif_charge(node, p, dt), _resetter(node, p)

    def step(x: dict[str, torch.Tensor], v: Any) -> tuple[torch.Tensor, Any]:
        v = _rest(v, x["input"], vl)
        h = charge(v, x["input"])
        s = _fire(h, vth, node.fire)
        return s.to(h.dtype), reset(h, s)
    return step


def _cuba(node: n.CubaLI | n.CubaLIF, p: Any, dt: float
          ) -> Callable[[torch.Tensor, Any], tuple[torch.Tensor, torch.Tensor]]:
    ts, tm, r, vl, w = p("tau_syn"), p("tau_mem"), p("r"), p("v_leak"), p("w_in")

    def update(x: torch.Tensor, state: Any) -> tuple[torch.Tensor, torch.Tensor]:
        i, v = (torch.zeros_like(x), _rest(None, x, vl)) if state is None else state
        i = i + (w * x - i) * dt / ts
        return i, v + (vl - v + r * i) * dt / tm
    return update


@kernel(n.CubaLI)
def _cuba_li(node: n.CubaLI, p: Any, dt: float) -> Step:
    update = _cuba(node, p, dt)

    def step(x: dict[str, torch.Tensor], state: Any) -> tuple[torch.Tensor, Any]:
        i, v = update(x["input"], state)
        return v, (i, v)
    return step


@kernel(n.CubaLIF)
def _cuba_lif(node: n.CubaLIF, p: Any, dt: float) -> Step:
    update, vth, reset = _cuba(node, p, dt), p("v_threshold"), _resetter(node, p)

    def step(x: dict[str, torch.Tensor], state: Any) -> tuple[torch.Tensor, Any]:
        i, h = update(x["input"], state)
        s = _fire(h, vth, node.fire)
        return s.to(h.dtype), (i, reset(h, s))
    return step


@kernel(n.Threshold)
def _threshold(node: n.Threshold, p: Any, dt: float) -> Step:
    th = p("threshold")
    return _stateless(lambda x: _fire(x, th, node.fire).to(x.dtype))
