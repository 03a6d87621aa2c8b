"""DataTable helpers shared by the screens.

A DataTable re-measures every row after clear(), but only new or changed
cells after add_row/update_cell; these helpers pick the cheap path whenever
they can, so the 1 s tick and live events cost a few cells, not a table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

Rows = Iterable[tuple[str, Sequence[object]]]


def as_cells(values: Sequence[object]) -> tuple[object, ...]:
    """Strings become Text: a DataTable parses a plain str as markup, and a
    comment saying "[/b]" would then break the table (or restyle it)."""
    return tuple(Text(v) if isinstance(v, str) else v for v in values)


def selected_key(table: DataTable[object]) -> str | None:
    """The row key under the cursor, or None for an empty table."""
    if table.row_count == 0:
        return None
    try:
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
    except CellDoesNotExist:
        return None
    return key.value


def keep_cursor(table: DataTable[object], key: str | None, fallback_row: int) -> None:
    """Put the cursor back on the row it was on, wherever that row went."""
    if table.row_count == 0:
        return
    row = table.get_row_index(key) if key is not None and key in table.rows else fallback_row
    row = min(row, table.row_count - 1)
    if row != table.cursor_row:
        table.move_cursor(row=row, animate=False, scroll=False)


def refill(table: DataTable[object], rows: Rows) -> None:
    """Replace all rows, keeping the cursor on the same key and the scroll
    where it was, so a live refresh never yanks the operator's selection."""
    key = selected_key(table)
    row_index = table.cursor_row
    scroll_y = table.scroll_y
    table.clear()
    for row_key, cells in rows:
        table.add_row(*as_cells(cells), key=row_key)
    keep_cursor(table, key, row_index)
    table.scroll_to(y=scroll_y, animate=False, immediate=True)


def sync(table: DataTable[object], rows: Rows) -> None:
    """Show rows: cell by cell when the keys and their order are unchanged
    (the usual tick or poll), else by refilling the table."""
    wanted = list(rows)
    current = [row.key.value for row in table.ordered_rows]
    if current != [key for key, _ in wanted]:
        refill(table, wanted)
        return
    columns = [column.key for column in table.ordered_columns]
    for key, cells in wanted:
        old = table.get_row(key)
        for column, before, after in zip(columns, old, as_cells(cells), strict=True):
            if before != after:
                table.update_cell(key, column, after, update_width=True)
