"""The intake's and router's use cases hold no SQL: their service layers never import
SQLAlchemy (or asyncpg). Statements live in `adapters/`, behind the unit of work each use case
opens, which is what lets the use cases run on the fakes in tests/support without PostgreSQL.

This reads each module's imports from its syntax tree (including imports inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "router")
DATABASE_PACKAGES = ("sqlalchemy", "asyncpg")


def service_layer_modules() -> list[Path]:
    found = [
        path
        for service in SERVICES
        for path in sorted(ROOT.glob(f"services/{service}/hub_{service}/service_layer/*.py"))
    ]
    assert len(found) > 20, "the service layers were not found"
    return found


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", service_layer_modules(), ids=lambda p: f"{p.parts[-3]}.{p.stem}")
def test_a_use_case_module_imports_no_database_library(path: Path) -> None:
    reached = {name for name in imported(path) if name.split(".")[0] in DATABASE_PACKAGES}
    assert not reached, f"{path.relative_to(ROOT)} imports {sorted(reached)}: use a repository"
