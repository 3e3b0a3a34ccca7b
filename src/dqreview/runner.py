"""Glue between Snakemake's ``script:`` directive and the library.

``run(main)`` gives every workflow script the same behaviour: logging to the rule's log file
and to stderr, thread counts from the config (never from the machine, so results do not depend
on it), and user errors (:class:`DQError`) reported as one clear message without a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from dqreview.errors import DQError

log = logging.getLogger("dqreview")


def setup_logging(log_path: str | None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=handlers,
        force=True,
    )


def set_threads(n: int) -> None:
    """Pin BLAS and torch thread pools to ``n`` (the config's ``threads``)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(n)


def job_device(smk: Any) -> str:
    """The torch device of this job: a GPU only when the job was given one (``resources.gpu``)."""
    from dqreview.devices import claim_device

    gpus = int(getattr(smk.resources, "gpu", 0) or 0)
    if not gpus and "gpu" in str(getattr(smk.resources, "gres", "") or ""):
        gpus = 1  # clusters that reject --gpus request GPUs through a profile's `gres: gpu:1`
    return claim_device(gpus)


def run(main: Callable[[Any], None], smk: Any) -> None:
    """Run ``main(snakemake)``; exit 1 with a one-paragraph message on DQError."""
    setup_logging(smk.log[0] if len(smk.log) else None)
    set_threads(int(smk.config["threads"]))
    # where the job ran: proves GPU placement under Slurm and locally (see dqreview.devices)
    log.info(
        "job environment: CUDA_VISIBLE_DEVICES=%s SLURM_JOB_ID=%s",
        os.environ.get("CUDA_VISIBLE_DEVICES", "unset"),
        os.environ.get("SLURM_JOB_ID", "unset"),
    )
    try:
        main(smk)
    except DQError as exc:
        log.error("%s", exc)
        sys.exit(1)
