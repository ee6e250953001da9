"""Profiles: named, typed bundles of benchmark choices (what runs; the device says where).

Built-in profiles live in ``builtin``; the user's project adds its own in ``pyproject.toml`` /
``llmbench.toml`` (``user``); ``overrides`` applies the command line's axes.

May import: ``llmbench.core``, ``llmbench.regression``.
"""

from llmbench.profiles.builtin import (
    ALL_PRECISIONS,
    ALL_RETRIEVERS,
    BUILT_IN,
    DEFAULT_PROFILE,
    FIXTURE_DATASET,
    PROFILES,
    SUITES,
    JudgeSettings,
    LoraSettings,
    Profile,
    QuantSettings,
    RagSettings,
    UnknownProfileError,
    get_profile,
)
from llmbench.profiles.overrides import Overrides
from llmbench.profiles.user import (
    ProfileConfigError,
    ProfileRegistry,
    load_registry,
    project_files,
    project_registry,
)

__all__ = ["ALL_PRECISIONS", "ALL_RETRIEVERS", "BUILT_IN", "DEFAULT_PROFILE", "FIXTURE_DATASET",
           "JudgeSettings", "PROFILES", "SUITES", "LoraSettings", "Overrides", "Profile", "ProfileConfigError",
           "ProfileRegistry", "QuantSettings", "RagSettings", "UnknownProfileError",
           "get_profile", "load_registry", "project_files", "project_registry"]
