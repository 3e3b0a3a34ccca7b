"""Build results/paper/main.pdf with latexmk from paper/ (main.tex, its sections and bibliography) and the
generated tables and figures."""

import logging
import shutil
import subprocess
from pathlib import Path

from dqreview.runner import run

log = logging.getLogger("dqreview.paper")


def main(smk):
    from dqreview.errors import DQError
    from dqreview.io import atomic_path

    latexmk = shutil.which("latexmk")
    if latexmk is None:
        raise DQError(
            "paper: latexmk not found. Install TeX (Debian/Ubuntu: sudo apt-get install latexmk "
            "texlive-latex-base texlive-latex-recommended) or set `paper: off` in the config"
        )
    build = (
        Path(smk.output.pdf).parent / "build"
    )  # results/paper/build: the paths in main.tex are relative to it
    build.mkdir(parents=True, exist_ok=True)
    paper_dir = next(Path(p).parent for p in smk.input.paper if Path(p).name == "main.tex")
    for source in smk.input.paper:  # keep paper/'s layout: main.tex inputs sections/<name> and cites refs.bib
        dest = build / Path(source).relative_to(paper_dir)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
    cmd = [latexmk, "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", "main.tex"]
    proc = subprocess.run(cmd, cwd=build, capture_output=True, text=True)  # argument list: no shell
    log.info("%s\n%s", " ".join(cmd), proc.stdout[-20000:])
    if proc.returncode != 0:
        errors = [line for line in proc.stdout.splitlines() if line.startswith(("!", "./main.tex:"))]
        raise DQError(
            f"paper: latexmk failed (exit {proc.returncode}); first errors: {errors[:5]}; "
            f"full output in {smk.log[0]} and {build / 'main.log'}"
        )
    with atomic_path(smk.output.pdf) as tmp:
        shutil.copyfile(build / "main.pdf", tmp)


run(main, snakemake)
