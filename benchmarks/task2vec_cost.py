"""Task2Vec cost: per-document vectors vs one forward+backward of the probe, and one diversity coefficient.

.venv/bin/python benchmarks/task2vec_cost.py --config config.yaml --docs 256
.venv/bin/python benchmarks/task2vec_cost.py --probe results/probe/hf --tokenizer results/lm/tokenizer.json \
    --shard results/data/pool/shard-0.parquet

Targets: per-document Task2Vec <= 1.5x one forward+backward of the probe over the same tokens (issue 6) and,
with the forward path (``method="forward"``), <= 0.5x; both paths are timed, interleaved, best of
``--repeats``;
diversity coefficient of one domain (20 batches x 64 documents, the paper's head fine-tuning) <= 2 min on
2 cores. Without --probe the probe is the config's shape, randomly initialised (speed does not depend on
the weights); without --shard documents are random tokens with lengths like the embedded pool's chunks.
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
    ap.add_argument("--probe", help="a trained probe: its Hugging Face directory (results/probe/hf)")
    ap.add_argument("--tokenizer", help="tokenizer.json (with --probe or --shard)")
    ap.add_argument("--shard", help="a pool shard parquet to take documents from")
    ap.add_argument("--docs", type=int, default=256, help="documents for the per-document measurement")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--layers",
        default="final-no-head",
        help="final, final-no-head (the default config's), final-outputs or final-outputs-no-head",
    )
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the best of each is kept")
    ap.add_argument("--skip-diversity", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from dqreview.lm.model import GPT, GPTConfig
    from dqreview.measures import diversity as dv
    from dqreview.probe import gpt_probe, load_gpt_probe
    from dqreview.task2vec import document_vectors, forward_backward_seconds

    config = yaml.safe_load(open(args.config))
    t2v = config["task2vec"]
    W, chunk = t2v["window"], t2v["chunk_size"]
    if args.probe:
        probe = load_gpt_probe(args.probe, args.tokenizer)
    else:
        shape = {**config["lm"]["model"], **t2v["probe"].get("model", {})}
        shape["vocab_size"] = config["lm"]["tokenizer"]["vocab_size"]
        torch.manual_seed(0)
        probe = gpt_probe(GPT(GPTConfig.from_dict(shape)), tokenizer=None)
    rng = np.random.default_rng(0)
    if args.shard:
        import pandas as pd

        from dqreview.lm.tokenizer import encode_batch, load_tokenizer

        texts = pd.read_parquet(args.shard, columns=["text"])["text"].tolist()
        docs = [a.astype(np.int64) for a in encode_batch(load_tokenizer(args.tokenizer), texts)]
    else:
        docs = [rng.integers(1, probe.vocab_size, size=int(n)) for n in rng.integers(100, 260, size=2000)]
    sample = docs[: args.docs]
    ids = [str(i) for i in range(len(sample))]
    print(f"probe: {probe.n_params()} parameters, window {W}, chunk {chunk}, {args.threads} threads")

    layers = args.layers
    for method in ("forward", "vmap"):  # warm-up
        document_vectors(probe, sample[:8], ids[:8], window=W, layers=layers, chunk_size=chunk, method=method)
    forward_backward_seconds(probe, sample[:8], W, chunk)
    times = {}
    # interleaved repeats, best of each: the machine is shared, so only same-process ratios mean much
    for _ in range(args.repeats):
        for method in ("forward", "vmap", "fb"):
            t0, c0 = time.perf_counter(), time.process_time()
            if method == "fb":
                _, tokens = forward_backward_seconds(probe, sample, W, chunk)
            else:
                vec, _, n_windows = document_vectors(
                    probe, sample, ids, window=W, layers=layers, chunk_size=chunk, method=method
                )
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            best = times.get(method, (np.inf, np.inf))
            times[method] = (min(best[0], wall), min(best[1], cpu))
    fb_s, fb_cpu = times["fb"]
    print(
        f"{len(sample)} docs, {int(n_windows.sum())} windows, {tokens} tokens; one forward+backward over the same "
        f"tokens {fb_s:.2f} s wall, {fb_cpu:.2f} s CPU (best of {args.repeats})"
    )
    for method in ("forward", "vmap"):
        wall, cpu = times[method]
        print(
            f"per-document Task2Vec, layers={layers} ({vec.shape[1]} dims), method={method}: {wall:.2f} s "
            f"({1e3 * wall / len(sample):.1f} ms/doc) → ratio {wall / fb_s:.2f}x wall, {cpu / fb_cpu:.2f}x CPU "
            f"(target: forward <= 0.5x)"
        )
    if args.skip_diversity:
        return
    coef = t2v["coefficients"]
    t0, c0 = time.perf_counter(), time.process_time()
    E = dv.dataset_embeddings(
        probe, docs, coef["n_batches"], coef["batch_size"], 0, "bench", window=W, layers=coef["layers"],
        finetune=coef["finetune"], chunk_size=coef.get("chunk_size", 64), token_scale=t2v["token_scale"],
    )  # fmt: skip
    c = dv.diversity(E)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"diversity coefficient, {coef['n_batches']} batches x {coef['batch_size']} docs, layers={coef['layers']}, "
        f"{E.shape[1]} dims: {c.value:.4f} ± {c.ci95:.4f} in {dt:.1f} s wall, {cpu:.1f} s CPU (target <= 120 s)"
    )


if __name__ == "__main__":
    main()
