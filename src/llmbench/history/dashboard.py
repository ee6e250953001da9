"""``llmbench history html OUT/``: a static site of the history.

``index.html``: every benchmark with its latest verdict and a sparkline per metric;
``metrics/<...>.html``: per metric, one chart per hardware key (tolerance band, baseline,
samples, values, change points; each point links to its commit) and the runs as a table.
Plain HTML, inline CSS and SVG: no script, nothing fetched (a Content-Security-Policy of
``default-src 'none'`` says so to the browser), so it works from file://, as a CI artifact and
on GitHub Pages.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from llmbench.history.changes import Change, Series, build_series, series_changes
from llmbench.history.svg import ChartChange, ChartPoint, fmt, sparkline, time_series
from llmbench.regression.baselines import atomic_write_text

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
# Colours for the outcomes this version knows; any other outcome string is shown in grey.
OUTCOME_CLASS = {"pass": "ok", "improved": "good", "updated": "info", "regressed": "bad",
                 "error": "bad", "nondeterministic": "bad", "not comparable": "warn",
                 "no baseline": "warn"}
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232b;
background:#f5f6f8}
header{background:#1d232b;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c5cbd3}main{padding:16px 24px;max-width:1280px}
a{color:#1f5fbf;text-decoration:none}a:hover{text-decoration:underline}
.card{background:#fff;border:1px solid #dde1e6;border-radius:8px;margin:0 0 16px;padding:12px 16px}
.card h2{font-size:15px;margin:0 0 8px;display:flex;gap:10px;align-items:center;flex-wrap:wrap}
.meta{color:#5b6573;font-weight:normal;font-size:13px}
.badge{border-radius:10px;padding:1px 9px;font-size:12px;font-weight:600;color:#fff;
background:#7a838f}.ok{background:#2e7d32}.good{background:#1565c0}.bad{background:#c62828}
.warn{background:#b26a00}.info{background:#546e7a}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:8px}
.metric{border:1px solid #eceef1;border-radius:6px;padding:6px 8px;display:block;color:inherit}
.metric:hover{border-color:#1f5fbf;text-decoration:none}.metric .name{font-size:12px;
color:#5b6573;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.metric .value{font-weight:600}.flag{color:#c62828;font-weight:700}.flag.good{color:#2e7d32;
background:none}
table{border-collapse:collapse;font-size:13px;background:#fff}td,th{border-bottom:1px solid #eceef1;
padding:4px 10px;text-align:left}th{color:#5b6573;font-weight:600}
.tick{font-size:11px;fill:#5b6573}.legend span{margin-right:16px;font-size:12px;color:#5b6573}
.chart{max-width:100%;height:auto}
"""


@dataclass
class Site:
    index: Path
    pages: list[Path]


def commit_url_template(explicit: str | None) -> str | None:
    """``--commit-url``, else the GitHub repository of a GitHub Actions run, else None."""
    if explicit:
        return explicit
    repo = os.environ.get("GITHUB_REPOSITORY")
    if repo:
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{repo}/commit/{{commit}}"
    return None


def _page(title: str, body: str, subtitle: str = "") -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(title)}</title><style>{STYLE}</style></head><body>'
            f'<header><h1>{escape(title)}</h1><p>{subtitle}</p></header><main>{body}</main>'
            f'</body></html>\n')


def _slug(*parts: str) -> str:
    text = "__".join(parts)
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:90]
    return f"{readable}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def _badge(outcome: str | None) -> str:
    label = outcome or "unknown"
    return f'<span class="badge {OUTCOME_CLASS.get(label, "")}">{escape(label)}</span>'


def _commit_href(commit: str | None, run_id: str, template: str | None, prefix: str) -> str:
    if commit and template:
        return template.replace("{commit}", commit)
    return f"{prefix}index.html#run-{run_id[:12]}"


