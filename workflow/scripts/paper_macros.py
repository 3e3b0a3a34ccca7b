"""results/paper/macros.tex: every number the paper's text quotes, from the generated tables."""

from dqreview.runner import run

#: The ablation whose pool sizes test Sorscher et al.'s prediction (1) for language models (\dq{theory/abl4}).
POOL_SIZE_ABLATION = "ablation4"


def main(smk):
    import pandas as pd

    from dqreview.io import read_json, write_text
    from dqreview.report.macros import (
        ablation_theory_macro,
        comparison_macros,
        compute_macros,
        contrast_macros,
        encoder_macros,
        escape,
        evidence_macros,
        fmt,
        macro_file,
        theory_macros,
        versus_random_macros,
    )

    cfg = smk.config
    v: dict[str, str] = {}
    small = min(cfg["select"]["budgets"])
    v["seeds"] = str(len(cfg["seeds"]))
    v["budget/small"] = fmt(small, 0, percent=True)
    v["budgets"] = ", ".join(fmt(b, 0, percent=True) for b in cfg["select"]["budgets"])
    v["tokens"] = f"{cfg['lm']['train']['tokens']:,}".replace(",", "{,}")
    model = cfg["lm"]["model"]
    v["proxy/shape"] = f"{model['n_layer']} layers, width {model['n_embd']}, context {model['block_size']}"

    data = pd.read_csv(smk.input.data)
    pool = data[data["split"] == "pool"]
    v["pool/domains"] = str(len(pool))  # planted noise sits in its host domains (no row of its own)
    v["pool/docs"] = f"{int(pool['documents'].sum()):,}".replace(",", "{,}")
    v["pool/mb"] = fmt(pool["bytes"].sum() / 1e6, 2)

    # each metric's main selection: its first variant and keep direction, at the smallest budget
    main = {
        e["name"]: (e["variants"][0]["slug"], e["variants"][0].get("keep", e["keep"])[0])
        for e in cfg["metrics"]
    }
    v.update(comparison_macros(pd.read_csv(smk.input.comparison), main, small))

    v.update(compute_macros(pd.read_csv(smk.input.compute), main, small, cfg["review"]["target_model"]))
    v.update(encoder_macros(pd.read_csv(smk.input.cost)))

    dedup = pd.read_csv(smk.input.dedup)
    for r in dedup.itertuples(index=False):
        for col in ("recall", "precision", "removal_rate"):
            v[f"dedup/{r.metric}/{r.variant}/{col.replace('_', '')}"] = fmt(getattr(r, col), 3)
    for metric, (variant, _) in main.items():
        for col in ("recall", "precision", "removalrate"):
            if f"dedup/{metric}/{variant}/{col}" in v:
                v[f"dedup/{metric}/{col}"] = v[f"dedup/{metric}/{variant}/{col}"]

    v.update(evidence_macros(pd.read_csv(smk.input.metrics), smk.input.t2v_reliability, cfg, small))

    # the ablations' answers from their declared contrasts (Holm over every contrast row), the abstract's
    # count (Holm over every method against random), and the theory's predictions
    contrasts = pd.read_csv(smk.input.contrasts)
    v.update(contrast_macros(contrasts, smk.params.ablations))
    v.update(versus_random_macros(pd.read_csv(smk.input.runs)))
    v.update(theory_macros(pd.read_csv(smk.input.theory)))
    v.update(ablation_theory_macro(contrasts, POOL_SIZE_ABLATION))

    div = pd.read_csv(smk.input.diversity).set_index("set")
    for name, row in div.iterrows():
        key = str(name).replace(" ", "-")
        v[f"div/{key}"] = fmt(row["div"], 3)
        v[f"align/{key}"] = fmt(row["align_batch"], 3)

    states = [read_json(p) for p in smk.input.doremi]
    if states:
        natural = pd.DataFrame([s["natural"] for s in states]).mean()
        learned = pd.DataFrame([s["weights"] for s in states]).mean()
        ratio = learned / natural
        v["doremi/up"] = escape(ratio.idxmax())
        v["doremi/upratio"] = fmt(ratio.max(), 2)

    manifest = read_json(smk.input.manifest)
    v["git"] = escape(str(manifest.get("git_commit", ""))[:10])
    v["configsha"] = escape(str(manifest.get("config_sha256", ""))[:12])
    write_text(macro_file(v), smk.output.macros)
    write_text(sources_table(manifest), smk.output.sources)


def sources_table(manifest: dict) -> str:
    """The appendix: every source with its licence, archive and sha256, and the run's provenance."""
    from dqreview.report.macros import escape

    lines = [
        "Every corpus is downloaded by the workflow and verified against a pinned sha256. Wikipedia text is",
        "licensed CC BY-SA; attribution goes to the Wikipedia contributors of the articles used.",
        "",
        r"\begin{center}\scriptsize",
        r"\begin{tabular}{llll}",
        r"\toprule",
        r"source & origin & licence & sha256 (first 16) \\",
        r"\midrule",
    ]
    for src in manifest.get("sources", []):
        if src.get("kind") == "pypi":
            origin = f"PyPI {src.get('package')}=={src.get('version')} ({src.get('archive')})"
        else:
            origin = f"{src.get('kind')}: {src.get('path', src.get('paths', ''))}"
        lines.append(
            " & ".join(escape(x) for x in (src.get("name", ""), origin, src.get("license", "not stated"),
                                            str(src.get("sha256", "---"))[:16])) + r" \\"
        )  # fmt: skip
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{center}", ""]
    lines.append(
        f"Run provenance: git commit \\texttt{{{escape(str(manifest.get('git_commit', ''))[:12])}}}, config sha256 "
        f"\\texttt{{{escape(str(manifest.get('config_sha256', ''))[:16])}}}, Python {escape(str(manifest.get('python', '')))}; "
        "package versions are listed in results/manifest.json."
    )
    return "\n".join(lines) + "\n"


run(main, snakemake)
