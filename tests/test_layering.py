"""The three packages and their one import direction: runtime <- relay, runtime <- dev tools,
relay <- dev tools. Read from the code's own imports (every import statement, lazy ones too)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import REPO

PACKAGES = {
    "qqbus": REPO / "layers" / "qqbus" / "qqbus",  # the runtime: what the Lambda layer ships
    "qqbus_relay": REPO / "relay" / "qqbus_relay",
    "qqbus_dev": REPO / "devtools" / "qqbus_dev",
}
#: What each package may import of the others.
ALLOWED = {"qqbus": set(), "qqbus_relay": {"qqbus"}, "qqbus_dev": {"qqbus", "qqbus_relay"}}


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


def test_each_package_imports_only_below_itself() -> None:
    wrong = []
    for name, root in PACKAGES.items():
        assert root.is_dir(), root
        for path in root.rglob("*.py"):
            for other in imported_packages(path) - {name} - ALLOWED[name]:
                wrong.append(f"{path.relative_to(REPO)} imports {other}")
    assert wrong == []


def test_handlers_use_the_runtime_alone() -> None:
    for app in (REPO / "handlers").glob("*/app.py"):
        assert imported_packages(app) <= {"qqbus"}, app


def test_the_checker_sees_lazy_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from qqbus_dev.stack import LocalStack\n    import qqbus_relay.runner\n")
    assert imported_packages(probe) == {"qqbus_dev", "qqbus_relay"}
