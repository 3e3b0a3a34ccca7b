"""The Slurm profile (profiles/slurm) against a real Slurm controller.

Start one on a Debian/Ubuntu machine as root with ``tests/slurm/start.sh`` (single node
``localhost``, two fake GPUs, no accounting); without it the live tests are skipped.

One small target of configs/tiny.yaml -- the random/uniform/high/b0.30 selection through training and
evaluation, one embedding job and the manifest -- is built three ways, each once per module:

* ``slurm_run``: through sbatch with ``--profile profiles/slurm`` plus a generated override profile
  that fits the test node (small memory, 1 CPU per job, fast status checks);
* ``local_run``: locally with ``--cores 2`` (the default workflow profile), to compare outputs;
* ``test_scancel_then_rerun_recovers``: a copy of the Slurm run with the training outputs removed, the
  training job cancelled with ``scancel`` while it runs, then the same command again.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import (
    REPO,
    SLURM_BINARIES,
    gpu_rules,
    marked_local_rules,
    offline_env,
    snakemake,
    snakemake_cmd,
)

pytestmark = pytest.mark.slurm

SELECTION = "random/uniform/high/b0.30"
SEEDS = yaml.safe_load((REPO / "configs/tiny.yaml").read_text())["seeds"]
EVALS = [f"results/eval/{SELECTION}/s{s}.json" for s in SEEDS]
SELECTS = [f"results/select/{SELECTION}/s{s}.parquet" for s in SEEDS]
EMBED = "results/embed/target/ref.npy"
# train builds all seeds of a selection at once, so one eval file pulls in the whole selection
TARGETS = [EVALS[0], EMBED, "results/manifest.json"]
#: the rules marked ``localrule: True`` and those that declare ``gpu=1`` (rules/*.smk)
LOCAL_RULES = marked_local_rules()
GPU_RULES = gpu_rules()

SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+)")
JOB_ENV = re.compile(r"job environment: CUDA_VISIBLE_DEVICES=(\S*) SLURM_JOB_ID=(\S*)")


# --- helpers ----------------------------------------------------------------------------------


def _slurm_unavailable() -> str | None:
    """Why the live tests cannot run here, or None when a Slurm node is idle."""
    missing = [b for b in SLURM_BINARIES if shutil.which(b) is None]
    if missing:
        return (
            f"Slurm commands not on PATH ({', '.join(missing)}); start one with tests/slurm/start.sh (root)"
        )
    try:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %t"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo timed out: no Slurm controller answering"
    if out.returncode != 0:
        return f"sinfo failed (no Slurm controller?): {out.stderr.strip()[:200]}"
    states = [line.split()[1] for line in out.stdout.splitlines() if len(line.split()) == 2]
    if not any(s.rstrip("*~#!%$@^-") in ("idle", "mix") for s in states):
        return f"no idle Slurm node (sinfo: {out.stdout.strip() or 'no nodes'})"
    return None


def _jobs(output: str) -> dict[int, dict]:
    """Snakemake job id -> {rule, local, log} from the job blocks Snakemake prints."""
    jobs: dict[int, dict] = {}
    current = None
    for line in output.splitlines():
        head = re.match(r"^(localrule|rule) (\w+):\s*$", line)
        if head:
            current = {"rule": head.group(2), "local": head.group(1) == "localrule", "log": None}
            continue
        if current is None:
            continue
        stripped = line.strip()
        if not stripped:
            current = None
        elif stripped.startswith("log: "):
            current["log"] = stripped[len("log: ") :].split(",")[0].strip()
        elif stripped.startswith("jobid: "):
            jobs[int(stripped[len("jobid: ") :])] = current
    return jobs


def _job_env(workdir: Path, log: str) -> tuple[str, str]:
    text = (workdir / log).read_text()
    found = JOB_ENV.findall(text)
    assert found, f"{log} has no 'job environment:' line:\n{text[:2000]}"
    return found[-1]


def _numbers(obj, path=""):
    """Yield (path, number) for every numeric leaf, skipping timings (they differ run to run)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if re.search(r"time|second|wall|per_s|_s$", str(k)):
                continue
            yield from _numbers(v, f"{path}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield path, obj


def _override_profile(directory: Path) -> Path:
    """The repository's Slurm profile, shrunk to fit the single test node.

    Passed as a second ``--profile``; its top-level keys replace the repository profile's, so
    set-resources keeps every rule entry of profiles/slurm (gpu: 1 for embed and train) with memory,
    CPUs and runtime that fit a 2-core node. The partition stays unset unless DQ_SLURM_PARTITION is
    given: the plugin then picks the cluster's default partition, as it will for a user who leaves
    the profile's slurm_partition unset.
    """
    repo_profile = yaml.safe_load((REPO / "profiles/slurm/profile.yaml").read_text())
    small = {"mem_mb": 500, "runtime": 30}
    set_resources = {}
    for rule, res in (repo_profile.get("set-resources") or {}).items():
        res = dict(res)
        for key, value in small.items():
            if key in res:
                res[key] = value
        if "cpus_per_task" in res:
            res["cpus_per_task"] = 1
        set_resources[rule] = res
    # rules that declare their own mem_mb (rules/*.smk) but have no entry above
    for rule in ("prepare", "tokenizer", "fit_metric", "score_shard", "merge_scores", "select", "manifest"):
        set_resources.setdefault(rule, {}).update(mem_mb=500)
    default_resources = {"mem_mb": 500, "runtime": 30}
    if os.environ.get("DQ_SLURM_PARTITION"):
        default_resources["slurm_partition"] = os.environ["DQ_SLURM_PARTITION"]
    override = {
        "jobs": 4,
        "latency-wait": 10,
        "slurm-status-command": "squeue",  # the test cluster has no accounting (no sacct)
        "slurm-init-seconds-before-status-checks": 1,
        "slurm-keep-successful-logs": True,
        "default-resources": default_resources,
        "set-resources": set_resources,
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "profile.yaml").write_text(yaml.safe_dump(override, sort_keys=False))
    return directory


def _slurm_args(override: Path, archive_cache: Path) -> list[str]:
    # --config and --configfile take every following word: keep targets after a one-value option
    return [
        "--config",
        f"cache={archive_cache}",
        "--profile",
        str(REPO / "profiles/slurm"),
        "--profile",
        str(override),
    ]


def _fail(what: str, proc) -> None:
    out = proc.stdout if isinstance(proc.stdout, str) else ""
    err = proc.stderr if isinstance(proc.stderr, str) else ""
    pytest.fail(f"{what} (rc {proc.returncode}):\n{out[-3000:]}\n{err[-8000:]}")


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slurm_cluster():
    reason = _slurm_unavailable()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def override_profile(tmp_path_factory) -> Path:
    return _override_profile(tmp_path_factory.mktemp("slurm-test-profile"))


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, override_profile, tmp_path_factory, archive_cache):
    workdir = tmp_path_factory.mktemp("slurm-run")
    started = time.monotonic()
    proc = snakemake(
        workdir,
        *_slurm_args(override_profile, archive_cache),
        *TARGETS,
        configfiles=[REPO / "configs/tiny.yaml"],
        timeout=900,
    )
    if proc.returncode != 0:
        _fail("Slurm run failed", proc)
    return {"workdir": workdir, "log": proc.stdout + proc.stderr, "seconds": time.monotonic() - started}


