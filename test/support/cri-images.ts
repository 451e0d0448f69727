// The images critest (cri-tools v1.26.1, pkg/validate) pulls, built offline from the host's
// busybox-static and served by a local docker-registry that berth's registry host configuration
// (hosts.toml) makes the mirror of registry.k8s.io and gcr.io. Each image holds what its specs look at:
//
//   registry.k8s.io/e2e-test-images/busybox:1.29-2     the default test image: busybox and its applets
//                                                       (echo, sleep, top, id, hostname, pidof, ip,
//                                                       sysctl...) as hard links, /bin/sh a busybox whose
//                                                       ash runs commands from PATH as the image's does
//                                                       (CRI_SHELL_BUSYBOX), pgrep and `ipcs -m` (busybox-static
//                                                       has neither) as small scripts, /etc/passwd and
//                                                       /etc/group as busybox's image has them
//   registry.k8s.io/e2e-test-images/nginx:1.14-2       an HTTP server on port 80 (nginx.c) named nginx,
//                                                       /var/run/nginx.pid, "nginx: master process" cmdline
//   gcr.io/k8s-staging-cri-tools/hostnet-nginx-amd64   the same on port 12003 (host network specs)
//   registry.k8s.io/e2e-test-images/httpd:2.4.39-4     busybox httpd on port 80 serving an index page,
//                                                       Apache's "Command line: 'httpd -D FOREGROUND'" log line
//   registry.k8s.io/e2e-test-images/nonewprivs:1.3     /usr/local/bin/nnp, setuid root, prints
//                                                       "Effective uid: N" (nnp.c)
//   gcr.io/k8s-staging-cri-tools/test-image-{1,2,3}:latest, test-image-latest, test-image-tag:test,
//     test-image-tag:all                               distinct images (/etc/cri-test-image/<name> in each)
//   gcr.io/k8s-staging-cri-tools/test-image-tags:{1,2,3}   one image under three tags
//   gcr.io/k8s-staging-cri-tools/test-image-user-uid (USER 1002), -user-username (www-data),
//     -user-uid-group (1003:users), -user-username-group (www-data:www-data)
//   gcr.io/k8s-staging-cri-tools/test-image-predefined-group   USER 1000, default-user in group 50000
//
// Not built: test-image-digest@sha256:9700f9a2..., a public image pinned by digest, which no local
// build can reproduce (the one spec allowed to fail offline).
//
// Tests call startCriImageRegistry(); a person runs scripts/cri-images.sh (see its --help), which
// leaves the registry running and writes the hosts.toml files.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const CRI_E2E_REGISTRY = 'registry.k8s.io';
export const CRI_TOOLS_REGISTRY = 'gcr.io';
const E2E = 'registry.k8s.io/e2e-test-images/';
const TOOLS = 'gcr.io/k8s-staging-cri-tools/';
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/**
 * The busybox that is the images' /bin/sh: Debian's dynamically linked one, which scripts/setup.sh
 * --test unpacks here (it conflicts with busybox-static, so it is not installed). Its ash runs every
 * command from PATH, as the busybox image's does; busybox-static's runs its own applets first, so
 * `sh -c ls` would list even with /bin/ls masked (critest's MaskedPaths expects "Permission denied").
 */
export const CRI_SHELL_BUSYBOX = '/var/cache/berth-test/busybox/bin/busybox';

/** critest v1.26.1's image pinned by digest: cannot be built, listed so callers can say so. */
export const CRI_UNBUILDABLE_IMAGES = [`${TOOLS}test-image-digest@sha256:9700f9a2f5bf2c45f2f605a0bd3bce7cf37420ec9d3ed50ac2758413308766bf`];

interface ImageSpec {
  /** Every name the image is pushed under (registry/path:tag). */
  refs: string[];
  /** Extra files: path in the image -> content, or a helper binary to copy. */
  files?: Record<string, string | { helper: 'nginx' | 'nnp'; mode: number }>;
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
  ports?: string[];
}

const HTTPD_ROOT = '/usr/local/apache2/htdocs';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`;
const GROUP = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
users:x:100:
nogroup:x:65534:
`;

