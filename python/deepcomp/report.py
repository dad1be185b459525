"""Plain-text tables for the command line and the benchmarks, laid out as the reports' own tables
(one layout, C++'s: csrc/pipeline/table.h)."""
from typing import Sequence

from . import _C


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]], footer: Sequence[object] = ()) -> str:
    """Columns sized to fit; the first column left-aligned, the others right-aligned; an optional
    footer row (totals) below a rule. Cells are str() of the values."""
    def cells(row):
        return [str(cell) for cell in row]

    return _C.format_table(cells(header), [cells(row) for row in rows], cells(footer)).rstrip("\n")
