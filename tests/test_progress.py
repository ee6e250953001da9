"""StepProgress: rate-limited INFO lines on the llmbench logger."""

from __future__ import annotations

import logging

from llmbench.measure.progress import StepProgress, get_logger


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_logs_first_every_interval_and_last_step(caplog):
    clock = FakeClock()
    progress = StepProgress("lora r8", total=10, logger=get_logger("lora"), every_s=3.0,
                            clock=clock)
    with caplog.at_level(logging.INFO, logger="llmbench"):
        for step in range(1, 11):
            clock.now += 1.0
            progress.update(step, loss=3.0 / step)
    steps = [r.getMessage().split(" (")[0] for r in caplog.records]
    assert steps == ["lora r8: step 1/10", "lora r8: step 4/10", "lora r8: step 7/10",
                     "lora r8: step 10/10"]
    assert caplog.records[0].name == "llmbench.lora"
    assert caplog.records[1].getMessage() == (
        "lora r8: step 4/10 (40%) loss=0.75 · 1.00 s/step · ~6 s left")


def test_silent_unless_info_is_enabled(caplog):
    with caplog.at_level(logging.WARNING, logger="llmbench"):
        StepProgress("quiet", total=2).update(2, loss=1.0)
    assert caplog.records == []


def test_the_training_loop_reports_progress_at_info(caplog):
    import logging

    from llmbench.measure.training import TrainConfig, train
    from llmbench.sources.data import TokenizedExample
    from llmbench.sources.models import load_model

    model = load_model("tiny-opt-random")
    examples = [TokenizedExample([5, 6, 7, 8], [-100, 6, 7, 8])] * 4
    with caplog.at_level(logging.INFO, logger="llmbench.train"):
        train(model, examples, TrainConfig(steps=3, batch_size=2, lr=1e-3, name="lora r8 test"),
              pad_token_id=0)
    lines = [r.getMessage() for r in caplog.records if r.name == "llmbench.train"]
    assert lines[0].startswith("lora r8 test: step 1/3") and "loss=" in lines[0]
    assert lines[-1].startswith("lora r8 test: step 3/3 (100%)")
