"""Suites: one package per benchmark family (``lora``, ``quant``, ``rag``), each with a runner
``run_*_benchmark(settings, ...) -> Result`` that knows nothing of pytest or baselines.

May import: ``llmbench.core``, ``llmbench.regression``, ``llmbench.profiles``,
``llmbench.measure``, ``llmbench.sources``, ``llmbench.judges``. A suite never imports another.
"""
