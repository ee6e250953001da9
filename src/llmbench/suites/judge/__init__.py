"""Judge quality: every judge spec scored on labelled answers (AUCs, rank correlation, cost).

* ``runner`` -- ``run_judge_quality(settings, judge_spec) -> Result``; knows nothing of pytest.
"""

from llmbench.suites.judge.runner import SUITE, load_items, run_judge_quality

__all__ = ["SUITE", "load_items", "run_judge_quality"]
