"""Proxy LM throughput (training and evaluation tokens/s) for a config's `lm.model`.

.venv/bin/python benchmarks/proxy_lm_throughput.py --config config.yaml --steps 30 --threads 1

By default it measures twice, each in a fresh process: with glibc's default allocator settings and
with ``dqreview.runner.keep_freed_memory`` (what every workflow job does), and prints the ratio and the
page faults and kernel time per step that the reuse removes.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import numpy as np
import torch
import yaml


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--malloc", choices=["both", "default", "reuse"], default="both")
    args = ap.parse_args()
    if args.malloc == "both":
        compare_allocators(args)
        return
    torch.set_num_threads(args.threads)
    if args.malloc == "reuse":
        from dqreview.runner import keep_freed_memory

        assert keep_freed_memory(), "mallopt not available here"

    from dqreview.lm.evaluate import bits_per_byte
    from dqreview.lm.model import GPT, GPTConfig
    from dqreview.lm.train import make_optimizer

    cfg = yaml.safe_load(open(args.config))["lm"]
    mcfg = GPTConfig.from_dict({**cfg["model"], "vocab_size": cfg["tokenizer"]["vocab_size"]})
    model = GPT(mcfg)
    opt = make_optimizer(model, cfg["train"]["lr"], 0.1)
    B, T = cfg["train"]["batch_size"], mcfg.block_size
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.integers(0, mcfg.vocab_size, (B, T + 1)))
    for step in range(args.steps + 3):
        if step == 3:
            t0 = time.perf_counter()
            r0 = resource.getrusage(resource.RUSAGE_SELF)
        _, loss = model(x[:, :-1], x[:, 1:])
        loss.mean().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    train_tps = args.steps * B * T / (time.perf_counter() - t0)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    faults = (r1.ru_minflt - r0.ru_minflt) / args.steps
    sys_share = (r1.ru_stime - r0.ru_stime) / max(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime, 1e-9)
    docs = [rng.integers(1, mcfg.vocab_size, 200).astype(np.int32) for _ in range(100)]
    t0 = time.perf_counter()
    bits_per_byte(model, docs, n_bytes=100 * 800, block_size=T, batch_size=32)
    eval_tps = 100 * 201 / (time.perf_counter() - t0)
    print(f"model: {model.n_params():,} non-embedding params, {mcfg}")
    print(
        f"training: {train_tps:,.0f} tokens/s   evaluation: {eval_tps:,.0f} tokens/s   (threads={args.threads})"
    )
    print(f"RESULT {args.malloc} {train_tps:.1f} {eval_tps:.1f} {faults:.0f} {sys_share:.3f}")


def compare_allocators(args) -> None:
    """Run the measurement in two fresh processes (allocator settings are per process) and compare."""
    res = {}
    for mode in ("default", "reuse"):
        cmd = [sys.executable, __file__, "--config", args.config, "--steps", str(args.steps)]
        out = subprocess.run(
            cmd + ["--threads", str(args.threads), "--malloc", mode],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        line = next(ln for ln in out.splitlines() if ln.startswith("RESULT"))
        res[mode] = [float(v) for v in line.split()[2:]]
        if mode == "default":
            print(out.replace(line + "\n", ""), end="")
    for mode, (train, ev, faults, sys_share) in res.items():
        print(
            f"{mode:>8}: training {train:,.0f} tokens/s, evaluation {ev:,.0f} tokens/s, "
            f"{faults:,.0f} page faults/step, {sys_share:.0%} of CPU time in the kernel"
        )
    print(
        f"keep_freed_memory: training {res['reuse'][0] / res['default'][0]:.2f}x, "
        f"evaluation {res['reuse'][1] / res['default'][1]:.2f}x"
    )


if __name__ == "__main__":
    main()
