"""Paper macros: formatting, escaping, and the file the paper reads."""

import pandas as pd
import pytest

from dqreview.errors import DQError
from dqreview.report.macros import encoder_macros, escape, fmt, macro_file


def test_fmt():
    assert fmt(0.12345) == "0.123"
    assert fmt(0.12345, 1, percent=True) == r"12.3\%"
    assert fmt(-0.05, 2, signed=True) == r"\ensuremath{-}0.05"
    assert fmt(0.05, 2, signed=True) == "+0.05"
    assert fmt(float("nan")) == "---"
    assert fmt("pays off") == "pays off"


def test_escape_and_file():
    assert escape("a_b & 5%") == r"a\_b \& 5\%"
    text = macro_file({"b/x": "2", "a/y": "1"})
    assert text.splitlines()[1:] == [r"\dqset{a/y}{1}", r"\dqset{b/x}{2}"]
    with pytest.raises(DQError, match="macro key"):
        macro_file({"bad key": "1"})


def _comparison_csv(ngram: dict | None = None, controls: bool = False):
    """A comparison.csv of random, dsir and the whole pool over three seeds, as read back from disk;
    ``ngram``: (metric, budget) → the bigram's bits per byte of seed s is that + 0.1 * s; with
    ``controls``, dsir's domain-matched control (0.4 bpb above dsir, 0.1 below random) and the target-domain
    arm (0.2 below random)."""
    import pandas as pd

    from dqreview.report.comparison import comparison_table
    from dqreview.report.runs import run_labels

    rows = [
        {"metric": m, "variant": v, "keep": "high", "budget": b, "seed": s, "achieved": b, "n_docs": 10,
         "epochs": e, "tokens": 1000, "bpb/target": t + 0.1 * s, "bpb/heldout/a": t - 1 + 0.05 * s,
         "bpb/heldout/b": t + 1 - 0.02 * s * s}
        for m, v, b, e, t in [("random", "uniform", 0.1, 2.2, 4.0), ("dsir", "b10k", 0.1, 2.3, 3.5),
                              ("random", "uniform", 1.0, 0.104, 3.2)]
                             + controls * [("control", "matched.dsir.b10k.high", 0.1, 2.2, 3.9),
                                           ("control", "target-domain", 0.1, 4.0, 3.8)]
        for s in range(3)
    ]  # fmt: skip
    runs = pd.DataFrame(rows)
    if ngram:
        runs["ngram2/bpb/target"] = [ngram[(r.metric, r.budget)] + 0.1 * r.seed for r in runs.itertuples()]
    return comparison_table(runs.assign(method=run_labels(runs))).table


def test_comparison_macros_cover_the_papers_comparison_sentences():
    """Every key of the paper's comparison sentences (target, heldout, epochs, whole pool) is produced, so
    the paper builds; the values are the table's."""
    import re
    from pathlib import Path

    from dqreview.report.macros import comparison_macros

    ngram = {("random", 0.1): 4.05, ("dsir", 0.1): 3.9, ("random", 1.0): 3.1}
    values = comparison_macros(
        _comparison_csv(ngram), {"random": ("uniform", "high"), "dsir": ("b10k", "high")}, 0.1
    )
    tex = (Path(__file__).resolve().parents[3] / "paper" / "main.tex").read_text()
    body = tex[tex.index(r"\newcommand{\measuredrun}") :]
    keys = set(re.findall(r"\\dq\{([^}#]+)\}", tex))
    keys |= {k.replace("#1", "dsir") for k in re.findall(r"\\dq\{(main/#1/[^}]+)\}", body)}
    ours = {
        k for k in keys if k.split("/")[0] in {"full", "cmp", "heldout", "epochs", "mde", "tdom", "ngram"}
    }
    ours |= {
        k
        for k in keys
        if k.startswith("main/") and not k.endswith(("mult", "multci", "verdict", "selection_s"))
    }
    # optional (\dqif): a method's within-domain effect exists only where it has a domain-matched control
    ours -= {k for k in ours if k.endswith(("/within", "/withinci"))}
    assert {"main/dsir/heldout", "main/dsir/ngramdiff", "ngram/gaps", "cmp/heldout/n_better"} <= ours
    assert ours <= set(values), (
        f"keys the paper uses and comparison_macros does not produce: {ours - set(values)}"
    )
    assert (
        values["full/epochs"] == "0.1"
        and values["epochs/small"] == "2.2"
        and values["main/dsir/epochs"] == "2.3"
    )
    # dsir is 1 bpb below random on heldout a and b alike, per seed: mean difference exactly -0.5 + ...
    held = [(3.5 - 1 + 0.05 * s + 3.5 + 1 - 0.02 * s * s) / 2 - (4.0 - 1 + 0.05 * s + 4.0 + 1 - 0.02 * s * s) / 2
            for s in range(3)]  # fmt: skip
    assert values["main/dsir/heldoutdiff"] == fmt(sum(held) / 3, 3, signed=True) == r"\ensuremath{-}0.500"
    assert values["cmp/heldout/n_better"] == "1" and values["cmp/n_compared"] == "1"


