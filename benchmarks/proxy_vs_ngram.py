"""Is the proxy LM above n-gram level? One proxy shape against Kneser-Ney bigram and trigram models fitted
on the same selection, both scored on target test in bits per byte exactly as the workflow scores them.

Reads a finished run's pool, target test and random selections (`results/`), trains one proxy on the
random selection of --budget and --seed with the shape and schedule given on the command line (defaults:
config.yaml's lm section), and prints one JSON line: the proxy's bits per byte, the n-grams', the gap, the
epochs and the training tokens/s (one thread). The proxy's tokenizer is refitted to the pool when
--vocab differs from the run's.

.venv/bin/python benchmarks/proxy_vs_ngram.py --results results --budget 0.10 --seed 0
.venv/bin/python benchmarks/proxy_vs_ngram.py --budget 0.10 --tokens 983040 --precision fp32   # a cheaper shape
.venv/bin/python benchmarks/proxy_vs_ngram.py --budget 1.00 --config configs/review.yaml      # review.yaml's proxy

A budget the run did not select is drawn as random draws it (uniform from hash(id, seed)).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml


def lm_config(path: str) -> dict:
    from snakemake.utils import update_config

    config = yaml.safe_load(Path("config.yaml").read_text())
    if path != "config.yaml":
        update_config(config, yaml.safe_load(Path(path).read_text()))
    return config["lm"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default="results", help="a finished run's results/ directory")
    ap.add_argument("--config", default="config.yaml", help="lm section defaults (a second config on top)")
    ap.add_argument("--budget", default="0.10")
    ap.add_argument("--seed", type=int, default=0)
    for key, kind in (
        ("vocab", int), ("layers", int), ("embd", int), ("heads", int), ("block", int), ("dropout", float),
        ("tokens", int), ("batch", int), ("lr", float), ("warmup", int), ("precision", str),
    ):  # fmt: skip
        ap.add_argument(f"--{key}", type=kind, default=None)
    a = ap.parse_args()
    from dqreview.io import read_parquet
    from dqreview.lm.evaluate import evaluate_sets
    from dqreview.lm.model import GPTConfig
    from dqreview.lm.ngram import ngram_scores
    from dqreview.lm.tokenizer import encode_batch, load_tokenizer, train_tokenizer
    from dqreview.lm.train import train_run
    from dqreview.runner import keep_freed_memory

    torch.set_num_threads(1)
    keep_freed_memory()
    lm = lm_config(a.config)
    model, train = dict(lm["model"]), dict(lm["train"])
    for key, name in (
        ("layers", "n_layer"),
        ("embd", "n_embd"),
        ("heads", "n_head"),
        ("block", "block_size"),
    ):
        if getattr(a, key) is not None:
            model[name] = getattr(a, key)
    if a.dropout is not None:
        model["dropout"] = a.dropout
    for key, name in (("tokens", "tokens"), ("batch", "batch_size"), ("warmup", "warmup_steps")):
        if getattr(a, key) is not None:
            train[name] = getattr(a, key)
    if a.lr is not None:
        train["lr"], train["min_lr"] = a.lr, a.lr / 10
    if a.precision is not None:
        train["precision"] = a.precision
    train.update(checkpoints=1, save_every=10**9)
    train.pop("tokens_at_budget", None)

    results = Path(a.results)
    pool = pd.concat(
        [
            read_parquet(p, columns=["id", "text", "n_bytes"])
            for p in sorted(results.glob("data/pool/shard-*.parquet"))
        ]
    ).set_index("id")
    vocab = a.vocab or lm["tokenizer"]["vocab_size"]
    tok = load_tokenizer(results / "lm/tokenizer.json")
    if tok.get_vocab_size() != vocab:
        tok = train_tokenizer(
            pool["text"].tolist(), vocab_size=vocab, min_frequency=lm["tokenizer"]["min_frequency"]
        )
    path = results / f"select/random/uniform/high/b{a.budget}/s{a.seed}.parquet"
    if path.exists():
        ids = read_parquet(path)["id"]
    else:
        from dqreview.select import select_budget

        index = pool.reset_index()[["id", "n_bytes"]]
        # random's scores are all zero: the order is unit_uniform(id, seed), as in the workflow
        ids = select_budget(index, index[["id"]].assign(score=0.0), float(a.budget), "high", a.seed)[0]["id"]
    docs = encode_batch(tok, pool.loc[ids, "text"].tolist())
    test = read_parquet(results / "data/target/test.parquet", columns=["text", "n_bytes"])
    eval_sets = {"target": (encode_batch(tok, test["text"].tolist()), int(test["n_bytes"].sum()))}
    cfg = GPTConfig.from_dict({**model, "vocab_size": tok.get_vocab_size()})

    def evaluate(m, final):
        res = evaluate_sets(m, eval_sets, block_size=cfg.block_size, batch_size=32, device="cpu")
        return {"bpb/target": res["target"]["bpb"]}

    t0 = time.perf_counter()
    run = train_run(docs, np.zeros(len(docs), np.int64), cfg, train, a.seed, evaluate, None, progress=False)
    wall = time.perf_counter() - t0
    ngram = ngram_scores(docs, eval_sets, [2, 3], tok.get_vocab_size(), cfg.block_size)
    proxy = run["curve"][-1]["bpb/target"]
    print(
        json.dumps(
            {
                "budget": a.budget,
                "seed": a.seed,
                "vocab": tok.get_vocab_size(),
                "model": model,
                "train": {
                    k: train[k]
                    for k in ("tokens", "batch_size", "lr", "warmup_steps", "precision")
                    if k in train
                },
                "selected_tokens": int(sum(len(d) for d in docs)),
                "epochs": round(run["epochs"], 2),
                "proxy_bpb": round(proxy, 4),
                "bigram_bpb": round(ngram["ngram2/bpb/target"], 4),
                "trigram_bpb": round(ngram["ngram3/bpb/target"], 4),
                "proxy_minus_bigram": round(proxy - ngram["ngram2/bpb/target"], 4),
                "train_tokens_per_s": round(run["tokens_per_s"]),
                "wall_s": round(wall, 1),
            }
        )  # fmt: skip
    )


if __name__ == "__main__":
    main()
