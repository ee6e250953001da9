"""What can go wrong with a judge, by exception type (retries are decided by type)."""

from __future__ import annotations


class JudgeError(RuntimeError):
    """The judge cannot work at all (unknown model, bad key, rejected request)."""


class UnknownJudgeError(JudgeError, ValueError):
    pass


class JudgeUnavailable(JudgeError):
    """The judge needs something this machine lacks (an API key); benchmarks skip on it."""


class UnscoredReply(ValueError):
    """A judge reply without a usable score."""

