"""SpikingJelly 2.x models compile unchanged: every neuron variant spike- and membrane-exact against SpikingJelly's
own multi-step run, the user's model untouched, clear refusals, NIR round trip, and the export CLI."""

import copy
import json
import warnings

import numpy as np
import pytest
import torch
from torch import nn

sj = pytest.importorskip("spikingjelly")
from spikingjelly.activation_based import functional, layer, neuron  # noqa: E402

from snncompile.cli.main import main  # noqa: E402
from snncompile.errors import UnsupportedError  # noqa: E402
from snncompile.frontend import trace  # noqa: E402
from snncompile.frontend.multistep import compare_multistep  # noqa: E402
from snncompile.frontend.spikingjelly import compare_spikingjelly, trace_spikingjelly  # noqa: E402
from snncompile.frontend.spikingjelly_modules import _tau_for  # noqa: E402
from snncompile.ir import Kind  # noqa: E402
from snncompile.ir.nir_io import read_nir, write_nir  # noqa: E402
from snncompile.sim import simulate  # noqa: E402
from tests.checks import calibrated_spikingjelly  # noqa: E402

T, B = 4, 3
NEURONS = (neuron.LIFNode, neuron.ParametricLIFNode, neuron.IFNode)


def plif(w: float, **kwargs) -> neuron.ParametricLIFNode:
    node = neuron.ParametricLIFNode(init_tau=2.0, **kwargs)
    node.w.data.fill_(w)  # a "learned" time constant, not the initial one
    return node


class ConvNet(nn.Module):
    """Conv + linear SNN with every supported neuron variant; SpikingJelly layers, plain multi-step forward."""

    input_shape = (1, 8, 8)

    def __init__(self):
        super().__init__()
        self.conv1 = layer.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = layer.BatchNorm2d(8)
        self.sn1 = neuron.LIFNode(tau=2.0, detach_reset=True)  # hard reset to 0, decay_input
        self.pool1 = layer.MaxPool2d(2, 2)
        self.conv2 = layer.Conv2d(8, 16, 3, padding=1, bias=False)
        self.bn2 = layer.BatchNorm2d(16)
        self.sn2 = neuron.LIFNode(tau=3.0, v_reset=None)  # soft reset
        self.flat = layer.Flatten()
        self.fc1 = layer.Linear(16 * 4 * 4, 32)
        self.bn3 = layer.BatchNorm1d(32)
        self.sn3 = neuron.LIFNode(tau=2.5, decay_input=False, v_reset=-0.2)  # starts at -0.2
        self.fc2 = layer.Linear(32, 24)
        self.bn4 = layer.BatchNorm1d(24)
        self.sn4 = plif(0.37, v_reset=0.1)
        self.drop = layer.Dropout(0.2)
        self.fc3 = layer.Linear(24, 24)
        self.bn5 = layer.BatchNorm1d(24)
        self.sn5 = plif(-0.6, decay_input=False, v_reset=None)
        self.fc4 = layer.Linear(24, 16)
        self.bn6 = layer.BatchNorm1d(16)
        self.sn6 = neuron.IFNode(v_reset=None)
        self.fc5 = layer.Linear(16, 16)
        self.bn7 = layer.BatchNorm1d(16)
        self.sn7 = neuron.IFNode()
        self.head = layer.Linear(16, 10)
        functional.set_step_mode(self, "m")

    def forward(self, x):
        x = self.pool1(self.sn1(self.bn1(self.conv1(x))))
        x = self.flat(self.sn2(self.bn2(self.conv2(x))))
        x = self.sn3(self.bn3(self.fc1(x)))
        x = self.drop(self.sn4(self.bn4(self.fc2(x))))
        x = self.sn5(self.bn5(self.fc3(x)))
        x = self.sn6(self.bn6(self.fc4(x)))
        return self.head(self.sn7(self.bn7(self.fc5(x))))


