"""dqreview.runner: the harness of every rule's script (errors, memory reuse)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest


def test_scripts_turn_dqerror_into_one_message_without_traceback(tmp_path):
    """What a user sees when a rule's script meets bad input: the message, exit status 1, no traceback."""
    code = (
        "import types\n"
        "from dqreview.runner import run\n"
        "from dqreview.io import read_parquet\n"
        f"smk = types.SimpleNamespace(log=[{str(tmp_path / 'x.log')!r}], config={{'threads': 1}})\n"
        f"run(lambda s: read_parquet({str(tmp_path / 'missing.parquet')!r}), smk)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "missing.parquet: file not found; rebuild it with snakemake" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "missing.parquet: file not found" in (tmp_path / "x.log").read_text()


_ALLOC_LOOP = """
import resource, sys
import torch
from dqreview.runner import keep_freed_memory
if sys.argv[1] == "reuse":
    assert keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for i in range(40):  # 48 MiB of float32, over glibc's largest mmap threshold; the heap settles first
    if i == 30:
        before = faults()
    torch.ones(48 << 18).sum()
print(faults() - before)
"""


def test_keep_freed_memory_stops_page_faults_on_large_tensors():
    # A training step frees and re-allocates its 32 MiB logits; by default every step faults them in again.
    faults = {
        mode: int(
            subprocess.run(
                [sys.executable, "-c", _ALLOC_LOOP, mode], capture_output=True, text=True, check=True
            ).stdout
        )
        for mode in ("default", "reuse")
    }
    pages_per_allocation = 12_288  # 48 MiB in pages of 4 KiB
    assert faults["default"] > 9 * pages_per_allocation  # each of the 10 measured steps faults its tensor in
    # Reused memory faults nothing once the heap has settled; a late small allocation can still push one or two
    # tensors to fresh pages (seen on a CI machine), never one per step.
    assert faults["reuse"] < 3 * pages_per_allocation


def test_run_logs_the_start_up_from_process_start_to_main_and_the_cost_record_keeps_it(tmp_path):
    """Start-up counts from the interpreter's start: here 0.3 s of sleeping stand in for the imports."""
    code = (
        "import time, types\n"
        "time.sleep(0.3)\n"
        "from dqreview import runner\n"
        "from dqreview.cost import measure\n"
        f"smk = types.SimpleNamespace(log=[{str(tmp_path / 'x.log')!r}], config={{'threads': 1}})\n"
        "def main(s):\n"
        f"    with measure('select', 'x', {str(tmp_path / 'cost.json')!r}):\n"
        "        pass\n"
        "runner.run(main, smk)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    from dqreview.overhead import read_log_times

    times = read_log_times(tmp_path / "x.log")
    assert 0.3 <= times["startup_s"] <= times["setup_s"] < 30  # set-up adds dqreview.cost's imports
    record = json.loads((tmp_path / "cost.json").read_text())
    assert record["startup_s"] == pytest.approx(times["startup_s"], abs=1e-3)
    assert record["setup_s"] == pytest.approx(times["setup_s"], abs=1e-3)


def test_process_startup_seconds_grows_with_the_process_age():
    from dqreview.runner import process_startup_seconds

    first = process_startup_seconds()
    time.sleep(0.05)
    assert first is not None and 0 < first < process_startup_seconds()
