"""Which xdist worker runs which benchmark, in a CPU run that ``layout`` spread over the cores.

xdist's ``load`` hands the tests out in collection order, a chunk at a time. For benchmarks
that costs two ways:

* benchmarks that share an expensive per-process setup run on every worker and pay for it on
  each: the judge model and its AUCs on the labelled answers (about 20 s of a smoke run) were
  measured by both workers;
* a long benchmark handed out last leaves the other cores idle at the end.

So a spread run uses this scheduler instead:

* tests with the same ``xdist_group`` marker stay on the worker that took the first of them
  (xdist's own ``--dist loadgroup`` cannot be used: it renames the tests, which pytest 9.2
  ignores, so nothing is grouped);
* the longest work goes first (longest processing time first): a group counts as one piece of
  work, its tests' times added. The times are the last spread run's of the same profile
  (pytest's cache, ``llmbench/durations/<profile>``), to the nearest 5 s so that the order,
  and with it which benchmarks run side by side, stays the same from run to run; without
  them, collection order;
* each worker holds one test beyond the one it runs (it starts a test when it knows the next),
  so whoever is free next gets the next piece of work;
* a worker with nothing else to do takes a test from another worker's group only when that
  group still has two or more waiting (it pays the group's setup once more).

The workers report each test's group: a worker cannot send more than the test ids with its
collection, so each writes ``{nodeid: group}`` to a file in a directory the controller names.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

SPREAD_KEY = pytest.StashKey[int]()  # the workers `layout.spread` started (set when it did)
DIR_KEY = "llmbench_schedule_dir"
DURATIONS_CACHE = "llmbench/durations"
COST_STEP_S = 5.0
GROUP_MARK = "xdist_group"


def judge_group(spec: str) -> pytest.MarkDecorator:
    """The mark of every benchmark that loads the judge ``spec`` and measures its AUCs (once a
    process): the judge-quality benchmark and each RAG configuration it scores."""
    return pytest.mark.xdist_group(f"judge:{spec}")


def group_of(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker(GROUP_MARK)
    if mark is None:
        return None
    return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))


def write_groups(items: list[pytest.Item], directory: Path, worker_id: str) -> None:
    groups = {item.nodeid: group for item in items if (group := group_of(item)) is not None}
    partial = directory / f"{worker_id}.tmp"
    partial.write_text(json.dumps(groups), encoding="utf-8")
    partial.replace(directory / f"{worker_id}.json")


def read_groups(directory: Path) -> dict[str, str]:
    """The groups one worker reported (all workers collect the same tests)."""
    for path in sorted(directory.glob("*.json")):
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return {}


def make_scheduler(config: pytest.Config, log: Any, directory: Path,
                   durations: dict[str, float]) -> Any:
    from xdist.scheduler import LoadScheduling

    class CostScheduling(LoadScheduling):
        """xdist's load scheduling with groups kept together and the longest work first."""

        def schedule(self) -> None:
            assert self.collection_is_completed
            if self.collection is not None:  # a node joined or left: top every node up
                for node in self.nodes:
                    self.check_schedule(node)
                return
            if not self._check_nodes_have_same_collection():
                self.log("**Different tests collected, aborting run**")
                return
            self.collection = next(iter(self.node2collection.values()))
            self.pending[:] = range(len(self.collection))
            # every worker has written its groups before it reported its collection
            self.plan = Plan(self.collection, read_groups(directory), durations)
            for node in self.nodes:
                self.check_schedule(node)

        def check_schedule(self, node: Any, duration: float = 0) -> None:
            if node.shutting_down or node not in self.node2pending:
                return
            queue = self.node2pending[node]
            while len(queue) < 2:
                index = self.plan.pick(node, self.pending, self.node2pending)
                if index is None:  # nothing more for this worker: it runs what it holds
                    node.shutdown()
                    return
                self.pending.remove(index)
                queue.append(index)
                node.send_runtest_some([index])

    return CostScheduling(config, log)


