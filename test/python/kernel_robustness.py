"""A kernel that survives the learner: the tslab-dl kernel through jupyter_client.

- errors nobody caught, on the wasm backend (whose Emscripten glue installs
  process handlers that rethrow): a forgotten `await`, a timer that throws
  after its cell ended or while it runs, an unhandled rejection; the kernel
  stays alive, earlier variables stay, and the error shows in the cell that
  caused it or in the next one;
- `process.exit()` in a cell is refused and says how to restart;
- output: 20,000 and 200,000 printed lines all arrive, stdout and stderr keep
  their order, and a cell past the 16 MiB limit says how much it dropped;
- malformed but correctly signed messages (header null, no msg_type, a number
  as msg_type, content not an object, code not a string, JSON that does not
  parse) and a replayed message leave the kernel answering, with a line in its
  log for each;
- a cell that exhausts a small heap (--max-old-space-size=256) fails with a
  MemoryError and the kernel lives; one that cannot be stopped (a loop after
  an await) leaves a clear last line in the kernel's log.

Run by test/kernel-robustness.test.ts, which installs the kernelspec into a
temporary prefix (nothing of the user's Jupyter set-up is touched):

    JUPYTER_PATH=<prefix>/share/jupyter /usr/bin/python3 test/python/kernel_robustness.py [TestClass]
"""

import json
import os
import re
import sys
import tempfile
import time
import unittest
import uuid
from datetime import datetime, timezone

import zmq
from jupyter_client.manager import start_new_kernel

KERNEL_NAME = "tslab-dl"
TIMEOUT = 60
NOTEBOOKS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "notebooks"))


