"""``report.html``: one self-contained page per run (or several runs side by side) to see a run at a glance.

Written at the end of training (``training.run.Run``) and by ``ganforge report RUN [RUN ...]``. The page holds, per
run: the final metrics with their protocol (``eval/final.json``), every scalar of ``metrics.jsonl`` as plots (one
figure per prefix: ``loss/``, ``eval/``, ``lr/``, ``time/``, ...), the sample grids over time (``samples/step-*.png``,
``final.png``), the data kind's own pictures (``plots/*.png``: 2-D scatter, 1-D histograms, detection plot, storm
maps; translation grids with their column headers), for tables the real vs synthetic column distributions, and the
resolved config. Several runs: a table of their final metrics, then one column per run.

Self-contained and offline: every picture is a PNG embedded as a ``data:image/png;base64`` URI, the style is inline
CSS, there is no script and no link to anything, so the file opens from ``file://`` anywhere and can be mailed.
Written through ``ganforge.outputs`` (atomically; ``--out`` never replaces a file ganforge did not write).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganforge.outputs import atomic_file, write_owned
from ganforge.viz.html import fig_png as _fig_png
from ganforge.viz.html import figure as _img
from ganforge.viz.html import pyplot as _pyplot

REPORT_NAME = "report.html"
MAX_FRAMES = 8  # sample grids over time: at most this many, evenly spaced, plus final
MAX_PLOTS = 12  # plots/*.png per run (the kind's pictures over time), evenly spaced, finals always kept
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em}h3{font-size:1em}
.runs{display:grid;gap:1.5em;align-items:start}
.run{min-width:0}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:.8em;max-height:30em}
figure{display:inline-block;margin:.3em;vertical-align:top}figcaption{font-size:.75em;color:#555;text-align:center}
img{max-width:100%;image-rendering:pixelated;border:1px solid #eee}
details{margin:.5em 0}
"""


# ---- reading a run directory ----------------------------------------------------------------------------------------

def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_scalars(run_dir: Path) -> dict[str, tuple[list[int], list[float]]]:
    """``{name: (steps, values)}`` for every finite numeric scalar of ``metrics.jsonl`` (config changes and other
    non-numbers skipped), in file order."""
    from ganforge.training.stats import read_metrics

    out: dict[str, tuple[list[int], list[float]]] = {}
    for record in read_metrics(run_dir / "metrics.jsonl"):
        step = record.get("step")
        if not isinstance(step, (int, float)):
            continue
        for key, value in record.items():
            if key == "step" or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if math.isfinite(value):
                steps, values = out.setdefault(key, ([], []))
                steps.append(int(step))
                values.append(float(value))
    return out


def flat_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested metric dicts flattened to ``a/b`` keys (numbers and short strings kept)."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_metrics(value, name + "/"))
        elif value is None or (isinstance(value, (int, float, str)) and not isinstance(value, bool)):
            out[name] = value
    return out


def fmt(value: Any) -> str:
    """A metric as the report prints it: numbers with 6 significant digits (``{:.6g}``), text as is."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float)):
        return f"{value:.6g}"
    return str(value)


def _spaced(items: list[Path], k: int) -> list[Path]:
    if len(items) <= k:
        return items
    idx = np.unique(np.linspace(0, len(items) - 1, k).round().astype(int))
    return [items[i] for i in idx]


def _kind(run_dir: Path) -> str:
    """The data kind saved in the checkpoint's spec; guessed from the files when there is no checkpoint."""
    latest = run_dir / "checkpoints" / "latest.pt"
    if latest.is_file():
        try:
            from ganforge.checkpoint import Checkpoint

            return Checkpoint.load(latest).kind
        except Exception:  # a damaged checkpoint still gets a report of its files
            pass
    return "table" if (run_dir / "transformer.json").is_file() else "default"


# ---- pictures -------------------------------------------------------------------------------------------------------

