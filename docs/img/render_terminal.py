"""Render captured terminal text as a PNG (the README's screenshot of a run's summary).

    python docs/img/render_terminal.py summary.txt docs/img/summary.png

The text is what `pytest benchmarks` printed from "llmbench summary" on (a real run's output,
copied unchanged); matplotlib draws it in a monospace font on a dark background (STIX for the
verdict symbols DejaVu lacks, such as ⧗).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def render(text: str, out: Path) -> None:
    lines = text.rstrip("\n").splitlines()
    width = max(len(line) for line in lines)
    fig = plt.figure(figsize=(width * 0.075 + 0.4, len(lines) * 0.165 + 0.3), dpi=110)
    fig.patch.set_facecolor("#1e1e1e")
    fig.text(0.01, 0.99, "\n".join(lines), family=["DejaVu Sans Mono", "STIXGeneral"], size=9, color="#e6e6e6",
             va="top", ha="left", linespacing=1.25)
    fig.savefig(out, facecolor=fig.get_facecolor())
    plt.close(fig)


if __name__ == "__main__":
    render(Path(sys.argv[1]).read_text(encoding="utf-8"), Path(sys.argv[2]))
