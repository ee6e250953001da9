"""The history database: SQLite by default, PostgreSQL for teams, one schema through SQLAlchemy.

Why SQLAlchemy Core (with psycopg 3 as the PostgreSQL driver) rather than psycopg alone: the
same table definitions, queries and transaction code serve both databases (sqlite3 and psycopg
differ in parameter style, upsert syntax and locking), and SQLAlchemy is already in this stack
through LangChain. No ORM: rows are plain dicts.

Writes are all-or-nothing per run: the run row, its benchmarks and its metric rows go into one
transaction, keyed by the run id (a hash of the results), so a crash leaves nothing behind and a
second append of the same run (another process, a later import) stores nothing twice.
SQLite writers take the write lock at BEGIN (``BEGIN IMMEDIATE``) and wait for each other (busy
timeout); PostgreSQL serializes duplicate run ids through the primary key.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from llmbench.history.ab_rows import AbRun
from llmbench.history.rows import Run

SCHEMA_VERSION = 1
ENV_VAR = "LLMBENCH_HISTORY"
DEFAULT_FILE = "history.sqlite"
SQLITE_BUSY_TIMEOUT_S = 120  # a waiting writer gives up after this long
_PG_SCHEMA_LOCK = 0x6C6C6D62  # advisory lock id: concurrent first runs create the tables once

metadata = MetaData()

meta = Table("llmbench_meta", metadata,
             Column("key", Text, primary_key=True),
             Column("value", Text, nullable=False))

runs = Table("llmbench_runs", metadata,
             Column("run_id", Text, primary_key=True),
             Column("commit", Text),
             Column("dirty", Boolean),
             Column("run_time", DateTime(timezone=True), nullable=False),
             Column("source", Text, nullable=False),
             Column("recorded_at", DateTime(timezone=True), nullable=False),
             Column("n_benchmarks", Integer, nullable=False),
             Column("n_metrics", Integer, nullable=False))

benchmarks = Table("llmbench_benchmarks", metadata,
                   Column("run_id", Text, ForeignKey("llmbench_runs.run_id"), nullable=False),
                   Column("benchmark_id", Text, nullable=False),
                   Column("profile", Text, nullable=False),
                   Column("device", Text, nullable=False),
                   Column("hardware_key", Text, nullable=False),
                   Column("config_hash", Text),
                   Column("outcome", Text),
                   Column("message", Text, nullable=False),
                   PrimaryKeyConstraint("run_id", "benchmark_id", "profile", "device"))

# One row per (run, benchmark, metric), with everything a query needs on the row itself.
measurements = Table("llmbench_measurements", metadata,
                     Column("run_id", Text, ForeignKey("llmbench_runs.run_id"), nullable=False),
                     Column("benchmark_id", Text, nullable=False),
                     Column("profile", Text, nullable=False),
                     Column("device", Text, nullable=False),
                     Column("metric", Text, nullable=False),
                     Column("commit", Text),
                     Column("run_time", DateTime(timezone=True), nullable=False),
                     Column("hardware_key", Text, nullable=False),
                     Column("config_hash", Text),
                     Column("seed_policy", Text, nullable=False),
                     Column("outcome", Text),
                     Column("value", Float),
                     Column("unit", Text, nullable=False),
                     Column("direction", Text, nullable=False),
                     Column("scope", Text, nullable=False),
                     Column("determinism", Text),
                     Column("compared", Boolean, nullable=False),
                     Column("rel_tol", Float),
                     Column("abs_tol", Float),
                     Column("samples", JSON),
                     Column("verdict", Text),
                     Column("baseline", Float),
                     Column("allowed", Float),
                     Column("packages", JSON, nullable=False),
                     PrimaryKeyConstraint("run_id", "benchmark_id", "profile", "device",
                                          "metric"),
                     Index("llmbench_measurements_series", "benchmark_id", "metric",
                           "hardware_key", "run_time"))

# A/B runs (llmbench ab) are their own kind: not nights of a series, so in tables of their own.
ab_runs = Table("llmbench_ab_runs", metadata,
                Column("run_id", Text, primary_key=True),
                Column("run_time", DateTime(timezone=True), nullable=False),
                Column("source", Text, nullable=False),
                Column("recorded_at", DateTime(timezone=True), nullable=False),
                Column("base", Text, nullable=False),
                Column("base_commit", Text),
                Column("candidate", Text, nullable=False),
                Column("candidate_commit", Text),
                Column("schedule", Text, nullable=False),
                Column("exit_code", Integer, nullable=False),
                Column("n_benchmarks", Integer, nullable=False),
                Column("settings", JSON, nullable=False))

ab_measurements = Table("llmbench_ab_measurements", metadata,
                        Column("run_id", Text, ForeignKey("llmbench_ab_runs.run_id"),
                               nullable=False),
                        Column("benchmark_id", Text, nullable=False),
                        Column("profile", Text, nullable=False),
                        Column("device", Text, nullable=False),
                        Column("metric", Text, nullable=False),
                        Column("outcome", Text),
                        Column("verdict", Text),
                        Column("value_a", Float),
                        Column("value_b", Float),
                        Column("unit", Text, nullable=False),
                        Column("change", Float),
                        Column("low", Float),
                        Column("high", Float),
                        Column("rounds", Integer),
                        Column("decided", Boolean, nullable=False),
                        PrimaryKeyConstraint("run_id", "benchmark_id", "profile", "device",
                                             "metric"))


class _AlreadyStored(Exception):
    pass


class HistoryError(RuntimeError):
    """The history store cannot be opened or written; the message names the location."""


def default_location(report_dir: Path) -> Path:
    """``.llmbench/history.sqlite``: in the ``.llmbench`` folder that holds the report (the
    default ``--bench-report .llmbench`` or ``.llmbench/smoke``), else beside the report dir."""
    report_dir = Path(report_dir)
    for folder in (report_dir, *report_dir.parents):
        if folder.name == ".llmbench":
            return folder / DEFAULT_FILE
    return report_dir.parent / DEFAULT_FILE


def resolve_location(option: str | None, report_dir: Path | None = None) -> str:
    """The option, else ``$LLMBENCH_HISTORY``, else the default next to the report dir."""
    if option:
        return option
    if os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR]
    return str(default_location(report_dir if report_dir is not None else Path(".llmbench")))


def redact(location: str) -> str:
    """The location as it may be printed: a URL's password is masked."""
    if "://" not in location:
        return location
    try:
        return make_url(location).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def make_engine(location: str) -> Engine:
    """A path or ``sqlite:///PATH`` opens SQLite; ``postgresql://…`` PostgreSQL via psycopg 3."""
    if "://" not in location:
        return _sqlite_engine(Path(location))
    try:
        url = make_url(location)
    except ArgumentError as exc:
        raise HistoryError(f"history location {redact(location)!r} is not a database URL: "
                           f"{exc}") from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return create_engine(url, poolclass=NullPool)
    if backend == "sqlite" and url.database:
        return _sqlite_engine(Path(url.database))
    raise HistoryError(f"history location {redact(location)!r}: unsupported database "
                       f"{backend!r}; use a file path, sqlite:///PATH or postgresql://…")


