"""The words a verdict may use: one per metric (``Verdict``) and one per benchmark (``Outcome``).

Each kind is distinct, has its own symbol (terminal: one narrow character; summary.md: an
emoji) and either fails the test or does not. ``KINDS`` is the legend written into
results.json and the README.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum


class Verdict(str, Enum):
    """How one metric compares with its baseline."""

    PASS = "pass"  # within tolerance
    IMPROVED = "improved"  # better beyond tolerance, with evidence
    REGRESSED = "regressed"  # worse beyond tolerance, with evidence (significant, or exact)
    UNCONFIRMED = "unconfirmed"  # worse beyond tolerance, suggestive but not significant
    WITHIN_NOISE = "within noise"  # beyond tolerance, but the samples show no real shift
    # better beyond noise on one view of the speed (absolute / relative to a reference) while
    # the other view regressed: not an improvement (regression.views)
    CONFLICTING = "conflicting"
    BUSY = "busy"  # other work took the CPU: a cost metric is not judged
    FAILED = "failed"  # NaN or inf
    NONDETERMINISTIC = "nondeterministic"  # repeats of a FIXED / SEEDED metric disagreed
    UNAVAILABLE = "unavailable"  # could not be computed here (reason in the row)
    MISSING = "missing"  # the baseline has it, this run does not (and says no reason)
    NEW = "new"  # this run has it, the baseline does not
    NOT_COMPARED = "not compared"  # cost metric without a baseline for this hardware / skipped
    RECORDED = "recorded"  # informational, never compared

    @property
    def fails(self) -> bool:
        return self in (Verdict.REGRESSED, Verdict.FAILED, Verdict.NONDETERMINISTIC,
                        Verdict.MISSING)

    @property
    def compared(self) -> bool:
        """Was the metric actually judged against a baseline value?"""
        return self in (Verdict.PASS, Verdict.IMPROVED, Verdict.REGRESSED, Verdict.UNCONFIRMED,
                        Verdict.WITHIN_NOISE)

    @property
    def symbol(self) -> str:
        return KINDS[self.value].symbol

    @property
    def emoji(self) -> str:
        return KINDS[self.value].emoji


class Outcome(str, Enum):
    """One benchmark's overall verdict."""

    PASS = "pass"
    IMPROVED = "improved"
    REGRESSED = "regressed"
    UNCONFIRMED = "unconfirmed"
    CONFLICTING = "conflicting"
    BUSY = "busy"
    FAILED = "failed"  # a metric is NaN/inf or not reproducible, or the benchmark crashed
    UNAVAILABLE = "unavailable"  # the benchmark cannot run here (skipped with a reason)
    MISSING = "missing"
    NOT_COMPARABLE = "not comparable"  # the benchmark's params changed since the baseline
    NEW = "new"  # no baseline for this benchmark (or this device class) yet
    NOT_COMPARED = "not compared"  # nothing could be compared (e.g. --no-cost-compare)
    UPDATED = "updated"  # --update-baselines wrote it
    ERROR = "error"  # the baseline file is unusable or unwritable, or an endpoint went away

    @property
    def fails(self) -> bool:
        return self in (Outcome.REGRESSED, Outcome.FAILED, Outcome.MISSING,
                        Outcome.NOT_COMPARABLE, Outcome.NEW, Outcome.ERROR)

    @property
    def symbol(self) -> str:
        return KINDS[self.value].symbol

    @property
    def emoji(self) -> str:
        return KINDS[self.value].emoji


@dataclass(frozen=True)
class Kind:
    symbol: str  # one narrow character, for the terminal
    emoji: str  # for summary.md
    fails: bool
    meaning: str


KINDS: dict[str, Kind] = {
    "pass": Kind("✓", "✅", False, "within tolerance"),
    "improved": Kind("↑", "✨", False, "better beyond tolerance, with evidence; consider "
                                       "--update-baselines"),
    "regressed": Kind("✗", "❌", True, "worse beyond tolerance, with evidence (significant "
                                      "given the samples and the measured noise, or exact)"),
    "unconfirmed": Kind("?", "🔶", False, "worse beyond tolerance but not significant: re-run "
                                         "with more --bench-repeats to confirm or clear it"),
    "within noise": Kind("≈", "〰️", False, "beyond tolerance, but the samples show no real "
                                           "shift"),
    "conflicting": Kind("⇅", "🔀", False, "faster on one view of the speed (absolute, or "
                                         "relative to a reference timed beside it) while the "
                                         "other regressed: not an improvement; the reason "
                                         "says what slowed"),
    "busy": Kind("⧗", "⏳", False, "other work measurably took the CPU (the process waited in "
                                 "the run queue, or a CPU quota throttled it) or the machine "
                                 "ran at another speed than when the baseline was recorded "
                                 "(speed probe): cost metrics not judged"),
    "failed": Kind("!", "💥", True, "NaN/inf, a metric that did not reproduce, or a crash"),
    "nondeterministic": Kind("≠", "🎲", True, "a fixed or seeded metric varied across "
                                             "repeats that should reproduce"),
    "unavailable": Kind("∅", "🚫", False, "could not be computed or run here (reason given)"),
    "missing": Kind("-", "❓", True, "in the baseline, absent from this run, no reason given"),
    "new": Kind("+", "🆕", False, "metric: not in the baseline yet; benchmark: no baseline "
                                 "(fails until one is recorded)"),
    "not compared": Kind("·", "⏭️", False, "nothing to compare against here (cost baseline "
                                          "from other hardware, or --no-cost-compare)"),
    "recorded": Kind(" ", "", False, "informational, never compared"),
    "not comparable": Kind("≉", "⚠️", True, "the benchmark's params changed since the "
                                           "baseline"),
    "updated": Kind("✎", "📝", False, "baseline rewritten by --update-baselines"),
    "error": Kind("‼", "🛑", True, "the baseline file is unusable or could not be written, or a "
                                  "remote endpoint could not be connected to (its URL and the "
                                  "error are given)"),
}
# "new" fails at the benchmark level (no baseline at all), not at the metric level.
BENCHMARK_KINDS = {o.value: replace(KINDS[o.value], fails=o.fails) for o in Outcome}
METRIC_KINDS = {v.value: replace(KINDS[v.value], fails=v.fails) for v in Verdict}


def outcome_of(verdicts: list[Verdict]) -> Outcome:
    """A benchmark's outcome from its metrics' verdicts, worst first."""
    found = set(verdicts)
    for verdict, outcome in ((Verdict.FAILED, Outcome.FAILED),
                             (Verdict.NONDETERMINISTIC, Outcome.FAILED),
                             (Verdict.REGRESSED, Outcome.REGRESSED),
                             (Verdict.MISSING, Outcome.MISSING),
                             (Verdict.UNCONFIRMED, Outcome.UNCONFIRMED),
                             (Verdict.CONFLICTING, Outcome.CONFLICTING),
                             (Verdict.IMPROVED, Outcome.IMPROVED),
                             (Verdict.BUSY, Outcome.BUSY)):
        if verdict in found:
            return outcome
    if not any(v.compared for v in found):
        return Outcome.NOT_COMPARED
    return Outcome.PASS