def write_site(measurements: list[dict[str, Any]], benchmarks: list[dict[str, Any]],
               runs: list[dict[str, Any]], out_dir: Path, *, commit_url: str | None = None,
               title: str = "llmbench history") -> Site:
    out_dir = Path(out_dir)
    template = commit_url_template(commit_url)
    series = build_series(measurements)
    changes = {id(s): series_changes(s) for s in series}
    by_metric: dict[tuple[str, str, str, str], list[Series]] = defaultdict(list)
    for s in series:
        k = s.key
        by_metric[(k.benchmark_id, k.profile, k.device, k.metric)].append(s)
    pages = []
    for (bench, profile, device, metric), group in by_metric.items():
        path = out_dir / "metrics" / f"{_slug(bench, profile, device, metric)}.html"
        atomic_write_text(path, _metric_page(bench, profile, device, metric, group, changes,
                                             template))
        pages.append(path)
    index = out_dir / "index.html"
    atomic_write_text(index, _index_page(title, benchmarks, runs, by_metric, changes, template))
    return Site(index, pages)


def _latest_by_benchmark(benchmarks: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict]:
    latest: dict[tuple[str, str, str], dict] = {}
    for row in benchmarks:  # time order: the last one wins
        latest[(row["benchmark_id"], row["profile"], row["device"])] = row
    return latest


def _index_page(title: str, benchmarks: list[dict[str, Any]], runs: list[dict[str, Any]],
                by_metric: dict[tuple[str, str, str, str], list[Series]],
                changes: dict[int, list[Change]], template: str | None) -> str:
    latest = _latest_by_benchmark(benchmarks)
    cards = []
    # most recently run first, then by name
    ordered = sorted(latest.items(), key=lambda kv: kv[0])
    ordered.sort(key=lambda kv: kv[1]["run_time"], reverse=True)
    for (bench, profile, device), row in ordered:
        cells = []
        for (b, p, d, metric), group in sorted(by_metric.items()):
            if (b, p, d) != (bench, profile, device):
                continue
            # the hardware key of the latest run first
            s = max(group, key=lambda s: s.points[-1].time)
            found = changes[id(s)]
            flag = ""
            if any(c.regression for c in found):
                flag = ' <span class="flag" title="change point: regression">▲</span>'
            elif found:
                flag = ' <span class="flag good" title="change point: improvement">▼</span>'
            href = f"metrics/{_slug(bench, profile, device, metric)}.html"
            last = s.points[-1]
            cells.append(
                f'<a class="metric" href="{href}"><div class="name" title="{escape(metric)}">'
                f'{escape(metric)}{flag}</div><div class="value">{escape(fmt(last.value))} '
                f'<span class="meta">{escape(s.unit)}</span></div>'
                f'{sparkline(s.values.tolist(), [(c.index, c.regression) for c in found])}</a>')
        when = row.get("run_time")
        cards.append(
            f'<section class="card" id="{escape(_slug(bench, profile, device))}"><h2>'
            f'{escape(bench)} <span class="meta">{escape(profile)} · {escape(device)} · '
            f'{escape(row["hardware_key"])}</span>{_badge(row.get("outcome"))}<span class="meta">'
            f'latest: {when:%Y-%m-%d %H:%M} UTC</span></h2>'
            f'<div class="grid">{"".join(cells) or "<p>no metrics recorded</p>"}</div></section>')
    run_rows = "".join(
        f'<tr id="run-{escape(r["run_id"][:12])}"><td>{r["run_time"]:%Y-%m-%d %H:%M}</td><td>'
        + (f'<a href="{escape(template.replace("{commit}", r["commit"]))}">'
           f'{escape(r["commit"][:10])}</a>' if template and r.get("commit")
           else escape((r.get("commit") or "-")[:10]))
        + f'</td><td>{r["n_benchmarks"]}</td><td>{r["n_metrics"]}</td>'
          f'<td>{escape(str(r["source"]))}</td></tr>'
        for r in reversed(runs))
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = ("".join(cards) or "<p>The history is empty.</p>") + (
        f'<section class="card"><h2>Runs <span class="meta">{len(runs)}</span></h2><table>'
        f'<tr><th>time (UTC)</th><th>commit</th><th>benchmarks</th><th>metrics</th>'
        f'<th>source</th></tr>{run_rows}</table></section>')
    return _page(title, body, f"{len(latest)} benchmarks · {len(runs)} runs · generated "
                              f"{generated} · ▲ regression / ▼ improvement change points")


