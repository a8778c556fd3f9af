"""Every notebook runs top to bottom (in memory; the committed file keeps its outputs)."""

import pathlib
import time

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    assert any(c.cell_type == "code" and c.outputs for c in nb.cells), \
        f"{path.name} is committed without outputs"
    start = time.perf_counter()
    nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    # The notebooks promise to run in under a minute; report the time for the note.
    print(f"{path.name}: {time.perf_counter() - start:.1f} s")
