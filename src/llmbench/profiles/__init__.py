"""Profiles: named, typed bundles of benchmark choices (what runs; the device says where).

May import: ``llmbench.core``, ``llmbench.regression``.
"""

from llmbench.profiles.builtin import (
    ALL_PRECISIONS,
    ALL_RETRIEVERS,
    DEFAULT_PROFILE,
    FIXTURE_DATASET,
    PROFILES,
    JudgeSettings,
    LoraSettings,
    Profile,
    QuantSettings,
    RagSettings,
    UnknownProfileError,
    get_profile,
)

__all__ = ["ALL_PRECISIONS", "ALL_RETRIEVERS", "DEFAULT_PROFILE", "FIXTURE_DATASET", "PROFILES",
           "JudgeSettings", "LoraSettings", "Profile", "QuantSettings", "RagSettings",
           "UnknownProfileError", "get_profile"]
