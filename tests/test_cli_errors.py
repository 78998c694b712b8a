"""The snncompile command never crashes (issue 10): every mistake a user can make gives one line on stderr
(``snncompile: error: ...``), exit code 2, no traceback and no file, finished or temporary, left behind; and what the
command prints reads cleanly: tables fit the terminal, --help shows defaults, warnings are one line."""

from __future__ import annotations

import argparse
import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from snncompile.cli.main import main, parser
from snncompile.errors import OutputFileError
from snncompile.files import write_text
from snncompile.ir import Edge, Graph, TensorType, nir_io
from snncompile.ir import nodes as n
from snncompile.ir.nir_io import read_nir, write_nir
from snncompile.tables import CELL_EDGE, column_groups
from tests.graphs import chain, dense_lif, lif

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CHECKPOINT = EXAMPLES / "spikformer_digits.pt"
RATES = EXAMPLES / "rates" / "spikformer-8-384.json"
QUOTE = "quote the pass spec so that the shell does not expand its braces, e.g. --passes 'a{x=1,y=2}'"


def fail(argv, capsys) -> str:
    """Run the command; it must exit 2 with exactly one stderr line ``snncompile: error: ...``; that line."""
    assert main([str(a) for a in argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("snncompile: error: "), captured.err
    assert "Traceback" not in captured.err and "usage:" not in captured.err
    return lines[0]


def succeed(argv, capsys) -> tuple[str, list[str]]:
    """Run the command; it must exit 0; its stdout and its stderr lines."""
    assert main([str(a) for a in argv]) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err.splitlines()


def nothing_left(folder: Path) -> None:
    assert sorted(p.name for p in folder.rglob("*")) == []


def _attention() -> Graph:
    """Spikes times spikes (no NIR equivalent), then four layout nodes that tokens-to-vectors could fold."""
    nodes = {"input": n.Input(type=TensorType((4, 3))), "lif": lif(threshold=0.5),
             "mm": n.SpikeMatMul(transpose_b=True), "r1": n.Reshape(shape=(16,)), "r2": n.Reshape(shape=(4, 4)),
             "r3": n.Reshape(shape=(16,)), "r4": n.Reshape(shape=(2, 8)), "output": n.Output()}
    edges = [Edge("input", "lif"), Edge("lif", "mm", "a"), Edge("lif", "mm", "b"), Edge("mm", "r1"),
             Edge("r1", "r2"), Edge("r2", "r3"), Edge("r3", "r4"), Edge("r4", "output")]
    return Graph(nodes, edges, 1.0, {"steps": 4})


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Inputs in a folder of their own, so that each test's tmp_path holds only what a command wrote."""
    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    dense = dense_lif(rng)
    graphs = {"dense": Graph(dense.nodes, dense.edges, 1.0, {"steps": 4}), "nosteps": dense,
              "attention": _attention(),
              "coarse": chain(("fc", n.Affine(weight=np.ones((3, 6)), bias=np.zeros(3))), ("lif", lif(tau=0.5)),
                              input_type=TensorType((6,)))}
    paths = {}
    for key, graph in graphs.items():
        paths[key] = folder / f"{key}.nir"
        write_nir(graph, paths[key])
    x = rng.random((5, 6))
    arrays = {"static": {"x": x, "y": np.array([0, 1, 2, 0, 1])}, "unlabelled": {"x": x},
              "temporal": {"x": rng.random((5, 3, 6))}}
    for key, data in arrays.items():
        paths[key] = folder / f"{key}.npz"
        np.savez(paths[key], **data)
    return paths


# -- 1. counts and steps are positive integers, refused by argparse ------------------------------------------------
@pytest.mark.parametrize(("option", "shown", "value"), [
    ("-T", "-T/--steps", "0"), ("-T", "-T/--steps", "-2"), ("-T", "-T/--steps", "two"),
    ("--batch-size", "--batch-size", "0"), ("--batch-size", "--batch-size", "-3"),
    ("--limit", "--limit", "-5"), ("--limit", "--limit", "0"),
])
def test_counts_must_be_positive(files, capsys, option, shown, value):
    line = fail(["simulate", files["dense"], "--data", files["static"], option, value], capsys)
    assert line == (f"snncompile: error: argument {shown}: expected a positive integer, got '{value}'; "
                    "see 'snncompile simulate --help'")


@pytest.mark.parametrize("argv", [
    ["export", CHECKPOINT, "-T", "0", "-o", "{out}/m.nir"],
    ["energy", "{dense}", "--data", "digits", "--limit", "-1", "--json", "{out}/r.json"],
    ["inspect", "{dense}", "--dt", "0"], ["inspect", "{dense}", "--dt", "-1"], ["inspect", "{dense}", "--dt", "nan"],
    ["lower", "{dense}", "--dt", "inf", "--passes", "maxpool-spikes", "-o", "{out}/m.nir"],
])
def test_positive_numbers_everywhere(files, tmp_path, capsys, argv):
    line = fail([str(a).format(out=tmp_path, dense=files["dense"]) for a in argv], capsys)
    assert "expected a positive" in line
    nothing_left(tmp_path)


# -- 2. a closed pipe ends quietly ----------------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_closed_pipe_is_no_traceback(files, extra):
    read, write = os.pipe()
    os.close(read)  # like `| head` that has exited: every write fails with EPIPE
    try:
        proc = subprocess.run([sys.executable, "-m", "snncompile", "inspect", str(files["dense"]), *extra],
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write)
    assert proc.returncode == 141 and proc.stderr == ""


# -- 3. compile --target nir names what NIR cannot express ---------------------------------------------------------
def test_nir_target_names_the_products_first(files, tmp_path, capsys):
    line = fail(["compile", files["attention"], "--target", "nir", "-o", tmp_path / "std.nir"], capsys)
    assert ("leaves 5 node(s) that NIR 1.0 standard primitives cannot express: SpikeMatMul x1 (mm) have no NIR "
            "equivalent (standard NIR has no product of two spike tensors); Reshape x4 (r1, r2, r3, +1 more) are "
            "linear or layout nodes") in line
    assert "--target cpu keeps extension nodes" in line
    nothing_left(tmp_path)
    out, _ = succeed(["compile", files["attention"], "--target", "cpu", "-o", tmp_path / "cpu.nir"], capsys)
    assert "wrote" in out


# -- 4. the analytical mode refuses the measured mode's options ----------------------------------------------------
@pytest.mark.parametrize(("given", "shown"), [
    (["--html", "{out}/r.html"], "--html"), (["--markdown", "{out}/r.md"], "--markdown"),
    (["--chip", "loihi1"], "--chip"), (["--target", "lava"], "--target"), (["--data", "digits"], "--data"),
    (["--limit", "3"], "--limit"),
    (["--batch-size", "8"], "--batch-size"), (["-T", "3"], "-T/--steps"), (["--integer-inputs", "mac"],
                                                                             "--integer-inputs"),
    (["--float32"], "--float32"), (["--data", "digits", "--html", "{out}/r.html"], "--data, --html"),
])
def test_rates_mode_refuses_measured_options(tmp_path, capsys, given, shown):
    argv = ["energy", "--rates", RATES, *(a.format(out=tmp_path) for a in given), "--json", tmp_path / "r.json"]
    line = fail(argv, capsys)
    assert line.startswith(f"snncompile: error: {shown}: only for the measured mode (FILE.nir --data ...)")
    nothing_left(tmp_path)


def test_rates_mode_options_that_need_the_file(tmp_path, capsys):
    assert "--dt: only with FILE.nir" in fail(["energy", "--rates", RATES, "--dt", "1"], capsys)
    out, _ = succeed(["energy", "--rates", RATES, "--json", tmp_path / "r.json"], capsys)
    assert "convention" in out and (tmp_path / "r.json").is_file()


# -- 5. unwritable outputs: one line, before any work, nothing left -----------------------------------------------
@pytest.mark.parametrize("argv", [
    ["export", CHECKPOINT, "-o", "{missing}/m.nir"],
    ["lower", "{dense}", "--passes", "maxpool-spikes", "-o", "{missing}/m.nir"],
    ["compile", "{dense}", "--target", "cpu", "-o", "{missing}/m.nir"],
    ["energy", "{dense}", "--data", "{static}", "--json", "{missing}/m.json"],
    ["energy", "{dense}", "--data", "{static}", "--markdown", "{missing}/m.md"],
    ["energy", "{dense}", "--data", "{static}", "--html", "{missing}/m.html"],
    ["energy", "--rates", RATES, "--json", "{missing}/m.json"],
])
def test_missing_output_folder(files, tmp_path, capsys, argv):
    missing = tmp_path / "nope" / "dir"
    line = fail([str(a).format(missing=missing, dense=files["dense"], static=files["static"]) for a in argv], capsys)
    assert line.startswith(f"snncompile: error: {missing}/m.") and line.endswith(
        f": cannot write: folder {missing} does not exist")
    nothing_left(tmp_path)


def test_folder_as_output_and_input(files, tmp_path, capsys):
    line = fail(["lower", files["dense"], "--passes", "maxpool-spikes", "-o", tmp_path], capsys)
    assert line == f"snncompile: error: {tmp_path}: cannot write: it is a folder; give a file name"
    assert fail(["export", tmp_path, "-o", tmp_path / "m.nir"], capsys) == \
        f"snncompile: error: {tmp_path}: is a folder, not a file"
    assert "not a file" in fail(["inspect", tmp_path], capsys)
    nothing_left(tmp_path)


def test_write_failing_midway_leaves_nothing(files, tmp_path, monkeypatch):
    graph = read_nir(files["dense"])
    kept = tmp_path / "kept.nir"
    write_nir(graph, kept)
    before = kept.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(nir_io, "write_tree", disk_full)  # after the nodes, before the graph metadata
    with pytest.raises(OutputFileError, match="kept.nir: cannot write"):
        write_nir(graph, kept)
    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OutputFileError, match=r"r\.json: cannot write: No space left on device$"):
        write_text(tmp_path / "r.json", "{}")
    assert [p.name for p in tmp_path.iterdir()] == ["kept.nir"] and kept.read_bytes() == before


# -- 6. a pass spec split by the shell's brace expansion ---------------------------------------------------------
@pytest.mark.parametrize(("passes", "message"), [
    (["ax=1", "ay=2"], "unrecognized arguments: ay=2; "),  # bash: --passes a{x=1,y=2}
    (["--passes=ax=1", "--passes=ay=2"], "argument --passes: given twice ('ax=1' and 'ay=2'); "),
    (["fold-batchnorm,ax=1"], "cannot parse passes 'fold-batchnorm,ax=1' at position 15: "),
])
def test_brace_expanded_passes_say_to_quote(files, tmp_path, capsys, passes, message):
    argv = ["lower", files["dense"], *([] if passes[0].startswith("--") else ["--passes"]), *passes, "-o",
            tmp_path / "m.nir"]
    line = fail(argv, capsys)
    assert message in line and QUOTE in line
    nothing_left(tmp_path)


def test_argparse_errors_are_one_line(files, tmp_path, capsys):
    line = fail(["lower", files["dense"], "-o", tmp_path / "m.nir"], capsys)
    assert line == ("snncompile: error: the following arguments are required: --passes; "
                    "see 'snncompile lower --help'")
    assert fail(["frobnicate"], capsys).startswith("snncompile: error: argument COMMAND: invalid choice: 'frobnicate'")
    assert "invalid choice: 'nope' (choose from 'cpu', 'lava', 'nir')" in fail(
        ["compile", files["dense"], "--target", "nope", "-o", tmp_path / "m.nir"], capsys)
    assert QUOTE not in fail(["lower", files["dense"], "--passes", "nope", "-o", tmp_path / "m.nir"], capsys)
    nothing_left(tmp_path)


# -- 7. tables fit the terminal --------------------------------------------------------------------------------------
def test_tables_fit_the_terminal_width(files, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "60")
    out, _ = succeed(["inspect", files["dense"]], capsys)
    assert max(map(len, out.splitlines())) <= 60 and "fc1" in out
    monkeypatch.setenv("COLUMNS", "80")
    out, _ = succeed(["energy", files["dense"], "--data", files["static"], "--json", tmp_path / "r.json"], capsys)
    assert max(map(len, out.splitlines())) <= 80 and "layers (per sample) (1/2)" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert f"{report['totals']['synapses']:,}" in out  # numbers whole, never cut
    monkeypatch.delenv("COLUMNS")  # not a terminal (captured): PIPE_WIDTH
    out, _ = succeed(["energy", files["dense"], "--data", files["static"]], capsys)
    assert 80 < max(map(len, out.splitlines())) <= 120


def test_column_groups_repeat_the_name_and_fit():
    header = ["layer"] + [f"count {i}" for i in range(11)]
    rows = [["blocks.0.mlp.fc1_linear"] + ["10,168,192"] * 11]
    assert column_groups(header, rows, set(range(1, 12)), 400) == [list(range(12))]
    groups = column_groups(header, rows, set(range(1, 12)), 80)
    assert len(groups) > 1 and all(g[0] == 0 for g in groups)
    assert [i for g in groups for i in g[1:]] == list(range(1, 12))
    assert all(1 + len(rows[0][0]) + CELL_EDGE + (len(g) - 1) * (10 + CELL_EDGE) <= 80 for g in groups)


# -- 8. --help ----------------------------------------------------------------------------------------------------
NO_DEFAULT = {"--data", "--rates", "--json", "--markdown", "--html", "--dump-after"}  # absent = not done


def _parsers() -> dict[str, argparse.ArgumentParser]:
    top = parser()
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return {"": top, **sub.choices}


@pytest.mark.parametrize("command", ["", "export", "inspect", "simulate", "lower", "compile", "check", "energy",
                                     "targets"])
def test_help_reads_cleanly(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"] if command else ["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "``" not in text and "usage: snncompile" in text
    flat = "".join(text.split())
    for action in _parsers()[command]._actions:
        if not action.option_strings or action.nargs == 0 or action.required:
            continue  # positionals, flags, required options have no default
        if action.option_strings[-1] not in NO_DEFAULT:
            assert action.default is None and "(default:" in action.help, action.option_strings
            assert "".join(action.help.split()) in flat  # shown
    if command == "energy":  # the description keeps its example lines
        assert "\n    snncompile energy --rates rates.json [model.nir]" in text


# -- 9. the HTML report shows '-' where the terminal does ----------------------------------------------------------
def test_html_layer_energy_not_modelled_is_a_dash(files, tmp_path, capsys):
    page = tmp_path / "r.html"
    out, _ = succeed(["energy", files["dense"], "--data", files["static"], "--chip", "generic-45nm", "--html",
                      page], capsys)
    layers = page.read_text().split("<h2>Per-layer counts</h2>")[1]
    lif_rows = [row.split("</tr>")[0] for row in layers.split("<tr>") if row.startswith("<td><code>lif")]
    assert len(lif_rows) == 2 and all(row.endswith('<td class="n">-</td>') for row in lif_rows)
    assert "0 pJ" not in layers
    assert all(line.rstrip(" │").endswith("-") for line in out.splitlines() if line.startswith("│ lif"))


# -- 10. --dt on every command, and the time-step warning ----------------------------------------------------------
def test_coarse_time_step_is_one_warning(files, tmp_path, capsys):
    _, err = succeed(["inspect", files["coarse"]], capsys)
    assert err == [f"snncompile: warning: {files['coarse']}: dt = 1 is larger than tau = 0.5 of node 'lif' (LIF), "
                   "so forward Euler's decay factor 1 - dt/tau is negative and the state oscillates; pass a --dt "
                   "smaller than the time constants (same unit)"]
    _, err = succeed(["inspect", files["coarse"], "--dt", "0.5"], capsys)  # dt = tau: decay factor 0
    assert err == []
    _, err = succeed(["inspect", files["dense"]], capsys)  # dt = 1, tau = 2: the spiking transformers' model
    assert err == []


@pytest.mark.parametrize("argv", [
    ["lower", "{dense}", "--passes", "maxpool-spikes", "-o", "{out}/m.nir"],
    ["compile", "{dense}", "--target", "cpu", "-o", "{out}/m.nir"],
    ["energy", "{dense}", "--data", "{static}", "--json", "{out}/r.json"],
    ["simulate", "{dense}", "--data", "{static}"],
])
def test_dt_on_every_command(files, tmp_path, capsys, argv):
    argv = [a.format(dense=files["dense"], static=files["static"], out=tmp_path) for a in argv]
    _, err = succeed([*argv, "--dt", "0.25"], capsys)
    assert err == []
    if (tmp_path / "m.nir").exists():
        assert read_nir(tmp_path / "m.nir").dt == 0.25
    _, err = succeed([*argv, "--dt", "3"], capsys)
    assert len(err) == 1 and err[0].startswith("snncompile: warning: ") and "dt = 3 is larger than tau = 2" in err[0]


# -- 11. data sets: labels optional, static or time-varying, steps from the data -------------------------------------
def test_data_without_labels_and_time_varying(files, capsys):
    out, _ = succeed(["simulate", files["dense"], "--data", files["unlabelled"], "--json"], capsys)
    sim = json.loads(out)
    assert sim["accuracy"] is None and sim["correct"] is None and sim["samples"] == 5 and sim["steps"] == 4
    out, _ = succeed(["simulate", files["dense"], "--data", files["unlabelled"]], capsys)
    assert f"accuracy: not measured ({files['unlabelled']} has no labels y)" in out
    out, _ = succeed(["simulate", files["dense"], "--data", files["temporal"], "--json"], capsys)
    assert json.loads(out)["steps"] == 3  # the data's T, not the file's 4
    out, _ = succeed(["simulate", files["nosteps"], "--data", files["static"], "-T", "2"], capsys)
    assert "T = 2" in out and "accuracy: " in out


def test_data_mistakes(files, capsys):
    line = fail(["simulate", files["dense"], "--data", files["temporal"], "-T", "5"], capsys)
    assert line == (f"snncompile: error: {files['dense']} on {files['temporal']}: -T 5 does not match the "
                    "time-varying data, which has T = 3 steps")
    assert "stores no number of time steps and the data are static; pass -T" in fail(
        ["simulate", files["nosteps"], "--data", files["static"]], capsys)
    assert "no data to simulate: pass --data digits or --data FILE.npz" in fail(["simulate", files["dense"]], capsys)
    out, err = succeed(["simulate", files["dense"], "--data", files["static"], "--limit", "50", "--json"], capsys)
    assert json.loads(out)["samples"] == 5
    assert err == [f"snncompile: warning: --limit 50: {files['static']} holds 5 samples; using all of them"]


# -- other arguments a new user gets wrong --------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["inspect", ""], ["simulate", "{dense}", "--data", ""], ["export", CHECKPOINT, "-o", ""],
    ["energy", "--rates", ""], ["energy", "{dense}", "--data", "digits", "--chip", ""],
    ["export", CHECKPOINT, "--config", "", "-o", "{out}/m.nir"],
])
def test_empty_values(files, tmp_path, capsys, argv):
    line = fail([str(a).format(dense=files["dense"], out=tmp_path) for a in argv], capsys)
    assert "empty value; expected a file name or a name" in line
    nothing_left(tmp_path)


