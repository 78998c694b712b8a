"""Terminal tables (rich) that fit the console's width.

Text columns fold long cells (node names) onto more lines; number columns stay whole, since a cut number is a
wrong number. A table too wide even so (the energy report's 12 per-layer columns on an 80-column terminal) is
printed as several tables of fewer columns, each repeating the first column (the row's name).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from rich.console import Console
from rich.table import Table

TEXT_BUDGET = 14
"""Width a text column other than the first may take before it folds, when deciding how many columns fit."""
CELL_EDGE = 3
"""Padding and border per column."""
_NUMBER = re.compile(r"(in )?[-+]?[0-9][0-9,.]*(e[-+]?[0-9]+)?( ?[a-zA-Z\u00b5]{1,4})?|-")


def numeric_columns(rows: Sequence[Sequence[str]]) -> set[int]:
    """Columns after the first whose every cell is a number, optionally with a unit (``1,024``, ``3.2 nJ``, ``26x``,
    ``in 0.315``) or ``-``."""
    width = len(rows[0]) if rows else 0
    return {i for i in range(1, width) if all(_NUMBER.fullmatch(r[i]) for r in rows)}


def _needs(header: str, cells: Sequence[str], numeric: bool, budget: int) -> int:
    """Width one column needs: numbers whole, headers at their longest word, text up to ``budget``."""
    word = max((len(w) for w in header.split()), default=0)
    longest = max([len(c) for c in cells] + [word])
    return max(word, longest if numeric else min(longest, budget)) + CELL_EDGE


def _fill(needs: Sequence[int], cap: int) -> list[list[int]]:
    groups = [[0]]
    for i in range(1, len(needs)):
        if len(groups[-1]) > 1 and 1 + sum(needs[j] for j in groups[-1]) + needs[i] > cap:
            groups.append([0])
        groups[-1].append(i)
    return groups


def column_groups(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Collection[int],
                  width: int) -> list[list[int]]:
    """Column indices per printed table: all of them if they fit ``width``, else as few groups as fit, of similar
    widths, each starting with column 0."""
    budgets = [max(TEXT_BUDGET, width // 3)] + [TEXT_BUDGET] * (len(header) - 1)
    needs = [_needs(h, [r[i] for r in rows], i in numeric, budgets[i]) for i, h in enumerate(header)]
    count = len(_fill(needs, width))
    if count == 1:
        return [list(range(len(header)))]
    total = sum(needs[1:]) + (needs[0] + 1) * count
    cap = -(-total // count)
    while len(_fill(needs, cap)) > count and cap < width:
        cap += 1
    return _fill(needs, cap)


def print_table(console: Console, title: str, header: Sequence[str], rows: Sequence[Sequence[str] | None],
                numeric: Collection[int] = (), caption: str | None = None) -> None:
    """Print ``rows`` (a None row starts a new section, e.g. before totals) under ``header``; columns in ``numeric``
    right-aligned and never wrapped; ``caption`` on a line after the table."""
    cells = [r for r in rows if r is not None]
    groups = column_groups(header, cells, numeric, console.width)
    for k, group in enumerate(groups):
        part = f" ({k + 1}/{len(groups)})" if len(groups) > 1 else ""
        table = Table(title=title + part)
        for i in group:
            table.add_column(header[i], justify="right" if i in numeric else "left", overflow="fold",
                             no_wrap=i in numeric)
        for row in rows:
            if row is None:
                table.add_section()
            else:
                table.add_row(*(row[i] for i in group))
        console.print(table)
    if caption:  # a line of its own: a caption would wrap to the width of a narrow table
        console.print(caption)