/** pgrep NAME: busybox-static has no pgrep; pidof gives the same pids. */
const PGREP = `#!/bin/sh
# pgrep for the test image (busybox-static has none): the pids of processes named $1, one a line
pids=$(pidof "$1") || exit 1
for p in $pids; do echo "$p"; done
`;
/** ipcs -m: busybox-static has no ipcs; the kernel's table is in /proc/sysvipc/shm. */
const IPCS = `#!/bin/sh
# ipcs -m for the test image (busybox-static has no ipcs): this IPC namespace's shared memory segments
echo "------ Shared Memory Segments --------"
echo "key        shmid      owner      perms      bytes      nattch     status"
awk 'NR > 1 { printf "0x%08x %-10s %-10s %-10s %-10s %-10s\\n", $1, $2, $8, $3, $4, $7 }' /proc/sysvipc/shm
`;

export const CRI_TEST_IMAGE_SPECS: ImageSpec[] = [
  { refs: [`${E2E}busybox:1.29-2`], cmd: ['sh'] },
  { refs: [`${E2E}nginx:1.14-2`], files: { '/usr/sbin/nginx': { helper: 'nginx', mode: 0o755 } }, cmd: ['nginx', '-g', 'daemon off;'], ports: ['80/tcp'] },
  { refs: [`${TOOLS}hostnet-nginx-amd64:latest`], files: { '/usr/sbin/nginx': { helper: 'nginx', mode: 0o755 } }, cmd: ['nginx', '12003'], ports: ['12003/tcp'] },
  {
    refs: [`${E2E}httpd:2.4.39-4`],
    files: { [`${HTTPD_ROOT}/index.html`]: '<html><body><h1>It works!</h1></body></html>\n' },
    // Apache's own start-up line, which the Multiple Containers log spec looks for in the log.
    cmd: ['sh', '-c', `echo "[core:notice] [pid $$] AH00094: Command line: 'httpd -D FOREGROUND'"; exec httpd -f -v -p 80 -h ${HTTPD_ROOT}`],
    ports: ['80/tcp'],
  },
  { refs: [`${E2E}nonewprivs:1.3`], files: { '/usr/local/bin/nnp': { helper: 'nnp', mode: 0o4755 } }, entrypoint: ['/usr/local/bin/nnp'] },
  ...['test-image-1:latest', 'test-image-2:latest', 'test-image-3:latest', 'test-image-latest:latest', 'test-image-tag:test', 'test-image-tag:all'].map(
    (name): ImageSpec => ({ refs: [`${TOOLS}${name}`], files: { [`/etc/cri-test-image/${name.replace(':', '-')}`]: `${name}\n` }, cmd: ['sh'] }),
  ),
  { refs: ['1', '2', '3'].map((t) => `${TOOLS}test-image-tags:${t}`), files: { '/etc/cri-test-image/test-image-tags': 'test-image-tags\n' }, cmd: ['sh'] },
  { refs: [`${TOOLS}test-image-user-uid:latest`], user: '1002', cmd: ['sh'] },
  { refs: [`${TOOLS}test-image-user-username:latest`], user: 'www-data', cmd: ['sh'] },
  { refs: [`${TOOLS}test-image-user-uid-group:latest`], user: '1003:users', cmd: ['sh'] },
  { refs: [`${TOOLS}test-image-user-username-group:latest`], user: 'www-data:www-data', cmd: ['sh'] },
  {
    refs: [`${TOOLS}test-image-predefined-group:latest`],
    files: {
      '/etc/passwd': `${PASSWD}default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh\n`,
      '/etc/group': `${GROUP}default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n`,
    },
    user: '1000',
    cmd: ['sh'],
  },
];

/** Every reference the fixtures provide. */
export const CRI_TEST_IMAGES: string[] = CRI_TEST_IMAGE_SPECS.flatMap((s) => s.refs);

/** Splits registry/path:tag into the registry and the rest. */
function splitRef(ref: string): { registry: string; rest: string } {
  const i = ref.indexOf('/');
  return { registry: ref.slice(0, i), rest: ref.slice(i + 1) };
}

