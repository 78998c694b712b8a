"""The self-contained HTML energy report: contents, escaping, determinism, no remote fetches, and a real browser."""

from __future__ import annotations

import importlib.util
import json
import re
import struct
import zlib
from html import escape
from pathlib import Path

import numpy as np
import pytest

from snncompile.energy.count import count
from snncompile.energy.render_html import fmt_count, fmt_energy, render_html
from snncompile.energy.report import build_report
from snncompile.sim import simulate
from snncompile.targets.description import bundled, load_description
from tests.graphs import dense_lif

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
spec = importlib.util.spec_from_file_location("energy_screenshot", EXAMPLES / "energy_screenshot.py")
shot = importlib.util.module_from_spec(spec)
spec.loader.exec_module(shot)

CHARTS = 5  # energy by target, ANN comparison, firing-rate heatmap, operations per layer, energy per layer
REMOTE = re.compile(r"""(src|href|action|poster|data)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?\s*(https?:)?//"""
                    r"""|@import""", re.IGNORECASE)


def _report(targets: list[str] | None = None, model: str = "dense<lif>") -> dict:
    rng = np.random.default_rng(0)
    graph = dense_lif(rng)
    act = simulate(graph, rng.random((4, 3, 6))).activity
    descs = [load_description(name) for name in (bundled() if targets is None else targets)]
    return build_report(count(graph, act), descs, model=model, data="random", accuracy=0.5, lowering=["cpu"])


@pytest.fixture(scope="module")
def report() -> dict:
    return _report()


def test_page_has_every_section_and_chart(report):
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == CHARTS and page.count("</svg>") == CHARTS
    for heading in ("Totals per sample", "Energy by target", "ANN-equivalent comparison", "Paper conventions",
                    "Operations per layer", "Energy per layer on generic-45nm", "Firing rate per step",
                    "Per-layer counts", "Costs and their sources"):
        assert f"<h2>{heading}</h2>" in page
    assert "(log scale)" in page
    assert 'fill="url(#rate-scale)"' in page  # the heatmap's colour legend
    steps = report["steps"]
    assert all(f"lif0, t={t}:" in page for t in range(steps)) and f"lif0, t={steps}:" not in page
    generic = next(t for t in report["targets"] if t["name"] == "generic-45nm")
    assert all(f"{k} (" in page for k in generic["unpriced"])  # not-modelled kinds listed
    assert all(escape(c["source"]) in page for t in report["targets"] for c in t["costs"].values())
    assert "50.00 %" in page and "accumulates" in page  # accuracy and the integer-input convention


def test_page_is_self_contained(report):
    page = render_html(report)
    assert REMOTE.search(page) is None
    assert "<script" not in page and "<link" not in page and "<img" not in page and "<iframe" not in page
    assert "http:" not in page and "https:" not in page  # inline SVG needs no xmlns in HTML


def test_output_is_deterministic(report):
    again = _report()
    assert render_html(report) == render_html(again) == render_html(json.loads(json.dumps(report)))


def test_names_are_escaped():
    report = _report(model="<script>alert('x')</script>")
    report["layers"][0]["name"] = "fc0 <b>&"
    for t in report["targets"]:
        t["by_layer"] = {("fc0 <b>&" if k == "fc0" else k): v for k, v in t["by_layer"].items()}
    page = render_html(report)
    assert "<script>" not in page and "<b>&" not in page
    assert "&lt;script&gt;" in page and "fc0 &lt;b&gt;&amp;" in page


def test_without_targets_and_with_one(report):
    page = render_html(_report(targets=[]))
    assert "Energy per layer" not in page and page.count("<svg") == CHARTS - 1
    assert render_html(_report(targets=["loihi1"])).count("Energy per layer on loihi1") == 1


def test_number_formats():
    assert fmt_energy(1743311.622) == "1.74 \u00b5J"
    assert fmt_energy(0.9) == "0.9 pJ" and fmt_energy(0.0) == "0 pJ"
    assert fmt_energy(999.96) == "1 nJ" and fmt_energy(8.9e10) == "89 mJ"
    assert fmt_count(512) == "512" and fmt_count(10168192.0) == "10.2\u2009M" and fmt_count(0.25) == "0.25"


def _png(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed (filtered) scanlines of a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return size[0], size[1], zlib.decompress(idat)


@pytest.mark.skipif(shot.find_chromium() is None, reason="no chromium binary (apt-get install chromium)")
def test_headless_chromium_renders_the_charts(report, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    dom = shot.chromium(shot.find_chromium(), page, "--dump-dom")
    assert dom.count("<svg") == CHARTS and "rate-scale" in dom and "Energy by target" in dom
    (tmp_path / "report.json").write_text(json.dumps(report))
    shot.main([str(tmp_path / "report.json"), str(tmp_path / "shot.png"), "--width", "800", "--height", "900"])
    width, height, pixels = _png(tmp_path / "shot.png")
    assert (width, height) == (800, 900)
    assert len(set(pixels)) > 32  # text, bars and the heatmap, not a blank page
