"""The report's HTML building blocks: escaping, tables, embedded figures, failure-safe parts.

Every value put in the page passes through :func:`escape`; a figure or table that fails to
build becomes an error paragraph and a ``RuntimeWarning`` instead of losing the report.
"""

from __future__ import annotations

import base64
import html
import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bayesspr.errors import ReportError

#: Resolution of the embedded figures (dots per inch).
DPI = 80
#: The first bytes of every PNG file.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def escape(value: Any) -> str:
    """Text made safe for HTML (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def note(text: str) -> str:
    """A note paragraph holding ``text``, escaped."""
    return f'<p class="note">{escape(text)}</p>'


def seconds(value: Any) -> str:
    """Seconds as text (``'12 s'``), or a dash when not a number."""
    try:
        return f"{float(value):.0f} s"
    except (TypeError, ValueError):
        return "–"


def html_table(df: pd.DataFrame, *, header: bool = True, status_col: str | None = None) -> str:
    """An HTML table of ``df`` with every cell escaped; numbers right-aligned."""
    lines = ["<table>"]
    if header:
        lines.append("<tr>" + "".join(f"<th>{escape(c)}</th>" for c in df.columns) + "</tr>")
    for values in df.itertuples(index=False):
        cells = []
        for column, value in zip(df.columns, values, strict=True):
            if column == status_col:
                css = "NA" if value == "N/A" else str(value)
                cells.append(f'<td class="{escape(css)}">{escape(value)}</td>')
            elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
                cells.append(f'<td class="num">{escape(value)}</td>')
            else:
                cells.append(f"<td>{escape(value)}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def embed_png(png: bytes, alt: str, caption: str) -> str:
    """A figure element embedding PNG bytes, with alt text and an optional caption."""
    src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{src}" alt="{escape(alt)}">{cap}</figure>'


def fig_png(fig: Figure) -> bytes:
    """PNG bytes of a matplotlib figure at the report's resolution."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def plot(make: Callable[[], Figure], alt: str, caption: str) -> str:
    """Build one of the report's figures, embed it as PNG, close every figure it opened.

    Figures without a layout engine of their own are laid out with ``tight_layout`` so
    labels, ticks and titles of neighbouring panels do not overlap. A plot that fails is
    reported in the page (and as a ``RuntimeWarning``) instead of aborting the whole report.
    """
    before = set(plt.get_fignums())
    try:
        fig = make()
        if fig.get_layout_engine() is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "not compatible with tight_layout"
                fig.tight_layout()
        return embed_png(fig_png(fig), alt, caption)
    except Exception as exc:  # one failed plot must not lose the report
        warnings.warn(f"report: {alt} could not be drawn: {exc!r}", RuntimeWarning, stacklevel=2)
        return f'<p class="error">{escape(alt)} could not be drawn: {escape(repr(exc))}</p>'
    finally:
        for num in set(plt.get_fignums()) - before:
            plt.close(num)


def attempt(make: Callable[[], str]) -> str:
    """The HTML ``make`` returns, or an error paragraph (and a warning) if it fails."""
    try:
        return make()
    except Exception as exc:  # one failed table must not lose the report
        warnings.warn(f"report: a table could not be made: {exc!r}", RuntimeWarning, stacklevel=2)
        return f'<p class="error">could not be computed: {escape(repr(exc))}</p>'


def png_of(name: Any, figure: Figure | str | os.PathLike[str]) -> bytes:
    """PNG bytes of an attached chart: a matplotlib figure (rendered) or a PNG file (read)."""
    if isinstance(figure, Figure):
        return fig_png(figure)
    if isinstance(figure, (str, os.PathLike)):
        path = Path(figure)
        if not path.is_file():
            raise FileNotFoundError(f"extra figure {name!r}: no file at {path}")
        png = path.read_bytes()
        if not png.startswith(PNG_SIGNATURE):
            raise ReportError(
                f"extra figure {name!r}: {path} is not a PNG file (expected a file "
                "starting with the PNG signature)"
            )
        return png
    raise ReportError(
        f"extra figure {name!r} is a {type(figure).__name__}; expected a "
        "matplotlib Figure or the path of a PNG file"
    )
