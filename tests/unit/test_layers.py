"""The layers depend one way: asyncpg only in store/, strawberry only in api/, domain on nothing."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "loyalty"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def offenders(top: str, allowed_under: str) -> list[str]:
    return [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if not str(path.relative_to(PACKAGE)).startswith(allowed_under)
        and any(name == top or name.startswith(f"{top}.") for name in imported_modules(path))
    ]


def test_asyncpg_only_in_store() -> None:
    assert offenders("asyncpg", "store/") == []


def test_strawberry_only_in_api() -> None:
    assert offenders("strawberry", "api/") == []


def test_domain_imports_nothing_of_ours_but_domain_and_errors() -> None:
    for path in (PACKAGE / "domain").rglob("*.py"):
        ours = {n for n in imported_modules(path) if n.startswith("loyalty")}
        assert ours <= {"loyalty.errors"} | {n for n in ours if n.startswith("loyalty.domain")}, (
            path
        )


def test_api_reaches_the_database_only_through_the_service_layer() -> None:
    for path in (PACKAGE / "api").rglob("*.py"):
        assert not any(n.startswith("loyalty.store") for n in imported_modules(path)), path
