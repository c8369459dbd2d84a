"""Execute a notebook with the tslab-dl kernel through nbclient, as Jupyter would.

Usage: /usr/bin/python3 run_notebook.py IN.ipynb OUT.ipynb [--timeout S] [--allow-errors]

The caller puts the tslab-dl kernelspec on JUPYTER_PATH. The executed notebook is written to OUT
(also when a cell fails, so the error can be read); the exit code is 1 when a cell raised.
"""
import argparse
import os
import sys
import tempfile

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("notebook")
    parser.add_argument("output")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--allow-errors", action="store_true")
    parser.add_argument("--kernel", default="tslab-dl")
    args = parser.parse_args()

    nb = nbformat.read(args.notebook, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=args.kernel,
        timeout=args.timeout,
        allow_errors=args.allow_errors,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(args.notebook))}},
    )
    failed = None
    try:
        client.execute()
    except CellExecutionError as e:
        failed = e
    finally:
        write_atomically(nb, args.output)
    if failed is not None:
        print(str(failed), file=sys.stderr)
        return 1
    return 0


def write_atomically(nb, path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".ipynb.part")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
