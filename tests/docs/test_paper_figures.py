"""The MAC counter agrees with the PVT papers, read from the tables the docs build computed."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# GFLOPs of the papers (they count multiply-accumulates) at 224x224, for the
# layout of the papers: PVT v1 with the attention projection (attn_proj=True).
PVT_V1_PAPER = {"pvt_tiny": 1.9, "pvt_small": 3.8, "pvt_medium": 6.7, "pvt_large": 9.8}
PVT_V2_PAPER = {
    "pvt_v2_b0": 0.6,
    "pvt_v2_b1": 2.1,
    "pvt_v2_b2": 4.0,
    "pvt_v2_b2_li": 3.9,
    "pvt_v2_b3": 6.9,
    "pvt_v2_b4": 10.1,
    "pvt_v2_b5": 11.8,
}
TOLERANCE = 0.15  # the papers round to one decimal


UNITS = {"GMACs": 1.0, "MMACs": 1e-3}


def gmacs(cell: str) -> float:
    """A MACs cell (``6.17 GMACs``, ``566.07 MMACs``) in GMACs."""
    value, unit = cell.split()
    return float(value) * UNITS[unit]


def column(built_docs, title: str, names: set[str]) -> dict[str, float]:
    """The GMACs of column ``title`` for ``names``, from the PVT page's tables."""
    for header, *rows in built_docs.tables("models/pvt"):
        if title in header:
            cells = {row[0]: row[header.index(title)] for row in rows}
            if names <= cells.keys():
                return {name: gmacs(cells[name]) for name in names}
    raise AssertionError(f"no table on the PVT page has column {title!r} for {sorted(names)}")


def test_pvt_v1_macs_match_the_paper(built_docs) -> None:
    counted = column(built_docs, "MACs (attn_proj=True)", set(PVT_V1_PAPER))
    for name, paper in PVT_V1_PAPER.items():
        assert counted[name] == pytest.approx(paper, abs=TOLERANCE), name


def test_pvt_v2_macs_match_the_paper(built_docs) -> None:
    counted = column(built_docs, "MACs", set(PVT_V2_PAPER))
    for name, paper in PVT_V2_PAPER.items():
        assert counted[name] == pytest.approx(paper, abs=TOLERANCE), name
