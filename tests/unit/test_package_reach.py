"""Each package reaches another only through its public module; no service imports the CLI.

A service's internals (its adapters, service layer, domain, bootstrap, config) may change
without notice, so the CLI, the benchmarks and the other services import from a service only
its `hub_<service>.public` module (or talk to it over HTTP and Kafka). The shared package sits
under every service and imports none of them; the operator's CLI sits above them all, so no
service imports it, and the benchmarks take from it only `hub_cli.public`.

This reads every module's imports (the syntax tree, including imports inside functions), so it
also catches the lazy imports a command makes to stay quick to start.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("hub_intake", "hub_router", "hub_notifier", "hub_web")
PACKAGES = ("hub_common", *SERVICES, "hub_cli")
PUBLIC = "public"


def owner(path: Path) -> str:
    """The package a file belongs to: `hub_router`, ..., or `benchmarks`."""
    relative = path.relative_to(ROOT)
    if relative.parts[0] == "benchmarks":
        return "benchmarks"
    return next(part for part in relative.parts if part.startswith("hub_"))


def python_files() -> list[Path]:
    found = sorted(ROOT.glob("services/*/hub_*/**/*.py")) + sorted(ROOT.glob("benchmarks/*.py"))
    assert len(found) > 100, "the source tree was not found"
    return found


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of each absolute import; `from a import b` yields `a.b` too, so
    `from hub_router import public` counts as the public module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def reach_problem(importer: str, module: str) -> str | None:
    """Why `importer` may not import `module`, or None when it may."""
    target = module.split(".")[0]
    if target not in PACKAGES or target == importer:
        return None
    if target == "hub_cli" and importer != "benchmarks":
        return "imports the operator's CLI (a service never depends on its operator's tool)"
    if importer == "hub_common":
        return "the shared package imports a service (it sits under every service)"
    if target == "hub_common":
        return None
    parts = module.split(".")
    if len(parts) < 2 or parts[1] != PUBLIC:
        return f"reaches past {target}.{PUBLIC} into its internals"
    return None


def reach_problems(paths: list[Path]) -> list[str]:
    problems = []
    for path in paths:
        importer = owner(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, module in imported_modules(tree):
            if why := reach_problem(importer, module):
                problems.append(f"{path.relative_to(ROOT)}:{line}: {module}: {why}")
    return problems


def test_no_package_reaches_past_another_packages_public_module() -> None:
    assert reach_problems(python_files()) == []


@pytest.mark.parametrize("service", ["hub_intake", "hub_router", "hub_notifier", "hub_cli"])
def test_each_service_the_others_use_has_a_public_module(service: str) -> None:
    public = next(ROOT.glob(f"services/*/{service}/{PUBLIC}.py"))
    tree = ast.parse(public.read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{public} says what it is for"


@pytest.mark.parametrize(
    ("importer", "module", "caught"),
    [
        ("hub_cli", "hub_router.adapters.roster_file.read_roster", True),
        ("hub_cli", "hub_router.public.read_roster", False),
        ("hub_cli", "hub_router.public", False),
        ("hub_cli", "hub_router.config.MIGRATIONS", True),
        ("benchmarks", "hub_intake.service_layer.intake_events.sending_agency", True),
        ("benchmarks", "hub_cli.directory.importer.run_import", True),
        ("benchmarks", "hub_cli.public.run_import", False),
        ("hub_router", "hub_cli.public.run_import", True),
        ("hub_router", "hub_cli.roster.read_roster", True),
        ("hub_notifier", "hub_intake.public.build_app", False),
        ("hub_web", "hub_router.domain.model.LinkWorker", True),
        ("hub_common", "hub_intake.public.build_app", True),
        ("hub_router", "hub_router.adapters.orm", False),
        ("hub_router", "hub_common.messaging.topics.Topics", False),
        ("hub_cli", "sqlalchemy.select", False),
    ],
)
def test_the_rule_catches_what_it_should(importer: str, module: str, caught: bool) -> None:
    assert (reach_problem(importer, module) is not None) is caught


def test_a_lazy_import_inside_a_function_is_read() -> None:
    source = "def load():\n    from hub_cli.roster import read_roster\n    return read_roster\n"
    modules = [module for _, module in imported_modules(ast.parse(source))]
    assert modules == ["hub_cli.roster.read_roster"]
    assert reach_problem("hub_router", modules[0]) is not None
