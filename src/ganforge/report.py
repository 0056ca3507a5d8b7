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

import base64
import html
import io
import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganforge.outputs import atomic_file, write_owned

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
            import torch

            state = torch.load(latest, map_location="cpu", weights_only=False, mmap=True)
            return str(state.get("spec", {}).get("kind", "default"))
        except Exception:  # a damaged checkpoint still gets a report of its files
            pass
    return "table" if (run_dir / "transformer.json").is_file() else "default"


# ---- pictures -------------------------------------------------------------------------------------------------------

def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _fig_png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    plt.close(fig)
    return buf.getvalue()


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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


def table_distributions(real: Any, synth: Any, max_columns: int = 12) -> bytes:
    """Real vs synthetic distribution per column: overlaid histograms (numeric) or category shares (discrete)."""
    import pandas as pd

    plt = _pyplot()
    columns = [c for c in real.columns if c in synth.columns][:max_columns]
    cols = min(4, len(columns))
    rows = math.ceil(len(columns) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, col in zip(axes.flat, columns, strict=False):
        r, s = real[col].dropna(), synth[col].dropna()
        numeric = pd.api.types.is_numeric_dtype(r) and not pd.api.types.is_bool_dtype(r) and r.nunique() > 10
        if numeric:
            lo, hi = float(min(r.min(), s.min() if len(s) else r.min())), float(max(r.max(), s.max() if len(s)
                                                                                      else r.max()))
            bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
            ax.hist(r, bins=bins, density=True, alpha=0.5, label="real")
            ax.hist(s, bins=bins, density=True, alpha=0.5, label="synthetic")
        else:
            cats = list(r.astype(str).value_counts().index[:15])
            pr = r.astype(str).value_counts(normalize=True).reindex(cats, fill_value=0)
            ps = s.astype(str).value_counts(normalize=True).reindex(cats, fill_value=0)
            x = np.arange(len(cats))
            ax.bar(x - 0.2, pr.to_numpy(), 0.4, label="real")
            ax.bar(x + 0.2, ps.to_numpy(), 0.4, label="synthetic")
            ax.set_xticks(x, [c[:8] for c in cats], rotation=60, fontsize=6)
        ax.set_title(str(col), fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(columns):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    return _fig_png(fig)


def field_maps(real: np.ndarray, fake: np.ndarray, unit: str) -> bytes:
    """Per-cell mean and standard deviation of channel 0, real vs generated ``[N, C, H, W]`` (physical units)."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(7, 5.5), squeeze=False)
    for i, (name, f) in enumerate((("mean", np.nanmean), ("std", np.nanstd))):
        with warnings.catch_warnings():  # masked cells (NaN in every real field: land, missing data) stay blank
            warnings.simplefilter("ignore", RuntimeWarning)
            a, b = f(real[:, 0], axis=0), f(fake[:, 0], axis=0)
        lo, hi = np.nanmin([np.nanmin(a), np.nanmin(b)]), np.nanmax([np.nanmax(a), np.nanmax(b)])
        for j, (label, m) in enumerate((("real", a), ("generated", b))):
            im = axes[i, j].imshow(m, origin="lower", vmin=lo, vmax=hi, cmap="viridis")
            axes[i, j].set_title(f"{label} {name} ({unit})", fontsize=8)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
        fig.colorbar(im, ax=axes[i].tolist(), shrink=0.8)
    return _fig_png(fig)


# ---- HTML -----------------------------------------------------------------------------------------------------------

def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk (bytes 16-24, big-endian); (0, 0) if ``png`` is not a PNG."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
        return 0, 0
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _img(png: bytes, caption: str, alt: str | None = None, enlarge_to: int = 240) -> str:
    w, _ = png_size(png)
    # small grids (16-px translation samples, 28-px digits) are shown enlarged by a whole factor, pixels kept sharp
    style = f' style="width:{w * max(1, enlarge_to // w)}px"' if 0 < w < enlarge_to else ""
    return (f'<figure><img src="{data_uri(png)}"{style} alt="{html.escape(alt or caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _metrics_table(metrics: dict[str, Any], run_name: str) -> str:
    if not metrics:
        return "<p>No final evaluation (the run was interrupted, or its data kind has none).</p>"
    rows = "".join(f'<tr><td>{html.escape(k)}</td><td class="num" data-metric="{html.escape(k)}">{html.escape(fmt(v))}'
                   "</td></tr>" for k, v in metrics.items())
    return (f'<table class="metrics" data-run="{html.escape(run_name)}"><tr><th>metric</th><th>value</th></tr>'
            f"{rows}</table>")


def _kind_section(run_dir: Path, kind: str) -> str:
    """The data kind's own comparison, computed from the run when it needs more than its files (tables, fields)."""
    try:
        if kind == "table":
            final = run_dir / "samples" / "final.csv"
            if not final.is_file():
                return ""
            import pandas as pd

            from ganforge import api
            from ganforge.options import build_options
            from ganforge.registry import DATASETS

            # the raw table (all rows, before the split): building the dataset would refit the encoder (seconds)
            cfg = api.resolve(run_dir / "config.yaml")
            real = build_options(DATASETS.get(cfg.data.name), cfg.data.options, "data.options").table()[0]
            png = table_distributions(real, pd.read_csv(final))
            return "<h3>Real vs synthetic columns (the table vs samples/final.csv)</h3>" + _img(
                png, "column distributions: real (blue) vs synthetic (orange)")
        if kind == "field":
            from ganforge import api

            model = api.load(run_dir)
            data = model.data
            out = model.sample(len(data), seed=model.config.train.seed + 7)
            real = np.where(data.mask.numpy() > 0, data.raw, np.nan)
            unit = data.units[0] if data.units else ""
            return "<h3>Mean and standard deviation maps</h3>" + _img(
                field_maps(real, out["fields"], unit), "per-cell mean and std, real vs generated")
        if kind in ("paired", "unpaired"):
            return translation_table(run_dir)
    except Exception as exc:  # the rest of the report is still worth writing
        return f"<p>(data-kind section skipped: {html.escape(type(exc).__name__)}: {html.escape(str(exc)[:200])})</p>"
    return ""


def _image_png(img: Any) -> bytes:
    """uint8 ``[C, H, W]`` (C = 1 or 3) as PNG bytes."""
    from PIL import Image

    a = np.asarray(img).transpose(1, 2, 0)
    buf = io.BytesIO()
    Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a).save(buf, format="PNG")
    return buf.getvalue()


def translation_table(run_dir: Path, n: int = 4) -> str:
    """The first ``n`` held-out inputs through the final networks, one row each, one column per image the family
    shows (input | output | target for paired models, A | A→B | A→B→A | B | ... for two-way ones), with headers."""
    import torch

    from ganforge import api
    from ganforge.kinds.translation import translate_uint8

    model = api.load(run_dir)
    data = model.data
    k = min(n, len(data.test_a), len(data.test_b))
    with torch.no_grad():
        if data.paired:
            _, columns = translate_uint8(model.sampler, data.test_a[:k], model.device)
            columns = [*columns, ("target", data.test_b[:k])]
        else:
            _, forward = translate_uint8(model.sampler, data.test_a[:k], model.device, "AB")
            _, backward = translate_uint8(model.sampler, data.test_b[:k], model.device, "BA")
            columns = [*forward, *backward]
    header = "".join(f"<th>{html.escape(str(name))}</th>" for name, _ in columns)
    rows = "".join("<tr>" + "".join(f"<td>{_img(_image_png(images[i].cpu()), f'{name} {i}', enlarge_to=96)}</td>"
                                    for name, images in columns) + "</tr>" for i in range(k))
    return (f"<h3>Translations of held-out inputs (final networks)</h3><table class=\"translation\"><tr>{header}</tr>"
            f"{rows}</table>")


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
