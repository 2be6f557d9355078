"""The module boundaries of docs/design.md, read from the imports: the domain imports no other
layer, the services import no adapter or entrypoint (they reach the database, Stripe and the
schema through ports that bootstrap.py fills)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import creditflow

PACKAGE = Path(creditflow.__file__).parent
OUTER = {
    "domain": ("creditflow.services", "creditflow.adapters", "creditflow.entrypoints"),
    "services": ("creditflow.adapters", "creditflow.entrypoints", "creditflow.bootstrap"),
}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(OUTER))
def test_a_layer_imports_nothing_from_the_layers_around_it(layer: str) -> None:
    found = {
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for name in imported(path)
        if name.startswith(OUTER[layer])
    }

    assert sorted(found) == []