class LinearBN(nn.Module):
    """Linear on the last axis D of ``[..., N, D]``, then BatchNorm1d over D (transposed to ``[..., D, N]``)."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.fc, self.bn = layer.Linear(d_in, d_out), layer.BatchNorm1d(d_out)

    def forward(self, x):
        return self.bn(self.fc(x).transpose(-1, -2)).transpose(-1, -2)


class Block(nn.Module):
    """Spikformer-like encoder block on tokens ``[..., N, D]`` (one head): spiking self-attention and MLP with
    spike-sum residuals, written to work in either step mode (no T-specific code)."""

    def __init__(self, dim: int):
        super().__init__()
        self.q, self.k, self.v = LinearBN(dim, dim), LinearBN(dim, dim), LinearBN(dim, dim)
        self.q_lif, self.k_lif, self.v_lif = neuron.LIFNode(), neuron.LIFNode(), neuron.LIFNode(v_reset=None)
        self.attn_lif = neuron.LIFNode(v_threshold=0.5)
        self.proj, self.proj_lif = LinearBN(dim, dim), plif(0.2)
        self.fc1, self.fc1_lif = LinearBN(dim, 2 * dim), neuron.LIFNode(tau=2.0, decay_input=False)
        self.fc2, self.fc2_lif = LinearBN(2 * dim, dim), neuron.IFNode()

    def forward(self, x):
        q, k, v = self.q_lif(self.q(x)), self.k_lif(self.k(x)), self.v_lif(self.v(x))
        attn = self.attn_lif((q @ k.transpose(-2, -1)) @ v * 0.25)
        x = x + self.proj_lif(self.proj(attn))
        return x + self.fc2_lif(self.fc2(self.fc1_lif(self.fc1(x))))


class TinyFormer(nn.Module):
    """Conv patch embedding -> tokens -> Block -> mean over tokens -> head; multi-step, with SpikingJelly's
    SeqToANNContainer, MultiStepContainer and StepModeContainer."""

    input_shape = (1, 8, 8)

    def __init__(self, dim: int = 16):
        super().__init__()
        self.embed = layer.SeqToANNContainer(layer.Conv2d(1, dim, 3, padding=1, bias=False), layer.BatchNorm2d(dim))
        self.embed_lif = layer.MultiStepContainer(neuron.LIFNode())
        self.block = Block(dim)
        self.head = layer.StepModeContainer(False, "m", layer.Linear(dim, 10))
        functional.set_step_mode(self, "m")

    def forward(self, x):
        x = self.embed_lif(self.embed(x)).flatten(-2).transpose(-1, -2)  # [..., N, D] tokens
        return self.head(self.block(x).mean(-2))


def calibrated(model: nn.Module, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    return calibrated_spikingjelly(model, model.input_shape, B, seed, T)


def assert_exact_and_firing(model: nn.Module, graph, x_seq: torch.Tensor) -> None:
    eq = compare_spikingjelly(model, graph, x_seq.double())
    neurons = {name for name, m in model.named_modules() if isinstance(m, NEURONS)}
    assert neurons and neurons <= {layer.name for layer in eq.layers}
    for match in eq.layers:
        assert match.torch_rate > 0.01, f"{match.name} fires at {match.torch_rate:.4f}: test would be vacuous"
        assert match.mismatches == 0, f"{match.name}: {match.mismatches}/{match.total} spikes differ"
    assert eq.max_output_diff < 1e-9


@pytest.fixture(scope="module")
def convnet():
    return calibrated(ConvNet())


@pytest.fixture(scope="module")
def tinyformer():
    return calibrated(TinyFormer())


@pytest.mark.parametrize("fold_bn", [True, False])
def test_convnet_every_variant_spike_exact(convnet, fold_bn):
    model, x_seq = convnet
    graph = trace(model, model.input_shape, fold_bn=fold_bn)
    lifs = {name: graph.nodes[name] for name in graph.nodes if name.startswith("sn")}
    assert {name: (node.op, getattr(node, "form", None), node.reset) for name, node in lifs.items()} == {
        "sn1": ("LIF", "nir", "hard"), "sn2": ("LIF", "nir", "subtract"), "sn3": ("LIF", "split", "hard"),
        "sn4": ("LIF", "nir_k", "hard"), "sn5": ("LIF", "split_k", "subtract"), "sn6": ("IF", None, "subtract"),
        "sn7": ("IF", None, "hard")}
    assert float(lifs["sn3"].v_leak) == -0.2 and float(lifs["sn3"].r) == 2.5
    assert 1.0 / float(lifs["sn4"].tau) == float(torch.sigmoid(model.sn4.w.detach().double()))  # the learned factor
    assert all(node.fire == ">=" for node in lifs.values())
    assert_exact_and_firing(model, graph, x_seq)


def test_spikformer_like_block_spike_exact(tinyformer):
    model, x_seq = tinyformer
    graph = trace_spikingjelly(model, model.input_shape)
    assert "embed_lif.0" in graph.nodes and "block.attn_lif" in graph.nodes
    assert graph.types["block.add"].kind == Kind.GRADED  # spike-sum residual
    assert sum(node.op == "SpikeMatMul" for node in graph.nodes.values()) == 2
    assert_exact_and_firing(model, graph, x_seq)


@pytest.mark.parametrize("make", [
    lambda: neuron.LIFNode(), lambda: neuron.LIFNode(tau=3.0, v_reset=-0.2), lambda: neuron.LIFNode(v_reset=None),
    lambda: neuron.LIFNode(tau=2.5, decay_input=False),
    lambda: neuron.LIFNode(tau=3.0, v_reset=None, decay_input=False),
    lambda: plif(0.37), lambda: plif(-1.3, decay_input=False, v_reset=None), lambda: neuron.IFNode(),
    lambda: neuron.IFNode(v_reset=None),
], ids=["lif", "lif-vr", "lif-soft", "lif-nodecay", "lif-nodecay-soft", "plif", "plif-nodecay-soft", "if", "if-soft"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_membrane_bit_exact(make, dtype):
    """Not only spikes: the membrane after every step is bit-identical to SpikingJelly's, in float64 and float32."""
    node = make()
    model = nn.Sequential(node)
    functional.set_step_mode(model, "m")
    node.store_v_seq = True
    graph = trace(model, (500,))
    x_seq = (torch.rand(8, 2, 500, generator=torch.Generator().manual_seed(1)) * 2.5 - 0.5).to(dtype)
    model.to(dtype)
    with torch.no_grad():
        spikes = model(x_seq).numpy()
    sim = simulate(graph, x_seq.numpy(), dtype=dtype, probes=["0"], trace=["0"])
    assert 0.01 < spikes.mean() < 0.99
    assert np.array_equal(sim.traces["0"], spikes) and np.array_equal(sim.states["0"], node.v_seq.numpy())


