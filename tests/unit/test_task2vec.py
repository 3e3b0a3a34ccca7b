"""Exactness tests of the Task2Vec embedding: estimator, labels, padding, tied head, distances, seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dqreview import task2vec as t2v
from dqreview.errors import DQError
from dqreview.lm.model import GPT, GPTConfig
from dqreview.probe import gpt_probe

pytestmark = pytest.mark.usefixtures("one_thread")

V, W = 97, 16


@pytest.fixture(scope="module")
def gpt():
    """A random GPT in float64, so the exactness tests compare estimators, not float32 rounding."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=2, n_head=2, n_embd=16, block_size=W, vocab_size=V)).double()
    with torch.no_grad():  # larger weights than the init, so logits are far from uniform
        for p in model.parameters():
            if p.dim() >= 2:
                p.mul_(8.0)
    return model


@pytest.fixture(scope="module")
def probe(gpt):
    return gpt_probe(gpt, tokenizer=None)


def docs_of(lengths, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(1, V, size=n) for n in lengths]


def reference_window_vector(model, x, n_pred, labels, names):
    """n · (∇ token-mean log-likelihood)², filter-wise, with plain autograd on a plain nn.Module."""
    model = model.eval()
    params = dict(model.named_parameters())
    for p in model.parameters():
        p.requires_grad_(True)
    model.zero_grad(set_to_none=True)
    logits, _ = model(torch.as_tensor(x)[None])
    logp = torch.log_softmax(logits[0].double(), dim=-1)
    ll = sum(logp[t, int(labels[t])] for t in range(n_pred)) / n_pred
    ll.backward()
    parts = []
    for n in names:
        g2 = params[n].grad.double() ** 2
        parts.append(g2.flatten(1).mean(1) if g2.dim() > 1 else g2)
    return n_pred * torch.cat(parts).numpy()


# --- distances ----------------------------------------------------------------------------------


def test_distance_formula_by_hand():
    a, b = np.array([1.0, 2.0, 0.0, 4.0]), np.array([3.0, 2.0, 1.0, 0.0])
    s = a + b + 1e-8
    p, q = a / s, b / s
    cos = p @ q / (np.linalg.norm(p) * np.linalg.norm(q))
    assert t2v.task2vec_distance(a, b) == pytest.approx(1 - cos, abs=1e-15)
    # by hand: p = (.25, .5, 0, 1), q = (.75, .5, 1, 0) up to 1e-8
    assert 1 - cos == pytest.approx(1 - (0.1875 + 0.25) / (np.sqrt(1.3125) * np.sqrt(1.8125)), abs=1e-7)
    assert t2v.task2vec_distance(a, b, "l1") == pytest.approx(0.5 + 0 + 1 + 1, abs=1e-7)
    assert t2v.task2vec_distance(a, b, "l2") == pytest.approx(np.sqrt(0.25 + 1 + 1), abs=1e-7)


def test_distance_properties():
    rng = np.random.default_rng(1)
    A = rng.random((5, 30))
    D = t2v.distance_matrix(A)
    assert np.allclose(D, D.T, atol=1e-15) and np.all(np.diag(D) == 0)
    # invariant to a common scale, and a vector is at distance 0 from its multiples; not scale-free otherwise
    assert t2v.task2vec_distance(A[0], 7.5 * A[0]) == pytest.approx(0, abs=1e-12)
    assert t2v.task2vec_distance(3 * A[0], 3 * A[1]) == pytest.approx(
        D[0, 1], abs=1e-7
    )  # up to the 1e-8 guard
    assert abs(t2v.task2vec_distance(A[0], 3 * A[1]) - D[0, 1]) > 1e-3
    assert t2v.distance_matrix(A[:2], A, chunk_size=2) == pytest.approx(D[:2], abs=1e-15)


@pytest.mark.parametrize(
    "a, b",
    [
        (np.ones((2, 3)), np.ones((2, 4))),  # dimension mismatch
        (np.zeros((0, 3)), np.ones((2, 3))),  # empty
        (-np.ones((1, 3)), np.ones((1, 3))),  # negative Fisher
        (np.full((1, 3), np.nan), np.ones((1, 3))),
        (np.zeros((1, 3)), np.zeros((1, 3))),  # zero vectors: no cosine
    ],
)
def test_distance_bad_input(a, b):
    with pytest.raises(DQError):
        t2v.distance_matrix(a, b)


def test_unknown_distance():
    with pytest.raises(DQError, match="unknown Task2Vec distance"):
        t2v.distance_matrix(np.ones((1, 2)), None, "kl")


