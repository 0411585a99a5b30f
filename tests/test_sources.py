"""The book's notebook sources: committed without outputs, with a papermill parameters cell that has a
profile and a device, and listed in the table of contents."""
import ast
from pathlib import Path

import nbformat
import pytest

from ci import runner

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=[p.relative_to(ROOT / "book").as_posix() for p in SOURCES])
def test_notebook_source(path):
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "commit notebooks without outputs"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell must be tagged 'parameters'"
    names = {t.id for node in ast.parse(params[0].source).body if isinstance(node, ast.Assign) for t in node.targets
             if isinstance(t, ast.Name)}
    assert {"profile", "device"} <= names
    for line in params[0].source.splitlines():
        assert line.count("=") <= 1, f"papermill cannot parse a parameters line with two '=': {line!r}"
    assert path in runner.toc_documents(ROOT), "every notebook must be reachable from _toc.yml"
