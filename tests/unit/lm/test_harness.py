"""lm-eval-harness on an exported proxy agrees exactly with our own multiple-choice scorer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from dqreview.errors import DQError
from dqreview.lm import GPT, GPTConfig, train_tokenizer
from dqreview.lm.harness import run_harness
from dqreview.lm.harness_tasks import check_harness, load_task_file, task_label
from dqreview.lm.hf import export_hf
from dqreview.lm.tasks import load_task, score_task

REPO = Path(__file__).resolve().parents[3]
TASK_YAML = REPO / "configs" / "tasks" / "tiny_cloze.yaml"


def test_lm_eval_scores_like_our_task_scorer(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    items = load_task(REPO / "configs" / "tasks" / "tiny_cloze.jsonl")
    texts = [it["context"] + c for it in items for c in it["choices"]] * 4
    tok = train_tokenizer(texts, vocab_size=320, min_frequency=2)
    torch.manual_seed(3)
    # a block size below the longest item, so both sides must left-truncate the same way
    model = GPT(GPTConfig(n_layer=2, n_head=2, n_embd=32, block_size=12, vocab_size=tok.get_vocab_size()))
    export_hf(model, tok, tmp_path / "proxy")
    # the task file and its data moved elsewhere: the data path resolves against the YAML's directory
    shutil.copy(TASK_YAML, tmp_path / "task.yaml")
    shutil.copy(REPO / "configs" / "tasks" / "tiny_cloze.jsonl", tmp_path / "tiny_cloze.jsonl")
    monkeypatch.chdir(tmp_path.parent)

    harness = run_harness(tmp_path / "proxy", [str(tmp_path / "task.yaml")], device="cpu")
    ours = score_task(model, tok, items)
    assert set(harness) == {"tiny_cloze"}
    assert harness["tiny_cloze"]["acc"] == ours["acc"]
    assert harness["tiny_cloze"]["acc_norm"] == ours["acc_norm"]  # ASCII choices: bytes == characters
    assert 0 < ours["acc"] < 1  # not a degenerate agreement (all right or all wrong)


def test_task_files_and_labels(tmp_path):
    cfg = load_task_file(TASK_YAML)
    assert (
        Path(cfg["dataset_kwargs"]["data_files"]["test"]) == (TASK_YAML.parent / "tiny_cloze.jsonl").resolve()
    )
    assert task_label(str(TASK_YAML)) == "tiny_cloze" and task_label("arc_easy") == "arc_easy"
    (tmp_path / "bad.yaml").write_text("- not a task\n")
    with pytest.raises(DQError, match="lm.eval.harness"):
        load_task_file(tmp_path / "bad.yaml")
    with pytest.raises(DQError, match="not found"):
        load_task_file(tmp_path / "missing.yaml")


def test_missing_lm_eval_fails_early_with_the_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "lm_eval" else real(name, *a)
    )
    config = {"lm": {"eval": {"harness": ["arc_easy"]}}}
    with pytest.raises(DQError, match=r"lm\.eval\.harness.*pip install -e '\.\[harness\]'"):
        check_harness(config)
    check_harness({"lm": {"eval": {"harness": []}}})  # nothing asked, nothing needed
