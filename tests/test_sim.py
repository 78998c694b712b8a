"""Reference simulator: each node's equation checked on hand-computed values, and the activity it records."""

import numpy as np
import pytest
import torch

from snncompile.errors import SnnError
from snncompile.ir import Edge, Graph, TensorType
from snncompile.ir import nodes as n
from snncompile.sim import simulate
from tests.graphs import chain, dense_lif, lif


def run(node: n.Node, x, kind="real", **kw):
    x = np.asarray(x, dtype=np.float64)
    return simulate(chain(("node", node), input_type=TensorType(x.shape[2:], kind)), x, **kw)


def test_lif_decay_input_fire_ge_hard_reset():
    # H = V + (X - V)/2 ; X = 1.2 constant: H1 = 0.6, H2 = 0.9, H3 = 1.05 -> spike, V = 0, H4 = 0.6
    out = run(lif(), [[[1.2]]] * 4, probes=["node"])
    assert out.output[:, 0, 0].tolist() == [0, 0, 1, 0]
    assert np.allclose(out.states["node"][:, 0, 0], [0.6, 0.9, 0.0, 0.6])


def test_lif_ge_versus_gt_at_exact_threshold():
    x = [[[2.0]]]  # H1 = 1.0 exactly
    assert run(lif(fire=">="), x).output[0, 0, 0] == 1
    assert run(lif(fire=">"), x).output[0, 0, 0] == 0


def test_lif_subtract_reset():
    out = run(lif(reset="subtract"), [[[3.0]]] * 2, probes=["node"])
    # H1 = 1.5 -> spike, V = 0.5; H2 = 0.5 + (3 - 0.5)/2 = 1.75 -> spike, V = 0.75
    assert out.output[:, 0, 0].tolist() == [1, 1]
    assert np.allclose(out.states["node"][:, 0, 0], [0.5, 0.75])


def test_lif_matches_torch_expression_bitwise_for_any_tau():
    rng = np.random.default_rng(1)
    x = rng.normal(1.0, 1.0, (5, 3, 20))
    out = run(lif(tau=3.0), x, probes=["node"])
    v = torch.zeros(3, 20, dtype=torch.float64)
    for t in range(5):
        h = v + (torch.tensor(x[t]) - v) / 3.0
        s = h >= 1.0
        assert np.array_equal(s.numpy(), out.output[t].astype(bool))
        v = torch.where(s, 0.0, h)
        assert np.array_equal(v.numpy(), out.states["node"][t])


def test_if_and_integrators_use_dt():
    node = n.IF(r=2.0, v_threshold=1.0, v_reset=0.0)
    out = simulate(chain(("node", node), input_type=TensorType((1,)), dt=0.5), np.full((3, 1, 1), 0.6))
    assert out.output[:, 0, 0].tolist() == [0, 1, 0]  # v: 0.6, 1.2 -> spike, 0.6
    li = simulate(chain(("node", n.LI(tau=4.0, r=1.0, v_leak=1.0)), input_type=TensorType((1,)), dt=2.0),
                  np.zeros((2, 1, 1)))
    assert np.allclose(li.output[:, 0, 0], [1.0, 1.0])  # starts at rest v_leak and stays
    integ = simulate(chain(("node", n.I(r=3.0)), input_type=TensorType((1,)), dt=0.5), np.ones((2, 1, 1)))
    assert np.allclose(integ.output[:, 0, 0], [1.5, 3.0])


def test_cuba_lif():
    node = n.CubaLIF(tau_syn=2.0, tau_mem=2.0, r=1.0, v_leak=0.0, v_threshold=0.5, v_reset=0.0, w_in=1.0)
    out = run(node, [[[2.0]]] * 3)
    # i1 = 1, v1 = 0.5 -> spike (>? no: 0.5 > 0.5 false); i2 = 1.5, v2 = 0.5 + (1.5 - 0.5)/2 = 1.0 -> spike
    assert out.output[:, 0, 0].tolist() == [0, 1, 1]


