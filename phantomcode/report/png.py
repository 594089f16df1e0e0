"""The report as a PNG heat map (matplotlib, no display needed), hanzi drawn with a CJK font."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from ..errors import UsageError
from ..sanitise import plot_text
from .model import Report

_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "Arial Unicode MS",
)
_CJK_FILES = ("notosanscjk", "notoserifcjk", "notosanssc", "sourcehan", "wqy-", "simhei", "msyh", "pingfang")


def write_png(report: Report, handle: IO[bytes]) -> list[str]:
    """A heatmap of the report's matrix with the count in every cell (matplotlib, no display needed).

    In a documents matrix a cell shows "documents/N" and its colour is the share's 95% lower
    bound (Wilson): 1 of 1 is pale, 9 of 9 dark, though both are 100%. Every text (labels, title)
    is drawn with an installed CJK font when it holds hanzi. Returns the warnings to show once
    (no CJK font installed), instead of matplotlib's one per missing glyph.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels, values = report.matrix()
    if not labels:
        raise UsageError("nothing to draw: no documents match the filters")
    counts = np.array(values, dtype=float)
    groups = report.groups()
    by_share = report.kind == "matrix" and report.measure == "documents"
    if by_share:
        colours = np.array(
            [[_share_floor(int(k), n) for k, (_, n) in zip(row, groups, strict=False)] for row in values]
        )
        scale, vmax = "share of the group's documents (95% lower bound: small groups paler)", 1.0
    else:
        colours, scale, vmax = counts, report.measure, max(float(counts.max()), 1.0)
    xlabels = (
        [f"{plot_text(label)}\nN = {n}" for label, (_, n) in zip(labels, groups, strict=False)]
        if report.kind == "matrix"
        else [plot_text(label) for label in labels]
    )
    ylabels = [plot_text(f"{report.label(code)} ({code})") for code in report.codes]
    title = (
        "Co-occurrence in " + report.measure
        if report.kind == "cooccurrence"
        else f"{report.measure.capitalize()} by {' x '.join(report.by) or 'project'}"
    )
    title = plot_text(f"{title} ({report.documents} documents; {report.codebook.name} {report.codebook.version})")
    rotate = any(len(str(label)) > 10 for label in labels) or len(xlabels) > 8
    figure = Figure(
        figsize=(max(6.0, 0.9 * len(xlabels) + 4.5), max(3.0, 0.42 * len(ylabels) + 2.2)), dpi=150, layout="constrained"
    )
    FigureCanvasAgg(figure)
    font, warnings_ = _cjk_font([*xlabels, *ylabels, title])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from")  # said once, in warnings_
        _draw_heatmap(
            figure,
            counts,
            colours,
            vmax,
            scale,
            xlabels,
            ylabels,
            title,
            font,
            rotate,
            [n for _, n in groups] if by_share else None,
        )
        figure.savefig(handle, format="png")
    return warnings_


def _share_floor(documents: int, n: int) -> float:
    """The lower end of the share's 95% Wilson interval: what a group of ``n`` documents shows
    for sure (1 of 1: 0.21; 9 of 9: 0.70)."""
    from ..review import wilson_interval

    low, _ = wilson_interval(documents, n)
    return low or 0.0


def _draw_heatmap(
    figure: Any,
    counts: Any,
    colours: Any,
    vmax: float,
    scale: str,
    xlabels: list[str],
    ylabels: list[str],
    title: str,
    font: list[str],
    rotate: bool,
    sizes: list[int] | None,
) -> None:
    axes = figure.add_subplot()
    image = axes.imshow(colours, cmap="Blues", vmin=0, vmax=vmax, aspect="auto")
    axes.set_xticks(
        range(len(xlabels)),
        xlabels,
        rotation=45 if rotate else 0,
        ha="right" if rotate else "center",
        fontsize=8,
        fontfamily=font,
    )
    axes.set_yticks(range(len(ylabels)), ylabels, fontsize=8, fontfamily=font)
    axes.tick_params(length=0)
    for (row, column), value in _cells(counts):
        dark = colours[row, column] / vmax > 0.55
        text = f"{int(value)}/{sizes[column]}" if sizes is not None else f"{int(value)}"
        axes.text(
            column,
            row,
            text,
            ha="center",
            va="center",
            fontsize=7 if sizes is not None else 8,
            color="white" if dark else "#1b1b1b",
        )
    axes.set_title(title, fontsize=9, fontfamily=font)
    figure.colorbar(image, ax=axes, shrink=0.8).set_label(scale, fontsize=8)


def _cells(values: Any) -> Iterator[tuple[tuple[int, int], float]]:
    for row in range(values.shape[0]):
        for column in range(values.shape[1]):
            yield (row, column), values[row, column]


def _installed_cjk_fonts() -> list[str]:
    """The CJK families of ``_CJK_FONTS`` matplotlib can use. Its font list is cached from when it
    first ran, so a font installed since (or a .ttc collection it skipped) is looked for on disk
    and added."""
    from matplotlib import font_manager

    def known() -> list[str]:
        installed = {font.name for font in font_manager.fontManager.ttflist}
        return [name for name in _CJK_FONTS if name in installed]

    if known():
        return known()
    for path in font_manager.findSystemFonts():
        if any(part in Path(path).name.lower() for part in _CJK_FILES):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue  # a font file matplotlib cannot read: try the next
    return known()


def _cjk_font(texts: Sequence[str]) -> tuple[list[str], list[str]]:
    """(font families, warnings): the installed CJK fonts first when a text holds hanzi; a warning
    when it does and none of them is installed."""
    if not any("\u3400" <= ch <= "\u9fff" for text in texts for ch in text):
        return ["sans-serif"], []
    found = _installed_cjk_fonts()
    if not found:
        return ["sans-serif"], [
            "the heat map has hanzi but no CJK font is installed (looked for "
            f"{', '.join(_CJK_FONTS)}), so they show as boxes; install one, e.g. "
            "fonts-noto-cjk or fonts-wqy-zenhei"
        ]
    return [*found, "sans-serif"], []
