"""Each energy convention against its source on the same model and input, for docs/energy.md ("Paper
conventions"): the papers' published tables, SpikingJelly 2.0's op_counter, NeuroBench 2.3's Benchmark.

    python examples/energy_sources.py        # prints the Markdown table (about half a minute)

The sources' figures come from the sources: the papers' formulas and published OPs; SpikingJelly's
``SynOpCounter`` / ``MACCounter`` run on its own models; NeuroBench's metrics run on an snnTorch network. The
helpers are what tests/test_energy_tools.py and tests/test_energy_conventions.py check.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from snncompile.energy.analytical import estimate
from snncompile.energy.conventions import neurobench, spikingjelly
from snncompile.energy.count import count
from snncompile.frontend import trace
from snncompile.ir import Edge, Graph, Kind, TensorType
from snncompile.ir import nodes as n
from snncompile.nn.calibrate import calibrate_batchnorm
from snncompile.nn.zoo import CONFIGS
from snncompile.sim import simulate
from snncompile.targets.description import load_description

REF = load_description("generic-45nm")
T, B = 4, 2


def op_counter(model: nn.Module, x: torch.Tensor, batchnorm: bool = True) -> tuple[float, float]:
    """SynOps and MACs per sample by SpikingJelly's own counters on ``x [T, B, ...]`` (float64, neurons reset;
    ``batchnorm=False`` ignores BatchNorm, as SpikingJelly's docs advise for a model whose BN is fused)."""
    from spikingjelly.activation_based import functional
    from spikingjelly.activation_based.op_counter import DispatchCounterMode, MACCounter, SynOpCounter

    ignore = [] if batchnorm else [nn.BatchNorm1d, nn.BatchNorm2d]
    synops, macs = SynOpCounter(extra_ignore_modules=ignore), MACCounter(extra_ignore_modules=ignore)
    run = model.double().eval()
    functional.reset_net(run)
    with torch.no_grad(), DispatchCounterMode([synops, macs]):
        run(x.double())
    return synops.get_total() / x.shape[1], macs.get_total() / x.shape[1]


def spikingjelly_model(name: str, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    """SpikingJelly 2.0's own ``spikformer_cifar10`` or a small ``QKFormer`` (random weights, every 7th weight of
    each convolution and linear layer zero, batch norms calibrated so that every layer fires) and its seeded
    ``[T, B, 3, 32, 32]`` input. The zeros tell SpikingJelly's count (every weight) from the exact one."""
    from spikingjelly.activation_based import functional
    from spikingjelly.activation_based.model.qkformer import QKFormer
    from spikingjelly.activation_based.model.spikformer import spikformer_cifar10

    torch.manual_seed(seed)
    model = spikformer_cifar10(T=T) if name == "spikformer_cifar10" else \
        QKFormer(T=T, num_classes=10, embed_dims=256, num_heads=(2, 4, 2), depths=(1, 1, 1))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Linear):
                m.weight.view(-1)[::7] = 0.0
    x = torch.rand(T, B, 3, 32, 32)
    calibrate_batchnorm(model, x)
    functional.reset_net(model)
    return model, x


def spikingjelly_row(model: nn.Module, x: torch.Tensor, batchnorm: bool) -> tuple[dict[str, float], tuple]:
    """The spikingjelly convention's figures on the traced model (BatchNorm kept as nodes or folded) and the
    op_counter's (SynOps, MACs)."""
    graph = trace(model, tuple(x.shape[2:]), fold_bn=not batchnorm)
    est = spikingjelly(count(graph, simulate(graph, x.double().numpy()).activity), REF)
    return est.metrics, op_counter(model, x, batchnorm)