def test_threshold_delay_scale():
    assert run(n.Threshold(threshold=0.5, fire=">="), [[[0.5, 0.4]]]).output[0, 0].tolist() == [1, 0]
    delayed = simulate(chain(("node", n.Delay(delay=[2.0, 0.0])), input_type=TensorType((2,))),
                       np.arange(8, dtype=float).reshape(4, 1, 2) + 1)
    assert delayed.output[:, 0].tolist() == [[0, 2], [0, 4], [1, 6], [3, 8]]
    assert run(n.Scale(scale=[2.0, -1.0]), [[[1.0, 3.0]]]).output[0, 0].tolist() == [2, -3]


def test_pools():
    x = np.arange(16, dtype=float).reshape(1, 1, 1, 4, 4)
    s = run(n.SumPool2d(kernel_size=2, stride=2), x).output[0, 0, 0]
    assert s.tolist() == [[10, 18], [42, 50]]
    a = run(n.AvgPool2d(kernel_size=2, stride=2), x).output[0, 0, 0]
    assert a.tolist() == [[2.5, 4.5], [10.5, 12.5]]
    m = run(n.MaxPool2d(kernel_size=3, stride=2, padding=1), -x - 1).output[0, 0, 0]
    assert m.tolist() == [[-1, -2], [-5, -6]]  # padding (zeros would win) never does


def test_conv_and_affine_and_batchnorm():
    x = np.ones((1, 1, 1, 3, 3))
    conv = run(n.Conv2d(weight=np.ones((1, 1, 3, 3)), bias=[0.5], padding=1), x).output[0, 0, 0]
    assert conv.tolist() == [[4.5, 6.5, 4.5], [6.5, 9.5, 6.5], [4.5, 6.5, 4.5]]
    aff = run(n.Affine(weight=[[1.0, 2.0]], bias=[1.0]), [[[[1.0, 1.0], [0.0, 1.0]]]]).output[0, 0]
    assert aff.tolist() == [[4.0], [3.0]]  # token-wise: applies to the last axis
    bn = n.BatchNorm(mean=[1.0, 0.0], var=[4.0, 1.0], weight=[1.0, 2.0], bias=[0.0, 1.0], eps=0.0, axis=1)
    assert run(bn, [[[[3.0, 1.0]]]]).output[0, 0].tolist() == [[1.0, 3.0]]


def test_shape_nodes():
    x = np.arange(6, dtype=float).reshape(1, 1, 2, 3)
    assert run(n.Transpose(perm=(1, 0)), x).output[0, 0].tolist() == [[0, 3], [1, 4], [2, 5]]
    assert run(n.Flatten(start_dim=0), x).output[0, 0].tolist() == [0, 1, 2, 3, 4, 5]
    assert run(n.Reshape(shape=(3, 2)), x).output[0, 0].tolist() == [[0, 1], [2, 3], [4, 5]]
    assert run(n.Mean(axis=0), x).output[0, 0].tolist() == [1.5, 2.5, 3.5]


def test_spike_matmul_and_self_attention():
    rng = np.random.default_rng(2)
    q, k, v = (rng.integers(0, 2, (1, 2, 4, 6)).astype(float) for _ in range(3))
    g = Graph({"q": n.Input(type=TensorType((4, 6), "binary")), "k": n.Input(type=TensorType((4, 6), "binary")),
               "v": n.Input(type=TensorType((4, 6), "binary")), "ssa": n.SpikingSelfAttention(heads=2, scale=0.125),
               "out": n.Output()},
              [Edge("q", "ssa", "q"), Edge("k", "ssa", "k"), Edge("v", "ssa", "v"), Edge("ssa", "out")])
    y = simulate(g, {"q": q, "k": k, "v": v}).output[0]
    for h in range(2):
        sl = slice(3 * h, 3 * h + 3)
        want = (q[0][:, :, sl] @ k[0][:, :, sl].transpose(0, 2, 1)) @ v[0][:, :, sl] * 0.125
        assert np.array_equal(y[:, :, sl], want)
    mm = Graph({"a": n.Input(type=TensorType((4, 6), "binary")), "mm": n.SpikeMatMul(transpose_a=True),
                "out": n.Output()}, [Edge("a", "mm", "a"), Edge("a", "mm", "b"), Edge("mm", "out")])
    assert np.array_equal(simulate(mm, q).output[0], q[0].transpose(0, 2, 1) @ q[0])


