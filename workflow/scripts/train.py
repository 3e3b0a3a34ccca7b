"""Train one proxy LM per seed on a selection and evaluate it along the way; beside it, the n-gram
reference (``lm.ngram.orders``) fitted on the same seed's selection and scored on the same final sets.

All seeds of a selection share this job so torch start-up, tokenisation of the pool and of the
evaluation sets are paid once.
"""

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dqreview.runner import job_device, run

log = logging.getLogger("dqreview.train")


def main(smk):
    from dqreview import paths
    from dqreview.cost import measure
    from dqreview.io import read_parquet, write_json
    from dqreview.lm.evaluate import evaluate_sets
    from dqreview.lm.hf import export_hf
    from dqreview.lm.model import GPTConfig
    from dqreview.lm.ngram import ngram_scores
    from dqreview.lm.tasks import load_task, score_task
    from dqreview.lm.tokenizer import encode_batch, load_tokenizer
    from dqreview.lm.train import clear_checkpoint, train_run

    cfg = smk.config["lm"]
    wc = smk.wildcards
    device = job_device(smk)
    tok = load_tokenizer(smk.input.tokenizer)
    pool = pd.concat(
        [read_parquet(p, columns=["id", "text", "domain", "n_bytes"]) for p in smk.input.shards],
        ignore_index=True,
    ).set_index("id")
    domain_names = sorted(pool["domain"].unique())
    domain_code = {d: i for i, d in enumerate(domain_names)}

    eval_sets = {}  # evaluation name (target, heldout/<domain>) → its tokens and bytes
    for name, path in zip(smk.params.eval_names, smk.input.eval_sets, strict=True):
        df = read_parquet(path, columns=["text", "n_bytes"])
        eval_sets[name] = (encode_batch(tok, df["text"].tolist()), int(df["n_bytes"].sum()))

    model_cfg = GPTConfig.from_dict({**cfg["model"], "vocab_size": tok.get_vocab_size()})
    tasks = {
        t["name"]: load_task(path) for t, path in zip(cfg["eval"]["tasks"], smk.input.tasks, strict=True)
    }

    def evaluate(model, final):
        # the learning curve needs target bits per byte only; the heldout domains and the tasks,
        # read from the final checkpoint alone, are scored there
        results = evaluate_sets(
            model,
            eval_sets if final else {"target": eval_sets["target"]},
            block_size=model_cfg.block_size,
            batch_size=cfg["eval"]["batch_size"],
            device=device,
        )
        scores = {f"bpb/{name}": r["bpb"] for name, r in results.items()}
        if final:
            for name, items in tasks.items():
                res = score_task(model, tok, items, device=device)
                scores.update({f"task/{name}/acc": res["acc"], f"task/{name}/acc_norm": res["acc_norm"]})
        return scores

    selection = paths.selection(wc.metric, wc.variant, wc.keep, wc.budget)
    # a baseline's learning-curve run (rule train_curve) trains longer, with more checkpoints
    train_cfg = {**cfg["train"], **smk.params.train_overrides}
    total_tokens = 0
    # the final proxies as Hugging Face directories (lm.train.keep_model; not for the compute curves' runs)
    model_dirs = list(getattr(smk.output, "models", [])) or [None] * len(smk.config["seeds"])
    with measure(smk.params.stage, selection, smk.output.cost, device) as rec:
        for ids_path, eval_path, log_path, model_dir, seed in zip(
            smk.input.ids, smk.output.evals, smk.output.logs, model_dirs, smk.config["seeds"], strict=True
        ):
            chosen = read_parquet(ids_path)
            ids = chosen["id"]
            # a schedule (Skill-It) carries a round per document: train the rounds in order
            rounds = chosen["round"].to_numpy(np.int64) if "round" in chosen.columns else None
            docs = pool.loc[ids]
            tokens = encode_batch(tok, docs["text"].tolist())
            domains = docs["domain"].map(domain_code).to_numpy(np.int64)
            ckpt = Path(smk.params.ckpt) / f"s{seed}"
            t0 = time.perf_counter()
            result = train_run(
                tokens,
                domains,
                model_cfg,
                train_cfg,
                seed=int(seed),
                evaluate=evaluate,
                ckpt_dir=ckpt,
                device=device,
                rounds=rounds,
            )
            log.info(
                "%s seed %d: %d documents, %.2f epochs, %.0f tokens/s, final target bpb %.4f (%.1f s)",
                selection,
                seed,
                len(ids),
                result["epochs"],
                result["tokens_per_s"],
                result["curve"][-1]["bpb/target"],
                time.perf_counter() - t0,
            )
            final = result["curve"][-1]
            # the n-gram reference: one pass over the same documents, the proxy's final sets and windows
            t0 = time.perf_counter()
            ngram = ngram_scores(
                tokens, eval_sets, smk.params.ngram_orders, tok.get_vocab_size(), model_cfg.block_size
            )
            ngram_seconds = time.perf_counter() - t0
            if ngram:
                log.info(
                    "%s seed %d: n-gram reference %s (%.1f s)",
                    selection,
                    seed,
                    ", ".join(f"{k} {v:.4f}" for k, v in ngram.items() if k.endswith("/bpb/target")),
                    ngram_seconds,
                )
            write_json(
                {
                    "selection": selection,
                    "seed": int(seed),
                    "n_docs": len(ids),
                    "n_bytes": int(docs["n_bytes"].sum()),
                    "epochs": result["epochs"],
                    "tokens": result["tokens"],
                    "final": final,
                    "ngram": ngram,
                    "curve": result["curve"],
                    "domains": {d: int((docs["domain"] == d).sum()) for d in domain_names},
                },
                eval_path,
            )
            write_json(
                {
                    **{k: v for k, v in result.items() if k not in ("curve", "model")},
                    "ngram_seconds": ngram_seconds,
                },
                log_path,
            )
            if model_dir is not None:
                export_hf(
                    result["model"], tok, model_dir
                )  # atomic: the directory appears complete or not at all
            clear_checkpoint(ckpt)
            total_tokens += result["tokens"]
            rec.flops = (rec.flops or 0) + result["flops_per_token"] * result["tokens"]
        rec.items, rec.items_unit = total_tokens, "training tokens"
        rec.flops_formula = (
            "flops_per_token(model) x training tokens, summed over seeds (evaluation excluded)"
        )


run(main, snakemake)
