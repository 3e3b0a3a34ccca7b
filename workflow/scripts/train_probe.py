"""Train the Task2Vec probe (a small GPT-2-style LM) on the pool, reusing the proxy LM's training loop."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from dqreview.runner import job_device, run

log = logging.getLogger("dqreview.probe")


def main(smk):
    from dqreview.cost import measure
    from dqreview.io import read_parquet
    from dqreview.lm.model import GPTConfig
    from dqreview.lm.tokenizer import encode_batch, load_tokenizer
    from dqreview.lm.train import clear_checkpoint, train_run
    from dqreview.probe import probe_model_config, save_gpt_probe

    cfg = smk.config
    spec = cfg["task2vec"]["probe"]
    device = job_device(smk)
    tok = load_tokenizer(smk.input.tokenizer)
    pool = pd.concat(
        [read_parquet(p, columns=["text", "domain"]) for p in smk.input.shards], ignore_index=True
    )
    domain_code = {d: i for i, d in enumerate(sorted(pool["domain"].unique()))}
    model_cfg = GPTConfig.from_dict(probe_model_config(cfg, tok.get_vocab_size()))
    train_cfg = {**cfg["lm"]["train"], **(spec.get("train") or {})}
    with measure("probe", "train_probe", smk.output.cost, device) as rec:
        docs = encode_batch(tok, pool["text"].tolist())
        result = train_run(
            docs,
            pool["domain"].map(domain_code).to_numpy(np.int64),
            model_cfg,
            train_cfg,
            seed=int(spec.get("seed", 0)),
            evaluate=lambda model, final: {},  # the probe needs no learning curve
            ckpt_dir=Path(smk.params.ckpt),
            device=device,
        )
        rec.items, rec.items_unit = result["tokens"], "training tokens"
        rec.flops = result["flops_per_token"] * result["tokens"]
        rec.flops_formula = (
            f"flops_per_token(probe) x training tokens ({result['flops_per_token']:.3g} x {result['tokens']})"
        )
        rec.extra = {
            "final_train_loss": result["train_loss"][-1],
            "n_params": result["n_params"],
            "tokens_per_s": result["tokens_per_s"],
        }
    save_gpt_probe(result["model"], tok, smk.output.model)
    clear_checkpoint(Path(smk.params.ckpt))
    log.info("probe: %d parameters, final train loss %.3f", result["n_params"], result["train_loss"][-1])


run(main, snakemake)
