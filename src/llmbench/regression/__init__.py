"""Regression: typed results, the comparison rule, statistics, repeats, baselines, environment.

Everything that turns measured numbers into verdicts lives here, and none of it needs torch or
pytest: the rules can be unit-tested (and reused by ``llmbench compare``) without either.

May import: ``llmbench.core`` and the standard library. Never torch, never pytest at module level.
"""
