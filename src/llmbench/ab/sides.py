"""The two sides of an A/B: a git ref of the project under test, or ``python:PATH``.

* A git ref (branch, tag, commit, ``HEAD~3``) is checked out into a temporary worktree of the
  current repository, and its worker runs there with the current interpreter: the project's own
  code at that ref is what runs. A ``src/`` folder of the checkout goes first on ``PYTHONPATH``,
  ahead of an editable install of the same project (whose files are the current checkout's).
* ``python:PATH`` is another interpreter (a venv's ``bin/python``) running the current checkout:
  two environments, e.g. before and after upgrading torch.

Anything that keeps a side from running is a ``SideError`` (exit 2), never a silent pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from llmbench.ab.workers import Launch

PYTHON_PREFIX = "python:"
GIT_TIMEOUT_S = 120
# What a side's interpreter must import to serve rounds.
CAN_RUN = ("import sys, pytest, llmbench.pytest_plugin.ab_worker; "
           "print(sys.version.split()[0], llmbench.__version__, llmbench.__file__)")


class SideError(RuntimeError):
    """A side that cannot run: no such ref, no such interpreter, no llmbench there."""


@dataclass(frozen=True)
class Side:
    name: str  # "A" (base) or "B" (candidate)
    spec: str  # as the user wrote it
    launch: Launch
    commit: str | None  # the ref's commit, or the current checkout's
    python: str
    llmbench: str = ""  # version and location the side's interpreter imports

    @property
    def is_ref(self) -> bool:
        return not self.spec.startswith(PYTHON_PREFIX)

    def describe(self) -> str:
        what = f"git ref {self.spec}" if self.is_ref else f"interpreter {self.python}"
        commit = f" @ {self.commit[:12]}" if self.commit else ""
        return f"{self.name}: {what}{commit}"

    def to_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "spec": self.spec, "kind": "ref" if self.is_ref else "python",
                "commit": self.commit, "python": self.python, "llmbench": self.llmbench,
                "cwd": str(self.launch.cwd)}


def _git(args: list[str], cwd: Path) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                             timeout=GIT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SideError(f"git {' '.join(args)}: {exc}") from None
    if out.returncode != 0:
        raise SideError(f"git {' '.join(args)}: {(out.stderr or out.stdout).strip()}")
    return out.stdout.strip()


def repository(cwd: Path) -> Path | None:
    try:
        return Path(_git(["rev-parse", "--show-toplevel"], cwd))
    except SideError:
        return None


def base_env(extra_path: list[str] | None = None) -> dict[str, str]:
    """The workers' environment: this one, with one torch thread unless the user chose (two
    workers share the cores in a duet round; the committed CPU baselines use one thread too),
    and ``extra_path`` first on PYTHONPATH."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.pop("GITHUB_STEP_SUMMARY", None)  # the A/B writes the summary, not its workers
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join([*extra_path, *filter(None, [env.get("PYTHONPATH")])])
    return env


class Checkouts:
    """Prepares both sides; a context manager that removes the temporary worktrees after."""

    def __init__(self, cwd: Path | None = None, python: str | None = None) -> None:
        self.cwd = (cwd or Path.cwd()).resolve()
        self.python = python or sys.executable
        self.repo = repository(self.cwd)
        self._stack = ExitStack()
        self._tmp: Path | None = None

    def __enter__(self) -> Checkouts:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def side(self, name: str, spec: str) -> Side:
        if spec.startswith(PYTHON_PREFIX):
            return self._interpreter_side(name, spec)
        return self._ref_side(name, spec)

    def _interpreter_side(self, name: str, spec: str) -> Side:
        path = spec[len(PYTHON_PREFIX):]
        if not path:
            raise SideError(f"side {name}: {spec!r} names no interpreter (python:PATH)")
        python = shutil.which(path) or path
        if not (Path(python).is_file() and os.access(python, os.X_OK)):
            raise SideError(f"side {name}: {path} is not an executable interpreter")
        commit = _git(["rev-parse", "HEAD"], self.cwd) if self.repo else None
        launch = Launch(python, self.cwd, base_env())
        return self._checked(Side(name, spec, launch, commit, python))

    def _ref_side(self, name: str, spec: str) -> Side:
        if self.repo is None:
            raise SideError(f"side {name}: {spec!r} is a git ref, but {self.cwd} is not in a git "
                            "repository (use python:PATH to compare interpreters)")
        try:
            commit = _git(["rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"], self.repo)
        except SideError:
            raise SideError(f"side {name}: {spec!r} is not a commit, branch or tag of "
                            f"{self.repo}") from None
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="llmbench-ab-"))
            self._stack.callback(shutil.rmtree, self._tmp, True)
        worktree = self._tmp / name
        _git(["worktree", "add", "--detach", "--quiet", str(worktree), commit], self.repo)
        self._stack.callback(self._remove_worktree, worktree)
        cwd = worktree / self.cwd.relative_to(self.repo)
        src = [str(worktree / "src")] if (worktree / "src").is_dir() else []
        launch = Launch(self.python, cwd, base_env(src))
        return self._checked(Side(name, spec, launch, commit, self.python))

    def _remove_worktree(self, worktree: Path) -> None:
        if self.repo is None:
            return
        try:
            _git(["worktree", "remove", "--force", str(worktree)], self.repo)
        except SideError:
            _git(["worktree", "prune"], self.repo)

    def _checked(self, side: Side) -> Side:
        """The side's interpreter must import pytest and an llmbench that can serve rounds."""
        try:
            out = subprocess.run([side.python, "-c", CAN_RUN], cwd=side.launch.cwd,
                                 env=side.launch.env, capture_output=True, text=True,
                                 timeout=GIT_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SideError(f"side {side.describe()} cannot run: {exc}") from None
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
            hint = (" (its llmbench predates `llmbench ab`: pick a later ref)"
                    if "ab_worker" in out.stderr else "")
            raise SideError(f"side {side.describe()} cannot run: {last}{hint}")
        version, llmbench, location = out.stdout.split()
        return Side(side.name, side.spec, side.launch, side.commit, side.python,
                    f"llmbench {llmbench} ({location}), Python {version}")
