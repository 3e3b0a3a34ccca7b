"""Write results/manifest.json: commit, package versions, config hash, seeds, archive sha256s."""

from pathlib import Path

from dqreview.runner import run


def main(smk):
    from dqreview.io import read_json, write_json
    from dqreview.manifest import build_manifest

    stats = [read_json(p) for p in smk.input.downloads]
    write_json(build_manifest(dict(smk.config), Path(smk.scriptdir).parents[1], stats), smk.output.manifest)


run(main, snakemake)