def test_ngram_macros_say_where_the_proxy_is_above_the_bigram_and_which_wins_survive_it():
    """random at 10%: proxy 4.0 vs bigram 4.05 every seed (above n-gram level); the whole pool: 3.2 vs 3.1
    (below); dsir beats random by 0.5 under the proxy and by 0.15 under the bigram (survives)."""
    from dqreview.report.macros import comparison_macros, ngram_macros

    table = _comparison_csv({("random", 0.1): 4.05, ("dsir", 0.1): 3.9, ("random", 1.0): 3.1})
    main = {"random": ("uniform", "high"), "dsir": ("b10k", "high")}
    values = ngram_macros(table, main, 0.1)
    assert values["ngram/10/gap"] == r"\ensuremath{-}0.050" and values["ngram/10/state"] == "above"
    assert values["ngram/full/gap"] == "+0.100" and values["ngram/full/state"] == "below"
    assert values["ngram/above"] == r"10\%" and values["ngram/notabove"] == "the whole pool"
    assert values["main/dsir/ngramdiff"] == r"\ensuremath{-}0.150"
    assert values["ngram/n_wins"] == "1" and values["ngram/n_survive"] == "1"
    assert values.items() <= comparison_macros(table, main, 0.1).items()
    # the bigram sees dsir no better than random: the win does not survive
    worse = ngram_macros(
        _comparison_csv({("random", 0.1): 4.05, ("dsir", 0.1): 4.1, ("random", 1.0): 3.1}), main, 0.1
    )
    assert worse["ngram/n_wins"] == "1" and worse["ngram/n_survive"] == "0"
    assert ngram_macros(_comparison_csv(), main, 0.1) == {}  # no n-gram reference in the runs
    # the controls are references: their wins are not counted
    ngram = {("random", 0.1): 4.05, ("dsir", 0.1): 3.9, ("random", 1.0): 3.1, ("control", 0.1): 3.9}
    assert ngram_macros(_comparison_csv(ngram, controls=True), main, 0.1)["ngram/n_wins"] == "1"


def test_comparison_macros_quote_the_within_domain_effect_and_leave_controls_out_of_the_counts():
    from pathlib import Path

    from dqreview.report.macros import comparison_macros

    values = comparison_macros(
        _comparison_csv(controls=True), {"random": ("uniform", "high"), "dsir": ("b10k", "high")}, 0.1
    )
    # dsir − its control = 3.5 − 3.9 seed by seed (no spread): a document effect of −0.4
    assert values["main/dsir/within"] == r"\ensuremath{-}0.400" and values["main/dsir/withinci"] == "0.000"
    assert "main/random/within" not in values  # random has no matched control: the paper leaves it out
    assert (
        r"\dqif{main/#1/within}" in (Path(__file__).resolve().parents[3] / "paper" / "main.tex").read_text()
    )
    assert values["tdom/bpb"] == "3.900" and values["tdom/diff"] == r"\ensuremath{-}0.200"
    assert values["cmp/n_compared"] == "1"  # dsir only: the controls are references, not methods
    assert values["cmp/within/n_compared"] == "1" and values["cmp/within/n_better"] == "1"
    assert values["cmp/within/n_domain_only"] == "0" and values["cmp/within/n_worse"] == "0"
    plain = comparison_macros(_comparison_csv(), {"dsir": ("b10k", "high")}, 0.1)
    assert plain["tdom/bpb"] == "---" and plain["cmp/within/n_compared"] == "0"


