"""Small inline-SVG charts for the HTML energy report: horizontal (stacked) bars and a heatmap.

Every function returns one ``<svg>`` element as a string: no scripts, no external references, coordinates
written with one decimal so that the same data always gives the same bytes. Labels are HTML-escaped here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1")
# viridis at 0, .25, .5, .75, 1
VIRIDIS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))
ROW, GAP, PLOT = 15, 4, 560  # bar height, gap between bars, plot width (px)
Fmt = Callable[[float], str]


def _text(x: float, y: float, s: str, anchor: str = "start", size: int = 11, fill: str = "#222") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}">'
            f"{escape(s)}</text>")


def _label_width(labels: Sequence[str]) -> int:
    return min(330, 12 + 7 * max((len(s) for s in labels), default=4))


def _short(s: str, width: int) -> str:
    chars = (width - 12) // 7
    return s if len(s) <= chars else "\u2026" + s[-(chars - 1):]


def _nice_ticks(top: float) -> list[float]:
    """0 and round steps (1, 2 or 5 x 10^k) up to ``top``."""
    if top <= 0:
        return [0.0]
    raw = top / 4
    base = 10 ** math.floor(math.log10(raw))
    step = next(m * base for m in (1, 2, 5, 10) if m * base >= raw)
    return [i * step for i in range(int(top / step + 1e-9) + 1)]


def _axis(positive: Sequence[float], fmt: Fmt, log: bool) -> tuple[Callable[[float], float], list[tuple[float, str]]]:
    """Value -> x offset in the plot, and the ticks (offset, label): decades if ``log``, else round steps."""
    if log and positive:
        lo, hi = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
        hi = max(hi, lo + 1)

        def scale(v: float) -> float:
            return 0.0 if v <= 0 else PLOT * (math.log10(v) - lo) / (hi - lo)

        return scale, [(scale(10.0 ** k), fmt(10.0 ** k)) for k in range(lo, hi + 1)]
    nice = _nice_ticks(max(positive, default=1.0))
    vmax = max(max(positive, default=1.0), nice[-1])

    def linear(v: float) -> float:
        return PLOT * v / vmax

    return linear, [(linear(t), fmt(t)) for t in nice]


def _legend(names: Sequence[str], x: float, y: float) -> str:
    parts = []
    for i, name in enumerate(names):
        parts.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>')
        parts.append(_text(x + 14, y, name))
        x += 28 + 7 * len(name)
    return "".join(parts)


def bars(labels: Sequence[str], segments: Sequence[Sequence[float]], fmt: Fmt, *, names: Sequence[str] = (),
         log: bool = False, axis: str = "") -> str:
    """Horizontal bars, one per label; a row's segments are stacked (colours by ``names``, a legend if several).

    ``log``: a base-10 axis over the decades spanned by the positive totals (one segment per row only); rows
    with a zero total get no bar and the text "0". ``axis`` names the quantity under the axis.
    """
    totals = [sum(row) for row in segments]
    if log and any(len(row) > 1 for row in segments):
        raise ValueError("a log-scale bar chart takes one segment per row")
    lw = _label_width(labels)
    top = 28 if len(names) > 1 else 8
    height = top + len(labels) * (ROW + GAP) + 34
    scale, ticks = _axis([t for t in totals if t > 0], fmt, log)
    width = lw + PLOT + 90
    out = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    if len(names) > 1:
        out.append(_legend(names, lw, 14))
    base = top + len(labels) * (ROW + GAP)
    for x, label in ticks:
        out.append(f'<line x1="{lw + x:.1f}" y1="{top - 2}" x2="{lw + x:.1f}" y2="{base}" stroke="#ddd"/>')
        out.append(_text(lw + x, base + 14, label, "middle", 10, "#555"))
    if axis:
        out.append(_text(lw + PLOT / 2, base + 30, axis + (" (log scale)" if log else ""), "middle", 11, "#555"))
    for i, (label, row) in enumerate(zip(labels, segments, strict=True)):
        y = top + i * (ROW + GAP)
        out.append(f"<g><title>{escape(label)}: {escape(fmt(totals[i]))}</title>")
        out.append(_text(lw - 6, y + ROW - 4, _short(label, lw), "end"))
        x = 0.0
        for j, v in enumerate(row):
            w = scale(totals[i]) if log else scale(v)
            if w > 0:
                out.append(f'<rect x="{lw + x:.1f}" y="{y}" width="{w:.1f}" height="{ROW}" '
                           f'fill="{PALETTE[j % len(PALETTE)]}"/>')
            x += w
        out.append(_text(lw + x + 4, y + ROW - 4, fmt(totals[i])) + "</g>")
    out.append("</svg>")
    return "".join(out)


def colour(v: float) -> str:
    """Viridis colour of ``v`` in [0, 1] (clipped), linear between five stops."""
    v = min(max(v, 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(v), len(VIRIDIS) - 2)
    f = v - i
    r, g, b = (round(a + (c - a) * f) for a, c in zip(VIRIDIS[i], VIRIDIS[i + 1], strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(labels: Sequence[str], rows: Sequence[Sequence[float]], col_label: str = "t") -> str:
    """Rows x columns of values coloured from 0 to the largest value (legend on the right), values in the cells
    when they fit."""
    cols = max((len(r) for r in rows), default=0)
    vmax = max((v for r in rows for v in r), default=0.0) or 1.0
    lw = _label_width(labels)
    cw = min(64, max(10, 640 // max(cols, 1)))
    ch, top = 18, 22
    width, height = lw + cols * cw + 110, top + max(len(labels) * ch, 60) + 12
    out = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    for t in range(cols):
        out.append(_text(lw + (t + 0.5) * cw, top - 6, f"{col_label}={t}", "middle", 10, "#555"))
    for i, (label, row) in enumerate(zip(labels, rows, strict=True)):
        y = top + i * ch
        out.append(_text(lw - 6, y + ch - 5, _short(label, lw), "end"))
        for t, v in enumerate(row):
            out.append(f'<rect x="{lw + t * cw}" y="{y}" width="{cw}" height="{ch}" fill="{colour(v / vmax)}">'
                       f"<title>{escape(label)}, {col_label}={t}: {v:.4f}</title></rect>")
            if cw >= 40:
                out.append(_text(lw + (t + 0.5) * cw, y + ch - 5, f"{v:.3f}", "middle", 10,
                                 "#fff" if v / vmax < 0.6 else "#222"))
    lx, lh = lw + cols * cw + 16, max(len(labels) * ch, 60)
    stops = "".join(f'<stop offset="{k / (len(VIRIDIS) - 1):.2f}" stop-color="{colour(1 - k / (len(VIRIDIS) - 1))}"/>'
                    for k in range(len(VIRIDIS)))
    out.append(f'<defs><linearGradient id="rate-scale" x1="0" y1="0" x2="0" y2="1">{stops}</linearGradient></defs>')
    out.append(f'<rect x="{lx}" y="{top}" width="14" height="{lh}" fill="url(#rate-scale)" stroke="#999"/>')
    for frac in (0.0, 0.5, 1.0):
        out.append(_text(lx + 20, top + lh * (1 - frac) + 4, f"{vmax * frac:.3f}", size=10))
    out.append("</svg>")
    return "".join(out)
