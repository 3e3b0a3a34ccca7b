"""Task2Vec alignment reliability: a pool sample and target ref re-embedded with a second label seed, the
alignment variant re-scored, and its rank agreement with the first seed and with other methods' scores."""

import logging
import time

from dqreview.runner import job_device, run

log = logging.getLogger("dqreview.t2v")


def main(smk):
    import numpy as np
    import pandas as pd

    from dqreview.io import read_npy, read_parquet, write_csv, write_text
    from dqreview.metrics import variant_of
    from dqreview.probe import workflow_probe
    from dqreview.report.t2v_reliability import (
        alignment_with_label_seed,
        label_seed_vectors,
        reliability_sample,
        reliability_table,
    )
    from dqreview.report.tables import to_latex
    from dqreview.task2vec import document_vector_options

    cfg = smk.config["task2vec"]
    rel = cfg["reliability"]
    metric, variant = smk.params.variant
    # the first grid seed's k-means seed for both label seeds: only the labels differ between the two
    method, params = variant_of(smk.config, metric, variant, smk.config["seeds"][0])
    pool = pd.concat([read_parquet(p, columns=["id", "text"]) for p in smk.input.shards], ignore_index=True)
    vectors = np.concatenate([read_npy(p) for p in smk.input.pool])
    rows = reliability_sample(pool["id"].astype(str).tolist(), rel["sample"])
    sample, first_vectors = pool.iloc[rows].reset_index(drop=True), vectors[rows]
    ref = read_parquet(smk.input.ref_docs, columns=["id", "text"])
    ref_losses = read_parquet(smk.input.ref_info, columns=["loss"])["loss"].to_numpy()
    doc_cfg = cfg["documents"]
    options = document_vector_options(cfg)
    t0 = time.perf_counter()
    probe = workflow_probe(smk.config, smk.input, job_device(smk))
    second = label_seed_vectors(probe, probe.encode(sample["text"].tolist()), sample["id"], rel["seed"],
                                options, "task2vec reliability: pool sample")  # fmt: skip
    second_ref = label_seed_vectors(probe, probe.encode(ref["text"].tolist()), ref["id"], rel["seed"], options,
                                    "task2vec reliability: target ref")  # fmt: skip
    seconds = time.perf_counter() - t0
    first_ref = read_npy(smk.input.ref)
    seed_scores = (
        alignment_with_label_seed(method, params, sample, first_vectors, first_ref, ref_losses),
        alignment_with_label_seed(method, params, sample, second, second_ref, ref_losses),
    )
    # the second seed's documents against the first seed's prototypes: the documents' share of the noise
    fixed = alignment_with_label_seed(method, params, sample, second, first_ref, ref_losses)
    metric_scores = {
        name: read_parquet(path, columns=["id", "score"]).set_index("id")["score"]
        for name, path in smk.params.scores.items()
    }
    # the first seed's sample scores must be the run's own (same vectors, prototypes and k-means seed)
    merged = metric_scores[metric].reindex(seed_scores[0].index).to_numpy(float)
    log.info("first label seed vs merged %s scores: max |diff| %.2e", metric,
             float(np.nanmax(np.abs(merged - seed_scores[0].to_numpy(float)))))  # fmt: skip
    seeds = (doc_cfg["seed"], rel["seed"])
    table = reliability_table(seed_scores, seeds, metric_scores, metric, rel["top"], fixed_prototypes=fixed)
    write_csv(table.assign(variant=variant, layers=str(doc_cfg["layers"]),
                           label_samples=doc_cfg["label_samples"], second_seed_s=seconds), smk.output.table)  # fmt: skip
    write_text(to_latex(table[["a", "b", "n", "spearman", "jaccard_top"]], digits=3), smk.output.table_tex)
    log.info(
        "%s/%s: %d sampled documents + %d target ref re-embedded with label seed %d in %.1f s\n%s",
        metric, variant, len(sample), len(ref), rel["seed"], seconds, table.to_string(index=False),
    )  # fmt: skip


run(main, snakemake)
