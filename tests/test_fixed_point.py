"""Fixed-point Loihi kernels: every step value below is worked by hand from the equations in
snncompile.ir.nodes.loihi (lava-nc 0.10.0's PyLifModelBitAcc, PyDenseModelBitAcc, PyConvModelFixed); the convolution
is checked against an independent loop over output positions."""

import numpy as np
import pytest
import torch

from snncompile.errors import IRError, SnnError
from snncompile.ir import TensorType, verify
from snncompile.ir import nodes as n
from snncompile.sim import simulate
from tests.graphs import chain


def loihi_lif(du, dv, vth, bias_mant=0, bias_exp=0):
    return n.LoihiLIF(du=du, dv=dv, vth=vth, bias_mant=bias_mant, bias_exp=bias_exp)


def run(node, x, kind="graded", **kw):
    x = np.asarray(x, dtype=np.float64)
    return simulate(chain(("node", node), input_type=TensorType(x.shape[2:], kind)), x, **kw)


def lif_steps(node, x):
    """Spikes [T, n] and v [T, n] of one sample."""
    out = run(node, np.asarray(x)[:, None], probes=["node"])
    return out.output[:, 0].astype(int).tolist(), out.states["node"][:, 0].tolist()


def test_lif_decays_round_toward_zero_and_bias_is_mant_shifted_by_exp():
    # du = 1024 keeps u * (4096 - 1025) >> 12, dv = 2048 keeps v * 2048 >> 12, bias = 3 << 2 = 12, threshold far.
    # t0: a = +-5 << 6 = +-320; u = +-320; v = u + 12 = 332, -308
    # t1: u = 320 * 3071 / 4096 = 239.92 -> 239 and -239 (toward zero: floor would give -240)
    #     v = 332 * 2048 / 4096 = 166 ; -308 -> -154 ; v = 166 + 239 + 12 = 417, -154 - 239 + 12 = -381
    # t2: u = 239 * 3071 / 4096 = 179.19 -> +-179 ; v = 208.5 -> 208, -190.5 -> -190 (not -191)
    #     v = 208 + 179 + 12 = 399, -190 - 179 + 12 = -357
    spikes, v = lif_steps(loihi_lif(1024, 2048, 1000, 3, 2), [[5, -5], [0, 0], [0, 0]])
    assert spikes == [[0, 0]] * 3
    assert v == [[332, -308], [417, -381], [399, -357]]


def test_lif_fires_strictly_above_vth_shifted_by_six_and_resets_to_zero():
    # vth = 10 -> threshold 640; du = 4095 (u = a), dv = 4095 keeps v * 1 >> 12 = 0: v = a every step.
    # x = 10: v = 640, not > 640, no spike; x = 11: v = 704 > 640, spike, v = 0
    spikes, v = lif_steps(loihi_lif(4095, 4095, 10), [[10, 11]] * 2)
    assert spikes == [[0, 1], [0, 1]]
    assert v == [[640, 0], [640, 0]]


def test_lif_current_wraps_at_24_bits_and_voltage_clips():
    # du = 4095 (u = a), dv = 0 (v keeps all), vth = 131071 -> threshold 131071 * 64 = 8388544 = 2**23 - 64.
    # a = x << 6 = 2**23 + 64, 2**23, -2**23, -(2**23 - 64)
    # u: > 2**23 -> -8388544; 2**23 stays (only > wraps); <= -2**23 -> +2**24 -> 8388608; -8388544 stays
    # t0: v = u, clipped to 8388607 -> spikes on the 2nd and 3rd (v = 0 after); t1: v = 2u clipped to -8388607
    spikes, v = lif_steps(loihi_lif(4095, 0, 131071), [[131073, 131072, -131072, -131071]] * 2)
    assert spikes == [[0, 1, 1, 0]] * 2
    assert v == [[-8388544, 0, 0, -8388544], [-8388607, 0, 0, -8388607]]


def test_lif_input_shift_wraps_at_32_bits_as_numpy_int32():
    # x = 2**26: x << 6 = 2**32 -> 0.  x = 2**25: x << 6 = 2**31 -> -2**31, then u + 2**24 = -2130706432, v clipped
    out = run(loihi_lif(4095, 0, 131071), [[[2**26, 2**25]]], probes=["node"])
    assert out.states["node"][0, 0].tolist() == [0, -8388607]


def test_lif_refuses_real_input():
    with pytest.raises(SnnError, match="integer input"):
        run(loihi_lif(0, 0, 1), [[[0.5]]])


def dense(weight, weight_exp=0, message_bits=0):
    return n.LoihiDense(weight=np.array(weight), weight_exp=weight_exp, message_bits=message_bits)