async function buildHelpers(work: string): Promise<Record<'nginx' | 'nnp', string>> {
  const src = join(__dirname, 'cri-images');
  const out: Record<string, string> = {};
  for (const name of ['nginx', 'nnp'] as const) {
    out[name] = join(work, `helper-${name}`);
    await run('cc', ['-static', '-O2', '-Wall', '-Wextra', '-o', out[name], join(src, `${name}.c`)]);
  }
  return out as Record<'nginx' | 'nnp', string>;
}

/**
 * The busybox rootfs every image starts from: /bin/busybox, a hard link per applet (as busybox's
 * image has them: a masked /bin/ls must not mask the shell, which a symlink to /bin/busybox would,
 * since a mount follows it), /etc files, pgrep, ipcs.
 */
async function buildBaseRootfs(root: string, busybox: string, shell: string): Promise<void> {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'usr/local/bin', 'etc', 'root', 'home', 'var/run', 'var/www', 'proc', 'sys', 'dev']) {
    await fs.mkdir(join(root, d), { recursive: true });
  }
  await fs.mkdir(join(root, 'tmp'), { recursive: true });
  await fs.chmod(join(root, 'tmp'), 0o1777);
  await fs.copyFile(busybox, join(root, 'bin/busybox'));
  await fs.chmod(join(root, 'bin/busybox'), 0o755);
  const { stdout } = await run(busybox, ['--list-full']);
  for (const rel of stdout.split('\n').map((l) => l.trim()).filter(Boolean)) {
    if (rel === 'bin/busybox' || rel.includes('..')) continue;
    await fs.mkdir(join(root, dirname(rel)), { recursive: true });
    await fs.link(join(root, 'bin/busybox'), join(root, rel)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  // /bin/sh: the PATH-searching busybox, with the shared libraries it loads (ldd: the loader too).
  if (!existsSync(shell)) throw new Error(`${shell} is missing: scripts/setup.sh --test unpacks Debian's busybox there (the critest busybox image's /bin/sh)`);
  await fs.rm(join(root, 'bin/sh'), { force: true });
  await fs.copyFile(shell, join(root, 'bin/sh'));
  await fs.chmod(join(root, 'bin/sh'), 0o755);
  const { stdout: libs } = await run('ldd', [shell]);
  for (const lib of [...libs.matchAll(/(\/\S+)\s+\(0x/g)].map((m) => m[1]!)) {
    await fs.mkdir(join(root, dirname(lib)), { recursive: true });
    await fs.copyFile(await fs.realpath(lib), join(root, lib));
  }
  await fs.writeFile(join(root, 'etc/passwd'), PASSWD);
  await fs.writeFile(join(root, 'etc/group'), GROUP);
  await fs.writeFile(join(root, 'usr/bin/pgrep'), PGREP, { mode: 0o755 });
  await fs.writeFile(join(root, 'usr/bin/ipcs'), IPCS, { mode: 0o755 });
}

/**
 * Appends `tree` as one layer. GNU tar writes it (relative names, root-owned, numeric) and umoci adds
 * it verbatim: umoci 0.4.7's `insert` ends its tar after the last file's data, with neither the
 * entry's padding nor the end-of-archive blocks, which berth (like Go's archive/tar) refuses as
 * truncated, and inserting a directory at / names an entry "/".
 */
async function addTreeLayer(work: string, image: string, tree: string): Promise<void> {
  const tarFile = join(work, `layer-${Math.random().toString(36).slice(2)}.tar`);
  const entries = (await fs.readdir(tree)).sort();
  await run('tar', ['-C', tree, '--numeric-owner', '--owner=0', '--group=0', '-cf', tarFile, ...entries]);
  await run('umoci', ['raw', 'add-layer', '--image', image, tarFile]);
  await fs.rm(tarFile, { force: true });
}

/** Builds every image into the OCI layout `layout`, tagged img-<n> in CRI_TEST_IMAGE_SPECS order. */
async function buildLayout(work: string, layout: string, specs: ImageSpec[], busybox: string, shell: string): Promise<void> {
  const helpers = await buildHelpers(work);
  const base = join(work, 'base-rootfs');
  await buildBaseRootfs(base, busybox, shell);
  await run('umoci', ['init', '--layout', layout]);
  await run('umoci', ['new', '--image', `${layout}:base`]);
  await addTreeLayer(work, `${layout}:base`, base);
  await run('umoci', ['config', '--image', `${layout}:base`, '--architecture', 'amd64', '--os', 'linux', '--config.env', PATH_ENV, '--config.cmd', 'sh']);
  for (const [i, spec] of specs.entries()) {
    const img = `${layout}:img-${i}`;
    await run('umoci', ['tag', '--image', `${layout}:base`, `img-${i}`]);
    // The extra files go in as one more layer with their directories.
    const files = Object.entries(spec.files ?? {});
    if (files.length > 0) {
      const tree = join(work, `files-${i}`);
      for (const [path, content] of files) {
        const dest = join(tree, path);
        await fs.mkdir(dirname(dest), { recursive: true });
        if (typeof content === 'string') {
          await fs.writeFile(dest, content, { mode: 0o644 });
        } else {
          await fs.copyFile(helpers[content.helper], dest);
          await fs.chmod(dest, content.mode);
        }
      }
      await addTreeLayer(work, img, tree);
    }
    const args = ['config', '--image', img];
    if (spec.user) args.push('--config.user', spec.user);
    if (spec.entrypoint) {
      args.push('--clear=config.cmd');
      for (const e of spec.entrypoint) args.push('--config.entrypoint', e);
    }
    for (const c of spec.cmd ?? []) args.push('--config.cmd', c);
    for (const p of spec.ports ?? []) args.push('--config.exposedports', p);
    if (args.length > 3) await run('umoci', args);
  }
}

/** The hosts.toml that makes `host` (a local registry) the pull mirror of `registry`. */
export function mirrorHostsToml(registry: string, mirrorHost: string): string {
  return [
    `# Written by berth's critest fixtures (test/support/cri-images.ts): pulls of ${registry}/... resolve`,
    `# on the local registry ${mirrorHost}, which holds the images critest uses.`,
    `server = "https://${registry}"`,
    '',
    `[host."http://${mirrorHost}"]`,
    '  capabilities = ["pull", "resolve"]',
    '',
  ].join('\n');
}

async function writeMirrorConfig(certsDir: string, mirrorHost: string): Promise<void> {
  for (const registry of [CRI_E2E_REGISTRY, CRI_TOOLS_REGISTRY]) {
    await fs.mkdir(join(certsDir, registry), { recursive: true, mode: 0o755 });
    await fs.writeFile(join(certsDir, registry, 'hosts.toml'), mirrorHostsToml(registry, mirrorHost), { mode: 0o644 });
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no free port'))));
    });
  });
}

