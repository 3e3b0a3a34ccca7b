"""dqreview.report.runs: the run table carries the n-gram reference beside the proxy, and the comparison's
n-gram columns (its bits per byte paired with random, the proxy's gap to it) are the means of the runs."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dqreview.io import write_json
from dqreview.report.comparison import ngram_reference_columns
from dqreview.report.runs import collect_runs, method_labels, ngram_columns

T = stats.t.ppf(0.975, 1)  # two seeds


def write_run(tmp_path, selection, seed, proxy, ngram=None):
    ev = tmp_path / f"{selection.replace('/', '_')}_s{seed}.json"
    info = tmp_path / f"{selection.replace('/', '_')}_s{seed}.info.json"
    final = {"step": 10, "bpb/target": proxy, "bpb/heldout/code": proxy + 1}
    record = {"selection": selection, "seed": seed, "n_docs": 5, "epochs": 2.0, "tokens": 100, "final": final}
    if ngram is not None:
        record["ngram"] = ngram
    write_json(record, ev)
    write_json({"achieved": 0.1}, info)
    return str(ev), str(info)


def runs_table(tmp_path):
    # (selection, seed, proxy target bpb, bigram, trigram)
    rows = [
        ("random/uniform/high/b0.10", 0, 3.20, 2.70, 2.60),
        ("random/uniform/high/b0.10", 1, 3.30, 2.80, 2.70),
        ("dsir/hashed/high/b0.10", 0, 3.00, 2.60, 2.55),
        ("dsir/hashed/high/b0.10", 1, 3.10, 2.50, 2.45),
    ]
    paths = [
        write_run(
            tmp_path,
            sel,
            seed,
            proxy,
            {
                "ngram2/bpb/target": bi,
                "ngram3/bpb/target": tri,
                "ngram2/bpb/heldout/code": bi + 1,
                "ngram3/bpb/heldout/code": tri + 1,
            },
        )
        for sel, seed, proxy, bi, tri in rows
    ]
    runs = collect_runs([p[0] for p in paths], [p[1] for p in paths])
    runs["method"] = method_labels(runs)
    return runs


def test_runs_put_the_ngram_reference_beside_the_proxy(tmp_path):
    runs = runs_table(tmp_path)
    assert {"bpb/target", "ngram2/bpb/target", "ngram3/bpb/target", "ngram2/bpb/heldout/code"} <= set(
        runs.columns
    )
    row = runs[(runs.metric == "dsir") & (runs.seed == 1)].iloc[0]
    assert (row["bpb/target"], row["ngram2/bpb/target"], row["ngram3/bpb/target"]) == (3.10, 2.50, 2.45)
    assert ngram_columns(runs) == ["ngram2/bpb/target", "ngram3/bpb/target"]
    assert ngram_columns(runs, "heldout/code") == ["ngram2/bpb/heldout/code", "ngram3/bpb/heldout/code"]


def test_ngram_reference_columns_pair_with_random_and_give_the_proxys_gap(tmp_path):
    runs = runs_table(tmp_path)
    random, methods = runs[runs.metric == "random"], runs[runs.metric != "random"]
    out = ngram_reference_columns(runs, random, methods).set_index("method")
    dsir = out.loc["dsir (hashed, keep=high)"]
    assert dsir["ngram2/bpb/target"] == pytest.approx(2.55)
    diffs = np.array([2.60 - 2.70, 2.50 - 2.80])  # paired by seed
    assert dsir["ngram2/bpb/target:diff_vs_random"] == pytest.approx(diffs.mean())
    assert dsir["ngram2/bpb/target:diff_ci95"] == pytest.approx(T * diffs.std(ddof=1) / np.sqrt(2))
    gaps = np.array([3.00 - 2.60, 3.10 - 2.50])  # proxy minus bigram, run by run
    assert dsir["proxy_minus_ngram2"] == pytest.approx(gaps.mean())
    assert dsir["proxy_minus_ngram2:ci95"] == pytest.approx(T * gaps.std(ddof=1) / np.sqrt(2))
    assert dsir["proxy_minus_ngram3"] == pytest.approx(np.mean([3.00 - 2.55, 3.10 - 2.45]))
    # every arm has the gap, random included (it is no contrast with random, so no paired difference)
    assert out.loc["random", "proxy_minus_ngram2"] == pytest.approx(np.mean([0.50, 0.50]))
    assert np.isnan(out.loc["random", "ngram2/bpb/target:diff_vs_random"])


def test_runs_without_the_ngram_reference_still_collect(tmp_path):
    ev, info = write_run(tmp_path, "random/uniform/high/b0.10", 0, 3.2)
    runs = collect_runs([ev], [info])
    runs["method"] = method_labels(runs)
    assert ngram_columns(runs) == []
    out = ngram_reference_columns(runs, runs, runs.iloc[:0])
    assert list(out.columns) == ["method", "budget"] and len(out) == 1
    pd.testing.assert_series_equal(out["budget"], pd.Series([0.1], name="budget"))
