"""The static encoder: a sentence encoder distilled into per-token vectors with model2vec (rule distill_static).

Its own module, apart from :mod:`dqreview.embed`, because model2vec and skeletoken (the extra ``static``)
are needed by the distillation only; encoding a distilled model (:class:`dqreview.embed.StaticEncoder`)
needs tokenizers and safetensors, which every environment has.
"""

from __future__ import annotations

import os

from dqreview.embed import PACKAGED_MODEL, resolve_model_path
from dqreview.errors import DQError
from dqreview.io import atomic_dir


def distill_static(source: str, out_dir: str | os.PathLike, pca_dims: int = 256) -> dict:
    """Distil a local sentence encoder into a model2vec static model directory (offline, on the CPU).

    model2vec's ``distill``: one forward pass of every vocabulary token alone through the encoder
    (mean-pooled), a PCA of the token vectors to ``pca_dims`` (eigendecomposition of the covariance,
    no random start, so the result is deterministic on a given machine), and Zipf/SIF weights
    ``1e-4 / (1e-4 + p(rank))`` that shrink frequent tokens, rank taken as the vocabulary order.

    Parameters
    ----------
    source : str
        ``embed.static.from``: the packaged encoder's name or a local model directory
        (see :func:`dqreview.embed.resolve_model_path`); hub ids are refused (the rule runs offline).
    out_dir : path
        The model directory to write (atomically): ``config.json``, ``model.safetensors``,
        ``tokenizer.json``, ``modules.json``.
    pca_dims : int
        ``embed.static.pca_dims``: dimension of the static vectors.

    Returns
    -------
    dict
        ``vocab`` (tokens kept), ``dim``, ``source`` (the resolved directory), for the cost record.
    """
    path = resolve_model_path(source)
    if not os.path.isdir(path):
        raise DQError(
            f"embed.static.from: {source!r} is not a local model directory; distillation runs offline, so "
            f"use {PACKAGED_MODEL!r} or a directory holding config.json, model.safetensors and tokenizer.json"
        )
    os.environ["HF_HUB_OFFLINE"] = "1"  # distill asks the hub for a model card only when online
    try:
        from model2vec.distill import distill
    except ImportError as exc:
        raise DQError(
            f"embed.static: distillation needs model2vec and skeletoken ({exc}); install the extra: "
            "pip install 'dq-review[static]' (or the pinned requirements.lock)"
        ) from None
    model = distill(model_name=path, pca_dims=int(pca_dims), device="cpu")
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(str(tmp))
    return {"vocab": int(model.embedding.shape[0]), "dim": int(model.embedding.shape[1]), "source": path}
