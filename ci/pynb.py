"""Convert between notebooks and 'percent' scripts, for authoring notebooks in a text editor.

    python -m ci.pynb to-nb notebook.py notebook.ipynb     # script -> notebook without outputs
    python -m ci.pynb to-py notebook.ipynb notebook.py     # notebook -> script
    python -m ci.pynb strip book/**/*.ipynb                # drop outputs and execution counts in place

Script format: cells start with ``# %%`` (code) or ``# %% [markdown]`` (Markdown, every line prefixed by
``# ``); ``# %% tags=["parameters"]`` tags a code cell.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

_HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def script_to_notebook(text: str) -> nbformat.NotebookNode:
    """Return a notebook (no outputs) built from a percent script."""
    cells, cur, kind, tags = [], [], None, []

    def flush():
        if kind is None:
            return
        body = "\n".join(cur).strip("\n")
        if kind == "md":
            body = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(body))
        else:
            c = nbformat.v4.new_code_cell(body)
            if tags:
                c.metadata["tags"] = tags
            cells.append(c)

    for line in text.splitlines():
        m = _HEADER.match(line)
        if m:
            flush()
            kind = "md" if m.group("md") else "code"
            tags = json.loads(m.group("tags")) if m.group("tags") else []
            cur = []
        elif kind is not None:
            cur.append(line)
    flush()
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def notebook_to_script(nb) -> str:
    """Return the percent script of a notebook."""
    parts = []
    for c in nb.cells:
        if c.cell_type == "markdown":
            parts.append("# %% [markdown]\n" + "\n".join("# " + l if l else "#" for l in c.source.splitlines()))
        else:
            tags = c.metadata.get("tags", [])
            parts.append("# %%" + (f" tags={json.dumps(tags)}" if tags else "") + "\n" + c.source)
    return "\n\n".join(parts) + "\n"


def strip(nb):
    """Remove outputs and execution counts in place; return the notebook."""
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
        c.metadata.pop("execution", None)
        c.metadata.pop("papermill", None)
    nb.metadata.pop("papermill", None)
    return nb


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("to-nb", "to-py", "strip"):
        print(__doc__)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "to-nb":
        nb = script_to_notebook(Path(args[0]).read_text())
        nbformat.write(nb, args[1])
    elif cmd == "to-py":
        Path(args[1]).write_text(notebook_to_script(nbformat.read(args[0], as_version=4)))
    else:
        for p in args:
            nb = nbformat.read(p, as_version=4)
            nbformat.write(strip(nb), p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
