"""The input table: every file a method can read, with its path template, loader and cost stage.

A method declares its inputs as these objects (:class:`dqreview.metrics.base.DocumentScorer`'s
``features`` and ``fit_inputs``, a mixture learner's ``learn_inputs``/``select_inputs``); the rules
take their paths from them, the job scripts their loaders, and cost accounting their stage. Nothing
else maps an input name to a file.

Stages: an input made by a stage shared by several methods (``embed``: the sentence-encoder pass;
``task2vec``: the probe's training and the per-document Task2Vec vectors) charges its users that
stage's jobs, in full and amortised (:mod:`dqreview.report.compute`); :func:`shared_stage_costs` lists
the cost records of each stage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dqreview import paths

#: Shared stages: name → what it is.
SHARED_STAGES = {
    "embed": "the sentence-encoder pass over the pool and target ref",
    "task2vec": "the probe's training and the per-document Task2Vec vectors of the pool and target ref",
    "embed_static": "the static encoder's distillation and its pass over the pool and target ref",
}


@dataclass(frozen=True)
class Input:
    """One input of a method.

    Attributes
    ----------
    name : str
        The key under which the method receives the loaded value.
    template : str
        Path template from :mod:`dqreview.paths`; ``{shard}`` is the pool shard, ``{metric}`` and
        ``{variant}`` the method's own.
    load : callable
        ``load(path_or_paths) -> value``; for ``per_shard`` inputs of a fit, the list of every shard's
        path in shard order.
    per_shard : bool
        One file per pool shard.
    stage : str or None
        The shared stage that makes the file (a key of :data:`SHARED_STAGES`), or None.
    pool_rows : bool
        One row per pool document, in pool-index order: sorted by id with the pool before a fit
        (:func:`dqreview.metrics.fit_state`).
    requires : tuple
        ``(metric, variant)`` of another configured method whose output this is.
    """

    name: str
    template: str
    load: Callable[[Any], Any] = field(compare=False)
    per_shard: bool = False
    stage: str | None = None
    pool_rows: bool = False
    requires: tuple[str, str] | None = None

    def paths(self, shards: Sequence[int], **wildcards) -> str | list[str]:
        """This input's file, or every pool shard's file in shard order."""
        path = paths.fill(self.template, **wildcards)
        return paths.expand(path, shard=shards) if self.per_shard else path

    def shard_path(self, shard: int | str, **wildcards) -> str:
        """The file of one pool shard (a per-shard input)."""
        return paths.fill(self.template, shard=shard, **wildcards)


# --- loaders ----------------------------------------------------------------------------------


def _concat(load_one: Callable[[str], np.ndarray]) -> Callable[[Sequence[str]], np.ndarray]:
    return lambda files: np.concatenate([load_one(f) for f in files])


def _embeddings(path: str) -> np.ndarray:
    from dqreview.embed import check_embeddings
    from dqreview.io import read_npy

    X = read_npy(path)
    check_embeddings(X, None, path)
    return X


def _t2v(path: str) -> np.ndarray:
    from dqreview.embed import check_task2vec_vectors
    from dqreview.io import read_npy

    X = read_npy(path)
    check_task2vec_vectors(X, None, path)
    return X


def _column(column: str, dtype) -> Callable[[Any], np.ndarray]:
    def load(files):
        from dqreview.io import read_parquet

        files = [files] if isinstance(files, str) else list(files)
        return np.concatenate(
            [read_parquet(f, columns=[column])[column].to_numpy(dtype=dtype) for f in files]
        )

    return load


def _t2v_tokens(files: Sequence[str]) -> np.ndarray:
    """Predicted tokens per document (``n_tokens`` of the Task2Vec info files), in shard order."""
    from dqreview.errors import DQError
    from dqreview.io import read_parquet

    parts = []
    for f in files:
        info = read_parquet(f)
        if "n_tokens" not in info.columns:
            raise DQError(
                f"{f} has no n_tokens column (written by an older version of rule t2v_vectors); "
                "delete results/t2v and rerun snakemake to rebuild the Task2Vec vectors"
            )
        parts.append(info["n_tokens"].to_numpy(np.int64))
    return np.concatenate(parts)


def _shard_features(files: Sequence[str]) -> list[dict[str, np.ndarray]]:
    from dqreview.io import read_npz

    return [read_npz(f) for f in files]


def _clusters(path: str):
    from dqreview.io import read_parquet

    return read_parquet(path, columns=["id", "cluster"])


def _documents(path: str):
    from dqreview.io import read_parquet

    return read_parquet(path, columns=["id", "text"])


# --- the table ----------------------------------------------------------------------------------

#: A pool shard's sentence embeddings (scoring: row i = the shard's document i).
EMBEDDINGS = Input("embeddings", paths.fill(paths.EMBED, part="pool/shard-{shard}"), _embeddings,
                   per_shard=True, stage="embed")  # fmt: skip
#: A pool shard's per-document Task2Vec vectors.
T2V = Input("t2v", paths.fill(paths.T2V, part="pool/shard-{shard}"), _t2v, per_shard=True, stage="task2vec")

POOL_EMBEDDINGS = Input("pool_embeddings", EMBEDDINGS.template, _concat(_embeddings), per_shard=True,
                        stage="embed", pool_rows=True)  # fmt: skip
POOL_T2V = Input("pool_t2v", T2V.template, _concat(_t2v), per_shard=True, stage="task2vec", pool_rows=True)
#: Predicted tokens of each pool document in its Task2Vec vector (its tokens and the closing eos).
POOL_T2V_TOKENS = Input("pool_t2v_tokens", paths.fill(paths.T2V_INFO, part="pool/shard-{shard}"), _t2v_tokens,
                        per_shard=True, stage="task2vec", pool_rows=True)  # fmt: skip
POOL_IDS = Input("pool_ids", paths.POOL_INDEX, lambda f: _column("id", object)(f).astype(str), pool_rows=True)
POOL_TEXTS = Input("pool_texts", paths.POOL_SHARD, _column("text", object), per_shard=True, pool_rows=True)
TARGET_EMBEDDINGS = Input("target_embeddings", paths.fill(paths.EMBED, part="target/ref"), _embeddings,
                          stage="embed")  # fmt: skip
TARGET_T2V = Input("target_t2v", paths.fill(paths.T2V, part="target/ref"), _t2v, stage="task2vec")
#: Target ref's per-document probe losses (nats/token), for "hardest examples" prototypes.
TARGET_LOSSES = Input("target_losses", paths.fill(paths.T2V_INFO, part="target/ref"),
                      _column("loss", np.float64), stage="task2vec")  # fmt: skip
TARGET_TEXTS = Input("target_texts", paths.fill(paths.TARGET, split="ref"), _column("text", object))
#: Target ref's documents (``id``, ``text``).
TARGET_DOCS = Input("target_docs", paths.fill(paths.TARGET, split="ref"), _documents)
#: The method's own per-shard features (:meth:`DocumentScorer.shard_features`), in shard order.
# the static encoder's embeddings under the same input names: a method's ``space: static`` swaps these in
EMBEDDINGS_STATIC = Input("embeddings", paths.fill(paths.EMBED_STATIC, part="pool/shard-{shard}"), _embeddings,
                          per_shard=True, stage="embed_static")  # fmt: skip
POOL_EMBEDDINGS_STATIC = Input("pool_embeddings", EMBEDDINGS_STATIC.template, _concat(_embeddings), per_shard=True,
                               stage="embed_static", pool_rows=True)  # fmt: skip
TARGET_EMBEDDINGS_STATIC = Input("target_embeddings", paths.fill(paths.EMBED_STATIC, part="target/ref"),
                                 _embeddings, stage="embed_static")  # fmt: skip
#: Each sentence-embedding input → its static-encoder twin (:func:`in_static_space`).
STATIC_TWINS = {
    EMBEDDINGS.name: EMBEDDINGS_STATIC,
    POOL_EMBEDDINGS.name: POOL_EMBEDDINGS_STATIC,
    TARGET_EMBEDDINGS.name: TARGET_EMBEDDINGS_STATIC,
}


def in_static_space(inputs: Input | tuple[Input, ...] | None):
    """The same inputs with the sentence embeddings read from the static encoder's (``space: static``)."""
    if inputs is None:
        return None
    if isinstance(inputs, Input):
        return STATIC_TWINS[inputs.name] if inputs.stage == "embed" else inputs
    return tuple(in_static_space(i) for i in inputs)