def test_edges_into_one_port_are_summed():
    g = Graph({"in": n.Input(type=TensorType((2,))), "a": n.Scale(scale=2.0), "sum": n.Add(), "out": n.Output()},
              [Edge("in", "a"), Edge("in", "sum"), Edge("a", "sum"), Edge("sum", "out")])
    assert simulate(g, np.array([[[1.0, 2.0]]])).output[0, 0].tolist() == [3.0, 6.0]


def test_activity_counts_spikes_and_events():
    g = dense_lif(np.random.default_rng(0))
    x = (np.random.default_rng(1).random((4, 3, 6)) < 0.5).astype(float)
    out = simulate(g, x, trace=["lif0"])
    act = out.activity
    assert act.steps == 4 and act.samples == 3
    assert np.array_equal(act.spikes["lif0"], out.traces["lif0"].sum(1))
    assert np.array_equal(act.events["fc0"]["input"], (x != 0).sum(1))
    assert np.array_equal(act.events["fc1"]["input"], (out.traces["lif0"] != 0).sum(1))
    assert 0 < act.firing_rate("lif0") < 1
    merged = act.merge(act)
    assert merged.samples == 6 and merged.firing_rate("lif0") == pytest.approx(act.firing_rate("lif0"))


def test_float32_mode_and_bad_input_shape():
    g = dense_lif(np.random.default_rng(0))
    x = np.ones((2, 1, 6))
    assert simulate(g, x, dtype=torch.float32).output.dtype == np.float32
    with pytest.raises(Exception, match=r"must be \[T, B, 6\]"):
        simulate(g, np.ones((2, 6)))


def test_every_node_class_has_a_kernel():
    from snncompile.ir.nodes import NODE_CLASSES
    from snncompile.sim.kernels.registry import _BUILDERS

    assert {c for c in NODE_CLASSES if c not in (n.Input, n.Previous)} <= set(_BUILDERS)  # both read, not computed


def test_event_recording_covers_every_synapse_like_node():
    from snncompile.ir.nodes import NODE_CLASSES

    events = {c.op for c in NODE_CLASSES if c.events}
    assert {"Affine", "Linear", "Conv1d", "Conv2d", "SpikeMatMul", "SpikingSelfAttention", "SumPool2d"} <= events
    assert not {c.op for c in NODE_CLASSES if c.events and issubclass(c, n.NEURONS)}


def test_inputs_of_different_steps_or_batch_sizes_are_refused():
    """Each input's T and batch size must agree; before, the first input's were used and the others ran silently."""
    nodes = {"a": n.Input(type=TensorType((3,))), "b": n.Input(type=TensorType((3,))), "out": n.Output()}
    g = Graph(nodes, [Edge("a", "out"), Edge("b", "out")])
    assert simulate(g, {"a": np.ones((2, 3, 3)), "b": np.ones((2, 3, 3))}).output.shape == (2, 3, 3)
    with pytest.raises(SnnError, match=r"every input needs the same T and batch size; got 'a': T = 2, B = 3, "
                                       r"'b': T = 4, B = 1"):
        simulate(g, {"a": np.ones((2, 3, 3)), "b": np.ones((4, 1, 3))})
    with pytest.raises(SnnError, match=r"data for 'c', which are not inputs of the graph \(inputs: a, b\)"):
        simulate(g, {"a": np.ones((2, 3, 3)), "b": np.ones((2, 3, 3)), "c": np.ones((2, 3, 3))})
