"""Progress lines in the job's log: cadence, counts, rate and ETA against a fake clock; quiet and brief modes;
and a real proxy-training job through ``dqreview.runner.run`` whose rule log shows them."""

import logging
import re
import subprocess
import sys

import pytest

from dqreview.errors import DQError
from dqreview.progress import Progress, every_s_default, format_duration, progress


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def _lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "dqreview.progress"]


def test_logs_every_period_with_counts_rate_and_eta(caplog):
    caplog.set_level(logging.INFO, logger="dqreview")
    clock = Clock()
    with Progress(100, "train", "step", every_s=10, bar=False, clock=clock) as p:
        for _ in range(100):
            clock.t += 0.5  # 2 steps/s: a line every 20 steps (10 s), none in between
            p.update(1, loss=2.345678)
    lines = _lines(caplog)
    assert lines[0] == "train: 20/100 (20%) 2 step/s, ETA 0:00:40, loss=2.346"
    assert lines[1] == "train: 40/100 (40%) 2 step/s, ETA 0:00:30, loss=2.346"
    assert len(lines) == 6  # 20, 40, 60, 80, 100 and the final line
    assert lines[-1] == "train: 100/100 (100%) 2 step/s, ETA 0:00:00, loss=2.346; done in 0:00:50"


def test_a_resumed_run_counts_only_its_own_rate(caplog):
    caplog.set_level(logging.INFO, logger="dqreview")
    clock = Clock()
    p = Progress(1000, "train", "step", every_s=5, initial=900, bar=False, clock=clock)
    clock.t += 10
    p.update(50)  # 50 steps in 10 s since the resume: 5 step/s, 50 left
    assert _lines(caplog) == ["train: 950/1000 (95%) 5 step/s, ETA 0:00:10"]
    assert p.rate() == 5.0 and p.eta() == 10.0


def test_unknown_total_and_zero_time():
    clock = Clock()
    p = Progress(None, "scan", "doc", bar=False, clock=clock)
    assert p.line() == "scan: 0/? 0 doc/s, ETA ?"  # no time passed: no rate, no ETA
    clock.t += 4
    p.update(8)
    assert p.line() == "scan: 8/? 2 doc/s, ETA ?"
    assert format_duration(3725.4) == "1:02:05" and format_duration(float("nan")) == "?"


def test_quiet_writes_nothing_and_brief_only_when_long(caplog):
    caplog.set_level(logging.INFO, logger="dqreview")
    clock = Clock()
    with Progress(10, "quiet", every_s=0, enabled=False, clock=clock) as p:
        for _ in range(10):
            clock.t += 100
            p.update()
    assert p.done == 10 and _lines(caplog) == []
    with Progress(10, "short fit", every_s=10, brief=True, bar=False, clock=clock) as p:
        p.update(10)  # no time passed: a usually-short loop leaves no line
    assert _lines(caplog) == []
    with Progress(10, "long fit", every_s=10, brief=True, bar=False, clock=clock) as p:
        clock.t += 11
        p.update(5)
        p.update(5)
    assert _lines(caplog) == ["long fit: 5/10 (50%) 0.455 it/s, ETA 0:00:11", "long fit: 10/10 (100%) 0.909 it/s, ETA 0:00:00; done in 0:00:11"]  # fmt: skip


def test_bar_only_on_a_terminal(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert Progress(3, "x")._bar is None
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    p = Progress(3, "x")
    assert p._bar is not None
    p.close()
    assert Progress(3, "x", enabled=False)._bar is None


def test_iterator_wrapper_yields_everything_and_closes(caplog):
    caplog.set_level(logging.INFO, logger="dqreview")
    assert list(progress(range(5), desc="items", bar=False)) == [0, 1, 2, 3, 4]
    assert re.fullmatch(r"items: 5/5 \(100%\) \S+ it/s, ETA 0:00:00; done in 0:00:00", _lines(caplog)[-1])


def test_cadence_from_the_environment(monkeypatch):
    monkeypatch.delenv("DQREVIEW_PROGRESS_S", raising=False)
    assert every_s_default() == 10.0
    monkeypatch.setenv("DQREVIEW_PROGRESS_S", "0.5")
    assert Progress(1, "x", bar=False).every_s == 0.5
    monkeypatch.setenv("DQREVIEW_PROGRESS_S", "soon")
    with pytest.raises(DQError, match=r"DQREVIEW_PROGRESS_S must be a number of seconds >= 0; got 'soon'"):
        every_s_default()


JOB = """
import types
import numpy as np
from dqreview.lm.model import GPTConfig
from dqreview.lm.train import train_run
from dqreview.runner import run

def main(smk):
    rng = np.random.default_rng(0)
    docs = [rng.integers(1, 40, size=int(rng.integers(5, 30))) for _ in range(40)]
    train = dict(tokens=8 * 4 * 400, batch_size=4, lr=3e-3, min_lr=3e-4, warmup_steps=2, weight_decay=0.1,
                 grad_clip=1.0, checkpoints=1, save_every=1000)
    res = train_run(docs, np.zeros(len(docs), dtype=np.int64), GPTConfig(n_layer=1, n_head=2, n_embd=16,
                    block_size=8, vocab_size=40), train, 0, lambda m, final: {}, None)
    print(repr(res["train_loss"]))

run(main, types.SimpleNamespace(log=[LOG], config={"threads": 1}))
"""


def _train_job(tmp_path, name, every_s):
    log = tmp_path / f"{name}.log"
    script = tmp_path / f"{name}.py"
    script.write_text(JOB.replace("LOG", repr(str(log))))
    env = {"PATH": "/usr/bin:/bin", "DQREVIEW_PROGRESS_S": str(every_s), "PYTHONPATH": ":".join(sys.path)}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return log.read_text(), proc.stdout


def test_proxy_training_job_writes_progress_to_its_rule_log(tmp_path):
    """A real job through dqreview.runner.run: 400 training steps, progress at least every 0.05 s of work."""
    text, losses = _train_job(tmp_path, "train", 0.05)
    lines = re.findall(r"dqreview\.progress INFO (train: .*)", text)
    assert len(lines) >= 3, text
    pattern = r"train: (\d+)/400 \(\d+%\) [\d.e+]+ step/s, ETA \d+:\d\d:\d\d, loss=[\d.]+, tok_s=\d+"
    done = [int(re.match(pattern, line).group(1)) for line in lines]
    assert done == sorted(done) and done[-1] == 400
    assert re.search(r"; done in \d+:\d\d:\d\d$", lines[-1]), lines[-1]
    assert "\r" not in text  # no tqdm bar in the log (stderr is not a terminal)
    # progress reads the clock only: the same training with lines every step or none gives the same losses
    _, quiet_losses = _train_job(tmp_path, "quiet", 3600)
    assert losses == quiet_losses
