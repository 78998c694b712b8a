"""SpikingResformer: published sizes, DSSA semantics and firing-rate scales, spike-exact tracing, NIR round trip."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from snncompile.errors import IRError
from snncompile.frontend import trace
from snncompile.frontend.checkpoint import load_model
from snncompile.ir import Edge, Graph, Kind, TensorType
from snncompile.ir.nir_io import read_nir, write_nir
from snncompile.ir.nodes import Input, Output
from snncompile.ir.nodes.dssa import DSSAAggregate as AggregateNode
from snncompile.ir.nodes.dssa import DSSAScore as ScoreNode
from snncompile.nn.calibrate import calibrate_batchnorm, firing_rates
from snncompile.nn.data import load_digits_split
from snncompile.nn.dssa import DSSAAggregate, DSSAScore, calibrate_firing_rates
from snncompile.nn.layers import repeat_in_time
from snncompile.nn.lif import LIF
from snncompile.nn.params import count
from snncompile.nn.spikingresformer import CONFIGS, SpikingResformer
from snncompile.sim import simulate
from snncompile.sim.evaluate import evaluate
from tests.checks import assert_exact_and_firing


def tiny(stem: str = "imagenet") -> SpikingResformer:
    """Every part at toy size: 32x32 -> stem -> 8x8; stage 0 (16 ch, patch 2), downsample, stage 1 (32 ch, 2
    heads, patch 1); 16 DSSA tokens per stage; GWFFN groups of 16 channels."""
    return SpikingResformer(in_channels=3, img_size=32, planes=(16, 32), heads=(1, 2), patch_sizes=(2, 1),
                            blocks=(1, 1), group_size=16, num_classes=10, stem=stem)


@pytest.fixture(scope="module")
def calibrated():
    return calibrated_tiny()


def calibrated_tiny() -> tuple[SpikingResformer, torch.Tensor]:
    """``tiny()`` with BN statistics and firing-rate buffers set from 2 random images (every LIF fires), eval mode;
    and that input, ``[4, 2, 3, 32, 32]``."""
    torch.manual_seed(0)
    model = tiny()
    x_seq = torch.rand(2, 3, 32, 32).unsqueeze(0).repeat(4, 1, 1, 1, 1)
    calibrate_batchnorm(model, x_seq)
    calibrate_firing_rates(model, x_seq)
    return model.eval(), x_seq


def test_imagenet_layout_has_196_dssa_tokens_in_every_stage():
    tokens: list[int] = []
    with torch.device("meta"):
        model = CONFIGS["spikingresformer-ti"]().eval()
        for m in model.modules():
            if isinstance(m, DSSAScore):
                m.register_forward_hook(lambda mod, args, out: tokens.append(out.shape[2]))
        assert model.step(torch.empty(2, *model.input_shape)).shape == (2, 1000)
    assert tokens == [196] * 6  # N' = 56^2 / 4^2 = 28^2 / 2^2 = 14^2


def test_dssa_products_are_per_head_scaled_matmuls():
    torch.manual_seed(0)
    b, heads, d, hw, tokens = 2, 3, 4, 10, 5
    y = torch.randn(b, 2 * heads * d, tokens, 1)
    x = (torch.rand(b, heads * d, hw, 1) < 0.4).float()
    attn = (torch.rand(b, heads, tokens, hw) < 0.4).float()
    score, aggregate = DSSAScore(heads, firing_rate=0.2).eval(), DSSAAggregate(heads, firing_rate=0.5).eval()
    s, a = score(y, x), aggregate(y, attn)
    for k in range(heads):
        y1, y2 = y[:, 2 * d * k:2 * d * k + d, :, 0], y[:, 2 * d * k + d:2 * d * (k + 1), :, 0]
        xk = x[:, d * k:d * (k + 1), :, 0]
        torch.testing.assert_close(s[:, k], y1.transpose(1, 2) @ xk / (0.2 * d) ** 0.5)
        torch.testing.assert_close(a[:, d * k:d * (k + 1)], y2 @ attn[:, k] / (0.5 * tokens) ** 0.5)


def test_firing_rate_tracks_in_training_and_is_fixed_in_eval():
    score = DSSAScore(2, momentum=0.5)
    y, x = torch.randn(1, 8, 1, 1), torch.tensor([[1.0, 1.0], [0.0, 1.0]]).reshape(1, 4, 1, 1)
    score(y, x)
    assert score.firing_rate.tolist() == [1.0, 0.5]  # the first update copies
    score(y, torch.zeros_like(x))
    assert score.firing_rate.tolist() == [0.5, 0.25]
    score.eval()(y, x)
    assert score.firing_rate.tolist() == [0.5, 0.25]
    with pytest.raises(ValueError, match="firing_rate"):
        DSSAScore(1, firing_rate=0.0)


def test_calibrated_rates_are_the_spike_operands_rates(calibrated):
    model, x_seq = calibrated
    rates = firing_rates(model, x_seq)
    dssa = model.stages[0].layers[0]
    assert dssa.score.firing_rate.item() == pytest.approx(rates["stages.0.layers.0.lif_in"])
    assert dssa.aggregate.firing_rate.item() == pytest.approx(rates["stages.0.layers.0.lif_attn"])


def test_tiny_model_is_spike_exact_and_fires_everywhere(calibrated):
    model, x_seq = calibrated
    graph = trace(model, model.input_shape)
    ops = [node.op for node in graph.nodes.values()]
    assert ops.count("DSSAScore") == ops.count("DSSAAggregate") == 2 and "BatchNorm" not in ops
    assert graph.types["stem.pool"].kind == Kind.REAL  # the stem's max-pool acts on reals
    assert graph.nodes["stages.0.layers.1.mid.conv"].groups == 4
    convs = [k for k, node in graph.nodes.items() if node.op == "Conv2d" and k != "stem.conv"]
    assert all(graph.port_types(k)["input"].kind == Kind.BINARY for k in convs)  # every conv after the stem
    eq = assert_exact_and_firing(model.double(), graph, x_seq.double())
    model.float()
    lifs = {name for name, m in model.named_modules() if isinstance(m, LIF)}
    assert lifs == {layer.name for layer in eq.layers} and len(lifs) == 13


def test_unfolded_graph_matches_and_scales_are_explicit(calibrated):
    model, x_seq = calibrated
    graph = trace(model, model.input_shape, fold_bn=False)
    dssa, node = model.stages[1].layers[0], graph.nodes["stages.1.layers.0.aggregate"]
    assert node.heads == 2
    np.testing.assert_array_equal(node.scale, 1.0 / np.sqrt(dssa.aggregate.firing_rate.double().numpy() * 16))
    assert_exact_and_firing(model.double(), graph, x_seq[:, :1].double())
    model.float()


def test_nir_round_trip_is_lossless(calibrated, tmp_path: Path):
    model, x_seq = calibrated
    graph = trace(model, model.input_shape)
    write_nir(graph, tmp_path / "resformer.nir")
    back = read_nir(tmp_path / "resformer.nir")
    assert back == graph
    x = x_seq[:, :1].double().numpy()
    np.testing.assert_array_equal(simulate(back, x).output, simulate(graph, x).output)


def test_digits_config_traces():
    torch.manual_seed(0)
    model = CONFIGS["spikingresformer-digits"]()
    graph = trace(model, model.input_shape)
    assert graph.types["output"].shape == (10,) and model.input_shape == (1, 8, 8)
    assert count(model) * 4 < 1e6  # a float32 checkpoint stays below 1 MB


def _product_graph(node, y: TensorType, s: TensorType, port: str) -> Graph:
    nodes = {"y": Input(type=y), "s": Input(type=s), "p": node, "out": Output()}
    return Graph(nodes, [Edge("y", "p", "y"), Edge("s", "p", port), Edge("p", "out")])


def test_ir_nodes_check_kinds_shapes_and_scales():
    y, x = TensorType((8, 2, 2)), TensorType((4, 3, 3), Kind.BINARY)
    score = ScoreNode(heads=2, scale=np.ones(2))
    assert _product_graph(score, y, x, "x").types["p"] == TensorType((2, 4, 9), Kind.REAL)
    with pytest.raises(IRError, match="spikes or counts"):
        _product_graph(score, y, TensorType((4, 3, 3)), "x").types  # noqa: B018
    with pytest.raises(IRError, match="scale must have shape"):
        _product_graph(ScoreNode(heads=2, scale=np.ones(3)), y, x, "x").types  # noqa: B018
    aggregate = AggregateNode(heads=2, scale=np.ones(2))
    attn = TensorType((2, 4, 9), Kind.BINARY)
    assert _product_graph(aggregate, y, attn, "attn").types["p"] == TensorType((4, 9), Kind.REAL)
    with pytest.raises(IRError, match="attn must be"):
        _product_graph(aggregate, y, TensorType((2, 5, 9), Kind.BINARY), "attn").types  # noqa: B018


def test_bad_configs_refused():
    with pytest.raises(ValueError, match="patch size"):
        SpikingResformer(in_channels=3, img_size=24, planes=(16,), heads=(1,), patch_sizes=(4,), blocks=(1,),
                         num_classes=2, group_size=16)
    with pytest.raises(ValueError, match="group_size"):
        SpikingResformer(in_channels=3, img_size=32, planes=(24,), heads=(1,), patch_sizes=(1,), blocks=(1,),
                         num_classes=2, group_size=64)
    with pytest.raises(ValueError, match="stem"):
        tiny(stem="vit")
    assert tiny(stem="cifar").stem.pool is None and isinstance(tiny().stem.pool, nn.MaxPool2d)


def test_trained_digits_checkpoint_is_spike_exact_and_accurate_in_the_ir():
    path = Path(__file__).parents[1] / "examples" / "spikingresformer_digits.pt"
    assert path.stat().st_size < 1_000_000
    model, meta = load_model(path)
    graph = trace(model, model.input_shape)
    _, _, x_test, y_test = load_digits_split()
    result = evaluate(graph, x_test.numpy(), y_test.numpy(), meta["T"])
    assert result.accuracy >= 0.93 and result.accuracy == pytest.approx(meta["test_accuracy"], abs=0.01)
    assert_exact_and_firing(model.double(), graph, repeat_in_time(x_test[:16], meta["T"]).double())
