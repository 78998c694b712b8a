"""IR: types, immutability, value equality, and each verifier rule (error names the node and the rule)."""

import dataclasses

import numpy as np
import pytest
import torch

from snncompile.errors import IRError
from snncompile.ir import Edge, Graph, Kind, TensorType, verify
from snncompile.ir import nodes as n
from tests.graphs import chain, dense_lif, lif


def test_arrays_are_read_only_and_nodes_frozen():
    node = n.Affine(weight=[[1.0, 2.0]], bias=[0.0])
    assert node.weight.dtype == np.float64 and not node.weight.flags.writeable
    with pytest.raises(ValueError):
        node.weight[0, 0] = 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.bias = np.ones(1)


def test_source_array_not_aliased():
    w = np.ones((1, 2))
    node = n.Linear(weight=w)
    w[0, 0] = 7
    assert node.weight[0, 0] == 1


def test_value_equality():
    assert n.Affine(weight=[[1.0]], bias=[0.0]) == n.Affine(weight=[[1.0]], bias=[0.0])
    assert n.Affine(weight=[[1.0]], bias=[0.0]) != n.Affine(weight=[[1.0]], bias=[1.0])
    assert lif(fire=">=") != lif(fire=">")


def test_type_inference_kinds():
    g = Graph({"x": n.Input(type=TensorType((4, 6), "binary")), "y": n.Input(type=TensorType((4, 6), "binary")),
               "sum": n.Add(), "mm": n.SpikeMatMul(transpose_b=True), "out": n.Output()},
              [Edge("x", "sum"), Edge("y", "sum"), Edge("x", "mm", "a"), Edge("y", "mm", "b"), Edge("mm", "out")])
    verify(g)
    assert g.types["sum"] == TensorType((4, 6), Kind.GRADED)
    assert g.types["mm"] == TensorType((4, 4), Kind.GRADED)


def test_graph_is_immutable_and_rewrites_return_new_graphs():
    g = dense_lif(np.random.default_rng(0))
    g2 = g.with_node("lif0", lif(threshold=2.0))
    assert g.nodes["lif0"].v_threshold == 1.0 and g2.nodes["lif0"].v_threshold == 2.0
    with pytest.raises(TypeError):
        g.nodes["x"] = n.Output()


def _rule(graph: Graph) -> IRError:
    with pytest.raises(IRError) as info:
        verify(graph)
    return info.value


def test_shape_mismatch_names_node():
    g = chain(("fc", n.Affine(weight=np.ones((2, 3)), bias=np.zeros(2))), input_type=TensorType((4,)))
    err = _rule(g)
    assert err.node == "fc" and "does not match weight" in str(err)


def test_nan_weight_rejected():
    g = chain(("fc", n.Affine(weight=[[np.nan]], bias=[0.0])), input_type=TensorType((1,)))
    err = _rule(g)
    assert err.node == "fc" and "NaN" in err.rule


def test_cycle_rejected():
    g = Graph({"in": n.Input(type=TensorType((1,))), "a": n.Add(), "b": n.Add(), "out": n.Output()},
              [Edge("in", "a"), Edge("a", "b"), Edge("b", "a"), Edge("b", "out")])
    assert "cycle" in _rule(g).rule


def test_unknown_port_and_missing_port():
    g = chain(("fc", n.Linear(weight=[[1.0]])), input_type=TensorType((1,)))
    bad_port = g.replace(edges=[*g.edges, Edge("input", "fc", "q")])
    assert _rule(bad_port).rule.startswith("Linear has no port 'q'")
    mm = Graph({"in": n.Input(type=TensorType((2, 2), "binary")), "mm": n.SpikeMatMul(), "out": n.Output()},
               [Edge("in", "mm", "a"), Edge("mm", "out")])
    assert "port(s) ['b'] have no incoming edge" in _rule(mm).rule


def test_dangling_edge_and_output_feeding():
    g = chain(("fc", n.Linear(weight=[[1.0]])), input_type=TensorType((1,)))
    assert _rule(g.replace(edges=[*g.edges, Edge("ghost", "fc")])).node == "ghost"
    assert _rule(g.replace(edges=[*g.edges, Edge("output", "fc")])).node == "output"


def test_spike_matmul_takes_one_real_operand_and_refuses_two():
    one = Graph({"y": n.Input(type=TensorType((2, 3))), "s": n.Input(type=TensorType((3, 2), "binary")),
                 "mm": n.SpikeMatMul(), "out": n.Output()},
                [Edge("y", "mm", "a"), Edge("s", "mm", "b"), Edge("mm", "out")])
    assert one.types["mm"] == TensorType((2, 2))  # real


