"""Multi-step models as published compile without rewriting: SpikingJelly 2.0.0's own Spikformer and QKFormer,
unmodified, spike-exact against SpikingJelly's multi-step forward on every neuron layer (float64, calibrated BN,
every layer firing, batch 2, T 4), also after the cpu pipeline and through the export CLI; errors name the module,
the operation and the source line."""

import re
import warnings

import numpy as np
import pytest
import torch
from torch import nn

sj = pytest.importorskip("spikingjelly")
from spikingjelly.activation_based import layer, neuron  # noqa: E402
from spikingjelly.activation_based.model.qkformer import QKFormer  # noqa: E402
from spikingjelly.activation_based.model.spikformer import spikformer_cifar10, spikformer_ti  # noqa: E402

from snncompile.cli.main import main  # noqa: E402
from snncompile.errors import UnsupportedError  # noqa: E402
from snncompile.frontend import trace  # noqa: E402
from snncompile.frontend.multistep import compare_multistep  # noqa: E402
from snncompile.ir.nir_io import read_nir  # noqa: E402
from snncompile.passes.registry import pipeline, run_pipeline  # noqa: E402
from tests.checks import calibrated_spikingjelly  # noqa: E402

T, B = 4, 2
NEURONS = (neuron.LIFNode, neuron.ParametricLIFNode, neuron.IFNode)


def calibrated(model: nn.Module, shape: tuple[int, ...] = (3, 32, 32)) -> tuple[nn.Module, torch.Tensor]:
    return calibrated_spikingjelly(model, shape, B, steps=T)


def assert_exact(model: nn.Module, graph, x: torch.Tensor) -> None:
    eq = compare_multistep(model, graph, x.double())
    neurons = {name for name, m in model.named_modules() if isinstance(m, NEURONS)}
    assert neurons and neurons == {match.name for match in eq.layers}
    for match in eq.layers:
        assert match.torch_rate > 0.01, f"{match.name} fires at {match.torch_rate:.4f}: test would be vacuous"
        assert match.mismatches == 0, f"{match.name}: {match.mismatches}/{match.total} spikes differ"
    assert eq.max_output_diff < 1e-9


SHAPES = {"spikformer_cifar10": (3, 32, 32), "spikformer_ti": (3, 128, 128), "qkformer": (3, 32, 32)}
MODELS = {
    "spikformer_cifar10": lambda: spikformer_cifar10(T=T),
    "spikformer_ti": lambda: spikformer_ti(T=T, img_size_h=128, img_size_w=128, num_classes=10),
    "qkformer": lambda: QKFormer(T=T, num_classes=10, embed_dims=256, num_heads=(2, 4, 2), depths=(1, 1, 1)),
}


@pytest.fixture(scope="module", params=list(MODELS))
def published(request):
    return request.param, *calibrated(MODELS[request.param](), SHAPES[request.param])


def test_spikingjelly_models_spike_exact(published):
    name, model, x_seq = published
    graph = trace(model, SHAPES[name])
    assert graph.metadata["input_form"] == "sequence" and graph.metadata["steps"] == T
    assert_exact(model, graph, x_seq)
    assert_exact(model, run_pipeline(graph, pipeline("cpu"))[0], x_seq)


def test_qkformer_attention_is_a_sum_and_a_mask():
    model, x_seq = calibrated(MODELS["qkformer"]())
    graph = trace(model, (3, 32, 32))
    ops = [node.op for node in graph.nodes.values()]
    assert ops.count("Sum") == 2 and ops.count("SpikeMask") == 2  # token Q-K attention in stages 1 and 2
    assert ops.count("SpikeMatMul") == 2  # stage-3 spiking self-attention
    mask = next(k for k, node in graph.nodes.items() if node.op == "SpikeMask")
    assert graph.port_types(mask)["mask"].kind == "binary"
    assert graph.types[mask].kind == "binary"  # spikes AND spikes


def test_static_image_repeated_by_the_model():
    """spikformer_cifar10 also takes a static [B, C, H, W] image and repeats it over T itself."""
    model, x_seq = calibrated(MODELS["spikformer_cifar10"]())

    class StaticOnly(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, x):
            return self.net(x.unsqueeze(0).repeat(T, 1, 1, 1, 1))

    wrapped = StaticOnly()
    graph = trace(wrapped, (3, 32, 32))
    assert graph.metadata["input_form"] == "static"
    assert_exact(wrapped, graph, x_seq[0])


BUILDS = {
    "spikformer_cifar10": "from spikingjelly.activation_based.model.spikformer import spikformer_cifar10 as make\n"
                          "def build():\n    return make(T=4)\n",
    "qkformer": "from spikingjelly.activation_based.model.qkformer import QKFormer\n"
                "def build():\n    return QKFormer(T=4, num_classes=10, embed_dims=256, num_heads=(2, 4, 2), "
                "depths=(1, 1, 1))\n",
}


