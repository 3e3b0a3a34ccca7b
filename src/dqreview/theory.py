"""Sorscher et al. (2022) data-pruning theory: the teacher–student perceptron (docs/methods.md,
"Sorscher et al.'s theory").

Setup. A teacher ``T ~ N(0, I_N)``, normalised to unit length; inputs ``x ~ N(0, I_N)``; labels
``sign(T·x)``; ``P = α_tot·N`` examples. A pruning metric with probe direction ``J_probe`` (perfect:
``J_probe = T``; imperfect: a unit vector at angle θ from ``T``) scores each example by its margin
``|J_probe·x|`` and keeps a fraction ``f`` (``α_prune = f·α_tot``): *keep-hard* keeps the SMALLEST
margins, *keep-easy* the LARGEST. A max-margin student ``J`` is trained on the kept set and its test
error is ``ε = arccos(cos∠(J, T)) / π`` (exact for isotropic Gaussian inputs).

Student. The default solver (``solver="maxmargin"``) computes the *exact* hard-margin solution
``min ‖w‖ s.t. y_μ x_μ·w ≥ 1`` (no intercept) as a least-distance program solved by non-negative
least squares (Lawson & Hanson 1974, ch. 23: LDP via NNLS; ``scipy.optimize.nnls``). Every kept example
ends with margin ≥ 1, i.e. zero training error, which is checked. ``solver="linearsvc"`` uses
``sklearn.svm.LinearSVC(C=1e4, loss="hinge", fit_intercept=False, max_iter=100_000)`` as in the reference
code's CPU run — it solves the same problem approximately, but liblinear's dual
coordinate descent does not converge at large α with C=1e4 (seconds per fit and non-zero training
error at P ≥ 2000 with N=100), which is why it is not the default.

Grid configuration (:func:`run_grid` takes a plain dict; every size is a parameter)::

    {"N": 100,                          # input dimension
     "alpha_tot": [2, 4, 10, 20, 40],   # data abundance P/N before pruning
     "fractions": [0.2, 0.4, 0.6, 0.8, 1.0],   # kept fractions f (1.0 = unpruned)
     "theta_deg": 10,                   # angle of the imperfect metric's probe, degrees
     "seeds": 5,                        # number of seeds (0..seeds-1) or an explicit list
     "keeps": ["hard", "easy"],         # optional
     "metrics": ["perfect", "imperfect"],   # optional
     "solver": "maxmargin"}             # optional: "maxmargin" (exact) or "linearsvc"

With these defaults the grid takes ~10–20 s on one core (see the report / ``theory_table``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from dqreview.errors import DQError
from dqreview.progress import Progress

DEFAULT_CONFIG: dict = {
    "N": 100,
    "alpha_tot": [2, 4, 10, 20, 40],
    "fractions": [0.2, 0.4, 0.6, 0.8, 1.0],
    "theta_deg": 10.0,
    "seeds": 5,
    "keeps": ["hard", "easy"],
    "metrics": ["perfect", "imperfect"],
    "solver": "maxmargin",
}

COLUMNS = ["alpha_tot", "f", "alpha_prune", "keep", "metric", "theta_deg", "seed", "n_kept", "error"]


# --------------------------------------------------------------------------------------------- core
def kept_mask(margins, f: float, keep: str) -> np.ndarray:
    """Boolean mask of the examples a margin-based metric keeps.

    Parameters
    ----------
    margins : array_like, shape (P,)
        Margins ``|J_probe·x|`` (only their order matters).
    f : float
        Kept fraction in (0, 1]; ``round(f·P)`` examples are kept (at least one).
    keep : {"hard", "easy"}
        ``"hard"`` keeps the smallest margins, ``"easy"`` the largest. Ties are broken by position
        (stable sort), which has probability zero for continuous inputs.

    Returns
    -------
    numpy.ndarray of bool, shape (P,)
    """
    m = np.asarray(margins, dtype=np.float64).ravel()
    if not 0 < f <= 1:
        raise DQError(f"kept fraction f must be in (0, 1]; got {f}")
    if keep not in ("hard", "easy"):
        raise DQError(f"keep must be 'hard' or 'easy'; got {keep!r}")
    P = m.size
    k = max(1, int(round(f * P)))
    order = np.argsort(m, kind="stable")
    idx = order[:k] if keep == "hard" else order[P - k :]
    mask = np.zeros(P, dtype=bool)
    mask[idx] = True
    return mask


def _teacher_data(N: int, P: int, seed: int):
    rng = np.random.default_rng(seed)
    T = rng.standard_normal(N)
    T /= np.linalg.norm(T)
    X = rng.standard_normal((P, N))
    y = np.where(X @ T >= 0, 1.0, -1.0)
    u = rng.standard_normal(N)  # direction of the imperfect probe's error
    u -= (u @ T) * T
    u /= np.linalg.norm(u)
    return T, X, y, u


def _probe(T: np.ndarray, u: np.ndarray, theta_deg: float) -> np.ndarray:
    th = math.radians(theta_deg)
    return math.cos(th) * T + math.sin(th) * u


def max_margin_student(X: np.ndarray, y: np.ndarray, solver: str = "maxmargin") -> np.ndarray:
    """Max-margin linear separator through the origin of ``(X, y)``.

    ``"maxmargin"``: exact hard margin, ``min ‖w‖ s.t. y·Xw ≥ 1``, as a least-distance program solved
    by NNLS (Lawson & Hanson): with ``E = [(yX)ᵀ; 1ᵀ]`` and ``f = e_{N+1}``, ``u = argmin_{u≥0} ‖Eu − f‖``,
    ``r = Eu − f`` and ``w = −r[:N] / r[N]``. ``"linearsvc"``: sklearn LinearSVC(C=1e4, hinge, no
    intercept, max_iter=100000), approximate.
    """
    Z = y[:, None] * X
    if solver == "maxmargin":
        m, N = Z.shape
        E = np.vstack([Z.T, np.ones((1, m))])
        f = np.zeros(N + 1)
        f[-1] = 1.0
        u, _ = nnls(E, f, maxiter=max(50 * m, 1000))
        r = E @ u - f
        if abs(r[-1]) < 1e-12:
            raise DQError("max-margin student: the kept examples are not linearly separable")
        w = -r[:N] / r[-1]
        if np.min(Z @ w) < 1 - 1e-6:
            raise DQError("max-margin student: NNLS did not reach zero training error (margin < 1)")
        return w
    if solver == "linearsvc":
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.svm import LinearSVC

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = LinearSVC(C=1e4, loss="hinge", fit_intercept=False, max_iter=100_000)
            model.fit(X, y)
        return model.coef_.ravel().astype(np.float64)
    raise DQError(f"unknown student solver {solver!r}; use 'maxmargin' or 'linearsvc'")


def student_error(J: np.ndarray, T: np.ndarray) -> float:
    """Generalisation error ``arccos(cos∠(J, T)) / π`` for isotropic Gaussian inputs."""
    c = float(J @ T / (np.linalg.norm(J) * np.linalg.norm(T)))
    return math.acos(max(-1.0, min(1.0, c))) / math.pi


def simulate(
    N: int,
    alpha_tot: float,
    f: float,
    keep: str = "hard",
    theta_deg: float = 0.0,
    seed: int = 0,
    solver: str = "maxmargin",
) -> float:
    """Test error of the max-margin student trained on a pruned teacher–student data set.

    Parameters
    ----------
    N : int
        Input dimension.
    alpha_tot : float
        ``P = round(alpha_tot·N)`` examples before pruning.
    f : float
        Kept fraction (1 = unpruned; ``keep`` is then irrelevant).
    keep : {"hard", "easy"}
        Keep the smallest (hard) or largest (easy) probe margins ``|J_probe·x|``.
    theta_deg : float
        Angle between the probe and the teacher in degrees (0 = perfect metric).
    seed : int
        Seeds the teacher, the inputs and the probe's error direction (so, for one seed, every
        ``f``/``keep``/``theta_deg`` prunes the same data set).
    solver : {"maxmargin", "linearsvc"}
        See :func:`max_margin_student`.

    Returns
    -------
    float
        ``ε = arccos(cos∠(J_student, T)) / π``.
    """
    P = int(round(alpha_tot * N))
    if P < 1 or N < 1:
        raise DQError(f"need N >= 1 and alpha_tot*N >= 1; got N={N}, alpha_tot={alpha_tot}")
    T, X, y, u = _teacher_data(N, P, seed)
    if f < 1:
        mask = kept_mask(np.abs(X @ _probe(T, u, theta_deg)), f, keep)
        X, y = X[mask], y[mask]
    return student_error(max_margin_student(X, y, solver), T)


# --------------------------------------------------------------------------------------------- grid
def _config(cfg: dict | None) -> dict:
    out = dict(DEFAULT_CONFIG)
    if cfg:
        unknown = set(cfg) - set(DEFAULT_CONFIG)
        if unknown:
            raise DQError(f"theory config: unknown key(s) {sorted(unknown)}; known: {sorted(DEFAULT_CONFIG)}")
        out.update(cfg)
    seeds = out["seeds"]
    out["seeds"] = list(range(int(seeds))) if np.isscalar(seeds) else [int(s) for s in seeds]
    if not out["seeds"]:
        raise DQError("theory config: 'seeds' must give at least one seed")
    for f in out["fractions"]:
        if not 0 < float(f) <= 1:
            raise DQError(f"theory config: fractions must be in (0, 1]; got {f}")
    return out


def run_grid(cfg: dict | None = None) -> pd.DataFrame:
    """Simulate the whole grid; one row per run.

    Parameters
    ----------
    cfg : dict, optional
        Plain dict, keys as in :data:`DEFAULT_CONFIG` (missing keys take the defaults): ``N``,
        ``alpha_tot`` (list), ``fractions`` (list; 1.0 means unpruned), ``theta_deg`` (imperfect
        metric's probe angle, degrees), ``seeds`` (count or list), ``keeps``, ``metrics``, ``solver``.

    Returns
    -------
    pandas.DataFrame
        Columns ``alpha_tot, f, alpha_prune, keep, metric, theta_deg, seed, n_kept, error``.
        Pruned runs have ``keep`` in {hard, easy} and ``metric`` in {perfect, imperfect}. The unpruned
        baseline has ``keep = "none"``, ``metric = "unpruned"``, ``f = 1`` and
        ``alpha_tot = alpha_prune``; it is run at every ``α_prune`` that occurs in the grid (so every
        pruned point has an unpruned comparison with the same number of kept examples) and at every
        ``alpha_tot``. Pruned runs with the same ``(alpha_tot, seed)`` prune the same data.
    """
    c = _config(cfg)
    N = int(c["N"])
    rows = []
    theta = {"perfect": 0.0, "imperfect": float(c["theta_deg"])}
    for m in c["metrics"]:
        if m not in theta:
            raise DQError(f"theory config: metrics must be 'perfect'/'imperfect'; got {m!r}")
    # one student fit per pruned (alpha, seed, metric, fraction, keep) and per unpruned (alpha_prune, seed)
    prunes = {round(float(a) * float(f), 9) for a in c["alpha_tot"] for f in c["fractions"]}
    prunes |= {round(float(a), 9) for a in c["alpha_tot"]}
    n_pruned = sum(float(f) < 1 for f in c["fractions"]) * len(c["keeps"]) * len(c["metrics"])
    total = len(c["seeds"]) * (len(c["alpha_tot"]) * n_pruned + len(prunes))
    bar = Progress(total, "theory: student fits", "fit")
    for a in c["alpha_tot"]:
        P = int(round(a * N))
        for seed in c["seeds"]:
            T, X, y, u = _teacher_data(N, P, seed)
            for metric in c["metrics"]:
                margins = np.abs(X @ _probe(T, u, theta[metric]))
                for f in c["fractions"]:
                    if float(f) >= 1:
                        continue
                    for keep in c["keeps"]:
                        mask = kept_mask(margins, float(f), keep)
                        J = max_margin_student(X[mask], y[mask], c["solver"])
                        rows.append(
                            (
                                float(a),
                                float(f),
                                float(a) * float(f),
                                keep,
                                metric,
                                theta[metric],
                                seed,
                                int(mask.sum()),
                                student_error(J, T),
                            )
                        )
                        bar.update(1)
    # unpruned baseline at every alpha_prune (rounded to avoid float duplicates) and alpha_tot
    for ap in sorted(prunes):
        for seed in c["seeds"]:
            P = int(round(ap * N))
            T, X, y, _ = _teacher_data(N, P, 10_000 + seed)
            J = max_margin_student(X, y, c["solver"])
            rows.append((ap, 1.0, ap, "none", "unpruned", 0.0, seed, P, student_error(J, T)))
            bar.update(1)
    bar.close()
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["alpha_prune"] = df["alpha_prune"].round(9)
    return df


def _ci95(x: pd.Series) -> float:
    n = len(x)
    if n < 2:
        return float("nan")
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1) * x.std(ddof=1) / math.sqrt(n))


def theory_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean test error and 95% CI (Student t over seeds) per configuration.

    Columns ``metric, keep, f, alpha_tot, alpha_prune, mean, ci95, n_seeds``, sorted. Render with
    :func:`dqreview.report.tables.to_latex`.
    """
    g = df.groupby(["metric", "keep", "f", "alpha_tot", "alpha_prune"], sort=True)["error"]
    out = g.agg(mean="mean", ci95=_ci95, n_seeds="count").reset_index()
    return out


def pareto_frontier(df: pd.DataFrame) -> pd.DataFrame:
    """Pareto frontier of test error against α_prune, for each metric (perfect / imperfect).

    For each metric, the candidates are that metric's pruned configurations (any ``f``, ``keep``,
    ``alpha_tot``) plus the unpruned runs (f = 1 is always a valid choice), each averaged over seeds.
    A configuration is on the frontier when no other candidate with ``α_prune`` ≤ its own has a lower
    mean error. Returns columns ``metric, alpha_prune, mean, ci95, keep, f, alpha_tot`` sorted by
    ``α_prune``.
    """
    tab = theory_table(df)
    base = tab[tab["metric"] == "unpruned"]
    out = []
    for metric in [m for m in ("perfect", "imperfect") if m in set(tab["metric"])]:
        cand = pd.concat([tab[tab["metric"] == metric], base]).sort_values(["alpha_prune", "mean"])
        best = math.inf
        for _, r in cand.iterrows():
            if r["mean"] < best:
                best = r["mean"]
                out.append({**r.to_dict(), "metric": metric})
    cols = ["metric", "alpha_prune", "mean", "ci95", "keep", "f", "alpha_tot"]
    res = pd.DataFrame(out, columns=[*cols, "n_seeds"])[cols]
    # at equal alpha_prune keep only the best
    res = res.sort_values(["metric", "alpha_prune", "mean"]).drop_duplicates(["metric", "alpha_prune"])
    return res.reset_index(drop=True)


def plot_theory(df: pd.DataFrame, path) -> None:
    """Test error vs α_prune (log y), one panel per metric (perfect / imperfect probe).

    Curves: one per kept fraction f (colour) and keep mode (solid = keep-hard, dashed = keep-easy),
    each point the mean over seeds with a 95% CI bar; the unpruned learning curve (black) and the
    Pareto frontier (thick grey). Saved atomically (format from the file suffix, PDF by default).
    """
    from dqreview.report.figures import TEXT_WIDTH_IN, paper_style

    with paper_style():
        _plot_theory(df, path, 0.8 * TEXT_WIDTH_IN)  # the paper includes it at 0.8 \linewidth


def _plot_theory(df: pd.DataFrame, path, width: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dqreview.io import atomic_path

    tab = theory_table(df)
    front = pareto_frontier(df)
    metrics = [m for m in ("perfect", "imperfect") if m in set(tab["metric"])]
    theta = df.loc[df["metric"] == "imperfect", "theta_deg"]
    th = float(theta.iloc[0]) if len(theta) else float("nan")
    fracs = sorted(f for f in tab["f"].unique() if f < 1)
    cmap = plt.get_cmap("viridis")
    colours = {f: cmap(i / max(1, len(fracs) - 1) * 0.85) for i, f in enumerate(fracs)}
    fig, axes = plt.subplots(
        1,
        max(1, len(metrics)),
        figsize=(width, 3.4),
        sharey=True,
        constrained_layout=True,
        squeeze=False,
    )
    base = tab[tab["metric"] == "unpruned"].sort_values("alpha_prune")
    n_seeds = int(tab["n_seeds"].min()) if len(tab) else 0
    for ax, metric in zip(axes[0], metrics, strict=False):
        sub = tab[tab["metric"] == metric]
        for f in fracs:
            for keep, ls, mk in (("hard", "-", "o"), ("easy", "--", "s")):
                g = sub[(sub["f"] == f) & (sub["keep"] == keep)].sort_values("alpha_prune")
                if len(g):
                    ax.errorbar(
                        g["alpha_prune"],
                        g["mean"],
                        yerr=g["ci95"].fillna(0.0),
                        color=colours[f],
                        linestyle=ls,
                        marker=mk,
                        markersize=3.5,
                        capsize=2,
                        linewidth=1.2,
                        label=f"f={f:g}, keep-{keep}",
                    )
        ax.errorbar(
            base["alpha_prune"],
            base["mean"],
            yerr=base["ci95"].fillna(0.0),
            color="black",
            marker="^",
            markersize=3.5,
            capsize=2,
            linewidth=1.5,
            label="unpruned (f=1)",
        )
        fr = front[front["metric"] == metric]
        ax.plot(
            fr["alpha_prune"],
            fr["mean"],
            color="grey",
            linewidth=4,
            alpha=0.45,
            zorder=0,
            label="Pareto frontier",
        )
        ax.set_yscale("log")
        ax.set_xlabel(r"$\alpha_{prune}$ = kept examples / N")
        title = (
            "perfect metric (probe = teacher)"
            if metric == "perfect"
            else f"imperfect metric (probe at θ={th:g}°)"
        )
        ax.set_title(title)
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("student test error ε (fraction misclassified)")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=4, frameon=False, columnspacing=1.0)
    N = int(round(df["n_kept"].iloc[-1] / df["alpha_prune"].iloc[-1])) if len(df) else 0
    fig.suptitle(
        f"Teacher–student perceptron, N≈{N}, max-margin student;\nmean ± 95% CI over {n_seeds} seeds"
    )
    from pathlib import Path

    fmt = Path(path).suffix.lstrip(".") or "pdf"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt)
    plt.close(fig)
