// The `berth` CLI end to end (issue 8's acceptance), on the real stack in
// both layouts: `berth daemon up` (one berthd) and `berth daemon up --split`
// (a process per service). Every case drives the built CLI as a user types it
// and checks what a user (or the host) would see: output, exit codes, cgroup
// files, an HTTP answer through a published port, files through bind mounts,
// events, and that a failed run leaves nothing behind.
//
// One stack per layout, shared by the cases (each names its containers and
// removes them); the stack has its own cgroup parent, bridge, subnet, chains,
// NATS and state dirs (test/support/cli-stack.ts), all removed in afterAll.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appScript, readDaemonRecord } from '@berth/daemon';
import { GRPC_SERVICE, SERVICE_NAMES, socketPath, waitServing } from '@berth/kit';
import {
  bridgePorts, cgroupDirOf, cgroupDirsUnder, mountsUnder, startCliStack, until, type CliResult, type CliStack,
} from './support/cli-stack';
import { startRegistry } from '../libs/images/src/testing/registry';

const SUBNET_BASE = 100 + (process.pid % 10); // 10.219.100-109 all-in-one, 110-119 split


/** GET http://127.0.0.1:<port><path> (loopback only): status and body. */
function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** A TCP port free on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '0.0.0.0', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const lines = (s: string) => s.split('\n').filter(Boolean);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const expectOk = (r: CliResult) => expect(r, `${r.stderr}${r.stdout}`).toMatchObject({ code: 0 });