def _theory_csv(easy_wins_scarce: bool = True):
    """theory.csv's shape: at f = 0.2, keep easy/hard at α_tot 2 and 40 per metric, and the unpruned curve."""
    import pandas as pd

    rows = []
    for metric, hard_big in (("perfect", 0.013), ("imperfect", 0.016)):
        easy_small, hard_small = (0.21, 0.46) if easy_wins_scarce else (0.46, 0.21)
        for keep, small, big in (("easy", easy_small, 0.05), ("hard", hard_small, hard_big)):
            for alpha, mean in ((2.0, small), (40.0, big)):
                rows.append({"metric": metric, "keep": keep, "f": 0.2, "alpha_tot": alpha,
                             "alpha_prune": 0.2 * alpha, "mean": mean, "ci95": 0.001, "n_seeds": 5})  # fmt: skip
    for alpha, mean in ((4.0, 0.12), (16.0, 0.03)):
        rows.append({"metric": "unpruned", "keep": "none", "f": 1.0, "alpha_tot": alpha, "alpha_prune": alpha,
                     "mean": mean, "ci95": 0.002, "n_seeds": 5})  # fmt: skip
    return pd.DataFrame(rows)


def test_theory_macros_say_whether_each_prediction_is_reproduced():
    import numpy as np

    from dqreview.report.macros import theory_macros

    v = theory_macros(_theory_csv())
    assert v["theory/pred1"].startswith(
        "Prediction (1), scarce data: keep easy, abundant data: keep hard, is reproduced"
    )
    assert (
        "keeping easy gives test error 0.210 against 0.460 for keeping hard at $\\alpha_{\\mathrm{tot}}=2$"
        in v["theory/pred1"]
    )
    # the unpruned curve at α_prune = 8, interpolated in log α between 4 (0.12) and 16 (0.03): 0.075
    curve = np.interp(np.log(8.0), np.log([4.0, 16.0]), [0.12, 0.03])
    assert f"below the unpruned learning curve's {curve:.3f} there" in v["theory/pred2"]
    assert (
        "is reproduced" in v["theory/pred2"]
        and "0.016, clearly worse than the perfect one" in v["theory/pred2"]
    )
    assert "is not reproduced" in theory_macros(_theory_csv(easy_wins_scarce=False))["theory/pred1"]


def _contrasts_csv(pools: bool):
    import pandas as pd

    from dqreview.report.contrasts import contrast_table

    seeds = [0, 1, 2]
    runs = []
    values = {("ssl", "pool", "high"): [2.0, 2.2, 2.1], ("ssl", "pool", "low"): [2.6, 2.9, 2.7]}
    if pools:  # at the half pool easy wins: hard − easy rises as the pool shrinks
        values |= {("ssl", "half", "high"): [3.4, 3.6, 3.5], ("ssl", "half", "low"): [2.8, 2.9, 2.8]}
    for (m, var, k), xs in values.items():
        runs += [{"metric": m, "variant": var, "keep": k, "budget": 0.1, "seed": s, "bpb/target": x}
                 for s, x in zip(seeds, xs, strict=True)]  # fmt: skip
    series = [{"label": f"{var} {k}", "metric": m, "variant": var, "keep": k} for (m, var, k) in values]
    spec = {"title": "t", "question": "Scarce: easy?", "series": series,
            "contrasts": [{"id": "hard-easy", "a": "pool high", "b": "pool low", "by": "pool"},
                          {"id": "hard-easy-x-pool", "interaction": "hard-easy"}]}  # fmt: skip
    table = contrast_table(
        pd.DataFrame(runs), {"ablation4": spec}, {"ablation4": {"ssl/pool": 1.0, "ssl/half": 0.5}}
    )
    return pd.read_csv(pd.io.common.StringIO(table.to_csv(index=False))), spec


