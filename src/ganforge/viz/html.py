"""HTML pieces of ``ganforge report`` shared by the report and the data kinds' sections: PNG bytes of a matplotlib
figure or a uint8 image, their size, and a ``<figure>`` with the PNG inlined as a data URI (one self-contained file).
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def fig_png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    plt.close(fig)
    return buf.getvalue()


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk (bytes 16-24, big-endian); (0, 0) if ``png`` is not a PNG."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
        return 0, 0
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def figure(png: bytes, caption: str, alt: str | None = None, enlarge_to: int = 240) -> str:
    """A ``<figure>`` with ``png`` inlined (data URI) and its caption, both HTML-escaped."""
    w, _ = png_size(png)
    # small grids (16-px translation samples, 28-px digits) are shown enlarged by a whole factor, pixels kept sharp
    style = f' style="width:{w * max(1, enlarge_to // w)}px"' if 0 < w < enlarge_to else ""
    return (f'<figure><img src="{data_uri(png)}"{style} alt="{html.escape(alt or caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def image_png(img: Any) -> bytes:
    """uint8 ``[C, H, W]`` (C = 1 or 3) as PNG bytes."""
    from PIL import Image

    a = np.asarray(img).transpose(1, 2, 0)
    buf = io.BytesIO()
    Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a).save(buf, format="PNG")
    return buf.getvalue()
