"""Figures and the table of the mixture methods (DoReMi weights, Skill-It schedules)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from dqreview.report.figures import TEXT_WIDTH_IN, paper_style, save_figure  # noqa: E402


@paper_style()
def doremi_weights_figure(states: Sequence[dict], path) -> None:
    """Per variant: the domain weights α_t over the proxy's steps (mean over seeds, band = min–max),
    each round's burn-in shaded (the steps ᾱ leaves out), and, beside it, the natural token proportions
    against the time-averaged weights ᾱ."""
    variants = sorted({s["variant"] for s in states})
    fig, axes = plt.subplots(
        len(variants), 2, figsize=(TEXT_WIDTH_IN, 2.8 * len(variants)), squeeze=False, constrained_layout=True,
        gridspec_kw={"width_ratios": [1.8, 1]},
    )  # fmt: skip
    for row, variant in zip(axes, variants, strict=True):
        runs = [s for s in states if s["variant"] == variant]
        names = runs[0]["domains"]
        # α over all rounds, laid end to end: (seeds, steps, k)
        alpha = np.array([np.concatenate([r["alpha"] for r in s["rounds"]]) for s in runs])
        steps = np.arange(1, alpha.shape[1] + 1)
        ax = row[0]
        for i, d in enumerate(names):
            (line,) = ax.plot(steps, alpha[:, :, i].mean(axis=0), label=d)
            ax.fill_between(
                steps,
                alpha[:, :, i].min(axis=0),
                alpha[:, :, i].max(axis=0),
                color=line.get_color(),
                alpha=0.15,
            )
        per_round = len(runs[0]["rounds"][0]["alpha"])
        for r in range(1, len(runs[0]["rounds"])):
            ax.axvline(r * per_round + 0.5, color="grey", linestyle=":", linewidth=1)
        for r, rnd in enumerate(runs[0]["rounds"]):
            burn_in = int(rnd.get("average_from_step", 0))  # states from before the burn-in have none
            if burn_in:
                ax.axvspan(
                    r * per_round + 0.5, r * per_round + burn_in + 0.5, color="0.85", zorder=0,
                    label="burn-in (not in ᾱ)" if r == 0 else None,
                )  # fmt: skip
        ax.set_xlabel("proxy optimizer step (rounds end to end)")
        ax.set_ylabel("domain weight α_t")
        ax.set_title(f"DoReMi {variant}: α_t during Group DRO\n(mean; band = min–max over {len(runs)} seeds)")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title="domain")
        ax = row[1]
        x = np.arange(len(names))
        natural = np.mean([[s["natural"][d] for d in names] for s in runs], axis=0)
        avg = np.array([[s["weights"][d] for d in names] for s in runs])
        ax.bar(x - 0.2, natural, width=0.4, label="natural (reference)")
        ax.bar(
            x + 0.2,
            avg.mean(axis=0),
            width=0.4,
            yerr=avg.std(axis=0),
            capsize=3,
            label="DoReMi ᾱ (after burn-in)",
        )
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set_ylabel("share of training tokens")
        ax.set_title("learned vs natural mixture")
        ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # room for the legend above the bars
        ax.legend(loc="upper left")
        ax.grid(alpha=0.3, axis="y")
    save_figure(fig, path)


@paper_style()
def skillit_schedule_figure(states: Sequence[dict], path) -> None:
    """Per variant: the per-round mixture (stacked, mean over seeds) and the skill graph (mean)."""
    variants = sorted({s["variant"] for s in states})
    fig, axes = plt.subplots(
        len(variants), 2, figsize=(TEXT_WIDTH_IN, 2.8 * len(variants)), squeeze=False, constrained_layout=True
    )
    for row, variant in zip(axes, variants, strict=True):
        runs = [s for s in states if s["variant"] == variant]
        names = runs[0]["train_skills"]
        mix = np.array([[[r["mixture"][d] for d in names] for r in s["rounds"]] for s in runs]).mean(axis=0)
        rounds = np.arange(1, mix.shape[0] + 1)
        ax = row[0]
        bottom = np.zeros(len(rounds))
        for i, d in enumerate(names):
            ax.bar(rounds, mix[:, i], bottom=bottom, label=d)
            bottom += mix[:, i]
        ax.set_xticks(rounds)
        ax.set_xlabel(f"round ({runs[0]['rounds'][0]['tokens']} proxy tokens each)")
        ax.set_ylabel("share of the round's tokens")
        ax.set_ylim(0, 1)
        ax.set_title(f"Skill-It {variant}: online mixture per round\n(mean over {len(runs)} seeds)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title="training skill")
        ax = row[1]
        graph = np.mean([s["graph"] for s in runs], axis=0)
        ax.grid(False)
        im = ax.imshow(graph, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(runs[0]["eval_skills"])), runs[0]["eval_skills"], rotation=30, ha="right")
        ax.set_yticks(range(len(names)), names)
        ax.set_xlabel("evaluation skill j\n(validation slice; target ref)")
        ax.set_ylabel("training skill i")
        ax.set_title("skill graph A_ij (relative loss drop, max 1)")
        for (i, j), v in np.ndenumerate(graph):
            ax.text(
                j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.6 else "black"
            )
        fig.colorbar(im, ax=ax, shrink=0.8)
    save_figure(fig, path)


def mixture_selection_table(infos: Sequence[dict], paths: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per mixture selection and domain: requested (after caps) vs achieved byte share."""
    rows = []
    for k, info in enumerate(infos):
        for d, achieved in info["mixture_achieved"].items():
            rows.append(
                {
                    "metric": info["metric"],
                    "variant": info["variant"],
                    "budget": info["requested"],
                    "seed": info["seed"],
                    "domain": d,
                    "requested": info["mixture_requested"][d],
                    "effective": info["mixture_effective"][d],
                    "achieved": achieved,
                    "domain_capped": d in info["domains_capped"],
                    "budget_achieved": info["achieved"],
                    "path": str(Path(paths[k])) if paths else "",
                }
            )
    return pd.DataFrame(rows)
