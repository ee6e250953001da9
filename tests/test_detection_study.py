from llmbench.tools.detection_study import _why, to_markdown


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
             "per_benchmark": {"lora_ranks/lora_rank/r8": {"pass": 1, "busy": 1}},
             "why": ["r8 busy: machine 1.60x slower"]},
            {"size": 0.25, "repeats": "5", "runs": 2, "failed_runs": 2, "unconfirmed_runs": 0,
             "per_benchmark": {"lora_ranks/lora_rank/r8": {"regressed": 2}}, "why": []}]
    table = to_markdown(rows, "smoke", "lora_rank and r8")
    assert "| 0 (unchanged) | auto | 0/2 | 0 | r8: pass 1, busy 1 |" in table
    assert "| +25% | 5 | 2/2 | 0 | r8: regressed 2 |" in table
    assert "* 0 (unchanged), --bench-repeats auto: r8 busy: machine 1.60x slower" in table
