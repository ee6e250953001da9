"""Record a RAG configuration's answers and judge scores as a LangSmith experiment.

With ``--langsmith`` and ``LANGSMITH_API_KEY`` set (``LANGSMITH_ENDPOINT`` for a self-hosted
server), each configuration becomes one experiment named ``"<model> + <retriever>-<8 hex>"`` on
a dataset built from the QA set (one example per question, the reference answer as its output;
created once, then reused). Each question becomes a run linked to its example, with the judge
scores as feedback (``correctness``, ``helpfulness``: the mean over repeats; the comment carries
the spread and the judge's own reasoning). This is the shape ``langsmith.evaluate`` produces;
the answers were already generated and judged, so they are uploaded rather than recomputed.

Without a key nothing here connects anywhere. An upload that fails is reported, never fatal:
the benchmark's measurement stands without it. Everything uploaded (inputs, outputs, metadata,
feedback comments, examples) and every error passes through ``llmbench.core.redaction``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from llmbench.core.redaction import redact_data, redact_secrets
from llmbench.judges import FEEDBACK_KEYS, record_field

EXAMPLE_NAMESPACE = uuid.UUID("5f0c3c2e-8f7b-4b8e-9a51-6c1d0b9e7a10")


def langsmith_unavailable() -> str | None:
    """Why experiments cannot be recorded here, or None when they can."""
    if not (os.environ.get("LANGSMITH_API_KEY") or os.environ.get("LANGCHAIN_API_KEY")):
        return ("--langsmith needs LANGSMITH_API_KEY (and LANGSMITH_ENDPOINT for a self-hosted "
                "server); it is not set, so nothing was uploaded")
    return None


def experiment_prefix(generator: str, retriever: str) -> str:
    return f"{generator} + {retriever}"


def dataset_name_for(records: Sequence[Any], label: str = "rag") -> str:
    """A dataset name that changes whenever the questions or references change."""
    digest = hashlib.sha256()
    for record in records:
        for name in ("question", "reference"):
            digest.update(f"{record_field(record, name)}\0".encode())
    return f"llmbench-{label}-{digest.hexdigest()[:12]}"


def record_experiment(records: Sequence[Any], judge_artifacts: Mapping[str, Any] | None, *,
                      prefix: str, dataset_name: str | None = None,
                      metadata: Mapping[str, Any] | None = None,
                      client: Any = None) -> dict[str, Any]:
    """Upload one configuration as an experiment; return a summary for the result's artifacts.

    ``records`` are the per-question records (``question``, ``answer``, ``reference``, and
    optionally ``contexts`` and ``latency_s``); ``judge_artifacts`` is
    ``judge_records(...).artifacts`` for the same records, in the same order (or None).
    Raises nothing for upload problems: the summary's ``error`` says what went wrong.
    """
    from langsmith import Client
    from langsmith.utils import LangSmithError
    from requests import RequestException

    dataset_name = dataset_name or dataset_name_for(records)
    summary: dict[str, Any] = {"dataset": dataset_name, "experiment": None, "runs": 0,
                               "feedback": 0}
    try:
        client = client or Client()
        example_ids = _ensure_dataset(client, dataset_name, records)
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        project = client.create_project(
            name, reference_dataset_id=example_ids.dataset_id,
            metadata=redact_data({**(metadata or {}), "llmbench": True}),
            description=f"llmbench RAG configuration {prefix}")
        summary["experiment"] = name
        summary["url"] = getattr(project, "url", None)
        feedback = (judge_artifacts or {}).get("feedback", {})
        now = dt.datetime.now(dt.timezone.utc)
        for i, record in enumerate(records):
            run_id = uuid.uuid4()
            seconds = float(record_field(record, "latency_s", 0.0) or 0.0)
            client.create_run(
                "rag", inputs=redact_data({"question": record_field(record, "question")}),
                run_type="chain", project_name=name, id=run_id,
                reference_example_id=example_ids[i],
                outputs=redact_data({"answer": record_field(record, "answer"),
                                     "contexts": list(record_field(record, "contexts", None)
                                                      or [])}),
                start_time=now, end_time=now + dt.timedelta(seconds=seconds),
                extra={"metadata": redact_data(dict(metadata or {}))})
            summary["runs"] += 1
            for key in FEEDBACK_KEYS:
                if key not in feedback:
                    continue
                score = feedback[key]["mean_per_question"][i]
                if score is None:
                    continue
                client.create_feedback(run_id, key, score=score, session_id=project.id,
                                       comment=redact_secrets(_feedback_comment(feedback[key], i)),
                                       feedback_source_type="model")
                summary["feedback"] += 1
        client.flush()
        client.update_project(project.id, end_time=dt.datetime.now(dt.timezone.utc))
    except (LangSmithError, RequestException, OSError) as exc:
        summary["error"] = redact_secrets(f"LangSmith upload failed: {type(exc).__name__}: {exc}")
    return summary


def record_configuration(result: Any, *, client: Any = None) -> dict[str, Any] | None:
    """``--langsmith`` for one RAG result (``run_rag_benchmark``'s): upload it as an experiment.

    The summary goes into ``result.artifacts["langsmith"]``; no key or a failed upload becomes a
    note on the result instead of an error. Returns the summary (None when unavailable)."""
    problem = None if client is not None else langsmith_unavailable()
    if problem:
        result.notes.append(problem)
        return None
    config = result.artifacts["config"]
    summary = record_experiment(
        result.artifacts["questions"], result.artifacts.get("judge"),
        prefix=experiment_prefix(config["generator"], config["retriever"]),
        metadata={"generator": config["generator"], "retriever": config["retriever"],
                  "k": config.get("k"), "params": result.params},
        client=client)
    result.artifacts["langsmith"] = summary
    if "error" in summary:
        result.notes.append(summary["error"])
    return summary


def _feedback_comment(per_key: Mapping[str, Any], i: int) -> str:
    scores = [s for s in per_key["scores"][i] if s is not None]
    spread = per_key["spread_per_question"][i]
    parts = [f"mean of {len(scores)} judgment(s)"]
    if spread is not None:
        parts.append(f"spread (std) {spread:.4f}")
    comment = per_key["comments"][i]
    return "; ".join(parts) + (f". Judge: {comment}" if comment else "")


class _ExampleIds(list):
    dataset_id: Any = None


def _ensure_dataset(client: Any, name: str, records: Sequence[Any]) -> _ExampleIds:
    """The dataset's example id for each record, creating the dataset or examples if missing.

    Example ids are derived from the dataset name and the question, so reruns find them."""
    if client.has_dataset(dataset_name=name):
        dataset = client.read_dataset(dataset_name=name)
        existing = {str(e.id) for e in client.list_examples(dataset_id=dataset.id)}
    else:
        dataset = client.create_dataset(name, description="llmbench RAG questions and "
                                                          "reference answers")
        existing = set()
    ids = _ExampleIds(uuid.uuid5(EXAMPLE_NAMESPACE, f"{name}\0{record_field(r, 'question')}")
                      for r in records)
    ids.dataset_id = dataset.id
    missing = [{"id": example_id,
                "inputs": redact_data({"question": record_field(r, "question")}),
                "outputs": redact_data({"answer": record_field(r, "reference")})}
               for example_id, r in zip(ids, records) if str(example_id) not in existing]
    if missing:
        client.create_examples(dataset_id=dataset.id, examples=missing)
    return ids