# --- windows ------------------------------------------------------------------------------------


def test_document_windows_cover_every_prediction_once():
    doc = np.arange(1, 36)  # 35 tokens → s has 37 tokens, 36 predictions
    w = t2v.document_windows([doc], W, eos_id=0)
    assert len(w) == 3 and w.n_pred.tolist() == [16, 16, 4]
    s = np.concatenate([[0], doc, [0]])
    assert w.x[0].tolist() == s[:16].tolist() and w.y[0].tolist() == s[1:17].tolist()
    assert w.x[2, :4].tolist() == s[32:36].tolist() and w.y[2, :4].tolist() == s[33:37].tolist()
    assert (w.y[2, 4:] == -1).all() and (w.x[2, 4:] == 0).all()
    first = t2v.document_windows([doc], W, eos_id=0, first_only=True)
    assert len(first) == 1 and first.n_pred.tolist() == [16]


@pytest.mark.parametrize("docs", [[], [np.array([], dtype=np.int64)], [np.ones((2, 2), dtype=np.int64)]])
def test_bad_documents(docs):
    with pytest.raises(DQError):
        t2v.document_windows(docs, W, 0)


def test_out_of_vocabulary_tokens(probe):
    with pytest.raises(DQError, match="outside"):
        t2v.document_vectors(probe, [np.array([1, V + 3])], ["a"])


# --- the estimator ------------------------------------------------------------------------------


@pytest.mark.parametrize("layers", ["final", "all"])
def test_vmap_equals_per_window_autograd(probe, layers):
    w = t2v.document_windows(docs_of([5, 40, 15, 16]), W, 0)
    names = probe.layer_names(layers)
    seeds = t2v.window_seeds(3, [str(o) for o in w.owner], w.index)
    fv, lv, labv = t2v.window_fisher(probe, w, names, seeds, method="vmap", chunk_size=3)
    fl, ll, labl = t2v.window_fisher(probe, w, names, seeds, method="loop")
    assert (labv == labl).all()
    np.testing.assert_allclose(fv, fl, rtol=1e-5, atol=1e-12 * np.abs(fl).max())
    np.testing.assert_allclose(lv, ll, rtol=1e-6)
    assert fv.shape[1] == sum(n for _, n in t2v.layout(probe, names))


@pytest.mark.parametrize("layers", ["final", "all", "final-outputs"])
def test_document_vector_is_mean_of_window_fishers(gpt, probe, layers):
    """Mean of per-window vectors == set Fisher from per-window squared gradients (same labels), 1e-5."""
    docs = docs_of([45, 7])
    vec, _, n_windows = t2v.document_vectors(probe, docs, ["d0", "d1"], window=W, layers=layers, seed=5)
    w = t2v.document_windows(docs, W, 0)
    names = probe.layer_names(layers)
    _, _, labels = t2v.window_fisher(
        probe, w, names, t2v.window_seeds(5, [f"d{o}" for o in w.owner], w.index)
    )
    plain = probe.model  # the untied model, differentiated the ordinary way
    ref = [reference_window_vector(plain, w.x[i], int(w.n_pred[i]), labels[i], names) for i in range(len(w))]
    ref = np.array(ref)
    assert n_windows.tolist() == [3, 1]
    np.testing.assert_allclose(vec[0], ref[:3].mean(0), rtol=1e-5, atol=1e-9 * ref.max())
    np.testing.assert_allclose(vec[1], ref[3], rtol=1e-5, atol=1e-9 * ref.max())
    for p in plain.parameters():
        p.requires_grad_(False)


def test_labels_sampled_from_the_logits_at_the_same_position(probe):
    """Label t ~ softmax(logits_t) (logits_t predict token t+1); the reference code's t+1 fails this."""
    docs = docs_of([30, 12], seed=2)
    w = t2v.document_windows(docs, W, 0)
    seeds = t2v.window_seeds(0, [str(o) for o in w.owner], w.index)
    _, _, labels = t2v.window_fisher(probe, w, probe.layer_names("final"), seeds)
    with torch.no_grad():
        logits, _ = probe.model(w.x)
    probs = torch.softmax(logits.double(), -1).numpy()
    u = t2v._uniforms(seeds, W).numpy()
    shifted_agree, total = 0, 0
    for i in range(len(w)):
        for t in range(int(w.n_pred[i])):
            expect = min(int(np.searchsorted(np.cumsum(probs[i, t]), u[i, t], side="right")), V - 1)
            assert labels[i, t] == expect
            if t + 1 < W:
                off = min(int(np.searchsorted(np.cumsum(probs[i, t + 1]), u[i, t], side="right")), V - 1)
                shifted_agree += int(off == labels[i, t])
                total += 1
        assert (labels[i, int(w.n_pred[i]) :] == -1).all()
    assert shifted_agree < 0.5 * total  # the off-by-one labels are mostly different draws


