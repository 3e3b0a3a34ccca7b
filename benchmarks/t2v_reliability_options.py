"""Task2Vec alignment reliability of per-document estimator options: label draws per position, layer subsets.

PYTHONPATH=src .venv/bin/python benchmarks/t2v_reliability_options.py --results results --sample 1000

For each option (layers × label_samples) it embeds a hash sample of the pool and all of target ref twice,
with label seeds 0 and 1, fits the configured alignment variant's prototypes on each seed's target vectors,
scores the sample, and prints Spearman and top-10% Jaccard between the two seeds' scores with the seconds
each seed took (docs/methods.md, "Task2Vec reliability"). Run on a finished default run's results/ (its
probe, tokenizer, pool shards and target ref).
"""

from __future__ import annotations

import argparse
import glob
import json
import time

import numpy as np
import pandas as pd
import torch
import yaml

OPTIONS = {
    "final": ("final", 1),
    "final, 4 label draws": ("final", 4),
    "final-no-head": ("final-no-head", 1),
    "final-no-head, 4 label draws": ("final-no-head", 4),
    "final-outputs": ("final-outputs", 1),
    "final-outputs-no-head": ("final-outputs-no-head", 1),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--results", default="results")
    ap.add_argument("--sample", type=int, default=1000)
    ap.add_argument("--options", nargs="*", default=list(OPTIONS), help=f"of {list(OPTIONS)}")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from dqreview.metrics import variant_of
    from dqreview.probe import load_gpt_probe
    from dqreview.report.t2v_reliability import (
        alignment_with_label_seed,
        label_seed_vectors,
        rank_agreement,
        reliability_sample,
    )

    config = yaml.safe_load(open(args.config))
    t2v = config["task2vec"]
    entry = next(e for e in config["metrics"] if e["name"] == "t2v_align")
    method, params = variant_of(config, "t2v_align", entry["variants"][0]["slug"], config["seeds"][0])
    r = args.results
    probe = load_gpt_probe(f"{r}/probe/hf", f"{r}/lm/tokenizer.json")
    pool = pd.concat(
        [
            pd.read_parquet(p, columns=["id", "text"])
            for p in sorted(glob.glob(f"{r}/data/pool/shard-*.parquet"))
        ]
    )
    pool = pool.iloc[reliability_sample(pool["id"].astype(str).tolist(), args.sample)].reset_index(drop=True)
    ref = pd.read_parquet(f"{r}/data/target/ref.parquet", columns=["id", "text"])
    losses = pd.read_parquet(f"{r}/t2v/target/ref.parquet")["loss"].to_numpy()
    pool_tokens, ref_tokens = probe.encode(pool["text"].tolist()), probe.encode(ref["text"].tolist())
    rows = []
    for name in args.options:
        layers, draws = OPTIONS[name]
        opts = {"window": t2v["window"], "layers": layers, "chunk_size": t2v["chunk_size"],
                "token_scale": t2v.get("token_scale", True), "label_samples": draws}  # fmt: skip
        scores, seconds = [], []
        for seed in (0, 1):
            t0 = time.process_time()
            pv = label_seed_vectors(probe, pool_tokens, pool["id"], seed, opts, None)
            rv = label_seed_vectors(probe, ref_tokens, ref["id"], seed, opts, None)
            seconds.append(time.process_time() - t0)
            scores.append(alignment_with_label_seed(method, params, pool, pv, rv, losses))
        row = {"option": name, "dim": int(pv.shape[1]), **rank_agreement(*scores), "cpu_s_per_seed": np.mean(seconds),
               "docs_per_seed": len(pool) + len(ref)}  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
