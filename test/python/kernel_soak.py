"""Fault run: many cells through jupyter_client that do what learners' cells do wrong.

A random (seeded) mix of cells that throw, reject promises nobody awaits, throw
from timers after they ended, get interrupted (waiting on a promise, or in a
synchronous loop), print thousands of lines (stdout and stderr interleaved),
exhaust the heap (on a kernel started with a small heap, so that it is quick),
call process.exit(), plus malformed signed messages sent between cells. At the
end the kernel must answer, the variable set in cell 1 must still be there,
every printed line must have arrived, every stray error must have been shown
exactly once, and the kernel must never have needed a restart.

    /usr/bin/python3 test/python/kernel_soak.py [--cells 200] [--seed 1] [--backend wasm]

Run by `npm run soak` (scripts/soak.mjs) and, short, by test/kernel-robustness.test.ts, both
with JUPYTER_PATH pointing at a kernelspec installed in a temporary prefix. Prints a summary and
one line `SOAK {json}`; exits 1 when an expectation failed.
"""

import argparse
import json
import random
import re
import sys
import time
from collections import Counter

import zmq

from kernel_robustness import Kernel, errors, header_for, signed_frames

KINDS = {
    # kind: weight
    "ok": 18,
    "throw": 10,
    "reject": 8,
    "late_timer": 8,
    "forgotten_await": 6,
    "interrupt_promise": 5,
    "interrupt_loop": 4,
    "big_output": 10,
    "interleaved_output": 4,
    "oom": 3,
    "exit": 3,
    "malformed": 4,
}
HEAP_MIB = 384
STRAY = re.compile(r"soak (?:reject|late|forgotten) \d+")


