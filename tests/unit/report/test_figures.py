"""Figures a reader takes in at a glance: one facet per method family with a distinct colour and marker per
series, no overlapping point labels, the diversity bounds in grey, and no text below 7 pt at the paper's
text width."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from dqreview.report import figures
from dqreview.report.comparison import Comparison

#: The embedded default's comparison (config.yaml): 26 methods besides random, in five families.
DEFAULT_FAMILIES = {
    "target-aware": [f"proto_align ({v}, keep={k})" for v, k in [("tgt-kmeans", "high"), ("tgt-kmeans", "low"),
                     ("tgt-mean", "high"), ("tgt-hard", "high"), ("tgt-kmeans-l1", "high"), ("tgt-kmeans-l2", "high")]]
    + [f"t2v_align ({v}, keep={k})" for v, k in [("tgt-kmeans", "high"), ("tgt-kmeans", "low"),
       ("tgt-mean", "high"), ("tgt-hard", "high"), ("tgt-kmeans-l1", "high"), ("tgt-kmeans-l2", "high")]]
    + ["dsir (b10k, keep=high)", "dq (a0.5, keep=high)", "dq (a0.8, keep=high)"],
    "target-blind": [f"ssl_proto ({v}, keep={k})" for v in ("pool", "half-pool") for k in ("high", "low")],
    "dedup": ["semdedup (eps0.05, keep=high)", "d4 (r0.75, keep=high)", "minhash (p128-t0.8, keep=high)",
              "minhash (exact, keep=high)"],
    "mixture": ["doremi (eta1-c1e-3, keep=high)", "skillit (online, keep=high)", "skillit (static-final, keep=high)"],
    "baseline": ["random"],
}  # fmt: skip
FAMILY_OF = {m: f for f, ms in DEFAULT_FAMILIES.items() for m in ms}


def _default_size_results(seed: int = 0):
    """The embedded default's comparison at two budgets (2.2 and 0.7 epochs) and the whole pool (0.1)."""
    rng = np.random.default_rng(seed)
    rows, diffs, heldout = [], [], []
    epochs = {0.1: 2.2, 0.3: 0.74}
    for method in FAMILY_OF:
        for budget in (0.1, 0.3):
            rows.append({"method": method, "budget": budget, "target_bpb": 2.0 + rng.normal(0, 0.05),
                         "ci95": 0.02, "n_seeds": 3, "epochs": epochs[budget]})  # fmt: skip
            if method != "random":
                for out in (diffs, heldout):
                    out.append({"method": method, "budget": budget, "diff": rng.normal(0, 0.03), "ci95": 0.01,
                                "n_pairs": 3})  # fmt: skip
    rows.append({"method": "whole pool", "budget": 1.0, "target_bpb": 1.8, "ci95": 0.01, "n_seeds": 3,
                 "epochs": 0.104})  # fmt: skip
    return Comparison(
        pd.DataFrame(), pd.DataFrame(rows), pd.DataFrame(diffs), pd.DataFrame(heldout), 0.02, 0.03
    )


@pytest.fixture
def drawn(monkeypatch, tmp_path):
    """The figures the drawing functions hand to ``save_figure``, after writing each as a PDF."""
    saved = []
    real_save = figures.save_figure

    def keep(fig, path):
        saved.append(fig)
        fig.savefig(tmp_path / "figure.pdf")  # renders every artist (fails on a broken layout)
        real_save(fig, path)

    monkeypatch.setattr(figures, "save_figure", keep)
    return saved


def _texts(fig):
    return [
        t
        for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
        if t.get_text()
    ]


def _readable_at_text_width(fig):
    assert fig.get_figwidth() <= figures.TEXT_WIDTH_IN + 1e-9
    small = {t.get_text(): t.get_fontsize() for t in _texts(fig) if t.get_fontsize() < 7}
    assert not small, f"text below 7 pt at the paper's width: {small}"