@pytest.fixture(scope="module")
def local_run(slurm_cluster, tmp_path_factory, archive_cache) -> Path:
    workdir = tmp_path_factory.mktemp("local-run")
    proc = snakemake(
        workdir,
        "--config",
        f"cache={archive_cache}",
        "--cores",
        "2",
        *TARGETS,
        configfiles=[REPO / "configs/tiny.yaml"],
    )
    if proc.returncode != 0:
        _fail("local run failed", proc)
    return workdir


# --- the tests -------------------------------------------------------------------------------


def test_slurm_run_builds_target(slurm_run):
    workdir = slurm_run["workdir"]
    for target in TARGETS + EVALS + SELECTS:
        assert (workdir / target).exists(), target
    print(f"\nSlurm run: {slurm_run['seconds']:.0f} s")


def test_every_remote_job_went_through_sbatch(slurm_run):
    log, workdir = slurm_run["log"], slurm_run["workdir"]
    jobs = _jobs(log)
    submitted = [(int(j), s) for j, s in SUBMITTED.findall(log)]
    remote = {j for j, info in jobs.items() if not info["local"]}
    local = {j for j, info in jobs.items() if info["local"]}
    assert remote, f"no remote jobs found in the log:\n{log[-3000:]}"
    # one sbatch per non-local job, none for the local ones, every Slurm id distinct
    assert sorted(j for j, _ in submitted) == sorted(remote)
    assert not local & {j for j, _ in submitted}
    assert len({s for _, s in submitted}) == len(submitted)
    # the rules that must stay local did, and only they
    assert {jobs[j]["rule"] for j in local} <= LOCAL_RULES
    assert not {jobs[j]["rule"] for j in remote} & LOCAL_RULES
    assert {"download", "manifest"} <= {jobs[j]["rule"] for j in local}
    assert {"prepare", "select", "tokenizer", "train", "embed"} <= {jobs[j]["rule"] for j in remote}
    # each job's own log says where it ran: its Slurm job id, or none for local jobs
    slurm_id = {j: s for j, s in submitted}
    for j, info in jobs.items():
        if info["log"] is None:
            continue
        _, job_id = _job_env(workdir, info["log"])
        if info["local"]:
            assert job_id == "unset", f"local job {info['rule']} ran inside Slurm job {job_id}"
        else:
            assert job_id == slurm_id[j], f"{info['rule']}: log says SLURM_JOB_ID={job_id}"


