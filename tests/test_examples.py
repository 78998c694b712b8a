"""The demo runs end to end on every bundled checkpoint (what `make demo MODEL=...` does)."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
spec = importlib.util.spec_from_file_location("demo", EXAMPLES / "demo.py")
demo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo)


@pytest.mark.parametrize("model", demo.MODELS)
def test_demo_runs(model, tmp_path, capsys):
    assert demo.demo(model, tmp_path) == 0
    out = capsys.readouterr().out
    assert (tmp_path / f"{model}.nir").is_file()
    assert (tmp_path / f"{model}-energy.html").read_text().count("<svg") >= 4
    assert "energy per sample" in out
    accuracy = float(out.rsplit("accuracy: ", 1)[1].split()[0])
    assert accuracy >= 0.93
