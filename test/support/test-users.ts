/**
 * Test support: local Unix users that a test creates (as root) and removes again, with every
 * process they own. Names are `tsdl-<test pid>-<n>` with a fixed comment, so a later run can tell
 * users a crashed run left behind (their pid is gone) from anyone else's.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The comment (GECOS field) every test user carries: only users with it are ever removed. */
const COMMENT = 'tslab-dl test user';
const NAME = /^tsdl-(\d+)-\d+$/;

/** A user the test created. */
export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** The passwd entry of `name`, or undefined when there is none. */
function passwdEntry(name: string): { uid: number; gid: number; comment: string; home: string } | undefined {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) return undefined;
  const [, , uid, gid, comment, home] = line.split(':');
  return { uid: Number(uid), gid: Number(gid), comment, home };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Creates `count` users with home folders (`useradd --create-home`), named after this process;
 * their homes go under `homesFolder` when given (else useradd's default, /home).
 */
export function createTestUsers(count: number, homesFolder?: string): TestUser[] {
  const users: TestUser[] = [];
  try {
    for (let n = 1; n <= count; n++) {
      const name = `tsdl-${process.pid}-${n}`;
      const base = homesFolder ? ['--base-dir', homesFolder] : [];
      run('useradd', ['--create-home', ...base, '--shell', '/bin/bash', '--comment', COMMENT, name]);
      const entry = passwdEntry(name)!;
      users.push({ name, uid: entry.uid, gid: entry.gid, home: entry.home });
    }
  } catch (e) {
    removeTestUsers(users);
    throw e;
  }
  return users;
}

/** The pids of the processes whose real uid is one of `uids`. */
export function processesOf(uids: number[]): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = fs.readFileSync(path.join('/proc', entry, 'status'), 'utf8');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      if (uids.includes(uid)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** Sends SIGKILL to every process the users own, until none is left (a few rounds: they may fork). */
export function killProcessesOf(uids: number[]): void {
  for (let round = 0; round < 20; round++) {
    const pids = processesOf(uids);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    spawnSync('sleep', ['0.1']);
  }
}

/**
 * Removes the users, their processes, home folders and mail spools (`userdel --remove`). Never
 * throws: it runs in cleanup; what it could not remove it returns as messages.
 */
export function removeTestUsers(users: TestUser[]): string[] {
  const problems: string[] = [];
  killProcessesOf(users.map((u) => u.uid));
  for (const user of users) {
    if (!passwdEntry(user.name)) continue;
    const r = spawnSync('userdel', ['--remove', user.name], { encoding: 'utf8' });
    // userdel exits 12 when only the mail spool was missing; the user is gone all the same.
    if (passwdEntry(user.name)) problems.push(`userdel --remove ${user.name} failed (exit ${r.status}): ${r.stderr}`);
    if (fs.existsSync(user.home)) fs.rmSync(user.home, { recursive: true, force: true });
  }
  return problems;
}

/** Removes the test users an earlier run left behind when it was killed (its pid is no longer alive). */
export function removeStaleTestUsers(): void {
  const stale: TestUser[] = [];
  for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [name, , uid, gid, comment, home] = line.split(':');
    const match = NAME.exec(name ?? '');
    if (match && comment === COMMENT && !isAlive(Number(match[1]))) stale.push({ name, uid: Number(uid), gid: Number(gid), home });
  }
  removeTestUsers(stale);
}

/** Runs `command` as `user` (runuser, no login shell); its exit status and output. */
export function runAs(user: TestUser, command: string[]): { status: number | null; output: string } {
  const r = spawnSync('runuser', ['-u', user.name, '--', ...command], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/**
 * Lets other users traverse `folder` and every folder above it (adds o+x where it is missing), so
 * that a test user can reach a checkout under a private folder; returns the function that puts the
 * modes back, and the folders it changed. Nothing becomes listable or writable.
 */
export function lendTraversal(folder: string): { restore(): void; changed: string[] } {
  const changed: { folder: string; mode: number }[] = [];
  for (let f = path.resolve(folder); ; f = path.dirname(f)) {
    const mode = fs.statSync(f).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      fs.chmodSync(f, mode | 0o001);
      changed.push({ folder: f, mode });
    }
    if (f === path.dirname(f)) break;
  }
  return {
    changed: changed.map((c) => c.folder),
    restore: () => {
      for (const c of changed) fs.chmodSync(c.folder, c.mode);
    },
  };
}