@pytest.mark.parametrize("name", list(BUILDS))
def test_export_cli_then_simulate_and_energy(tmp_path, capsys, name):
    model, x_seq = calibrated(MODELS[name]())
    torch.save(model.state_dict(), tmp_path / "ck.pt")
    (tmp_path / "sj.py").write_text(BUILDS[name])
    out = tmp_path / "m.nir"
    assert main(["export", str(tmp_path / "ck.pt"), "--model", f"{tmp_path / 'sj.py'}:build", "-o", str(out),
                 "--input-shape", "3,32,32"]) == 0
    graph = read_nir(out)
    assert_exact(model, graph, x_seq)
    np.savez(tmp_path / "data.npz", x=x_seq[0].numpy(), y=np.zeros(B, dtype=np.int64))
    assert main(["simulate", str(out), "--data", str(tmp_path / "data.npz")]) == 0
    assert main(["energy", str(out), "--data", str(tmp_path / "data.npz"), "--json", str(tmp_path / "e.json")]) == 0
    assert "accuracy" in capsys.readouterr().out


class TimeMixing(nn.Module):
    def __init__(self, op: str):
        super().__init__()
        self.fc, self.sn, self.op = layer.Linear(4, 4, step_mode="m"), neuron.LIFNode(step_mode="m"), op

    def forward(self, x):
        y = self.sn(self.fc(x))
        if self.op == "diff":
            return y[1:] - y[:-1]  # difference of consecutive steps
        if self.op == "sum":
            return y.sum(0)
        if self.op == "after-readout":
            return self.sn2(y.mean(0))
        return torch.cumsum(y, 0)


class Outer(nn.Module):
    def __init__(self, op: str):
        super().__init__()
        self.inner = TimeMixing(op)
        self.inner.sn2 = neuron.LIFNode(step_mode="m")

    def forward(self, x):
        return self.inner(x)


@pytest.mark.parametrize("op, name, reason", [
    ("diff", "__getitem__", "selects time steps"),
    ("sum", "sum", "the only operation over the time axis is the readout"),
    ("cumsum", "cumsum", "not supported by the multi-step frontend"),
])
def test_time_mixing_names_module_op_and_line(op, name, reason):
    with pytest.raises(UnsupportedError) as err:
        trace(Outer(op), (3, 4))
    text = str(err.value)
    assert f"operation '{name}' in module 'inner'" in text and reason in text
    assert re.search(r"test_multistep\.py:\d+: ", text), text  # the source line


def test_neuron_after_readout_refused():
    with pytest.raises(UnsupportedError, match=r"module 'inner.sn2'.*a multi-step neuron steps along dim 0"):
        trace(Outer("after-readout"), (3, 4))


class Leaky(nn.Module):
    """A multi-step neuron fed [T*B, ...]: its state leaks across samples (QKFormer's published stage 3)."""

    def __init__(self, leak: bool):
        super().__init__()
        self.fc, self.sn, self.leak = nn.Linear(4, 4), neuron.LIFNode(step_mode="m"), leak

    def forward(self, x):
        t, b = x.shape[:2]
        y = self.fc(x.flatten(0, 1))
        return self.sn(y).reshape(t, b, -1) if self.leak else self.sn(y.reshape(t, b, -1))


def test_state_leaking_across_samples_warns_and_compiles_per_sample():
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match=r"module 'sn' \(LIFNode\) runs on a \[T\*B, \.\.\.\] tensor"):
        leaky = trace(Leaky(True), (4,))
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixed = trace(Leaky(False), (4,))
    assert leaky == fixed


@pytest.mark.parametrize("body, reason", [
    ("raise TypeError(\"__init__() got an unexpected keyword argument 'backend'\")",
     r"build\(\) raised TypeError: __init__\(\) got an unexpected keyword argument 'backend'"),
    ("from spikingjelly.clock_driven.neuron import MultiStepLIFNode",
     r"No module named 'spikingjelly.clock_driven'.*SpikingJelly 0\.0\.0\.0\.12"),
])
def test_build_errors_are_one_line(tmp_path, capsys, body, reason):
    torch.save({"w": torch.zeros(1)}, tmp_path / "ck.pt")
    (tmp_path / "m.py").write_text(f"def build():\n    {body}\n")
    code = main(["export", str(tmp_path / "ck.pt"), "--model", f"{tmp_path / 'm.py'}:build", "-o",
                 str(tmp_path / "o.nir"), "--input-shape", "4"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and re.search(reason, err), err
    assert not (tmp_path / "o.nir").exists()
