"""Charts as inline SVG strings: a sparkline and a time-series chart. No JavaScript, no fonts
or images to load, so the pages work from file:// and under a strict Content-Security-Policy."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

BLUE = "#1f5fbf"
SAMPLE = "#8fb3e8"
BAND = "#dcebd8"
BASELINE = "#2e7d32"
REGRESSION = "#c62828"
IMPROVEMENT = "#2e7d32"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi):
        return []
    if hi <= lo:
        hi, lo = lo + abs(lo) * 0.05 + 1e-12, lo - abs(lo) * 0.05 - 1e-12
    raw = (hi - lo) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.ceil(lo / step) * step
    ticks = []
    value = start
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def fmt(value: float) -> str:
    return f"{value:.4g}"


def sparkline(values: list[float], changes: list[tuple[int, bool]], width: int = 132,
              height: int = 30) -> str:
    """Values left to right; red/green ticks where a change point starts; a dot on the last."""
    if not values:
        return f'<svg class="spark" width="{width}" height="{height}"></svg>'
    lo, hi = min(values), max(values)
    span = (hi - lo) or (abs(hi) * 0.01 or 1.0)
    pad = 3

    def xy(i: int, v: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * (i / max(len(values) - 1, 1))
        y = height - pad - (height - 2 * pad) * ((v - lo) / span if hi != lo else 0.5)
        return x, y

    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in enumerate(values)))
    marks = "".join(
        f'<line x1="{xy(i, values[i])[0]:.1f}" x2="{xy(i, values[i])[0]:.1f}" y1="0" '
        f'y2="{height}" stroke="{REGRESSION if bad else IMPROVEMENT}" stroke-width="1.5"/>'
        for i, bad in changes)
    lx, ly = xy(len(values) - 1, values[-1])
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} '
            f'{height}" role="img">{marks}<polyline fill="none" stroke="{BLUE}" '
            f'stroke-width="1.5" points="{points}"/><circle cx="{lx:.1f}" cy="{ly:.1f}" r="2.5" '
            f'fill="{BLUE}"/></svg>')


@dataclass
class ChartPoint:
    label: str  # x-axis label (date)
    value: float
    samples: list[float]
    baseline: float | None
    allowed: float | None
    href: str
    title: str


@dataclass
class ChartChange:
    index: int  # first point after the change
    regression: bool
    label: str


def time_series(points: list[ChartPoint], changes: list[ChartChange], unit: str,
                width: int = 960, height: int = 320) -> str:
    """One metric on one hardware key: tolerance band, baseline, samples, values, changes."""
    left, right, top, bottom = 72, 16, 22, 42
    plot_w, plot_h = width - left - right, height - top - bottom
    ys = [p.value for p in points] + [s for p in points for s in p.samples]
    for p in points:
        if p.baseline is not None:
            ys.append(p.baseline)
            if p.allowed is not None:
                ys += [p.baseline - p.allowed, p.baseline + p.allowed]
    ys = [y for y in ys if math.isfinite(y)]
    ticks = nice_ticks(min(ys), max(ys)) if ys else []
    lo = min([*ys, *ticks]) if ys else 0.0
    hi = max([*ys, *ticks]) if ys else 1.0
    pad = 0.04 * ((hi - lo) or abs(hi) or 1.0)
    lo, hi = lo - pad, hi + pad
    span = hi - lo
    n = len(points)

    def x(i: float) -> float:
        return left + plot_w * ((i + 0.5) / max(n, 1))

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / span)

    parts = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} '
             f'{height}" role="img" aria-label="time series">',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" '
             f'stroke="#ccc"/>']
    for t in ticks:
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
                     f'stroke="#eee"/><text x="{left - 6}" y="{y(t) + 4:.1f}" '
                     f'text-anchor="end" class="tick">{escape(fmt(t))}</text>')
    parts.append(f'<text x="14" y="{top + plot_h / 2:.0f}" class="tick" transform="rotate(-90 '
                 f'14 {top + plot_h / 2:.0f})" text-anchor="middle">{escape(unit)}</text>')
    half = plot_w / max(n, 1) / 2
    band, base = [], []
    for i, p in enumerate(points):
        if p.baseline is None:
            continue
        if p.allowed is not None and p.allowed > 0:
            band.append(f'<rect x="{x(i) - half:.1f}" y="{y(p.baseline + p.allowed):.1f}" '
                        f'width="{2 * half:.1f}" height="'
                        f'{y(p.baseline - p.allowed) - y(p.baseline + p.allowed):.1f}"/>')
        base.append(f'M{x(i) - half:.1f},{y(p.baseline):.1f}H{x(i) + half:.1f}')
    if band:
        parts.append(f'<g fill="{BAND}" class="band"><title>tolerance band: baseline ± '
                     f'allowed change</title>{"".join(band)}</g>')
    if base:
        parts.append(f'<path d="{"".join(base)}" stroke="{BASELINE}" stroke-width="1.5" '
                     f'stroke-dasharray="5 3" fill="none"><title>baseline</title></path>')
    for c in changes:
        cx = x(c.index - 0.5)
        color = REGRESSION if c.regression else IMPROVEMENT
        parts.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{top}" y2="{top + plot_h}" '
                     f'stroke="{color}" stroke-width="2" class="change"><title>'
                     f'{escape(c.label)}</title></line><text x="{cx + 4:.1f}" y="{top + 12}" '
                     f'fill="{color}" class="tick">{escape(c.label.split(" ")[0])}</text>')
    samples = "".join(f'<circle cx="{x(i):.1f}" cy="{y(s):.1f}" r="2"/>'
                      for i, p in enumerate(points) for s in p.samples if math.isfinite(s))
    if samples:
        parts.append(f'<g fill="{SAMPLE}" fill-opacity="0.7" class="samples">{samples}</g>')
    if n > 1:
        line = " ".join(f"{x(i):.1f},{y(p.value):.1f}" for i, p in enumerate(points))
        parts.append(f'<polyline fill="none" stroke="{BLUE}" stroke-width="2" '
                     f'points="{line}"/>')
    for i, p in enumerate(points):
        parts.append(f'<a href="{escape(p.href)}"><circle cx="{x(i):.1f}" cy="{y(p.value):.1f}" '
                     f'r="4.5" fill="{BLUE}" stroke="#fff" stroke-width="1.5"><title>'
                     f'{escape(p.title)}</title></circle></a>')
    step = max(1, math.ceil(n / 8))
    for i in range(0, n, step):
        parts.append(f'<text x="{x(i):.1f}" y="{top + plot_h + 18}" text-anchor="middle" '
                     f'class="tick">{escape(points[i].label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
