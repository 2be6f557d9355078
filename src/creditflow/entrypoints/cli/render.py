"""Output: Rich tables for people, JSON for scripts (`--json`: JSON on stdout and nothing else).

JSON uses the /v1 API's response models, so a script can switch between the API and the CLI
without learning a second shape. Everything a person reads besides results (notes, warnings)
goes to stderr, so stdout stays clean to pipe.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from creditflow.entrypoints.http.schemas import LedgerEntryOut

JsonFlag = Annotated[
    bool,
    typer.Option(
        "--json", help="Print machine-readable JSON on stdout (the /v1 API's shapes), nothing else."
    ),
]


def stdout() -> Console:
    # Built per call: the test runner (and anyone redirecting) swaps sys.stdout at run time.
    # Soft wrap: lines are never broken by us, so a printed id or secret can be copied whole.
    return Console(highlight=False, soft_wrap=True)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: BaseModel | Mapping[str, Any]) -> None:
    if isinstance(data, BaseModel):
        typer.echo(data.model_dump_json(indent=2))
    else:
        typer.echo(json.dumps(data, indent=2, default=str))


def cell(value: object) -> Text:
    """Stored values as plain text: a `[` in a reason or an id must not be read as Rich markup."""
    if value is None:
        return Text("")
    if isinstance(value, datetime):
        return Text(value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ"))
    return Text(str(value))


def signed(delta: int) -> Text:
    return Text(f"{delta:+d}", style="green" if delta > 0 else "red")


def table(
    title: str,
    columns: Iterable[str],
    rows: Iterable[Iterable[Text]],
    whole: Iterable[str] = (),
) -> Table:
    """Columns named in `whole` (the ids a person copies into the next command) never wrap: the
    others fold first, however narrow the terminal. Fold rather than truncate: a value cut short
    with "…" cannot be copied either."""
    grid = Table(title=title, title_justify="left")
    cells = [list(row) for row in rows]
    keep = set(whole)
    for index, column in enumerate(columns):
        if column in keep:
            widest = max((row[index].cell_len for row in cells), default=0)
            grid.add_column(column, no_wrap=True, min_width=max(widest, len(column)))
        else:
            grid.add_column(column, overflow="fold")
    for row in cells:
        grid.add_row(*row)
    return grid


def listing(table_: Table, empty: str) -> Table | Text:
    """A table, or `empty` in words when it has no rows: an empty grid reads as a glitch."""
    return table_ if table_.row_count else Text(empty)


def ledger_table(title: str, entries: Iterable[LedgerEntryOut]) -> Table:
    """Ledger entries as `creditflow ledger` shows them, wherever a command prints entries."""
    columns = ("id", "when", "delta", "balance", "kind", "reference", "reason")
    rows = [
        (
            cell(entry.id),
            cell(entry.created_at),
            signed(entry.delta),
            cell(entry.balance_after),
            cell(entry.kind),
            cell(entry.reference),
            cell(entry.reason),
        )
        for entry in entries
    ]
    return table(title, columns, rows, whole=("id", "reference"))


def show(renderable: Table | Text) -> None:
    stdout().print(renderable)


def note(message: str) -> None:
    stderr().print(Text(message))


def warn(message: str) -> None:
    stderr().print(Text("warning: ", style="bold yellow") + Text(message))


def error(message: str) -> None:
    """A failure as the one line on stderr the CLI promises, whatever line breaks it held."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)
