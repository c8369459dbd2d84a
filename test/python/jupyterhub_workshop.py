"""A workshop on a running JupyterHub: learners' servers started through the hub's REST API, the
same notebook uploaded and run for every learner at the same time through their own servers.

For each learner, concurrently:

1. POST /hub/api/users/<name>/server, then poll the user model until the server is ready;
2. PUT the notebook into the learner's home through the server's contents API;
3. start a kernel for it (sessions API, so the kernel runs in the notebook's folder) and run each
   code cell over the kernel's websocket (Jupyter messaging protocol: execute_request, then the
   outputs on iopub until the kernel is idle again, and the execute_reply on shell);
4. run the probe cell (given by the caller) in the same kernel and read the peak RSS (VmHWM) of
   the kernel's process, which runs as the learner, before the kernel shuts down;
5. shut the kernel down and stop the server through the hub.

Prints one JSON object on the last line of stdout: per learner, the cells' outputs (text only),
the probe's outputs, the kernel's pid, uid and VmHWM, and timings; plus the wall time of the
concurrent runs. Errors of one learner are reported in its entry, not raised, so the caller sees
every learner.

Run by test/jupyterhub-workshop.test.ts:

    /usr/bin/python3 test/python/jupyterhub_workshop.py <settings.json>

settings.json: {"hub_url", "token", "users": [...], "notebook": path, "kernel_name",
"probe_source", "cell_timeout_s", "start_timeout_s", "total_timeout_s"}.
"""

import asyncio
import datetime
import json
import os
import struct
import sys
import time
import uuid
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

PROTOCOL_VERSION = "5.3"


class Hub:
    """The hub's REST API and the learners' servers behind its proxy, with the test's token."""

    def __init__(self, url, token):
        self.url = url.rstrip("/")
        self.headers = {"Authorization": f"token {token}"}
        self.http = AsyncHTTPClient()

    async def request(self, method, path, body=None, ok=(200, 201, 202, 204), timeout_s=60):
        response = await self.http.fetch(
            HTTPRequest(
                self.url + path,
                method=method,
                headers={**self.headers, "Content-Type": "application/json"},
                body=None if body is None else json.dumps(body),
                allow_nonstandard_methods=True,
                request_timeout=timeout_s,
            ),
            raise_error=False,
        )
        if response.code not in ok:
            text = response.body.decode(errors="replace") if response.body else ""
            raise RuntimeError(f"{method} {path}: HTTP {response.code} {text[:500]}")
        return json.loads(response.body) if response.body else None

    def websocket(self, path):
        ws_url = "ws" + self.url[len("http") :] + path
        return websocket_connect(HTTPRequest(ws_url, headers=self.headers), max_message_size=256 * 1024 * 1024)


def decode_binary_message(data):
    """A message the notebook server sent as a binary frame (it has buffers): its JSON part."""
    (count,) = struct.unpack("!I", data[:4])
    offsets = list(struct.unpack(f"!{count}I", data[4 : 4 + 4 * count])) + [len(data)]
    return json.loads(data[offsets[0] : offsets[1]].decode())


def output_text(msg):
    """The text of an iopub output message, as a notebook shows it; None for other messages."""
    kind, content = msg["msg_type"], msg["content"]
    if kind == "stream":
        return {"type": "stream", "name": content["name"], "text": content["text"]}
    if kind in ("display_data", "execute_result", "update_display_data"):
        data = content.get("data", {})
        return {"type": kind, "mime": sorted(data), "text": data.get("text/plain", "")}
    if kind == "error":
        return {"type": "error", "ename": content["ename"], "evalue": content["evalue"]}
    return None


