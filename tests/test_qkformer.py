"""QKFormer: published sizes, Q-K attention nodes, spike-exact tracing, NIR round trip, per-sample semantics,
and the trained digits checkpoint."""

from pathlib import Path

import numpy as np
import pytest
import torch

from snncompile.errors import IRError
from snncompile.frontend import trace
from snncompile.frontend.checkpoint import load_model
from snncompile.frontend.equivalence import torch_spikes
from snncompile.ir import Edge, Graph, Kind, TensorType
from snncompile.ir import nodes as n
from snncompile.ir.nir_io import read_nir, write_nir
from snncompile.nn.calibrate import calibrate_batchnorm, recompute_batchnorm_stats
from snncompile.nn.data import load_digits_split
from snncompile.nn.layers import repeat_in_time
from snncompile.nn.qkformer import CONFIGS, HeadSum, QKFormer, SpikeMask, TokenSum
from snncompile.sim import simulate
from snncompile.sim.evaluate import evaluate
from tests.checks import assert_exact_and_firing

CHECKPOINT = Path(__file__).parents[1] / "examples" / "qkformer_digits.pt"

# name: (default classes, tokens per stage); parameter counts: tests/test_params.py (the CIFAR config defaults to the
# CIFAR-100 head its published count is for; 6.71 M with 10 classes)
LAYOUT = {
    "qkformer-hst-10-384": (1000, (3136, 784, 196)),
    "qkformer-hst-10-512": (1000, (3136, 784, 196)),
    "qkformer-hst-10-768": (1000, (3136, 784, 196)),
    "qkformer-hst-4-384": (100, (1024, 256, 64)),
}


@pytest.mark.parametrize("name", LAYOUT)
def test_tokens_and_classes_match_the_paper(name):
    classes, tokens = LAYOUT[name]
    with torch.device("meta"):
        model = CONFIGS[name]()
        x = torch.empty(2, *model.input_shape)
        for embed, stage_tokens in zip(model.patch_embeds, tokens, strict=True):
            x = embed(x)
            assert x.shape[2] * x.shape[3] == stage_tokens
        assert model.step(torch.empty(2, *model.input_shape)).shape == (2, classes)


def test_qk_modules_sum_heads_tokens_and_mask():
    torch.manual_seed(0)
    q, k = ((torch.rand(2, 5, 8) < 0.5).float() for _ in range(2))
    heads = HeadSum(2)(q)
    assert torch.equal(heads, torch.stack([q[..., :4].sum(-1), q[..., 4:].sum(-1)], -1))
    assert torch.equal(TokenSum()(q), q.sum(1, keepdim=True))
    a = (heads > 1).float()
    assert torch.equal(SpikeMask()(a, k), torch.cat([a[..., :1] * k[..., :4], a[..., 1:] * k[..., 4:]], -1))
    c = (TokenSum()(q) > 2).float()
    assert torch.equal(SpikeMask()(c, k), c.expand_as(k) * k)


def test_qk_nodes_check_shapes_and_kinds():
    spikes = {"input": TensorType((5, 8), Kind.BINARY)}
    assert n.HeadSum(heads=4).output_type(spikes, "h") == TensorType((5, 4), Kind.GRADED)
    assert n.TokenSum().output_type(spikes, "t") == TensorType((1, 8), Kind.GRADED)
    with pytest.raises(IRError, match="does not divide into 3 heads"):
        n.HeadSum(heads=3).output_type(spikes, "h")
    mask = {"mask": TensorType((5, 4), Kind.BINARY), "input": spikes["input"]}
    assert n.SpikeMask().output_type(mask, "m") == TensorType((5, 8), Kind.BINARY)
    with pytest.raises(IRError, match="mask must be binary"):
        n.SpikeMask().output_type({**mask, "mask": TensorType((5, 4), Kind.GRADED)}, "m")
    with pytest.raises(IRError, match="multiple of the mask"):
        n.SpikeMask().output_type({**mask, "mask": TensorType((5, 3), Kind.BINARY)}, "m")


def test_bad_options_refused():
    args = {"in_channels": 1, "img_size": 8, "dim": 64, "depths": (1, 1), "heads": 4, "num_classes": 10}
    with pytest.raises(ValueError, match="unknown Q-K attention 'softmax'"):
        QKFormer(**args, attention=("softmax",))
    with pytest.raises(ValueError, match="unknown layout"):
        QKFormer(**args, layout="mnist")
    with pytest.raises(ValueError, match="one attention kind per Q-K stage"):
        QKFormer(**args, attention=("token", "token"))
    with pytest.raises(ValueError, match="divisible by 3 heads"):
        QKFormer(**{**args, "heads": 3})


def small_model(layout: str) -> tuple[QKFormer, torch.Tensor]:
    """Three stages: QKTA, QKCA, SSA. BN calibrated; the SSA's Q/K/V biased up so its attention LIF fires on so
    few tokens."""
    torch.manual_seed(0)
    img = 16 if layout == "cifar" else 32
    model = QKFormer(in_channels=3, img_size=img, dim=64, depths=(1, 1, 1), heads=2, num_classes=10, layout=layout,
                     attention=("token", "channel"))
    x_seq = repeat_in_time(torch.rand(2, 3, img, img), 4)
    calibrate_batchnorm(model, x_seq)
    with torch.no_grad():
        for bn in (model.stages[2][0].ssa.q_bn, model.stages[2][0].ssa.k_bn, model.stages[2][0].ssa.v_bn):
            bn.bias.fill_(1.5)
    recompute_batchnorm_stats(model, x_seq)
    return model, x_seq


