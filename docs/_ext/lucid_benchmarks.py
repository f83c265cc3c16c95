"""Sphinx extension: the ``benchmark-table`` directive renders a results file of bench_models.py.

Usage, with a path relative to the page::

    .. benchmark-table:: ../benchmarks/models.json

One row per model: the lucid/PyTorch ratio of each workload's median time
and of its peak resident memory, with lucid's and PyTorch's own figures, and
the logits' agreement. A file without results renders a note saying so, and
the page is rebuilt whenever the file changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

WORKLOADS = {"infer1": "forward, batch 1", "infer8": "forward, batch 8", "train8": "training step"}


def _time_cell(row: dict[str, Any], target: float) -> str:
    mark = "" if row["ratio"] <= target else " (target missed)"
    return (
        f"**{row['ratio']:.2f}x**{mark}: {row['lucid']['median']:.3f} s / "
        f"{row['torch']['median']:.3f} s"
    )


def _memory_cell(row: dict[str, Any]) -> str:
    return (
        f"{row['memory_ratio']:.2f}x: {row['lucid']['peak'] / 2**20:.0f} / "
        f"{row['torch']['peak'] / 2**20:.0f} MiB"
    )


def table_lines(results: dict[str, Any]) -> list[str]:
    """reStructuredText for the results: a list-table and a line about the run."""
    models = results.get("models") or {}
    if not models:
        return [
            "No benchmark results are recorded yet. Run "
            "``.venv/bin/python benchmarks/bench_models.py`` on a quiet machine to fill "
            "``benchmarks/models.json``."
        ]
    targets = results["targets"]
    header = ["model", *(f"{label} (≤ {targets[w]}x)" for w, label in WORKLOADS.items())]
    header += [f"peak memory, {label} (≤ {targets['memory']}x)" for label in WORKLOADS.values()]
    header.append("logits, max relative difference")
    lines = [".. list-table::", "   :header-rows: 1", ""]
    rows = [header]
    for name, entry in models.items():
        cells = [f"``{name}``"]
        for task in WORKLOADS:
            row = entry["workloads"].get(task)
            cells.append(_time_cell(row, targets[task]) if row else "not run")
        for task in WORKLOADS:
            row = entry["workloads"].get(task)
            cells.append(_memory_cell(row) if row else "not run")
        parity = entry.get("parity")
        cells.append(
            f"{parity['logits_max_relative_difference']:.1e}" if parity else "not measured"
        )
        rows.append(cells)
    for cells in rows:
        lines.append(f"   * - {cells[0]}")
        lines.extend(f"     - {cell}" for cell in cells[1:])
    load = results["load_average_start"][0]
    lines += [
        "",
        f"lucid / PyTorch, medians of {results['repeats']}; command "
        f"``{results['command']}``; load average {load:.2f} at the start; "
        f"lucid {results['lucid']} (threads: {results['lucid_threads']}), NumPy "
        f"{results['numpy']}, PyTorch {results['torch']} on {results['torch_threads']} "
        f"threads, {results['cpus']} CPUs.",
    ]
    return lines


def read_results(directive: SphinxDirective) -> dict[str, Any]:
    """The results file named by ``directive``'s argument; the page is rebuilt when it changes."""
    # Relative to the page, as for ``.. include::``.
    relative, absolute = directive.env.relfn2path(directive.arguments[0])
    directive.env.note_dependency(relative)
    path = Path(absolute)
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise directive.error(f"cannot read the benchmark results {path}: {error}") from error
    if not isinstance(results, dict):
        raise directive.error(
            f"the benchmark results {path} hold a {type(results).__name__}, not an object "
            "as bench_models.py writes; run it again to rewrite the file"
        )
    return results


class BenchmarkTable(SphinxDirective):
    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        results = read_results(self)
        container = nodes.container()
        self.state.nested_parse(StringList(table_lines(results)), self.content_offset, container)
        return container.children


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("benchmark-table", BenchmarkTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
