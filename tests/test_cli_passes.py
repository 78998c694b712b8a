"""``snncompile lower`` and ``snncompile compile`` on the exported trained digits model: identical spikes before and
after, --explain, --dump-after, and bad input giving one line, exit code 2 and no output file."""

from pathlib import Path

import numpy as np
import pytest

from snncompile.cli.main import main
from snncompile.ir.nir_io import read_nir
from snncompile.nn.data import load_digits_split
from snncompile.sim import simulate

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """The trained Spikformer exported with BatchNorm kept, so that fold-batchnorm has work to do."""
    path = tmp_path_factory.mktemp("nir") / "digits.nir"
    assert main(["export", str(EXAMPLES / "spikformer_digits.pt"), "-o", str(path), "--no-fold-bn"]) == 0
    return path


def run_ok(argv, capsys) -> list[str]:
    assert main([str(a) for a in argv]) == 0
    return capsys.readouterr().out.splitlines()


def run_bad(argv, capsys) -> str:
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("snncompile: error: ")
    return err[0]


def assert_same_spikes(before_path: Path, after_path: Path) -> None:
    before, after = read_nir(before_path), read_nir(after_path)
    x = load_digits_split()[2][:16].numpy()
    x_seq = np.broadcast_to(x, (4,) + x.shape)
    spiking = list(simulate(before, x_seq).activity.spikes)
    a, b = simulate(before, x_seq, trace=spiking), simulate(after, x_seq, trace=spiking)
    for name in spiking:
        assert a.traces[name].mean() > 0.01
        assert np.array_equal(a.traces[name], b.traces[name]), name
    assert np.array_equal(a.output.argmax(-1), b.output.argmax(-1))


def test_compile_for_cpu_keeps_every_spike(exported, tmp_path, capsys):
    out = tmp_path / "cpu.nir"
    lines = run_ok(["compile", exported, "--target", "cpu", "-o", out], capsys)
    assert lines[0].startswith("fold-batchnorm: changed") and lines[1].startswith("maxpool-spikes: changed")
    assert lines[-1].startswith(f"wrote {out}")
    ops = {node.op for node in read_nir(out).nodes.values()}
    assert "BatchNorm" not in ops and "MaxPool2d" not in ops and {"SumPool2d", "Threshold"} <= ops
    assert_same_spikes(exported, out)


def test_lower_with_explain_and_dump_after(exported, tmp_path, capsys):
    out = tmp_path / "low.nir"
    lines = run_ok(["lower", exported, "--passes", "maxpool-spikes,fold-batchnorm", "-o", out, "--explain",
                    "--dump-after", "maxpool-spikes"], capsys)
    assert lines[0] == "maxpool-spikes: changed, 45 -> 46 nodes, 0 refused"
    assert (tmp_path / "01-maxpool-spikes.nir").exists()
    twice = tmp_path / "twice.nir"
    lines = run_ok(["lower", out, "--passes", "maxpool-spikes", "-o", twice, "--explain"], capsys)
    assert lines[:1] == ["maxpool-spikes: unchanged, 35 -> 35 nodes, 0 refused"]
    assert read_nir(twice) == read_nir(out)


def test_explain_prints_one_line_per_refusal(tmp_path, capsys):
    nir = tmp_path / "qk.nir"
    assert main(["export", str(EXAMPLES / "qkformer_digits.pt"), "-o", str(nir)]) == 0
    lines = run_ok(["lower", nir, "--passes", "maxpool-spikes", "-o", tmp_path / "out.nir", "--explain"], capsys)
    pools = [name for name, node in read_nir(nir).nodes.items() if node.op == "MaxPool2d"]
    assert pools and [line for line in lines if line.startswith("  ")] == \
        [f"  maxpool-spikes: {name}: input is real: max of values is not an OR" for name in pools]


@pytest.mark.parametrize(("args", "message"), [
    (["lower", "--passes", "fold-batchnorm,nope"], "unknown pass 'nope' (passes: fold-batchnorm, "),
    (["lower", "--passes", "fold-batchnorm{axis=1}"], "pass 'fold-batchnorm' has no option 'axis' (options: none)"),
    (["lower", "--passes", "fold-batchnorm", "--dump-after", "maxpool-spikes"], "--dump-after 'maxpool-spikes'"),
    (["compile", "--target", "nope"], "argument --target: invalid choice: 'nope' (choose from 'cpu', 'lava', 'nir')"),
])
def test_bad_input_one_line_no_output(exported, tmp_path, capsys, args, message):
    out = tmp_path / "out.nir"
    line = run_bad([args[0], exported, *args[1:], "-o", out], capsys)
    assert line.startswith(f"snncompile: error: {message}")
    assert list(tmp_path.iterdir()) == []