def test_comparison_one_facet_per_family_and_a_distinct_style_per_series(drawn, tmp_path):
    cmp_ = _default_size_results()
    figures.comparison(cmp_, tmp_path / "comparison.pdf", FAMILY_OF)
    (fig,) = drawn
    axes = np.array(fig.axes).reshape(-1, 4)
    families = [ax.get_legend().get_title().get_text().split(" (")[0] for ax in axes[:, 3]]
    assert families == ["target-aware", "target-blind", "dedup", "mixture"]  # baseline: in every facet
    styles = {}
    for row, family in zip(axes, families, strict=True):
        series = {c.get_label(): c.lines[0] for c in row[0].containers}  # one errorbar per series
        by_label = {**series, **{ln.get_label(): ln for ln in row[0].get_lines() if ln.get_label()[0] != "_"}}
        # the full-data arm is named for what it is: the whole pool, seen 0.1 times
        assert set(by_label) == set(DEFAULT_FAMILIES[family]) | {
            "random",
            "whole pool, 0.1 epochs (± 95% CI)",
        }
        for label in DEFAULT_FAMILIES[family]:
            ln = by_label[label]
            styles[label] = (to_rgba(ln.get_color()), ln.get_marker())
        # random is the same black reference in every facet
        assert to_rgba(by_label["random"].get_color()) == to_rgba("black")
        assert sorted(t.get_text() for t in row[3].get_legend().get_texts()) == sorted(by_label)
        # (b) target and (c) heldout: one paired difference per method, in the method's colour and marker
        for col in (1, 2):
            drawn_styles = {
                (to_rgba(c.lines[0].get_color()), c.lines[0].get_marker()) for c in row[col].containers
            }
            assert drawn_styles == {styles[m] for m in DEFAULT_FAMILIES[family]}
    assert len(styles) == 26 and len(set(styles.values())) == 26
    # the heldout panel's points are the heldout differences, not the target's
    pool = np.array(fig.axes).reshape(-1, 4)[1]
    first = sorted(DEFAULT_FAMILIES["target-blind"])[0]
    d = cmp_.heldout_diffs[cmp_.heldout_diffs["method"] == first].sort_values("budget")["diff"].to_numpy()
    assert pool[2].containers[0].lines[0].get_ydata() == pytest.approx(d)
    assert "heldout" in axes[0, 2].get_title() and "MDE ±0.030" in axes[0, 2].get_title()
    # every budget tick carries its epochs
    for ax in axes[-1, :3]:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["10%\n(2.2 ep)", "30%\n(0.74 ep)"]
    _readable_at_text_width(fig)


def test_series_styles_are_distinct_for_forty_series():
    styles = figures.series_styles(range(40))
    assert len(set(styles.values())) == 40
    assert [m for _, m in itertools.islice(styles.values(), 3)] == ["o", "s", "^"]


def test_cost_labels_methods_in_a_legend_not_on_points(drawn, tmp_path):
    # every method at the same point: on-point labels would all overlap; T* finite, never, or a bound
    tstar = [(2e5, 1e5, 4e5, False), (np.inf, 3e6, np.inf, False), (np.inf, np.inf, np.inf, True)]
    verdicts = pd.DataFrame(
        [{"method": m, "metric": m.split(" ")[0], "variant": "v", "keep": "high", "budget": b, "selection_s": 5.0,
          "train_s_saved": 3.0, "target_saved_s": 30.0, "train_tokens": 1e6 * (1 + b),
          "selection_s_per_million_docs": [10.0 * (k + 1), np.nan][k == 1], "train_s_per_million_tokens": 60.0,
          "target_train_s_per_million_tokens": 8600.0, "selection_cost_source": ["scaling", "run"][k % 2],
          **dict(zip(("break_even_tokens", "break_even_tokens_lo", "break_even_tokens_hi", "break_even_bound"),
                     tstar[k % 3], strict=True))}
         for k, m in enumerate(m for m in FAMILY_OF if m != "random") for b in (0.1, 0.3)]
    )  # fmt: skip
    figures.cost_verdicts(verdicts, tmp_path / "cost.pdf")
    (fig,) = drawn
    scatter, tstar_ax, per_million = fig.axes
    assert not scatter.texts
    # panel (b): one row per method (its budgets side by side); the only words on it name the columns of
    # infinite T*: "never" (multiplier <= 1) and "unknown" (an infinite upper bound)
    assert len(tstar_ax.get_yticklabels()) == verdicts["method"].nunique()
    assert sorted(t.get_text() for t in tstar_ax.texts) == ["never", "unknown"]
    runs = sorted(
        line.get_xdata()[0] for line in tstar_ax.lines if line.get_label().startswith("(b) proxy run")
    )
    assert runs == pytest.approx([1.1e6, 1.3e6])  # the proxy's run length at each budget, a vertical line
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend_texts[:26] == sorted(m for m in FAMILY_OF if m != "random")
    assert "budget 10%" in legend_texts and "(b) proxy run, budget 30%" in legend_texts
    # panel (c): one bar per method (the smallest budget's), hatched where the run's cost is extrapolated, a
    # method without a cost says so; the proxy's and the target's training per million tokens as labelled lines
    bars = per_million.patches
    assert len(bars) == verdicts["method"].nunique() - 1
    assert sorted(b.get_width() for b in bars) == pytest.approx(
        sorted(10.0 * (k + 1) for k in range(26) if k != 1)
    )
    # method k's bar is 10 (k + 1) wide; odd k (source "run") hatched, even k (the scaling benchmark) solid
    assert all(bool(b.get_hatch()) == (round(b.get_width() / 10.0 - 1) % 2 == 1) for b in bars)
    assert sorted(line.get_xdata()[0] for line in per_million.lines) == pytest.approx([60.0, 8600.0])
    assert sorted(t.get_text() for t in per_million.texts) == [
        "no cost measured",
        "proxy training: 60 s per $10^6$ tokens",
        "target training: 8,600 s per $10^6$ tokens",
    ]
    assert per_million.get_xscale() == "log" and "10^6$ pool documents" in per_million.get_xlabel()
    assert "(c) run's cost extrapolated linearly" in legend_texts
    _readable_at_text_width(fig)


