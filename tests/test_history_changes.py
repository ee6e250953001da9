"""Change points: ruptures binary segmentation on the noise-scaled series, a rank test per change."""

import numpy as np
import pytest
from history_support import nightly, session

from llmbench.cli import main
from llmbench.history import append_results
from llmbench.history.changes import change_points, is_regression


def noisy(n, rng, level=1.0, cv=0.03):
    return level * (1 + cv * rng.standard_normal(n))


def test_a_step_is_found_where_it_is_with_its_size():
    rng = np.random.default_rng(1)
    values = np.concatenate([noisy(25, rng), noisy(8, rng, level=1.2)])
    steps = change_points(values)
    assert [s.index for s in steps] == [25]
    assert steps[0].after / steps[0].before - 1 == pytest.approx(0.2, abs=0.03)
    assert steps[0].p_value < 1e-4


def test_noise_alone_gives_no_change():
    rng = np.random.default_rng(2)
    assert change_points(noisy(40, rng)) == []


def test_one_odd_run_is_not_a_persistent_shift():
    rng = np.random.default_rng(3)
    values = noisy(30, rng)
    values[12] *= 1.5
    assert change_points(values) == []


def test_deterministic_metrics_change_exactly():
    values = [100.0] * 10 + [101.0] * 3
    steps = change_points(values)
    assert [(s.index, s.p_value) for s in steps] == [(10, 0.0)]
    assert change_points([100.0] * 13) == []


@pytest.mark.parametrize("direction, delta, regression", [
    ("lower", +1, True), ("lower", -1, False), ("higher", -1, True), ("higher", +1, False),
    ("exact", +1, True), ("exact", -1, True)])
def test_regression_direction(direction, delta, regression):
    assert is_regression(direction, delta) is regression


def load_nights(location, docs):
    for doc in docs:
        append_results(location, doc, "night")


def test_changes_reports_the_shift_and_fails_while_it_is_new(tmp_path, capsys):
    location = str(tmp_path / "h.sqlite")
    load_nights(location, nightly(session("smoke-a"), 20, metric="runtime_s", shift_at=15,
                                  factor=1.2))
    assert main(["history", "changes", "--history", location, "--last", "6"]) == 1
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "runtime_s" in line]
    assert len(lines) == 1, out
    assert "lora_ranks/lora_rank/r8" in lines[0] and "cpu/AMD EPYC x2" in lines[0]
    assert f"{14:08x}"[:8] in lines[0] or "00000000..00000000" in lines[0]
    assert "+20." in lines[0] or "+19." in lines[0] or "+21." in lines[0]
    assert "regression (new: 5 run(s) ago)" in lines[0]
    assert "1 change point(s); 1 regression(s) starting in the last 6 run(s)" in out
    # Five runs later it is history, not news: the nightly job passes again.
    assert main(["history", "changes", "--history", location, "--last", "3"]) == 0


def test_an_improvement_does_not_fail(tmp_path, capsys):
    location = str(tmp_path / "h.sqlite")
    load_nights(location, nightly(session("smoke-a"), 20, metric="runtime_s", shift_at=17,
                                  factor=0.8))
    assert main(["history", "changes", "--history", location]) == 0
    assert "improvement" in capsys.readouterr().out


def test_a_params_change_is_not_a_change_point(tmp_path, capsys):
    location = str(tmp_path / "h.sqlite")
    docs = nightly(session("smoke-a"), 20, metric="runtime_s", shift_at=15, factor=1.3)
    for doc in docs[15:]:
        doc["benchmarks"][0]["result"]["params"]["steps"] = 99  # another config hash
    load_nights(location, docs)
    assert main(["history", "changes", "--history", location, "--metric", "runtime_s"]) == 0
    assert "no change points" in capsys.readouterr().out


def test_a_step_too_early_to_confirm_is_not_moved_to_where_it_can_be():
    """Recorded rss_max_mb: three runs at ~709 MB, then eight at ~585 MB. Three runs cannot
    reach α = 0.01 in a rank test, so there is no change yet, rather than one placed two runs
    late (where the test would pass, wrongly)."""
    values = [710.8, 708.3, 708.9, 586.2, 587.1, 585.2, 585.0, 584.7, 584.5, 584.9, 585.7]
    assert change_points(values) == []
    steps = change_points([709.5, 710.1, *values])
    assert [s.index for s in steps] == [5]