def test_padding_is_excluded(probe):
    """Whatever sits in the padded positions, the Fisher and the loss are the same."""
    w = t2v.document_windows(docs_of([6, 20]), W, 0)
    names = probe.layer_names("all")
    seeds = t2v.window_seeds(1, ["a", "b", "b"], w.index)
    f0, l0, _ = t2v.window_fisher(probe, w, names, seeds)
    junk = w.x.clone()
    for i in range(len(w)):
        junk[i, int(w.n_pred[i]) :] = torch.randint(
            1, V, (W - int(w.n_pred[i]),), generator=torch.Generator().manual_seed(i)
        )
    w2 = t2v.Windows(junk, w.y, w.n_pred, w.owner, w.index)
    f1, l1, _ = t2v.window_fisher(probe, w2, names, seeds)
    np.testing.assert_array_equal(f0, f1)
    np.testing.assert_array_equal(l0, l1)


def test_token_scale(probe):
    w = t2v.document_windows(docs_of([9]), W, 0)
    names = probe.layer_names("final")
    seeds = t2v.window_seeds(0, ["a"], w.index)
    scaled, _, _ = t2v.window_fisher(probe, w, names, seeds, token_scale=True)
    plain, _, _ = t2v.window_fisher(probe, w, names, seeds, token_scale=False)
    np.testing.assert_allclose(scaled, plain * 10, rtol=1e-12)  # 9 tokens + the end → 10 predictions


def test_tied_head_finetuning_leaves_input_embedding(gpt, probe):
    assert gpt.lm_head.weight is gpt.wte.weight  # the caller's model stays tied
    assert probe.was_tied and probe.model.lm_head.weight is not probe.model.wte.weight
    wte_before = probe.model.wte.weight.clone()
    head_before = probe.model.lm_head.weight.clone()
    torch.testing.assert_close(head_before, wte_before)  # untied copy: same values
    w = t2v.document_windows(docs_of([20, 20, 20]), W, 0, first_only=True)
    head = t2v.finetune_head(probe, w, epochs=3, lr=1e-2, batch_size=2, seed=0)
    assert not torch.equal(head, head_before)
    torch.testing.assert_close(probe.model.wte.weight, wte_before, rtol=0, atol=0)
    torch.testing.assert_close(probe.model.lm_head.weight, head_before, rtol=0, atol=0)
    torch.testing.assert_close(gpt.wte.weight, wte_before, rtol=0, atol=0)


def test_finetuning_lowers_the_batch_loss(probe):
    w = t2v.document_windows(docs_of([20] * 4), W, 0, first_only=True)
    names = probe.layer_names("final")
    seeds = t2v.window_seeds(0, list("abcd"), w.index)
    _, before, _ = t2v.window_fisher(probe, w, names, seeds)
    head = t2v.finetune_head(probe, w, epochs=20, lr=3e-2, batch_size=2, seed=0)
    _, after, _ = t2v.window_fisher(probe, w, names, seeds, head=head)
    assert after.mean() < before.mean()


def test_identical_batches_same_seed_distance_zero(probe):
    docs = docs_of([20, 11, 30])
    a = t2v.embed_batch(probe, docs, window=W, finetune={"epochs": 2}, seed=4, key="x")
    b = t2v.embed_batch(probe, docs, window=W, finetune={"epochs": 2}, seed=4, key="x")
    np.testing.assert_array_equal(a, b)  # deterministic across runs
    assert t2v.task2vec_distance(a, b) == 0.0
    c = t2v.embed_batch(probe, docs, window=W, finetune={"epochs": 2}, seed=5, key="x")
    assert t2v.task2vec_distance(a, c) > 0  # another label seed is another Monte-Carlo draw


def test_document_vectors_do_not_depend_on_batching(probe):
    docs = docs_of([25, 3, 40, 17], seed=7)
    ids = ["w", "x", "y", "z"]
    full, loss, _ = t2v.document_vectors(probe, docs, ids, window=W, seed=2, chunk_size=5)
    part, ploss, _ = t2v.document_vectors(
        probe, docs[2:], ids[2:], window=W, seed=2, chunk_size=2, docs_per_step=1
    )
    np.testing.assert_allclose(part, full[2:], rtol=1e-5)
    np.testing.assert_allclose(ploss, loss[2:], rtol=1e-6)
    assert full.dtype == np.float32 and (full >= 0).all()