def test_diversity_draws_the_bounds_grey(drawn, tmp_path):
    table = pd.DataFrame(
        {
            "kind": ["bound", "domain", "domain", "target", "pool", "bound"],
            "set": ["lower", "wiki", "code", "target/ref", "pool", "upper"],
            "div": [0.1, 0.3, 0.35, 0.25, 0.4, 0.9],
            "div_ci95": [0.01] * 6,
            "align_batch": [np.nan, 0.8, 0.5, 1.0, 0.7, np.nan],
            "align_batch_ci95": [np.nan, 0.01, 0.01, 0.0, 0.01, np.nan],
            "align_full": [np.nan, 0.85, 0.55, 1.0, 0.75, np.nan],
        }
    )
    figures.diversity(table, tmp_path / "diversity.pdf")
    (fig,) = drawn
    bars = fig.axes[0].patches
    assert len(bars) == 6
    grey = to_rgba(figures.BOUND_COLOUR)
    assert [b.get_facecolor() == grey for b in bars] == [True, False, False, False, False, True]
    assert bars[3].get_facecolor() != bars[1].get_facecolor()  # the target stands out from the domains
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == ["wiki", "code", "target/ref", "pool"]
    _readable_at_text_width(fig)


def _default_curves(seed: int = 0):
    rng = np.random.default_rng(seed)
    curves = pd.DataFrame(
        [{"method": m, "budget": b, "seed": s, "tokens": tok, "bpb/target": 3.0 - 0.1 * np.log(tok) + rng.normal(0, 0.02),
          "epochs": tok / 98304 * (2.2 if b == 0.1 else 0.74)}
         for m in FAMILY_OF for b in (0.1, 0.3) for s in range(3) for tok in (32768, 65536, 98304)]
    )  # fmt: skip
    baseline = curves[curves["method"] == "random"].drop(columns="method")
    return curves, baseline


def test_learning_curves_name_each_method_once_by_colour_and_marker(drawn, tmp_path):
    curves, baseline = _default_curves()
    figures.learning_curves(curves, baseline, tmp_path / "learning_curves.pdf")
    (fig,) = drawn
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts == [*sorted(FAMILY_OF), "random: runs of each length"]
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == [
        "budget 10% of pool bytes\n2.2 epochs at the end",
        "budget 30% of pool bytes\n0.74 epochs at the end",
    ]
    _readable_at_text_width(fig)


