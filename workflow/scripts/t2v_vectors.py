"""Per-document Task2Vec vectors of one pool shard (or of target ref), with the probe's cost yardstick."""

import logging
import time

import numpy as np
import pandas as pd

from dqreview.runner import job_device, run

log = logging.getLogger("dqreview.t2v")


def main(smk):
    from dqreview.cost import measure
    from dqreview.io import read_parquet, write_npy, write_parquet
    from dqreview.probe import workflow_probe
    from dqreview.task2vec import document_vector_options, document_vectors, forward_backward_seconds

    cfg = smk.config["task2vec"]
    doc_cfg = cfg["documents"]
    device = job_device(smk)
    docs = read_parquet(smk.input.docs, columns=["id", "text"])
    with measure("t2v", f"t2v/{smk.wildcards.part}", smk.output.cost, device) as rec:
        probe = workflow_probe(smk.config, smk.input, device)
        tokens = probe.encode(docs["text"].tolist())
        # one-off start-up (functorch transforms, kernels) is paid here, outside both timed passes
        kw = {"window": cfg["window"], "layers": doc_cfg["layers"], "chunk_size": cfg["chunk_size"]}
        document_vectors(probe, tokens[:2], ["warm-up"] * len(tokens[:2]), **kw)
        forward_backward_seconds(probe, tokens[:2], cfg["window"], cfg["chunk_size"])
        t0, c0 = time.perf_counter(), time.process_time()
        vectors, loss, n_windows = document_vectors(
            probe,
            tokens,
            docs["id"].astype(str).tolist(),
            seed=doc_cfg["seed"],
            progress=f"task2vec {smk.wildcards.part}",
            **document_vector_options(cfg),
        )
        t2v_s, t2v_cpu = time.perf_counter() - t0, time.process_time() - c0
        c0 = time.process_time()
        fb_s, n_pred = forward_backward_seconds(probe, tokens, cfg["window"], cfg["chunk_size"])
        fb_cpu = time.process_time() - c0
        n_params = probe.n_params()
        rec.items, rec.items_unit = len(docs), "documents"
        # forward over every parameter + per-window backward through the differentiated layers (upper bound:
        # all parameters), i.e. at most one training step's 6N per predicted token
        rec.flops = 6.0 * n_params * n_pred
        rec.flops_formula = (
            f"<= 6 * N * predicted tokens (N={n_params}, tokens={n_pred}); measured ratio in extra"
        )
        rec.extra = {
            "t2v_s": t2v_s,
            "forward_backward_s": fb_s,
            "cost_vs_forward_backward": t2v_s / max(fb_s, 1e-9),
            # CPU-time ratio: less sensitive to other jobs sharing the machine than the wall-clock one
            "cpu_cost_vs_forward_backward": t2v_cpu / max(fb_cpu, 1e-9),
            "windows": int(n_windows.sum()),
            "tokens": n_pred,
            "dim": int(vectors.shape[1]),
            "probe": probe.name,
            "layers": str(doc_cfg["layers"]),
            "label_samples": int(doc_cfg.get("label_samples", 1)),
        }
    write_npy(vectors, smk.output.vectors)
    # predicted tokens per document ([eos] + tokens + [eos] predicts every token and the closing eos): what
    # t2v_complexity multiplies the per-token vector by for a document's whole Fisher
    n_tokens = np.array([len(t) + 1 for t in tokens], dtype=np.int64)
    info = {"id": docs["id"].to_numpy(), "loss": loss, "n_windows": n_windows, "n_tokens": n_tokens}
    write_parquet(pd.DataFrame(info), smk.output.info)
    log.info(
        "%s: %d documents, %d windows, %d dims; Task2Vec %.1f s = %.2f x one forward+backward (%.1f s)",
        smk.wildcards.part,
        len(docs),
        int(n_windows.sum()),
        vectors.shape[1],
        t2v_s,
        t2v_s / max(fb_s, 1e-9),
        fb_s,
    )


run(main, snakemake)