def test_label_samples_average_independent_draws(probe):
    """label_samples=K is the mean of K single-draw vectors: draw 0 with the document's own key, draw j with
    the key "<id>#<j>"; K=1 is the single-draw vector exactly."""
    docs, ids = docs_of([25, 9], seed=11), ["p", "q"]
    one, _, _ = t2v.document_vectors(probe, docs, ids, window=W, seed=4)
    again, _, _ = t2v.document_vectors(probe, docs, ids, window=W, seed=4, label_samples=1)
    np.testing.assert_array_equal(one, again)
    three, _, _ = t2v.document_vectors(probe, docs, ids, window=W, seed=4, label_samples=3)
    draws = [one] + [
        t2v.document_vectors(probe, docs, [f"{i}#{j}" for i in ids], window=W, seed=4)[0] for j in (1, 2)
    ]
    # a document's vector is the mean of its windows' vectors, and each window averages the same draws
    np.testing.assert_allclose(three, np.mean(draws, axis=0), rtol=1e-5)
    assert not np.allclose(three, one)
    with pytest.raises(DQError, match="label_samples=0"):
        t2v.document_vectors(probe, docs, ids, window=W, label_samples=0)


def test_document_loss_is_probe_cross_entropy(probe):
    doc = docs_of([21], seed=3)[0]
    _, loss, _ = t2v.document_vectors(probe, [doc], ["a"], window=W)
    s = torch.as_tensor(np.concatenate([[0], doc, [0]]))  # 23 tokens, 22 predictions: windows of 16 and 6
    with torch.no_grad():
        l0 = probe.model(s[:16][None], s[1:17][None])[1].sum()
        l1 = probe.model(s[16:22][None], s[17:23][None])[1].sum()
    assert loss[0] == pytest.approx(float(l0 + l1) / 22, rel=1e-6)


def test_layer_subsets(probe):
    final = probe.layer_names("final")
    assert final == [
        "blocks.1.ln1.weight", "blocks.1.attn.qkv.weight", "blocks.1.attn.proj.weight", "blocks.1.ln2.weight",
        "blocks.1.mlp.fc.weight", "blocks.1.mlp.proj.weight", "ln_f.weight", "lm_head.weight",
    ]  # fmt: skip
    assert probe.layer_names(["ln_f"]) == ["ln_f.weight"]
    assert "wte.weight" in probe.layer_names("all")
    with pytest.raises(DQError):
        probe.layer_names(["nothing"])
    with pytest.raises(DQError):
        probe.layer_names("middle")
    dims = dict(t2v.layout(probe, final))
    assert dims["lm_head.weight"] == V and dims["blocks.1.attn.qkv.weight"] == 48  # one entry per output unit
    assert probe.layer_names("final-no-head") == final[:-1]  # the head is the subset's last parameter
    assert probe.can_split(probe.layer_names("final-no-head"))  # still evaluated on cached trunk states
    outputs = probe.layer_names("final-outputs")
    assert outputs == ["blocks.1.attn.proj.weight", "blocks.1.mlp.proj.weight", "lm_head.weight"]
    assert probe.layer_names("final-outputs-no-head") == outputs[:-1]
    assert dims["blocks.1.mlp.proj.weight"] == 16  # the residual stream's width: its output units
    assert probe.can_split(outputs)


def test_output_subsets_include_biases(probe32):
    assert probe32.layer_names("final-outputs-no-head") == [
        "blocks.1.attn.proj.weight", "blocks.1.attn.proj.bias", "blocks.1.mlp.proj.weight", "blocks.1.mlp.proj.bias",
    ]  # fmt: skip


def test_trunk_tail_split_and_head_inputs_match_the_model(probe):
    x = torch.as_tensor(docs_of([15])[0])[None]
    with torch.no_grad():
        full = probe.logits({}, x)
        split = probe.tail_logits(probe.parameters_of(probe.layer_names("final")), probe.trunk(x))
        torch.testing.assert_close(split, full, rtol=0, atol=0)
        torch.testing.assert_close(probe.model.lm_head(probe.head_inputs(x)), full, rtol=0, atol=0)
    assert probe.can_split(probe.layer_names("final")) and not probe.can_split(probe.layer_names("all"))


