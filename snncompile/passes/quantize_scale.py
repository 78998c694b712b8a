"""The arithmetic of the quantize pass: a float neuron as Loihi decays, one integer scale per layer, 8-bit weight
mantissas with a per-synapse exponent, biases as mantissa and exponent (docs/fixed-point.md).

Measured from its rest (v_leak, which must equal v_reset), every neuron the pass takes is

    u[t] = (1 - ks) u[t-1] + ks x[t]            (ks = dt / tau_syn for CubaLIF, 1 for LIF and IF: u = x)
    h[t] = (1 - km) v[t-1] + c u[t]              (km = dt / tau_mem, or dt / tau; 0 for IF)

with ``c = km r`` (LIF), ``dt r`` (IF), ``km r w_in`` (CubaLIF, w_in folded in). Loihi's LIF computes the same with
``du = 4096 ks - 1``, ``dv = 4096 km`` and the membrane multiplied by a scale ``S``: its synaptic input is
``64 A = S c x``, so a float weight w becomes the mantissa ``S c w / (64 * 2**weight_exp)`` and a bias b the neuron
bias ``S c b``. ``S`` makes the threshold an integer: ``64 vth = S theta`` for ``>``, ``64 vth + 1 = S theta`` for
``>=``, so that on integers ``v >= S theta`` is exactly Loihi's ``v > 64 vth``.

A synapse bias into a CubaLIF with ``tau_syn != dt`` drives the current, which rises to ``w_in b`` over the first
steps; Loihi adds a bias to v, so it gets the settled value from the first step on (a stated deviation of the
first steps, reported as not exact).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from snncompile.ir import nodes as n
from snncompile.ir.nodes.loihi import BIAS_EXP_RANGE, BIAS_MANT_RANGE, VTH_RANGE, WEIGHT_EXP_RANGE

INPUT_LIMIT = 2**15 - 1  # Loihi's dendritic input is 16 bits signed
NO_LIMIT = 64  # steps of exact integer arithmetic checked before "exact at every step" is claimed


@dataclass(frozen=True)
class Form:
    """A float neuron in the terms above; ``theta`` measured from rest."""

    km: float
    ks: float
    c: float
    theta: float
    fire: str
    settles: bool = False  # a bias that drives a current: Loihi adds its settled value to v from the first step


def _one(node: n.Node, field: str) -> float:
    """The single value of a per-layer parameter; ValueError (the reason) when it varies across the layer."""
    values = np.unique(np.asarray(getattr(node, field)))
    if values.size != 1:
        raise ValueError(f"{field} varies across the layer ({values.size} values); Loihi's LIF takes one "
                         "du, dv and vth per layer")
    return float(values[0])


def neuron_form(node: n.LIF | n.CubaLIF | n.IF, dt: float, biased: bool) -> Form:
    """The form of ``node``; ValueError with the reason when Loihi's LIF cannot express it (``biased``: a synapse
    into it has a bias)."""
    if node.reset != "hard":
        raise ValueError(f"{node.reset} reset: Loihi's LIF resets v to 0")
    rest = 0.0 if isinstance(node, n.IF) else _one(node, "v_leak")
    if _one(node, "v_reset") != rest:
        raise ValueError(f"v_reset {_one(node, 'v_reset'):g} != v_leak {rest:g}: Loihi's LIF rests and resets at "
                         "the same potential")
    theta = _one(node, "v_threshold") - rest
    if theta <= 0:
        raise ValueError(f"threshold at or below rest ({theta:g} above v_leak): the neuron fires without input")
    r = _one(node, "r")
    if isinstance(node, n.IF):
        return Form(0.0, 1.0, dt * r, theta, node.fire)
    if isinstance(node, n.LIF):
        km = dt / _one(node, "tau")
        return Form(km, 1.0, km * r, theta, node.fire)
    km, ks = dt / _one(node, "tau_mem"), dt / _one(node, "tau_syn")
    return Form(km, ks, km * r * ks * _one(node, "w_in"), theta, node.fire, settles=biased and ks != 1)


def bias_factor(form: Form) -> float:
    """What multiplies a synapse bias b on its way into v per step: ``c`` for a current that is the input; for a
    CubaLIF the current settles at ``w_in b``, which adds ``km r w_in b = c / ks`` to v at every step."""
    return form.c / form.ks


def decays(form: Form) -> tuple[int, int, bool]:
    """``(du, dv, exact)``; ValueError when a decay is out of Loihi's range."""
    for what, k in (("dt / tau_syn", form.ks), ("dt / tau_mem", form.km)):
        if k > 1:
            raise ValueError(f"{what} = {k:g} > 1: forward Euler overshoots, which Loihi's decays cannot express")
    du_real, dv_real = 4096 * form.ks - 1, 4096 * form.km
    if du_real < -0.5:
        raise ValueError(f"dt / tau_syn = {form.ks:g} is below Loihi's smallest current decay (1/4096)")
    du, dv = round(du_real), min(round(dv_real), 4095)
    return du, dv, du == du_real and dv == dv_real


