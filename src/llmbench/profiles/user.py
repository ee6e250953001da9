"""Profiles from the user's project: ``pyproject.toml`` or a standalone ``llmbench.toml``.

pyproject.toml::

    [tool.llmbench.profiles.my-lora]
    extends = "embedded"            # any built-in or user profile; without it, give a
    description = "ranks 4/16/64"   # complete profile (lora.model and quant.model at least)
    cpu_threads = 2                 # torch threads on the CPU (default: the base profile's, 1)
    cpu_workers = 1                 # pytest-xdist workers on the CPU (default: the base
                                    # profile's, "auto": the cores // cpu_threads)

    [tool.llmbench.profiles.my-lora.lora]
    ranks = [4, 16, 64]
    target_modules = ["q_proj", "v_proj"]

    [tool.llmbench.profiles.my-lora.quant]
    precisions = ["nf4", "bf16"]

llmbench.toml takes the same tables without the ``tool.llmbench.`` prefix
(``[profiles.my-lora]``, ``[profiles.my-lora.rag]``). A relative ``rag.corpus`` / ``rag.qa``
path is relative to the file that names it. The keys of the ``lora``, ``quant`` and
``rag`` tables are the fields of ``LoraSettings``, ``QuantSettings`` and ``RagSettings``
(``llmbench.profiles.schema``). An unknown key, a wrong type or a bad value is a
``ProfileConfigError`` that names the file, the table and the key.

The project is found by walking up from the given directories (pytest's rootdir and the
directory pytest was started in) to the first one that holds a ``pyproject.toml`` or an
``llmbench.toml``; both files of that directory are read.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmbench.core.specs import FIXTURES_PREFIX
from llmbench.profiles.builtin import PROFILES, SUITES, Profile, UnknownProfileError
from llmbench.profiles.schema import (
    SETTINGS,
    SUITE_TITLES,
    SettingTypeError,
    canonical_axes,
    coerce,
    fields_of,
    required_keys,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

PYPROJECT = "pyproject.toml"
STANDALONE = "llmbench.toml"
PROFILE_KEYS = ("extends", "description", "cpu_threads", "cpu_workers", *SUITES)
# A profile's name is a folder under baselines/.
PATH_KEYS = {"rag": ("corpus", "qa")}  # settings that name files (fixtures:<name> aside)
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class ProfileConfigError(ValueError):
    """A profile table cannot be used; the message names the file, the table and the key."""


@dataclass(frozen=True)
class ProfileSpec:
    """One ``[...profiles.NAME]`` table, type-checked but not yet resolved against its base."""

    name: str
    file: Path
    table: str  # "tool.llmbench.profiles.NAME" (pyproject.toml) or "profiles.NAME"
    extends: str | None = None
    description: str | None = None
    cpu_threads: int | None = None  # None: the base profile's (1 without one)
    cpu_workers: int | str | None = None  # None: the base profile's ("auto" without one)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)  # suite -> settings

    @property
    def source(self) -> str:
        return f"{self.file} [{self.table}]"

    def error(self, problem: str, suite: str | None = None) -> ProfileConfigError:
        table = f"{self.table}.{suite}" if suite else self.table
        return ProfileConfigError(f"{self.file}: [{table}] {problem}")


# --- finding and reading the files -----------------------------------------------------------

def project_files(*starts: Path | str) -> list[Path]:
    """The llmbench.toml and pyproject.toml of the project around each start directory."""
    found: list[Path] = []
    for start in starts:
        for directory in (Path(start).resolve(), *Path(start).resolve().parents):
            files = [directory / n for n in (STANDALONE, PYPROJECT) if (directory / n).is_file()]
            if files:
                found += [f for f in files if f not in found]
                break
    return found


def read_specs(path: Path) -> list[ProfileSpec]:
    """The profile tables of one file (none when a pyproject.toml has no [tool.llmbench])."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileConfigError(f"{path}: not valid TOML: {exc}") from None
    if path.name == PYPROJECT:
        tool = data.get("tool")
        root, prefix = (tool.get("llmbench") if isinstance(tool, dict) else None), "tool.llmbench"
        if root is None:
            return []
    else:
        root, prefix = data, ""
    where = f"[{prefix}]" if prefix else "the top level"
    if not isinstance(root, dict):
        raise ProfileConfigError(f"{path}: {where} must be a table")
    for key in root:
        if key != "profiles":
            raise ProfileConfigError(f"{path}: {where} has unknown key {key!r}; valid keys: "
                                     f"profiles (as [{_join(prefix, 'profiles')}.NAME] tables)")
    profiles = root.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ProfileConfigError(f"{path}: [{_join(prefix, 'profiles')}] must be a table of "
                                 f"[{_join(prefix, 'profiles')}.NAME] tables")
    return [_parse_profile(path, _join(prefix, "profiles", name), name, table)
            for name, table in profiles.items()]


