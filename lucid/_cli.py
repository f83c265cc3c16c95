"""The ``lucid`` command line: models, weights and plugins; classify, train and validate."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from typing import Any, TextIO

# Only the standard library at import time: the registry (and NumPy with it)
# is imported by the command that needs it, so `lucid --help` answers at once.

_LIST_FIELDS = ("name", "family", "plugin", "distribution", "version", "module", "summary")


# ---------------------------------------------------------------- output ---


def _table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        out.write("  ".join(cells).rstrip() + "\n")


def _json(data: Any, out: TextIO) -> None:
    json.dump(data, out, indent=2)
    out.write("\n")


def _provider(distribution: str | None, version: str | None) -> str:
    if distribution is None:
        return "-"
    return f"{distribution} {version}" if version else distribution


def _show_warning(
    message: Warning | str, category: type[Warning], *args: object, **kw: object
) -> None:
    print(f"lucid: warning: {message}", file=sys.stderr)


# -------------------------------------------------------------- commands ---


def _models_list(args: argparse.Namespace, out: TextIO) -> int:
    from lucid import models

    if args.pretrained:
        return _weights_list(args, out)
    names = models.list_models(args.pattern, family=args.family, plugin=args.plugin)
    # Listing needs no parameter counts: nothing is built.
    infos = [models.model_info(name, count_params=False).to_dict() for name in names]
    if args.json:
        _json([{field: info[field] for field in _LIST_FIELDS} for info in infos], out)
        return 0
    if not infos:
        print("lucid: no registered model matches", file=sys.stderr)
        return 0
    rows = [("NAME", "FAMILY", "PLUGIN", "DISTRIBUTION")]
    rows += [
        (i["name"], i["family"], i["plugin"] or "-", _provider(i["distribution"], i["version"]))
        for i in infos
    ]
    _table(rows, out)
    return 0


def _weights_list(args: argparse.Namespace, out: TextIO) -> int:
    from lucid import models
    from lucid.models._pretrained import describe_weights, weights_row

    names = models.list_models(
        args.pattern, family=args.family, plugin=args.plugin, pretrained=True
    )
    entries = describe_weights(names)
    if args.json:
        _json(entries, out)
    elif not entries:
        print("lucid: no pretrained weights match", file=sys.stderr)
    else:
        _table([("NAME", "TOP-1", "TOP-5", "LICENSE", "SOURCE"), *map(weights_row, entries)], out)
    return 0


def _models_info(args: argparse.Namespace, out: TextIO) -> int:
    from lucid import models
    from lucid.models._pretrained import split_tag

    # "pvt_v2_b0.in1k" describes the model of those weights.
    args.name = split_tag(args.name)[0]
    meta = models.model_info(args.name, count_params=False)  # even if building fails
    error = None
    try:
        # Counted on a shape-only build (lucid.nn.meta_init): no weight is allocated.
        meta = models.model_info(args.name)
        params = f"{meta.num_params:,}"
    except Exception as exc:  # a builder that cannot run with its defaults
        error = f"building with the defaults failed ({type(exc).__name__}: {exc})"
        params = f"unavailable: {error}"
        print(f"lucid: error: {args.name}: {params}", file=sys.stderr)
    status = 0 if error is None else 1
    info = meta.to_dict()
    info["pretrained"] = models.list_models(args.name, pretrained=True)
    if args.json:
        if error is not None:
            info["error"] = error
        _json(info, out)
        return status
    rows = [
        ("name", info["name"]),
        ("summary", info["summary"] or "-"),
        ("signature", info["signature"]),
        ("defaults", ", ".join(f"{k}={v!r}" for k, v in meta.defaults.items()) or "-"),
        ("family", info["family"]),
        ("plugin", info["plugin"] or "- (registered directly)"),
        ("distribution", _provider(info["distribution"], info["version"])),
        ("module", f"{info['module']}.{info['qualname']}"),
        ("parameters", params),
        ("pretrained", ", ".join(info["pretrained"]) or "-"),
    ]
    _table(rows, out)
    return status


def _plugins(args: argparse.Namespace, out: TextIO) -> int:
    from lucid import models

    with warnings.catch_warnings():
        # The report below lists every plugin error already.
        warnings.simplefilter("ignore", models.PluginWarning)
        plugins = models.list_plugins()
    # Non-zero when a plugin failed, so that CI can rely on the exit status.
    status = 1 if any(plugin.errors for plugin in plugins) else 0
    if args.json:
        _json([plugin.to_dict() for plugin in plugins], out)
        return status
    if not plugins:
        print("lucid: no plugin found (entry-point group 'lucid.models')", file=sys.stderr)
        return 0
    rows = [("NAME", "DISTRIBUTION", "VERSION", "MODELS", "STATUS")]
    rows += [
        (
            p.name,
            p.distribution or "-",
            p.version or "-",
            str(len(p.models)),
            f"{len(p.errors)} error{'s' * (len(p.errors) != 1)}" if p.errors else "ok",
        )
        for p in plugins
    ]
    _table(rows, out)
    errors = [error for plugin in plugins for error in plugin.errors]
    if errors:
        out.write("\nerrors:\n")
        for error in errors:
            provider = _provider(error.distribution, error.version)
            out.write(f"  {error.plugin} from {provider} ({error.stage}): {error.message}\n")
    return status


def _predict(args: argparse.Namespace, out: TextIO) -> int:
    from lucid.models import PretrainedWeightsError, _predict

    rank = 0
    if args.distributed:
        import lucid.distributed as dist

        dist.init_process_group()
        rank = dist.get_rank()
    try:
        results = _predict.predict(args.images, args.model, args.top)
    except (PretrainedWeightsError, OSError, ValueError, RuntimeError) as exc:
        print(f"lucid: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    if rank != 0:
        return 0  # rank 0 prints every rank's results
    if args.json:
        _json(results, out)
    else:
        _predict.write(results, out)
    return 0


# ---------------------------------------------------------------- parser ---


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lucid",
        description="Inspect the models and plugins lucid can find; classify, train, validate.",
    )
    parser.add_argument("--version", action="store_true", help="print lucid's version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    models = commands.add_parser("models", help="list or describe registered models")
    model_commands = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    listing = model_commands.add_parser("list", help="list model names")
    listing.add_argument("pattern", nargs="?", help="shell-style pattern such as 'pvt_v2_*'")
    listing.add_argument("--family", help="only models of this family")
    listing.add_argument(
        "--plugin", help="only models of this plugin (entry point or distribution)"
    )
    listing.add_argument(
        "--pretrained", action="store_true", help="list pretrained weights by tagged name"
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_models_list)
    info = model_commands.add_parser(
        "info",
        help="describe one model, with its parameter count",
        description="Describe one model. The parameters are counted on a shape-only build "
        "(lucid.nn.meta_init), so no weight is allocated.",
    )
    info.add_argument("name", help="a registered model name")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(handler=_models_info)

    predict = commands.add_parser("predict", help="classify images with pretrained weights")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    predict.add_argument(
        "--model", required=True, help="pretrained weights by tagged name, e.g. pvt_v2_b0.in1k"
    )
    predict.add_argument("--top", type=int, default=5, help="classes to show per image")
    predict.add_argument("--json", action="store_true", help="print JSON")
    predict.add_argument(
        "--distributed", action="store_true",
        help="one of several MPI ranks (start with mpirun -n N): each classifies its share "
        "of the images; rank 0 prints every result, in order",
    )  # fmt: skip
    predict.set_defaults(handler=_predict)

    plugins = commands.add_parser(
        "plugins",
        help="list plugins, their models and errors",
        description="List the plugins found through entry points, their models and errors. "
        "Exits with status 1 when a plugin failed to load or clashes with another source.",
    )
    plugins.add_argument("--json", action="store_true", help="print JSON")
    plugins.set_defaults(handler=_plugins)

    from lucid._train import add_parsers  # train and validate live in their own module

    add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``lucid`` command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        from lucid import __version__

        print(f"lucid {__version__}")
        return 0
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2

    from lucid.models import DuplicateModelError, UnknownModelError

    with warnings.catch_warnings():
        # Plugin problems read as one line each, not as Python source locations.
        warnings.showwarning = _show_warning
        try:
            status = int(args.handler(args, sys.stdout))
        except UnknownModelError as exc:
            status = _error(args, exc, exc.suggestions, 2)
        except DuplicateModelError as exc:
            status = _error(args, exc, [], 1)
    if status and getattr(args, "distributed", False):
        # A failed rank must not leave the others waiting (--distributed commands).
        from lucid.distributed import _group

        _group.abort(status)
    return status


def _error(args: argparse.Namespace, exc: Exception, suggestions: list[str], status: int) -> int:
    """Report a lookup error: a JSON object on stdout under ``--json``, else a line on stderr."""
    if getattr(args, "json", False):
        _json({"error": str(exc), "suggestions": suggestions}, sys.stdout)
    else:
        print(f"lucid: error: {exc}", file=sys.stderr)
    return status