export interface CriImageRegistryOptions {
  /** The registry host configuration directory to write hosts.toml into (BERTH_REGISTRY_CONFIG of the stack under test). */
  certsDir: string;
  /** Registry data, the OCI layout and build files; default a new temp dir, removed by stop(). */
  workDir?: string;
  /** Registry port on 127.0.0.1; default a free one. */
  port?: number;
  /** The busybox binary the rootfs is made of (default /bin/busybox, from busybox-static). */
  busybox?: string;
  /** The busybox that is /bin/sh (default CRI_SHELL_BUSYBOX). */
  shell?: string;
  /** Leave the registry running when this process exits (scripts/cri-images.sh). */
  detached?: boolean;
}

export interface CriImageRegistry {
  /** 127.0.0.1:port of the registry. */
  host: string;
  pid: number;
  certsDir: string;
  workDir: string;
  /** The references now pullable through the mirror configuration. */
  images: string[];
  /** Stops the registry, removes the hosts.toml files written and (for a temp workDir) the data. */
  stop(): Promise<void>;
}

async function startRegistryProcess(workDir: string, port: number, detached: boolean): Promise<number> {
  const dataDir = join(workDir, 'registry-data');
  await fs.mkdir(dataDir, { recursive: true });
  const config = join(workDir, 'registry.yml');
  await fs.writeFile(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dataDir}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  const logFd = await fs.open(join(workDir, 'registry.log'), 'a');
  const child = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', logFd.fd, logFd.fd], detached });
  await logFd.close();
  if (detached) child.unref();
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`);
      await res.body?.cancel();
      if (res.status === 200) return child.pid as number;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not start on 127.0.0.1:${port}: ${await fs.readFile(join(workDir, 'registry.log'), 'utf8').catch(() => '')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Builds the critest images, serves them from a docker-registry on 127.0.0.1, and writes
 * `certsDir/{registry.k8s.io,gcr.io}/hosts.toml` so berth pulls those names from it.
 */
export async function startCriImageRegistry(opts: CriImageRegistryOptions): Promise<CriImageRegistry> {
  const ownWork = !opts.workDir;
  const workDir = opts.workDir ?? (await fs.mkdtemp(join(tmpdir(), 'berth-cri-images-')));
  await fs.mkdir(workDir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const host = `127.0.0.1:${port}`;
  let pid = 0;
  const stop = async (): Promise<void> => {
    if (pid) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    for (const registry of [CRI_E2E_REGISTRY, CRI_TOOLS_REGISTRY]) await fs.rm(join(opts.certsDir, registry, 'hosts.toml'), { force: true });
    if (ownWork) await fs.rm(workDir, { recursive: true, force: true });
  };
  try {
    const build = join(workDir, 'build');
    await fs.rm(build, { recursive: true, force: true });
    await fs.mkdir(build, { recursive: true });
    const layout = join(build, 'layout');
    await buildLayout(build, layout, CRI_TEST_IMAGE_SPECS, opts.busybox ?? '/bin/busybox', opts.shell ?? CRI_SHELL_BUSYBOX);
    pid = await startRegistryProcess(workDir, port, opts.detached ?? false);
    for (const [i, spec] of CRI_TEST_IMAGE_SPECS.entries()) {
      for (const ref of spec.refs) {
        await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:img-${i}`, `docker://${host}/${splitRef(ref).rest}`], { maxBuffer: 16 << 20 });
      }
    }
    await fs.rm(build, { recursive: true, force: true });
    await writeMirrorConfig(opts.certsDir, host);
  } catch (e) {
    await stop();
    throw e;
  }
  return { host, pid, certsDir: opts.certsDir, workDir, images: [...CRI_TEST_IMAGES], stop };
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`usage: scripts/cri-images.sh [--certs-dir DIR] [--dir DIR] [--port N]
Builds the images critest v1.26.1 pulls from busybox-static, serves them from a docker-registry on
127.0.0.1 (left running; its pid is in DIR/registry.pid) and writes DIR/.../hosts.toml files that make
it the mirror of registry.k8s.io and gcr.io.
  --certs-dir  registry host configuration directory (default \${BERTH_REGISTRY_CONFIG:-/etc/berth/certs.d})
  --dir        registry data and logs (default /var/lib/berth-cri-images)
  --port       registry port (default 5055)
Stop: kill $(cat DIR/registry.pid); remove the two hosts.toml files.
`);
    return;
  }
  const certsDir = arg('--certs-dir') ?? process.env['BERTH_REGISTRY_CONFIG'] ?? '/etc/berth/certs.d';
  const workDir = arg('--dir') ?? '/var/lib/berth-cri-images';
  const port = Number(arg('--port') ?? 5055);
  const pidFile = join(workDir, 'registry.pid');
  const old = await fs.readFile(pidFile, 'utf8').catch(() => '');
  if (old.trim()) {
    try {
      process.kill(Number(old.trim()), 'SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
    } catch {
      /* not running */
    }
  }
  const reg = await startCriImageRegistry({ certsDir, workDir, port, detached: true });
  await fs.writeFile(pidFile, `${reg.pid}\n`);
  process.stdout.write(
    `registry ${reg.host} (pid ${reg.pid}) serves ${reg.images.length} images; mirrors configured in ${certsDir}/${CRI_E2E_REGISTRY} and ${certsDir}/${CRI_TOOLS_REGISTRY}\n` +
      `not buildable offline: ${CRI_UNBUILDABLE_IMAGES.join(', ')}\n`,
  );
}

if (typeof require !== 'undefined' && typeof module !== 'undefined' && require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`cri-images: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
