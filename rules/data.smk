# download → prepare: raw documents per source, then the pool shards and evaluation splits.


rule download:
    output:
        docs=paths.DOWNLOAD,
        stats=paths.DOWNLOAD_STATS,
    log:
        paths.log(Job.DOWNLOAD),
    benchmark:
        paths.benchmark(Job.DOWNLOAD)
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        spec=source_spec,
        cache=config["cache"],
    script:
        f"../{SCRIPTS}/download.py"


rule prepare:
    input:
        unpack(encoder_inputs),
        docs=paths.expand(paths.DOWNLOAD, source=PLAN.sources),
    output:
        shards=PLAN.pool_shards(),
        index=paths.POOL_INDEX,
        ref=paths.fill(paths.TARGET, split="ref"),
        test=paths.fill(paths.TARGET, split="test"),
        heldout=paths.expand(paths.HELDOUT, domain=PLAN.domains),
        stats=paths.PREPARE_STATS,
        table=report(
            paths.table("data"),
            caption="../report/captions/data_table.rst",
            category="3 Composition",
        ),
        table_tex=paths.table("data", tex=True),
    log:
        paths.log(Job.PREPARE),
    benchmark:
        paths.benchmark(Job.PREPARE)
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        f"../{SCRIPTS}/prepare.py"