def test_dense_binary_sums_spiking_columns_then_floors_a_negative_exponent():
    w = [[2, -4, 254], [0, 6, -254], [-2, -6, -248]]
    x = [[[1, 0, 1], [0, 1, 1], [3, 1, 0]]]  # 3 is a spike too (Lava reads the input as bool)
    out = run(dense(w, weight_exp=-2), x, kind="binary").output[0].tolist()
    # column sums 256, -254, -250 ; 250, -248, -254 ; -2, 6, -8  >> 2 (floor)
    assert out == [[64, -64, -63], [62, -62, -64], [-1, 1, -2]]


def test_dense_graded_multiplies_payloads_then_shifts_left():
    out = run(dense([[2, -4], [254, 6]], weight_exp=3, message_bits=8), [[[3, 5]]]).output[0, 0].tolist()
    assert out == [(6 - 20) * 8, (762 + 30) * 8]


def test_dense_graded_product_wraps_at_32_bits():
    # 2 * 254 * 2**23 = 4261412864 -> - 2**32 = -33554432 (int32 product), then >> 1 = -16777216
    # (shifting first and wrapping after would give 2130706432)
    out = run(dense([[254, 254]], weight_exp=-1, message_bits=24), [[[2**23, 2**23]]]).output[0, 0].tolist()
    assert out == [-16777216]


def test_dense_graded_refuses_fractional_payloads():
    with pytest.raises(SnnError, match="integer payloads"):
        run(dense([[2]], message_bits=8), [[[1.5]]])


def reference_conv(x, w, stride, padding, groups):
    """Cross-correlation by loops over output positions (integers, no torch)."""
    c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.zeros((c, h + 2 * padding[0], wd + 2 * padding[1]), np.int64)
    xp[:, padding[0]:padding[0] + h, padding[1]:padding[1] + wd] = x
    oh, ow = (xp.shape[1] - kh) // stride[0] + 1, (xp.shape[2] - kw) // stride[1] + 1
    y = np.zeros((o, oh, ow), np.int64)
    for oc in range(o):
        g = oc // (o // groups)
        for i in range(oh):
            for j in range(ow):
                patch = xp[g * cg:(g + 1) * cg, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
                y[oc, i, j] = int((patch * w[oc]).sum())
    return y


@pytest.mark.parametrize(("stride", "padding", "groups", "message_bits"),
                         [((1, 1), (1, 1), 1, 0), ((2, 1), (0, 2), 2, 0), ((1, 2), (1, 0), 1, 6)])
def test_conv_matches_a_loop_over_output_positions(stride, padding, groups, message_bits):
    rng = np.random.default_rng(3)
    w = rng.integers(-127, 128, (4, 4 // groups, 3, 2)) * 2
    x = rng.integers(0, 40, (4, 7, 6)) if message_bits else (rng.random((4, 7, 6)) < 0.5).astype(np.int64)
    node = n.LoihiConv2d(weight=w, stride=stride, padding=padding, groups=groups, message_bits=message_bits)
    out = run(node, x[None, None], kind="graded" if message_bits else "binary").output[0, 0]
    assert np.array_equal(out, reference_conv(x, w, stride, padding, groups))


def test_conv_output_wraps_at_24_bits():
    # 2 * 254 * 2**15 = 16646144 > 2**23 - 1 -> 16646144 - 2**24 = -131072
    node = n.LoihiConv2d(weight=np.full((1, 2, 1, 1), 254), message_bits=16)
    assert run(node, [[np.full((2, 1, 1), 2**15)]]).output[0, 0].ravel().tolist() == [-131072]


def test_integer_results_are_exact_in_a_float32_simulation():
    # 2 * (2**23 + 1) = 2**24 + 2 has no float32; the synapse gives it exactly, the LIF fires on it (v clips high)
    graph = chain(("fc", dense([[2]], message_bits=30)), ("lif", loihi_lif(4095, 4095, 1)),
                  input_type=TensorType((1,), "graded"))
    out = simulate(graph, np.full((1, 1, 1), 2**23 + 1), dtype=torch.float32, probes=["lif"], trace=["fc"])
    assert out.traces["fc"].dtype == np.int64 and out.traces["fc"].ravel().tolist() == [2**24 + 2]
    assert out.states["lif"].ravel().tolist() == [0] and out.output.ravel().tolist() == [1.0]
    assert out.output.dtype == np.float32 and out.activity.spikes["lif"].sum() == 1


def test_nodes_refuse_what_lava_would_change():
    t = TensorType((2,), "binary")
    for weight, rule in (([[3, 2]], "even"), ([[-256, 2]], r"\[-254, 254\]"), ([[0.5, 2]], "integers")):
        with pytest.raises(IRError, match=rule):
            verify(chain(("fc", dense(weight)), input_type=t))
    with pytest.raises(IRError, match="weight_exp must be 0"):
        verify(chain(("c", n.LoihiConv2d(weight=np.full((1, 1, 1, 1), 2), weight_exp=1)),
                     input_type=TensorType((1, 2, 2), "binary")))
    with pytest.raises(IRError, match="vth must lie in"):
        verify(chain(("lif", loihi_lif(0, 0, 131072)), input_type=t))
