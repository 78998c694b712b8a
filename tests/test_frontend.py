"""torch -> IR: spike-exact equivalence of every LIF layer, clear refusals, the model left untouched."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from snncompile.errors import UnsupportedError
from snncompile.frontend import trace
from snncompile.ir import Kind
from snncompile.nn.calibrate import calibrate_batchnorm
from snncompile.nn.layers import StepModel
from snncompile.nn.lif import LIF
from snncompile.nn.spikformer import spikformer_4_384
from tests.checks import assert_exact_and_firing

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"




@pytest.fixture(scope="module")
def spikformer_cifar():
    torch.manual_seed(0)
    model = spikformer_4_384()
    x_seq = torch.rand(2, 3, 32, 32).unsqueeze(0).repeat(4, 1, 1, 1, 1)
    calibrate_batchnorm(model, x_seq)
    return model.eval(), x_seq


def test_spikformer_4_384_cifar_spike_exact(spikformer_cifar):
    model, x_seq = spikformer_cifar
    graph = trace(model, (3, 32, 32))
    assert {"BatchNorm"}.isdisjoint(node.op for node in graph.nodes.values())
    assert graph.types["blocks.0.add"].kind == Kind.GRADED  # spike-sum residual
    assert_exact_and_firing(model.double(), graph, x_seq.double())
    model.float()


def test_trace_leaves_model_untouched(spikformer_cifar):
    model, _ = spikformer_cifar
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    lifs = [m for m in model.modules() if isinstance(m, LIF)]
    lifs[0].v = marker = torch.ones(1)
    states = [m.v for m in lifs]
    trace(model, (3, 32, 32))
    assert model.training and all(m.training for m in model.modules())
    assert [m.v for m in lifs] == states and lifs[0].v is marker
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    model.eval()


def test_unfolded_graph_keeps_batchnorm_and_matches(spikformer_cifar):
    model, x_seq = spikformer_cifar
    graph = trace(model, (3, 32, 32), fold_bn=False)
    assert sum(node.op == "BatchNorm" for node in graph.nodes.values()) == 4 + 1 + 4 * 6
    assert_exact_and_firing(model.double(), graph, x_seq[:, :1].double())
    model.float()


class _Net(StepModel):
    def __init__(self, act: nn.Module):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.act = act
        self.lif = LIF()

    def step(self, x):
        return self.lif(self.act(self.fc(x)))


def test_unsupported_module_names_path_and_type():
    with pytest.raises(UnsupportedError, match=r"module 'act' \(GELU\) is not supported; supported modules: .*LIF"):
        trace(_Net(nn.GELU()), (4,))


def test_unsupported_function_named():
    class F(StepModel):
        def __init__(self):
            super().__init__()
            self.lif = LIF()

        def step(self, x):
            return self.lif(torch.sigmoid(x))

    with pytest.raises(UnsupportedError, match=r"operation 'sigmoid' \(sigmoid\) is not supported"):
        trace(F(), (4,))


def test_reused_neuron_refused():
    class Twice(StepModel):
        def __init__(self):
            super().__init__()
            self.lif = LIF()

        def step(self, x):
            return self.lif(self.lif(x))

    with pytest.raises(UnsupportedError, match="called more than once"):
        trace(Twice(), (4,))


def test_model_without_step_refused():
    with pytest.raises(UnsupportedError, match="no step"):
        trace(nn.Linear(2, 2), (2,))


def test_identity_and_dropout_pass_through():
    graph = trace(_Net(nn.Dropout(0.5)), (4,))
    assert [graph.nodes[k].op for k in graph.order] == ["Input", "Affine", "LIF", "Output"]
    x = np.random.default_rng(0).normal(2, 1, (3, 2, 4))
    net = _Net(nn.Identity()).eval()
    with torch.no_grad():  # weights under which the LIF fires (a silent one would make the comparison vacuous)
        net.fc.weight.copy_(torch.linspace(0.0, 0.5, 16).reshape(4, 4))
        net.fc.bias.zero_()
    assert_exact_and_firing(net.double(), trace(net, (4,)), torch.tensor(x))


def test_trained_digits_model_spike_exact_on_real_digits():
    from snncompile.frontend.checkpoint import load_model
    from snncompile.nn.data import load_digits_split
    from snncompile.sim.evaluate import evaluate

    model, meta = load_model(EXAMPLES / "spikformer_digits.pt")
    graph = trace(model, model.input_shape)
    _, _, x_test, y_test = load_digits_split()
    x_seq = x_test[:32].unsqueeze(0).repeat(meta["T"], 1, 1, 1, 1).double()
    assert_exact_and_firing(model.double(), graph, x_seq)
    result = evaluate(graph, x_test.numpy(), y_test.numpy(), meta["T"])
    assert result.accuracy >= 0.95 and result.accuracy == pytest.approx(meta["test_accuracy"], abs=0.005)