def _sqlite_engine(path: Path) -> Engine:
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool,
                           connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    # pysqlite's own transaction handling begins lazily and deferred; take the write lock at
    # BEGIN instead, so two writers queue on the busy timeout rather than deadlock mid-way.
    @event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class HistoryStore:
    def __init__(self, location: str) -> None:
        self.location = location
        self.engine = make_engine(location)
        try:
            self._create_schema()
        except SQLAlchemyError as exc:
            raise HistoryError(f"cannot open the history at {redact(location)}: "
                               f"{_short(exc)}") from None

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    def _create_schema(self) -> None:
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_SCHEMA_LOCK})
            metadata.create_all(conn, checkfirst=True)
            found = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")
                                 ).scalar_one_or_none()
            if found is None:
                conn.execute(insert(meta).values(key="schema_version",
                                                 value=str(SCHEMA_VERSION)))
            elif int(found) > SCHEMA_VERSION:
                raise HistoryError(f"the history at {redact(self.location)} has schema "
                                   f"version {found}; this llmbench reads up to "
                                   f"{SCHEMA_VERSION}: upgrade llmbench")

    def append(self, run: Run) -> bool:
        """Store the run in one transaction; False when it was already stored."""
        recorded_at = datetime.now(timezone.utc)
        try:
            with self.engine.begin() as conn:
                try:
                    conn.execute(insert(runs).values(
                        run_id=run.run_id, commit=run.commit, dirty=run.dirty,
                        run_time=run.time, source=run.source, recorded_at=recorded_at,
                        n_benchmarks=len(run.benchmarks), n_metrics=len(run.metrics)))
                except IntegrityError:
                    # Same run id: stored before, or by a concurrent writer that won the race.
                    raise _AlreadyStored from None
                if run.benchmarks:
                    conn.execute(insert(benchmarks), [
                        {"run_id": run.run_id, **asdict(row)} for row in run.benchmarks])
                if run.metrics:
                    conn.execute(insert(measurements), [
                        {"run_id": run.run_id, "commit": run.commit, "run_time": run.time,
                         **asdict(row)} for row in run.metrics])
        except _AlreadyStored:
            return False  # leaving the block rolled the transaction back
        except SQLAlchemyError as exc:
            raise HistoryError(f"cannot append run {run.run_id[:12]} to the history at "
                               f"{redact(self.location)}: {_short(exc)}") from None
        return True

    def append_ab(self, run: AbRun) -> bool:
        """Store an A/B run in one transaction; False when it was already stored."""
        try:
            with self.engine.begin() as conn:
                try:
                    conn.execute(insert(ab_runs).values(
                        run_id=run.run_id, run_time=run.time, source=run.source,
                        recorded_at=datetime.now(timezone.utc), base=run.base,
                        base_commit=run.base_commit, candidate=run.candidate,
                        candidate_commit=run.candidate_commit, schedule=run.schedule,
                        exit_code=run.exit_code, n_benchmarks=run.n_benchmarks,
                        settings=run.settings))
                except IntegrityError:
                    raise _AlreadyStored from None
                if run.metrics:
                    conn.execute(insert(ab_measurements), [
                        {"run_id": run.run_id, **asdict(row)} for row in run.metrics])
        except _AlreadyStored:
            return False
        except SQLAlchemyError as exc:
            raise HistoryError(f"cannot append A/B run {run.run_id[:12]} to the history at "
                               f"{redact(self.location)}: {_short(exc)}") from None
        return True

    def ab_runs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(ab_runs).order_by(ab_runs.c.run_time,
                                                         ab_runs.c.recorded_at))
            return [_utc(dict(row._mapping)) for row in rows]

    def ab_measurement_rows(self, run_id: str) -> list[dict[str, Any]]:
        query = (select(ab_measurements).where(ab_measurements.c.run_id == run_id)
                 .order_by(ab_measurements.c.benchmark_id, ab_measurements.c.metric))
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def runs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs).order_by(runs.c.run_time, runs.c.recorded_at,
                                                      runs.c.run_id))
            return [_utc(dict(row._mapping)) for row in rows]

    def benchmark_rows(self) -> list[dict[str, Any]]:
        query = (select(benchmarks, runs.c.run_time, runs.c.commit)
                 .join(runs, runs.c.run_id == benchmarks.c.run_id)
                 .order_by(runs.c.run_time, runs.c.recorded_at, runs.c.run_id))
        with self.engine.connect() as conn:
            return [_utc(dict(row._mapping)) for row in conn.execute(query)]

    def measurement_rows(self, *, benchmark: str | None = None, metric: str | None = None
                         ) -> Iterator[dict[str, Any]]:
        """Metric rows in time order (optionally one benchmark id / metric name)."""
        # Runs of the same second (provenance dates have second resolution) in append order.
        query = (select(measurements).join(runs, runs.c.run_id == measurements.c.run_id)
                 .order_by(measurements.c.run_time, runs.c.recorded_at, runs.c.run_id))
        if benchmark:
            query = query.where(measurements.c.benchmark_id == benchmark)
        if metric:
            query = query.where(measurements.c.metric == metric)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield _utc(dict(row._mapping))

    def count(self, table: Table = measurements) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(text("count(*)")).select_from(table)).scalar_one())


def _utc(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite hands back naive datetimes; they were written in UTC."""
    for key, value in row.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            row[key] = value.replace(tzinfo=timezone.utc)
    return row


def _short(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