def test_ablation_and_metrics_and_composition_are_readable_at_text_width(drawn, tmp_path):
    spec = {"title": "A long ablation title " * 8, "question": "Does it hold?",
            "series": [{"label": f"series {i}"} for i in range(4)]}  # fmt: skip
    table = pd.DataFrame(
        [{"series": f"series {i}", "budget": b, "kept_fraction": b, "epochs": 1.5, "target_bpb": 2.0 + i / 50,
          "ci95": 0.01, "diff_vs_random": i / 100, "diff_ci95": 0.01, "n_seeds": 3} for i in range(4) for b in (0.1, 0.3)]
    )  # fmt: skip
    random = pd.DataFrame({"budget": [0.1, 0.3], "mean": [2.05, 2.0], "ci95": [0.01, 0.01]})
    full = pd.DataFrame({"bpb/target": [1.8, 1.81], "epochs": [0.1, 0.1]})
    figures.ablation(table, random, full, spec, tmp_path / "ablation.pdf")

    rng = np.random.default_rng(0)
    metrics = ["vendi_q1", "kl_reduction", "t2v_diversity", "t2v_alignment"]
    # one point per selection and budget (metric_correlations.selection_points), one row per budget and metric
    data = pd.DataFrame({m: rng.normal(size=30) for m in [*metrics, "bpb/target"]}).assign(
        budget=np.repeat([0.1, 0.6], 15)
    )
    stats = pd.DataFrame([{"budget": b, "metric": m, "n": 15, "r": 0.1, "r_lo": -0.1, "r_hi": 0.3, "r2": 0.01,
                           "partial_r": 0.05, "partial_lo": -0.2, "partial_hi": 0.3,
                           "claim": "a claim long enough to need wrapping across two lines of a panel"}
                          for b in (0.1, 0.6) for m in metrics])  # fmt: skip
    figures.metrics_vs_bpb(data, stats, tmp_path / "metrics.pdf")

    methods = sorted(FAMILY_OF)
    comp = pd.DataFrame({"method": methods, "budget": 0.1, "mean_words": 100.0,
                         **{f"share/{d}": 0.2 for d in ("wiki", "dialogue", "legal", "code", "docs")},
                         **{f"kept/{k}": 0.1 for k in ("exact", "near", "noise")}})  # fmt: skip
    per_seed = pd.concat([comp.assign(seed=s) for s in range(3)])
    overlap = pd.DataFrame(rng.uniform(size=(len(methods),) * 2), index=methods, columns=methods)
    figures.composition(comp, per_seed, overlap, 0.1, tmp_path / "composition.pdf")

    assert len(drawn) == 3
    for fig in drawn:
        _readable_at_text_width(fig)
    assert [t.get_text() for t in drawn[0].axes[0].texts] == ["1.5 ep"] * 8  # epochs at every point
    assert "whole pool, 0.1 epochs" in drawn[0].axes[0].get_legend_handles_labels()[1]
    assert [t.get_text() for t in drawn[0].axes[1].get_xticklabels()] == ["10%\n(1.5 ep)", "30%\n(1.5 ep)"]


def test_doremi_weights_shade_each_rounds_burn_in(monkeypatch, tmp_path):
    from dqreview.report import mixture

    saved = []
    monkeypatch.setattr(mixture, "save_figure", lambda fig, path: saved.append(fig))
    rng = np.random.default_rng(0)
    names = ["code", "web", "wiki"]
    states = [
        {"variant": "eta1", "domains": names, "natural": dict.fromkeys(names, 1 / 3),
         "weights": dict(zip(names, rng.dirichlet(np.ones(3)), strict=True)),
         "rounds": [{"alpha": rng.dirichlet(np.ones(3), size=8).tolist(), "average_from_step": 2} for _ in range(2)]}
        for _ in range(2)
    ]  # fmt: skip
    mixture.doremi_weights_figure(states, tmp_path / "doremi.pdf")
    (fig,) = saved
    ax = fig.axes[0]
    spans = [p for p in ax.patches if p.get_facecolor() == to_rgba("0.85")]
    # steps 1–2 of each round of 8 (rounds end to end): the α_t that ᾱ leaves out
    assert [(p.get_x(), p.get_x() + p.get_width()) for p in spans] == [(0.5, 2.5), (8.5, 10.5)]
    assert "burn-in (not in ᾱ)" in [t.get_text() for t in ax.get_legend().get_texts()]
    old = [
        {**s, "rounds": [{"alpha": r["alpha"]} for r in s["rounds"]]} for s in states
    ]  # no burn-in recorded
    mixture.doremi_weights_figure(old, tmp_path / "old.pdf")
    assert not [p for p in saved[1].axes[0].patches if p.get_facecolor() == to_rgba("0.85")]
    _readable_at_text_width(fig)


