"""lm-eval-harness on exported proxies (:mod:`dqreview.lm.hf` directories): the ``lm.eval.harness`` tasks.

Only rule harness imports this module (and lm-eval through it); the task checks every rule's config load
needs live in :mod:`dqreview.lm.harness_tasks`.
"""

from __future__ import annotations

import os
from typing import Any

from dqreview.errors import DQError
from dqreview.lm.harness_tasks import INSTALL_HINT, harness_installed, is_task_file, load_task_file


def run_harness(
    model_dir: str | os.PathLike, tasks: list[str], device: str = "cpu", batch_size: int = 1
) -> dict[str, dict[str, float]]:
    """Scores of the exported model in ``model_dir`` on ``tasks``: ``{task label: {metric: value}}``.

    Metrics are lm-eval's (``acc``, ``acc_norm``, ``perplexity``, ...) without their filter suffix
    (``acc,none`` → ``acc``); standard errors are left out (the review's intervals are over seeds).
    """
    if not harness_installed():
        raise DQError(f"lm-eval is not installed; run {INSTALL_HINT} (config key lm.eval.harness)")
    import lm_eval
    from lm_eval.tasks import TaskManager

    specs: list[Any] = [load_task_file(t) if is_task_file(t) else t for t in tasks]
    try:
        out = lm_eval.simple_evaluate(
            model="hf",
            model_args={"pretrained": str(model_dir), "dtype": "float32"},
            tasks=specs,
            device=device,
            batch_size=batch_size,
            task_manager=TaskManager(),
        )
    except (OSError, ValueError, KeyError) as exc:
        raise DQError(
            f"lm-eval on {model_dir} with tasks {tasks} failed ({exc}); a task name's dataset comes from the "
            "Hugging Face hub (config key lm.eval.harness)"
        ) from exc
    scores: dict[str, dict[str, float]] = {}
    for label, results in out["results"].items():
        metrics = {}
        for key, value in results.items():
            metric, _, _filter = key.partition(",")
            if metric.endswith("_stderr") or not _ or not isinstance(value, int | float):
                continue
            metrics[metric] = float(value)
        scores[label] = metrics
    return scores