def test_dump_options(files, tmp_path, capsys):
    line = fail(["lower", files["dense"], "--passes", "maxpool-spikes", "-o", tmp_path / "m.nir", "--dump-dir",
                 tmp_path], capsys)
    assert line == ("snncompile: error: --dump-dir applies only with --dump-after PASS (it names the folder of "
                    "those files)")
    line = fail(["lower", files["dense"], "--passes", "maxpool-spikes", "-o", tmp_path / "m.nir", "--dump-after",
                 "maxpool-spikes", "--dump-dir", tmp_path / "nope"], capsys)
    assert line == f"snncompile: error: --dump-dir {tmp_path / 'nope'}: no such folder"
    assert "--input-shape '0,8,8': expected comma-separated positive integers" in fail(
        ["export", CHECKPOINT, "--input-shape", "0,8,8", "-o", tmp_path / "m.nir"], capsys)
    nothing_left(tmp_path)


def test_data_given_as_a_folder_is_named_a_folder(tmp_path, capsys):
    write_nir(dense_lif(np.random.default_rng(0)), tmp_path / "m.nir")
    for name in ("d.npz", "d"):
        (tmp_path / name).mkdir()
        line = fail(["simulate", tmp_path / "m.nir", "--data", tmp_path / name, "-T", "2"], capsys)
        assert line.endswith(f"{tmp_path / name}: is a folder, not a file")
