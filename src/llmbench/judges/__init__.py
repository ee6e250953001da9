"""Judges: LLM-as-judge scoring of answers (offline local judge, OpenAI-compatible judges via
openevals), aggregation over questions, and the judge's discrimination on labelled answers.

May import: ``llmbench.core``, ``llmbench.regression``, ``llmbench.sources``, ``llmbench.measure``.
"""
