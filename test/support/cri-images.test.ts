// The critest fixtures: built, served, pulled by berth's images library through the hosts.toml they
// write (registry.k8s.io and gcr.io names from the local mirror), and what the specs need of each
// image checked on the unpacked rootfs (the helpers run chrooted into it); then a berth stack whose
// services get BERTH_REGISTRY_CONFIG pulls and runs them through the CLI.
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImagesLocal } from '../../libs/images/src/local';
import { UnpackLayerApplier } from '../../libs/images/src/unpack-applier';
import { chainIds } from '../../libs/images/src/digest';
import { CRI_TEST_IMAGES, startCriImageRegistry, type CriImageRegistry } from './cri-images';
import { startCliStack, type CliStack } from './cli-stack';

const SUBNET = 213; // 10.219.213.0/24: this file's

const run = promisify(execFile);
let work: string;
let fixtures: CriImageRegistry;
let opened = 0;
const locals: ImagesLocal[] = [];

/** An image store of its own (the unpacking applier keeps one tree per layer stack, so one per image). */
async function openLocal(): Promise<{ local: ImagesLocal; applier: UnpackLayerApplier }> {
  const root = join(work, `local-${opened++}`);
  const applier = new UnpackLayerApplier(join(root, 'layers'));
  const local = await ImagesLocal.open({ root: join(root, 'store'), layerApplier: applier, authConfigPath: join(root, 'auth.json'), registryConfigDir: fixtures.certsDir });
  locals.push(local);
  return { local, applier };
}

beforeAll(async () => {
  work = await fs.mkdtemp(join(tmpdir(), 'berth-cri-images-test-'));
  fixtures = await startCriImageRegistry({ certsDir: join(work, 'certs.d') });
}, 300_000);

