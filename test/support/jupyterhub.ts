/**
 * Test support: Debian's JupyterHub (the `jupyterhub` and `node-configurable-http-proxy`
 * packages) started as root on 127.0.0.1 from a config file in a private temporary folder, with
 * local users, the LocalProcessSpawner (each single-user server runs as its user), and an API
 * token whose role may start, stop and reach every user's server.
 *
 * Debian's jupyterhub-singleuser wraps jupyter_server when it is installed, else the classic
 * notebook server (Debian's jupyter-notebook 6); the test names the classic one
 * (JUPYTERHUB_SINGLEUSER_APP) so it does not depend on which is there.
 *
 * The hub, and the proxy it starts, each lead their own process group (the hub because we start
 * it detached, the proxy because the hub does); stop() ends those two groups only. The
 * single-user servers and kernels run as the test users: the caller ends them by uid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { JUPYTER_PYTHON } from './jupyter';

/** The hub, as Debian's `jupyterhub` package installs it. */
export const JUPYTERHUB = '/usr/bin/jupyterhub';
/** The single-user server the spawner starts for each user (same package). */
export const SINGLEUSER = '/usr/bin/jupyterhub-singleuser';
/** The proxy in front of the hub and the servers (`node-configurable-http-proxy`). */
export const CONFIGURABLE_HTTP_PROXY = '/usr/bin/configurable-http-proxy';

/** Why the JupyterHub test cannot run here, or undefined when it can. */
export function jupyterhubMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root: it creates local users and runs JupyterHub with the LocalProcessSpawner';
  for (const program of [JUPYTERHUB, SINGLEUSER, CONFIGURABLE_HTTP_PROXY]) {
    if (!fs.existsSync(program)) return `${program} is missing (apt-get install jupyterhub node-configurable-http-proxy jupyter-notebook)`;
  }
  for (const program of ['useradd', 'userdel', 'runuser']) {
    if (spawnSync('which', [program]).status !== 0) return `${program} is missing (package passwd / util-linux)`;
  }
  const probe = spawnSync(JUPYTER_PYTHON, ['-c', 'import jupyterhub, notebook.notebookapp, tornado.websocket'], {
    encoding: 'utf8',
  });
  if (probe.status !== 0)
    return `${JUPYTER_PYTHON} cannot import jupyterhub, notebook.notebookapp and tornado.websocket (apt-get install jupyterhub jupyter-notebook)`;
  return undefined;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** What the hub is started with. */
export interface HubOptions {
  /** A private folder (root only) for the config, database, secrets, pid files and log. */
  dir: string;
  /** Local users the hub lets in (they must exist). */
  users: string[];
  /** Environment of every single-user server, and so of its kernels. */
  environment: Record<string, string>;
  /** Seconds a server may take to start. Defaults to 120. */
  startTimeoutS?: number;
}

/** A running hub. */
export interface RunningHub {
  /** The public URL (the proxy): /hub/api/..., /user/<name>/api/... */
  url: string;
  /** An API token with the scopes admin:users, admin:servers and access:servers. */
  token: string;
  /** The hub's log so far. */
  log(): string;
  /** Ends the hub's and the proxy's process groups (SIGTERM, then SIGKILL); never throws. */
  stop(): void;
}

const SERVICE = 'tslab-dl-workshop-test';

