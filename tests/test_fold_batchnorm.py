"""fold-batchnorm: BN disappears into the synapse before it; spikes unchanged; a BN that does not fit stays, with
the reason."""

import numpy as np

from snncompile.ir import Edge, Graph, TensorType
from snncompile.ir import nodes as n
from snncompile.passes.fold_batchnorm import FoldBatchNorm
from snncompile.sim import simulate
from tests.graphs import chain, lif


def _bn(rng, c, axis):
    return n.BatchNorm(mean=rng.normal(0, 1, c), var=rng.uniform(0.5, 2, c), weight=rng.uniform(0.5, 2, c),
                       bias=rng.normal(0.5, 0.2, c), eps=1e-5, axis=axis)


def test_folds_conv_and_linear_with_same_spikes():
    rng = np.random.default_rng(0)
    g = chain(("conv", n.Conv2d(weight=rng.normal(0.3, 1, (4, 2, 3, 3)), bias=np.zeros(4), padding=1)),
              ("bn1", _bn(rng, 4, 0)), ("lif1", lif()), ("flat", n.Flatten(start_dim=1)),
              ("tok", n.Transpose(perm=(1, 0))), ("fc", n.Linear(weight=rng.normal(0.2, 1, (3, 4)))),
              ("bn2", _bn(rng, 3, 1)), ("lif2", lif()), input_type=TensorType((2, 5, 5)))
    result = FoldBatchNorm().run(g)
    folded = result.graph
    assert result.changed and result.refusals == ()
    assert [folded.nodes[k].op for k in folded.order] == \
        ["Input", "Conv2d", "LIF", "Flatten", "Transpose", "Affine", "LIF", "Output"]
    x = rng.uniform(0, 2, (4, 3, 2, 5, 5))
    before, after = simulate(g, x, trace=["lif1", "lif2"]), simulate(folded, x, trace=["lif1", "lif2"])
    for layer in ("lif1", "lif2"):
        assert 0.05 < before.traces[layer].mean() < 0.95
        assert np.array_equal(before.traces[layer], after.traces[layer])


def reasons(graph):
    result = FoldBatchNorm().run(graph)
    assert "bn" in result.graph.nodes and not result.changed
    return [(r.pass_name, r.node, r.reason) for r in result.refusals]


def test_refuses_bn_on_wrong_axis_shared_synapse_or_no_synapse():
    rng = np.random.default_rng(1)
    wrong_axis = chain(("fc", n.Linear(weight=rng.normal(size=(3, 3)))), ("bn", _bn(rng, 3, 0)),
                       input_type=TensorType((3, 3)))
    assert reasons(wrong_axis) == [("fold-batchnorm", "bn", "axis is not the synapse's output-channel axis")]
    shared = Graph({"in": n.Input(type=TensorType((3,))), "fc": n.Linear(weight=np.eye(3)), "bn": _bn(rng, 3, 0),
                    "out": n.Output(), "out2": n.Output()},
                   [Edge("in", "fc"), Edge("fc", "bn"), Edge("bn", "out"), Edge("fc", "out2")])
    assert reasons(shared) == [("fold-batchnorm", "bn", "synapse feeds other nodes too")]
    after_lif = chain(("lif", lif()), ("bn", _bn(rng, 3, 0)), input_type=TensorType((3,)))
    assert reasons(after_lif) == [("fold-batchnorm", "bn", "input is not a synapse")]


def test_folded_weights_and_bias_by_hand_with_a_synapse_bias_and_eps():
    """Affine w = 2, b = 1; BN mean 0.5, var 3, eps 1, weight 4, bias 0.25: a = 4 / sqrt(3 + 1) = 2,
    c = 0.25 - 0.5 * 2 = -0.75, so w' = 2 * 2 = 4 and b' = 1 * 2 - 0.75 = 1.25 (x = 3: 13.25 both ways)."""
    one = np.ones(1)
    graph = chain(("fc", n.Affine(weight=[[2.0]], bias=[1.0])),
                  ("bn", n.BatchNorm(mean=0.5 * one, var=3 * one, weight=4 * one, bias=0.25 * one, eps=1.0, axis=0)),
                  input_type=TensorType((1,)))
    folded = FoldBatchNorm().run(graph).graph
    assert "bn" not in folded.nodes
    assert folded.nodes["fc"].weight.tolist() == [[4.0]] and folded.nodes["fc"].bias.tolist() == [1.25]
    x = np.full((1, 1, 1), 3.0)
    assert simulate(graph, x).output.item() == simulate(folded, x).output.item() == 13.25