def scalar_plots(scalars: dict[str, tuple[list[int], list[float]]]) -> list[tuple[str, bytes]]:
    """One PNG per prefix (``loss``, ``eval``, ``lr``, ...): a small panel per scalar, value against step."""
    groups: dict[str, list[str]] = {}
    for name in scalars:
        groups.setdefault(name.split("/")[0] if "/" in name else "other", []).append(name)
    plt = _pyplot()
    out = []
    for group, names in groups.items():
        cols = min(4, len(names))
        rows = math.ceil(len(names) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.2 * rows), squeeze=False)
        for ax, name in zip(axes.flat, names, strict=False):
            steps, values = scalars[name]
            ax.plot(steps, values, lw=1, marker="." if len(steps) < 20 else None)
            ax.set_title(name, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.locator_params(nbins=4)
        for ax in list(axes.flat)[len(names):]:
            ax.axis("off")
        # fixed margins, not tight_layout: it measures every tick label and was ~40 % of the report's time
        fig.subplots_adjust(left=0.12 / cols * 2, right=0.98, bottom=0.3 / rows, top=1 - 0.25 / rows,
                            wspace=0.45, hspace=0.6)
        out.append((group, _fig_png(fig)))
    return out


# ---- HTML -----------------------------------------------------------------------------------------------------------

def _metrics_table(metrics: dict[str, Any], run_name: str) -> str:
    if not metrics:
        return "<p>No final evaluation (the run was interrupted, or its data kind has none).</p>"
    rows = "".join(f'<tr><td>{html.escape(k)}</td><td class="num" data-metric="{html.escape(k)}">{html.escape(fmt(v))}'
                   "</td></tr>" for k, v in metrics.items())
    return (f'<table class="metrics" data-run="{html.escape(run_name)}"><tr><th>metric</th><th>value</th></tr>'
            f"{rows}</table>")


def _kind_section(run_dir: Path, kind: str) -> str:
    """The data kind's own section (``DataKind.report_section``: tables, fields, translation pairs), which may load the
    run (``ganforge.api``); a failure there skips the section, not the report."""
    try:
        from ganforge import api
        from ganforge.kinds import hooks_for

        return hooks_for(kind).report_section(run_dir, api)
    except Exception as exc:  # the rest of the report is still worth writing
        return f"<p>(data-kind section skipped: {html.escape(type(exc).__name__)}: {html.escape(str(exc)[:200])})</p>"


def run_section(run_dir: Path) -> tuple[str, dict[str, Any]]:
    """(HTML of one run's column, its flattened final metrics)."""
    run_dir = Path(run_dir)
    record = _read_json(run_dir / "eval" / "final.json")
    metrics = flat_metrics(record.get("metrics", {}))
    name = run_dir.name
    kind = _kind(run_dir)
    parts = [f"<h2>{html.escape(name)}</h2>",
             f"<p>run directory <code>{html.escape(str(run_dir))}</code> · data kind <b>{html.escape(kind)}</b></p>",
             "<h3>Final metrics</h3>", _metrics_table(metrics, name)]
    if record.get("protocol"):
        parts.append("<details><summary>protocol</summary><pre>"
                     f"{html.escape(json.dumps(record['protocol'], indent=2))}</pre></details>")
    samples = run_dir / "samples"
    frames = sorted(samples.glob("step-*.png")) if samples.is_dir() else []
    final = samples / "final.png"
    if frames or final.is_file():
        parts.append("<h3>Samples over time</h3>")
        parts += [_img(p.read_bytes(), p.stem) for p in _spaced(frames, MAX_FRAMES)]
        if final.is_file():
            parts.append(_img(final.read_bytes(), "final"))
    plots = sorted(p for p in (run_dir / "plots").glob("*.png") if p.name != "losses.png") \
        if (run_dir / "plots").is_dir() else []
    if plots:
        finals = [p for p in plots if "final" in p.stem or p.stem == "detection"]
        others = _spaced([p for p in plots if p not in finals], MAX_PLOTS)
        parts.append(f"<h3>{html.escape(kind)} plots</h3>")
        parts += [_img(p.read_bytes(), p.stem) for p in others + finals]
    parts.append(_kind_section(run_dir, kind))
    scalars = read_scalars(run_dir)
    if scalars:
        parts.append("<h3>Logged scalars (metrics.jsonl)</h3>")
        parts += [_img(png, f"{group}/*") for group, png in scalar_plots(scalars)]
    config = run_dir / "config.yaml"
    if config.is_file():
        parts.append(f"<details open><summary>config.yaml</summary><pre>{html.escape(config.read_text())}</pre>"
                     "</details>")
    return f'<section class="run">{"".join(parts)}</section>', metrics


def render(run_dirs: Sequence[Path], title: str | None = None) -> str:
    """The whole page for ``run_dirs`` (one run, or several side by side with a comparison table first)."""
    import ganforge

    sections = [run_section(Path(r)) for r in run_dirs]
    names = [Path(r).name for r in run_dirs]
    title = title or ("ganforge report: " + ", ".join(names))
    head = f"<h1>{html.escape(title)}</h1><p>written by ganforge {ganforge.__version__}</p>"
    if len(sections) > 1:
        keys = list(dict.fromkeys(k for _, m in sections for k in m))
        header = "".join(f"<th>{html.escape(n)}</th>" for n in names)
        rows = "".join(f"<tr><td>{html.escape(k)}</td>" + "".join(
            f'<td class="num">{html.escape(fmt(m[k])) if k in m else ""}</td>' for _, m in sections) + "</tr>"
            for k in keys)
        head += (f'<h2>Final metrics side by side</h2><table class="compare"><tr><th>metric</th>{header}</tr>'
                 f"{rows}</table>")
    cols = f"grid-template-columns:repeat({len(sections)},minmax(0,1fr))"
    body = f'<div class="runs" style="{cols}">{"".join(s for s, _ in sections)}</div>'
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body>{head}{body}</body></html>\n")


def write_run_report(run_dir: Path) -> Path:
    """``RUN/report.html`` (end of training): the page of this one run, written atomically."""
    path = Path(run_dir) / REPORT_NAME
    with atomic_file(path, "--run-dir") as tmp:
        tmp.write_text(render([Path(run_dir)]), encoding="utf-8")
    return path


def write_report(run_dirs: Sequence[Path], out: Path | None = None) -> Path:
    """``ganforge report``: one run -> ``RUN/report.html`` by default; several -> ``--out`` (default
    ``./report.html``). A user-named ``out`` that ganforge did not write is refused (``outputs.write_owned``)."""
    if out is None and len(run_dirs) == 1:
        return write_run_report(Path(run_dirs[0]))
    out = Path(out) if out is not None else Path(REPORT_NAME)
    text = render([Path(r) for r in run_dirs])
    with write_owned(out, "--out") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return out
