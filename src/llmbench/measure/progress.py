"""Progress of long benchmarks (steps, loss) through the standard ``llmbench`` logger.

Runners log to ``logging.getLogger("llmbench.<suite>")`` at INFO. The pytest plugin shows the
lines live while a benchmark runs (``pytest_plugin.progress``; ``-q`` or ``--bench-progress
off`` silences it); pytest keeps them with each test's captured log too. Usage in a loop::

    progress = StepProgress("lora r8", total=steps)
    for step in range(1, steps + 1):
        ...
        progress.update(step, loss=loss)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


def get_logger(suite: str) -> logging.Logger:
    return logging.getLogger(f"llmbench.{suite}")


class StepProgress:
    """Logs ``label: step 12/30 (40%) loss=2.314 · 1.9 s/step · ~34 s left`` at INFO, at most
    once every ``every_s`` seconds, plus always the first and the last step. ``unit`` names
    what is counted (step, question, judgment)."""

    def __init__(self, label: str, total: int, *, logger: logging.Logger | None = None,
                 every_s: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 unit: str = "step") -> None:
        self.label = label
        self.total = total
        self.logger = logger or logging.getLogger("llmbench")
        self.every_s = every_s
        self.clock = clock
        self.start = clock()
        self.last_logged: float | None = None
        self.unit = unit

    def update(self, step: int, **values: float) -> None:
        now = self.clock()
        due = self.last_logged is None or now - self.last_logged >= self.every_s
        if not (due or step >= self.total):
            return
        self.last_logged = now
        if not self.logger.isEnabledFor(logging.INFO):
            return
        shown = "".join(f" {k}={v:.4g}" for k, v in values.items())
        elapsed = now - self.start
        per_step = elapsed / step if step > 0 else 0.0
        left = per_step * max(self.total - step, 0)
        self.logger.info("%s: %s %d/%d (%d%%)%s · %.2f s/%s · ~%.0f s left", self.label,
                         self.unit, step, self.total, 100 * step // max(self.total, 1), shown,
                         per_step, self.unit, left)