@pytest.fixture(scope="module", params=["cifar", "imagenet"])
def small(request):
    model, x_seq = small_model(request.param)
    return model.double(), x_seq.double(), trace(model, model.input_shape)


def test_small_qkformer_is_spike_exact(small):
    model, x_seq, graph = small
    eq = assert_exact_and_firing(model, graph, x_seq)
    assert {"stages.0.0.attn.mask", "stages.1.0.attn.mask", "stages.2.0.ssa.attn_lif"} <= {m.name for m in eq.layers}


def test_q_k_attention_becomes_sum_threshold_neuron_mask(small):
    _, _, graph = small
    for stage, reduce in ((0, "HeadSum"), (1, "TokenSum")):
        p = f"stages.{stage}.0.attn"
        assert graph.nodes[f"{p}.reduce"].op == reduce and graph.types[f"{p}.reduce"].kind == Kind.GRADED
        assert graph.sources(f"{p}.reduce") == {"input": [f"{p}.q_lif"]}
        lif = graph.nodes[f"{p}.attn_lif"]
        assert lif.op == "LIF" and float(lif.v_threshold) == 0.5 and graph.sources(f"{p}.attn_lif")["input"] == [
            f"{p}.reduce"]
        assert graph.sources(f"{p}.mask") == {"mask": [f"{p}.attn_lif"], "input": [f"{p}.k_lif"]}
        assert graph.types[f"{p}.mask"].kind == Kind.BINARY
    assert graph.types["patch_embeds.1.add"].kind == Kind.GRADED  # deformed shortcut: spike sum


def test_nir_round_trip(small, tmp_path):
    _, x_seq, graph = small
    write_nir(graph, tmp_path / "qk.nir")
    back = read_nir(tmp_path / "qk.nir")
    assert back == graph
    a, b = simulate(graph, x_seq.numpy()), simulate(back, x_seq.numpy())
    assert np.array_equal(a.output, b.output)


def test_results_do_not_depend_on_batch_composition(small):
    """The official code's stage-3 LIF ran over [T*B, ...], leaking membrane across samples; here one sample
    alone and the same sample inside a batch of 3 give identical spikes, in torch and in the IR."""
    model, x_seq, graph = small
    torch.manual_seed(1)
    batch = torch.cat([x_seq[:, :1], torch.rand_like(x_seq[:, :2])], 1)
    alone, together = torch_spikes(model, graph, batch[:, :1]), torch_spikes(model, graph, batch)
    assert alone[0].keys() == together[0].keys()
    for name, spikes in alone[0].items():
        assert np.array_equal(spikes[:, 0], together[0][name][:, 0]), name
    assert np.array_equal(alone[1][:, 0], together[1][:, 0])
    trace_nodes = list(alone[0])
    sim_alone = simulate(graph, batch[:, :1].numpy(), trace=trace_nodes)
    sim_together = simulate(graph, batch.numpy(), trace=trace_nodes)
    for name in trace_nodes:
        assert np.array_equal(sim_alone.traces[name][:, 0], sim_together.traces[name][:, 0]), name


def test_qk_nodes_simulate_like_the_modules():
    rng = np.random.default_rng(0)
    q = (rng.random((3, 2, 6, 4)) < 0.5).astype(np.float64)
    m = (rng.random((3, 2, 6, 2)) < 0.5).astype(np.float64)
    nodes = {"q": n.Input(type=TensorType((6, 4), Kind.BINARY)), "m": n.Input(type=TensorType((6, 2), Kind.BINARY)),
             "h": n.HeadSum(heads=2), "t": n.TokenSum(), "mask": n.SpikeMask(),
             "o1": n.Output(), "o2": n.Output(), "o3": n.Output()}
    edges = [Edge("q", "h"), Edge("q", "t"), Edge("m", "mask", "mask"), Edge("q", "mask"), Edge("h", "o1"),
             Edge("t", "o2"), Edge("mask", "o3")]
    out = simulate(Graph(nodes, edges), {"q": q, "m": m}).outputs
    qt, mt = torch.tensor(q), torch.tensor(m)
    assert np.array_equal(out["o1"], HeadSum(2)(qt.flatten(0, 1)).reshape(3, 2, 6, 2).numpy())
    assert np.array_equal(out["o2"], TokenSum()(qt.flatten(0, 1)).reshape(3, 2, 1, 4).numpy())
    assert np.array_equal(out["o3"], SpikeMask()(mt.flatten(0, 1), qt.flatten(0, 1)).reshape(q.shape).numpy())


@pytest.fixture(scope="module")
def digits_model():
    model, meta = load_model(CHECKPOINT)
    assert meta["config"] == "qkformer-digits" and meta["T"] == 4
    return model, meta


def test_digits_checkpoint_reaches_93_percent_in_the_ir(digits_model):
    model, checkpoint = digits_model
    assert CHECKPOINT.stat().st_size < 1_000_000
    _, _, x_test, y_test = load_digits_split()
    result = evaluate(trace(model, model.input_shape), x_test.numpy(), y_test.numpy(), checkpoint["T"])
    assert result.accuracy >= 0.93
    assert result.accuracy == pytest.approx(checkpoint["test_accuracy"], abs=0.01)


def test_digits_checkpoint_is_spike_exact_on_real_digits(digits_model):
    model, checkpoint = digits_model
    _, _, x_test, _ = load_digits_split()
    x_seq = repeat_in_time(x_test[:16], checkpoint["T"]).double()
    graph = trace(model, model.input_shape)
    assert_exact_and_firing(model.double(), graph, x_seq)
    model.float()