def test_contrast_macros_give_each_ablation_its_question_answer_and_numbers():
    from dqreview.report.macros import ablation_theory_macro, contrast_macros

    table, spec = _contrasts_csv(pools=True)
    v = contrast_macros(table, {"ablation4": spec, "ablation9": {"title": "no contrasts", "series": []}})
    assert v["abl/ablation4/question"] == "Scarce: easy?"
    answer = v["abl/ablation4/answer"]
    assert answer.startswith("At 10\\%: hard-easy: ``half low'' beats ``half high'' by 0.667\\,$\\pm$\\,")
    assert "hard-easy: ``pool high'' beats ``pool low'' by 0.633" in answer
    assert (
        "hard-easy-x-pool: hard-easy changes with pool size: hard-easy at the 50\\% pool minus at the full pool"
        in answer
    )
    assert v["abl/ablation9/answer"] == "no contrast declared."
    assert v["con/ablation4/hard-easy/0.10/est"] == fmt(-0.633333, 3, signed=True)
    assert "con/ablation4/hard-easy/pool50/0.10/pholm" in v and "con/ablation4/hard-easy-x-pool/0.10/mde" in v
    assert (v["family/contrasts/n"], v["family/contrasts/n_detected"]) == ("3", "3")
    assert ablation_theory_macro(table, "ablation4")["theory/abl4"].startswith(
        "ablation4 shows prediction (1)"
    )
    one, _ = _contrasts_csv(pools=False)
    assert (
        "cannot show prediction (1) in this configuration: it has one pool size"
        in ablation_theory_macro(one, "ablation4")["theory/abl4"]
    )
    assert "was not drawn" in ablation_theory_macro(one, "ablation5")["theory/abl4"]


def test_versus_random_macros_count_the_holm_adjusted_family():
    import pandas as pd

    from dqreview.report.macros import versus_random_macros

    runs = pd.DataFrame(
        [{"metric": m, "variant": "v", "keep": k, "budget": 0.1, "seed": s, "bpb/target": x + 0.01 * s * s}
         for m, k, x in (("random", "high", 2.5), ("a", "high", 2.0), ("a", "low", 3.5), ("b", "high", 3.0))
         for s in range(3)]
    )  # fmt: skip
    assert versus_random_macros(runs) == {
        "family/random/n": "2",
        "family/random/n_better": "1",
        "family/random/n_worse": "1",
    }


def test_tokens_tex_for_the_papers_text():
    from dqreview.report.macros import tokens_tex

    assert tokens_tex(23_852_730.0) == "\\ensuremath{2.4\\times10^{7}}"
    assert tokens_tex(1500.0) == "1500"
    assert tokens_tex(float("inf")) == "never" and tokens_tex(float("inf"), bound=True) == "unknown"
    assert tokens_tex(2e5, bound=True) == "at most \\ensuremath{2.0\\times10^{5}}"
    assert tokens_tex(float("nan")) == "---"


def test_break_even_macros_per_main_method_and_counts():
    import numpy as np
    import pandas as pd

    from dqreview.report.macros import break_even_macros

    inf = np.inf
    compute = pd.DataFrame(
        {"metric": ["a", "b", "c", "a"], "variant": "v", "keep": "high", "budget": [0.1, 0.1, 0.1, 0.6],
         "train_tokens": [1e6, 1e6, 1e6, 4e5], "break_even_tokens": [2e5, inf, inf, 5e5],
         "break_even_tokens_lo": [1e5, 3e6, inf, 4e5], "break_even_tokens_hi": [4e5, inf, inf, 6e5],
         "break_even_s": [0.2, inf, inf, 0.5], "break_even_bound": [False, False, True, False],
         "selection_parallelism": ["per-shard", "sequential", "per-shard", "per-shard"],
         "bpb_minus_full_data": [-0.2, 0.3, -0.1, 0.0], "bpb_minus_full_data_ci95": [0.1, 0.1, 0.2, 0.1],
         "full_data_verdict": ["selecting better", "whole pool better", "undecided", "undecided"],
         "seconds_per_token": 1e-6}
    )  # fmt: skip
    v = break_even_macros(
        compute, {"a": ("v", "high"), "b": ("v", "high"), "c": ("v", "high"), "z": ("v", "high")}, 0.1
    )
    assert v["main/a/tstar"] == "\\ensuremath{2.0\\times10^{5}}"
    assert v["main/a/tstarci"] == "[\\ensuremath{1.0\\times10^{5}}, \\ensuremath{4.0\\times10^{5}}]"
    assert v["main/a/tstars"] == "0\\,s" and v["main/a/parallel"] == "per-shard"
    assert v["main/a/fullgap"] == "\\ensuremath{-}0.200" and v["main/a/fullverdict"] == "selecting better"
    assert v["main/b/tstar"] == "never" and v["main/b/tstarci"] == "[\\ensuremath{3.0\\times10^{6}}, never]"
    assert v["main/c/tstar"] == "unknown" and v["main/c/tstars"] == "unknown"
    assert "main/z/tstar" not in v  # a main method without a compute row (random) gets none
    # T* below the proxy's run at its budget: a at 10% (2e5 < 1e6), not a at 60% (5e5 > 4e5)
    assert v["cost/n_tstar_below_run"] == "1" and v["cost/n_tstar_finite"] == "2"
    assert v["cost/n_never"] == "1" and v["cost/n_unknown"] == "1"
    assert (v["cost/n_full_selbetter"], v["cost/n_full_poolbetter"], v["cost/n_full_undecided"]) == (
        "1",
        "1",
        "2",
    )
    assert v["cost/run"] == "\\ensuremath{1.0\\times10^{6}}" and v["cost/ctoken_us"] == "1.0"
    assert v["cost/pershard"] == "a, c" and v["cost/sequential"] == "b"
    # every selection's own T*, and in multiples of its run length
    assert (
        v["be/a/v/high/b10/tstar"] == "\\ensuremath{2.0\\times10^{5}}" and v["be/a/v/high/b10/runs"] == "0.2"
    )
    assert v["be/a/v/high/b60/runs"] == "1.2" and v["be/b/v/high/b10/runs"] == "never"
    assert v["be/c/v/high/b10/tstar"] == "unknown" and v["be/c/v/high/b10/runs"] == "unknown"