function hubConfig(o: HubOptions, ports: { public: number; hub: number; proxyApi: number }, token: string): string {
  const py = (value: unknown) => JSON.stringify(value);
  return [
    'c = get_config()  # noqa',
    `c.JupyterHub.bind_url = ${py(`http://127.0.0.1:${ports.public}/`)}`,
    "c.JupyterHub.hub_ip = '127.0.0.1'",
    `c.JupyterHub.hub_port = ${ports.hub}`,
    `c.JupyterHub.db_url = ${py(`sqlite:///${path.join(o.dir, 'jupyterhub.sqlite')}`)}`,
    `c.JupyterHub.cookie_secret_file = ${py(path.join(o.dir, 'jupyterhub_cookie_secret'))}`,
    `c.JupyterHub.pid_file = ${py(path.join(o.dir, 'jupyterhub.pid'))}`,
    `c.ConfigurableHTTPProxy.command = ${py([CONFIGURABLE_HTTP_PROXY])}`,
    `c.ConfigurableHTTPProxy.api_url = ${py(`http://127.0.0.1:${ports.proxyApi}`)}`,
    `c.ConfigurableHTTPProxy.auth_token = ${py(randomBytes(32).toString('hex'))}`,
    `c.ConfigurableHTTPProxy.pid_file = ${py(path.join(o.dir, 'proxy.pid'))}`,
    // No passwords: the test never logs in through the web page, it uses its API token.
    "c.JupyterHub.authenticator_class = 'jupyterhub.auth.DummyAuthenticator'",
    `c.Authenticator.allowed_users = set(${py(o.users)})`,
    "c.JupyterHub.spawner_class = 'jupyterhub.spawner.LocalProcessSpawner'",
    `c.Spawner.cmd = ${py([SINGLEUSER])}`,
    "c.Spawner.ip = '127.0.0.1'",
    `c.Spawner.start_timeout = ${o.startTimeoutS ?? 120}`,
    `c.Spawner.http_timeout = ${o.startTimeoutS ?? 120}`,
    `c.Spawner.environment = ${py({ JUPYTERHUB_SINGLEUSER_APP: 'notebook.notebookapp.NotebookApp', ...o.environment })}`,
    `c.JupyterHub.services = [{'name': ${py(SERVICE)}, 'api_token': ${py(token)}}]`,
    'c.JupyterHub.load_roles = [',
    `    {'name': ${py(SERVICE)}, 'scopes': ['admin:users', 'admin:servers', 'access:servers'], 'services': [${py(SERVICE)}]},`,
    ']',
    'c.JupyterHub.cleanup_servers = True',
    '',
  ].join('\n');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether `pid` is still the proxy (and not a process that got its pid since). */
function isProxy(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('configurable-http-proxy');
  } catch {
    return false;
  }
}

/** SIGTERM to the process group `pgid`, SIGKILL after `graceMs` if any of it is left. */
function endGroup(pgid: number, graceMs: number): void {
  try {
    process.kill(-pgid, 'SIGTERM');
  } catch {
    return; // no such group any more
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && alive(-pgid)) spawnSync('sleep', ['0.1']);
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // Ended in time.
  }
}

async function waitForHub(url: string, hub: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (hub.exitCode !== null || hub.signalCode !== null)
      throw new Error(`jupyterhub exited (${hub.exitCode ?? hub.signalCode}) before it answered:\n${log().slice(-4000)}`);
    try {
      const response = await fetch(`${url}hub/api/`);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`jupyterhub did not answer on ${url}hub/api/ within ${timeoutMs / 1000} s:\n${log().slice(-4000)}`);
}

/** Writes the config into `o.dir` and starts the hub; resolves once its API answers through the proxy. */
export async function startHub(o: HubOptions): Promise<RunningHub> {
  const ports = { public: await freePort(), hub: await freePort(), proxyApi: await freePort() };
  const token = randomBytes(32).toString('hex');
  const config = path.join(o.dir, 'jupyterhub_config.py');
  fs.writeFileSync(config, hubConfig(o, ports, token), { mode: 0o600 });
  const logFile = path.join(o.dir, 'jupyterhub.log');
  const logFd = fs.openSync(logFile, 'a');
  const hub = spawn(JUPYTERHUB, ['--config', config], {
    cwd: o.dir,
    detached: true,
    stdio: ['ignore', logFd, logFd],
    // A plain environment: nothing of the test runner's (TSLAB_DL_CACHE, a pyenv PATH) reaches the servers.
    // NODE_PATH: the proxy (Debian's package) requires its modules from /usr/share/nodejs, which
    // Debian's node searches by itself but a NodeSource node in /usr/bin does not.
    env: {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      LANG: 'C.UTF-8',
      HOME: '/root',
      NODE_PATH: '/usr/share/nodejs',
    },
  });
  fs.closeSync(logFd);
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  const url = `http://127.0.0.1:${ports.public}/`;
  const stop = () => {
    const proxyPidFile = path.join(o.dir, 'proxy.pid');
    const proxyPid = fs.existsSync(proxyPidFile) ? Number(fs.readFileSync(proxyPidFile, 'utf8').trim()) : NaN;
    if (hub.pid !== undefined) endGroup(hub.pid, 10_000);
    // The hub stops the proxy when it exits cleanly; when it did not, the proxy is still there.
    if (Number.isInteger(proxyPid) && proxyPid > 1 && isProxy(proxyPid)) endGroup(proxyPid, 2_000);
  };
  try {
    await waitForHub(url, hub, log, 60_000);
  } catch (e) {
    stop();
    throw e;
  }
  return { url, token, log, stop };
}
