"""llmbench: pytest benchmarks and JSON regression baselines for LLM fine-tuning, quantization and RAG."""

from llmbench.regression.results import Direction, Metric, Result, Scope

__all__ = ["Direction", "Metric", "Result", "Scope"]
__version__ = "0.1.0"
