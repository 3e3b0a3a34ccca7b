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
    matched_control_runs,
    run_families,
    tex_table,
    within_domain_differences,
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
    assert set(ABLATION_TEX_COLUMNS) <= set(table.columns) and "x" not in table
    spec["series"][0]["x"] = 0.5  # a swept parameter: its value beside each row
    swept = ablation_table(runs, spec, {"dsir/v": 0.5})
    assert list(swept.columns[:4]) == ["series", "budget", "x", "epochs"] and swept["x"].tolist() == [0.5]


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


# --- controls: the within-domain effect ----------------------------------------------------------------
#: dsir's domain-matched control and the target-domain arm, same layout as RUNS.
CONTROLS = {
    ("control", "matched.dsir.v.high", 0.1): (
        [3.9, 4.3, 4.0],
        [3.1, 3.3, 3.3],
        [5.2, 5.1, 5.2],
        [2.0, 2.1, 2.2],
    ),
    ("control", "target-domain", 0.1): ([3.7, 3.9, 3.8], [3.6, 3.7, 3.8], [5.5, 5.6, 5.7], [4.0, 4.1, 4.2]),
}


def _runs_with_controls() -> pd.DataFrame:
    rows = []
    for (metric, variant, budget), (target, a, b, epochs) in CONTROLS.items():
        for seed in range(3):
            rows.append(
                {"metric": metric, "variant": variant, "keep": "high", "budget": budget, "seed": seed,
                 "achieved": budget, "n_docs": 10, "epochs": epochs[seed], "tokens": 1000,
                 "bpb/heldout/a": a[seed], "bpb/heldout/b": b[seed], "bpb/target": target[seed]}
            )  # fmt: skip
    runs = pd.concat([_runs().drop(columns="method"), pd.DataFrame(rows)], ignore_index=True)
    return runs.assign(method=run_labels(runs))


def test_controls_are_labelled_after_their_source():
    runs = _runs_with_controls()
    labels = set(runs["method"])
    assert "matched control: dsir (v, keep=high)" in labels and "random, target domain only" in labels
    controls = matched_control_runs(runs)
    assert set(controls["method"]) == {"dsir (v, keep=high)"} and len(controls) == 3


def test_within_domain_effect_is_method_minus_its_control_paired_by_seed():
    runs = _runs_with_controls()
    table = comparison_table(runs).table.set_index("method")
    dsir = table.loc["dsir (v, keep=high)"]
    method, control = (
        np.array(RUNS[("dsir", 0.1)][0]),
        np.array(CONTROLS[("control", "matched.dsir.v.high", 0.1)][0]),
    )
    assert dsir["within_domain_diff"] == pytest.approx((method - control).mean())
    assert dsir["within_domain_ci95"] == pytest.approx(_t_half(method - control))
    assert dsir["within_domain_n_pairs"] == 3 and dsir["matched_control"] == pytest.approx(control.mean())
    # heldout mean likewise
    held = lambda key: (np.array(key[1]) + np.array(key[2])) / 2  # noqa: E731
    hm, hc = held(RUNS[("dsir", 0.1)]), held(CONTROLS[("control", "matched.dsir.v.high", 0.1)])
    assert dsir["heldout_bpb:within_domain_diff"] == pytest.approx((hm - hc).mean())
    assert dsir["heldout_bpb:matched_control"] == pytest.approx(hc.mean())
    # the decomposition: vs random = within domain + the control's own difference from random
    ctrl = table.loc["matched control: dsir (v, keep=high)"]
    assert dsir["diff_vs_random"] == pytest.approx(dsir["within_domain_diff"] + ctrl["diff_vs_random"])
    # the target-domain arm is its own row, paired with random; nothing without a control gets the columns
    arm = table.loc["random, target domain only"]
    random = np.array(RUNS[("random", 0.1)][0])
    assert arm["diff_vs_random"] == pytest.approx(
        (np.array(CONTROLS[("control", "target-domain", 0.1)][0]) - random).mean()
    )
    assert np.isnan(arm["within_domain_diff"]) and np.isnan(table.loc[FULL_POOL, "within_domain_diff"])


def test_within_domain_differences_without_controls_is_empty():
    out = within_domain_differences(add_heldout_mean(_runs()), "bpb/target")
    assert out.empty and list(out.columns) == ["method", "budget", "diff", "ci95", "n_pairs", "sd", "control"]
    assert "within_domain_diff" in comparison_table(_runs()).table.columns


def test_run_families_put_controls_beside_their_methods():
    runs = _runs_with_controls()
    config = {
        "metrics": [
            {"name": "random", "variants": [{"slug": "v"}]},
            {"name": "dsir", "variants": [{"slug": "v"}]},
        ]
    }
    families = run_families(runs, config)
    assert families["matched control: dsir (v, keep=high)"] == "control"
    assert families["random, target domain only"] == "baseline"
    assert families["dsir (v, keep=high)"] == "target-aware" and families["random"] == "baseline"
