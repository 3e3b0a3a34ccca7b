"""Skill-It for one variant: skill graph + online rounds with a proxy per seed, schedule as JSON."""

import logging

import numpy as np

from dqreview.runner import job_device, run

log = logging.getLogger("dqreview.skillit")


def main(smk):
    from dqreview.config import variant_params
    from dqreview.cost import measure
    from dqreview.io import read_parquet, write_json
    from dqreview.lm.model import GPTConfig
    from dqreview.lm.tokenizer import encode_batch
    from dqreview.metrics.skillit import check_params, run_skillit, skill_labels, target_rows, validation_mask
    from dqreview.mixture import load_pool_tokens

    wc = smk.wildcards
    cfg = smk.config["lm"]
    device = job_device(smk)
    params = check_params(variant_params(smk.config, "skillit", wc.variant))
    pool = load_pool_tokens(smk.input.shards, smk.input.tokenizer)
    if "skills" in smk.input.keys():  # skills = k-means clusters of an ssl_proto variant
        clusters = read_parquet(smk.input.skills, columns=["id", "cluster"])
        pool.relabel(skill_labels(pool.frame["id"], clusters, smk.input.skills))
    frame = pool.frame
    names = sorted(frame["domain"].unique())
    codes = frame["domain"].map({d: i for i, d in enumerate(names)}).to_numpy(np.int64)
    ref = read_parquet(smk.input.ref, columns=["id", "text"])
    ref = ref.iloc[target_rows(ref["id"].to_numpy(), params["target_docs"])]
    target = encode_batch(pool.tokenizer, ref["text"].tolist())
    model_cfg = GPTConfig.from_dict({**cfg["model"], "vocab_size": pool.vocab_size})
    with measure("mixture", f"skillit/{wc.variant}", smk.output.cost, device) as rec:
        flops, tokens = 0.0, 0
        for seed, path in zip(smk.config["seeds"], smk.output.schedules, strict=True):
            # evaluation skills: a hash-picked validation slice of each domain (kept out of the
            # proxy's training data) and the target ref
            val = validation_mask(frame["id"], frame["domain"], params["val_docs"], int(seed))
            evals = {
                d: [pool.tokens[i] for i in np.flatnonzero(val & (codes == j))] for j, d in enumerate(names)
            }
            evals["target"] = target
            train_idx = np.flatnonzero(~val)
            out = run_skillit(
                [pool.tokens[i] for i in train_idx], codes[train_idx], names, evals, model_cfg, cfg["train"],
                params, int(seed), device, eval_batch_size=cfg["eval"]["batch_size"],
            )  # fmt: skip
            out.update(
                method="skillit", variant=wc.variant, seed=int(seed), bytes_per_token=pool.bytes_per_token
            )
            write_json(out, path)
            log.info(
                "seed %s: final mixture %s", seed, {d: round(w, 4) for d, w in out["final_mixture"].items()}
            )
            flops += out["flops"]
            tokens += out["tokens"]["start"] + out["tokens"]["graph"] + out["tokens"]["online"]
        rec.flops, rec.items, rec.items_unit = flops, tokens, "proxy training tokens"
        rec.flops_formula = out["flops_formula"] + ", summed over seeds"
        rec.extra = {"seeds": len(smk.config["seeds"]), "tokens_per_seed": out["tokens"]}


run(main, snakemake)
