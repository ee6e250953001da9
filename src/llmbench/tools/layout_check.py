"""Check that the layers import only downwards: ``python -m llmbench.tools.layout_check``.

Each folder of ``src/llmbench`` is a layer (see its ``__init__`` docstring). A module may import
its own layer and the layers listed before it in ``LAYERS``; a suite never imports another
suite; the two lowest layers never import torch or pytest at module level (the rules must run,
and be tested, without either). Lazy imports inside functions count too. Exit 1 with one line
per violation.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Lowest first. A layer may import itself and anything before it.
LAYERS = ("core", "regression", "profiles", "sources", "measure", "judges", "suites", "report",
          "history", "ab", "pytest_plugin", "tools", "cli")
ROOT_MODULES = {"__init__": "cli", "__main__": "cli", "cli": "cli",  # the package's top level
                "cli_history": "cli", "cli_ab": "cli"}
NO_HEAVY_IMPORTS = {"core": ("torch", "pytest"), "regression": ("torch", "pytest"),
                    "ab": ("torch", "pytest")}


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def package_root() -> Path:
    return Path(__file__).resolve().parents[1]


def layer_of(module: str) -> str | None:
    """``llmbench.suites.rag.pipeline`` -> ``suites``; None outside llmbench."""
    parts = module.split(".")
    if parts[0] != "llmbench":
        return None
    if len(parts) == 1:
        return "cli"
    return ROOT_MODULES.get(parts[1], parts[1])


def suite_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "suites" else None


def module_name(path: Path, root: Path) -> str:
    relative = path.relative_to(root.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(tree: ast.AST, module: str) -> Iterator[tuple[int, str, bool]]:
    """(line, imported module, at module level) for every import in the file."""
    top_level = {id(node) for node in getattr(tree, "body", [])}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, id(node) in top_level
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")[:-node.level] if not module.endswith("__init__") \
                    else module.split(".")
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield node.lineno, name, id(node) in top_level


def check(root: Path | None = None) -> list[Violation]:
    root = root or package_root()
    found: list[Violation] = []
    for path in sorted(root.rglob("*.py")):
        if "fixtures" in path.relative_to(root).parts:
            continue
        module = module_name(path, root)
        layer = layer_of(module)
        if layer not in LAYERS:
            found.append(Violation(path, 1, f"{module} is in no layer (folders: "
                                            f"{', '.join(LAYERS)})"))
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, target, top in imports(tree, module):
            heavy = NO_HEAVY_IMPORTS.get(layer, ())
            if top and target.split(".")[0] in heavy:
                found.append(Violation(path, line, f"layer {layer!r} imports {target} at "
                                                   "module level"))
            other = layer_of(target)
            if other is None or other == layer:
                if other == "suites" and suite_of(target) and suite_of(module) \
                        and suite_of(target) != suite_of(module):
                    found.append(Violation(path, line, f"suite {suite_of(module)!r} imports "
                                                       f"another suite: {target}"))
                continue
            if other not in LAYERS:
                continue
            if LAYERS.index(other) > LAYERS.index(layer):
                found.append(Violation(path, line, f"{module} (layer {layer!r}) imports "
                                                   f"{target} (higher layer {other!r})"))
    return found


def main() -> int:
    violations = check()
    for violation in violations:
        print(violation)
    if violations:
        print(f"{len(violations)} layering violation(s); layers, lowest first: "
              f"{' < '.join(LAYERS)}", file=sys.stderr)
        return 1
    print(f"layers import only downwards: {' < '.join(LAYERS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
