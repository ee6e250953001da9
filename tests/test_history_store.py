"""The history store on SQLite and on a real PostgreSQL server: rows, idempotent appends,
concurrent writers, and a writer killed mid-transaction."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from history_support import postgres_db, postgres_url, session, variant  # noqa: F401

from llmbench.history import (
    HistoryError,
    HistoryStore,
    append_results,
    default_location,
    import_files,
    redact,
    resolve_location,
    run_from_results,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite")
    return request.getfixturevalue("postgres_db")


def test_rows_carry_what_the_issue_lists():
    run = run_from_results(session("smoke-a"), "smoke-a.json")
    assert run.commit == "c667cef988c621939f5c809a7ce84ead25c5553f"
    assert run.time.isoformat() == "2026-11-28T08:24:36+00:00"
    assert len(run.benchmarks) == 3
    row = next(r for r in run.metrics if r.benchmark_id == "lora_ranks/lora_rank/r8"
               and r.metric == "runtime_s")
    assert row.hardware_key == "cpu/AMD EPYC x2" and row.profile == "smoke"
    assert row.device == "cpu" and len(row.config_hash) == 16
    assert row.packages["torch"] == "2.13.0+cpu"
    assert len(row.samples) == 20 and row.value == pytest.approx(sorted(row.samples)[9:11][0],
                                                                 rel=0.1)
    assert row.outcome == "updated"  # copied as is: the vocabulary belongs to the plugin


def test_run_id_is_stable_and_distinguishes_runs():
    a, b = session("smoke-a"), session("smoke-b")
    assert run_from_results(a, "x").run_id == run_from_results(a, "y").run_id
    assert run_from_results(a, "x").run_id != run_from_results(b, "x").run_id


@pytest.mark.parametrize("broken, field", [
    (lambda d: d["provenance"].pop("date"), "provenance.date"),
    (lambda d: d["provenance"].update(date="last tuesday"), "provenance.date"),
    (lambda d: d["benchmarks"][0].pop("benchmark_id"), "'benchmark_id'"),
    (lambda d: d["benchmarks"][0]["result"]["metrics"]["runtime_s"].pop("value"),
     "result.metrics.runtime_s.value"),
])
def test_bad_results_name_the_file_and_field(broken, field):
    doc = session("smoke-a")
    broken(doc)
    with pytest.raises(ValueError, match=rf"bad\.json.*{field}"):
        run_from_results(doc, "bad.json")


def test_nan_values_are_stored_as_null():
    doc = session("smoke-a")
    doc["benchmarks"][0]["result"]["metrics"]["runtime_s"]["value"] = "nan"
    row = next(r for r in run_from_results(doc, "x").metrics if r.metric == "runtime_s")
    assert row.value is None


def test_append_stores_every_metric_once(location):
    doc = session("smoke-a")
    run, new = append_results(location, doc, "smoke-a.json")
    assert new
    _, again = append_results(location, doc, "smoke-a.json")
    assert not again
    with HistoryStore(location) as store:
        assert store.count() == len(run.metrics) == 55
        assert len(store.runs()) == 1
        rows = list(store.measurement_rows(benchmark="lora_ranks/lora_rank/r8",
                                           metric="runtime_s"))
    assert len(rows) == 1
    assert rows[0]["samples"] == doc["benchmarks"][0]["result"]["metrics"]["runtime_s"][
        "samples"]
    assert rows[0]["run_time"].isoformat() == "2026-11-28T08:24:36+00:00"
    assert rows[0]["packages"]["transformers"] == "5.24.0"


def test_import_of_the_recorded_sessions(location):
    paths = sorted((Path(__file__).resolve().parents[1] / "docs/noise-study/sessions"
                    ).glob("*.json"))
    stored = import_files(location, paths)
    assert [new for _, _, new in stored] == [True] * 6
    assert [new for _, _, new in import_files(location, paths)] == [False] * 6
    with HistoryStore(location) as store:
        assert store.count() == 3 * 15 + 3 * 55
        assert [r["run_time"].isoformat()[:10] for r in store.runs()] == ["2026-11-28"] * 6


def test_import_checks_every_file_before_writing(location, tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(session("smoke-a")))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        import_files(location, [good, bad])
    with HistoryStore(location) as store:
        assert store.count() == 0


def test_a_failing_insert_leaves_no_half_written_run(location):
    run = run_from_results(session("smoke-a"), "x")
    run.metrics[30].unit = None  # NOT NULL: the database rejects the 31st row
    with HistoryStore(location) as store:
        with pytest.raises(HistoryError, match="cannot append run"):
            store.append(run)
        assert store.count() == 0 and store.runs() == []


WRITER = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    from history_support import session, variant
    from llmbench.history import append_results
    location, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    base = session("smoke-a")
    new = 0
    for i in range(count):
        new += append_results(location, variant(base, worker * 100 + i), "w")[1]
    # every writer also appends the same shared run: exactly one of them stores it
    new += append_results(location, variant(base, 9999), "shared")[1]
    print(json.dumps({{"new": new}}))
""")