@pytest.mark.parametrize("vocab", [1024, 4096])
def test_two_level_sampler_equals_inverse_cdf(vocab):
    """Large vocabularies are sampled block-then-token: the same draw as one cumulative sum (float64)."""
    gen = torch.Generator().manual_seed(0)
    probs = torch.softmax(3 * torch.randn(500, vocab, generator=gen, dtype=torch.float64), -1)
    u = torch.rand(500, generator=gen, dtype=torch.float64)
    cdf = probs.cumsum(-1)
    expected = (cdf <= (u * cdf[:, -1])[:, None]).sum(-1).clamp(max=vocab - 1)
    torch.testing.assert_close(t2v._sample_from_probs(probs, u), expected, rtol=0, atol=0)
    # a point mass is always drawn, whatever u (zero-probability tokens never are, u = 0 included)
    for dtype in (torch.float64, torch.float32):
        point = torch.zeros(3, vocab, dtype=dtype)
        point[:, 777] = 1.0
        u = torch.tensor([0.0, 0.5, 1.0 - 1e-12], dtype=torch.float64)
        assert t2v._sample_from_probs(point, u).tolist() == [777] * 3
        small = torch.zeros(3, 97, dtype=dtype)  # the one-level path
        small[:, 40] = 1.0
        assert t2v._sample_from_probs(small, u).tolist() == [40] * 3


# --- the forward path (method="forward") ---------------------------------------------------------

TAIL_SUBSETS = ["final", "final-no-head", "final-outputs", "final-outputs-no-head", ["blocks.1.mlp", "ln_f"]]


@pytest.fixture(scope="module")
def probe32():
    """A float32 random GPT with biases (the bias and LayerNorm-bias branches of the forward path)."""
    torch.manual_seed(1)
    model = GPT(GPTConfig(n_layer=2, n_head=2, n_embd=16, block_size=W, vocab_size=V, bias=True))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p)) if p.dim() == 1 else p.mul_(8.0)
    return gpt_probe(model, tokenizer=None)


@pytest.mark.parametrize("layers", TAIL_SUBSETS)
def test_forward_equals_vmap_float32(probe32, layers):
    """Tolerance: |forward − vmap| <= 1e-5 · |vmap| + 1e-5 · max|vmap| (float32; windows of 1..16 predictions,
    padded), the same labels and true losses."""
    w = t2v.document_windows(docs_of([0 + 1, 40, 15, 16, 3]), W, 0)
    assert len(set(w.n_pred.tolist())) >= 3  # full, padded and short windows
    names = probe32.layer_names(layers)
    seeds = t2v.window_seeds(3, [str(o) for o in w.owner], w.index)
    fv, lv, labv = t2v.window_fisher(probe32, w, names, seeds, method="vmap", chunk_size=3)
    ff, lf, labf = t2v.window_fisher(probe32, w, names, seeds, method="forward", chunk_size=4)
    assert (labf == labv).all()
    np.testing.assert_allclose(ff, fv, rtol=1e-5, atol=1e-5 * np.abs(fv).max())
    np.testing.assert_allclose(lf, lv, rtol=1e-6)
    assert (ff > 0).any(axis=1).all()


@pytest.mark.parametrize("layers", TAIL_SUBSETS)
def test_forward_equals_per_window_autograd_float64(probe, layers):
    """In float64 the forward path and one autograd call per window agree to 1e-10 (the same estimator)."""
    w = t2v.document_windows(docs_of([5, 40, 15, 16]), W, 0)
    names = probe.layer_names(layers)
    seeds = t2v.window_seeds(3, [str(o) for o in w.owner], w.index)
    ff, lf, labf = t2v.window_fisher(probe, w, names, seeds, method="forward", chunk_size=3)
    fl, ll, labl = t2v.window_fisher(probe, w, names, seeds, method="loop")
    assert (labf == labl).all()
    np.testing.assert_allclose(ff, fl, rtol=1e-10, atol=1e-14 * np.abs(fl).max())
    np.testing.assert_allclose(lf, ll, rtol=1e-12)


def test_forward_is_deterministic_and_chunk_free(probe32):
    docs, ids = docs_of([30, 4, 17], seed=2), ["a", "b", "c"]
    runs = [
        t2v.document_vectors(probe32, docs, ids, window=W, layers="final", chunk_size=c, method="forward")[0]
        for c in (2, 2, 16)
    ]
    assert np.array_equal(runs[0], runs[1])  # bit for bit on a rerun
    np.testing.assert_allclose(runs[2], runs[0], rtol=1e-6, atol=1e-7 * np.abs(runs[0]).max())


