"""Every notebook runs top to bottom (in memory; the committed file keeps its outputs).

The notebooks are run in the set-ups a student meets:

* from ``notebooks/`` with a kernel in which nfref is *not* installed (the interpreter runs with
  ``-S``, so the editable install's ``.pth`` finder never loads; the site-packages folder is put
  back on ``PYTHONPATH`` for NumPy, SciPy, matplotlib and ipykernel): the first cell must find
  the repository among the parent folders. Every notebook runs this way.
* copied alone into an empty folder, with the same kernel and ``NFREF_ROOT`` naming the clone.
  Every notebook's set-up cell runs this way; the whole notebook for the quick ones (below).
* copied alone, with nothing to find: the first cell stops with one line saying what to run.

A probe cell inserted before the set-up cell asserts that nfref is really hidden
(``importlib.util.find_spec("nfref") is None``), and one after it that nfref came from this clone.
"""

import json
import pathlib
import re
import shutil
import site
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))
# Copied alone and run to the end: the notebooks that read or write files around them (07 finds
# its conformance vectors and runs the checker from the clone) and one plain one (01). The
# others only import, compute and draw; running them a second time would add minutes.
FULL_COPY_RUN = {"01_multivariate_inverse_cdf", "07_testing_your_implementation"}

PROBE_HIDDEN = ("import importlib.util\n"
                "print('nfref spec before set-up:', importlib.util.find_spec('nfref'))")
PROBE_FOUND = "print('nfref file after set-up:', nfref.__file__)"


@pytest.fixture(scope="module")
def hidden_kernel(tmp_path_factory):
    """A kernel spec whose interpreter cannot see the installed nfref (``python -S``)."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    folder = tmp_path_factory.mktemp("kernels") / "nfref-hidden"
    folder.mkdir()
    spec = {"argv": [sys.executable, "-S", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 without nfref", "language": "python",
            "env": {"PYTHONPATH": ":".join(site.getsitepackages()), "PYTHONNOUSERSITE": "1",
                    "NFREF_ROOT": ""}}
    (folder / "kernel.json").write_text(json.dumps(spec))
    return folder.parent


def _execute(nb, cwd, kernels, nfref_root=""):
    """Execute ``nb`` in memory in folder ``cwd`` with the hidden kernel and ``NFREF_ROOT``."""
    import nbclient
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_file = kernels / "nfref-hidden" / "kernel.json"
    spec = json.loads(spec_file.read_text())
    spec["env"]["NFREF_ROOT"] = nfref_root
    spec_file.write_text(json.dumps(spec))
    km = KernelManager(kernel_name="nfref-hidden",
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    nbclient.NotebookClient(nb, km=km, timeout=300, kernel_name="nfref-hidden",
                            resources={"metadata": {"path": str(cwd)}}).execute()


def _run(path, cwd, kernels, nfref_root="", only_setup=False):
    """Run the notebook at ``path`` (probes added, outputs kept in memory) and return it."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    if only_setup:
        nb.cells, first = nb.cells[first:first + 1], 0
    nb.cells.insert(first + 1, nbformat.v4.new_code_cell(PROBE_FOUND))
    nb.cells.insert(first, nbformat.v4.new_code_cell(PROBE_HIDDEN))
    _execute(nb, cwd, kernels, nfref_root)
    _assert_probes(nb, first)
    return nb


def _text(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def _assert_probes(nb, first):
    before, after = nb.cells[first], nb.cells[first + 2]
    assert _text(before).strip() == "nfref spec before set-up: None", _text(before)
    found = _text(after).split(":", 1)[-1].strip()
    assert pathlib.Path(found).resolve() == ROOT / "nfref" / "__init__.py", _text(after)


def test_every_notebook_starts_with_the_same_setup_cell():
    nbformat = pytest.importorskip("nbformat")
    firsts = {}
    for path in NOTEBOOKS + SOLUTIONS:
        nb = nbformat.read(path, as_version=4)
        firsts[path.name] = next(c.source for c in nb.cells if c.cell_type == "code")
    reference = firsts[NOTEBOOKS[0].name]
    assert "NFREF_ROOT" in reference and "pip install -r requirements.txt" in reference
    assert {name for name, src in firsts.items() if src != reference} == set()


def test_every_markdown_table_renders_as_a_table_in_the_html_conversion():
    """nbconvert's Markdown renderer turns every pipe table into an HTML table and leaves no
    line of raw ``| ... |`` text (a ``|`` inside the maths of a cell would split it)."""
    nbformat = pytest.importorskip("nbformat")
    md = pytest.importorskip("nbconvert.filters.markdown_mistune")
    header = re.compile(r"^\|.*\|[ \t]*\n\|[ \t]*:?-{3,}", re.M)
    counted, problems = 0, []
    for path in NOTEBOOKS + SOLUTIONS:
        for k, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type != "markdown" or not header.search(cell.source):
                continue
            tables = len(header.findall(cell.source))
            html = md.markdown2html_mistune(cell.source)
            raw = [line for line in re.sub(r"<[^>]+>", "", html).splitlines()
                   if line.strip().startswith("|")]
            counted += tables
            if html.count("<table") != tables or raw:
                problems.append((path.name, k, tables, html.count("<table"), raw[:2]))
    assert counted >= 4, counted            # the slips tables of notebooks 02, 03, 04 and 06
    assert not problems, problems


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS,
                         ids=[p.stem for p in NOTEBOOKS + SOLUTIONS])
def test_notebook_runs_without_installed_nfref(path, hidden_kernel):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    assert any(c.cell_type == "code" and c.outputs for c in nb.cells), \
        f"{path.name} is committed without outputs"
    start = time.perf_counter()
    nb = _run(path, path.parent, hidden_kernel)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    # The notebooks promise to run in under a minute; report the time for the note.
    print(f"{path.name}: {time.perf_counter() - start:.1f} s")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_copied_alone(path, hidden_kernel, tmp_path):
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    nb = _run(copy, tmp_path, hidden_kernel, nfref_root=str(ROOT),
              only_setup=path.stem not in FULL_COPY_RUN)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]   # nothing left behind


def test_setup_cell_says_what_to_run_when_nfref_is_nowhere(hidden_kernel, tmp_path):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    nb.cells = [nbformat.v4.new_code_cell(PROBE_HIDDEN),
                next(c for c in nb.cells if c.cell_type == "code"),
                nbformat.v4.new_code_cell("print('ran past the set-up cell')")]
    with pytest.raises(nbclient.exceptions.CellExecutionError):
        _execute(nb, tmp_path, hidden_kernel)            # empty folder, no NFREF_ROOT
    assert _text(nb.cells[0]).strip() == "nfref spec before set-up: None"
    (error,) = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    assert len(error.traceback) == 1, error.traceback
    line = error.traceback[0]
    assert line.startswith("nfref not found: run `pip install -r requirements.txt`"), line
    assert "pip install -e ." in line and "NFREF_ROOT" in line
    assert nb.cells[2].outputs == []                     # execution stopped at the set-up cell