describe.each([
  ['all-in-one', false, SUBNET_BASE],
  ['split', true, SUBNET_BASE + 10],
] as const)('berth CLI end to end (%s)', (_layout, split, subnet) => {
  let s: CliStack;
  const berth = (...args: string[]) => s.berth(args);
  /** inspect --format on one container. */
  const inspect = async (id: string, format: string) => {
    const r = await berth('inspect', '--format', format, id);
    expectOk(r);
    return r.stdout.trim();
  };
  const psNames = async () => lines((await berth('ps', '-a', '--format', '{{.Names}}')).stdout);

  beforeAll(async () => {
    s = await startCliStack(split, subnet);
    // The images service makes busybox:latest from the host's busybox at its start.
    await until('busybox image', async () => ((await berth('image', 'inspect', 'busybox')).code === 0 ? true : undefined), 30_000);
  }, 150_000);

  afterAll(async () => {
    await s?.stop();
  }, 120_000);

  it('run prints the output and returns the exit code; 126 not executable, 127 not found, 125 berth failure', async () => {
    const [three, notExec, missing, badFlag] = await Promise.all([
      berth('run', '--rm', 'busybox', 'sh', '-c', 'echo hi; exit 3'),
      berth('run', '--rm', 'busybox', '/etc/passwd'),
      berth('run', '--rm', 'busybox', 'no-such-command'),
      berth('run', '--rm', '--cpus', 'lots', 'busybox', 'true'),
    ]);
    expect(three).toEqual({ code: 3, stdout: 'hi\n', stderr: '' });
    expect(notExec.code).toBe(126);
    expect(notExec.stderr).toMatch(/Permission denied/);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/no-such-command.*No such file/);
    expect(badFlag.code).toBe(125);
    expect(badFlag.stderr).toMatch(/--cpus/);
    expect(await psNames()).toEqual([]);
  });

  it('daemon status: every service SERVING, as a table, as json, and through a template', async () => {
    const table = await berth('daemon', 'status');
    expectOk(table);
    expect(lines(table.stdout)[0]).toMatch(/^SERVICE\s+HEALTH\s+PID\s+SOCKET\s+METRICS\s+VERSION$/);
    const tmpl = await berth('daemon', 'status', '--format', '{{.Service}} {{.Health}}');
    expectOk(tmpl);
    expect(lines(tmpl.stdout).sort()).toEqual([...SERVICE_NAMES].sort().map((n) => `${n} SERVING`));
    const json = await berth('daemon', 'status', '--format', 'json');
    expectOk(json);
    const rows = lines(json.stdout).map((l) => JSON.parse(l) as { Service: string; Pid: string; Socket: string });
    expect(rows).toHaveLength(SERVICE_NAMES.length);
    for (const r of rows) expect(existsSync(r.Socket), r.Service).toBe(true);
    // One process hosts every service all-in-one; each has its own with --split.
    expect(new Set(rows.map((r) => r.Pid)).size).toBe(split ? SERVICE_NAMES.length : 1);
    const bad = await berth('daemon', 'status', '--format', '{{.Nope}}');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Nope/);
  });

  it('push --all-tags and pull --all-tags move every tag of a repository through a registry', async () => {
    const reg = await startRegistry();
    const repo = `${reg.host}/cli/bb`;
    try {
      for (const t of ['one', 'two']) expectOk(await berth('tag', 'busybox', `${repo}:${t}`));
      const pushed = await berth('push', '--all-tags', repo);
      expectOk(pushed);
      expect(pushed.stdout).toMatch(/one: digest: sha256:[0-9a-f]{64}/);
      expect(pushed.stdout).toMatch(/two: digest: sha256:[0-9a-f]{64}/);
      for (const t of ['one', 'two']) expectOk(await berth('rmi', `${repo}:${t}`));
      const pulled = await berth('pull', '-a', repo);
      expectOk(pulled);
      expect(lines(pulled.stdout).filter((l) => l.startsWith(repo))).toEqual([`${repo}:one`, `${repo}:two`]);
      expect(lines((await berth('images', repo, '--format', '{{.Tag}}')).stdout).sort()).toEqual(['one', 'two']);
      const tagged = await berth('pull', '-a', `${repo}:one`);
      expect(tagged.code).not.toBe(0);
      expect(tagged.stderr).toMatch(/tag can't be used with --all-tags\/-a/);
      const none = await berth('push', '-a', `${reg.host}/cli/nothing`);
      expect(none.code).not.toBe(0);
      expect(none.stderr).toMatch(/no local tags of .*cli\/nothing/);
    } finally {
      for (const t of ['one', 'two']) await berth('rmi', `${repo}:${t}`);
      await reg.stop();
    }
  }, 60_000);

  it('-d, then logs -f follows new lines and ends with the container; stop; rm', async () => {
    const started = await berth('run', '-d', '--name', 'follow', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do echo line$i; sleep 0.25; done');
    expectOk(started);
    const id = started.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const t0 = Date.now();
    const follow = await berth('logs', '-f', id);
    // It ran for the container's ~2 s: it saw the lines written after it started and ended at the exit.
    expect(follow.code).toBe(0);
    expect(lines(follow.stdout)).toEqual(['line1', 'line2', 'line3', 'line4', 'line5', 'line6', 'line7', 'line8']);
    expect(Date.now() - t0).toBeGreaterThan(500);
    expect(await inspect(id, '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 0');

    const sleeper = (await berth('run', '-d', '--name', 'stopme', 'busybox', 'sleep', '300')).stdout.trim();
    expect(await inspect(sleeper, '{{.State.Status}}')).toBe('running');
    expectOk(await berth('stop', '-t', '1', sleeper));
    // sleep is the container's pid 1 and has no SIGTERM handler, so the kernel drops the signal: stop escalates to SIGKILL.
    expect(await inspect(sleeper, '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 137');
    expect((await berth('rm', id, sleeper)).stdout).toBe(`${id}\n${sleeper}\n`);
    expect(await psNames()).toEqual([]);
  }, 60_000);

  it('--log-opt max-size/max-file bound the log the engine keeps; logs shows the newest lines, whole and in order', async () => {
    const r = await berth('run', '-d', '--name', 'chatty', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=2', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo line$i; done');
    expectOk(r);
    const id = r.stdout.trim();
    expect(await berth('wait', id)).toMatchObject({ code: 0, stdout: '0\n' });
    expect(JSON.parse(await inspect(id, '{{json .HostConfig.LogConfig}}'))).toEqual({ Type: 'k8s-file', Config: { 'max-size': '2k', 'max-file': '2' } });
    const logPath = await inspect(id, '{{.LogPath}}');
    const dir = logPath.slice(0, logPath.lastIndexOf('/'));
    const base = logPath.slice(dir.length + 1);
    const files = readdirSync(dir).filter((f) => f.startsWith(base)).sort();
    expect(files).toEqual([base, `${base}.1`]);
    for (const f of files) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(2048);
    const out = lines((await berth('logs', id)).stdout);
    // ~40 bytes a record, 2 files of 2 KiB: the newest ~100 of the 400 lines, none missing in between.
    expect(out.length).toBeGreaterThan(50);
    expect(out.length).toBeLessThan(150);
    expect(out).toEqual(Array.from({ length: out.length }, (_, i) => `line${400 - out.length + 1 + i}`));
    expect(lines((await berth('logs', '--tail', '2', id)).stdout)).toEqual(['line399', 'line400']);
    const bad = await berth('run', '--rm', '--log-opt', 'max-file=0', 'busybox', 'true');
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/--log-opt.*max-file "0"/);
    expectOk(await berth('rm', id));
    expect(await psNames()).toEqual([]);
  });

  it('--rm removes the container, its root and its state, 20 quick runs with limits in a row (the old exit-125 race)', { timeout: 120_000 }, async () => {
    const label = `hammer=${s.tag}`;
    const since = String(Date.now() / 1000);
    const results: CliResult[] = [];
    for (let batch = 0; batch < 4; batch++) {
      results.push(...(await Promise.all(Array.from({ length: 5 }, () =>
        berth('run', '--rm', '-l', label, '-m', '32m', '--cpus', '0.5', 'busybox', 'sh', '-c', 'echo hi')))));
    }
    for (const r of results) expect(r).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
    // Which containers those were: the engine's own events, by label.
    const ev = await berth('events', '--since', since, '--until', String(Date.now() / 1000 + 1), '--filter', `label=${label}`, '--filter', 'event=removed', '--format', '{{.Actor.ID}}');
    expectOk(ev);
    const ids = lines(ev.stdout);
    expect(new Set(ids).size).toBe(20);
    expect(await psNames()).toEqual([]);
    const snaps = (await s.layers.List({})).snapshots.filter((x) => x.kind === 'SNAPSHOT_KIND_ACTIVE').map((x) => x.key);
    const mounts = mountsUnder(s.paths.root).join('\n');
    const stateDirs = existsSync(join(s.paths.root, 'engine', 'containers')) ? readdirSync(join(s.paths.root, 'engine', 'containers')) : [];
    for (const id of ids) {
      expect(snaps).not.toContain(id);
      expect(mounts).not.toContain(id);
      expect(stateDirs).not.toContain(id);
    }
    expect(cgroupDirsUnder(s.cgroupParent)).toEqual([]);
  });

  it('limits are in the container cgroup files and enforced (OOM kill 137, pids limit)', async () => {
    const id = (await berth('run', '-d', '--name', 'limits', '-m', '32m', '--cpus', '0.5', '--pids-limit', '20', 'busybox', 'sleep', '300')).stdout.trim();
    try {
      const pid = Number(await inspect(id, '{{.State.Pid}}'));
      expect(pid).toBeGreaterThan(0);
      const mem = cgroupDirOf(pid, 'memory');
      expect(mem).toBe(`/sys/fs/cgroup/memory/${s.cgroupParent}/${id}`);
      expect(readFileSync(join(mem, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(32 * 1024 * 1024));
      const cpu = cgroupDirOf(pid, 'cpu');
      const quota = Number(readFileSync(join(cpu, 'cpu.cfs_quota_us'), 'utf8'));
      const period = Number(readFileSync(join(cpu, 'cpu.cfs_period_us'), 'utf8'));
      expect(quota / period).toBe(0.5);
      expect(readFileSync(join(cgroupDirOf(pid, 'pids'), 'pids.max'), 'utf8').trim()).toBe('20');
    } finally {
      await berth('rm', '-f', id);
    }

    const [hog, forks] = await Promise.all([
      berth('run', '--name', 'hog', '-m', '32m', 'busybox', 'sh', '-c', 'a=xxxxxxxxxxxxxxxx; while true; do a=$a$a; done'),
      // 30 background sleeps under a limit of 10 pids: the forks past the limit fail (busybox sh
      // gives up at the first, hence the subshell; pid 1 then execs, which needs no new pid).
      berth('run', '-d', '--name', 'forks', '--pids-limit', '10', 'busybox', 'sh', '-c', '(for i in $(seq 30); do sleep 60 & done) 2>/dev/null; exec sleep 60'),
    ]);
    try {
      expect(hog.code).toBe(137);
      expect(await inspect('hog', '{{.State.OOMKilled}} {{.State.ExitCode}}')).toBe('true 137');
    } finally {
      await berth('rm', '-f', 'hog');
    }
    try {
      expectOk(forks);
      const pids = cgroupDirOf(Number(await inspect('forks', '{{.State.Pid}}')), 'pids');
      // The kernel refused a fork at the limit (pids.events counts refusals), and fewer than 30 run.
      await until('a refused fork', () => (Number(/max (\d+)/.exec(readFileSync(join(pids, 'pids.events'), 'utf8'))?.[1]) > 0 ? true : undefined));
      const current = Number(readFileSync(join(pids, 'pids.current'), 'utf8'));
      expect(current).toBeGreaterThan(1);
      expect(current).toBeLessThanOrEqual(10);
    } finally {
      await berth('rm', '-f', 'forks');
    }
  }, 60_000);

  it('-p hostPort:80 reaches a busybox httpd from the host on 127.0.0.1; -p hostRange:80 takes the first free port of the range', async () => {
    const www = mkdtempSync(join(tmpdir(), 'berth-www-'));
    writeFileSync(join(www, 'index.html'), `hello from ${s.tag}\n`);
    const port = await freePort();
    const id = (await berth('run', '-d', '--name', 'web', '-p', `${port}:80`, '-v', `${www}:/www:ro`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www')).stdout.trim();
    try {
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      const res = await until('httpd answer', async () => httpGet(port, '/index.html').catch(() => undefined), 10_000);
      expect(res).toEqual({ status: 200, body: `hello from ${s.tag}\n` });
      expect((await berth('port', id, '80')).stdout).toContain(`0.0.0.0:${port}`);
      // A host range for one container port: the first free port of it (the first one is web's).
      const r = await berth('run', '-d', '--name', 'web2', '-p', `127.0.0.1:${port}-${port + 20}:80`, '-v', `${www}:/www:ro`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www');
      expectOk(r);
      const id2 = r.stdout.trim();
      const chosen = Number(/127\.0\.0\.1:(\d+)/.exec((await berth('port', id2, '80')).stdout)?.[1]);
      expect(chosen).toBeGreaterThan(port);
      expect(chosen).toBeLessThanOrEqual(port + 20);
      expect(JSON.parse(await inspect(id2, '{{json .HostConfig.PortBindings}}'))).toEqual({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: `${port}-${port + 20}` }] });
      expect(await until('httpd on the chosen port', async () => httpGet(chosen, '/index.html').catch(() => undefined), 10_000)).toMatchObject({ status: 200 });
    } finally {
      await berth('rm', '-f', id, 'web2');
      rmSync(www, { recursive: true, force: true });
    }
  }, 30_000);

  it('-v /hostdir:/data:ro is read-only inside; the rw variant writes through', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-vol-'));
    try {
      writeFileSync(join(dir, 'in.txt'), 'from host\n');
      const [ro, rw] = await Promise.all([
        berth('run', '--rm', '-v', `${dir}:/data:ro`, 'busybox', 'sh', '-c', 'cat /data/in.txt; echo no > /data/ro.txt'),
        berth('run', '--rm', '-v', `${dir}:/data`, 'busybox', 'sh', '-c', 'echo from container > /data/rw.txt'),
      ]);
      expect(ro.stdout).toBe('from host\n');
      expect(ro.code).not.toBe(0);
      expect(ro.stderr).toMatch(/Read-only file system/);
      expect(existsSync(join(dir, 'ro.txt'))).toBe(false);
      expectOk(rw);
      expect(readFileSync(join(dir, 'rw.txt'), 'utf8')).toBe('from container\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exec into a running container: output, exit code, -e, -w, -u', async () => {
    const id = (await berth('run', '-d', '--name', 'execme', 'busybox', 'sleep', '300')).stdout.trim();
    try {
      const [out, env, wd, user, missing] = await Promise.all([
        berth('exec', id, 'sh', '-c', 'echo out; echo err >&2; exit 4'),
        berth('exec', '-e', 'FOO=bar', id, 'sh', '-c', 'echo $FOO'),
        berth('exec', '-w', '/tmp', id, 'pwd'),
        berth('exec', '-u', 'nobody', id, 'id', '-u'),
        berth('exec', id, 'no-such-command'),
      ]);
      expect(out).toEqual({ code: 4, stdout: 'out\n', stderr: 'err\n' });
      expect(env).toEqual({ code: 0, stdout: 'bar\n', stderr: '' });
      expect(wd).toEqual({ code: 0, stdout: '/tmp\n', stderr: '' });
      expect(user).toEqual({ code: 0, stdout: '65534\n', stderr: '' });
      expect(missing.code).toBe(127);
    } finally {
      await berth('rm', '-f', id);
    }
  }, 30_000);

  it('pause/unpause: state in ps and inspect, and a counting loop stops while paused', async () => {
    const id = (await berth('run', '-d', '--name', 'counter', 'busybox', 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i; sleep 0.1; done')).stdout.trim();
    const count = async () => lines((await berth('logs', id)).stdout).length;
    try {
      await until('counting', async () => ((await count()) >= 3 ? true : undefined));
      expectOk(await berth('pause', id));
      expect(await inspect(id, '{{.State.Status}} {{.State.Paused}}')).toBe('paused true');
      expect((await berth('ps', '--filter', 'name=counter', '--format', '{{.Status}}')).stdout).toMatch(/\(Paused\)/);
      const frozen = await count();
      await sleep(1000);
      expect(await count()).toBe(frozen);
      expectOk(await berth('unpause', id));
      expect(await inspect(id, '{{.State.Status}} {{.State.Paused}}')).toBe('running false');
      await until('counting again', async () => ((await count()) > frozen + 2 ? true : undefined));
    } finally {
      await berth('rm', '-f', id);
    }
  }, 30_000);

  it('--restart on-failure:3 restarts a failing container exactly three times, then it stays exited', async () => {
    const id = (await berth('run', '-d', '--name', 'flaky', '--restart', 'on-failure:3', 'busybox', 'sh', '-c', 'echo attempt; exit 1')).stdout.trim();
    try {
      await until('three restarts', async () => ((await inspect(id, '{{.State.Status}} {{.RestartCount}}')) === 'exited 3' ? true : undefined), 20_000);
      await sleep(1500); // no fourth
      expect(await inspect(id, '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}')).toBe('exited 3 1');
      expect(lines((await berth('logs', id)).stdout)).toEqual(['attempt', 'attempt', 'attempt', 'attempt']);
    } finally {
      await berth('rm', '-f', id);
    }
  }, 40_000);

  it('commit, then run the new image: the change is there', { timeout: 30_000 }, async () => {
    const ref = `berth-e2e/committed:${s.tag}`;
    const made = await berth('run', '--name', 'tocommit', 'busybox', 'sh', '-c', 'echo changed > /hello.txt');
    expectOk(made);
    try {
      const c = await berth('commit', 'tocommit', ref);
      expectOk(c);
      expect(c.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(await berth('run', '--rm', ref, 'cat', '/hello.txt')).toEqual({ code: 0, stdout: 'changed\n', stderr: '' });
      // The base image is untouched.
      expect((await berth('run', '--rm', 'busybox', 'cat', '/hello.txt')).code).not.toBe(0);
    } finally {
      await berth('rm', '-f', 'tocommit');
      await berth('image', 'rm', ref);
    }
  });

  it('berth events (--filter, --since/--until) sees the lifecycle as the engine names it', async () => {
    const since = String(Date.now() / 1000);
    const live = s.spawnBerth(['events', '--filter', 'event=die', '--format', '{{.Action}} {{.Actor.Attributes.name}}']);
    try {
      await sleep(1000); // subscribed
      const id = (await berth('run', '-d', '--name', 'evented', 'busybox', 'sh', '-c', 'exit 5')).stdout.trim();
      expect((await berth('wait', id)).stdout).toBe('5\n');
      expectOk(await berth('rm', id));
      const ev = await berth('events', '--since', since, '--until', String(Date.now() / 1000 + 0.5), '--filter', `container=${id}`, '--format', '{{.Type}} {{.Action}}');
      expectOk(ev);
      expect(lines(ev.stdout)).toEqual(['container created', 'container started', 'container die', 'container exited', 'container removed']);
      await until('live die event', () => (live.stdout().includes('die evented') ? true : undefined), 10_000);
      expect(live.stdout()).toMatch(/^die evented/m);
    } finally {
      live.child.kill('SIGINT');
      await live.result;
    }
  }, 30_000);

  it('kill -9 of the engine while containers run: after a restart ps, logs and wait tell the truth', async () => {
    const ends = (await berth('run', '-d', '--name', 'ends', 'busybox', 'sh', '-c', 'echo before; sleep 2; echo after; exit 7')).stdout.trim();
    const lives = (await berth('run', '-d', '--name', 'lives', 'busybox', 'sh', '-c', 'echo up; sleep 300')).stdout.trim();
    try {
      const record = readDaemonRecord(s.paths)!;
      const victim = split ? record.processes.find((p) => p.name === 'engine')! : record.processes[0]!;
      process.kill(victim.pid, 'SIGKILL');
      await until('engine gone', () => (existsSync(`/proc/${victim.pid}`) ? undefined : true));
      // `ends` exits while nobody is there to see it.
      await sleep(3500);
      if (split) {
        const child = spawn(process.execPath, [appScript('engine')], { env: s.env, stdio: 'ignore', detached: true });
        child.unref();
        record.processes = record.processes.map((p) => (p.name === 'engine' ? { ...p, pid: child.pid! } : p));
        writeFileSync(join(s.paths.run, 'daemon.json'), JSON.stringify(record));
        await waitServing([`unix:${socketPath('engine', s.paths)}`], GRPC_SERVICE.engine, 30_000);
      } else {
        const up = await s.berth(['daemon', 'up'], { timeoutMs: 90_000 });
        expect(up.code, up.stderr).toBe(0);
      }
      s.reconnect();
      await until('recovered state', async () => ((await inspect(ends, '{{.State.Status}}')) === 'exited' ? true : undefined), 20_000);
      expect(await inspect(ends, '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 7');
      expect(await inspect(lives, '{{.State.Status}}')).toBe('running');
      expect((await berth('wait', ends)).stdout).toBe('7\n');
      expect(lines((await berth('logs', ends)).stdout)).toEqual(['before', 'after']);
      expect(lines((await berth('logs', lives)).stdout)).toEqual(['up']);
      const ps = await berth('ps', '-a', '--format', '{{.Names}} {{.Status}}');
      expect(ps.stdout).toMatch(/^ends Exited \(7\)/m);
      expect(ps.stdout).toMatch(/^lives Up/m);
      // The live one is still watched: its exit is seen and wait returns it.
      const waiting = berth('wait', lives);
      expectOk(await berth('kill', lives));
      expect((await waiting).stdout).toBe('137\n');
    } finally {
      await berth('rm', '-f', ends, lives);
    }
  }, 120_000);

  describe('a failure at each Run step leaves nothing behind (exit 125, a clear message)', () => {
    let held: Server | undefined;
    let heldPort = 0;
    beforeAll(async () => {
      heldPort = await freePort();
      held = createServer();
      await new Promise<void>((r) => held!.listen(heldPort, '0.0.0.0', r));
    });
    afterAll(async () => {
      await new Promise((r) => held?.close(r));
    });

    /** Everything a container could leave behind, in this stack. */
    const hostState = async () => ({
      containers: await psNames(),
      snapshots: (await s.layers.List({})).snapshots.filter((x) => x.kind === 'SNAPSHOT_KIND_ACTIVE').map((x) => x.key).sort(),
      mounts: mountsUnder(s.paths.root).sort(),
      cgroups: cgroupDirsUnder(s.cgroupParent),
      processes: (await s.namespaces.List({})).containers.map((c) => c.id).sort(),
      veths: bridgePorts(s.bridge),
      attachments: (await s.networks.ListAttachments({ containerId: '' })).attachments.map((a) => `${a.containerId} ${a.ip}`).sort(),
      stateDirs: existsSync(join(s.paths.root, 'engine', 'containers')) ? readdirSync(join(s.paths.root, 'engine', 'containers')).sort() : [],
      volumes: lines((await berth('volume', 'ls', '-q')).stdout).sort(),
    });

    const cases: [step: string, args: () => string[], message: RegExp][] = [
      ['resolveImage', () => ['--pull', 'never', 'berth-e2e/no-such-image:1', 'true'], /resolveImage: image berth-e2e\/no-such-image:1 is not present locally/],
      ['prepareRoot', () => ['-l', 'berth.test.failpoint=prepareRoot', 'busybox', 'true'], /prepareRoot: injected failure/],
      ['prepareVolumes (failpoint)', () => ['-l', 'berth.test.failpoint=prepareVolumes', '-v', '/data', 'busybox', 'true'], /prepareVolumes: injected failure/],
      ['mountRoot (failpoint)', () => ['-l', 'berth.test.failpoint=mountRoot', 'busybox', 'true'], /mountRoot: injected failure/],
      // (An offline CPU in --cpuset-cpus no longer gets this far: the engine refuses it at create.)
      ['createCgroup (failpoint)', () => ['-l', 'berth.test.failpoint=createCgroup', 'busybox', 'true'], /createCgroup: injected failure/],
      ['createProcess', () => ['-u', 'no-such-user', 'busybox', 'true'], /createProcess: unable to find user no-such-user/],
      ['createProcess (failpoint)', () => ['-l', 'berth.test.failpoint=createProcess', 'busybox', 'true'], /createProcess: injected failure/],
      ['attachNetwork', () => ['-p', `${heldPort}:80`, 'busybox', 'true'], new RegExp(`attachNetwork: .*${heldPort}`)],
      ['connectNetworks (failpoint)', () => ['-l', 'berth.test.failpoint=connectNetworks', 'busybox', 'true'], /connectNetworks: injected failure/],
      ['bindHostsResolv', () => ['-l', 'berth.test.failpoint=bindHostsResolv', 'busybox', 'true'], /bindHostsResolv: injected failure/],
      ['start', () => ['-l', 'berth.test.failpoint=start', '-p', '80', 'busybox', 'true'], /start: injected failure/],
    ];

    it.each(cases)('%s', async (_step, args, message) => {
      // A network attached before: the failed one must release what it took next to it.
      const neighbour = (await berth('run', '-d', '--name', 'neighbour', 'busybox', 'sleep', '300')).stdout.trim();
      try {
        const before = await hostState();
        for (const mode of [['--rm'], ['-d', '--rm']]) {
          const r = await berth('run', ...mode, '--name', 'doomed', ...args());
          expect(r.code, r.stderr).toBe(125);
          expect(r.stderr).toMatch(message);
          expect(r.stdout).toBe('');
          expect(await hostState()).toEqual(before);
        }
        // The baseline sees the neighbour, so an equal "after" is not a blind spot.
        expect(before.containers).toEqual(['neighbour']);
        expect(before.attachments).toEqual([expect.stringMatching(new RegExp(`^${neighbour} 10\\.219\\.${subnet}\\.\\d+$`))]);
        expect(before.veths).toHaveLength(1);
        expect(before.processes).toEqual([neighbour]);
        expect(before.snapshots).toEqual([neighbour]);
      } finally {
        await berth('rm', '-f', neighbour);
      }
    }, 60_000);
  });
});