def _metric_page(bench: str, profile: str, device: str, metric: str, group: list[Series],
                 changes: dict[int, list[Change]], template: str | None) -> str:
    sections = []
    for s in sorted(group, key=lambda s: s.key.hardware_key):
        found = changes[id(s)]
        days = [f"{p.time:%m-%d}" for p in s.points]
        label = "%m-%d" if len(set(days)) == len(days) else "%m-%d %H:%M"
        points = [ChartPoint(
            label=p.time.strftime(label), value=p.value, samples=p.samples, baseline=p.baseline,
            allowed=p.allowed, href=_commit_href(p.commit, p.run_id, template, "../"),
            title=(f"{p.time:%Y-%m-%d %H:%M} UTC · {(p.commit or 'no commit')[:10]} · "
                   f"{fmt(p.value)} {s.unit} · {p.verdict or p.outcome or ''}"))
            for p in s.points]
        marks = [ChartChange(c.index, c.regression,
                             f"{c.size:+.1%} (confidence {c.confidence:.3f}, "
                             f"{(c.last_before.commit or '?')[:8]}.."
                             f"{(c.first_after.commit or '?')[:8]})") for c in found]
        change_rows = "".join(
            f"<tr><td>{'regression' if c.regression else 'improvement'}</td>"
            f"<td>{c.first_after.time:%Y-%m-%d}</td>"
            f"<td>{escape((c.last_before.commit or '?')[:10])}..{escape((c.first_after.commit or '?')[:10])}</td>"
            f"<td>{escape(fmt(c.before))} → {escape(fmt(c.after))}</td><td>{c.size:+.1%}</td>"
            f"<td>{c.confidence:.3f}</td></tr>" for c in found)
        changes_table = (f"<h3>Change points</h3><table><tr><th>kind</th><th>from</th>"
                         f"<th>commits</th><th>median</th><th>size</th><th>confidence</th></tr>"
                         f"{change_rows}</table>" if found else "<p>No change points.</p>")
        runs_rows = "".join(
            f'<tr><td>{p.time:%Y-%m-%d %H:%M}</td><td><a href="'
            f'{escape(_commit_href(p.commit, p.run_id, template, "../"))}">'
            f'{escape((p.commit or "-")[:10])}</a></td><td>{escape(fmt(p.value))}</td>'
            f'<td>{len(p.samples)}</td><td>{escape(fmt(p.baseline)) if p.baseline is not None else "-"}'
            f'</td><td>{escape(p.verdict or "-")}</td></tr>' for p in reversed(s.points))
        sections.append(
            f'<section class="card"><h2>{escape(s.key.hardware_key)} <span class="meta">'
            f'{len(s.points)} runs · {s.direction} is better</span></h2>'
            f'<div class="legend"><span style="color:#1f5fbf">● value (median of the run)</span>'
            f'<span style="color:#8fb3e8">● samples</span><span style="color:#2e7d32">- - '
            f'baseline</span><span style="color:#5f8f55">▮ tolerance band</span>'
            f'<span style="color:#c62828">| change point (regression)</span></div>'
            f'{time_series(points, marks, s.unit)}{changes_table}'
            f'<h3>Runs</h3><table><tr><th>time (UTC)</th><th>commit</th><th>value</th>'
            f'<th>samples</th><th>baseline</th><th>verdict</th></tr>{runs_rows}</table>'
            f'</section>')
    title = f"{bench} · {metric}"
    return _page(title, "".join(sections),
                 f'<a href="../index.html" style="color:#9cc2ff">← all benchmarks</a> · '
                 f'{escape(profile)} · {escape(device)}')
