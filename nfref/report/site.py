"""The course website: ``python -m nfref site [--out DIR]`` (or ``sphinx-build docs DIR``).

Sphinx with MyST-NB and the book theme builds, from ``docs/``:

- every ``notebooks/*.ipynb``, rendered from its committed outputs (never re-executed);
- the derivation report as a page: every claim, where in the notes, what it measures, the
  measured value and the bound (:func:`nfref.report.claims.run_claims`, Markdown, run at
  build time, so the page shows this checkout's numbers);
- the API reference from the docstrings (autosummary of the public modules);
- a gallery of the committed ``figures/*.png``;
- a reading order with prerequisites and the time each notebook takes;
- the pages of ``docs/`` (the contract, the test vectors, the companion notes, ...).

:func:`prepare`, called by ``docs/conf.py``, writes what is generated into
``docs/_generated/`` (git-ignored): copies of the notebooks and figures, the report, the
gallery, the reading order and MathJax. MathJax is served from the site itself so that the
maths renders offline: the npm package ``mathjax`` (version :data:`MATHJAX_VERSION`) is
fetched once with ``npm pack`` (or, without npm, the same tarball from the npm registry, checked
against its published sha512 :data:`MATHJAX_INTEGRITY`) into a cache folder, and the parts
a page loads (the TeX-to-CommonHTML bundle, its TeX extensions, fonts and menu) are copied
into the site's static folder. It is not vendored in the repository: the parts are 4.5 MB.
"""

import base64
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from datetime import datetime
from pathlib import Path

__all__ = ["build", "prepare", "mathjax", "notebook_times", "MATHJAX_VERSION", "ROOT", "DOCS"]

#: The repository's root folder and its ``docs/`` folder (the Sphinx source).
ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

#: The MathJax release served by the site, and the npm registry's integrity hash of its tarball.
MATHJAX_VERSION = "3.2.2"
MATHJAX_INTEGRITY = ("sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZG"
                     "JvtRZM1vO+geW0OhGw==")
_MATHJAX_TARBALL = f"https://registry.npmjs.org/mathjax/-/mathjax-{MATHJAX_VERSION}.tgz"
# the parts of the package's es5/ folder a page loads (tex-chtml.js loads the rest on demand)
_MATHJAX_PARTS = ("tex-chtml.js", "input/tex/extensions", "output/chtml", "ui", "a11y")

#: Reading order: for each notebook (by its number), the sections of the companion notes it
#: follows, the notebooks to read first and what a reader should already know.
READING = {
    "01": ("000 sec. 1", (), "the 1-D inverse CDF; conditional densities of a Gaussian"),
    "02": ("000 sec. 2", ("01",), "the change of variables; determinants; the matrix "
                                  "determinant lemma"),
    "03": ("000 sec. 3", ("02",), "the chain rule; vector-Jacobian products"),
    "04": ("000 sec. 4; 002", ("03",), "triangular matrices; masked networks (MADE)"),
    "05": ("000 sec. 4.1", ("04",), "monotone functions; quadrature; splines"),
    "06": ("001, 002, 003", ("02", "03"), "KL divergences; maximum likelihood; the ELBO"),
    "07": ("000, all sections", ("02",), "the contract (docs/contract.md); your own flow in "
                                         "another framework"),
    "08": ("001, 002", ("03", "06"), "reverse KL; variational inference"),
}

_WORDS_PER_MINUTE = 120     # prose with equations reads slower than plain prose


def _cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nfref"


def _fetch_mathjax_tarball(folder):
    """The npm tarball of MathJax in ``folder``: ``npm pack`` when npm is there, else the
    registry's tarball, checked against :data:`MATHJAX_INTEGRITY`."""
    folder.mkdir(parents=True, exist_ok=True)
    tarball = folder / f"mathjax-{MATHJAX_VERSION}.tgz"
    if tarball.exists():
        return tarball
    npm = shutil.which("npm")
    if npm:
        subprocess.run([npm, "pack", f"mathjax@{MATHJAX_VERSION}", "--silent"], cwd=folder,
                       check=True, stdout=subprocess.DEVNULL, timeout=300)
    else:
        from urllib.request import urlopen
        with urlopen(_MATHJAX_TARBALL, timeout=120) as response:
            data = response.read()
        tarball.with_suffix(".part").write_bytes(data)
        tarball.with_suffix(".part").rename(tarball)
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != MATHJAX_INTEGRITY:
        tarball.unlink()
        raise RuntimeError(f"mathjax-{MATHJAX_VERSION}.tgz: integrity {digest}, expected "
                           f"{MATHJAX_INTEGRITY}")
    return tarball


def mathjax(dest, cache=None):
    """Copy the MathJax parts a page needs into ``dest`` (``dest/tex-chtml.js`` and the rest).

    The package is fetched once into ``cache`` (default ``~/.cache/nfref``, or
    ``$XDG_CACHE_HOME/nfref``) and unpacked there; later builds work offline."""
    cache = Path(cache) if cache else _cache_dir()
    es5 = cache / f"mathjax-{MATHJAX_VERSION}" / "package" / "es5"
    if not (es5 / "tex-chtml.js").exists():
        tarball = _fetch_mathjax_tarball(cache)
        with tarfile.open(tarball) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/es5/")
                       and (m.isfile() or m.isdir())]
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(cache / f"mathjax-{MATHJAX_VERSION}", members=members, **safe)
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    for part in _MATHJAX_PARTS:
        src = es5 / part
        if src.is_dir():
            shutil.copytree(src, dest / part)
        else:
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / part)
    return dest / "tex-chtml.js"


