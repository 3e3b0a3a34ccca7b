"""A mixture method's proxy runs for one variant, every seed in one job: the learned state per seed as JSON."""

import logging

from dqreview.runner import job_device, run

log = logging.getLogger("dqreview.mixture")


def main(smk):
    from dqreview.cost import measure
    from dqreview.io import write_json
    from dqreview.lm.model import GPTConfig
    from dqreview.metrics import variant_of
    from dqreview.metrics.base import ProxyLM
    from dqreview.mixture import load_pool_tokens

    wc = smk.wildcards
    cfg = smk.config["lm"]
    method, params = variant_of(smk.config, wc.metric, wc.variant)
    pool = load_pool_tokens(smk.input.shards, smk.input.tokenizer)
    inputs = {i.name: i.load(smk.input[i.name]) for i in method.learn_inputs(params)}
    proxy = ProxyLM(
        model=GPTConfig.from_dict({**cfg["model"], "vocab_size": pool.vocab_size}),
        train=cfg["train"],
        eval_batch_size=cfg["eval"]["batch_size"],
        device=job_device(smk),
    )
    with measure("mixture", f"{wc.metric}/{wc.variant}", smk.output.cost, proxy.device) as rec:
        flops, tokens = 0.0, 0
        for seed, path in zip(smk.config["seeds"], smk.output.states, strict=True):
            learned = method.learn(pool, inputs, params, int(seed), proxy)
            write_json({**learned.state, "method": wc.metric, "variant": wc.variant, "seed": int(seed)}, path)
            log.info("%s/%s seed %s: learned in %d proxy tokens", wc.metric, wc.variant, seed, learned.tokens)
            flops += learned.flops
            tokens += learned.tokens
        rec.flops, rec.items, rec.items_unit = flops, tokens, "proxy training tokens"
        rec.flops_formula = learned.flops_formula + ", summed over seeds"
        rec.extra = {"seeds": len(smk.config["seeds"]), **learned.extra}


run(main, snakemake)