def _join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def _parse_profile(path: Path, table: str, name: str, data: Any) -> ProfileSpec:
    spec = ProfileSpec(name, path, table)
    if not isinstance(data, dict):
        raise spec.error(f"must be a table, got {data!r}")
    if not NAME_PATTERN.fullmatch(name):
        raise spec.error(f"profile name {name!r} must be letters, digits, '.', '_' or '-' "
                         "(it names a folder under baselines/)")
    if name in PROFILES:
        raise spec.error(f"profile {name!r} is built in; choose another name "
                         f"(extends = {name!r} builds on it)")
    for key in data:
        if key not in PROFILE_KEYS:
            raise spec.error(f"unknown key {key!r}; valid keys: {', '.join(PROFILE_KEYS)}")
    for key in ("extends", "description"):
        if key in data and not isinstance(data[key], str):
            raise spec.error(f"key {key!r} must be a string, got {data[key]!r}")
    threads = data.get("cpu_threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise spec.error(f"key 'cpu_threads' must be an integer >= 1, got {threads!r}")
    workers = data.get("cpu_workers")
    if workers is not None and workers != "auto" and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise spec.error(f"key 'cpu_workers' must be \"auto\" or an integer >= 1, got "
                         f"{workers!r}")
    sections = {suite: _relative_to(path.parent, suite, _parse_section(spec, suite, data[suite]))
                for suite in SUITES if suite in data}
    return dataclasses.replace(spec, extends=data.get("extends"),
                               description=data.get("description"), cpu_threads=threads,
                               cpu_workers=workers,
                               sections=sections)


def _parse_section(spec: ProfileSpec, suite: str, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise spec.error(f"key {suite!r} must be a table of {SUITE_TITLES[suite]} settings "
                         f"([{spec.table}.{suite}]), got {data!r}")
    fields = fields_of(suite)
    values = {}
    for key, value in data.items():
        if key not in fields:
            raise spec.error(f"unknown key {key!r}: not a {SUITE_TITLES[suite]} setting "
                             f"({SETTINGS[suite].__name__}); valid keys: {', '.join(fields)}",
                             suite)
        try:
            values[key] = coerce(value, fields[key])
        except SettingTypeError as exc:
            raise spec.error(f"key {key!r} must be {exc}, got {value!r}", suite) from None
    return canonical_axes(suite, values)


def _relative_to(directory: Path, suite: str, values: dict[str, Any]) -> dict[str, Any]:
    """RAG data paths in a profile are relative to its file, not to where pytest runs."""
    for key in PATH_KEYS.get(suite, ()):
        value = values.get(key)
        if value is not None and not value.startswith(FIXTURES_PREFIX) \
                and not Path(value).expanduser().is_absolute():
            values[key] = str(directory / value)
    return values


# --- resolving: extends, then the settings' own checks ----------------------------------------

def resolve(specs: Iterable[ProfileSpec]) -> dict[str, Profile]:
    """Built-in profiles and the user's, each user profile built on the one it extends."""
    by_name: dict[str, ProfileSpec] = {}
    for spec in specs:
        if spec.name in by_name:
            raise spec.error(f"profile {spec.name!r} is defined twice: here and in "
                             f"{by_name[spec.name].source}")
        by_name[spec.name] = spec
    resolved: dict[str, Profile] = dict(PROFILES)

    def build(name: str, chain: tuple[str, ...]) -> Profile:
        if name in resolved:
            return resolved[name]
        spec = by_name[name]
        if name in chain:
            raise spec.error(f"extends itself through {' -> '.join((*chain, name))}")
        base = None
        if spec.extends is not None:
            if spec.extends not in resolved and spec.extends not in by_name:
                raise spec.error(f"extends unknown profile {spec.extends!r}; valid: "
                                 f"{', '.join([*resolved, *by_name])}")
            base = build(spec.extends, (*chain, name))
        resolved[name] = _build(spec, base)
        return resolved[name]

    for name in by_name:
        build(name, ())
    return resolved


def _build(spec: ProfileSpec, base: Profile | None) -> Profile:
    settings = {}
    for suite in SUITES:
        values = spec.sections.get(suite, {})
        if base is None and suite != "rag":
            missing = [k for k in required_keys(suite) if k not in values]
            if missing:
                raise spec.error(
                    f"has no 'extends', so it must be complete: [{spec.table}.{suite}] needs "
                    f"{', '.join(repr(k) for k in missing)} (or set extends = \"embedded\" "
                    "to change only some settings)")
        try:
            settings[suite] = (dataclasses.replace(getattr(base, suite), **values)
                               if base is not None else SETTINGS[suite](**values))
        except (ValueError, TypeError) as exc:
            raise spec.error(str(exc), suite) from None
    description = spec.description or _describe(spec)
    threads = spec.cpu_threads or (base.cpu_threads if base is not None else 1)
    workers = spec.cpu_workers or (base.cpu_workers if base is not None else "auto")
    return Profile(name=spec.name, description=description, source=spec.source,
                   cpu_threads=threads, cpu_workers=workers, **settings)


def _describe(spec: ProfileSpec) -> str:
    changes = [f"{suite}.{key}={_short(value)}" for suite, values in spec.sections.items()
               for key, value in values.items()]
    if spec.extends is None:
        return "user profile"
    return f"{spec.extends}" + (f" with {', '.join(changes)}" if changes else "")


def _short(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


# --- the registry the plugin and the CLI use ---------------------------------------------------

@dataclass(frozen=True)
class ProfileRegistry:
    """Every profile a run can pick, with the files the user's came from."""

    profiles: dict[str, Profile]
    files: tuple[Path, ...] = ()

    def get(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            where = (f"; project profiles are read from {', '.join(map(str, self.files))}"
                     if self.files else "; no pyproject.toml or llmbench.toml found")
            raise UnknownProfileError(f"unknown profile {name!r} (--bench-profile); valid: "
                                      f"{', '.join(self.profiles)}{where}") from None

    def __iter__(self) -> Iterator[Profile]:
        return iter(self.profiles.values())

    def __contains__(self, name: object) -> bool:
        return name in self.profiles


def load_registry(files: Iterable[Path]) -> ProfileRegistry:
    files = tuple(files)
    return ProfileRegistry(resolve(spec for path in files for spec in read_specs(path)), files)


def project_registry(*starts: Path | str) -> ProfileRegistry:
    """Built-in profiles plus those of the project around ``starts`` (default: the cwd)."""
    return load_registry(project_files(*(starts or (Path.cwd(),))))
