"""The messages between ``llmbench ab`` and a side's worker: one JSON object per line.

A worker is a pytest session of one side (``pytest ... --ab-worker R,W``) that reads commands
from file descriptor R and writes events to W; pytest's own output goes elsewhere (a log), so
nothing a benchmark prints can corrupt the channel.

Events (worker -> controller), in the order a session sends them:

* ``hello``: protocol version, llmbench version, interpreter;
* ``collected``: the node ids pytest selected, in run order;
* ``ready``: a benchmark reached ``regression.measure`` (or ``check``) and waits for rounds
  (``repeatable`` false: it measured itself once, ``regression.check``);
* ``round``: one run's ``Result`` dict, or ``stopped``: the run raised (the message says why);
* ``finished``: pytest's verdict on a test (passed, failed, skipped) with its message;
* ``done``: the session ended.

Commands (controller -> worker): ``round`` (run the benchmark once more), ``next`` (go on to
the next benchmark), ``quit`` (end the session now). A worker started with ``--ab-only NODEID``
runs that test alone (cold rounds: a fresh process per round).
"""

from __future__ import annotations

import json
from typing import IO, Any

PROTOCOL_VERSION = 1
WORKER_OPTION = "--ab-worker"
ONLY_OPTION = "--ab-only"


class Channel:
    """Both ends use it: ``send`` writes one JSON line, ``receive`` reads one (None at EOF)."""

    def __init__(self, reader: IO[str], writer: IO[str]) -> None:
        self.reader = reader
        self.writer = writer

    def send(self, message: dict[str, Any]) -> None:
        self.writer.write(json.dumps(message, default=str) + "\n")
        self.writer.flush()

    def receive(self) -> dict[str, Any] | None:
        line = self.reader.readline()
        return json.loads(line) if line else None


def parse_fds(text: str) -> tuple[int, int]:
    """``"R,W"`` -> (R, W): the worker's command and event file descriptors."""
    try:
        read, write = (int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"{WORKER_OPTION} wants two file descriptors 'R,W', got "
                         f"{text!r}") from None
    return read, write