class Kernel:
    """One kernel, its client and its stderr (the kernel's log) in a file."""

    def __init__(self, **env):
        self.log_file = tempfile.NamedTemporaryFile(prefix="tslab-dl-kernel-log-", suffix=".txt", delete=False)
        environment = dict(os.environ, **env)
        self.km, self.kc = start_new_kernel(
            kernel_name=KERNEL_NAME, cwd=NOTEBOOKS, env=environment, stderr=self.log_file, startup_timeout=TIMEOUT
        )

    def close(self):
        try:
            self.kc.stop_channels()
            if self.km.is_alive():
                self.km.shutdown_kernel(now=True)
        finally:
            self.log_file.close()
            os.unlink(self.log_file.name)

    def log(self):
        with open(self.log_file.name, encoding="utf8", errors="replace") as f:
            return f.read()

    def shell_reply(self, msg_id, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            reply = self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def outputs_of(self, msg_id, timeout=TIMEOUT):
        """The iopub messages of one request, between its busy and idle statuses."""
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

    def run(self, code, timeout=TIMEOUT):
        """Runs a cell: (execute_reply content, iopub messages)."""
        msg_id = self.kc.execute(code)
        reply = self.shell_reply(msg_id, timeout)
        return reply["content"], self.outputs_of(msg_id, timeout)

    def value(self, code, timeout=TIMEOUT):
        """The text/plain result of a cell that must succeed."""
        reply, outputs = self.run(code, timeout)
        assert reply["status"] == "ok", f"{code!r} failed: {reply}"
        results = [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"]
        assert len(results) == 1, f"{code!r}: expected one result, got {outputs}"
        return results[0]


def errors(outputs):
    return [m["content"] for m in outputs if m["msg_type"] == "error"]


def stream_text(outputs, name=None):
    return "".join(m["content"]["text"] for m in outputs if m["msg_type"] == "stream" and name in (None, m["content"]["name"]))


class StrayErrorTests(unittest.TestCase):
    """On the wasm backend, whose glue would rethrow every uncaught error and end the kernel."""

    @classmethod
    def setUpClass(cls):
        cls.k = Kernel(TSLAB_DL_BACKEND="wasm")
        cls.addClassCleanup(cls.k.close)
        assert cls.k.value('import { backendInfo } from "tslab-dl";\nlet kept = 41;\nbackendInfo().backend') == "'wasm'"

    def assertAlive(self):
        self.assertTrue(self.k.km.is_alive(), f"the kernel died; its log:\n{self.k.log()[-5000:]}")
        self.assertEqual(self.k.value("kept"), "41")

    def test_a_forgotten_await_shows_its_error_and_the_kernel_lives(self):
        reply, first = self.k.run("import { loadDollarStreet } from 'tslab-dl';\nloadDollarStreet('/nope'); 'x'")
        _, second = self.k.run("await new Promise((resolve) => setTimeout(resolve, 1500));\nkept + 1")
        self.assertAlive()
        seen = errors(first) + errors(second)
        self.assertEqual([e["ename"] for e in seen], ["DataFileError"], f"first: {first}\nsecond: {second}")
        self.assertIn("/nope/train_images.npy", seen[0]["evalue"])
        self.assertIn("Unhandled promise rejection", seen[0]["traceback"][0])
        self.assertIn("await", seen[0]["traceback"][-1])
        self.assertIn("42", [m["content"]["data"]["text/plain"] for m in second if m["msg_type"] == "execute_result"])
        self.assertIn("unhandledRejection from In[", self.k.log())

    def test_a_timer_that_throws_after_its_cell_shows_in_the_next_execution(self):
        reply, outputs = self.k.run("setTimeout(() => { throw new Error('late timer'); }, 10);\n'scheduled'")
        self.assertEqual(reply["status"], "ok")
        label = f"In[{reply['execution_count']}]"
        time.sleep(0.5)
        reply, outputs = self.k.run("kept")
        self.assertEqual(reply["status"], "ok", "a late error shows in the next cell without failing it")
        late = errors(outputs)
        self.assertEqual([(e["ename"], e["evalue"]) for e in late], [("Error", "late timer")])
        self.assertIn(f"from {label}, which had already finished", late[0]["traceback"][0])
        self.assertAlive()

    def test_a_timer_that_throws_while_its_cell_runs_fails_that_cell(self):
        started = time.monotonic()
        reply, outputs = self.k.run(
            "setTimeout(() => { throw new Error('thrown in a callback'); }, 10);\n"
            "await new Promise((resolve) => setTimeout(resolve, 10000));\n'never'"
        )
        self.assertLess(time.monotonic() - started, 5, "the cell fails when the error arrives, not when its wait ends")
        self.assertEqual((reply["status"], reply["ename"], reply["evalue"]), ("error", "Error", "thrown in a callback"))
        self.assertIn("in this cell", reply["traceback"][0])
        self.assertEqual(len(errors(outputs)), 1)
        self.assertAlive()

    def test_an_unhandled_rejection_fails_its_cell(self):
        reply, outputs = self.k.run("Promise.reject(new Error('nobody awaited me'));\n'z'")
        self.assertEqual((reply["status"], reply["evalue"]), ("error", "nobody awaited me"))
        self.assertIn("Unhandled promise rejection in this cell", reply["traceback"][0])
        self.assertAlive()

    def test_an_interval_that_keeps_throwing_is_reported_a_bounded_number_of_times(self):
        reply, outputs = self.k.run(
            "const noisy = setInterval(() => { throw new Error('again'); }, 1);\n"
            "await new Promise((resolve) => setTimeout(resolve, 500));"
        )
        self.assertEqual((reply["status"], reply["evalue"]), ("error", "again"))
        reply, outputs = self.k.run("clearInterval(noisy);\nawait new Promise((resolve) => setTimeout(resolve, 100));")
        shown = errors(outputs)
        self.assertLessEqual(len(shown), 11, "at most 10 stray errors per cell, then one summary")
        self.assertAlive()

    def test_process_exit_is_refused_and_explained(self):
        reply, outputs = self.k.run("process.exit(3)")
        self.assertEqual((reply["status"], reply["ename"]), ("error", "ProcessExitError"))
        self.assertIn("process.exit(3) would end the kernel", reply["evalue"])
        self.assertIn("restart the kernel from the front end", reply["evalue"])
        self.assertAlive()

    def test_process_exit_in_a_timer_is_refused_too(self):
        self.k.run("setTimeout(() => process.exit(0), 10);")
        time.sleep(0.3)
        reply, outputs = self.k.run("kept")
        self.assertEqual([e["ename"] for e in errors(outputs)], ["ProcessExitError"])
        self.assertAlive()

    def test_library_handlers_cannot_take_over(self):
        # A module that adds its own rethrowing handler (as Emscripten's glue does) is set aside.
        reply, outputs = self.k.run(
            "process.on('uncaughtException', (e) => { throw e; });\n"
            "process.on('unhandledRejection', (r) => { throw r; });\n"
            "setTimeout(() => { throw new Error('after a foreign handler'); }, 10);\n"
            "await new Promise((resolve) => setTimeout(resolve, 300));"
        )
        self.assertEqual((reply["status"], reply["evalue"]), ("error", "after a foreign handler"))
        self.assertEqual(self.k.value("process.listenerCount('uncaughtException') + process.listenerCount('unhandledRejection')"), "2")
        self.assertIn("set aside a process.on('uncaughtException') listener", self.k.log())
        self.assertAlive()


class OutputVolumeTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Kernel()
        cls.addClassCleanup(cls.k.close)
        cls.k.value("1")

    def lines(self, count, extra=""):
        reply, outputs = self.k.run(f"for (let i = 0; i < {count}; i++) {{ console.log('line ' + i); {extra} }}", timeout=300)
        self.assertEqual(reply["status"], "ok")
        text = stream_text(outputs, "stdout")
        messages = sum(1 for m in outputs if m["msg_type"] == "stream")
        print(f"{count} lines printed, {text.count(chr(10))} received in {messages} stream messages", file=sys.stderr)
        return text, messages

    def test_20000_printed_lines_all_arrive_batched(self):
        text, messages = self.lines(20000)
        self.assertEqual(text, "".join(f"line {i}\n" for i in range(20000)))
        self.assertLess(messages, 20)

    def test_200000_printed_lines_all_arrive(self):
        text, _ = self.lines(200000)
        self.assertEqual(text.count("\n"), 200000)
        self.assertTrue(text.endswith("line 199999\n"))

    def test_lines_printed_over_time_all_arrive(self):
        text, messages = self.lines(5000, "if (i % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 1));")
        self.assertEqual(text.count("\n"), 5000)

    def test_stdout_and_stderr_keep_their_order(self):
        reply, outputs = self.k.run("console.log('a'); console.error('b'); console.log('c'); 1")
        streams = [(m["content"]["name"], m["content"]["text"]) for m in outputs if m["msg_type"] == "stream"]
        self.assertEqual(streams, [("stdout", "a\n"), ("stderr", "b\n"), ("stdout", "c\n")])
        self.assertEqual([m["msg_type"] for m in outputs][-1], "execute_result")

    def test_a_cell_past_the_limit_says_how_much_was_not_shown(self):
        # 1.5 million lines of 15 bytes: 22 MB, past the 16 MiB a cell shows.
        reply, outputs = self.k.run("for (let i = 0; i < 1500000; i++) console.log('row ' + String(i).padStart(10, '0'));", timeout=300)
        self.assertEqual(reply["status"], "ok")
        shown = stream_text(outputs, "stdout").count("\n")
        notice = stream_text(outputs, "stderr")
        match = re.search(r"([\d,]+) lines \(([\d.]+) MiB\) of this cell's output were not shown", notice)
        self.assertIsNotNone(match, notice)
        self.assertEqual(shown + int(match.group(1).replace(",", "")), 1500000)
        self.assertIn("at most 16.0 MiB", notice)


def signed_frames(session, header, parent=None, metadata=None, content=None, raw=None):
    """The frames of a message signed with the connection key; `raw` replaces the JSON of the four parts."""
    parts = raw or [json.dumps(x).encode() for x in (header, parent if parent is not None else {}, metadata if metadata is not None else {}, content if content is not None else {})]
    return [b"<IDS|MSG>", session.sign(parts), *parts]


def header_for(session, msg_type, **extra):
    return dict(
        msg_id=str(uuid.uuid4()),
        msg_type=msg_type,
        session=session.session,
        username="test",
        date=datetime.now(timezone.utc).isoformat(),
        version="5.3",
        **extra,
    )


class MalformedMessageTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Kernel()
        cls.addClassCleanup(cls.k.close)
        cls.k.value("let replayed = 0;\nreplayed")
        info = cls.k.km.get_connection_info()
        cls.context = zmq.Context()
        cls.sockets = {}
        for channel in ("shell", "control"):
            socket = cls.context.socket(zmq.DEALER)
            socket.linger = 0
            socket.connect(f"{info['transport']}://{info['ip']}:{info[channel + '_port']}")
            cls.sockets[channel] = socket
        cls.session = cls.k.kc.session

    @classmethod
    def tearDownClass(cls):
        for socket in cls.sockets.values():
            socket.close()
        cls.context.term()

    def send(self, channel, frames):
        self.sockets[channel].send_multipart(frames)

    def receive(self, channel, timeout_s):
        """The next message on our raw socket, decoded, or None after timeout_s."""
        socket = self.sockets[channel]
        if not socket.poll(timeout_s * 1000):
            return None
        frames = socket.recv_multipart()
        start = frames.index(b"<IDS|MSG>")
        header, parent, _, content = (json.loads(f) for f in frames[start + 2 : start + 6])
        return {"header": header, "parent_header": parent, "content": content}

    def assertAnswers(self):
        self.assertTrue(self.k.km.is_alive(), self.k.log()[-3000:])
        self.assertEqual(self.k.value("6 * 7"), "42")
        reply = self.k.kc.kernel_info(reply=True, timeout=TIMEOUT)
        self.assertEqual(reply["content"]["status"], "ok")

    def malformed(self):
        """Each malformed message, newly made (the same frames twice would be a replay)."""
        execute = json.dumps(header_for(self.session, "execute_request")).encode()
        return {
            "header null": signed_frames(self.session, None),
            "header without msg_type": signed_frames(self.session, {"msg_id": str(uuid.uuid4()), "session": "s"}),
            "numeric msg_type": signed_frames(self.session, {"msg_id": str(uuid.uuid4()), "msg_type": 42, "session": "s"}),
            "header an array": signed_frames(self.session, ["execute_request", str(uuid.uuid4())]),
            "msg_id a number": signed_frames(self.session, {"msg_id": 7, "msg_type": "kernel_info_request", "date": str(uuid.uuid4())}),
            "content a string": signed_frames(self.session, header_for(self.session, "kernel_info_request"), content="text"),
            "content null": signed_frames(self.session, None, raw=[execute, b"{}", b"{}", b"null"]),
            "content an array": signed_frames(self.session, header_for(self.session, "execute_request"), content=[1]),
            "header not JSON": signed_frames(self.session, None, raw=[b"{not json " + str(uuid.uuid4()).encode(), b"{}", b"{}", b"{}"]),
        }

    def test_malformed_envelopes_are_dropped_and_the_kernel_answers(self):
        for channel in ("shell", "control"):
            for name, frames in self.malformed().items():
                with self.subTest(name, channel=channel):
                    self.send(channel, frames)
                    self.assertIsNone(self.receive(channel, 0.3), f"{name} on {channel} must get no reply")
                    self.assertAnswers()
        log = self.k.log()
        for line in (
            "dropped a shell message: its header is null, not an object",
            "dropped a shell message: its header has no msg_type",
            "dropped a shell message: its header's msg_type is the number 42, not a message type",
            "dropped a control message: its content is a string, not an object",
            "dropped a shell message: its content is null, not an object",
            "dropped a shell message: message whose header is not JSON",
        ):
            self.assertIn(line, log)

    def test_a_request_with_bad_content_gets_an_error_reply(self):
        header = header_for(self.session, "execute_request")
        self.send("shell", signed_frames(self.session, header, content={"code": 5, "silent": False}))
        reply = self.receive("shell", 10)
        self.assertIsNotNone(reply, "a request that cannot be handled must be answered")
        self.assertEqual(reply["header"]["msg_type"], "execute_reply")
        self.assertEqual(reply["parent_header"]["msg_id"], header["msg_id"])
        self.assertEqual(reply["content"]["ename"], "InvalidMessage")
        self.assertIn('"code" is the number 5, not a string', reply["content"]["evalue"])
        self.assertAnswers()

    def test_a_replayed_message_is_refused(self):
        header = header_for(self.session, "execute_request")
        frames = signed_frames(self.session, header, content={"code": "replayed += 1", "silent": False, "store_history": False})
        self.send("shell", frames)
        first = self.receive("shell", 10)
        self.assertEqual(first["content"]["status"], "ok")
        self.send("shell", frames)
        self.assertIsNone(self.receive("shell", 1.0), "a replayed message must not be answered")
        self.send("control", frames)
        self.assertIsNone(self.receive("control", 1.0), "nor on another channel")
        self.assertEqual(self.k.value("replayed"), "1")
        self.assertIn("its signature was already used (a replayed message)", self.k.log())
        self.assertAnswers()


class HeapExhaustionTests(unittest.TestCase):
    """A kernel with a small heap (--max-old-space-size=256), so that exhausting it is quick."""

    HEAP = {"NODE_OPTIONS": "--max-old-space-size=256"}

    def test_a_cell_growing_an_array_is_stopped_with_a_memory_error(self):
        k = Kernel(**self.HEAP)
        try:
            self.assertEqual(k.value("let kept = 41;\nkept"), "41")
            started = time.monotonic()
            reply, outputs = k.run("const big: number[][] = [];\nwhile (true) big.push([Math.random(), Math.random()]);")
            self.assertTrue(k.km.is_alive(), f"the kernel died; its log:\n{k.log()[-5000:]}")
            self.assertEqual((reply["status"], reply["ename"]), ("error", "MemoryError"), reply)
            self.assertRegex(reply["evalue"], r"JavaScript heap was nearly full \(\d+ of 256 MiB\)")
            self.assertIn("NODE_OPTIONS=--max-old-space-size", reply["evalue"])
            print(f"stopped after {time.monotonic() - started:.1f} s", file=sys.stderr)
            self.assertIn("stopping the cell (MemoryError)", k.log())
            # Block-scoped, the memory is freed once the cell stops; the kernel goes on.
            reply, _ = k.run("{ const more: number[][] = [];\nwhile (true) more.push([Math.random(), Math.random()]); }")
            self.assertEqual(reply["ename"], "MemoryError")
            self.assertEqual(k.value("kept + 1"), "42")
        finally:
            k.close()

    def test_a_heap_exhaustion_that_cannot_be_stopped_says_why_in_the_log(self):
        k = Kernel(**self.HEAP)
        try:
            k.value("1")
            # A synchronous loop after an await: no interrupt can break it (README), the process dies.
            msg_id = k.kc.execute("{ const doomed: number[][] = [];\nawait 0;\nwhile (true) doomed.push([Math.random(), Math.random()]); }")
            deadline = time.monotonic() + TIMEOUT
            while k.km.is_alive() and time.monotonic() < deadline:
                time.sleep(0.2)
            log = k.log()
            if k.km.is_alive():
                reply = k.shell_reply(msg_id, 5)["content"]
                self.assertEqual(reply.get("ename"), "MemoryError", reply)
                print("heap exhaustion after an await: stopped with a MemoryError, the kernel lives", file=sys.stderr)
            else:
                print("heap exhaustion after an await: the kernel died, its log says why", file=sys.stderr)
                self.assertIn("out of memory: the JavaScript heap holds", log)
                self.assertIn("Restart it from the front end", log)
                self.assertIn("NODE_OPTIONS=--max-old-space-size=<MiB>", log)
                self.assertIn("JavaScript heap out of memory", log)
        finally:
            k.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
