"""Glue between Snakemake's ``script:`` directive and the library.

``run(main)`` gives every workflow script the same behaviour: logging to the rule's log file
and to stderr, thread counts from the config (never from the machine, so results do not depend
on it), freed memory kept for reuse (:func:`keep_freed_memory`), and user errors
(:class:`DQError`) reported as one clear message without a traceback.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dqreview.errors import DQError

log = logging.getLogger("dqreview")

#: how :func:`run` writes a job's start-up to its log (read back by :mod:`dqreview.overhead`)
STARTUP_MESSAGE = "job start-up: %.3f s (process start to main)"

#: seconds from this job's process start to its ``main`` (set by :func:`run`; read by
#: :class:`dqreview.cost.measure` into the cost record); None outside a workflow job
startup_seconds: float | None = None


def process_startup_seconds() -> float | None:
    """Seconds since this process started (its ``/proc/self/stat`` start time), or None off Linux.

    Both clocks count from boot (``CLOCK_BOOTTIME``, the clock of the kernel's start time), so the
    difference holds across suspend and wall-clock changes; resolution is one clock tick (10 ms).
    """
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = os.sysconf("SC_CLK_TCK")
        now = time.clock_gettime(time.CLOCK_BOOTTIME)
    except (OSError, ValueError, AttributeError):
        return None
    # field 22 (starttime); the command name (field 2) may hold spaces, so count after its ")"
    fields = stat[stat.rindex(")") + 2 :].split()
    return max(0.0, now - int(fields[19]) / ticks)


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


def keep_freed_memory() -> bool:
    """Make the C allocator keep freed memory for reuse instead of handing it back to the OS.

    glibc serves every allocation above its mmap threshold (32 MiB at most) with fresh pages and
    unmaps them on free, so each training step page-faults and zeroes its logits and their gradient
    anew (16 x 128 x 4,096 float32 = 32 MiB each): a quarter of a CPU training step went to the
    kernel. With mmap off and a 1 GiB trim threshold, freed blocks are reused: 1.41x training and
    1.47x evaluation tokens/s for the embedded default's model on one thread, bit-identical results
    (``benchmarks/proxy_lm_throughput.py``). The price is that a job's memory stays near its peak
    until it exits. Returns False where the C library has no glibc ``mallopt`` (macOS; musl ignores it).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # from glibc's malloc.h
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 1 << 30))


def job_device(smk: Any) -> str:
    """The torch device of this job: a GPU only when the job was given one (``resources.gpu``)."""
    from dqreview.devices import claim_device

    gpus = int(getattr(smk.resources, "gpu", 0) or 0)
    if not gpus and "gpu" in str(getattr(smk.resources, "gres", "") or ""):
        gpus = 1  # clusters that reject --gpus request GPUs through a profile's `gres: gpu:1`
    return claim_device(gpus)


def run(main: Callable[[Any], None], smk: Any) -> None:
    """Run ``main(snakemake)``; exit 1 with a one-paragraph message on DQError.

    Logs the job's start-up first (:data:`dqreview.overhead.STARTUP_MESSAGE`): Python start,
    Snakemake's script preamble and the script's imports, read back by the overhead table.
    """
    global startup_seconds
    startup_seconds = process_startup_seconds()
    setup_logging(smk.log[0] if len(smk.log) else None)
    set_threads(int(smk.config["threads"]))
    keep_freed_memory()
    # where the job ran: proves GPU placement under Slurm and locally (see dqreview.devices)
    log.info(
        "job environment: CUDA_VISIBLE_DEVICES=%s SLURM_JOB_ID=%s",
        os.environ.get("CUDA_VISIBLE_DEVICES", "unset"),
        os.environ.get("SLURM_JOB_ID", "unset"),
    )
    if startup_seconds is not None:
        log.info(STARTUP_MESSAGE, startup_seconds)
    try:
        main(smk)
    except DQError as exc:
        log.error("%s", exc)
        sys.exit(1)
