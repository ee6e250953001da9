"""The paired-verdict study (docs/rag-study): a small run of the real simulation."""

from llmbench.tools.paired_study import realized_drop, study, to_markdown


def test_the_paired_test_stays_quiet_unchanged_and_sees_a_clear_drop():
    rows = study(trials=5, rate_trials=5, settings=[(30, 0.05)])
    by_method = {r.method: r for r in rows}
    paired = by_method["paired, one run"]
    assert paired.false_alarms == 0 and paired.false_alarm_rate == 0.0
    assert paired.smallest is not None and paired.smallest <= 0.2
    welch = by_method["Welch t, one run"]
    assert welch.smallest is None or welch.smallest >= paired.smallest  # unpaired: less power
    table = to_markdown(rows, 5, 5)
    assert table.splitlines()[0].startswith("| Questions | Judge noise (sd) | Method |")
    assert "| 30 | 0.05 | paired, one run | 0 |" in table


def test_clipping_at_zero_leaves_a_smaller_mean_drop():
    assert realized_drop(0.05) < 0.05 and realized_drop(0.5) < 0.4
