"""The floors of the package import one way (docs/internals.md).

Pure privacy rules sit below the jobs that reach into Salesforce and state; the state store,
the Salesforce client and the sources sit below the sync; the planner's stages take typed
values and never a store or a client. Read from the source with ``ast`` (imports under
``if TYPE_CHECKING:`` are for the type checker only and do not count), so a new import that
turns a floor upside down fails here, not in a review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import connector

PACKAGE = Path(connector.__file__).parent


def runtime_imports(path: Path) -> set[str]:
    """Every ``connector.*`` and third-party module ``path`` imports when it runs (imports
    inside functions included: they run too), not those under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(inner) for inner in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "connector":
                found.update(f"connector.{alias.name}" for alias in node.names)
            else:
                found.update({node.module} | {f"{node.module}.{a.name}" for a in node.names})
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def offending(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    """``file: module`` for every runtime import of ``paths`` under one of ``forbidden``."""
    bad = []
    for path in paths:
        for module in sorted(runtime_imports(path)):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(PACKAGE.parent)}: {module}")
    return bad


def modules(folder: str, *names: str) -> list[Path]:
    """The modules of ``folder`` (all, or those named)."""
    base = PACKAGE / folder
    if names:
        return [base / f"{name}.py" for name in names]
    return sorted(base.glob("*.py"))


JOBS = (
    "connector.sync",
    "connector.gdpr",
    "connector.commands",
    "connector.service",
    "connector.cli",
)


def test_the_privacy_rules_import_no_job_no_store_and_no_client():
    # The register renders the project (it reads the mappings' columns); every other module
    # of connector/privacy is a pure rule.
    rules = [p for p in modules("privacy") if not p.name.startswith("register")]
    assert len(rules) >= 6
    forbidden = (
        *JOBS,
        "connector.state",
        "connector.salesforce",
        "connector.sources",
        "connector.emulator",
        "sqlalchemy",
        "requests",
        "simple_salesforce",
    )
    assert offending(rules, forbidden) == []


@pytest.mark.parametrize("floor", ["state", "salesforce", "sources"])
def test_the_lower_floors_import_nothing_above_them(floor):
    forbidden = (*JOBS, "connector.mapping", "connector.privacy")
    assert offending(modules(floor), forbidden) == []


def test_the_planner_stages_take_no_store_and_no_client():
    # Typed rows of state (connector.state.rows, the withdrawal rows) are values the planner
    # takes; the store, its database and the Salesforce client are what it must not reach.
    stages = modules(
        "sync",
        "plan",
        "plan_persons",
        "plan_parents",
        "plan_opt_outs",
        "plan_justified",
        "diff",
        "identity",
        "consent_records",
        "modes",
        "source_content",
    )
    forbidden = (
        "connector.state.store",
        "connector.state.db",
        "connector.state.StateStore",
        "connector.salesforce",
        "connector.gdpr",
        "sqlalchemy",
        "requests",
    )
    assert offending(stages, forbidden) == []


def test_the_check_sees_an_import_that_breaks_a_floor(tmp_path):
    # The guard itself: a runtime import counts, one under TYPE_CHECKING does not.
    module = tmp_path / "rule.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from connector.state import StateStore\n"
        "def f():\n"
        "    from connector.gdpr import erasure\n"
    )
    found = runtime_imports(module)
    assert "connector.gdpr.erasure" in found
    assert not any(m.startswith("connector.state") for m in found)
