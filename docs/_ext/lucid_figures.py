"""Sphinx extension: figures drawn from the code while the site is built, with matplotlib.

Directives:

``.. lucid-pyramid-figure:: pvt_medium``
    The stages of a pyramid model for one image at its default size: per
    stage the feature-map size (the shapes ``forward_intermediates`` returns),
    the width, the number of blocks and heads and the spatial-reduction ratio
    (the model's ``config``). The model is built under
    :func:`lucid.nn.meta_init`, so no weight is allocated.
``.. lucid-family-chart:: pvt_v2``
    Parameters against GMACs of a family's variants, as measured for the model
    pages (:func:`lucid.nn.utils.count_macs`), with the ImageNet-1k top-1 of
    each variant whose pretrained cfg publishes one, placed at the layout those
    weights are built with (its ``settings``, e.g. ``attn_proj=True``).
``.. lucid-family-figures:: pvt``
    What each generated family page shows: the pyramid of the family's
    median-sized model (when its models are pyramids) and the family's chart.
``.. lucid-benchmark-chart:: ../../benchmarks/models.json``
    lucid against PyTorch per model, from the results file of
    ``benchmarks/bench_models.py`` (the data of the ``benchmark-table`` beside it).

The extension is loaded by ``lucid_model_pages``, whose family pages show
the figures (``lucid-family-figures``). Each directive collects its figure's
data while the page is read; the HTML writer draws it as an SVG into
``_images`` (named by a hash of the data and of this file, so an unchanged
figure is not drawn again) and writes an ``<img>`` whose alt text states the
data. matplotlib is imported on the first figure
drawn, with its non-interactive Agg backend. Pages with figures are read again
at every build, as the figures come from the code of that build.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import posixpath
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from docutils import nodes
from lucid_benchmarks import WORKLOADS, read_results
from lucid_model_pages import format_count, format_macs, measure, registry_entry
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

# A figure's file name hashes its data together with this file's text: a
# change to the drawing code draws every figure again.
_CODE = Path(__file__).read_bytes()

# ------------------------------------------------------------------ data ---


class NotAPyramid(ValueError):
    """The model has no per-stage settings or no stage maps to draw."""


_STAGE_SETTINGS = ("embed_dims", "depths", "num_heads", "sr_ratios")


def pyramid_data(name: str, fallback_size: int) -> dict[str, Any]:
    """The stages of model ``name`` for one image at its default size."""
    import lucid
    import lucid.models
    from lucid import nn

    with nn.meta_init():
        model = lucid.models.create_model(name).eval()
    config: dict[str, Any] = dict(getattr(model, "config", {}) or {})
    size = int(config.get("img_size", fallback_size))
    channels = int(config.get("in_chans", config.get("in_channels", 3)))
    missing = [f"config[{k!r}]" for k in _STAGE_SETTINGS if not isinstance(config.get(k), list)]
    if not hasattr(model, "forward_intermediates"):
        missing.append("forward_intermediates()")
    if missing:
        raise NotAPyramid(
            f"{name} is not a pyramid model: it has no {', '.join(missing)}; the figure "
            "needs the per-stage settings and timm's stage maps, as the PVT models have"
        )
    with lucid.no_grad():
        maps = model.forward_intermediates(
            lucid.zeros(1, channels, size, size), intermediates_only=True
        )
    stages = []
    for i, feature_map in enumerate(maps):
        rows, columns = feature_map.shape[-2:]
        stages.append(
            {
                "rows": int(rows),
                "columns": int(columns),
                "width": int(config["embed_dims"][i]),
                "blocks": int(config["depths"][i]),
                "heads": int(config["num_heads"][i]),
                "sr_ratio": int(config["sr_ratios"][i]),
            }
        )
    return {
        "model": name,
        "image_size": size,
        "in_channels": channels,
        # PVT v2's linear attention pools keys and values instead of a strided reduction.
        "linear": bool(config.get("linear", False)),
        "stages": stages,
    }


def pyramid_alt(data: Mapping[str, Any]) -> str:
    """The pyramid figure in words, stage by stage."""
    parts = [
        f"Architecture of {data['model']} for one {data['image_size']}x{data['image_size']} "
        f"image with {data['in_channels']} channels, {len(data['stages'])} stages."
    ]
    for i, stage in enumerate(data["stages"], 1):
        parts.append(
            f"Stage {i}: {stage['rows']}x{stage['columns']} feature map, width {stage['width']}, "
            f"{stage['blocks']} blocks, {stage['heads']} heads, {_reduction_text(data, stage)}."
        )
    return " ".join(parts)


def _reduction_text(data: Mapping[str, Any], stage: Mapping[str, Any]) -> str:
    if data["linear"]:
        return "keys and values pooled (linear spatial-reduction attention)"
    ratio = stage["sr_ratio"]
    if ratio == 1:
        return "spatial-reduction ratio 1 (keys and values at full size)"
    return (
        f"spatial-reduction ratio {ratio} (keys and values on "
        f"{stage['rows'] // ratio}x{stage['columns'] // ratio})"
    )


def family_data(family: str, fallback_size: int) -> dict[str, Any]:
    """Parameters, GMACs and published top-1 of the variants of ``family``."""
    import lucid.models

    names = lucid.models.list_models(family=family)
    if not names:
        known = sorted({registry_entry(name).family for name in lucid.models.list_models()})
        raise ValueError(
            f"no registered model is of family {family!r}; the families are: {', '.join(known)}"
        )
    infos = [registry_entry(name) for name in names]
    measured = [(measure(info, {}, fallback_size), info) for info in infos]
    variants = []
    # Smallest first: the legend then reads in the order of the points.
    for default, info in sorted(measured, key=lambda pair: pair[0].params):
        name = info.name
        variant: dict[str, Any] = {
            "name": name,
            "params": default.params,
            "macs": default.macs,
            "weights": None,
        }
        try:
            cfg = lucid.models.get_pretrained_cfg(name)
        except lucid.models.PretrainedWeightsError:
            cfg = {}
        if "top1" in cfg:
            # The accuracy belongs to the layout the weights are built with.
            settings = dict(cfg.get("settings") or {})
            trained = measure(info, settings, fallback_size) if settings else default
            variant["weights"] = {
                "tag": cfg.get("tag"),
                "top1": float(cfg["top1"]),
                "settings": {k: repr(v) for k, v in settings.items()},
                "params": trained.params,
                "macs": trained.macs,
            }
        variants.append(variant)
    return {"family": family, "image_size": default.image_size, "variants": variants}


def family_figures_data(
    family: str, fallback_size: int
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The chart of ``family`` and the pyramid of its median-sized model (None if not a pyramid)."""
    chart = family_data(family, fallback_size)
    median = chart["variants"][len(chart["variants"]) // 2]["name"]
    try:
        return pyramid_data(median, fallback_size), chart
    except NotAPyramid:
        return None, chart


def _settings_text(settings: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items())


def family_alt(data: Mapping[str, Any]) -> str:
    """The family chart in words, model by model."""
    parts = [
        f"Parameters against multiply-accumulates (one {data['image_size']}x{data['image_size']} "
        "image) "
        f"of the {data['family']} models."
    ]
    for v in data["variants"]:
        text = f"{v['name']}: {format_count(v['params'])} parameters, {format_macs(v['macs'])}"
        weights = v["weights"]
        if weights is None:
            text += ", no published top-1"
        elif weights["settings"]:
            text += (
                f"; with {_settings_text(weights['settings'])}, the layout of its published "
                f"weights, {format_count(weights['params'])} parameters, "
                f"{format_macs(weights['macs'])}, {weights['top1']}% top-1"
            )
        else:
            text += f", {weights['top1']}% top-1"
        parts.append(text + ".")
    return " ".join(parts)


def benchmark_data(results: Mapping[str, Any]) -> dict[str, Any]:
    """Per model and workload, lucid's time and peak memory as multiples of PyTorch's."""
    models = []
    for name, entry in (results.get("models") or {}).items():
        ratios = {}
        for task in WORKLOADS:
            row = entry["workloads"].get(task)
            if row:
                ratios[task] = {"time": row["ratio"], "memory": row["memory_ratio"]}
        models.append({"name": name, "workloads": ratios})
    return {"models": models, "repeats": results.get("repeats")}


def benchmark_alt(data: Mapping[str, Any]) -> str:
    """The benchmark chart in words, model by model."""
    parts = ["lucid's time and peak memory as multiples of PyTorch's (1 = as PyTorch)."]
    for model in data["models"]:
        cells = [
            f"{WORKLOADS[task]} time {r['time']:.2f}x, memory {r['memory']:.2f}x"
            for task, r in model["workloads"].items()
        ]
        parts.append(f"{model['name']}: {'; '.join(cells) or 'not run'}.")
    return " ".join(parts)


# --------------------------------------------------------------- drawing ---


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def draw_pyramid(data: Mapping[str, Any]) -> Any:
    """Each stage as a block: height from its feature-map side, depth from its width."""
    plt = _pyplot()
    stages = data["stages"]
    fig, ax = plt.subplots(figsize=(10, 4.6))
    ax.set_axis_off()
    column = 2.3
    tallest = max(s["rows"] for s in stages)
    widest = max(s["width"] for s in stages)
    top = 2.6  # height of the tallest block, in the axes' units
    # The image itself is not drawn to scale: it would dwarf the stages.
    ax.text(
        0.55,
        -0.25,
        f"image\n{data['in_channels']} x {data['image_size']} x {data['image_size']}",
        ha="center",
        va="top",
        fontsize=10,
    )
    previous_side, previous_end = data["image_size"], 0.55
    colors = plt.get_cmap("viridis")
    for i, stage in enumerate(stages):
        depth = 0.25 + 1.1 * stage["width"] / widest
        height = top * stage["rows"] / tallest
        left = 1.2 + i * column + (column - depth) / 2
        ax.add_patch(plt.Rectangle((left, 0), depth, height, color=colors(0.15 + 0.2 * i)))
        ax.annotate(
            "",
            xy=(left - 0.05, 0.3),
            xytext=(previous_end + 0.05, 0.3),
            arrowprops={"arrowstyle": "->", "color": "#52606d"},
        )
        ax.text(
            (left + previous_end) / 2,
            0.4,
            f"/{previous_side // stage['columns']}",
            ha="center",
            va="bottom",
            fontsize=9,
            color="#52606d",
        )
        heads = "head" if stage["heads"] == 1 else "heads"
        reduction = (
            "K/V pooled"
            if data["linear"]
            else f"SR ratio {stage['sr_ratio']}: K/V "
            f"{stage['rows'] // stage['sr_ratio']} x {stage['columns'] // stage['sr_ratio']}"
        )
        ax.text(
            left + depth / 2,
            -0.25,
            f"Stage {i + 1}\n{stage['rows']} x {stage['columns']} tokens\nwidth {stage['width']}\n"
            f"{stage['blocks']} blocks, {stage['heads']} {heads}\n{reduction}",
            ha="center",
            va="top",
            fontsize=10,
        )
        previous_side, previous_end = stage["columns"], left + depth
    ax.set_xlim(0, 1.2 + len(stages) * column)
    ax.set_ylim(-1.9, top + 0.2)
    return fig


def draw_family_chart(data: Mapping[str, Any]) -> Any:
    """Variants at (MACs, parameters), log-log, one colour each; the legend gives top-1."""
    plt = _pyplot()
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
    colors = plt.get_cmap("tab10")
    # The unit of the model pages: MMACs for a family whose models all stay below a GMAC.
    unit, per_unit = "GMACs", 1e9
    if max(v["macs"] for v in data["variants"]) < 1e9:
        unit, per_unit = "MMACs", 1e6
    handles = []
    for i, v in enumerate(data["variants"]):
        color = colors(i % 10)
        default = (v["macs"] / per_unit, v["params"] / 1e6)
        ax.plot(*default, "o", color=color, markersize=7, zorder=3)
        label = v["name"]
        weights = v["weights"]
        if weights:
            trained = (weights["macs"] / per_unit, weights["params"] / 1e6)
            ax.plot(*trained, "*", color=color, markersize=13, zorder=4)
            ax.plot(*zip(default, trained, strict=True), color=color, linewidth=1, zorder=2)
            label += f": {weights['top1']:.1f}% top-1"
            if weights["settings"]:
                label += f" ({_settings_text(weights['settings'])})"
        else:
            label += ": no published top-1"
        handles.append(Line2D([], [], marker="o", color=color, linestyle="", label=label))
    fig.legend(handles=handles, loc="outside right upper", fontsize=10, frameon=False)
    markers = [
        Line2D([], [], marker="o", color="#3e4c59", linestyle="", label="default settings"),
        Line2D(
            [],
            [],
            marker="*",
            markersize=11,
            color="#3e4c59",
            linestyle="",
            label="published weights (their layout)",
        ),
    ]
    ax.legend(handles=markers, loc="lower right", fontsize=9)
    _log_axes(ax)
    ax.set_xlabel(f"{unit}, one {data['image_size']}x{data['image_size']} image (log scale)")
    ax.set_ylabel("parameters, millions (log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.margins(0.12)
    return fig


def _log_axes(ax: Any) -> None:
    """Log scales labelled 1, 2, 5, 10, 20, ... in plain numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_formatter(NullFormatter())


def draw_benchmark_chart(data: Mapping[str, Any]) -> Any:
    """Two panels of grouped bars: time and peak memory, lucid / PyTorch, per model."""
    plt = _pyplot()
    models = data["models"]
    fig, axes = plt.subplots(1, 2, sharey=True, figsize=(10, 1.2 + 0.55 * len(models)))
    bar = 0.8 / len(WORKLOADS)
    for ax, what, title in zip(
        axes,
        ("time", "memory"),
        ("median time, lucid / PyTorch", "peak memory, lucid / PyTorch"),
        strict=True,
    ):
        for j, (task, label) in enumerate(WORKLOADS.items()):
            rows = [
                (i, m["workloads"][task][what])
                for i, m in enumerate(models)
                if task in m["workloads"]
            ]
            ax.barh(
                [i + (j - (len(WORKLOADS) - 1) / 2) * bar for i, _ in rows],
                [value for _, value in rows],
                height=bar,
                label=label,
            )
        ax.axvline(1.0, color="#3e4c59", linestyle="--", linewidth=1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("1 = as PyTorch; less is better")
        ax.grid(True, axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(models)), [m["name"] for m in models])
    axes[0].invert_yaxis()
    fig.tight_layout()
    fig.legend(
        *axes[0].get_legend_handles_labels(),
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=len(WORKLOADS),
        fontsize=9,
        frameon=False,
    )
    return fig


_DRAW: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "pyramid": draw_pyramid,
    "family": draw_family_chart,
    "benchmark": draw_benchmark_chart,
}


def render_svg(kind: str, data: Mapping[str, Any]) -> bytes:
    """The figure ``kind`` of ``data`` as SVG; the same data gives the same bytes."""
    import matplotlib

    fig = _DRAW[kind](data)
    # No date and fixed element ids: an unchanged figure is byte for byte the same.
    with matplotlib.rc_context({"svg.hashsalt": "lucid"}):
        buffer = io.BytesIO()
        fig.savefig(
            buffer,
            format="svg",
            metadata={"Date": None},
            facecolor="white",
            bbox_inches="tight",
            pad_inches=0.15,
        )
    _pyplot().close(fig)
    return buffer.getvalue()


def _write_atomically(path: Path, content: bytes) -> None:
    # Parallel writers may draw the same figure: each renames a complete file.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the figure from a web server
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


# ------------------------------------------------------------ the node ---


class lucid_figure(nodes.General, nodes.Element):  # lower case, as docutils names nodes
    """A figure to draw: its ``kind``, its ``data`` (plain values) and its ``alt`` text."""


def visit_lucid_figure_html(self: Any, node: lucid_figure) -> None:
    """Draw the figure into ``_images`` unless an earlier build did; write its ``<img>``."""
    key = json.dumps([node["kind"], node["data"]], sort_keys=True).encode()
    digest = hashlib.sha256(_CODE + key).hexdigest()[:16]
    filename = f"lucid-{node['kind']}-{digest}.svg"
    path = Path(self.builder.outdir) / self.builder.imagedir / filename
    if not path.exists():
        _write_atomically(path, render_svg(node["kind"], node["data"]))
    source = posixpath.join(self.builder.imgpath, filename)
    self.body.append(
        f'<img src="{html.escape(source)}" alt="{html.escape(node["alt"])}" '
        f'class="lucid-figure lucid-figure-{node["kind"]}" />'
    )
    raise nodes.SkipNode


# ------------------------------------------------------------ directives ---


class _FigureDirective(SphinxDirective):
    """Base of the directives: a figure with its caption, from data gathered now."""

    required_arguments = 1

    def figure(self, kind: str, data: dict[str, Any], alt: str, caption: str) -> list[nodes.Node]:
        # The figures come from this build's code: read the page again next time.
        self.env.note_reread()
        figure = nodes.figure(classes=["lucid-figure"])
        figure += lucid_figure(kind=kind, data=data, alt=alt)
        text, messages = self.state.inline_text(caption, self.lineno)
        figure += nodes.caption(caption, "", *text)
        return [figure, *messages]

    def data(self, collect: Callable[..., Any], *args: Any) -> Any:
        """``collect(*args)``; what it finds wrong becomes an error naming the directive."""
        try:
            return collect(*args)
        except (ValueError, KeyError, TypeError) as error:
            raise self.error(f"{self.name}: {error}") from error

    @property
    def image_size(self) -> int:
        """Image side for models whose builder has no ``img_size`` default."""
        return self.config.lucid_models_default_image_size

    def pyramid(self, data: dict[str, Any]) -> list[nodes.Node]:
        caption = (
            f"The {len(data['stages'])} stages of ``{data['model']}`` for one "
            f"{data['image_size']}x{data['image_size']} image, drawn from the model's "
            "``config`` and the feature maps of ``forward_intermediates``: block height "
            "follows the feature map's side, block depth its width (channels). K/V: the grid "
            "the keys and values are computed on."
        )
        return self.figure("pyramid", data, pyramid_alt(data), caption)

    def chart(self, data: dict[str, Any]) -> list[nodes.Node]:
        caption = (
            f"The ``{data['family']}`` models: parameters and multiply-accumulates, counted by "
            "lucid (:func:`lucid.nn.utils.count_macs`). Where the plugin's pretrained weights "
            "publish an ImageNet-1k top-1 (``pretrained_cfg['top1']``), it is shown at the "
            "layout those weights are built with."
        )
        return self.figure("family", data, family_alt(data), caption)


class PyramidFigure(_FigureDirective):
    """``.. lucid-pyramid-figure:: <model>`` — the stages of a pyramid model."""

    def run(self) -> list[nodes.Node]:
        return self.pyramid(self.data(pyramid_data, self.arguments[0], self.image_size))


class FamilyChart(_FigureDirective):
    """``.. lucid-family-chart:: <family>`` — the variants' parameters against GMACs."""

    def run(self) -> list[nodes.Node]:
        return self.chart(self.data(family_data, self.arguments[0], self.image_size))


class FamilyFigures(_FigureDirective):
    """``.. lucid-family-figures:: <family>`` — what a generated family page shows.

    The pyramid of the family's median-sized model (by parameters), when its
    models are pyramids, and the family's chart.
    """

    def run(self) -> list[nodes.Node]:
        pyramid, chart = self.data(family_figures_data, self.arguments[0], self.image_size)
        return [*(self.pyramid(pyramid) if pyramid else []), *self.chart(chart)]


class BenchmarkChart(_FigureDirective):
    """``.. lucid-benchmark-chart:: <results.json>`` — lucid against PyTorch per model."""

    def run(self) -> list[nodes.Node]:
        data = self.data(benchmark_data, read_results(self))
        if not data["models"]:
            return []  # the benchmark-table beside it says that nothing is recorded
        caption = (
            "lucid against PyTorch per model, from the results above: each workload's "
            f"median time (of {data['repeats']}) and peak resident memory in lucid, divided "
            "by PyTorch's. Left of the dashed line lucid is faster or smaller."
        )
        return self.figure("benchmark", data, benchmark_alt(data), caption)


def setup(app: Sphinx) -> dict[str, Any]:
    # lucid_model_pages loads this extension (its family pages show the figures)
    # and registers lucid_models_default_image_size; list it in conf.py.
    app.setup_extension("lucid_benchmarks")
    app.add_node(lucid_figure, html=(visit_lucid_figure_html, None))
    app.add_directive("lucid-pyramid-figure", PyramidFigure)
    app.add_directive("lucid-family-chart", FamilyChart)
    app.add_directive("lucid-family-figures", FamilyFigures)
    app.add_directive("lucid-benchmark-chart", BenchmarkChart)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
