"""The package as users install it: every subpackage listed, fixtures shipped as package data,
the layers importing only downwards."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def declared_packages() -> list[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return data["tool"]["setuptools"]["packages"]


def test_every_package_under_src_is_declared():
    found = sorted("llmbench" + ("." + ".".join(p.parent.relative_to(ROOT / "src/llmbench")
                                                  .parts) if p.parent != ROOT / "src/llmbench"
                                  else "")
                   for p in (ROOT / "src/llmbench").rglob("__init__.py"))
    assert sorted(set(declared_packages()) - {"llmbench.fixtures"}) == found


def test_layers_import_only_downwards():
    from llmbench.tools.layout_check import check

    assert [str(v) for v in check()] == []


def test_layout_check_catches_an_upward_import(tmp_path):
    from llmbench.tools.layout_check import check

    package = tmp_path / "llmbench"
    (package / "regression").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "regression" / "__init__.py").write_text("")
    (package / "regression" / "bad.py").write_text(
        "import torch\n\ndef f():\n    from llmbench.pytest_plugin import STATE_KEY\n")
    messages = [v.message for v in check(package)]
    assert any("imports torch at module level" in m for m in messages)
    assert any("higher layer 'pytest_plugin'" in m for m in messages)


@pytest.mark.slow
def test_the_wheel_ships_the_fixtures(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("llmbench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in ("llmbench/fixtures/rag/qa.jsonl", "llmbench/fixtures/codealpaca/train.jsonl",
                    "llmbench/fixtures/rag/corpus/annual-leave.md",
                    "llmbench/report/results.schema.json"):
        assert shipped in names
    assert not any(name.endswith("generate.py") for name in names)
