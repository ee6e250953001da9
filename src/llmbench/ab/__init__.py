"""Same-runner A/B: two versions of the project (git refs) or two environments (interpreters),
measured side by side in rounds and judged on their paired ratios (``llmbench ab``).

* ``protocol``: the JSON-lines messages between the controller and a side's worker (the worker
  end lives in ``pytest_plugin.ab_worker``);
* ``sides``: what each side is (a git ref checked out into a temporary worktree, or
  ``python:PATH``) and how its worker starts;
* ``workers``: one worker process, its pipes and its CPU affinity;
* ``schedules``: one round of both sides, interleaved (RMIT) or at once (duet);
* ``paired``: the statistics of paired rounds (Hodges-Lehmann estimate, Wilcoxon interval);
* ``judge``: a benchmark's rounds of both sides as verdicts, in the plugin's words;
* ``runner``: the benchmarks of both sides in lockstep, rounds until decided;
* ``report``: the terminal table, summary.md, results.json and the history.

May import: ``llmbench.core``, ``llmbench.regression``, ``llmbench.measure.machine``,
``llmbench.report``, ``llmbench.history``; numpy and scipy. Never pytest or torch: the
workers run them.
"""
