"""Notebooks executed through the real tslab-dl kernel by nbclient, outputs checked.

- notebooks/00-smoke.ipynb: imports tslab-dl, shows a tensor, HTML, a model
  summary, imports a .ts file above the notebook's folder and an ESM-only
  package, fails with a type error, a throw and a syntax error, and has two
  cells that never finish (a promise, a synchronous loop) which nbclient
  interrupts (the kernelspec's interrupt_mode is 'signal': SIGINT).
- the same interrupt through an interrupt_request message (interrupt_mode
  'message', on a copy of the kernelspec).
- a scratch project outside this checkout, with its notebook two folders
  down: imports tslab-dl by name and a .ts file from the project root.

Run by test/kernel.test.ts with JUPYTER_PATH pointing at the installed kernelspec:

    JUPYTER_PATH=<prefix>/share/jupyter /usr/bin/python3 test/python/kernel_notebook.py
"""

import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SMOKE = os.path.join(REPO, "notebooks", "00-smoke.ipynb")
KERNEL_NAME = "tslab-dl"
# Cells tagged "interrupt" are interrupted after this many seconds.
INTERRUPT_AFTER_S = 4
CELL_TIMEOUT_S = 300


def execute(nb, cwd, kernel_name=KERNEL_NAME):
    client = NotebookClient(
        nb,
        kernel_name=kernel_name,
        resources={"metadata": {"path": cwd}},
        timeout_func=lambda cell: INTERRUPT_AFTER_S if "interrupt" in cell.metadata.get("tags", []) else CELL_TIMEOUT_S,
        interrupt_on_timeout=True,
    )
    started = time.monotonic()
    client.execute()
    print(f"{kernel_name}: executed {len(nb.cells)} cells in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return nb


def cell_starting(nb, prefix):
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(prefix):
            return cell
    raise AssertionError(f"no code cell starts with {prefix!r}")


def result_text(cell):
    results = [o for o in cell.outputs if o.output_type == "execute_result"]
    assert len(results) == 1, f"expected one execute_result in {cell.source!r}, got {cell.outputs}"
    return results[0].data["text/plain"]


def stream_text(cell):
    return "".join(o.text for o in cell.outputs if o.output_type == "stream")


def the_error(cell):
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert len(errors) == 1, f"expected one error output in {cell.source!r}, got {cell.outputs}"
    return errors[0]


def plain_notebook(*sources, interrupt=()):
    cells = []
    for i, source in enumerate(sources):
        cell = new_code_cell(source)
        if i in interrupt:
            cell.metadata["tags"] = ["raises-exception", "interrupt"]
        cells.append(cell)
    kernelspec = {"name": KERNEL_NAME, "display_name": "TypeScript (tslab-dl)", "language": "typescript"}
    return new_notebook(cells=cells, metadata={"kernelspec": kernelspec})


class SmokeNotebookTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nb = execute(nbformat.read(SMOKE, as_version=4), cwd=os.path.dirname(SMOKE))

    def test_first_cell_names_the_backend_chosen_at_start_up(self):
        cell = cell_starting(self.nb, "import { tf, backendInfo")
        line = stream_text(cell)
        match = re.match(r"tslab-dl: TensorFlow\.js 4\.22\.0 on ([^\s;]+)", line)
        self.assertIsNotNone(match, line)
        self.assertEqual(result_text(cell), repr(match.group(1)))

    def test_no_output_shows_the_tfjs_node_banner(self):
        for cell in self.nb.cells:
            for output in cell.get("outputs", []):
                self.assertNotIn("looks like you are running TensorFlow.js in Node.js", json.dumps(output))

    def test_a_tensor_shows_values_shape_and_dtype(self):
        cell = cell_starting(self.nb, "tf.tensor([[1, 2, 3]")
        text = result_text(cell)
        self.assertIn("dtype: float32", text)
        self.assertIn("rank: 2", text)
        self.assertIn("shape: [2,3]", text)
        self.assertIn("[[1, 2, 3],\n     [4, 5, 6]]", text)
        html = [o for o in cell.outputs if o.output_type == "execute_result"][0].data["text/html"]
        self.assertEqual(re.findall(r"<td>([^<]*)</td>", html), ["1", "2", "3", "4", "5", "6"])

    def test_display_sends_html(self):
        cell = cell_starting(self.nb, "display({")
        displays = [o for o in cell.outputs if o.output_type == "display_data"]
        self.assertEqual(len(displays), 1)
        self.assertEqual(displays[0].data["text/html"], "<b>tslab-dl</b> shows <i>HTML</i>")
        self.assertEqual(displays[0].data["text/plain"], "tslab-dl shows HTML")

    def test_a_model_shows_its_summary_with_parameter_counts(self):
        cell = cell_starting(self.nb, "const model = tf.sequential")
        result = [o for o in cell.outputs if o.output_type == "execute_result"][0]
        text, html = result.data["text/plain"], result.data["text/html"]
        # Counted by hand in the notebook's markdown: 16 + (8 + 8) + 10.
        for line in ("Total params: 42", "Trainable params: 34", "Non-trainable params: 8"):
            self.assertIn(line, text)
            self.assertIn(line, html)
        self.assertIn("batch_normalization", text)

    def test_a_ts_file_above_the_notebook_folder_imports(self):
        self.assertEqual(result_text(cell_starting(self.nb, "import { ValueError }")), "'ValueError'")

    def test_an_esm_only_package_imports_statically_and_dynamically(self):
        self.assertEqual(result_text(cell_starting(self.nb, "import h5wasm")), "'function'")
        self.assertEqual(result_text(cell_starting(self.nb, "const h5 = await import")), "true")

    def test_console_and_process_type_check(self):
        self.assertEqual(stream_text(cell_starting(self.nb, "console.log('PATH")), "PATH is a string\n")

    def test_a_type_error_is_an_error_output_with_the_diagnostic(self):
        error = the_error(cell_starting(self.nb, "const count: number"))
        self.assertEqual(error.ename, "TypeScriptError")
        self.assertIn("Type 'string' is not assignable to type 'number'. (TS2322)", error.evalue)
        self.assertIn("line 1, column 7", error.traceback[0])

    def test_a_throwing_cell_then_a_working_one(self):
        error = the_error(cell_starting(self.nb, "throw new Error"))
        self.assertEqual((error.ename, error.evalue), ("Error", "this cell throws"))
        self.assertEqual(result_text(cell_starting(self.nb, "'alive after an error'")), "'alive after an error'")

    def test_a_syntax_error_then_a_working_cell(self):
        error = the_error(cell_starting(self.nb, "let 1x = 2"))
        self.assertEqual(error.ename, "SyntaxError")
        self.assertIn("An identifier or keyword cannot immediately follow a numeric literal", "\n".join(error.traceback))
        self.assertEqual(result_text(cell_starting(self.nb, "'alive after a syntax error'")), "'alive after a syntax error'")

    def test_a_promise_that_never_resolves_is_interrupted(self):
        self.assertEqual(the_error(cell_starting(self.nb, "await new Promise(() => {})")).ename, "InterruptedError")
        self.assertIn("alive", result_text(cell_starting(self.nb, "'alive after interrupting a promise")))

    def test_a_synchronous_loop_is_interrupted(self):
        self.assertEqual(the_error(cell_starting(self.nb, "while (true) {}")).ename, "InterruptedError")
        self.assertIn("alive", result_text(cell_starting(self.nb, "'alive after interrupting a synchronous loop")))


class MessageInterruptTests(unittest.TestCase):
    """interrupt_mode 'message': Jupyter sends interrupt_request on the control channel instead of SIGINT."""

    def test_a_promise_that_never_resolves_is_interrupted_by_message(self):
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        kernels = tempfile.mkdtemp(prefix="tslab-dl-message-")
        try:
            target = os.path.join(kernels, "kernels", "tslab-dl-message")
            shutil.copytree(spec.resource_dir, target)
            with open(os.path.join(target, "kernel.json")) as f:
                kernel_json = json.load(f)
            kernel_json["interrupt_mode"] = "message"
            with open(os.path.join(target, "kernel.json"), "w") as f:
                json.dump(kernel_json, f)
            os.environ["JUPYTER_PATH"] = os.pathsep.join([kernels, os.environ.get("JUPYTER_PATH", "")])
            nb = plain_notebook("let n = 41;", "await new Promise(() => {});", "n + 1", interrupt={1})
            execute(nb, cwd=os.path.join(REPO, "notebooks"), kernel_name="tslab-dl-message")
            self.assertEqual(the_error(nb.cells[1]).ename, "InterruptedError")
            self.assertEqual(result_text(nb.cells[2]), "42")
        finally:
            shutil.rmtree(kernels, ignore_errors=True)


class ProjectImportTests(unittest.TestCase):
    """A project outside this checkout, its notebook in notebooks/sub/ (tslab's rootDir problem)."""

    @classmethod
    def setUpClass(cls):
        cls.project = tempfile.mkdtemp(prefix="tslab-dl-project-")
        write = lambda rel, text: cls._write(os.path.join(cls.project, rel), text)
        write("package.json", json.dumps({"name": "scratch-project", "private": True}))
        os.makedirs(os.path.join(cls.project, "node_modules"))
        os.symlink(REPO, os.path.join(cls.project, "node_modules", "tslab-dl"))
        write("common/geometry.ts", "export function area(width: number, height: number): number {\n  return width * height;\n}\n")
        write("notebooks/sub/local.ts", "export const where: string = 'next to the notebook';\n")
        cls.notebook_dir = os.path.join(cls.project, "notebooks", "sub")
        cls.nb = plain_notebook(
            "import { area } from '../../common/geometry';\narea(3, 4)",
            "import { where } from './local';\nwhere",
            "import { tf } from 'tslab-dl';\ntf.tensor([1, 2, 3]).sum()",
            "__dirname === process.cwd() ? process.cwd() : `__dirname ${__dirname} differs`",
            "import { nothing } from './missing';",
            # This project has no @types/node of its own: Node's globals must still type-check.
            "console.log(typeof process.env, typeof Buffer.from);",
        )
        cls.nb.cells[4].metadata["tags"] = ["raises-exception"]
        execute(cls.nb, cwd=cls.notebook_dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.project, ignore_errors=True)

    @staticmethod
    def _write(path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def test_a_ts_file_two_folders_up_imports(self):
        self.assertEqual(result_text(self.nb.cells[0]), "12")

    def test_a_ts_file_next_to_the_notebook_imports(self):
        self.assertEqual(result_text(self.nb.cells[1]), "'next to the notebook'")

    def test_tslab_dl_imports_by_package_name(self):
        self.assertIn("values:\n    6", result_text(self.nb.cells[2]))

    def test_cells_run_in_the_notebook_folder(self):
        folder = os.path.realpath(self.notebook_dir)
        self.assertEqual(result_text(self.nb.cells[3]), repr(folder))

    def test_node_globals_type_check_without_types_node_in_the_project(self):
        self.assertEqual(stream_text(self.nb.cells[5]), "object function\n")

    def test_a_missing_module_is_named_as_written(self):
        error = the_error(self.nb.cells[4])
        self.assertIn("Cannot find module './missing'", error.evalue)


if __name__ == "__main__":
    unittest.main(verbosity=2)