def _with_controls(cmp_: Comparison) -> tuple[Comparison, dict]:
    """``cmp_`` with a domain-matched control of every document-choosing method and the target-domain arm."""
    rng = np.random.default_rng(1)
    controlled = [m for f in ("target-aware", "target-blind", "dedup") for m in DEFAULT_FAMILIES[f]]
    rows, diffs, within = [cmp_.summary], [cmp_.diffs], []
    families = dict(FAMILY_OF, **{"random, target domain only": "baseline"})
    for method in [*controlled, "random, target domain only"]:
        label = method if method.startswith("random") else f"matched control: {method}"
        families.setdefault(label, "control")
        for budget in (0.1, 0.3):
            rows.append(pd.DataFrame([{"method": label, "budget": budget, "target_bpb": 2.0 + rng.normal(0, 0.05),
                                       "ci95": 0.02, "n_seeds": 3, "epochs": 1.0}]))  # fmt: skip
            diffs.append(pd.DataFrame([{"method": label, "budget": budget, "diff": rng.normal(0, 0.03), "ci95": 0.01,
                                        "n_pairs": 3}]))  # fmt: skip
            if label != method:
                within.append({"method": method, "budget": budget, "diff": rng.normal(0, 0.02), "ci95": 0.01,
                               "n_pairs": 3, "sd": 0.01, "control": 2.0})  # fmt: skip
    out = Comparison(pd.DataFrame(), pd.concat(rows, ignore_index=True), pd.concat(diffs, ignore_index=True),
                     cmp_.heldout_diffs, cmp_.mde, cmp_.heldout_mde, pd.DataFrame(within))  # fmt: skip
    return out, families


def test_comparison_draws_each_matched_control_hollow_and_the_within_domain_effect(drawn, tmp_path):
    cmp_, families = _with_controls(_default_size_results())
    figures.comparison(cmp_, tmp_path / "comparison.pdf", families)
    (fig,) = drawn
    axes = np.array(fig.axes).reshape(-1, 5)  # (a)-(d) and the legend
    legends = [ax.get_legend() for ax in axes[:, 4]]
    assert [lg.get_title().get_text().split(" (")[0] for lg in legends] == [
        "target-aware",
        "target-blind",
        "dedup",
        "mixture",
    ]  # no facet of controls
    assert "(d)" in axes[0, 3].get_title() and "matched" in axes[0, 3].get_title()
    for row, family in zip(axes, ("target-aware", "target-blind", "dedup", "mixture"), strict=True):
        n = len(DEFAULT_FAMILIES[family])
        hollow = [c for c in row[0].containers if c.lines[0].get_markerfacecolor() == "white"]
        legend = [t.get_text() for t in row[4].get_legend().get_texts()]
        assert "random, target domain only" in legend  # the arm: a baseline in every facet
        if family == "mixture":  # mixtures choose domains: no control, no within-domain effect
            assert not hollow and not row[3].containers
            assert "hollow: its matched control" not in legend
        else:
            assert len(hollow) == n and len(row[3].containers) == n
            assert "hollow: its matched control" in legend
            first = sorted(DEFAULT_FAMILIES[family])[0]
            d = (
                cmp_.within_diffs[cmp_.within_diffs["method"] == first]
                .sort_values("budget")["diff"]
                .to_numpy()
            )
            assert row[3].containers[0].lines[0].get_ydata() == pytest.approx(d)
    _readable_at_text_width(fig)
    fig.savefig(tmp_path / "comparison.png", dpi=80)


