"""The cost curve: every per-document stage at 10k, 100k and 1M documents.

Documents are perturbed copies of the real pool's chunks (dqreview.scaling.synthetic_pool: word swaps,
drops and substitutions at 10% per word; 5% near-duplicates of an earlier document at 2% per word). Each
stage (prepare, static embed, MiniLM embed on a sample extrapolated linearly, every metric's shard
features / fit / score, select) runs in a fresh child process through the same library calls as the
workflow's jobs; the table has wall, CPU (user + system), peak RSS of the stage alone, µs per document
and the log-log slope of wall time against documents per stage.

PYTHONPATH=src nice .venv/bin/python benchmarks/scaling.py --sizes 10000 100000 1000000 --out /tmp/scaling \\
    --pool 'results/data/pool/shard-*.parquet' --target results/data/target/ref.parquet \\
    --static-model results/static-model --workers 2
"""

from __future__ import annotations

import argparse
import logging
import os

# one BLAS thread per process (per-shard stages run --workers processes; fits get --workers threads
# explicitly); set before numpy loads
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import yaml  # noqa: E402

from dqreview import scaling  # noqa: E402
from dqreview.io import write_csv  # noqa: E402

#: The issue's goal: these methods end to end on 1M documents.
GOAL_METRICS = ["dsir", "minhash", "ssl_proto", "proto_align", "semdedup"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument(
        "--out", required=True, help="directory for scaling.csv, scaling.pdf and the scratch pools"
    )
    ap.add_argument("--pool", required=True, help="glob of the real pool's shards (the chunks to perturb)")
    ap.add_argument(
        "--target", required=True, help="target ref parquet (proto_align's prototypes, DSIR's target)"
    )
    ap.add_argument("--static-model", required=True, help="the static (model2vec) encoder's directory")
    ap.add_argument(
        "--config", default="configs/review.yaml", help="where each metric's first variant is read"
    )
    ap.add_argument("--metrics", nargs="+", default=GOAL_METRICS)
    ap.add_argument("--minilm-sample", type=int, default=2000, help="documents MiniLM is timed on (0: skip)")
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument(
        "--workers",
        type=int,
        default=2,
        help="cores: per-shard stages run this many at a time, fits get this many BLAS threads",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep-scratch", action="store_true", help="keep the scratch pools under OUT/work")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    with open(args.config) as fh:
        config = yaml.safe_load(fh)
    with open("config.yaml") as fh:
        embed = yaml.safe_load(fh)["embed"]
    variants = scaling.variants_from_config(config, args.metrics)
    os.makedirs(args.out, exist_ok=True)
    work = os.path.join(args.out, "work")
    raw = scaling.run_scaling(
        args.sizes, work, args.pool, args.target, args.static_model, variants,
        minilm=embed if args.minilm_sample else None, minilm_sample=args.minilm_sample, shards=args.shards,
        seed=args.seed, key="--sizes", keep_scratch=args.keep_scratch, workers=args.workers,
    )  # fmt: skip
    table = scaling.scaling_table(raw)
    write_csv(table, os.path.join(args.out, "scaling.csv"))
    scaling.plot_scaling(table, os.path.join(args.out, "scaling.pdf"))
    show = table.drop(columns="complexity").round({"wall_s": 2, "cpu_s": 2, "peak_rss_mb": 0, "us_per_doc": 1,
                                                    "slope": 2})  # fmt: skip
    print(show.to_string(index=False))
    print(f"\nprepared documents per size: {dict(zip(raw['n_docs'], raw['prepared'], strict=True))}")
    print(
        f"{args.shards} pool shards at every size, {args.workers} at a time (prepare: raw parts); fits with "
        f"{args.workers} BLAS threads; stages one after another"
    )
    print(
        f"end to end (every stage but MiniLM) against the goal (1M documents, 2 cores, <= 10 min, <= 8 GB), "
        f"on {args.workers} cores:"
    )
    print(scaling.summary(table))


if __name__ == "__main__":
    main()
