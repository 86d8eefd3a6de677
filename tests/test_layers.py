"""The layout shows the layers: the kernel (`vvv/core/`) and the declarations (`vvv/collectors/`)
import no shell module (`vvv.io`, `vvv.run`, `vvv.ops`, `vvv.cli`) and no I/O library, and the
package ships no test fake. Read from the source (ast), so an import inside a function counts too."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = sorted([*(ROOT / "vvv" / "core").rglob("*.py"), *(ROOT / "vvv" / "collectors").rglob("*.py"),
               *(ROOT / "vvv" / "streams").rglob("*.py")])

# What a pure module may import: the standard library, the record and converter libraries, the
# kernel itself, the error types, and the configuration's frozen values (scheduling reads a
# collector's intervals from its CollectorConfig).
ALLOWED_THIRD_PARTY = {"attrs", "cattrs"}
ALLOWED_VVV = ("vvv.core", "vvv.collectors", "vvv.streams", "vvv.errors", "vvv.config")


def imported_modules(source: str, *, package: str) -> list[str]:
    """Every module a source imports, absolute, wherever the import statement sits."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.append(module)
            # `from vvv import io` names a module too
            names += [f"{module}.{alias.name}" for alias in node.names if module == "vvv"]
    return names


def allowed(module: str) -> bool:
    top = module.split(".")[0]
    if top == "vvv":
        return module == "vvv" or any(module == p or module.startswith(p + ".") for p in ALLOWED_VVV)
    return top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY or top == "__future__"


def test_the_pure_layers_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in PURE}
    assert {"vvv/core/base.py", "vvv/core/calendar.py", "vvv/collectors/darkpool.py"} <= names


@pytest.mark.parametrize("path", PURE, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_a_kernel_or_collector_module_imports_neither_the_shell_nor_an_io_library(path: Path) -> None:
    package = ".".join(path.relative_to(ROOT).parts[:-1])
    offending = [m for m in imported_modules(path.read_text(), package=package) if not allowed(m)]
    assert offending == []


def test_the_import_reader_sees_what_the_rule_forbids() -> None:
    source = "import httpx\nimport attrs\ndef f():\n    from vvv.io import store\n    from vvv import run\n    from ..ops import web\n"
    names = imported_modules(source, package="vvv.core")
    assert [m for m in names if not allowed(m)] == ["httpx", "vvv.io", "vvv.run", "vvv.ops"]


def test_the_package_carries_no_test_fake() -> None:
    package = ROOT / "vvv"
    assert [p.relative_to(ROOT).as_posix() for p in package.rglob("*fake*")] == []
    assert (ROOT / "tests" / "fakes" / "api.py").is_file()
