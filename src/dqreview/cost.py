"""Per-job cost records: FLOP estimate (with its formula), wall and CPU seconds, device, items.

Every scoring, selection and training job writes one JSON file (``results/cost/{job}.json``) with
:class:`measure`; :func:`load_costs` gathers them into a table for the cost report.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import resource
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dqreview.errors import DQError
from dqreview.io import read_json, write_json


@dataclass
class CostRecord:
    """Cost of one job.

    Attributes
    ----------
    stage : str
        DAG stage (``embed``, ``score``, ``select``, ``train``, ...).
    job : str
        Job name, unique within the run (e.g. ``score/ssl_proto/pool/shard-0``).
    flops : float or None
        Estimated floating-point operations; ``None`` when not estimated.
    flops_formula : str
        How ``flops`` was computed, with the numbers used.
    wall_s, cpu_s : float
        Wall-clock and CPU seconds (CPU includes finished child processes).
    device : str
        ``cpu`` or ``cuda``.
    items : int
        Items processed (documents, tokens, ...), in ``items_unit``.
    extra : dict
        Anything stage-specific (JSON-serialisable).
    startup_s : float or None
        Seconds from the job's process start to its ``main`` (:data:`dqreview.runner.startup_seconds`):
        Python, Snakemake's preamble and the imports; None outside a workflow job. Optional when
        read, so records written before it existed still load.
    setup_s : float or None
        Seconds from the job's process start to this measured block: start-up plus the script's
        imports and input reading, everything the job pays before its work. Optional like ``startup_s``.
    """

    stage: str
    job: str
    flops: float | None = None
    flops_formula: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    device: str = "cpu"
    items: int = 0
    items_unit: str = "docs"
    extra: dict[str, Any] = field(default_factory=dict)
    startup_s: float | None = None
    setup_s: float | None = None


#: how :class:`measure` logs a job's set-up (read back by :mod:`dqreview.overhead`)
SETUP_MESSAGE = "job set-up: %.3f s (process start to measured work)"

FIELDS = tuple(f.name for f in dataclasses.fields(CostRecord))
#: fields a record may lack (added later); read as None
OPTIONAL_FIELDS = ("startup_s", "setup_s")


def _cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class measure:
    """Context manager that times a job and writes its :class:`CostRecord` on success.

    Examples
    --------
    >>> with measure("embed", "embed/shard-0", "results/cost/embed-shard-0.json", "cpu") as rec:
    ...     X = encoder.encode(texts)
    ...     rec.items = len(texts)
    ...     rec.flops, rec.flops_formula = encoder_flops(n_tokens, encoder.n_params)

    Nothing is written when the block raises, so a failed job leaves no cost file behind.
    """

    def __init__(self, stage: str, job: str, path: str | os.PathLike, device: str = "cpu"):
        self.path = path
        from dqreview import runner  # the job's start-up, measured before its imports

        self.record = CostRecord(stage=stage, job=job, device=device, startup_s=runner.startup_seconds)

    def __enter__(self) -> CostRecord:
        from dqreview import runner

        self.record.setup_s = runner.process_startup_seconds() if runner.startup_seconds is not None else None
        if self.record.setup_s is not None:
            logging.getLogger("dqreview.cost").info(SETUP_MESSAGE, self.record.setup_s)
        self._wall0 = time.perf_counter()
        self._cpu0 = _cpu_seconds()
        return self.record

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.record.wall_s = time.perf_counter() - self._wall0
        self.record.cpu_s = _cpu_seconds() - self._cpu0
        if exc_type is None:
            write_json(dataclasses.asdict(self.record), self.path)
        return False


def encoder_flops(n_tokens: int, n_params: int) -> tuple[float, str]:
    """Forward-pass FLOPs of a transformer: 2 · N · tokens (one multiply-add per parameter per token).

    Returns
    -------
    flops : float
    formula : str
        The formula with the numbers used, for the cost record.
    """
    flops = 2.0 * float(n_params) * float(n_tokens)
    return flops, f"2 * N * tokens (N={int(n_params)} parameters, tokens={int(n_tokens)})"


def load_costs(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Read cost JSON files into one table.

    Returns
    -------
    DataFrame
        One row per file: the :class:`CostRecord` fields (``extra`` flattened to ``extra.<key>``
        columns) and ``path``.
    """
    rows = []
    for path in paths:
        data = read_json(path)
        if not isinstance(data, dict):
            raise DQError(f"{path}: expected a JSON object (a cost record); delete it and rerun the job")
        missing = [f for f in FIELDS if f not in data and f not in OPTIONAL_FIELDS]
        if missing:
            raise DQError(
                f"{path}: cost record lacks {missing}; it was written by another version, rerun the job"
            )
        row = {f: data.get(f) for f in FIELDS if f != "extra"}
        for key, value in (data.get("extra") or {}).items():
            row[f"extra.{key}"] = value
        row["path"] = str(path)
        rows.append(row)
    columns = [f for f in FIELDS if f != "extra"] + ["path"]
    return pd.DataFrame(rows, columns=None if rows else columns)
