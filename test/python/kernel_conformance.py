"""The tslab-dl kernel against the Jupyter messaging protocol.

jupyter_kernel_test's KernelTests suite (kernel_info, execute_result, stdout,
stderr, error, completion, inspection, is_complete with invalid code,
display_data, clear_output, history) plus the requests tslab 1.0.22 got wrong
or never answered: kernel_info's status and language_info, error replies,
history, comm_info, comm_open, interrupt_request (and an interrupt that
really stops a loop and a tfjs fit), shutdown with the restart flag.

Run by test/kernel.test.ts, which installs the kernelspec into a temporary
prefix and points JUPYTER_PATH at it:

    JUPYTER_PATH=<prefix>/share/jupyter /usr/bin/python3 test/python/kernel_conformance.py
"""

import os
import re
import sys
import time
import unittest
from queue import Empty

import jupyter_kernel_test
from jupyter_client.manager import start_new_kernel
from jupyter_client.utils import run_sync
from jupyter_kernel_test.msgspec_v5 import validate_message

KERNEL_NAME = "tslab-dl"
TIMEOUT = 60
# Cells run in notebooks/, where `import ... from "tslab-dl"` resolves to this checkout.
NOTEBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "notebooks")


def start_kernel():
    return start_new_kernel(kernel_name=KERNEL_NAME, cwd=os.path.normpath(NOTEBOOKS))


class TslabDlKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = KERNEL_NAME
    language_name = "typescript"
    file_extension = ".ts"

    @classmethod
    def setUpClass(cls):
        started = time.monotonic()
        cls.km, cls.kc = start_kernel()
        print(f"kernel start-up (until kernel_info_reply): {time.monotonic() - started:.2f} s", file=sys.stderr)

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("something went wrong")'
    code_generate_error = 'throw new Error("boom")'

    completion_samples = [
        {"text": "Math.flo", "matches": {"floor"}},
        {"text": "const abcdefgh = 1, abcdxyz = 2;\nabcde", "matches": {"abcdefgh"}},
    ]
    complete_code_samples = [
        "1",
        "let x = 1;",
        'console.log("hi")',
        "function f(a: number) {\n  return a;\n}",
        "const s = `a\n${1}`;",
        "await Promise.resolve(1)",
    ]
    incomplete_code_samples = [
        "function f() {",
        "[1, 2,",
        "let s = `abc",
        "if (true) {\n  console.log(1);",
        "/* a comment",
        "const total = 1 +",
    ]
    invalid_code_samples = [")", "let 1x = 2", "}", "let s = 'abc", "a b", "let x = 1 +) 2"]

    code_execute_result = [
        {"code": "6*7", "result": "42"},
        {"code": '"hello" + " world"', "result": "'hello world'"},
        {"code": "[1, 2].map((x) => x * 2)", "result": "[ 2, 4 ]"},
        {
            "code": 'import { tf } from "tslab-dl";\ntf.tensor([1.5, 2])',
            "result": "Tensor\n  dtype: float32\n  rank: 1\n  shape: [2]\n  values:\n    [1.5, 2]",
        },
        {
            "code": '({ [Symbol.for("Jupyter.display")]: () => ({ "text/html": "<b>rich</b>", "text/plain": "rich" }) })',
            "mime": "text/html",
            "result": "<b>rich</b>",
        },
    ]
    code_display_data = [
        {
            "code": 'import { display } from "tslab-dl";\n'
            'display({ [Symbol.for("Jupyter.display")]: () => ({ "text/html": "<b>hi</b>" }) })',
            "mime": "text/html",
        },
        {"code": 'import * as tslab from "tslab";\ntslab.display.html("<i>from tslab</i>")', "mime": "text/html"},
    ]
    code_history_pattern = "6?7"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "Math.max"
    code_clear_output = '(globalThis as any)[Symbol.for("tslab-dl.kernel")].clearOutput()'
    code_page_something = '(globalThis as any)[Symbol.for("tslab-dl.kernel")].page("a long help text")'

    # ---- what tslab 1.0.22 gets wrong ------------------------------------------------

    def shell_reply(self, msg_id, timeout=TIMEOUT):
        while True:
            reply = self.kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def control_request(self, msg_type, content=None):
        msg = self.kc.session.msg(msg_type, content or {})
        self.kc.control_channel.send(msg)
        while True:
            reply = run_sync(self.kc.control_channel.get_msg)(timeout=TIMEOUT)
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                return reply

    def outputs_of(self, msg_id, timeout=TIMEOUT):
        """iopub messages of one request between its busy and idle statuses."""
        outputs = []
        deadline = time.monotonic() + timeout
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status":
                if msg["content"]["execution_state"] == "idle":
                    return outputs
                continue
            outputs.append(msg)

    def run_cell(self, code, timeout=TIMEOUT):
        msg_id = self.kc.execute(code)
        reply = self.shell_reply(msg_id, timeout)
        return reply, self.outputs_of(msg_id, timeout)

    def test_kernel_info_reply_is_complete(self):
        self.flush_channels()
        msg_id = self.kc.kernel_info()
        content = self.shell_reply(msg_id)["content"]
        self.assertEqual(content["status"], "ok")
        info = content["language_info"]
        self.assertEqual(info["name"], "typescript")
        self.assertEqual(info["mimetype"], "text/typescript")
        self.assertEqual(info["file_extension"], ".ts")
        self.assertRegex(info["version"], r"^\d+\.\d+\.\d+$")
        self.assertEqual(info["codemirror_mode"]["typescript"], True)
        self.assertEqual(content["implementation"], "tslab-dl")

    def test_error_reply_names_the_error(self):
        self.flush_channels()
        reply, outputs = self.run_cell('throw new RangeError("out of range")')
        content = reply["content"]
        self.assertEqual(content["status"], "error")
        self.assertEqual(content["ename"], "RangeError")
        self.assertEqual(content["evalue"], "out of range")
        self.assertIn("RangeError: out of range", content["traceback"][0])
        errors = [m for m in outputs if m["msg_type"] == "error"]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["content"]["ename"], "RangeError")

    def test_type_error_is_an_error_reply_with_the_diagnostic(self):
        self.flush_channels()
        reply, _ = self.run_cell("const n: number = 'text';")
        content = reply["content"]
        self.assertEqual(content["status"], "error")
        self.assertEqual(content["ename"], "TypeScriptError")
        self.assertIn("Type 'string' is not assignable to type 'number'", content["evalue"])
        self.assertIn("line 1, column 7", content["traceback"][0])

    def test_last_expression_is_an_execute_result_with_its_count(self):
        self.flush_channels()
        reply, outputs = self.run_cell("const forty = 40;\nforty + 2")
        results = [m for m in outputs if m["msg_type"] == "execute_result"]
        self.assertEqual(len(results), 1)
        self.assertEqual(results[0]["content"]["data"]["text/plain"], "42")
        self.assertEqual(results[0]["content"]["execution_count"], reply["content"]["execution_count"])
        self.assertFalse([m for m in outputs if m["msg_type"] == "stream"], "the value must not also be printed")

    def test_declarations_persist_across_cells(self):
        self.flush_channels()
        self.run_cell("let counter = 1;\nfunction twice(x: number) { return 2 * x; }")
        reply, outputs = self.run_cell("twice(counter + 1)")
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual([m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"], ["4"])

    def test_comm_info_request_gets_comm_info_reply(self):
        self.flush_channels()
        msg = self.kc.session.msg("comm_info_request", {"target_name": "jupyter.widget"})
        self.kc.shell_channel.send(msg)
        reply = self.shell_reply(msg["header"]["msg_id"])
        validate_message(reply, "comm_info_reply", msg["header"]["msg_id"])
        self.assertEqual(reply["content"], {"status": "ok", "comms": {}})

    def test_comm_open_for_an_unknown_target_is_closed(self):
        self.flush_channels()
        msg = self.kc.session.msg("comm_open", {"comm_id": "c-1", "target_name": "no.such.target", "data": {}})
        self.kc.shell_channel.send(msg)
        outputs = self.outputs_of(msg["header"]["msg_id"])
        closes = [m for m in outputs if m["msg_type"] == "comm_close"]
        self.assertEqual(len(closes), 1)
        self.assertEqual(closes[0]["content"]["comm_id"], "c-1")
        # A comm_msg and comm_close for it are accepted quietly.
        for msg_type in ("comm_msg", "comm_close"):
            msg = self.kc.session.msg(msg_type, {"comm_id": "c-1", "data": {}})
            self.kc.shell_channel.send(msg)
            self.assertEqual(self.outputs_of(msg["header"]["msg_id"]), [])

    def test_unknown_request_gets_an_error_reply(self):
        self.flush_channels()
        msg = self.kc.session.msg("frobnicate_request", {})
        self.kc.shell_channel.send(msg)
        reply = self.shell_reply(msg["header"]["msg_id"])
        self.assertEqual(reply["msg_type"], "frobnicate_reply")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "NotImplementedError")

    def test_interrupt_request_is_answered_when_idle(self):
        self.flush_channels()
        reply = self.control_request("interrupt_request")
        validate_message(reply, "interrupt_reply", reply["parent_header"]["msg_id"])
        self.assertEqual(reply["content"]["status"], "ok")
        # The interrupt does not spill over into the next cell.
        reply, outputs = self.run_cell('"still fine"')
        self.assertEqual(reply["content"]["status"], "ok")

    def interrupt_after(self, code, seconds):
        """Runs `code` (which prints "started" first), interrupts it `seconds` after it started."""
        msg_id = self.kc.execute(code)
        while True:
            msg = self.kc.get_iopub_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream" and "started" in msg["content"]["text"]:
                break
        time.sleep(seconds)
        started = time.monotonic()
        self.assertEqual(self.control_request("interrupt_request")["content"]["status"], "ok")
        reply = self.shell_reply(msg_id, timeout=10)
        self.outputs_of(msg_id)
        return reply, time.monotonic() - started

    def test_interrupt_request_stops_a_cell_waiting_forever(self):
        self.flush_channels()
        reply, waited = self.interrupt_after('console.log("started");\nawait new Promise(() => {});', 1.0)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "InterruptedError")
        self.assertLess(waited, 5.0)
        reply, outputs = self.run_cell('"alive"')
        self.assertEqual([m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"], ["'alive'"])

    def test_interrupt_stops_a_loop_that_checks_for_it(self):
        self.flush_channels()
        code = (
            'import { Progress } from "tslab-dl";\n'
            "let steps = 0;\n"
            'const work = new Progress("Work", 1e9);\n'
            'console.log("started");\n'
            "while (true) {\n"
            "  await new Promise((resolve) => setTimeout(resolve, 200));\n"
            "  work.checkInterrupt();\n"
            "  steps++;\n"
            "}"
        )
        reply, _ = self.interrupt_after(code, 1.5)
        self.assertEqual(reply["content"]["ename"], "InterruptedError")
        # The loop itself must have ended, not just the wait for it, although this next cell
        # starts before the loop's next check.
        reply, outputs = self.run_cell(
            "const before = steps;\nawait new Promise((resolve) => setTimeout(resolve, 700));\n[before > 0, steps === before]"
        )
        self.assertEqual([m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"], ["[ true, true ]"])

    def test_interrupt_stops_a_tfjs_fit(self):
        self.flush_channels()
        # Only Callback objects: tfjs adds no callback of its own that returns to the event loop.
        code = (
            'import { tf } from "tslab-dl";\n'
            "let batches = 0;\n"
            "class CountBatches extends tf.Callback {\n"
            "  async onBatchEnd() { batches++; }\n"
            "}\n"
            "const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 1 })] });\n"
            'model.compile({ optimizer: "sgd", loss: "meanSquaredError" });\n'
            "const xs = tf.ones([64, 4]), ys = tf.zeros([64, 1]);\n"
            'console.log("started");\n'
            "await model.fit(xs, ys, { epochs: 100000, batchSize: 8, verbose: 0, callbacks: [new CountBatches()] });"
        )
        reply, waited = self.interrupt_after(code, 3.0)
        self.assertEqual(reply["content"]["ename"], "InterruptedError")
        reply, outputs = self.run_cell(
            "const seen = batches;\nawait new Promise((resolve) => setTimeout(resolve, 500));\n[seen > 0, batches === seen, model.stopTraining]"
        )
        # stopTraining is reset by nothing after the fit ended: it stays true.
        self.assertEqual([m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"], ["[ true, true, true ]"])
        self.run_cell("xs.dispose(); ys.dispose(); model.dispose();")

    def test_cells_queued_behind_an_error_are_aborted(self):
        self.flush_channels()
        first = self.kc.execute('await new Promise((r) => setTimeout(r, 300));\nthrow new Error("first fails")')
        second = self.kc.execute("(globalThis as any).secondRan = true;")
        replies = {}
        while len(replies) < 2:
            reply = self.kc.get_shell_msg(timeout=TIMEOUT)
            replies[reply["parent_header"].get("msg_id")] = reply
        self.assertEqual(replies[first]["content"]["status"], "error")
        self.assertEqual(replies[second]["content"]["status"], "aborted")
        self.outputs_of(first)
        self.outputs_of(second)
        reply, outputs = self.run_cell("(globalThis as any).secondRan === undefined")
        self.assertEqual([m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"], ["true"])

    def test_output_written_after_the_cell_finished_goes_to_that_cell(self):
        self.flush_channels()
        msg_id = self.kc.execute('setTimeout(() => console.log("written later"), 300);\n"now"')
        self.shell_reply(msg_id)
        self.outputs_of(msg_id)
        deadline = time.monotonic() + 10
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg["msg_type"] == "stream" and msg["parent_header"].get("msg_id") == msg_id:
                self.assertEqual(msg["content"], {"name": "stdout", "text": "written later\n"})
                break

    def test_a_display_handle_updates_its_output_in_place(self):
        self.flush_channels()
        reply, outputs = self.run_cell(
            'import { DisplayHandle } from "tslab-dl";\n'
            "const progress = new DisplayHandle();\n"
            'progress.update("step 1");\n'
            'progress.update("step 2");'
        )
        self.assertEqual(reply["content"]["status"], "ok")
        displays = [m for m in outputs if m["msg_type"] in ("display_data", "update_display_data")]
        kinds = [(m["msg_type"], m["content"]["data"]["text/plain"], m["content"]["transient"]["display_id"]) for m in displays]
        self.assertEqual([k[:2] for k in kinds], [("display_data", "step 1"), ("update_display_data", "step 2")])
        self.assertEqual(kinds[0][2], kinds[1][2])

    def test_outputs_come_between_busy_and_idle_in_order(self):
        self.flush_channels()
        msg_id = self.kc.execute('console.log("one"); console.log("two"); 3')
        self.shell_reply(msg_id)
        types, texts = [], []
        while True:
            msg = self.kc.get_iopub_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            types.append(msg["msg_type"] if msg["msg_type"] != "status" else msg["content"]["execution_state"])
            if msg["msg_type"] == "stream":
                texts.append(msg["content"]["text"])
            if types[-1] == "idle":
                break
        # Writes close together travel as one stream message (kernel/stream-batcher.ts), before the result.
        self.assertEqual(types, ["busy", "execute_input", "stream", "execute_result", "idle"])
        self.assertEqual(texts, ["one\ntwo\n"])


class TslabDlKernelLifecycleTests(unittest.TestCase):
    """Shutdown and restart, each on a kernel of its own."""

    def test_shutdown_reply_carries_the_restart_flag_and_the_kernel_exits(self):
        km, kc = start_kernel()
        try:
            msg = kc.session.msg("shutdown_request", {"restart": True})
            kc.control_channel.send(msg)
            reply = run_sync(kc.control_channel.get_msg)(timeout=TIMEOUT)
            validate_message(reply, "shutdown_reply", msg["header"]["msg_id"])
            self.assertEqual(reply["content"], {"status": "ok", "restart": True})
            deadline = time.monotonic() + 10
            while km.is_alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertFalse(km.is_alive(), "the kernel process must exit by itself after shutdown_reply")
        finally:
            kc.stop_channels()
            if km.is_alive():
                km.shutdown_kernel(now=True)

    def test_first_cell_timing_and_backend_line(self):
        started = time.monotonic()
        km, kc = start_kernel()
        try:
            ready = time.monotonic() - started
            msg_id = kc.execute('import { backendInfo } from "tslab-dl";\nbackendInfo().backend')
            texts, result = [], None
            while True:
                msg = kc.get_iopub_msg(timeout=TIMEOUT)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "stream":
                    texts.append(msg["content"]["text"])
                if msg["msg_type"] == "execute_result":
                    result = msg["content"]["data"]["text/plain"]
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
            first_cell = time.monotonic() - started
            print(f"kernel start-up: {ready:.2f} s to kernel_info_reply, {first_cell:.2f} s to the first cell's result", file=sys.stderr)
            output = "".join(texts)
            self.assertRegex(output, r"^tslab-dl: TensorFlow\.js 4\.22\.0 on \S+")
            self.assertNotIn("looks like you are running TensorFlow.js in Node.js", output)
            backend = re.match(r"tslab-dl: TensorFlow\.js 4\.22\.0 on ([^\s;]+)", output).group(1)
            self.assertEqual(result, repr(backend))
        finally:
            kc.stop_channels()
            km.shutdown_kernel()


class TslabDlKernelStartUpInterruptTests(unittest.TestCase):
    def test_a_cell_waiting_for_the_start_up_can_be_interrupted(self):
        km, kc = start_kernel()
        try:
            msg_id = kc.execute("await new Promise(() => {});")
            time.sleep(0.3)
            km.interrupt_kernel()
            reply = kc.get_shell_msg(timeout=TIMEOUT)
            while reply["parent_header"].get("msg_id") != msg_id:
                reply = kc.get_shell_msg(timeout=TIMEOUT)
            self.assertEqual(reply["content"]["ename"], "InterruptedError")
            msg_id = kc.execute("21 * 2")
            reply = kc.get_shell_msg(timeout=TIMEOUT)
            while reply["parent_header"].get("msg_id") != msg_id:
                reply = kc.get_shell_msg(timeout=TIMEOUT)
            self.assertEqual(reply["content"]["status"], "ok")
        finally:
            kc.stop_channels()
            km.shutdown_kernel()


class TslabDlKernelWithoutLibraryTests(unittest.TestCase):
    """A library that fails at start-up (here: an unknown TSLAB_DL_BACKEND) must not stop the kernel."""

    def test_the_first_cell_says_why_and_cells_still_run(self):
        env = dict(os.environ, TSLAB_DL_BACKEND="no-such-backend")
        km, kc = start_new_kernel(kernel_name=KERNEL_NAME, cwd=os.path.normpath(NOTEBOOKS), env=env)
        try:
            msg_id = kc.execute("1 + 1")
            streams, results = [], []
            while True:
                msg = kc.get_iopub_msg(timeout=TIMEOUT)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "stream":
                    streams.append(msg["content"])
                if msg["msg_type"] == "execute_result":
                    results.append(msg["content"]["data"]["text/plain"])
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
            self.assertEqual(results, ["2"])
            self.assertEqual(len(streams), 1)
            self.assertEqual(streams[0]["name"], "stderr")
            self.assertIn("tslab-dl: the library could not be loaded (TSLAB_DL_BACKEND must be one of", streams[0]["text"])
            self.assertIn('Received "no-such-backend"', streams[0]["text"])
        finally:
            kc.stop_channels()
            km.shutdown_kernel()


if __name__ == "__main__":
    unittest.main(verbosity=2)