SHARD_FEATURES = Input("shard_features", paths.FEATURES, _shard_features, per_shard=True)

TABLE = {i.name: i for i in (EMBEDDINGS, T2V, POOL_EMBEDDINGS, POOL_T2V, POOL_T2V_TOKENS, POOL_IDS, POOL_TEXTS,
                             TARGET_EMBEDDINGS, TARGET_T2V, TARGET_LOSSES, TARGET_TEXTS, TARGET_DOCS,
                             SHARD_FEATURES)}  # fmt: skip


def scores_of(name: str, metric: str, variant: str) -> Input:
    """Another method's merged scores with their k-means ``cluster`` column (e.g. Skill-It's skills)."""
    return Input(name, paths.fill(paths.SCORES, metric=metric, variant=variant), _clusters,
                 requires=(metric, variant))  # fmt: skip


def shared_stage_costs(stage: str, shards: Sequence[int], probe_trained: bool) -> list[str]:
    """Cost records of a shared stage's jobs that serve selection (target test's embedding and the
    diversity table serve evaluation only and are charged to no method)."""
    job = {"embed": paths.Job.EMBED, "task2vec": paths.Job.T2V, "embed_static": paths.Job.EMBED_STATIC}[stage]
    parts = [f"pool/shard-{s}" for s in shards] + ["target/ref"]
    costs = [paths.cost(paths.fill(job, part=p)) for p in parts]
    if stage == "embed_static":
        costs.insert(0, paths.cost(paths.Job.DISTILL_STATIC))
    if stage == "task2vec" and probe_trained:
        costs.insert(0, paths.cost(paths.Job.PROBE))
    return costs


def check_rows(X: np.ndarray, n_rows: int, path: str) -> None:
    """A per-shard array must have one row per document of its shard."""
    from dqreview.errors import DQError

    if len(X) != n_rows:
        raise DQError(
            f"{path}: {len(X)} rows but the shard has {n_rows} documents; the file is stale or belongs to "
            "another shard; delete it and rerun snakemake to rebuild it"
        )
