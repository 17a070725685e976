"""Rules of the house (architecture.md): settings.py imports no app of ours, no
entry point imports another (the API, the pages and the mail never import
``cli.py``), and the clock (``slpdesk.sla``, with the tools ``sla due`` and
``sla replay`` share with the API) imports no Django."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "slpdesk"


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports made absolute."""
    package = ".".join(("slpdesk", *path.relative_to(SRC).parent.parts))
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def ours(modules: set[str]) -> set[str]:
    return {m for m in modules if m == "slpdesk" or m.startswith("slpdesk.")}


APPS = ("api", "console", "desk", "mail", "portal", "reports", "web", "worker", "cli")


def test_settings_imports_no_app_of_ours():
    found = ours(imports(SRC / "settings.py"))
    assert not {m for m in found for app in APPS
                if m == f"slpdesk.{app}" or m.startswith(f"slpdesk.{app}.")}, found
    assert "slpdesk.config.parse_rate" in found and "slpdesk.config.parse_email_url" in found


def test_config_is_standard_library_only():
    assert not ours(imports(SRC / "config.py"))
    assert not {m for m in imports(SRC / "config.py") if m.startswith("django")}


def test_no_entry_point_imports_the_command_line():
    for path in SRC.rglob("*.py"):
        if path.name in ("cli.py", "__main__.py"):
            continue
        found = imports(path)
        assert "slpdesk.cli" not in found and "slpdesk.cli" not in {
            m.rsplit(".", 1)[0] for m in found}, path


def test_the_api_and_the_command_share_the_sla_tools():
    assert "slpdesk.sla.tools" in imports(SRC / "api" / "api.py")
    assert "slpdesk.sla.tools" in imports(SRC / "cli.py")


def test_the_clock_imports_no_django():
    for path in (SRC / "sla").rglob("*.py"):
        assert not {m for m in imports(path) if m.startswith("django")}, path
