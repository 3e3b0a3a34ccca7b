"""Embed one Parquet file of documents with the configured sentence encoder."""

import time

from dqreview.runner import job_device, run


def main(smk):
    from dqreview.cost import measure
    from dqreview.embed import STATIC_MODEL_NAME, check_embeddings, encoder_config, encoder_from_config
    from dqreview.io import read_parquet, write_npy

    stage = getattr(smk.params, "stage", "embed")
    cfg = smk.config["embed"]
    if stage == "embed_static":  # the static arm: always the distilled model, whatever embed.model says
        cfg = {**cfg, "model": STATIC_MODEL_NAME, "revision": None}
    model = cfg["model"]
    cfg = encoder_config(cfg, getattr(smk.input, "encoder", None))
    docs = read_parquet(smk.input.docs, columns=["id", "text"])
    device = job_device(smk)
    with measure(stage, smk.wildcards.part, smk.output.cost, device) as rec:
        encoder = encoder_from_config(cfg, device)
        t0 = time.perf_counter()
        emb = encoder.encode(docs["text"].tolist(), batch_size=cfg["batch_size"])
        dt = time.perf_counter() - t0
        check_embeddings(emb, len(docs), smk.output.emb)
        n_tokens = int(encoder.stats.get("n_tokens", 0))
        rec.items, rec.items_unit = len(docs), "documents"
        rec.flops, rec.flops_formula = encoder.forward_flops(n_tokens)
        rec.extra = {
            "tokens": n_tokens,
            "docs_per_s": len(docs) / max(dt, 1e-9),
            "model": model,
            "model_dir": cfg["model"],
            "precision": cfg["precision"],
            "revision": cfg.get("revision"),
            "commit": encoder.commit,
            "pooling": "+".join(encoder.head.pooling),
            "normalize": encoder.head.normalize,
            "head": encoder.head.source,
        }
    write_npy(emb, smk.output.emb)


run(main, snakemake)
