"""Plain-text tables for the command line and the benchmarks (the reports' own tables are C++'s)."""
from typing import Sequence


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]], footer: Sequence[object] = ()) -> str:
    """Columns sized to fit; the first column left-aligned, the others right-aligned; an optional
    footer row (totals) below a rule."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    if footer:
        cells.append([str(c) for c in footer])
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

    rule = "  ".join("-" * w for w in widths)
    body = [line(row) for row in cells[1:len(cells) - bool(footer)]]
    lines = [line(cells[0]), rule, *body]
    if footer:
        lines += [rule, line(cells[-1])]
    return "\n".join(lines)
