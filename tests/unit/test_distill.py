"""Distillation of the static encoder: refusals (the distillation itself is tested with the encoder in
test_embed.py, where one distilled MiniLM serves every test)."""

import pytest

from dqreview.errors import DQError


def test_distill_refuses_a_hub_id(tmp_path):
    from dqreview.distill import distill_static

    with pytest.raises(DQError, match=r"embed.static.from: 'org/model' is not a local model directory"):
        distill_static("org/model", tmp_path / "out")
