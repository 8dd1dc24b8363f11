"""The import graph between n4d4d's packages runs one way, as DESIGN.md's data flow, and no
module imports another package's underscore module (or underscore name).

Every module of the installed packages is parsed with ``ast`` (nothing is imported), every
``import`` / ``from ... import`` in it (at module level or inside a function: a lazy import is
still a dependency) is resolved to an absolute ``n4d4d...`` name, and the edges are held to:

(a) privacy: a module may import an underscore module (``n4d4d.exporters._common``) or an
    underscore name (``from n4d4d.pipeline import _safe_name``) only from its own package;
(b) direction: a stage package never imports a later one (:data:`LATER`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Source folder -> the import name it installs as (pyproject's package-dir mapping).
ROOTS = {"n4d4d": "n4d4d", "kernels": "n4d4d.kernels", "rigging": "n4d4d.rigging",
         "physics_validation": "n4d4d.physics_validation", "exporters": "n4d4d.exporters",
         "scenarios": "n4d4d.scenarios"}

#: Package -> packages it must not import: those that come later in the data flow
#: (sources -> static -> rigged -> body -> animated -> certified -> files; scenarios, the CLI and
#: the pipeline drive them all, and nothing drives them). ``physics_validation`` holds two
#: stages, the body (collision, mass, drives: before ``animate``) and the certificate (after it,
#: which checks the clips): it may import ``deformation``, and deformation its body modules.
DRIVERS = {"n4d4d.pipeline", "n4d4d.cli", "n4d4d.scenarios", "n4d4d.output", "n4d4d.validate"}
LATER = {
    "n4d4d.kinematics": {"n4d4d.io", "n4d4d.volume", "n4d4d.generator", "n4d4d.kernels", "n4d4d.rigging",
                         "n4d4d.physics_validation", "n4d4d.deformation", "n4d4d.exporters", "n4d4d.report",
                         *DRIVERS},
    "n4d4d.conventions": {"n4d4d.io", "n4d4d.volume", "n4d4d.generator", "n4d4d.kernels", "n4d4d.rigging",
                          "n4d4d.physics_validation", "n4d4d.deformation", "n4d4d.exporters", "n4d4d.report",
                          *DRIVERS},
    "n4d4d.kernels": {"n4d4d.io", "n4d4d.volume", "n4d4d.generator", "n4d4d.rigging", "n4d4d.physics_validation",
                      "n4d4d.deformation", "n4d4d.exporters", "n4d4d.report", *DRIVERS},
    "n4d4d.rigging": {"n4d4d.physics_validation", "n4d4d.deformation", "n4d4d.exporters", "n4d4d.report",
                      *DRIVERS},
    "n4d4d.physics_validation": {"n4d4d.exporters", "n4d4d.report", *DRIVERS},
    "n4d4d.deformation": {"n4d4d.exporters", "n4d4d.report", *DRIVERS},
    "n4d4d.exporters": {"n4d4d.rigging", "n4d4d.physics_validation", "n4d4d.deformation", "n4d4d.generator",
                        "n4d4d.report", *DRIVERS},
    "n4d4d.report": DRIVERS,
}


def modules() -> dict[str, Path]:
    """Import name -> source file of every module of the packages."""
    out = {}
    for folder, name in ROOTS.items():
        base = REPO / folder
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base).with_suffix("").parts
            if folder == "n4d4d" and rel and rel[0] in ROOTS:  # not a mapped package
                continue
            parts = rel[:-1] if rel[-1] == "__init__" else rel
            out[".".join((name, *parts))] = path
    return out


def package(module: str) -> str:
    """The package a module belongs to: ``n4d4d.<first>`` (a top-level module is its own)."""
    return ".".join(module.split(".")[:2])


def imports(module: str, path: Path) -> list[tuple[str, str | None, int]]:
    """``(imported module, imported name or None, line)`` of every import in ``path``."""
    is_pkg = path.name == "__init__.py"
    here = module.split(".") if is_pkg else module.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out += [(target, a.name, node.lineno) for a in node.names]
    return [(m, n, line) for m, n, line in out if m == "n4d4d" or m.startswith("n4d4d.")]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def edges():
    mods = modules()
    for module, path in mods.items():
        for target, name, line in imports(module, path):
            full = f"{target}.{name}" if name and f"{target}.{name}" in mods else target
            yield module, path, full, (name if full == target else None), line


def test_the_scan_sees_the_packages():
    """The scan itself: every package is found, and known edges are seen (so an empty result
    below means no bad import, not a broken scan)."""
    mods = modules()
    for name in ROOTS.values():
        assert name in mods, name
    seen = {(package(m), package(t)) for m, _, t, _, _ in edges()}
    assert ("n4d4d.exporters", "n4d4d.kinematics") in seen
    assert ("n4d4d.physics_validation", "n4d4d.kinematics") in seen


def test_no_import_of_another_packages_underscore_module():
    bad = []
    for module, path, target, name, line in edges():
        if package(module) == package(target):
            continue
        rest = target.split(".")[2:]
        if any(_private(p) for p in rest) or (name is not None and _private(name)):
            what = f"{target}.{name}" if name is not None and _private(name) else target
            bad.append(f"{path.relative_to(REPO)}:{line} imports {what}")
    assert not bad, "cross-package imports of private modules or names:\n" + "\n".join(bad)


@pytest.mark.parametrize("pkg", sorted(LATER))
def test_no_stage_imports_a_later_stage(pkg):
    bad = [f"{path.relative_to(REPO)}:{line} imports {target}" for module, path, target, _, line in edges()
           if package(module) == pkg and package(target) in LATER[pkg]]
    assert not bad, f"{pkg} reaches into a later stage:\n" + "\n".join(bad)