class Kernel:
    """One kernel's websocket channels."""

    def __init__(self, ws, username):
        self.ws = ws
        self.session = uuid.uuid4().hex
        self.username = username

    async def execute(self, code, timeout_s):
        """Runs `code`; its outputs and the execute_reply's status, once the kernel is idle again."""
        msg_id = uuid.uuid4().hex
        self.ws.write_message(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "session": self.session,
                        "username": self.username,
                        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                        "version": PROTOCOL_VERSION,
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": True,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        outputs, reply_status, idle = [], None, False
        deadline = time.monotonic() + timeout_s
        while reply_status is None or not idle:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no execute_reply and idle status within {timeout_s} s for {code[:80]!r}")
            raw = await asyncio.wait_for(self.ws.read_message(), left)
            if raw is None:
                raise RuntimeError(f"the kernel's websocket closed while running {code[:80]!r}")
            msg = decode_binary_message(raw) if isinstance(raw, bytes) else json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["channel"] == "shell" and msg["msg_type"] == "execute_reply":
                reply_status = msg["content"]["status"]
            elif msg["channel"] == "iopub":
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
                else:
                    shown = output_text(msg)
                    if shown is not None:
                        outputs.append(shown)
        return {"status": reply_status, "outputs": outputs}


def kernel_process(kernel_id):
    """The pid and uid of the process whose command line names this kernel's connection file."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(f"kernel-{kernel_id}.json".encode()) for a in argv) and any(
            a.endswith(b"tslab-dl.js") for a in argv
        ):
            return int(pid), status_fields(int(pid))
    raise RuntimeError(f"no tslab-dl.js kernel process for kernel {kernel_id}")


def status_fields(pid):
    """Uid (real) and the memory lines (kB) of /proc/<pid>/status."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key == "Uid":
                fields["uid"] = int(value.split()[0])
            elif key in ("VmHWM", "VmRSS"):
                fields[key] = int(value.split()[0])
    return fields


async def wait_until_ready(hub, name, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        user = await hub.request("GET", f"/hub/api/users/{quote(name)}")
        server = user.get("servers", {}).get("")
        if server and server.get("ready"):
            return server["url"]
        await asyncio.sleep(0.5)
    raise TimeoutError(f"the server of {name} was not ready within {timeout_s} s")


async def run_learner(hub, name, notebook, settings, record):
    started = time.monotonic()
    await hub.request("POST", f"/hub/api/users/{quote(name)}/server")
    server_url = await wait_until_ready(hub, name, settings["start_timeout_s"])
    record["server_ready_s"] = round(time.monotonic() - started, 2)
    api = server_url.rstrip("/") + "/api"

    notebook_name = os.path.basename(settings["notebook"])
    saved = await hub.request(
        "PUT", f"{api}/contents/{quote(notebook_name)}", {"type": "notebook", "format": "json", "content": notebook}
    )
    record["uploaded"] = saved["path"]

    session = await hub.request(
        "POST",
        f"{api}/sessions",
        {"path": notebook_name, "name": notebook_name, "type": "notebook", "kernel": {"name": settings["kernel_name"]}},
    )
    kernel_id = session["kernel"]["id"]
    try:
        ws = await hub.websocket(f"{api}/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}")
        kernel = Kernel(ws, name)
        run_started = time.monotonic()
        record["cells"] = []
        for cell in notebook["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            result = await kernel.execute(source, settings["cell_timeout_s"])
            record["cells"].append({"source": source[:200], **result})
            if result["status"] != "ok":
                break
        record["notebook_s"] = round(time.monotonic() - run_started, 2)
        record["notebook_span"] = [run_started, time.monotonic()]
        record["probe"] = await kernel.execute(settings["probe_source"], settings["cell_timeout_s"])
        record["kernel_pid"], record["kernel_status"] = kernel_process(kernel_id)
        ws.close()
    finally:
        await hub.request("DELETE", f"{api}/sessions/{session['id']}", ok=(204, 404))
        await hub.request("DELETE", f"/hub/api/users/{quote(name)}/server", ok=(202, 204))
    record["total_s"] = round(time.monotonic() - started, 2)


async def guarded(coroutine_factory, record):
    try:
        await coroutine_factory()
    except (Exception, asyncio.CancelledError) as e:  # reported per learner; the caller fails the test
        detail = e.response.body.decode(errors="replace")[:500] if isinstance(e, HTTPClientError) and e.response else ""
        record["error"] = f"{type(e).__name__}: {e} {detail}".strip()


async def main(settings):
    hub = Hub(settings["hub_url"], settings["token"])
    with open(settings["notebook"]) as f:
        notebook = json.load(f)
    records = {name: {} for name in settings["users"]}
    started = time.monotonic()
    runs = [
        guarded(lambda name=name: run_learner(hub, name, notebook, settings, records[name]), records[name])
        for name in settings["users"]
    ]
    try:
        await asyncio.wait_for(asyncio.gather(*runs), settings["total_timeout_s"])
    except asyncio.TimeoutError:
        for record in records.values():
            record.setdefault("error", f"the workshop did not finish within {settings['total_timeout_s']} s")
    spans = [r.pop("notebook_span") for r in records.values() if "notebook_span" in r]
    return {
        "learners": records,
        "wall_s": round(time.monotonic() - started, 2),
        # From the first learner's first cell to the last learner's last: the concurrent runs.
        "notebooks_wall_s": round(max(e for _, e in spans) - min(s for s, _ in spans), 2) if spans else None,
    }


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        config = json.load(f)
    print(json.dumps(asyncio.run(main(config))))