def notebook_times(path):
    """``(words, code_cells, run_seconds)`` of a notebook: the words of its Markdown cells, its
    code cells, and the seconds its code took when its committed outputs were made (the cells'
    recorded execution times; ``None`` when they were not recorded)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    words, code, seconds, recorded = 0, 0, 0.0, False
    for cell in nb["cells"]:
        source = "".join(cell.get("source", ""))
        if cell["cell_type"] == "markdown":
            words += len(source.split())
        elif cell["cell_type"] == "code":
            code += 1
            ex = cell.get("metadata", {}).get("execution", {})
            if "iopub.execute_input" in ex and "shell.execute_reply" in ex:
                start, end = (datetime.fromisoformat(ex[k].replace("Z", "+00:00"))
                              for k in ("iopub.execute_input", "shell.execute_reply"))
                seconds += (end - start).total_seconds()
                recorded = True
    return words, code, (seconds if recorded else None)


def _title(path):
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return Path(path).stem


def _reading_table(notebooks):
    rows = ["| notebook | notes | read first | you should know | reading | running |",
            "| --- | --- | --- | --- | ---: | ---: |"]
    for nb in notebooks:
        number = nb.name[:2]
        notes, before, know = READING.get(number, ("see the notebook", (), "see its first cell"))
        words, code, seconds = notebook_times(nb)
        minutes = math.ceil(words / _WORDS_PER_MINUTE + code)
        first = ", ".join(before) or "nothing"
        run = "not recorded" if seconds is None else f"{seconds:.0f} s"
        title = _title(nb).replace("|", "\\|").replace("`", "").replace("<", "")
        rows.append(f"| {{doc}}`{title} </_generated/notebooks/{nb.stem}>` | "
                    f"{notes} | {first} | {know} | about {minutes} min | {run} |")
    return "\n".join(rows) + "\n"


def _gallery(figures):
    from nfref.report.claims import all_figures
    funcs = all_figures()
    out = []
    for png in figures:
        doc = (funcs[png.stem].__doc__ or "") if png.stem in funcs else ""
        caption = " ".join(doc.strip().split("\n\n")[0].split()) or png.stem
        section = png.stem.split("_", 1)[0]
        out += [f"## {png.stem}", "",
                f"```{{figure}} /_generated/figures/{png.name}", f":alt: {png.stem}",
                ":width: 100%", "",
                f"{caption} (`python -m nfref figures -k {png.stem}`; notebook "
                f"{section[1:]})", "```", ""]
    return "\n".join(out)


_REMOTE_STYLESHEET = re.compile(r"<link[^>]*href=[\"']https?://[^>]*>", re.DOTALL)


def _copy_offline(src, dst):
    """Copy a notebook, dropping stylesheet links to remote hosts from its HTML outputs.

    Matplotlib's ``to_jshtml`` animations link an icon font from a CDN; the site is served
    offline, so the link goes (the animation's buttons keep working, without their icons).
    """
    import nbformat

    nb = nbformat.read(src, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html")
            if html is not None:
                text = html if isinstance(html, str) else "".join(html)
                out["data"]["text/html"] = _REMOTE_STYLESHEET.sub("", text)
    nbformat.write(nb, dst)


def prepare(srcdir=DOCS, root=ROOT, stream=None):
    """Write the generated pages and files into ``srcdir/_generated`` (called by ``conf.py``)."""
    from nfref.report.claims import run_claims

    stream = stream or sys.stdout
    srcdir, root = Path(srcdir), Path(root)
    gen = srcdir / "_generated"
    for sub in ("notebooks", "figures"):
        if (gen / sub).exists():
            shutil.rmtree(gen / sub)
        (gen / sub).mkdir(parents=True)
    notebooks = sorted((root / "notebooks").glob("*.ipynb"))
    for nb in notebooks:
        _copy_offline(nb, gen / "notebooks" / nb.name)
    figures = sorted((root / "figures").glob("*.png"))
    for png in figures:
        shutil.copy2(png, gen / "figures" / png.name)
    (gen / "reading.md").write_text(_reading_table(notebooks), encoding="utf-8")
    (gen / "gallery.md").write_text(_gallery(figures), encoding="utf-8")
    start = time.perf_counter()
    print("site: running the derivation report (about a minute)", file=stream, flush=True)
    text = io.StringIO()
    results = run_claims(stream=text, markdown=True)
    (gen / "report.md").write_text(text.getvalue(), encoding="utf-8")
    n_fail = sum(not r.passed for r in results)
    print(f"site: report, {len(results)} claims ({n_fail} failed) in "
          f"{time.perf_counter() - start:.0f} s", file=stream, flush=True)
    mathjax(gen / "static" / "mathjax")
    return gen


def build(out=None, stream=None):
    """Build the website into ``out`` (default ``docs/_build/html``); returns an exit status.

    Runs ``python -m sphinx -b html -E docs OUT`` in a subprocess and prints the time it took
    and the path of ``index.html``. Sphinx's warnings also go to ``OUT.warnings.txt`` beside
    the output folder (empty when there are none)."""
    stream = stream or sys.stdout
    out = Path(out) if out else DOCS / "_build" / "html"
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-E", "-q",
           "-d", str(out.parent / (out.name + ".doctrees")),
           "-w", str(out.parent / (out.name + ".warnings.txt")), str(DOCS), str(out)]
    print("site: " + " ".join(cmd[1:]), file=stream, flush=True)
    status = subprocess.run(cmd, cwd=ROOT).returncode
    if status == 0:
        print(f"site: built {out / 'index.html'} in {time.perf_counter() - start:.0f} s",
              file=stream, flush=True)
    else:
        print(f"site: sphinx failed with status {status}", file=stream, flush=True)
    return status