def test_single_step_model():
    """A model in SpikingJelly's default single-step mode traces as is; the comparison calls it once per step."""
    model, x_seq = calibrated(ConvNet(), seed=1)
    functional.set_step_mode(model, "s")
    functional.reset_net(model)
    assert_exact_and_firing(model, trace(model, model.input_shape), x_seq)


def test_model_left_untouched():
    model, x_seq = calibrated(TinyFormer(), seed=2)
    model.train()
    model(x_seq)  # mid-training: neurons hold state with autograd history
    before = copy.deepcopy(model.state_dict())
    states = {name: m.v for name, m in model.named_modules() if isinstance(m, NEURONS)}
    trace(model, model.input_shape)
    assert model.training and isinstance(model.embed, layer.SeqToANNContainer)
    assert isinstance(model.embed_lif, layer.MultiStepContainer) and model.embed_lif[0].step_mode == "s"
    assert all(m.step_mode == "m" for m in model.modules() if isinstance(m, NEURONS) and m is not model.embed_lif[0])
    assert all(m.v is states[name] for name, m in model.named_modules() if isinstance(m, NEURONS))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


class _FoldsTime(nn.Module):
    def __init__(self, readout: bool):
        super().__init__()
        self.fc, self.sn, self.readout = layer.Linear(4, 4), neuron.LIFNode(step_mode="m"), readout  # x [T, B, N, 4]

    def forward(self, x):
        if self.readout:
            return self.sn(self.fc(x)).mean(0)
        t, b = x.shape[:2]
        return self.sn(self.fc(x.flatten(0, 1)).reshape(t, b, -1))


@pytest.mark.parametrize("readout", [False, True])
def test_time_folding_and_readout_compile(readout):
    """T folded into the batch around a layer, or the mean over T at the end: the multi-step frontend."""
    model = _FoldsTime(readout)
    model.fc.weight.data.uniform_(-0.2, 0.6, generator=torch.Generator().manual_seed(0))
    x_seq = torch.rand(T, B, 3, 4, generator=torch.Generator().manual_seed(0)) * 2
    eq = compare_multistep(model, trace(model, (3, 4)), x_seq.double())
    assert eq.exact and eq.layers[0].torch_rate > 0.01 and eq.max_output_diff < 1e-12