def test_ablation_draws_matched_controls_and_the_target_domain_arm(drawn, tmp_path):
    spec = {"title": "controls", "series": [{"label": f"series {i}"} for i in range(3)]}
    table = pd.DataFrame(
        [{"series": f"series {i}", "budget": b, "kept_fraction": b, "epochs": 1.5, "target_bpb": 2.0 + i / 50,
          "ci95": 0.01, "diff_vs_random": i / 100, "diff_ci95": 0.01, "n_seeds": 3,
          "matched_control": 2.01 if i else np.nan, "matched_control:ci95": 0.01,
          "matched_control:diff_vs_random": -0.01, "matched_control:diff_ci95": 0.01}
         for i in range(3) for b in (0.1, 0.3)]
    )  # fmt: skip
    random = pd.DataFrame({"budget": [0.1, 0.3], "mean": [2.05, 2.0], "ci95": [0.01, 0.01]})
    arm = pd.DataFrame({"budget": [0.1, 0.3], "mean": [1.95, 1.9], "ci95": [0.01, 0.01], "diff": [-0.1, -0.1],
                        "diff_ci95": [0.01, 0.01]})  # fmt: skip
    figures.ablation(table, random, pd.DataFrame(), spec, tmp_path / "ablation.pdf", arm=arm)
    (fig,) = drawn
    ax, bx = fig.axes[:2]
    for panel in (ax, bx):
        hollow = [c for c in panel.containers if c.lines[0].get_markerfacecolor() == "white"]
        assert len(hollow) == 2  # series 1 and 2 have a control, series 0 none
    labels = ax.get_legend_handles_labels()[1]
    assert "random, target domain only" in labels
    assert "hollow: the series' domain-matched control" in fig.legends[0].texts[-1].get_text()
    _readable_at_text_width(fig)


def test_ablation_with_a_swept_parameter_draws_bpb_against_x_per_budget(drawn, tmp_path):
    xs = {"a = 1": 1.0, "a = 0.8": 0.8, "a = 0.5": 0.5, "a = 0.2": 0.2}
    spec = {
        "title": "the alpha curve",
        "x_label": "alpha",
        "series": [{"label": k, "x": x} for k, x in xs.items()],
    }
    table = pd.DataFrame(
        [{"series": k, "budget": b, "kept_fraction": b, "epochs": 2.2 if b == 0.1 else 0.4,
          "target_bpb": 2.0 + x / 10 + b, "ci95": 0.01 + x / 100, "diff_vs_random": x / 10 - 0.05,
          "diff_ci95": 0.02, "n_seeds": 3} for k, x in xs.items() for b in (0.6, 0.1)]
    )  # fmt: skip
    random = pd.DataFrame({"budget": [0.1, 0.6], "mean": [2.15, 2.65], "ci95": [0.01, 0.01]})
    arm = pd.DataFrame({"budget": [0.1, 0.6], "mean": [1.95, 2.5], "ci95": [0.01, 0.01], "diff": [-0.2, -0.15],
                        "diff_ci95": [0.01, 0.01]})  # fmt: skip
    full = pd.DataFrame({"bpb/target": [1.8], "epochs": [0.1]})
    figures.ablation(table, random, full, spec, tmp_path / "ablation.pdf", arm=arm)
    (fig,) = drawn
    ax, bx = fig.axes[:2]
    assert ax.get_xlabel() == bx.get_xlabel() == "alpha"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.2", "0.5", "0.8", "1"]
    curves = {c.get_label(): c for c in ax.containers}
    assert set(curves) == {"budget 10% (2.2 ep)", "budget 60% (0.4 ep)"}
    line = curves["budget 10% (2.2 ep)"].lines[0]  # one line per budget, in x order, with its CI bars
    np.testing.assert_allclose(np.asarray(line.get_xdata(), float), [0.2, 0.5, 0.8, 1.0])
    np.testing.assert_allclose(np.asarray(line.get_ydata(), float), [2.12, 2.15, 2.18, 2.2])
    diffs = [c.lines[0] for c in bx.containers]
    np.testing.assert_allclose(np.asarray(diffs[0].get_ydata(), float), [-0.03, 0.0, 0.03, 0.05], atol=1e-12)
    # random and the target-domain arm at each budget: horizontal lines in the budget's colour
    flat = {round(float(line.get_ydata()[0]), 6) for line in ax.lines if len(set(line.get_ydata())) == 1}
    assert {2.15, 2.65, 1.95, 2.5, 1.8} <= flat
    assert any("random at that budget" in t.get_text() for t in fig.legends[0].texts)
    _readable_at_text_width(fig)
    fig.savefig(tmp_path / "alpha.png", dpi=80)