class Soak:
    def __init__(self, cells, seed, backend):
        self.cells, self.random, self.backend = cells, random.Random(seed), backend
        self.seed = seed
        self.counts = Counter()
        self.enames = Counter()
        self.stray_expected = set()
        self.stray_seen = Counter()
        self.problems = []
        self.soak_count = 0

    def start(self):
        env = {"NODE_OPTIONS": f"--max-old-space-size={HEAP_MIB}"}
        if self.backend:
            env["TSLAB_DL_BACKEND"] = self.backend
        self.k = Kernel(**env)
        info = self.k.km.get_connection_info()
        self.context = zmq.Context()
        self.raw = self.context.socket(zmq.DEALER)
        self.raw.linger = 0
        self.raw.connect(f"{info['transport']}://{info['ip']}:{info['shell_port']}")

    def stop(self):
        self.raw.close()
        self.context.term()
        self.k.close()

    def expect(self, condition, message):
        if not condition:
            self.problems.append(message)

    def note_outputs(self, outputs):
        for error in errors(outputs):
            for text in STRAY.findall(error["evalue"]):
                self.stray_seen[text] += 1
                self.counts["stray errors shown"] += 1
                if "which had already finished" in error["traceback"][0]:
                    self.counts["late errors reported"] += 1

    def run(self, code, timeout=60):
        self.counts["cells run"] += 1
        reply, outputs = self.k.run(code, timeout)
        if reply["status"] == "error":
            self.counts["errors seen"] += 1
            self.enames[reply["ename"]] += 1
        # A stray error that failed its own cell is in the reply and in one error output: count the outputs.
        self.note_outputs(outputs)
        return reply, outputs

    def alive(self):
        if not self.k.km.is_alive():
            self.counts["restarts"] += 1
            self.problems.append(f"the kernel died; the end of its log:\n{self.k.log()[-3000:]}")
            self.k.km.restart_kernel(now=True)
            self.k.kc.wait_for_ready(timeout=60)
            self.run(f"const soakMarker = 'kept-{self.seed}';\nlet soakCount = 0;")

    def cell(self, n, kind):
        if kind == "ok":
            self.soak_count += 1
            reply, outputs = self.run("soakCount += 1;\nsoakCount")
            results = [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"]
            self.expect(results == [str(self.soak_count)], f"cell {n} (ok): {results} != {self.soak_count}")
        elif kind == "throw":
            reply, _ = self.run(f"throw new Error('soak throw {n}')")
            self.expect(reply.get("evalue") == f"soak throw {n}", f"cell {n} (throw): {reply}")
        elif kind in ("reject", "late_timer", "forgotten_await"):
            text = {"reject": "soak reject", "late_timer": "soak late", "forgotten_await": "soak forgotten"}[kind] + f" {n}"
            self.stray_expected.add(text)
            code = {
                "reject": f"Promise.reject(new Error('{text}'));\n'rejected'",
                "late_timer": f"setTimeout(() => {{ throw new Error('{text}'); }}, {self.random.randint(1, 30)});\n'scheduled'",
                "forgotten_await": f"(async () => {{ await new Promise((r) => setTimeout(r, 20)); throw new Error('{text}'); }})();\n'forgotten'",
            }[kind]
            self.run(code)
        elif kind == "interrupt_promise":
            msg_id = self.k.kc.execute("console.log('started');\nawait new Promise(() => {});")
            before = []
            while True:
                msg = self.k.kc.get_iopub_msg(timeout=30)
                if msg["parent_header"].get("msg_id") == msg_id:
                    before.append(msg)
                    if msg["msg_type"] == "stream":
                        break
            self.note_outputs(before)
            self.interrupted(n, msg_id)
        elif kind == "interrupt_loop":
            msg_id = self.k.kc.execute("{ let spins = 0;\nwhile (true) { spins++; } }")
            time.sleep(0.3)
            self.interrupted(n, msg_id)
        elif kind in ("big_output", "interleaved_output"):
            lines = self.random.choice([1000, 3000, 8000]) if kind == "big_output" else 500
            body = f"console.log('o{n} ' + i);" + (f" console.error('e{n} ' + i);" if kind == "interleaved_output" else "")
            reply, outputs = self.run(f"for (let i = 0; i < {lines}; i++) {{ {body} }}")
            printed = lines * (2 if kind == "interleaved_output" else 1)
            streams = [m["content"] for m in outputs if m["msg_type"] == "stream"]
            received = sum(s["text"].count("\n") for s in streams)
            self.counts["lines printed"] += printed
            self.counts["lines received"] += received
            self.expect(received == printed, f"cell {n} ({kind}): {received} of {printed} lines arrived")
            if kind == "interleaved_output":
                merged = "".join(s["text"] for s in streams).split("\n")[:-1]
                expected = [line for i in range(lines) for line in (f"o{n} {i}", f"e{n} {i}")]
                self.expect(merged == expected, f"cell {n}: stdout and stderr out of order")
        elif kind == "oom":
            reply, _ = self.run(f"{{ const grow: number[][] = [];\nwhile (true) grow.push([Math.random(), {n}]); }}", timeout=120)
            self.expect(reply.get("ename") == "MemoryError", f"cell {n} (oom): {reply.get('ename')}: {reply.get('evalue')}")
        elif kind == "exit":
            reply, _ = self.run(f"process.exit({n % 3})")
            self.expect(reply.get("ename") == "ProcessExitError", f"cell {n} (exit): {reply}")
        elif kind == "malformed":
            choice = self.random.choice(["null header", "no msg_type", "numeric msg_type", "string content", "replay"])
            frames = {
                "null header": lambda: signed_frames(self.k.kc.session, None),
                "no msg_type": lambda: signed_frames(self.k.kc.session, {"msg_id": f"m{n}"}),
                "numeric msg_type": lambda: signed_frames(self.k.kc.session, {"msg_id": f"m{n}", "msg_type": n}),
                "string content": lambda: signed_frames(self.k.kc.session, header_for(self.k.kc.session, "kernel_info_request"), content="x"),
                "replay": lambda: signed_frames(self.k.kc.session, header_for(self.k.kc.session, "kernel_info_request")),
            }[choice]()
            self.raw.send_multipart(frames)
            if choice == "replay":
                self.raw.send_multipart(frames)
                self.expect(self.raw.poll(10_000), f"cell {n}: the first kernel_info_request got no reply")
                self.raw.recv_multipart()
            self.counts["malformed messages sent"] += 1
            self.soak_count += 1
            reply, outputs = self.run("soakCount += 1;\nsoakCount")
            self.expect(reply["status"] == "ok", f"cell {n} after a malformed message ({choice}): {reply}")
            self.expect(not self.raw.poll(200), f"cell {n}: a malformed or replayed message ({choice}) got a reply")
            while self.raw.poll(0):
                self.raw.recv_multipart()

    def interrupted(self, n, msg_id):
        self.counts["cells run"] += 1
        self.k.km.interrupt_kernel()
        reply = self.k.shell_reply(msg_id, 30)["content"]
        self.note_outputs(self.k.outputs_of(msg_id, 30))
        self.counts["interrupts"] += 1
        self.counts["errors seen"] += 1
        self.enames[reply.get("ename")] += 1
        self.expect(reply.get("ename") == "InterruptedError", f"cell {n} (interrupt): {reply}")

    def main(self):
        started = time.monotonic()
        self.start()
        try:
            reply, _ = self.run(f"const soakMarker = 'kept-{self.seed}';\nlet soakCount = 0;")
            self.expect(reply["status"] == "ok", f"cell 1: {reply}")
            kinds, weights = zip(*KINDS.items())
            for n in range(2, self.cells):
                kind = self.random.choices(kinds, weights)[0]
                self.counts[f"kind {kind}"] += 1
                self.cell(n, kind)
                self.alive()
            # The last cell: stray errors still in flight arrive, the first cell's variable is there.
            time.sleep(0.3)
            reply, outputs = self.run("await new Promise((r) => setTimeout(r, 200));\nsoakMarker")
            results = [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"]
            self.expect(results == [f"'kept-{self.seed}'"], f"the variable of cell 1: {results} ({reply})")
            self.expect(self.k.kc.kernel_info(reply=True, timeout=30)["content"]["status"] == "ok", "kernel_info")
            self.alive()
            # Each stray error shown exactly once: in the cell it failed, or as a late error.
            for text in sorted(self.stray_expected):
                self.expect(self.stray_seen[text] == 1, f"'{text}' was shown {self.stray_seen[text]} times, not once")
        finally:
            if self.problems:
                print(f"soak: the end of the kernel's log:\n{self.k.log()[-6000:]}", file=sys.stderr)
            self.stop()
        self.counts["restarts"] += 0
        self.counts["stray errors scheduled"] = len(self.stray_expected)
        seconds = time.monotonic() - started
        summary = {
            "cells": self.counts["cells run"],
            "seconds": round(seconds, 1),
            "errors_seen": self.counts["errors seen"],
            "errors_by_name": dict(self.enames),
            "stray_errors_scheduled": len(self.stray_expected),
            "stray_errors_shown": self.counts["stray errors shown"],
            "late_errors_reported": self.counts["late errors reported"],
            "interrupts": self.counts["interrupts"],
            "malformed_messages": self.counts["malformed messages sent"],
            "lines_printed": self.counts["lines printed"],
            "lines_received": self.counts["lines received"],
            "restarts": self.counts["restarts"],
            "kinds": {k[5:]: v for k, v in self.counts.items() if k.startswith("kind ")},
            "problems": self.problems,
        }
        print(
            f"soak: {summary['cells']} cells in {seconds:.1f} s on {self.backend or 'the default backend'}; "
            f"{summary['errors_seen']} errors seen {summary['errors_by_name']}; "
            f"{summary['stray_errors_scheduled']} stray errors scheduled, {summary['stray_errors_shown']} shown "
            f"({summary['late_errors_reported']} as late errors in a later cell); {summary['interrupts']} interrupts; "
            f"{summary['malformed_messages']} malformed messages; lines printed/received "
            f"{summary['lines_printed']}/{summary['lines_received']}; restarts {summary['restarts']}",
            file=sys.stderr,
        )
        for problem in self.problems:
            print(f"soak problem: {problem}", file=sys.stderr)
        print("SOAK " + json.dumps(summary))
        return 0 if not self.problems else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backend", default="wasm", help="TSLAB_DL_BACKEND for the kernel ('' for the default choice)")
    args = parser.parse_args()
    sys.exit(Soak(args.cells, args.seed, args.backend).main())
