"""composition.pdf and its table: what every selection contains."""

from dqreview.runner import run


def main(smk):
    import pandas as pd

    from dqreview import paths
    from dqreview.io import read_parquet, write_csv, write_text
    from dqreview.report.comparison import without_matched_controls
    from dqreview.report.composition import composition_row, jaccard_matrix
    from dqreview.report.figures import composition
    from dqreview.report.runs import MATCHED_LABEL, method_label
    from dqreview.report.tables import to_latex

    pool = read_parquet(smk.input.index, columns=["id", "domain", "n_bytes", "n_words", "planted"])
    rows, seed0 = [], {}
    for path in smk.input.selections:
        sel = paths.parse_selection(paths.under_select(path))
        ids = read_parquet(path, columns=["id"])["id"]
        method = method_label(sel["metric"], sel["variant"], sel["keep"])
        rows.append(
            {
                "method": method,
                "budget": float(sel["budget"]),
                "seed": int(sel["seed"]),
                **composition_row(pool, ids),
            }
        )
        if int(sel["seed"]) == smk.config["seeds"][0]:
            seed0[(method, float(sel["budget"]))] = set(ids)
    per_seed = pd.DataFrame(rows)
    table = per_seed.drop(columns="seed").groupby(["method", "budget"], as_index=False).mean()
    smallest = min(b for _, b in seed0 if b < 1.0)
    overlap = jaccard_matrix({m: s for (m, b), s in sorted(seed0.items()) if b == smallest})
    table = table.merge(
        overlap["random"].rename("jaccard_with_random").rename_axis("method").reset_index().assign(budget=smallest),
        on=["method", "budget"], how="left",
    )  # fmt: skip
    write_csv(table, smk.output.table)
    cols = [
        "method",
        "budget",
        *[c for c in table.columns if c.startswith(("share/", "kept/"))],
        "mean_words",
    ]
    # the figure and the .tex leave the domain-matched controls out: their domain shares are their methods'
    # by construction (the CSV keeps them, with their planted documents and overlap with random)
    table, per_seed = without_matched_controls(table), without_matched_controls(per_seed)
    shown = [m for m in overlap.index if not m.startswith(MATCHED_LABEL)]
    write_text(to_latex(table[table.budget == smallest][cols], digits=2), smk.output.table_tex)
    composition(
        table[table.budget == smallest], per_seed, overlap.loc[shown, shown], smallest, smk.output.figure
    )


run(main, snakemake)
