"""The Slurm profile (profiles/slurm) without Slurm: a dry run needs no Slurm command, and exactly the rules that
declare gpu=1 (rules/*.smk) ask for a GPU. The live Slurm tests are in tests/slurm/test_slurm.py."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, SLURM_BINARIES, gpu_rules, snakemake_cmd

pytestmark = pytest.mark.workflow

#: the rules that declare gpu=1 in rules/*.smk
GPU_RULES = gpu_rules()
SLURM_COMMANDS = {
    *SLURM_BINARIES,
    *"sacct sacctmgr salloc sattach sbcast scontrol scrontab sdiag sh5util sprio sreport srun sshare sstat strigger sview".split(),
}


def test_profile_dry_run_without_slurm_binaries(tmp_path):
    """`--profile profiles/slurm -n` needs no Slurm commands, and the GPU rules ask for a GPU."""
    # PATH as it is, minus the Slurm commands (a laptop or CI runner without Slurm)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    path = []
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if not d or not Path(d).is_dir():
            continue
        if not any((Path(d) / b).exists() for b in SLURM_BINARIES):
            path.append(d)
            continue
        for entry in Path(d).iterdir():  # a directory that holds Slurm: keep all but Slurm's commands
            if entry.name not in SLURM_COMMANDS and not (bindir / entry.name).exists():
                (bindir / entry.name).symlink_to(entry)
    env = {**os.environ, "PATH": os.pathsep.join([*path, str(bindir)])}
    assert shutil.which("sbatch", path=env["PATH"]) is None
    workdir = tmp_path / "work"
    # a local lm-eval task puts rule harness, a GPU rule, in the DAG too
    harness = tmp_path / "harness.yaml"
    harness.write_text(f"lm: {{eval: {{harness: [{REPO / 'configs/tasks/tiny_cloze.yaml'}]}}}}\n")
    cmd = snakemake_cmd(workdir, "--profile", str(REPO / "profiles/slurm"), "-n", "all",
                        configfiles=[REPO / "configs/tiny.yaml", harness])  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    # (a dry run prints every job as "rule"; which ones stay local is checked by the live test)
    seen_gpu = set()
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        head = re.match(r"(?:localrule|rule) (\w+):", block)
        if head and head.group(1) in GPU_RULES:
            assert re.search(r"resources: .*\bgpu=1\b", block), block
            seen_gpu.add(head.group(1))
        elif head:
            assert not re.search(r"resources: .*\bgpu=1\b", block), block  # only the GPU rules ask for one
    assert seen_gpu == GPU_RULES
