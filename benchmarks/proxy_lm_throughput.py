"""Proxy LM throughput (training and evaluation tokens/s) for a config's `lm.model`.

.venv/bin/python benchmarks/proxy_lm_throughput.py --config config.yaml --steps 30
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import yaml


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

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
        _, loss = model(x[:, :-1], x[:, 1:])
        loss.mean().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    train_tps = args.steps * B * T / (time.perf_counter() - t0)
    docs = [rng.integers(1, mcfg.vocab_size, 200).astype(np.int32) for _ in range(100)]
    t0 = time.perf_counter()
    bits_per_byte(model, docs, n_bytes=100 * 800, block_size=T, batch_size=32)
    eval_tps = 100 * 201 / (time.perf_counter() - t0)
    print(f"model: {model.n_params():,} non-embedding params, {mcfg}")
    print(
        f"training: {train_tps:,.0f} tokens/s   evaluation: {eval_tps:,.0f} tokens/s   (threads={args.threads})"
    )


if __name__ == "__main__":
    main()