def _metrics_table():
    import pandas as pd

    return pd.DataFrame(
        {"budget": [0.1, 0.1, 0.6], "metric": ["kl_reduction", "vendi_q1", "kl_reduction"], "n": [14, 14, 9],
         "r": [-0.99, -0.93, -0.98], "r_lo": [-1.0, -0.98, -1.0], "r_hi": [-0.97, -0.73, -0.96],
         "r2": [0.98, 0.86, 0.96], "partial_r": [-0.97, -0.76, -0.56], "partial_lo": [-1.0, -0.94, -0.97],
         "partial_hi": [-0.93, -0.43, 0.17], "claim": ["c", "c", "c"]}
    )  # fmt: skip


def test_correlation_macros_per_budget_and_at_the_small_budget():
    from dqreview.report.macros import budget_key, correlation_macros

    assert budget_key(0.1) == "b10" and budget_key(0.6) == "b60" and budget_key(1.0) == "b100"
    v = correlation_macros(_metrics_table(), small=0.1)
    assert v["corr/kl_reduction/b10/r"] == r"\ensuremath{-}0.99" == v["corr/kl_reduction/r"]
    assert v["corr/kl_reduction/b60/prhi"] == "+0.17" and v["corr/kl_reduction/n"] == "14"
    assert v["corr/vendi_q1/r2"] == "0.86" and "corr/vendi_q1/b60/r" not in v
    assert v["corr/summary"].startswith(r"at 10\% (14 selections) kl\_reduction $r = \ensuremath{-}0.99$")
    assert r"at 60\% (9 selections)" in v["corr/summary"]
    macro_file(v)  # every key is a valid macro key


