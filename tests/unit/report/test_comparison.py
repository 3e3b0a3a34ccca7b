"""dqreview.report.comparison (and the heldout mean and labels of dqreview.report.runs): every selection judged
on the target and on the heldout domains, with its epochs, against a hand-computed synthetic runs table."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dqreview.errors import DQError
from dqreview.report.comparison import (
    ABLATION_TEX_COLUMNS,
    COMPARISON_TEX_COLUMNS,
    ablation_table,
    comparison_table,
    tex_table,
)
from dqreview.report.runs import (
    FULL_POOL,
    add_heldout_mean,
    budget_tick,
    epochs_text,
    full_pool_label,
    method_labels,
    run_labels,
)

#: Per (metric, budget): per seed 0, 1, 2, the bits per byte on target, heldout a and heldout b, and epochs.
RUNS = {
    ("random", 0.1): ([4.0, 4.2, 4.1], [3.0, 3.2, 3.4], [5.0, 5.0, 5.3], [2.0, 2.2, 2.1]),
    ("dsir", 0.1): ([3.8, 4.1, 4.0], [3.3, 3.4, 3.5], [5.1, 5.4, 5.2], [2.1, 2.3, 2.2]),
    ("random", 1.0): ([3.5, 3.6, 3.7], [2.8, 2.9, 3.0], [4.6, 4.7, 4.8], [0.10, 0.11, 0.10]),
}


def _runs() -> pd.DataFrame:
    rows = []
    for (metric, budget), (target, a, b, epochs) in RUNS.items():
        for seed in range(3):
            rows.append(
                {"metric": metric, "variant": "v", "keep": "high", "budget": budget, "seed": seed,
                 "achieved": budget, "n_docs": 10, "epochs": epochs[seed], "tokens": 1000,
                 "bpb/heldout/a": a[seed], "bpb/heldout/b": b[seed], "bpb/target": target[seed]}
            )  # fmt: skip
    runs = pd.DataFrame(rows)
    return runs.assign(method=run_labels(runs))


def _t_half(x) -> float:
    x = np.asarray(x)
    return stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))


def test_heldout_mean_is_the_plain_mean_over_domains():
    runs = add_heldout_mean(_runs())
    a, b = np.array(RUNS[("dsir", 0.1)][1]), np.array(RUNS[("dsir", 0.1)][2])
    got = runs[runs.metric == "dsir"].sort_values("seed")["heldout_bpb"].to_numpy()
    assert got == pytest.approx((a + b) / 2)  # every domain counts once, whatever its bytes
    with pytest.raises(DQError, match="bpb/heldout/<domain>"):
        add_heldout_mean(_runs().drop(columns=["bpb/heldout/a", "bpb/heldout/b"]))


def test_comparison_reports_the_heldout_mean_and_its_paired_difference_exactly():
    table = comparison_table(_runs()).table.set_index(["method", "budget"])
    dsir = table.loc[("dsir (v, keep=high)", 0.1)]
    held_dsir = (np.array(RUNS[("dsir", 0.1)][1]) + RUNS[("dsir", 0.1)][2]) / 2
    held_random = (np.array(RUNS[("random", 0.1)][1]) + RUNS[("random", 0.1)][2]) / 2
    assert dsir["heldout_bpb"] == pytest.approx(held_dsir.mean())
    assert dsir["heldout_bpb:ci95"] == pytest.approx(_t_half(held_dsir))
    d = held_dsir - held_random  # paired seed by seed
    assert dsir["heldout_bpb:diff_vs_random"] == pytest.approx(d.mean())
    assert dsir["heldout_bpb:diff_ci95"] == pytest.approx(_t_half(d))
    # beside the target's, which is paired the same way
    t = np.array(RUNS[("dsir", 0.1)][0]) - RUNS[("random", 0.1)][0]
    assert dsir["diff_vs_random"] == pytest.approx(t.mean()) and dsir["diff_ci95"] == pytest.approx(
        _t_half(t)
    )
    assert table.loc[("random", 0.1), "heldout_bpb"] == pytest.approx(held_random.mean())
    assert np.isnan(table.loc[("random", 0.1), "heldout_bpb:diff_vs_random"])


def test_comparison_states_epochs_and_names_the_whole_pool():
    cmp_ = comparison_table(_runs())
    table = cmp_.table
    assert list(table.columns[:3]) == ["method", "budget", "epochs"]
    epochs = table.set_index(["method", "budget"])["epochs"]
    assert epochs[("dsir (v, keep=high)", 0.1)] == pytest.approx(2.2)
    assert epochs[(FULL_POOL, 1.0)] == pytest.approx(0.31 / 3)  # mean over seeds
    assert set(table["method"]) == {"random", "dsir (v, keep=high)", "whole pool"}
    assert cmp_.summary.set_index("method").loc[FULL_POOL, "epochs"] == pytest.approx(0.31 / 3)
    assert set(COMPARISON_TEX_COLUMNS) <= set(table.columns)
    assert "heldout bpb" in tex_table(table, COMPARISON_TEX_COLUMNS).columns
    assert cmp_.heldout_diffs["method"].tolist() == ["dsir (v, keep=high)"]


def test_ablation_table_has_epochs_and_the_heldout_mean():
    runs = _runs()
    spec = {"series": [{"label": "dsir", "metric": "dsir", "variant": "v", "keep": "high"}]}
    table = ablation_table(runs, spec, {"dsir/v": 0.5})
    (row,) = table.to_dict("records")
    held = (np.array(RUNS[("dsir", 0.1)][1]) + RUNS[("dsir", 0.1)][2]) / 2
    held_random = (np.array(RUNS[("random", 0.1)][1]) + RUNS[("random", 0.1)][2]) / 2
    assert row["epochs"] == pytest.approx(2.2) and row["kept_fraction"] == pytest.approx(0.2)
    assert row["heldout_bpb"] == pytest.approx(held.mean())
    assert row["heldout_bpb:diff_vs_random"] == pytest.approx((held - held_random).mean())
    assert row["heldout_bpb:diff_ci95"] == pytest.approx(_t_half(held - held_random))
    assert set(ABLATION_TEX_COLUMNS) <= set(table.columns)


def test_labels():
    assert full_pool_label(0.104) == "whole pool, 0.1 epochs"
    assert [epochs_text(e) for e in (0.104, 0.52, 1.06, 12.4)] == ["0.1", "0.52", "1.1", "12"]
    assert budget_tick(0.1, 1.06) == "10%\n(1.1 ep)"
    runs = _runs()
    assert (np.array(run_labels(runs)) != np.array(method_labels(runs))).sum() == 3  # the 3 whole-pool runs


def test_scoring_fixed_lands_after_epochs_and_marks_the_tex_label():
    from dqreview.report.comparison import FIXED_MARK, mark_fixed, with_scoring_fixed

    table = pd.DataFrame(
        {"method": ["dq/a0.5/high", "ssl_proto/pool/high", "whole pool"], "budget": [0.3, 0.3, 1.0],
         "epochs": [3.0, 3.0, 1.0], "target_bpb": [1.1, 1.2, 1.0]}
    )  # fmt: skip
    fixed = {"dq/a0.5/high": "probe and Task2Vec labels (seed 0)", "ssl_proto/pool/high": ""}
    out = with_scoring_fixed(table, fixed)
    assert list(out.columns) == ["method", "budget", "epochs", "scoring_fixed", "target_bpb"]
    assert out["scoring_fixed"].tolist() == ["probe and Task2Vec labels (seed 0)", "", ""]
    assert mark_fixed(out)["method"].tolist() == [
        f"dq/a0.5/high{FIXED_MARK}", "ssl_proto/pool/high", "whole pool",
    ]  # fmt: skip