def test_gpu_rules_were_given_a_gpu(slurm_run):
    log, workdir = slurm_run["log"], slurm_run["workdir"]
    jobs = _jobs(log)
    seen = set()
    for info in jobs.values():
        if info["log"] is None or info["local"]:
            continue
        cuda, _ = _job_env(workdir, info["log"])
        if info["rule"] in GPU_RULES:
            assert cuda not in ("", "unset"), f"{info['rule']} got no GPU (CUDA_VISIBLE_DEVICES={cuda!r})"
            seen.add(info["rule"])
        elif "CUDA_VISIBLE_DEVICES" not in os.environ:
            assert cuda == "unset", f"{info['rule']} asked for no GPU but got {cuda}"
    # every GPU rule of this run's target got one (the target trains and embeds)
    assert seen == GPU_RULES & {info["rule"] for info in jobs.values() if not info["local"]}
    assert {"embed", "train"} <= seen


def test_slurm_outputs_equal_local_run(slurm_run, local_run):
    workdir = slurm_run["workdir"]
    for path in SELECTS:
        remote_ids = pd.read_parquet(workdir / path)["id"].tolist()
        local_ids = pd.read_parquet(local_run / path)["id"].tolist()
        assert remote_ids == local_ids, path
    for path in EVALS:
        remote = dict(_numbers(json.loads((workdir / path).read_text())))
        local = dict(_numbers(json.loads((local_run / path).read_text())))
        assert remote.keys() == local.keys(), path
        assert any("bpb" in k for k in remote), f"no bpb values in {path}"
        for key, value in remote.items():
            assert math.isclose(value, local[key], rel_tol=1e-9, abs_tol=1e-12), (
                f"{path}{key}: {value} != {local[key]}"
            )


def test_scancel_then_rerun_recovers(slurm_run, override_profile, archive_cache, tmp_path):
    """Cancel the running training job with scancel; the run fails; the same command completes it."""
    workdir = tmp_path / "cancel"
    shutil.copytree(slurm_run["workdir"], workdir, symlinks=True)
    for sub in ("eval", "train"):
        shutil.rmtree(workdir / "results" / sub)
    (workdir / f"results/cost/train/{SELECTION}.json").unlink()
    shutil.rmtree(workdir / "results/.ckpt", ignore_errors=True)

    cmd = snakemake_cmd(workdir, configfiles=[REPO / "configs/tiny.yaml"])
    cmd += _slurm_args(override_profile, archive_cache)
    cmd += ["--retries", "0", EVALS[0]]  # no automatic resubmission: the cancel must fail the run
    env = offline_env()
    log_path = tmp_path / "first.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            cancelled = None
            deadline = time.monotonic() + 300
            while cancelled is None and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.5)
                for _, slurm_id in SUBMITTED.findall(log_path.read_text()):
                    # state and --comment (the plugin sets it to rule_<rule>_<wildcards>)
                    state = subprocess.run(
                        ["squeue", "-h", "-j", slurm_id, "-o", "%T|%k"], capture_output=True, text=True
                    ).stdout.strip()
                    if state.startswith("RUNNING|rule_train"):
                        subprocess.run(["scancel", slurm_id], check=True)
                        cancelled = slurm_id
                        break
            assert cancelled, f"never saw the training job RUNNING:\n{log_path.read_text()[-3000:]}"
            interrupted = False
            try:
                rc = proc.wait(timeout=180)
            except subprocess.TimeoutExpired:
                interrupted = True
                proc.send_signal(signal.SIGINT)  # Snakemake cancels its Slurm jobs on SIGINT
                rc = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    first = log_path.read_text()
    assert rc != 0, f"the run survived the cancelled job:\n{first[-3000:]}"
    if not interrupted:  # Snakemake noticed the cancellation through squeue
        assert f"SLURM-job '{cancelled}' failed" in first and "CANCELLED" in first, first[-3000:]
    assert not (workdir / EVALS[0]).exists()
    state = subprocess.run(
        ["squeue", "-h", "--states=all", "-j", cancelled, "-o", "%T"], capture_output=True, text=True
    ).stdout.strip()
    assert state in ("CANCELLED", ""), state  # "" if MinJobAge already purged it

    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    if second.returncode != 0:
        _fail("rerun after scancel failed", second)
    for path in EVALS:
        assert (workdir / path).exists(), path
    resubmitted = [s for _, s in SUBMITTED.findall(second.stdout + second.stderr)]
    assert resubmitted and cancelled not in resubmitted
    _, job_id = _job_env(workdir, f"results/logs/train/{SELECTION}.log")
    assert job_id in resubmitted
