"""Which profile a benchmark runs: built-in or the project's, plus the command line's axes.

The project's profiles (``pyproject.toml`` / ``llmbench.toml`` around pytest's rootdir and the
directory pytest started in) and the override options are read once, in ``pytest_cmdline_main``
(which needs the CPU layout before xdist starts) or ``pytest_configure`` where a run calls no
``pytest_cmdline_main``; a problem there is a usage error before anything runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import pytest

from llmbench.profiles import DEFAULT_PROFILE, Overrides, Profile, ProfileRegistry, project_registry

DEVICES = ("cpu", "cuda")
PROFILES_KEY = pytest.StashKey[tuple[ProfileRegistry, Overrides]]()


def configure_profiles(config: pytest.Config) -> None:
    """Read the project's profiles and the override options; a problem is a ValueError."""
    if PROFILES_KEY in config.stash:
        return
    registry = project_registry(config.rootpath, config.invocation_params.dir)
    overrides = Overrides.parse(
        steps=config.getoption("bench_steps"), lora_ranks=config.getoption("lora_ranks"),
        precisions=config.getoption("precisions"),
        rag_generators=config.getoption("rag_generators"),
        rag_retrievers=config.getoption("rag_retrievers"))
    if config.getoption("bench_profile") is not None:
        registry.get(config.getoption("bench_profile"))
    config.stash[PROFILES_KEY] = (registry, overrides)


def apply_cpu_threads(config: pytest.Config) -> int:
    """Set torch's threads for this run's CPU benchmarks: ``--bench-threads``, else
    ``OMP_NUM_THREADS`` when the user set it, else the CPU profile's ``cpu_threads``. The count
    is recorded with every result (``environment.fingerprint``) and decides which cost
    baselines its timings compare with."""
    import torch

    threads = requested_threads(config)
    if threads is not None:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def requested_threads(config: pytest.Config) -> int | None:
    """The torch threads this run asks for: ``--bench-threads``, else the CPU profile's
    ``cpu_threads`` unless ``OMP_NUM_THREADS`` is set (None: then it decides, as torch read it at
    import)."""
    threads = config.getoption("bench_threads")
    if threads is None and not os.environ.get("OMP_NUM_THREADS"):
        threads = resolve_profile(config, "cpu").cpu_threads
    return threads


def resolve_profile(config: pytest.Config, device: str) -> Profile:
    """The profile a benchmark on ``device`` runs, with the command line's overrides."""
    registry, overrides = config.stash[PROFILES_KEY]
    name = config.getoption("bench_profile") or DEFAULT_PROFILE[device]
    return overrides.apply(registry.get(name))


def collection_profiles(config: pytest.Config) -> list[Profile]:
    """The resolved profile of each device, for parametrizing the matrix at collection."""
    profiles: dict[str, Profile] = {}
    for device in DEVICES:
        profile = resolve_profile(config, device)
        profiles.setdefault(profile.name, profile)
    return list(profiles.values())


def skip_without_hub(profile: Profile, repo_ids: Iterable[str]) -> None:
    """Skip, naming the reason, when hub repositories are neither cached nor reachable."""
    from llmbench.sources.hub import hub_problem

    repo_ids = list(repo_ids)
    problem = hub_problem(repo_ids) if repo_ids else None
    if problem:
        pytest.skip(f"profile {profile.name!r} {problem}")


def skip_suites_without_hub(request: pytest.FixtureRequest, profile: Profile) -> None:
    """The LoRA and quantization suites need their model and dataset; RAG checks per case (its
    generator and embedder) in benchmarks/test_rag.py."""
    skip_without_hub(profile, (repo for suite in ("lora", "quant")
                               if request.node.get_closest_marker(suite)
                               for repo in profile.hub_sources(suite)))
