"""DoReMi's α_t trace and Skill-It's skill graph against the warm start, on a finished run's pool.

.venv/bin/python benchmarks/mixture_warm_start.py --root . --config config.yaml \
    --doremi-steps 48 --skillit-start 0,8,16,24 --graph-steps 8 --threads 1

Reads the pool shards, target ref and tokenizer under ``--root`` (the directory holding ``results/`` of a
finished run, e.g. of ``configs/tiny.yaml``) and trains proxies of ``--config``'s ``lm.model`` / ``lm.train`` shape (seed 0, on the CPU):

- DoReMi (``train_doremi``, one round): the reference's and the proxy's training loss and α_t per step,
  the largest deviation of α_t from uniform, and ᾱ for several burn-ins ``average_from``;
- Skill-It (``run_skillit``): the skill graph from a common start warm-started ``start_steps`` on the
  natural mixture, for each value of ``--skillit-start``: the start losses, the graph, its mean edge,
  the ratio of its mean diagonal (a domain helping itself) to its mean off-diagonal edge among the
  domains, and the target column.

The numbers in docs/methods.md ("DoReMi", "Skill-It") come from this script.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import yaml


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=".", help="the directory holding a finished run's results/")
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--doremi-steps", type=int, default=48)
    ap.add_argument("--skillit-start", default="0,8,16,24")
    ap.add_argument("--graph-steps", type=int, default=8)
    ap.add_argument("--val-docs", type=int, default=20)
    ap.add_argument("--target-docs", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from dqreview import paths
    from dqreview.io import read_parquet
    from dqreview.lm.model import GPTConfig
    from dqreview.lm.tokenizer import encode_batch
    from dqreview.metrics.doremi import average_after_burn_in, train_doremi
    from dqreview.metrics.skillit import SkillItParams, run_skillit, target_rows, validation_mask
    from dqreview.mixture import load_pool_tokens

    root = Path(args.root)
    shards = sorted(str(p) for p in root.glob(paths.POOL_SHARD.format(shard="*")))
    pool = load_pool_tokens(shards, str(root / paths.TOKENIZER))
    lm = yaml.safe_load(Path(args.config).read_text())["lm"]
    model = GPTConfig.from_dict({**lm["model"], "vocab_size": pool.vocab_size})
    frame = pool.frame
    names = sorted(frame["domain"].unique())
    codes = frame["domain"].map({d: i for i, d in enumerate(names)}).to_numpy(np.int64)
    print(
        f"pool: {len(frame)} documents, domains {dict(zip(names, np.bincount(codes).tolist(), strict=True))}"
    )
    print(f"proxy: {lm['model']}, train {lm['train']}")

    if args.doremi_steps:
        t = time.perf_counter()
        out = train_doremi(pool.tokens, codes, names, model, lm["train"], 0, "cpu", steps=args.doremi_steps)
        r = out["rounds"][0]
        alpha = np.array(r["alpha"])
        print(f"\nDoReMi, {args.doremi_steps} steps ({time.perf_counter() - t:.1f} s): step, proxy loss, "
              f"reference loss, max|α_t − 1/k|, α_t ({', '.join(names)})")  # fmt: skip
        for s in range(len(alpha)):
            print(
                f"{s + 1:4d} {r['proxy_train_loss'][s]:.3f} {r['reference_train_loss'][s]:.3f} "
                f"{np.abs(alpha[s] - 1 / len(names)).max():.3f} {np.round(alpha[s], 3).tolist()}"
            )
        for f in (0.0, 0.1, 0.25, 0.5):
            print(f"ᾱ, average_from {f}: {np.round(average_after_burn_in(alpha, f), 3).tolist()}")

    starts = [int(x) for x in args.skillit_start.split(",") if x != ""]
    if starts:
        val = validation_mask(frame["id"], frame["domain"], args.val_docs, 0)
        evals = {d: [pool.tokens[i] for i in np.flatnonzero(val & (codes == j))] for j, d in enumerate(names)}
        ref = read_parquet(str(root / paths.TARGET.format(split="ref")), columns=["id", "text"])
        ref = ref.iloc[target_rows(ref["id"].to_numpy(), args.target_docs)]
        evals["target"] = encode_batch(pool.tokenizer, ref["text"].tolist())
        train = np.flatnonzero(~val)
        k = len(names)
        for start in starts:
            t = time.perf_counter()
            p = SkillItParams(rounds=1, update_steps=1, graph_steps=args.graph_steps, start_steps=start,
                              val_docs=args.val_docs)  # fmt: skip
            out = run_skillit(
                [pool.tokens[i] for i in train], codes[train], names, evals, model, lm["train"], p, 0
            )
            g = np.array(out["graph"])
            square = g[:, :k]
            diag = np.trace(square) / k
            off = (square.sum() - np.trace(square)) / (k * (k - 1))
            print(
                f"\nSkill-It, start_steps {start}, graph_steps {args.graph_steps} ({time.perf_counter() - t:.1f} s)"
            )
            print(
                f"L_j(start) ({', '.join([*names, 'target'])}): {np.round(out['graph_losses']['start'], 3).tolist()}"
            )
            print(np.round(g, 2))
            ratio = f"{diag / off:.1f}" if off > 0 else "inf"
            print(
                f"mean edge {g.mean():.3f}, diagonal/off-diagonal {ratio}, target column {np.round(g[:, -1], 2).tolist()}"
            )


if __name__ == "__main__":
    main()