def snntorch_net() -> nn.Module:
    """Conv 3x3 p1 (1 -> 4) -> Leaky -> flatten -> Linear (144 -> 5) -> Leaky, with zero weights; each Leaky resets
    to 0 at once (``reset_delay=False``) and spikes in its input's dtype, so that it runs in float64."""
    import snntorch as snn

    def leaky(**kw: Any) -> nn.Module:
        return snn.Leaky(beta=0.8, threshold=1.0, init_hidden=True, reset_mechanism="zero", reset_delay=False,
                         spike_grad=lambda v: (v > 0).to(v.dtype), **kw)

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), leaky(), nn.Flatten(), nn.Linear(144, 5), leaky(output=True))
    with torch.no_grad():
        net[0].weight.mul_(3.0)
        net[0].weight[0, 0, 0, 0] = 0.0
        net[3].weight.mul_(4.0)
        net[3].weight[:, :10] = 0.0
    return net


def snntorch_graph(net: nn.Module) -> Graph:
    """``snntorch_net`` in the IR: snnTorch's Leaky ``mem = beta mem + x`` is the LIF with dt = 1,
    tau = 1 / (1 - beta), r = tau, firing on ``>``, hard reset to 0."""
    def lif(shape: tuple[int, ...], leaky: nn.Module) -> n.LIF:
        tau = 1.0 / (1.0 - float(leaky.beta))
        return n.LIF(tau=np.full(shape, tau), r=np.full(shape, tau), v_leak=np.zeros(shape),
                     v_threshold=np.full(shape, float(leaky.threshold)), v_reset=np.zeros(shape), fire=">")

    def array(t: torch.Tensor) -> np.ndarray:
        return t.detach().double().numpy()

    conv, fc = net[0], net[3]
    nodes = {"input": n.Input(type=TensorType((1, 6, 6), Kind.REAL)),
             "conv": n.Conv2d(weight=array(conv.weight), bias=array(conv.bias), padding=(1, 1)),
             "lif0": lif((4, 6, 6), net[1]), "flat": n.Reshape(shape=(144,)),
             "fc": n.Affine(weight=array(fc.weight), bias=array(fc.bias)), "lif1": lif((5,), net[4]),
             "output": n.Output()}
    names = list(nodes)
    return Graph(nodes, [Edge(a, b) for a, b in zip(names, names[1:], strict=False)])


