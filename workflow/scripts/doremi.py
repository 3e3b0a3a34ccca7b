"""DoReMi for one variant: reference + Group DRO proxy per seed, domain weights ᾱ as JSON."""

import logging

import numpy as np

from dqreview.runner import job_device, run

log = logging.getLogger("dqreview.doremi")


def main(smk):
    from dqreview.config import variant_params
    from dqreview.cost import measure
    from dqreview.io import write_json
    from dqreview.lm.model import GPTConfig
    from dqreview.metrics.doremi import train_doremi
    from dqreview.mixture import load_pool_tokens

    wc = smk.wildcards
    cfg = smk.config["lm"]
    device = job_device(smk)
    params = variant_params(smk.config, "doremi", wc.variant)
    pool = load_pool_tokens(smk.input.shards, smk.input.tokenizer)
    names = sorted(pool.frame["domain"].unique())
    codes = pool.frame["domain"].map({d: i for i, d in enumerate(names)}).to_numpy(np.int64)
    model_cfg = GPTConfig.from_dict({**cfg["model"], "vocab_size": pool.vocab_size})
    with measure("mixture", f"doremi/{wc.variant}", smk.output.cost, device) as rec:
        flops, tokens = 0.0, 0
        for seed, path in zip(smk.config["seeds"], smk.output.weights, strict=True):
            out = train_doremi(pool.tokens, codes, names, model_cfg, cfg["train"], params, int(seed), device)
            out.update(method="doremi", variant=wc.variant, seed=int(seed), domains=names,
                       bytes_per_token=pool.bytes_per_token)  # fmt: skip
            write_json(out, path)
            log.info("seed %s: weights %s", seed, {d: round(w, 4) for d, w in out["weights"].items()})
            flops += out["flops"]
            tokens += sum(out["tokens"].values())
        rec.flops, rec.items, rec.items_unit = flops, tokens, "proxy training tokens"
        rec.flops_formula = out["flops_formula"] + ", summed over seeds"
        rec.extra = {"seeds": len(smk.config["seeds"]), "reference_and_proxy_tokens_per_seed": out["tokens"]}


run(main, snakemake)