def test_auto_takes_forward_where_it_applies(probe):
    assert t2v.resolve_method(probe, probe.layer_names("final"), None) == "forward"
    assert t2v.resolve_method(probe, probe.layer_names("final-no-head"), "auto") == "forward"
    assert t2v.resolve_method(probe, probe.layer_names("all"), "auto") == "vmap"
    assert t2v.resolve_method(probe, probe.layer_names(["blocks.0"]), None) == "vmap"
    assert t2v.resolve_method(probe, probe.layer_names("all"), "loop") == "loop"
    assert (
        t2v.document_vector_options(
            {"window": 8, "chunk_size": 4, "token_scale": True, "documents": {"layers": "final"}}
        )["method"]
        == "auto"
    )


@pytest.mark.parametrize("layers", ["all", ["blocks.0"], ["wte"]])
def test_forward_refuses_layers_before_the_tail(probe, layers):
    w = t2v.document_windows(docs_of([5]), W, 0)
    names = probe.layer_names(layers)
    with pytest.raises(DQError, match=r"'task2vec.method'=forward.*last block.*task2vec.method: vmap"):
        t2v.window_fisher(probe, w, names, np.zeros(len(w), dtype=np.int64), method="forward")
    with pytest.raises(DQError, match="'task2vec.method'=forward"):
        t2v.document_vectors(probe, docs_of([5]), ["a"], window=W, layers=layers, method="forward")


def test_unknown_method_names_the_key(probe):
    with pytest.raises(DQError, match=r"'task2vec.method'='fast'.*forward"):
        t2v.document_vectors(probe, docs_of([5]), ["a"], window=W, method="fast")


@pytest.mark.parametrize("layers", ["final", "final-outputs"])
def test_forward_with_a_finetuned_head_equals_vmap(probe, layers):
    docs = docs_of([12, 9, 20], seed=4)  # first windows of 13, 10 and 16 predictions: two padded
    ft = {"epochs": 2, "lr": 1e-2}
    a = t2v.embed_batch(probe, docs, W, layers=layers, finetune=ft, seed=1, method="forward")
    b = t2v.embed_batch(probe, docs, W, layers=layers, finetune=ft, seed=1, method="vmap")
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14 * np.abs(b).max())
    plain = t2v.embed_batch(probe, docs, W, layers=layers, seed=1, method="forward")
    assert np.abs(plain - a).max() > 1e-3 * np.abs(a).max()  # the fine-tuned head did change the vector


@pytest.mark.parametrize("method", ["forward", "vmap"])
def test_output_subsets_are_entries_of_final(probe32, method):
    """The labels do not depend on the layers, so "final-outputs" is "final" restricted to its parameters."""
    docs, ids = docs_of([30, 4, 17], seed=6), ["a", "b", "c"]
    final, _, _ = t2v.document_vectors(probe32, docs, ids, window=W, layers="final", method=method)
    where, start = {}, 0
    for name, dim in t2v.layout(probe32, probe32.layer_names("final")):
        where[name], start = slice(start, start + dim), start + dim
    for layers in ("final-outputs", "final-outputs-no-head"):
        names = probe32.layer_names(layers)
        vec, _, _ = t2v.document_vectors(probe32, docs, ids, window=W, layers=layers, method=method)
        expect = np.concatenate([final[:, where[n]] for n in names], axis=1)
        np.testing.assert_allclose(vec, expect, rtol=1e-5, atol=1e-6 * np.abs(expect).max())


def test_forward_output_subsets_never_go_back_through_attention(probe32):
    """The output projections' errors come back through ln_f and the MLP only: no attention backward, no
    gradient of the attention's input projection (the whole-block subset needs both)."""
    from torch.profiler import profile

    w = t2v.document_windows(docs_of([30, 9]), W, 0)
    seeds = t2v.window_seeds(0, ["a", "a", "b"], w.index)

    def backward_ops(layers):
        with profile() as prof:
            t2v.window_fisher(probe32, w, probe32.layer_names(layers), seeds, method="forward")
        return {e.key for e in prof.key_averages() if "backward" in e.key.lower()}

    final = backward_ops("final")
    assert any("scaled_dot_product" in k for k in final)
    for layers in ("final-outputs", "final-outputs-no-head"):
        ops = backward_ops(layers)
        assert not any("scaled_dot_product" in k or "softmax" in k for k in ops), ops
        assert any("gelu" in k for k in ops)  # the attention projection's error passes through the MLP