@pytest.mark.parametrize("make, reason", [
    (lambda: neuron.QIFNode(), "QIFNode.*supported SpikingJelly neurons: IFNode, LIFNode, ParametricLIFNode"),
    (lambda: neuron.IFNode(v_reset=0.5), "v_reset = 0.5"),
    (lambda: neuron.LIFNode(surrogate_function=sj.activation_based.surrogate.Sigmoid(spiking=False)),
     "non-spiking"),
    (lambda: type("MyLIF", (neuron.LIFNode,), {"single_step_forward": lambda self, x: x})(), "overrides"),
])
def test_refuses_unsupported_neurons(make, reason):
    with pytest.raises(UnsupportedError, match=reason):
        trace(nn.Sequential(layer.Linear(4, 4), make()), (4,))


def test_refuses_state_folded_into_the_batch_and_other_dt():
    inside = nn.Sequential(layer.SeqToANNContainer(layer.Linear(4, 4), neuron.LIFNode()))
    functional.set_step_mode(inside, "m")
    with pytest.raises(UnsupportedError, match=r"'0' \(SeqToANNContainer\) runs LIFNode on the T x B samples"):
        trace(inside, (4,))
    with pytest.raises(UnsupportedError, match="dt = 0.001"):
        trace(nn.Sequential(layer.Linear(4, 4), neuron.LIFNode()), (4,), dt=1e-3)


def test_plif_factor_without_exact_tau_warns():
    """torch's sigmoid is 1 / (1 + exp(-w)), so a tau with 1 / tau == sigmoid(w) exists; other factors may lack one."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert 1.0 / _tau_for(0.37, "p") == 0.37
    with pytest.warns(UserWarning, match="off by one ulp"):
        assert abs(1.0 / _tau_for(0.8000000000000005, "p") - 0.8000000000000005) < 1e-15


def test_nir_round_trip_keeps_forms(convnet, tmp_path):
    model, x_seq = convnet
    graph = trace(model, model.input_shape)
    write_nir(graph, tmp_path / "m.nir")
    back = read_nir(tmp_path / "m.nir")
    assert back == graph and back.nodes["sn5"].form == "split_k"
    x = x_seq.double().numpy()
    assert np.array_equal(simulate(back, x).output, simulate(graph, x).output)


def test_stock_nir_reads_every_form_as_lif(tmp_path):
    """The form is snncompile metadata: the continuous neuron NIR sees is the same (r = tau for decay_input=False)."""
    nir = pytest.importorskip("nir")
    model = nn.Sequential(layer.Linear(4, 4), neuron.LIFNode(tau=2.5, decay_input=False), layer.Linear(4, 4),
                          plif(0.3))
    write_nir(trace(model, (4,)), tmp_path / "p.nir")
    stock = nir.read(tmp_path / "p.nir").nodes
    assert type(stock["1"]).__name__ == type(stock["3"]).__name__ == "LIF"
    assert np.all(stock["1"].r == 2.5) and np.all(stock["3"].r == 1.0)


MODEL_FILE = '''
import torch
from torch import nn
from spikingjelly.activation_based import functional, layer, neuron


class Net(nn.Module):
    input_shape = (1, 8, 8)

    def __init__(self):
        super().__init__()
        self.conv = layer.Conv2d(1, 4, 3, padding=1)
        self.sn1 = neuron.LIFNode(v_reset=None)
        self.flat = layer.Flatten()
        self.fc = layer.Linear(256, 10)
        self.sn2 = neuron.ParametricLIFNode()
        functional.set_step_mode(self, "m")

    def forward(self, x):
        return self.sn2(self.fc(self.flat(self.sn1(self.conv(x) * 3.0))))


def build():
    return Net()
'''


def test_cli_export_and_simulate(tmp_path, capsys):
    (tmp_path / "sjnet.py").write_text(MODEL_FILE)
    torch.manual_seed(0)
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("sjnet", tmp_path / "sjnet.py")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.save({"state_dict": module.build().state_dict(), "T": 4}, tmp_path / "sj.pt")
    out = tmp_path / "sj.nir"
    assert main(["export", str(tmp_path / "sj.pt"), "--model", f"{tmp_path / 'sjnet.py'}:build", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "wrote" in captured.out and "Triton" not in captured.err
    np.savez(tmp_path / "data.npz", x=np.random.default_rng(0).random((6, 1, 8, 8)), y=np.arange(6) % 10)
    assert main(["simulate", str(out), "--data", str(tmp_path / "data.npz"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 6 and result["steps"] == 4 and set(result["firing_rates"]) >= {"sn1", "sn2"}
