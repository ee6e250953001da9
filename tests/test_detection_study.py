from llmbench.tools.detection_study import _change, _why, to_markdown


def test_why_names_the_metrics_that_were_not_passes():
    message = ("metric  baseline  current  verdict\n"
               "rss_growth_mb [MB]  6.6  42.9  +549%  ✗ regressed\n"
               "runtime_s [s]  2.57  3.11  +21%  ≈ within noise\n")
    record = {"outcome": "regressed", "reason": "", "message": message}
    assert _why(record) == "rss_growth_mb [MB] 6.6 42.9 +549% ✗ regressed"
    assert _why({"outcome": "busy", "reason": "machine 1.60x slower", "message": ""}) == (
        "machine 1.60x slower")
    assert _why({"outcome": "pass", "reason": "", "message": message}) == ""


def test_table_lists_each_cell_and_why_runs_did_not_pass():
    rows = [{"size": 0.0, "repeats": "auto", "runs": 2, "failed_runs": 0, "unconfirmed_runs": 0,
             "improved_runs": 0, "busy_runs": 1,
             "per_benchmark": {"lora_ranks/lora_rank/r8": {"pass": 1, "busy": 1}},
             "why": ["r8 busy: machine 1.60x slower"]},
            {"size": 0.25, "repeats": "5", "runs": 2, "failed_runs": 2, "unconfirmed_runs": 0,
             "improved_runs": 0, "busy_runs": 0,
             "per_benchmark": {"lora_ranks/lora_rank/r8": {"regressed": 2}}, "why": []}]
    table = to_markdown(rows, "smoke", "lora_rank and r8", ["--inject-how", "wait"], 2)
    assert "| 0 (unchanged) | auto | 0/2 | 0 | 0 | 1 | r8: pass 1, busy 1 |" in table
    assert "| +25% | 5 | 2/2 | 0 | 0 | 0 | r8: regressed 2 |" in table
    assert "pytest arguments `--inject-how wait`, with 2 CPU-bound processes" in table
    assert "* 0 (unchanged), --bench-repeats auto: r8 busy: machine 1.60x slower" in table


def test_a_metrics_change_is_listed_for_every_run_passes_included():
    record = {"comparison": {"relative_step_cost": {"current": 5.3, "baseline": 5.0, "change": 0.3}}}
    assert round(_change(record, "relative_step_cost"), 6) == 0.06
    assert _change({"comparison": {}}, "relative_step_cost") is None
    assert _change({"comparison": {"m": {"current": 1.0, "baseline": None, "change": None}}}, "m") is None
    rows = [{"size": 0.1, "repeats": "5", "runs": 2, "failed_runs": 1, "unconfirmed_runs": 0,
             "per_benchmark": {"lora_ranks/lora_rank/r8": {"pass": 1, "regressed": 1}},
             "why": [], "changes": {"relative_step_cost": [
                 {"lora_ranks/lora_rank/r8": 0.031}, {"lora_ranks/lora_rank/r8": None}]}}]
    table = to_markdown(rows, "smoke", "lora_rank and r8")
    assert ("+10%, --bench-repeats 5: r8 `relative_step_cost` against its baseline, run by run: "
            "+3.1%, -") in table
