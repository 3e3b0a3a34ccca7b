"""Security: no pickle on data or models, no remote code, no shell, output paths stay in results/, pinned archives.

The code checks read the sources with :mod:`ast` (calls and their keywords), so a comment or a docstring
that mentions ``pickle`` does not count and a call split over several lines does.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import re
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from dqreview.corpus.sources import fetch_source
from dqreview.errors import DQError

CODE = sorted([*(REPO / "src").rglob("*.py"), *(REPO / "workflow/scripts").rglob("*.py"), REPO / "Snakefile"])
RULES = sorted((REPO / "rules").glob("*.smk"))


@functools.cache
def _nodes(path: Path) -> list[ast.AST]:
    return list(ast.walk(ast.parse(path.read_text(), filename=str(path))))


@functools.cache
def _calls(path: Path) -> list:
    """(dotted name, keywords, line) of every call in a Python file."""
    return [
        (ast.unparse(node.func), {k.arg: k.value for k in node.keywords if k.arg}, node.lineno)
        for node in _nodes(path)
        if isinstance(node, ast.Call)
    ]


def _python_sources():
    for path in CODE:
        if path.name == "Snakefile":
            continue  # Snakemake syntax: checked by text below
        yield path


def _is_const(node, value) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def test_code_list_is_not_empty():
    assert len(list(_python_sources())) > 50


def test_no_pickle_modules():
    banned = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
    found = []
    for path in _python_sources():
        for node in _nodes(path):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            found += [f"{path}:{node.lineno} imports {n}" for n in names if n in banned]
    for path in [*RULES, REPO / "Snakefile"]:  # Snakemake syntax: by text; rules read no data themselves
        found += [
            f"{path}: {m}" for m in re.findall(r"\bpickle\b|np\.load\(|torch\.load\(", path.read_text())
        ]
    for path, (name, _, line) in ((p, c) for p in _python_sources() for c in _calls(p)):
        if name.endswith(("read_pickle", "to_pickle")):
            found.append(f"{path}:{line} calls {name}")
    assert not found, found


def test_numpy_loads_refuse_pickle_and_torch_loads_take_weights_only():
    bad = []
    for path in _python_sources():
        for name, kw, line in _calls(path):
            if name in ("np.load", "numpy.load") and not _is_const(kw.get("allow_pickle"), False):
                bad.append(f"{path}:{line}: {name} without allow_pickle=False")
            if name == "torch.load" and not _is_const(kw.get("weights_only"), True):
                bad.append(f"{path}:{line}: torch.load without weights_only=True")
            if name in ("yaml.load", "yaml.load_all") and "Loader" not in kw:
                bad.append(f"{path}:{line}: {name} without a safe Loader")
            if name in ("eval", "exec"):
                bad.append(f"{path}:{line}: {name}")
    assert not bad, bad


def test_encoder_weights_are_safetensors():
    calls = [(n, kw) for n, kw, _ in _calls(REPO / "src/dqreview/embed.py") if n.endswith("from_pretrained")]
    model = [kw for n, kw in calls if n.startswith("AutoModel")]
    assert model and all(_is_const(kw.get("use_safetensors"), True) for kw in model)


def test_trust_remote_code_is_never_on():
    """Every trust_remote_code in the code is the literal False, and no config key can turn it on."""
    seen, bad = 0, []
    for path in _python_sources():
        for node in _nodes(path):
            values = []
            if isinstance(node, ast.Call):
                values = [k.value for k in node.keywords if k.arg == "trust_remote_code"]
            elif isinstance(node, ast.Dict):
                values = [v for k, v in zip(node.keys, node.values, strict=True)
                          if isinstance(k, ast.Constant) and k.value == "trust_remote_code"]  # fmt: skip
            seen += len(values)
            bad += [f"{path}:{node.lineno}" for v in values if not _is_const(v, False)]
    assert seen >= 3 and not bad, bad  # the encoder's tokenizer and model, the hf probe
    for text in (
        REPO / "workflow/schemas/config.schema.yaml",
        REPO / "config.yaml",
        *(REPO / "configs").glob("*.yaml"),
    ):
        assert "trust_remote_code" not in text.read_text(), text


def test_no_shell():
    """No rule runs a shell command, and no code starts one: subprocesses take argument lists."""
    for path in [*RULES, REPO / "Snakefile"]:
        text = path.read_text()
        assert not re.search(r"^\s*(shell|run):", text, re.M), f"{path}: shell:/run: directive"
        assert "os.system" not in text and "subprocess" not in text, path
    bad, runs = [], 0
    for path in _python_sources():
        for name, kw, line in _calls(path):
            if name in ("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"):
                bad.append(f"{path}:{line}: {name}")
            if name.startswith("subprocess."):
                runs += 1
                if "shell" in kw and not _is_const(kw["shell"], False):
                    bad.append(f"{path}:{line}: {name}(shell=...)")
    assert runs >= 2 and not bad, bad  # pip download, latexmk, git


# --- output paths stay in results/ --------------------------------------------------------------------


def _constraints() -> dict[str, str]:
    """The global wildcard constraints of rules/common.smk (a constant of dqreview.paths resolved) and the
    per-rule ones of plain string patterns."""
    from dqreview import paths

    text = (REPO / "rules/common.smk").read_text()
    block = text.split("wildcard_constraints:", 1)[1].split("\n\n", 1)[0]
    out = dict(re.findall(r'^\s+(\w+)=r?"([^"]*)"', block, re.M))
    out.update({k: getattr(paths, v) for k, v in re.findall(r"^\s+(\w+)=paths\.(\w+),", block, re.M)})
    return out


def _output_wildcards() -> set[str]:
    """Every wildcard of a results/ template or job key in dqreview.paths (the only home of such paths)."""
    from dqreview import paths

    templates = [v for v in vars(paths).values() if isinstance(v, str)]
    templates += [v for v in vars(paths.Job).values() if isinstance(v, str)]
    return {name for t in templates for name in re.findall(r"(?<!\{)\{(\w+)\}(?!\})", t)}


def test_every_output_wildcard_is_constrained():
    # ablation: the config's names, "^[a-z][a-z0-9_]*$"; name: the mixture figures, constrained in their rule
    constrained = {*_constraints(), "ablation", "name"}
    used = _output_wildcards()
    assert {"metric", "variant", "shard", "seed", "budget", "source", "part"} <= used
    assert used <= constrained, used - constrained


@pytest.mark.parametrize("name", sorted(_constraints()))
def test_wildcards_reject_path_traversal(name):
    pattern = _constraints()[name]
    for evil in ("..", "../x", "x/../y", "/etc", ".hidden", "a/b", "x\n"):
        if name == "part" and evil == "a/b":
            continue
        assert not re.fullmatch(pattern, evil), (name, evil)


def test_config_names_that_become_paths_are_constrained():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    name = schema["$defs"]["name"]["pattern"]
    ablation = schema["properties"]["review"]["properties"]["ablations"]["propertyNames"]["pattern"]
    slug = re.search(
        r'slug: \{type: string, pattern: "([^"]+)"\}',
        (REPO / "workflow/schemas/config.schema.yaml").read_text(),
    )
    for pattern in (name, ablation, slug.group(1)):
        for evil in ("..", "../x", "a/b", "/etc", ".x"):
            assert not re.search(pattern, evil), (pattern, evil)


# --- pinned archives ----------------------------------------------------------------------------------


def _spec_with_cached_wheel(cache: Path) -> tuple[dict, Path]:
    pypi = cache / "pypi"
    pypi.mkdir(parents=True)
    wheel = pypi / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("demo/data/a.txt", "A licence text.")
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    spec = {"name": "demo", "kind": "pypi", "package": "demo", "version": "1.0", "sha256": sha,
            "members": ["demo/data/*.txt"], "format": "text"}  # fmt: skip
    return spec, wheel


def test_pinned_sha256_is_pinned_for_every_pypi_source():
    for cfg in (REPO / "config.yaml", REPO / "configs/paper.yaml", REPO / "configs/tiny.yaml"):
        for source in yaml.safe_load(cfg.read_text()).get("sources", []):
            if source["kind"] == "pypi":
                assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"]), (cfg, source["name"])


def test_every_hub_dataset_and_model_of_a_shipped_config_states_its_revision():
    """Hub data and models are not silently the moving default branch: a shipped config says which
    revision it means (configs/paper.yaml says main and asks for a commit before a published run)."""
    for cfg_path in (REPO / "config.yaml", REPO / "configs/paper.yaml", REPO / "configs/tiny.yaml"):
        cfg = yaml.safe_load(cfg_path.read_text())
        for source in cfg.get("sources", []):
            if source["kind"] == "hf" and not Path(source["path"]).exists():
                assert source.get("revision"), (cfg_path, source["name"])
        model = (cfg.get("embed") or {}).get("model")
        if model and "/" in model and not (REPO / model).exists():  # a hub id, not the packaged encoder
            assert cfg["embed"].get("revision"), (cfg_path, "embed.model")
        probe = (cfg.get("task2vec") or {}).get("probe") or {}
        if probe.get("kind") == "hf" and not Path(probe["hf_model"]).exists():
            assert probe.get("revision"), (cfg_path, "task2vec.probe.hf_model")


def test_cached_archive_is_used_only_with_the_pinned_sha256(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # offline: only the cache can serve it
    spec, wheel = _spec_with_cached_wheel(tmp_path / "cache")
    docs, stats = fetch_source(spec, tmp_path / "cache")
    assert docs["text"].tolist() == ["A licence text."]
    with pytest.raises(DQError) as info:  # the same file under another pin
        fetch_source({**spec, "sha256": "0" * 64}, tmp_path / "cache")
    msg = str(info.value)
    assert "source 'demo' (kind pypi) cannot be fetched" in msg
    assert f"{wheel}: sha256 mismatch: expected {'0' * 64}, got {spec['sha256']}" in msg


def test_cached_archive_with_wrong_sha256_is_refused(tmp_path, monkeypatch):
    """A corrupted copy in the archive cache is never read; the error names it and both hashes."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    spec, wheel = _spec_with_cached_wheel(tmp_path / "cache")
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF
    wheel.write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(DQError) as info:
        fetch_source(spec, tmp_path / "cache")
    msg = str(info.value)
    assert f"{wheel}: sha256 mismatch: expected {spec['sha256']}, got {actual}" in msg
    assert "delete it" in msg and "source 'demo'" in msg
