"""Measure: the shared measurement layer used by every suite.

The measured training loop (``training``), trackers (time, RSS, CUDA memory), round timers for
fixed inference workloads (``latency``), per-step progress, and the CUDA out-of-memory guard.
Knows nothing of baselines, suites or pytest.

May import: ``llmbench.core``, ``llmbench.regression``, ``llmbench.sources``; torch, psutil.
"""
