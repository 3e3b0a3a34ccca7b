"""Local GPU placement: concurrent jobs claim different devices; a crashed job frees its device."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dqreview.devices import claim_device, release_devices


@pytest.fixture(autouse=True)
def _no_scheduler(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    yield
    release_devices()


def test_cpu_when_no_gpu_requested(tmp_path):
    assert claim_device(0, tmp_path, n_devices=2) == "cpu"


def test_cpu_when_cuda_missing(tmp_path):
    assert claim_device(1, tmp_path, n_devices=0) == "cpu"


def test_concurrent_jobs_get_different_devices(tmp_path):
    first = claim_device(1, tmp_path, n_devices=2)
    second = claim_device(1, tmp_path, n_devices=2)
    assert {first, second} == {"cuda:0", "cuda:1"}
    with pytest.raises(TimeoutError, match="--resources gpu"):
        claim_device(1, tmp_path, n_devices=2, timeout_s=0.2, poll_s=0.05)


def test_other_process_holding_a_device_is_respected(tmp_path):
    code = (
        "import sys, time; from dqreview.devices import claim_device; "
        f"print(claim_device(1, {str(tmp_path)!r}, n_devices=2), flush=True); time.sleep(30)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "cuda:0"
        assert claim_device(1, tmp_path, n_devices=2) == "cuda:1"
    finally:
        proc.kill()
        proc.wait()
    release_devices()
    # the killed process's lock is gone: device 0 is free again
    assert claim_device(1, tmp_path, n_devices=2) == "cuda:0"


def test_scheduler_assignment_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert claim_device(1, tmp_path, n_devices=1) == "cuda"