def test_real_operand_refused_by_spike_matmul():
    g = Graph({"in": n.Input(type=TensorType((2, 2))), "mm": n.SpikeMatMul(), "out": n.Output()},
              [Edge("in", "mm", "a"), Edge("in", "mm", "b"), Edge("mm", "out")])
    assert "at most one operand may be real" in _rule(g).rule


def test_allowed_ops_and_stage_named():
    g = dense_lif(np.random.default_rng(0))
    with pytest.raises(IRError) as info:
        verify(g, allowed_ops={"Input", "Output", "LIF"}, stage="some-pass")
    assert info.value.node == "fc0" and "not allowed" in info.value.rule and "after some-pass" in str(info.value)


def test_bad_fire_op_and_broadcast():
    g = chain(("lif", lif(fire="=>")), input_type=TensorType((3,)))
    assert "fire must be one of" in _rule(g).rule
    g = chain(("lif", n.LIF(tau=[2.0, 2.0], r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0)),
              input_type=TensorType((3,)))
    assert "tau" in _rule(g).rule


def test_deterministic_topological_order():
    g = dense_lif(np.random.default_rng(0))
    assert g.order == ("input", "fc0", "lif0", "fc1", "lif1", "output")


@pytest.mark.parametrize("node", [
    n.Conv2d(weight=np.ones((1, 1, 1, 1)), bias=[0.0], stride=0),
    n.Conv2d(weight=np.ones((1, 1, 1, 1)), bias=[0.0], padding=-1),
    n.Conv1d(weight=np.ones((1, 1, 1)), bias=[0.0], dilation=0),
    n.SumPool2d(kernel_size=2, stride=0),
    n.MaxPool2d(kernel_size=0, stride=1),
])
def test_window_arguments_must_be_positive(node):
    shape = (1, 4, 4) if not isinstance(node, n.Conv1d) else (1, 4)
    err = _rule(chain(("node", node), input_type=TensorType(shape)))
    assert err.node == "node" and "must be >=" in err.rule


def test_graph_equality_respects_the_order_of_sums_and_the_metadata():
    """Edges into one port are summed in edge order, so that order is part of the graph; the order of edges into
    different ports is not. Metadata (e.g. the layouts of tokens-to-vectors) is part of the graph too."""
    nodes = {"a": n.Input(type=TensorType((2,))), "b": n.Input(type=TensorType((2,))), "out": n.Output(),
             "out2": n.Output()}
    g = Graph(nodes, [Edge("a", "out"), Edge("b", "out"), Edge("a", "out2")])
    assert g == Graph(nodes, [Edge("a", "out2"), Edge("a", "out"), Edge("b", "out")])
    assert g != Graph(nodes, [Edge("b", "out"), Edge("a", "out"), Edge("a", "out2")])
    assert g != g.replace(metadata={"layouts": {"x": [1, 0]}})
    assert g.replace(metadata={"k": np.arange(3), "m": {"x": (1, 2)}}) == g.replace(
        metadata={"m": {"x": [1, 2]}, "k": np.arange(3)})


def test_node_rules_that_a_simulator_would_otherwise_crash_or_guess_on():
    x = TensorType((2, 6, 6))
    with pytest.raises(IRError, match=r"padding \(2, 2\) is more than half the kernel \(3, 3\)"):
        verify(chain(("pool", n.SumPool2d(kernel_size=3, stride=1, padding=2)), input_type=x))
    verify(chain(("pool", n.SumPool2d(kernel_size=2, stride=2, padding=1)), input_type=x))  # p = k / 2 is fine
    with pytest.raises(ValueError, match=r"expected one or two values \(height, width\), got \(3, 1, 2\)"):
        n.MaxPool2d(kernel_size=(3, 1, 2), stride=1)
    zero = np.zeros(2)
    with pytest.raises(IRError, match=r"var \+ eps must be positive"):
        verify(chain(("bn", n.BatchNorm(mean=zero, var=zero, weight=zero + 1, bias=zero, eps=0.0)), input_type=x))
    verify(chain(("bn", n.BatchNorm(mean=zero, var=zero, weight=zero + 1, bias=zero, eps=1e-5)), input_type=x))


def test_the_kernel_registry_refuses_a_second_kernel_and_names_a_missing_one():
    from snncompile.errors import UnsupportedError
    from snncompile.sim.kernels.registry import kernel, make_kernel

    with pytest.raises(RuntimeError, match=r"two kernels for LIF"):
        kernel(n.LIF)(lambda node, p, dt: None)

    @dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
    class Odd(n.Node):
        op = "Odd"

    with pytest.raises(UnsupportedError, match=r"the simulator has no kernel for Odd nodes"):
        make_kernel(Odd(), 1.0, torch.float64)
