"""The fault tests run pytest sessions in-process (pytester), which unload every module first
imported inside them. Modules that cannot be imported twice in one process (torch's C extension,
imported by the environment fingerprint of every result) are imported here, outside them."""

import torch  # noqa: F401

import llmbench.regression.environment  # noqa: F401
