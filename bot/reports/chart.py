"""The report's chart, a PNG: first-response times per segment against each segment's target
(left), and mentions per segment over the window (right). matplotlib's Agg backend: no display."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")  # before pyplot: never look for a display (servers, CI, the demo)

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bot.reports.figures import Report
from bot.reports.rendering import heading

WIDTH_PX, HEIGHT_PX, DPI = 1200, 560, 100
_TARGET_COLOUR, _GRID = "#c0392b", "#dddddd"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def render_png(report: Report) -> bytes:
    """The chart as PNG bytes, WIDTH_PX by HEIGHT_PX."""
    figure = _figure(report)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    plt.close(figure)
    return out.getvalue()


def _figure(report: Report) -> Figure:
    figure, (times, volume) = plt.subplots(
        1,
        2,
        figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI),
        gridspec_kw={"width_ratios": [1, 1.3]},
        layout="constrained",
    )
    figure.suptitle(heading(report), fontsize=13)
    # Only segments that had mentions: six empty rows say nothing.
    names = [n for n, f in report.segments.items() if f.mentions] or list(report.segments)[:1]
    _response_times(times, report, names)
    _volume(volume, report, names)
    return figure


def _response_times(ax: plt.Axes, report: Report, names: list[str]) -> None:
    rows = list(reversed(names))  # first segment on top
    # a log scale has no 0: a reply within the second is drawn at one second
    data = [
        [max(s, 1) / 60 for s in report.response_times.get(n, [])] or [float("nan")] for n in rows
    ]
    ax.boxplot(
        data,
        orientation="horizontal",
        tick_labels=[n.replace("_", " ") for n in rows],
        showfliers=True,
        widths=0.5,
        flierprops={"markersize": 3, "alpha": 0.5},
        medianprops={"color": "#1f4e79", "linewidth": 2},
    )
    for y, name in enumerate(rows, start=1):
        figures = report.segments[name]
        if figures.target_seconds is not None:
            ax.plot(
                [figures.target_seconds / 60] * 2,
                [y - 0.35, y + 0.35],
                color=_TARGET_COLOUR,
                linewidth=2.5,
            )
        share = figures.within_target_share
        count = figures.first_response.count
        label = f"{count} {'reply' if count == 1 else 'replies'}"
        if share is not None:
            label += f", {share:.0%} in target"
        ax.annotate(
            label,
            (1, y),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 10),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color="#555555",
        )
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.set_xlabel("first response, minutes (log scale); red: the segment's target")
    ax.set_title("Response time against target", fontsize=11)
    ax.grid(axis="x", color=_GRID)


def _volume(ax: plt.Axes, report: Report, names: list[str]) -> None:
    tz = report.window.local(report.window.start).tzinfo
    # matplotlib's date axis counts days since its epoch (1970-01-01 UTC)
    edges = [(e - _EPOCH).total_seconds() / 86400 for e in report.volume_edges]
    starts, widths = edges[:-1], [b - a for a, b in itertools.pairwise(edges)]
    bottom = [0] * len(starts)
    for name in names:
        counts = report.volume.get(name, [0] * len(starts))
        ax.bar(
            starts,
            counts,
            width=[w * 0.9 for w in widths],
            bottom=bottom,
            align="edge",
            label=name.replace("_", " "),
        )
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.xaxis_date(tz)
    ax.set_title("Mentions per segment", fontsize=11, pad=44)
    ax.set_ylabel("mentions")
    ax.set_xlabel(f"time ({report.window.time_zone})")
    ax.grid(axis="y", color=_GRID)
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.06), ncols=3, frameon=False)
    figure = ax.get_figure()
    if figure is not None:
        figure.autofmt_xdate()