class Plan:
    """The order of the work and who owns which group (pure bookkeeping, no xdist)."""

    def __init__(self, collection: list[str], groups: dict[str, str],
                 durations: dict[str, float]) -> None:
        self.collection = collection
        self.group = {index: groups.get(nodeid) for index, nodeid in enumerate(collection)}
        # an unknown time sorts first: it may be long, and without any times this keeps the
        # collection order
        self.cost = {index: round(durations[nodeid] / COST_STEP_S) * COST_STEP_S
                     if nodeid in durations else math.inf
                     for index, nodeid in enumerate(collection)}
        self.owner: dict[str, Any] = {}

    def _owner(self, group: str, live: dict[Any, list[int]]) -> Any:
        owner = self.owner.get(group)
        return owner if owner in live else None  # a crashed worker owns nothing

    def _longest(self, indices: list[int]) -> int:
        return min(indices, key=lambda index: (-self.cost[index], index))

    def pick(self, node: Any, pending: list[int], live: dict[Any, list[int]]) -> int | None:
        if not pending:
            return None
        own = [i for i in pending if self.group[i] is not None
               and self._owner(self.group[i], live) is node]
        if own:
            return self._longest(own)
        units: dict[Any, list[int]] = {}  # an ungrouped test, or an unowned group
        for index in pending:
            group = self.group[index]
            if group is None:
                units[("test", index)] = [index]
            elif self._owner(group, live) is None:
                units.setdefault(("group", group), []).append(index)
        if units:
            key, members = min(units.items(), key=lambda unit: (
                -sum(self.cost[i] for i in unit[1]), min(unit[1])))
            if key[0] == "group":
                self.owner[key[1]] = node
            return self._longest(members)
        waiting: dict[str, list[int]] = {}
        for index in pending:
            waiting.setdefault(str(self.group[index]), []).append(index)
        stealable = [members for members in waiting.values() if len(members) >= 2]
        if stealable:
            return self._longest(max(stealable, key=lambda m: sum(self.cost[i] for i in m)))
        return None


class ControllerHooks:
    """The xdist controller of a spread run: the scheduler, and the times for the next run."""

    def __init__(self, config: pytest.Config, profile: str) -> None:
        self.config = config
        self.cache_key = f"{DURATIONS_CACHE}/{profile}"
        self.directory = Path(tempfile.mkdtemp(prefix="llmbench-schedule-"))
        self.durations: dict[str, float] = {}

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[DIR_KEY] = str(self.directory)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        return make_scheduler(config, log, self.directory, self._cached_durations())

    def _cached_durations(self) -> dict[str, float]:
        cache = getattr(self.config, "cache", None)
        if cache is None:  # -p no:cacheprovider
            return {}
        stored = cache.get(self.cache_key, {})
        return {str(k): float(v) for k, v in stored.items()} if isinstance(stored, dict) else {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.durations[report.nodeid] = self.durations.get(report.nodeid, 0.0) + report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        cache = getattr(self.config, "cache", None)
        if cache is not None and self.durations:
            cache.set(self.cache_key, {**self._cached_durations(), **self.durations})
        shutil.rmtree(self.directory, ignore_errors=True)


class WorkerHooks:
    """An xdist worker of a spread run: tell the controller each test's group."""

    def __init__(self, directory: Path, worker_id: str) -> None:
        self.directory, self.worker_id = directory, worker_id

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        write_groups(items, self.directory, self.worker_id)


def install(config: pytest.Config, profile: str) -> None:
    """Register the controller's or a worker's side (from ``pytest_configure``); ``profile``:
    the run's CPU profile (the times of one profile do not order another's)."""
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        if DIR_KEY in worker:
            config.pluginmanager.register(
                WorkerHooks(Path(worker[DIR_KEY]), worker["workerid"]), "llmbench-schedule")
    elif config.stash.get(SPREAD_KEY, 1) > 1:
        config.pluginmanager.register(ControllerHooks(config, profile), "llmbench-schedule")