def test_t2v_reliability_macros_say_whether_the_ranking_is_reliable():
    import pandas as pd

    from dqreview.report.macros import evidence_macros, t2v_reliability_macros

    table = pd.DataFrame(
        {"comparison": ["label seeds", "label seeds, documents only", "methods", "methods"],
         "a": ["t2v_align, label seed 0"] * 2 + ["t2v_align"] * 2,
         "b": ["t2v_align, label seed 1", "x", "dsir", "proto_align"], "n": [2000, 2000, 5269, 5269],
         "spearman": [0.75, 0.8, 0.12, -0.3], "jaccard_top": [0.04, 0.1, 0.05, 0.02], "top": 0.1}
    )  # fmt: skip
    docs = {"layers": "final", "seed": 0, "label_samples": 1}
    v = t2v_reliability_macros(table, docs, threshold=0.8)
    assert v["t2v/rel/spearman"] == "0.75" and v["t2v/rel/jaccard"] == "0.04" and v["t2v/rel/n"] == "2{,}000"
    assert v["t2v/rel/verdict"] == "unreliable" and r"\emph{unreliable}" in v["t2v/rel/answer"]
    assert (
        v["t2v/rel/dsir/spearman"] == "+0.12" and v["t2v/rel/proto_align/spearman"] == r"\ensuremath{-}0.30"
    )
    assert "layers final, 1 label draw per position" in v["t2v/rel/answer"]
    assert "with dsir Spearman +0.12" in v["t2v/rel/answer"] and v["t2v/rel/top"] == r"10\%"
    better = t2v_reliability_macros(table.assign(spearman=0.9), {**docs, "label_samples": 4}, 0.8)
    assert better["t2v/rel/verdict"] == "reliable" and "4 label draws" in better["t2v/rel/estimator"]
    assert t2v_reliability_macros(table[table.comparison == "methods"], docs, 0.8) == {}
    macro_file(v)

    config = {"task2vec": {"window": 128, "documents": {**docs, "layers": "final-no-head"}}}
    without = evidence_macros(_metrics_table(), [], config, 0.1)
    assert without["t2v/window"] == "128" and without["t2v/estimator"].startswith("layers final-no-head")
    assert "t2v/rel/answer" not in without


def test_per_million_macros_quote_the_ground_rule_at_scale():
    import numpy as np
    import pandas as pd

    from dqreview.report.macros import per_document_tex, per_million_macros, seconds_tex

    compute = pd.DataFrame(
        {"metric": ["a", "b", "c", "a"], "variant": "v", "keep": "high", "budget": [0.1, 0.1, 0.1, 0.6],
         "selection_s_per_million_docs": [1078.1, 52516.5, np.nan, 9000.0],
         "selection_cost_source": ["run", "run", "none", "run"],
         "crossover_tokens_per_doc": [0.374, np.inf, np.nan, 2.4e5],
         "target_crossover_tokens_per_doc": [0.00257, np.inf, np.nan, 1.6], "break_even_bound": [False, True, False, False],
         "train_s_per_million_tokens": 59.32, "target_train_s_per_million_tokens": 8594.98}
    )  # fmt: skip
    v = per_million_macros(compute, {"a": ("v", "high"), "b": ("v", "high"), "z": ("v", "high")}, 0.1)
    assert v["main/a/sel_s_per_mdoc"] == "1{,}080" and v["main/b/sel_s_per_mdoc"] == "52{,}500"
    assert v["main/a/sel_source"] == "this run's cost extrapolated linearly"
    assert v["main/a/xover_tok_per_doc"] == "0.37" and v["main/a/target_xover_tok_per_doc"] == "0.0026"
    assert v["main/b/xover_tok_per_doc"] == "unknown"  # an infinite upper bound
    assert "main/z/sel_s_per_mdoc" not in v
    assert v["cost/proxy_train_s_per_mtok"] == "59.3" and v["cost/target_train_s_per_mtok"] == "8{,}590"
    assert v["cost/sel_source"] == "mixed sources"
    assert v["cost/n_sel_below_target_mtok"] == "1"  # a at 10% only (NaN never counts)
    assert seconds_tex(np.nan) == "---" and seconds_tex(0.0123) == "0.0123"
    assert per_document_tex(2.4e5) == "\\ensuremath{2.4\\times10^{5}}" and per_document_tex(np.inf) == "never"
    assert per_million_macros(compute.iloc[:0], {}, 0.1)["cost/sel_source"] == "---"


def test_encoder_macros_rate_the_pool_passes_of_both_encoders():
    cost = pd.DataFrame(
        {"stage": ["embed", "embed", "embed", "embed_static", "embed_static", "probe"],
         "job": ["pool/shard-0", "pool/shard-1", "target/ref", "pool/shard-0", "pool/shard-1", "pool/shard-0"],
         "items": [100, 300, 50, 100, 300, 7], "wall_s": [10.0, 30.0, 1.0, 0.1, 0.3, 1.0]}
    )  # fmt: skip
    # pool shards only (not target ref): 400 documents in 40 s vs in 0.4 s
    assert encoder_macros(cost) == {
        "enc/embed/docs_per_s": "10",
        "enc/embed_static/docs_per_s": "1{,}000",
        "enc/static_speedup": "100",
    }
    assert encoder_macros(cost[cost["stage"] == "embed"]) == {"enc/embed/docs_per_s": "10"}
