"""Which device a job runs on.

Snakemake limits how many ``gpu=1`` jobs run at once (``--resources gpu=N``) but never says
*which* GPU a job should use: locally it does not set ``CUDA_VISIBLE_DEVICES``. Without help, two
concurrent jobs on a 2-GPU machine would both land on ``cuda:0``. So a job that was given a GPU
claims one with an exclusive ``flock`` on ``<lock_dir>/gpu<i>.lock``; the kernel drops the lock when
the process exits, even on ``kill -9``, so a crashed job never leaks its GPU.

Under a scheduler (Slurm sets ``CUDA_VISIBLE_DEVICES`` for the job's allocation) the job simply uses
the first visible device.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path

from dqreview import paths

log = logging.getLogger(__name__)

_held: list = []  # open lock files of this process; closing them releases the GPUs


def cuda_device_count() -> int:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def claim_device(
    gpus: int,
    lock_dir: str | os.PathLike = paths.GPU_LOCKS,
    n_devices: int | None = None,
    timeout_s: float = 3600.0,
    poll_s: float = 2.0,
) -> str:
    """Return ``"cpu"``, ``"cuda"`` (scheduler-assigned) or ``"cuda:<i>"`` (claimed locally).

    Parameters
    ----------
    gpus : int
        GPUs the job was given (``snakemake.resources.gpu``); 0 means CPU.
    lock_dir : path
        Where the per-device lock files live (shared by every job of the workflow).
    n_devices : int, optional
        Number of CUDA devices; taken from torch when omitted.
    """
    if gpus < 1:
        return "cpu"
    n = cuda_device_count() if n_devices is None else n_devices
    if n == 0:
        log.info("job was given %d GPU(s) but CUDA is not available: running on the CPU", gpus)
        return "cpu"
    if os.environ.get("CUDA_VISIBLE_DEVICES") not in (None, ""):
        return "cuda"  # the scheduler (or the user) already chose the device(s)
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    while True:
        for i in range(n):
            fh = open(lock_dir / f"gpu{i}.lock", "a")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                continue
            _held.append(fh)
            log.info("claimed GPU %d of %d (lock %s)", i, n, lock_dir / f"gpu{i}.lock")
            return f"cuda:{i}"
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"all {n} GPUs stayed busy for {timeout_s:.0f} s; run with --resources gpu=<number of GPUs>"
            )
        time.sleep(poll_s)


def release_devices() -> None:
    """Release every GPU this process claimed (also happens automatically at exit)."""
    while _held:
        _held.pop().close()
