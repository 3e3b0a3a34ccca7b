"""DSIR speed: ours (fast, compat) vs the `data-selection` 1.0.3 package (fit + importance weights).

Documents: docstrings (> 200 characters) of the Python standard library's Lib/**/*.py, in file order,
up to --mb megabytes; target = those from files whose path contains email/http/urllib/smtp/imap.
Each implementation fits γ (target) and β (all documents) and computes every document's log weight,
single process (package: num_proc=1, num_tokens_to_fit='all'). Ours starts with a cold cache.
Also checks that all three give the same log weights.

    .venv/bin/python benchmarks/dsir_vs_package.py --mb 6
"""

from __future__ import annotations

import argparse
import ast
import glob
import json
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def load(mb: float) -> tuple[list[str], list[str]]:
    texts, target, size = [], [], 0
    for f in sorted(glob.glob(sysconfig.get_paths()["stdlib"] + "/**/*.py", recursive=True)):
        try:
            tree = ast.parse(Path(f).read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                d = ast.get_docstring(node)
                if d and len(d) > 200:
                    texts.append(d)
                    size += len(d.encode())
                    if any(k in f for k in ("email", "http", "urllib", "smtp", "imap")):
                        target.append(d)
        if size > mb * 1e6:
            break
    return texts, target


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=6.0)
    a = ap.parse_args()
    texts, target = load(a.mb)
    mb = sum(len(t.encode()) for t in texts + target) / 1e6
    print(f"documents: pool {len(texts)}, target {len(target)}, {mb:.2f} MB of text (pool + target)")
    from dqreview.metrics import dsir

    res = {}
    docs = pd.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    for feat in ("fast", "compat"):
        dsir._CACHES.clear()
        t = time.perf_counter()
        st = dsir.fit({"target_texts": target, "pool_texts": texts}, {"featurizer": feat})
        w = dsir.score(docs, None, st, {"featurizer": feat})["score"].to_numpy()
        res[feat] = (time.perf_counter() - t, w)

    from data_selection import HashedNgramDSIR

    with tempfile.TemporaryDirectory() as d:
        for name, tt in (("raw", texts), ("tgt", target)):
            with open(f"{d}/{name}.jsonl", "w") as fh:
                for x in tt:
                    fh.write(json.dumps({"text": x}) + "\n")
        t = time.perf_counter()
        ref = HashedNgramDSIR([f"{d}/raw.jsonl"], [f"{d}/tgt.jsonl"], cache_dir=f"{d}/cache", num_proc=1)
        ref.fit_importance_estimator(num_tokens_to_fit="all")
        ref.compute_importance_weights()
        res["package"] = (time.perf_counter() - t, np.load(f"{d}/cache/log_importance_weights/0.npy"))

    base = res["package"][0]
    print(f"{'impl':<9}{'seconds':>9}{'MB/s':>8}{'docs/s':>10}{'speed-up':>10}{'max|Δlog w|':>14}")
    for k, (s, w) in res.items():
        diff = np.max(np.abs(w - res["package"][1]))
        print(f"{k:<9}{s:>9.2f}{mb / s:>8.2f}{len(texts) / s:>10.0f}{base / s:>9.1f}x{diff:>14.2e}")


if __name__ == "__main__":
    main()