def neurobench_run(net: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    """NeuroBench's own figures for ``net`` on ``x [B, T, ...]`` (one batch; the footprint of the float32 net as
    built, and the bytes of its neuron modules' buffers, which NeuroBench's footprint includes)."""
    import snntorch as snn
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint
    from neurobench.metrics.workload import ActivationSparsity, MembraneUpdates, SynapticOperations
    from neurobench.models import SNNTorchModel
    from torch.utils.data import DataLoader, TensorDataset

    footprint = Footprint()(SNNTorchModel(net))
    buffers = sum(b.numel() * b.element_size() for m in net.modules() if isinstance(m, snn.SpikingNeuron)
                  for b in m.buffers())
    data = DataLoader(TensorDataset(x, torch.zeros(x.shape[0], dtype=torch.long)), batch_size=x.shape[0])
    bench = Benchmark(SNNTorchModel(net.double()), data, [], [],
                      [[ConnectionSparsity], [ActivationSparsity, MembraneUpdates, SynapticOperations]])
    return {**bench.run(quiet=True), "Footprint": footprint, "neuron_buffers": buffers}


def neurobench_row(seed: int = 1) -> tuple[dict[str, float], dict[str, Any], np.ndarray, np.ndarray]:
    """The neurobench convention's metrics on ``snntorch_graph``, NeuroBench's on ``snntorch_net``, and the output
    spikes of both (snnTorch's own forward, step by step)."""
    from snntorch import utils

    net = snntorch_net()
    x = torch.rand(3, 5, 1, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    theirs = neurobench_run(net, x)
    graph = snntorch_graph(net)
    result = simulate(graph, x.transpose(0, 1).numpy(), trace=["lif1"])
    utils.reset(net)
    spikes = np.stack([net(x[:, t])[0].detach().numpy() for t in range(x.shape[1])])
    return neurobench(count(graph, result.activity), REF).metrics, theirs, spikes, result.traces["lif1"]


def spikformer_table() -> list[tuple[str, float]]:
    """Spikformer's ImageNet rows from the published OPs and the first conv of the zoo's Spikformer-8-512 (the
    term the table reuses for every model), in mJ."""
    model = CONFIGS["spikformer-8-512"]().eval()
    graph = trace(model, model.input_shape)
    rows = []
    for name, ops in (("8-384", 6.82e9), ("8-512", 11.09e9), ("8-768", 22.09e9)):
        raw = {"schema": "snncompile.rates/1", "convention": "spikformer", "steps": T, "sops": ops}
        rows.append((name, estimate(raw, REF, graph).energy_pj / 1e9))
    return rows


def main() -> None:
    torch.set_num_threads(1)
    lines = ["| convention | model | input | snncompile | source | source's figure from |", "|---|---|---|---|---|---|"]
    published = {"8-384": 7.73, "8-512": 11.58, "8-768": 21.48}
    for name, mj in spikformer_table():
        lines.append(f"| spikformer | Spikformer-{name} (ImageNet) | 224x224 images, T = 4, published OPs | "
                     f"{mj:.3f} mJ | {published[name]} mJ | the paper's table |")
    for name, ops, mj in (("Ti", 2.73e9, 2.46), ("M", 6.07e9, 5.46)):
        lines.append(f"| spikingresformer | SpikingResformer-{name} (ImageNet) | published SOPs | "
                     f"{0.9 * ops / 1e9:.3f} mJ | {mj} mJ | the paper's table |")
    labels = {"spikformer_cifar10": "`spikformer_cifar10`", "qkformer": "`QKFormer` (256 dims, one block per stage)"}
    for name in ("spikformer_cifar10", "qkformer"):
        for batchnorm in (True, False):
            model, x = spikingjelly_model(name)
            ours, (synops, macs) = spikingjelly_row(model, x, batchnorm)
            bn = "BatchNorm kept" if batchnorm else "BatchNorm folded (ignored by the counter)"
            lines.append(f"| spikingjelly | SpikingJelly 2.0 {labels[name]}, {bn} | seeded random 3x32x32, T = 4, "
                         f"B = 2 | {ours['synops']:,.1f} SynOps, {ours['macs']:,.0f} MACs | {synops:,.1f} SynOps, "
                         f"{macs:,.0f} MACs | `SynOpCounter`, `MACCounter` |")
    ours, theirs, _, _ = neurobench_row()
    ops = theirs["SynapticOperations"]
    pairs = [("effective MACs", ours["effective_macs"], ops["Effective_MACs"]),
             ("effective ACs", ours["effective_acs"], ops["Effective_ACs"]), ("dense", ours["dense"], ops["Dense"]),
             ("membrane updates", ours["membrane_updates"], theirs["MembraneUpdates"]),
             ("activation sparsity", ours["activation_sparsity"], theirs["ActivationSparsity"]),
             ("connection sparsity", ours["connection_sparsity"], theirs["ConnectionSparsity"])]
    for what, a, b in pairs:
        text = f"{a:.4f} | {b:.4f}" if "sparsity" in what else f"{a:,.2f} | {b:,.2f}"
        lines.append(f"| neurobench | snnTorch conv + linear, 2 Leaky layers | seeded random 1x6x6, T = 5, B = 3 | "
                     f"{what} {text} | NeuroBench `Benchmark` |")
    lines.append(f"| neurobench | same | - | footprint {ours['footprint_bytes']:,.0f} bytes (weights and biases, "
                 f"float32) | {theirs['Footprint']:,} bytes = {theirs['Footprint'] - theirs['neuron_buffers']:,} + "
                 f"{theirs['neuron_buffers']} bytes of snnTorch neuron buffers | NeuroBench `Footprint` |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