def test_concurrent_writers_lose_and_duplicate_nothing(location, tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(tests=str(Path(__file__).parent)))
    writers, each = 6, 4
    procs = [subprocess.Popen([sys.executable, str(script), location, str(w), str(each)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(writers)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    stored = sum(json.loads(out)["new"] for out, _ in outputs)
    assert stored == writers * each + 1
    with HistoryStore(location) as store:
        runs = store.runs()
        assert len(runs) == writers * each + 1
        assert len({r["run_id"] for r in runs}) == len(runs)
        assert store.count() == 55 * len(runs)


KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from sqlalchemy import event
    from history_support import session
    from llmbench.history import HistoryStore, run_from_results
    store = HistoryStore(sys.argv[1])
    seen = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def die(conn, cursor, statement, *args):
        if "INSERT INTO llmbench_measurements" in statement:
            os.kill(os.getpid(), signal.SIGKILL)  # the run row is already inserted

    store.append(run_from_results(session("smoke-a"), "killed"))
""")


def test_a_writer_killed_mid_run_leaves_nothing(location, tmp_path):
    script = tmp_path / "killed.py"
    script.write_text(KILLED_WRITER.format(tests=str(Path(__file__).parent)))
    proc = subprocess.run([sys.executable, str(script), location], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    with HistoryStore(location) as store:
        assert store.runs() == [] and store.count() == 0
        # and the same run can be stored afterwards
        assert store.append(run_from_results(session("smoke-a"), "again"))


def test_default_location_is_next_to_the_report(tmp_path, monkeypatch):
    monkeypatch.delenv("LLMBENCH_HISTORY", raising=False)
    assert default_location(Path(".llmbench")) == Path(".llmbench/history.sqlite")
    assert default_location(Path(".llmbench/smoke")) == Path(".llmbench/history.sqlite")
    assert default_location(Path("reports/nightly")) == Path("reports/history.sqlite")
    assert resolve_location(None, Path("reports/nightly")) == "reports/history.sqlite"
    monkeypatch.setenv("LLMBENCH_HISTORY", "postgresql://u:secret@db/h")
    assert resolve_location(None, Path("x")) == "postgresql://u:secret@db/h"
    assert resolve_location("h.sqlite", Path("x")) == "h.sqlite"


def test_urls_are_printed_without_password_and_unknown_databases_refused():
    assert "secret" not in redact("postgresql://u:secret@db:5432/h")
    with pytest.raises(HistoryError, match="unsupported database 'mysql'"):
        HistoryStore("mysql://u:secret@127.0.0.1/h")


def test_unreachable_postgres_is_a_clear_error():
    with pytest.raises(HistoryError, match=r"cannot open the history at postgresql://u:\*\*\*"):
        HistoryStore("postgresql://u:secret@127.0.0.1:1/h")


def test_a_second_process_does_not_see_a_run_before_its_commit(location):
    doc = variant(session("smoke-a"), 1)
    first = HistoryStore(location)
    assert first.append(run_from_results(doc, "a"))
    with HistoryStore(location) as other:
        assert len(other.runs()) == 1
    first.close()
