"""Clear the outputs of notebooks before they are saved in git (tests/notebooks checks it).

    .venv/bin/python notebooks/clear_outputs.py notebooks/*.ipynb
"""

import sys

import nbformat


def clear(path: str) -> bool:
    """Drop every code cell's outputs and execution count; True when the file changed."""
    notebook = nbformat.read(path, as_version=4)
    changed = False
    for cell in notebook.cells:
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            cell.outputs = []
            cell.execution_count = None
            changed = True
    for key in ("widgets", "execution"):
        changed |= notebook.metadata.pop(key, None) is not None
    if changed:
        nbformat.write(notebook, path)
    return changed


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(("cleared  " if clear(name) else "clean    ") + name)