afterAll(async () => {
  for (const l of locals) l.close();
  await fixtures?.stop();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

/** Pulls `ref` through the mirror and returns its config and unpacked rootfs. */
async function pullRootfs(ref: string) {
  const { local, applier } = await openLocal();
  await local.transfer.pull(ref);
  const info = await local.images.inspect(ref);
  const top = chainIds(info.config.rootfs.diff_ids).at(-1) as string;
  return { info, rootfs: applier.rootfsOf(top) };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

describe('critest image fixtures', () => {
  it('serves every name critest pulls through hosts.toml mirrors of registry.k8s.io and gcr.io', async () => {
    expect(await fs.readFile(join(fixtures.certsDir, 'registry.k8s.io', 'hosts.toml'), 'utf8')).toContain(`[host."http://${fixtures.host}"]`);
    expect(fixtures.images).toEqual(CRI_TEST_IMAGES);
    for (const ref of CRI_TEST_IMAGES) {
      const { local } = await openLocal();
      const rec = await local.transfer.pull(ref);
      expect(rec.name).toBe(ref);
    }
  }, 300_000);

  it('test-image-tags:1,2,3 are one image; test-image-1,2,3 are three', async () => {
    const id = async (ref: string) => (await pullRootfs(ref)).info.id;
    const tags = await Promise.all(['1', '2', '3'].map((t) => id(`gcr.io/k8s-staging-cri-tools/test-image-tags:${t}`)));
    expect(new Set(tags).size).toBe(1);
    const distinct = await Promise.all(['1', '2', '3'].map((n) => id(`gcr.io/k8s-staging-cri-tools/test-image-${n}:latest`)));
    expect(new Set(distinct).size).toBe(3);
  });

  it('the user images carry the USER critest expects, and the predefined group is in /etc/group', async () => {
    const user = async (name: string) => (await pullRootfs(`gcr.io/k8s-staging-cri-tools/${name}:latest`)).info.config.config?.User;
    expect(await user('test-image-user-uid')).toBe('1002');
    expect(await user('test-image-user-username')).toBe('www-data');
    expect(await user('test-image-user-uid-group')).toBe('1003:users');
    expect(await user('test-image-user-username-group')).toBe('www-data:www-data');
    const { info, rootfs } = await pullRootfs('gcr.io/k8s-staging-cri-tools/test-image-predefined-group:latest');
    expect(info.config.config?.User).toBe('1000');
    expect(await fs.readFile(join(rootfs, 'etc/group'), 'utf8')).toContain('group-defined-in-image:x:50000:default-user\n');
    expect(await fs.readFile(join(rootfs, 'etc/passwd'), 'utf8')).toContain('default-user:x:1000:1000:');
  });

  it('busybox has the commands the specs run, including pgrep and ipcs -m (the chroot has no /proc: their output is checked in the CRI suite)', async () => {
    const { info, rootfs } = await pullRootfs('registry.k8s.io/e2e-test-images/busybox:1.29-2');
    expect(info.config.config?.Cmd).toEqual(['sh']);
    const { stdout } = await run('chroot', [rootfs, 'sh', '-c', 'echo -n hello; id -nu; hostname >/dev/null && echo ok; ipcs -m 2>/dev/null | head -1; test -x /usr/bin/pgrep && echo pgrep-ok']);
    expect(stdout).toBe('helloroot\nok\n------ Shared Memory Segments --------\npgrep-ok\n');
    // As in busybox's image: applets are hard links (masking /bin/ls must not mask the shell through
    // a symlink), and sh runs commands from PATH, not its own applets (a masked /bin/ls cannot run).
    const ls = await fs.lstat(join(rootfs, 'bin/ls'));
    expect(ls.isFile() && ls.nlink > 1).toBe(true);
    const noPath = await run('chroot', [rootfs, '/bin/sh', '-c', 'PATH=/nowhere; ls /']).catch((e: { code: number; stderr: string }) => e);
    expect(noPath).toMatchObject({ code: 127, stderr: '/bin/sh: ls: not found\n' });
  });

  it('nonewprivs: nnp is setuid root, prints the effective uid, and no_new_privs keeps it', async () => {
    const { info, rootfs } = await pullRootfs('registry.k8s.io/e2e-test-images/nonewprivs:1.3');
    expect(info.config.config?.Entrypoint).toEqual(['/usr/local/bin/nnp']);
    const st = await fs.stat(join(rootfs, 'usr/local/bin/nnp'));
    expect(st.uid).toBe(0);
    expect(st.mode & 0o4000).toBe(0o4000);
    const escalated = await run('chroot', ['--userspec=1000:1000', rootfs, '/usr/local/bin/nnp']);
    expect(escalated.stdout).toBe('Effective uid: 0\n');
    const kept = await run('setpriv', ['--no-new-privs', 'chroot', '--userspec=1000:1000', rootfs, '/usr/local/bin/nnp']);
    expect(kept.stdout).toBe('Effective uid: 1000\n');
  });

  it('nginx answers HTTP, writes /var/run/nginx.pid and shows the master process title', async () => {
    const { info, rootfs } = await pullRootfs('registry.k8s.io/e2e-test-images/nginx:1.14-2');
    expect(info.config.config?.Cmd).toEqual(['nginx', '-g', 'daemon off;']);
    const port = await freePort();
    const child = spawn('chroot', [rootfs, '/usr/sbin/nginx', String(port)], { stdio: 'ignore' });
    try {
      let res: Response | undefined;
      for (let i = 0; i < 100 && !res; i++) {
        res = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
        if (!res) await new Promise((r) => setTimeout(r, 50));
      }
      expect(res?.status).toBe(200);
      expect(await res?.text()).toContain('Welcome to nginx!');
      const pid = (await fs.readFile(join(rootfs, 'var/run/nginx.pid'), 'utf8')).trim();
      expect(pid).toBe(String(child.pid));
      expect(await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).toContain('nginx: master process');
      expect((await fs.readFile(`/proc/${pid}/comm`, 'utf8')).trim()).toBe('nginx');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('httpd serves its index page and logs a line naming httpd', async () => {
    const { info, rootfs } = await pullRootfs('registry.k8s.io/e2e-test-images/httpd:2.4.39-4');
    expect(info.config.config?.Cmd?.join(' ')).toContain('exec httpd -f');
    // Apache's start-up line, which critest's Multiple Containers log spec looks for.
    expect(info.config.config?.Cmd?.join(' ')).toContain("Command line: 'httpd -D FOREGROUND'");
    const port = await freePort();
    const child = spawn('chroot', [rootfs, 'httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', '/usr/local/apache2/htdocs'], { stdio: 'ignore' });
    try {
      let res: Response | undefined;
      for (let i = 0; i < 100 && !res; i++) {
        res = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
        if (!res) await new Promise((r) => setTimeout(r, 50));
      }
      expect(res?.status).toBe(200);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('the fixtures on a berth stack, through the CLI', () => {
  let stack: CliStack | undefined;
  const saved = process.env['BERTH_REGISTRY_CONFIG'];

  beforeAll(async () => {
    // The stack's services inherit it: every pull of registry.k8s.io/... and gcr.io/... uses the mirror.
    process.env['BERTH_REGISTRY_CONFIG'] = fixtures.certsDir;
    stack = await startCliStack(false, SUBNET);
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    if (saved === undefined) delete process.env['BERTH_REGISTRY_CONFIG'];
    else process.env['BERTH_REGISTRY_CONFIG'] = saved;
  });

  it('berth pull and run take registry.k8s.io images from the mirror; nonewprivs and ipcs behave in a container', async () => {
    const s = stack as CliStack;
    const pulled = await s.berth(['pull', 'registry.k8s.io/e2e-test-images/nonewprivs:1.3'], { timeoutMs: 120_000 });
    expect(pulled, pulled.stderr).toMatchObject({ code: 0 });
    const escalated = await s.berth(['run', '--rm', '--network', 'none', '-u', '1000', 'registry.k8s.io/e2e-test-images/nonewprivs:1.3'], { timeoutMs: 120_000 });
    expect(escalated.stdout, escalated.stderr).toBe('Effective uid: 0\n');
    const kept = await s.berth(['run', '--rm', '--network', 'none', '-u', '1000', '--security-opt', 'no-new-privileges', 'registry.k8s.io/e2e-test-images/nonewprivs:1.3'], { timeoutMs: 120_000 });
    expect(kept.stdout, kept.stderr).toBe('Effective uid: 1000\n');
    const busybox = await s.berth(['run', '--rm', '--network', 'none', 'registry.k8s.io/e2e-test-images/busybox:1.29-2', 'sh', '-c', 'ipcs -m | head -2; sleep 30 & pgrep sleep >/dev/null && echo pgrep-ok'], { timeoutMs: 120_000 });
    expect(busybox.stdout, busybox.stderr).toBe('------ Shared Memory Segments --------\nkey        shmid      owner      perms      bytes      nattch     status\npgrep-ok\n');
  }, 300_000);
});