def scale_for(vth: int, form: Form) -> float:
    return (64 * vth + (form.fire == ">=")) / form.theta


def exponent(peak: float, wmax: int, conv: bool) -> int:
    """The smallest weight exponent whose mantissa of magnitude ``peak`` (at exponent 0) fits ``wmax``; 0 for a
    convolution (Lava's Conv applies no exponent)."""
    if conv or peak == 0:
        return 0
    e, hi = WEIGHT_EXP_RANGE
    while e < hi and peak / 2.0**e > wmax:
        e += 1
    return e


def choose_vth(form: Form, peaks: list[tuple[float, bool]], wmax: int, cap: int) -> int:
    """The largest threshold mantissa (at most ``cap``) at which the largest weight of every synapse fits ``wmax``
    at its largest exponent; ``peaks``: (largest |w| * c, is a convolution) per synapse. At least 1."""
    vth = cap
    for peak, conv in peaks:
        if peak > 0:
            top = wmax * 64 * 2.0 ** (0 if conv else WEIGHT_EXP_RANGE[1])
            vth = min(vth, math.floor((top / peak * form.theta - (form.fire == ">=")) / 64))
    return max(vth, VTH_RANGE[0] + 1)


@dataclass(frozen=True)
class Mantissas:
    values: np.ndarray
    clipped: int  # weights beyond the 8-bit range, saturated
    exact: bool  # every weight is exactly its mantissa times 2**exponent / the scale


def mantissas(scaled: np.ndarray, step: int, wmax: int) -> Mantissas:
    """``scaled`` (weights at exponent and scale) rounded to multiples of ``step`` (2 for 8-bit weights) and
    saturated at ``wmax``."""
    rounded = step * np.rint(scaled / step)
    clipped = np.clip(rounded, -wmax, wmax)
    return Mantissas(clipped, int((rounded != clipped).sum()), bool(np.array_equal(clipped, scaled)))


def bias_parts(bias: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """``(mant, exp, saturated, exact)`` per neuron: the smallest exponent at which the rounded mantissa fits 13
    bits signed; the mantissa saturates where even the largest exponent is not enough."""
    lo, hi = BIAS_MANT_RANGE
    exp = _smallest_exponent(bias)
    raw = np.rint(bias / 2.0**exp)
    mant = np.clip(raw, lo, hi)
    return mant, exp, int((raw != mant).sum()), bool(np.array_equal(mant * 2.0**exp, bias))


def _smallest_exponent(bias: np.ndarray) -> np.ndarray:
    lo, hi = BIAS_MANT_RANGE
    exp = np.full(bias.shape, float(BIAS_EXP_RANGE[1]))
    for e in range(BIAS_EXP_RANGE[1] - 1, BIAS_EXP_RANGE[0] - 1, -1):
        raw = np.rint(bias / 2.0**e)
        exp = np.where((raw >= lo) & (raw <= hi), e, exp)
    return exp


def _twos(x: float) -> int:
    """The 2-adic valuation of an integer (how many times 2 divides it); NO_LIMIT for 0."""
    x = int(abs(x))
    return NO_LIMIT if x == 0 else (x & -x).bit_length() - 1


def exact_steps(du: int, dv: int, bias: np.ndarray, input_twos: int) -> int | None:
    """Steps over which Loihi's integer u and v equal the scaled exact-arithmetic ones, given exact weights, bias
    and decays: a decay ``x * keep >> 12`` is exact while 2**(12 - twos(keep)) divides x, and every input adds a
    multiple of 2**input_twos (64 A), every step a multiple of the bias's power of two. None: at every step."""
    bias_twos = min((_twos(b) for b in np.unique(bias)), default=NO_LIMIT)
    twos_u = twos_v = NO_LIMIT
    for t in range(1, NO_LIMIT + 1):
        before = (twos_u, twos_v)
        for keep, twos in ((4095 - du, twos_u), (4096 - dv, twos_v)):
            if keep and twos + _twos(keep) < 12:
                return t - 1
        twos_u = min(twos_u + _twos(4095 - du) - 12, input_twos) if 4095 - du else input_twos
        twos_v = min(twos_v + _twos(4096 - dv) - 12, twos_u, bias_twos)
        if (twos_u, twos_v) == before:
            return None
    return None
