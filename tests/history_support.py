"""Shared by the history tests: recorded sessions as runs, and a real PostgreSQL server.

The PostgreSQL server comes from Debian's packages (`apt-get install postgresql`): initdb +
pg_ctl in a temporary directory, listening on 127.0.0.1 only, as the `postgres` user when the
tests run as root (initdb refuses root). Where PostgreSQL is not installed, the tests that need it
skip with the reason (a failure in CI, which installs it: tests/skip_policy.py); where it is
installed, a server that does not initialise or start fails them. The SQLite tests run
regardless.
"""

from __future__ import annotations

import copy
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# psycopg (llmbench[history]) is imported here, at collection, outside every in-process pytester
# run: a run removes the modules first imported inside it, and psycopg's C extension cannot be
# imported twice in one process (a second import raises the first import's exception classes,
# which SQLAlchemy then no longer recognises as the driver's).
import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = ROOT / "docs" / "noise-study" / "sessions"


def session(name: str) -> dict[str, Any]:
    return json.loads((SESSIONS / f"{name}.json").read_text())


def variant(results: dict[str, Any], night: int, commit: str | None = None) -> dict[str, Any]:
    """The same recorded run as if measured on another night (a distinct run id)."""
    doc = copy.deepcopy(results)
    doc["provenance"]["date"] = f"2026-12-{night % 28 + 1:02d}T02:{night // 28 % 60:02d}:00+00:00"
    doc["provenance"]["git_commit"] = commit or f"{night:040x}"
    return doc


def pg_bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_missing() -> str | None:
    """What this machine lacks to run a PostgreSQL server for the tests, or None: the server's
    programs, and a 'postgres' user to run them as when the tests run as root."""
    bindir = pg_bin_dir()
    if bindir is None or not (bindir / "initdb").exists():
        return ("PostgreSQL server not installed (initdb/pg_ctl not found): "
                "apt-get install -y postgresql")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
    return None


def start_postgres() -> Iterator[str]:
    """Yield a postgresql:// URL of a fresh server; stop and delete it afterwards. Skips where
    PostgreSQL is not installed; fails where it is and does not initialise or start."""
    missing = postgres_missing()
    if missing:
        pytest.skip(missing)
    bindir = pg_bin_dir()
    assert bindir is not None
    prefix: list[str] = []
    owner = None
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    workdir = Path(tempfile.mkdtemp(prefix="llmbench-pg-"))
    data = workdir / "data"
    if owner is not None:
        os.chown(workdir, owner.pw_uid, owner.pw_gid)
    port = _free_port()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.fail(f"cannot run {' '.join([*prefix, *args][:4])}: {exc}", pytrace=False)

    try:
        init = run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "llmbench",
                   "-E", "UTF8", "--no-sync")
        if init.returncode != 0:
            pytest.fail(f"initdb failed: {init.stderr.strip()[-400:]}", pytrace=False)
        start = run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(workdir / "log"), "-w",
                    "-t", "60", "-o",
                    f"-h 127.0.0.1 -p {port} -k {workdir} -c fsync=off -c max_connections=40",
                    "start")
        if start.returncode != 0:
            log = (workdir / "log").read_text() if (workdir / "log").exists() else ""
            pytest.fail(f"PostgreSQL did not start: {start.stderr.strip()[-300:]} {log[-300:]}",
                        pytrace=False)
        try:
            yield f"postgresql://llmbench@127.0.0.1:{port}/postgres"
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def nightly(results: dict[str, Any], nights: int, *, metric: str, shift_at: int | None = None,
            factor: float = 1.0, wobble: float = 0.01) -> list[dict[str, Any]]:
    """``nights`` runs made from one recorded run: ``metric`` of its first benchmark wobbles by
    ±``wobble`` (a fixed pattern) and is scaled by ``factor`` from night ``shift_at`` on."""
    docs = []
    for night in range(nights):
        doc = variant(results, night)
        data = doc["benchmarks"][0]["result"]["metrics"][metric]
        scale = (1 + wobble * ((night * 7) % 5 - 2) / 2)
        if shift_at is not None and night >= shift_at:
            scale *= factor
        base = data["value"]
        data["value"] *= scale
        data["samples"] = [v * scale for v in data.get("samples") or []]
        # as if compared with a baseline made from the recorded run, 10 % allowed
        doc["benchmarks"][0]["comparison"][metric] = {
            "verdict": "pass", "baseline": base, "allowed": 0.1 * base}
        docs.append(doc)
    return docs


@pytest.fixture(scope="module")
def postgres_url():
    """A PostgreSQL server for the module's tests (skips with the reason where PostgreSQL is not
    installed)."""
    yield from start_postgres()


@pytest.fixture
def postgres_db(postgres_url, request):
    """A fresh, empty database on that server for one test."""
    import hashlib

    name = "t_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:16]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"
