// The real docker CLI (/usr/local/bin/docker, 28.x) against berth's Docker
// Engine API gateway, in both layouts: DOCKER_HOST=unix://<run>/docker.sock
// is all it gets. Each case is an everyday flow a Docker user types, checked
// by what they would see: output, exit codes, ps columns, events, files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCliStack, until, type CliResult, type CliStack } from './support/cli-stack';
import { startRegistry } from '../libs/images/src/testing/registry';

const DOCKER = '/usr/local/bin/docker';
const SUBNET_BASE = 170 + (process.pid % 5); // 10.219.170-174 all-in-one, 175-179 split (+50 and 10.218.<same> for networks the cases create)

const lines = (s: string) => s.split('\n').filter(Boolean);
const expectOk = (r: CliResult) => expect(r, `${r.stderr}${r.stdout}`).toMatchObject({ code: 0 });

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '0.0.0.0', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

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

describe.each([
  ['all-in-one', false, SUBNET_BASE],
  ['split', true, SUBNET_BASE + 5],
] as const)('docker CLI through the Docker API gateway (%s)', (_layout, split, subnet) => {
  let s: CliStack;
  let env: NodeJS.ProcessEnv;
  let home: string;

  /** Runs the docker CLI (a program, or `script` around it for a real terminal); killed after timeoutMs. */
  const run = (file: string, args: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> =>
    new Promise((resolve) => {
      const child = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      if (o.input !== undefined) child.stdin.end(o.input);
      else child.stdin.end();
      const t = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
      child.on('close', (code, signal) => {
        clearTimeout(t);
        resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
      });
    });
  const docker = (...args: string[]) => run(DOCKER, args);
  /** `docker args` under a pseudo-terminal (util-linux script), typing `input`. */
  const dockerTty = (args: string[], input: string) =>
    run('script', ['-qec', [DOCKER, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' '), '/dev/null'], { input });

  beforeAll(async () => {
    s = await startCliStack(split, subnet);
    home = mkdtempSync(join(tmpdir(), 'berth-docker-home-'));
    env = { ...s.env, DOCKER_HOST: `unix://${s.paths.run}/docker.sock`, DOCKER_CONFIG: join(home, '.docker'), HOME: home };
    await until('busybox image', async () => ((await docker('image', 'inspect', 'busybox')).code === 0 ? true : undefined), 30_000);
  }, 150_000);

  afterAll(async () => {
    await s?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  }, 120_000);

  it('version and info: the server is berth speaking API 1.41', async () => {
    const v = await docker('version', '--format', '{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Client.APIVersion}}');
    expectOk(v);
    expect(v.stdout.trim()).toBe('1.41 1.24 1.41');
    const i = await docker('info', '--format', '{{.OSType}} {{.Driver}} {{.NCPU}}');
    expectOk(i);
    expect(i.stdout.trim()).toMatch(/^linux overlay \d+$/);
    expect(existsSync(join(s.paths.run, 'docker.sock'))).toBe(true);
  });

  it('run in the foreground: output on stdout and stderr, the exit code, and --rm leaves nothing', async () => {
    const r = await docker('run', '--rm', '--label', 'case=fg', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3');
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toContain('err\n');
    expect(lines((await docker('ps', '-aq', '--filter', 'label=case=fg')).stdout)).toEqual([]);
    // A command that exits at once: its output is not lost to the race with the attach.
    const quick = await Promise.all([1, 2, 3].map((n) => docker('run', '--rm', 'busybox', 'echo', `quick${n}`)));
    expect(quick.map((q) => `${q.code} ${q.stdout}`)).toEqual(['0 quick1\n', '0 quick2\n', '0 quick3\n']);
    const missing = await docker('run', '--rm', 'busybox', 'no-such-command');
    expect(missing.code).toBe(127);
  });

  it('run -i forwards stdin; the client closing stdin does not cut the output', async () => {
    const r = await run(DOCKER, ['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; sleep 0.3; echo after-eof'], { input: 'line1\nline2\n' });
    expectOk(r);
    expect(r.stdout).toBe('line1\nline2\nafter-eof\n');
  });

  it('run -it with a real terminal: a shell reads what is typed and exits with its code', async () => {
    const r = await dockerTty(['run', '-it', '--rm', 'busybox', 'sh'], 'tty; echo in-tty $((6*7))\nexit 5\n');
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(r.stdout).toContain('in-tty 42');
  });

  it('--cap-drop ALL: the container and a docker exec in it have no capability at all (CapBnd, CapPrm, CapEff 0); --cap-drop ALL --cap-add CHOWN has just CHOWN', async () => {
    const caps = "grep -E '^Cap(Prm|Eff|Bnd)' /proc/self/status";
    const zero = 'CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n';
    const init = await docker('run', '--rm', '--network', 'none', '--cap-drop', 'ALL', 'busybox', 'sh', '-c', caps);
    expectOk(init);
    expect(init.stdout).toBe(zero);
    const d = await docker('run', '-d', '--name', 'nocaps', '--network', 'none', '--cap-drop', 'ALL', 'busybox', 'sleep', '600');
    expectOk(d);
    try {
      const e = await docker('exec', 'nocaps', 'sh', '-c', caps);
      expectOk(e);
      expect(e.stdout).toBe(zero);
      // Without CAP_CHOWN even root cannot give a file away.
      const chown = await docker('exec', 'nocaps', 'sh', '-c', 'touch /tmp/f && chown 1000 /tmp/f');
      expect(chown.code).not.toBe(0);
      expect(chown.stderr).toContain('Operation not permitted');
    } finally {
      await docker('rm', '-f', 'nocaps');
    }
    const chownOnly = await docker('run', '--rm', '--network', 'none', '--cap-drop', 'ALL', '--cap-add', 'CHOWN', 'busybox', 'sh', '-c', "grep '^CapEff' /proc/self/status");
    expectOk(chownOnly);
    expect(chownOnly.stdout).toBe('CapEff:\t0000000000000001\n');
  });

  it('run -d -p, ps shows the ports with their host address, the port answers, exec, stats, inspect, top, rm -f', async () => {
    const port = await freePort();
    const www = mkdtempSync(join(tmpdir(), 'berth-docker-www-'));
    try {
      writeFileSync(join(www, 'index.html'), 'hello from berth\n');
      const d = await docker('run', '-d', '--name', 'web', '-p', `${port}:80`, '-p', '127.0.0.1::81', '-v', `${www}:/www:ro`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www');
      expectOk(d);
      const id = d.stdout.trim();
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      const ps = await docker('ps', '--filter', 'name=web', '--format', '{{.Names}}|{{.Ports}}|{{.Status}}');
      expectOk(ps);
      expect(ps.stdout).toMatch(new RegExp(`^web\\|0\\.0\\.0\\.0:${port}->80/tcp, 127\\.0\\.0\\.1:\\d+->81/tcp\\|Up `));
      await until('httpd answering', async () => (await httpGet(port, '/index.html').catch(() => undefined))?.body === 'hello from berth\n' ? true : undefined);
      const portOut = await docker('port', 'web', '81');
      expect(portOut.stdout).toMatch(/^127\.0\.0\.1:\d+\n$/);

      const ex = await docker('exec', 'web', 'sh', '-c', 'echo exec-out; exit 7');
      expect(ex.code).toBe(7);
      expect(ex.stdout).toBe('exec-out\n');
      const exIn = await run(DOCKER, ['exec', '-i', 'web', 'cat'], { input: 'piped\n' });
      expect(exIn.stdout).toBe('piped\n');
      const exTty = await dockerTty(['exec', '-it', 'web', 'sh'], 'tty; echo x$((2+3))\nexit 4\n');
      expect(exTty.code).toBe(4);
      expect(exTty.stdout).toMatch(/\/dev\/pts\/\d+/);
      expect(exTty.stdout).toContain('x5');

      const stats = await docker('stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}} {{.MemUsage}}', 'web');
      expectOk(stats);
      expect(stats.stdout).toMatch(/^web [1-9]\d* \d/);
      const ins = await docker('inspect', '--format', '{{.Name}} {{.State.Running}} {{.Config.Image}} {{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}', 'web');
      expect(ins.stdout.trim()).toBe(`/web true busybox ${port}`);
      const top = await docker('top', 'web');
      expect(top.stdout).toMatch(/httpd -f -p 80/);

      expectOk(await docker('rm', '-f', 'web'));
      expect(lines((await docker('ps', '-aq', '--filter', 'name=^web$')).stdout)).toEqual([]);
      const gone = await docker('inspect', 'web');
      expect(gone.code).toBe(1);
      expect(gone.stderr).toMatch(/no such (container|object)/i);
    } finally {
      await docker('rm', '-f', 'web');
      rmSync(www, { recursive: true, force: true });
    }
  });

  it('logs -f follows until the container exits; logs --tail -t; wait; start; stop; restart', async () => {
    const d = await docker('run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'for i in 1 2 3 4; do echo t$i; sleep 0.3; done; exit 2');
    expectOk(d);
    try {
      const f = await docker('logs', '-f', 'ticker');
      expectOk(f);
      expect(f.stdout).toBe('t1\nt2\nt3\nt4\n');
      const w = await docker('wait', 'ticker');
      expect(w.stdout.trim()).toBe('2');
      const tail = await docker('logs', '--tail', '1', '-t', 'ticker');
      expect(tail.stdout).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z t4\n$/);
      expectOk(await docker('start', 'ticker'));
      expectOk(await docker('stop', '-t', '1', 'ticker'));
      const st = await docker('inspect', '--format', '{{.State.Status}}', 'ticker');
      expect(st.stdout.trim()).toBe('exited');
    } finally {
      await docker('rm', '-f', 'ticker');
    }
  });

  it('events: create, start, die and destroy in Docker\'s words', async () => {
    const ev = spawn(DOCKER, ['events', '--filter', 'container=evme', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'], { env });
    let out = '';
    ev.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      await new Promise((r) => setTimeout(r, 500));
      const r = await docker('run', '--rm', '--name', 'evme', 'busybox', 'true');
      expectOk(r);
      await until('destroy event', () => (out.includes('destroy') ? true : undefined), 15_000);
      // container= passes the container's own events only (its network connect's actor is the network), as Docker's filter.
      expect(lines(out)).toEqual(['container create evme', 'container start evme', 'container die evme', 'container destroy evme']);
    } finally {
      ev.kill();
    }
  });

  it('networks and volumes: create, ls, inspect, use from a container, rm', async () => {
    const net = `dnet${subnet}`;
    expectOk(await docker('network', 'create', '--subnet', `10.219.${subnet + 50}.0/24`, net));
    const vol = `dvol${subnet}`;
    try {
      expect(lines((await docker('network', 'ls', '--format', '{{.Name}}')).stdout)).toContain(net);
      const ni = await docker('network', 'inspect', '--format', '{{(index .IPAM.Config 0).Subnet}}', net);
      expect(ni.stdout.trim()).toBe(`10.219.${subnet + 50}.0/24`);
      expectOk(await docker('volume', 'create', vol));
      expect(lines((await docker('volume', 'ls', '-q')).stdout)).toContain(vol);
      const r = await docker('run', '--rm', '--network', net, '-v', `${vol}:/data`, 'busybox', 'sh', '-c', 'echo kept > /data/f; ip -4 -o addr show eth0');
      expectOk(r);
      expect(r.stdout).toContain(`10.219.${subnet + 50}.`);
      const again = await docker('run', '--rm', '-v', `${vol}:/data`, 'busybox', 'cat', '/data/f');
      expect(again.stdout).toBe('kept\n');
      const vi = await docker('volume', 'inspect', '--format', '{{.Driver}} {{.Name}}', vol);
      expect(vi.stdout.trim()).toBe(`local ${vol}`);
    } finally {
      await docker('volume', 'rm', vol);
      await docker('network', 'rm', net);
    }
    expect(lines((await docker('network', 'ls', '--format', '{{.Name}}')).stdout)).not.toContain(net);
    expect(lines((await docker('volume', 'ls', '-q')).stdout)).not.toContain(vol);
  });

  it('diff lists what a container added, changed and deleted against its image; export is its whole root without its volumes', async () => {
    const vol = `dvol-diff${subnet}`;
    const dir = mkdtempSync(join(tmpdir(), 'berth-docker-export-'));
    const r = await docker('run', '--name', 'differ', '-v', `${vol}:/vol`, 'busybox', 'sh', '-c',
      'mkdir /made && echo new > /made/f && echo more >> /etc/passwd && rm /bin/ls && echo in-volume > /vol/v');
    try {
      expectOk(r);
      const d = await docker('diff', 'differ');
      expectOk(d);
      const changes = lines(d.stdout);
      expect(changes).toEqual(expect.arrayContaining(['A /made', 'A /made/f', 'C /etc/passwd', 'C /bin', 'D /bin/ls']));
      // Only the root: the volume's mount point but nothing in it, nor the files the engine mounts (hosts, resolv.conf, hostname).
      expect(changes.filter((l) => /\/vol|\/etc\/(hosts|resolv\.conf|hostname)$/.test(l))).toEqual(['A /vol']);
      expect((await docker('diff', 'no-such-container')).stderr).toMatch(/no such container/i);

      const tarFile = join(dir, 'differ.tar');
      expectOk(await docker('export', '-o', tarFile, 'differ'));
      const names = lines((await run('tar', ['-tf', tarFile])).stdout).map((n) => n.replace(/^\.\//, '').replace(/\/$/, ''));
      expect(names).toEqual(expect.arrayContaining(['bin/busybox', 'made/f', 'etc/passwd']));
      expect(names).not.toContain('bin/ls');
      expect(names.filter((n) => n === 'vol/v')).toEqual([]);
      const passwd = await run('tar', ['-xOf', tarFile, './etc/passwd']);
      expect(passwd.stdout).toMatch(/more\n$/);
      // To stdout, as `docker export c | tar t` reads it.
      const piped = await run('sh', ['-c', `${DOCKER} export differ | tar -tf - | grep -c made/f`]);
      expect(piped.stdout.trim()).toBe('1');
    } finally {
      await docker('rm', '-f', 'differ');
      await docker('volume', 'rm', vol);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('events for images, networks and volumes in Docker\'s words; network labels (create, ls --filter, inspect); host and none listed', async () => {
    const net = `evnet${subnet}`;
    const vol = `evvol${subnet}`;
    const tag = `evtag${subnet}:1`;
    const ev = spawn(DOCKER, ['events', '--filter', 'type=image', '--filter', 'type=network', '--filter', 'type=volume',
      '--format', '{{.Type}} {{.Action}} {{.Actor.ID}}{{with .Actor.Attributes.name}} {{.}}{{end}}{{with .Actor.Attributes.container}} {{.}}{{end}}'], { env });
    let out = '';
    ev.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      await new Promise((r) => setTimeout(r, 500));
      expectOk(await docker('network', 'create', '--label', 'team=berth', '--label', 'tier', '--subnet', `10.218.${subnet}.0/24`, net));
      expectOk(await docker('volume', 'create', vol));
      const c = await docker('run', '-d', '--network', net, 'busybox', 'sleep', '300');
      expectOk(c);
      const cid = c.stdout.trim();
      expectOk(await docker('tag', 'busybox', tag));
      expectOk(await docker('rmi', tag));
      expectOk(await docker('rm', '-f', cid));
      expectOk(await docker('volume', 'rm', vol));

      expect(lines((await docker('network', 'ls', '--filter', 'label=team=berth', '--format', '{{.Name}}')).stdout)).toEqual([net]);
      expect(lines((await docker('network', 'ls', '--filter', 'label=tier', '--format', '{{.Name}}')).stdout)).toEqual([net]);
      expect(lines((await docker('network', 'ls', '--filter', 'label=team=other', '--format', '{{.Name}}')).stdout)).toEqual([]);
      expect((await docker('network', 'inspect', '--format', '{{.Labels.team}}', net)).stdout.trim()).toBe('berth');
      // Docker's predefined networks are listed and inspected, and cannot be removed.
      expect(lines((await docker('network', 'ls', '--format', '{{.Name}} {{.Driver}}')).stdout)).toEqual(expect.arrayContaining(['bridge bridge', 'host host', 'none null']));
      expect((await docker('network', 'inspect', '--format', '{{.Driver}}', 'none')).stdout.trim()).toBe('null');
      expect((await docker('network', 'rm', 'host')).stderr).toMatch(/host is a pre-defined network and cannot be removed/);
      expectOk(await docker('network', 'rm', net));

      await until('network destroy event', () => (out.includes('network destroy') ? true : undefined), 15_000);
      const got = lines(out).map((l) => l.trim());
      const netId = /^network create ([0-9a-f]{64}) /.exec(got.find((l) => l.startsWith('network create')) ?? '')?.[1];
      expect(netId).toBeDefined();
      expect(got).toEqual([
        `network create ${netId} ${net}`,
        `volume create ${vol}`,
        `network connect ${netId} ${net} ${cid}`,
        expect.stringMatching(new RegExp(`^image tag sha256:[0-9a-f]{64} ${tag}$`)),
        expect.stringMatching(new RegExp(`^image untag sha256:[0-9a-f]{64} ${tag}$`)),
        `network disconnect ${netId} ${net} ${cid}`,
        `volume destroy ${vol}`,
        `network destroy ${netId} ${net}`,
      ]);
    } finally {
      ev.kill();
      await docker('volume', 'rm', vol);
      await docker('network', 'rm', net);
    }
  });

  it('export | import round trip, commit with a label, image prune -a by label keeps what a container uses', async () => {
    const tag = `imported${subnet}:1`;
    expectOk(await docker('create', '--name', 'src-exp', 'busybox', 'true'));
    try {
      const imp = await run('sh', ['-c', `${DOCKER} export src-exp | ${DOCKER} import -m from-export - ${tag}`]);
      expectOk(imp);
      expect(imp.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
      const ran = await docker('run', '--rm', tag, '/bin/busybox', 'echo', 'from-import');
      expectOk(ran);
      expect(ran.stdout).toBe('from-import\n');
      // An URL source is refused by name, not fetched.
      const url = await docker('import', 'http://127.0.0.1:1/x.tar', 'nope:1');
      expect(url.code).not.toBe(0);
      expect(url.stderr).toMatch(/not supported by berth/);

      // Two images (their configs differ), both labelled; a container holds the second.
      expectOk(await docker('commit', '-c', 'LABEL prune=me', '-c', 'LABEL which=pruned', 'src-exp', `pruned${subnet}:1`));
      expectOk(await docker('commit', '-c', 'LABEL prune=me', '-c', 'LABEL which=kept', 'src-exp', `kept${subnet}:1`));
      expectOk(await docker('create', '--name', 'holder', `kept${subnet}:1`, 'true'));
      const pr = await docker('image', 'prune', '-af', '--filter', 'label=prune=me');
      expectOk(pr);
      const names = lines((await docker('images', '--format', '{{.Repository}}:{{.Tag}}')).stdout);
      expect(names).not.toContain(`pruned${subnet}:1`);
      expect(names).toEqual(expect.arrayContaining([`kept${subnet}:1`, 'busybox:latest', tag]));
    } finally {
      await docker('rm', '-f', 'src-exp', 'holder');
      await docker('rmi', tag, `kept${subnet}:1`, `pruned${subnet}:1`);
    }
  });

  it('cp in and out of a container', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-docker-cp-'));
    expectOk(await docker('run', '-d', '--name', 'cpme', 'busybox', 'sleep', '300'));
    try {
      writeFileSync(join(dir, 'in.txt'), 'copied in\n');
      expectOk(await docker('cp', join(dir, 'in.txt'), 'cpme:/tmp/'));
      expect((await docker('exec', 'cpme', 'cat', '/tmp/in.txt')).stdout).toBe('copied in\n');
      expectOk(await docker('cp', 'cpme:/etc/hostname', join(dir, 'out.txt')));
      expect(readFileSync(join(dir, 'out.txt'), 'utf8').trim()).toMatch(/^[0-9a-f]{12}$/);
    } finally {
      await docker('rm', '-f', 'cpme');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('images, tag, push, rmi and pull through a registry (JSON progress)', async () => {
    const reg = await startRegistry();
    const ref = `${reg.host}/docker/bb:v1`;
    try {
      expect(lines((await docker('images', '--format', '{{.Repository}}:{{.Tag}}')).stdout)).toContain('busybox:latest');
      expectOk(await docker('tag', 'busybox', ref));
      const pushed = await docker('push', ref);
      expectOk(pushed);
      expect(pushed.stdout).toMatch(/digest: sha256:[0-9a-f]{64}/);
      expectOk(await docker('rmi', ref));
      const pulled = await docker('pull', ref);
      expectOk(pulled);
      expect(pulled.stdout).toMatch(/Digest: sha256:[0-9a-f]{64}/);
      expect(lines((await docker('images', '--format', '{{.Repository}}:{{.Tag}}')).stdout)).toContain(`${reg.host}/docker/bb:v1`);
      const missing = await docker('pull', `${reg.host}/docker/nothing:here`);
      expect(missing.code).not.toBe(0);
    } finally {
      await docker('rmi', ref);
      await reg.stop();
    }
  }, 60_000);

  it('what berth does not do is refused by name, never a silent success', async () => {
    const sw = await docker('swarm', 'init');
    expect(sw.code).not.toBe(0);
    expect(sw.stderr).toMatch(/not supported by berth/);
    const priv = await docker('run', '--rm', '--ipc', 'none', 'busybox', 'true');
    expect(priv.code).not.toBe(0);
    expect(priv.stderr).toMatch(/IpcMode "none" is not supported by berth/);
    const nf = await docker('rm', 'no-such-container');
    expect(nf.code).toBe(1);
    expect(nf.stderr).toMatch(/no such container/i);
  });
});
