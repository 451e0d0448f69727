// The Kubernetes CRI through crictl, as kubelet drives it, on a real stack in both layouts: a pod
// sandbox with a container that logs, exec, stats, and the pod seen by `berth ps`; teardown leaves
// no container behind.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCliStack, until, type CliStack } from './support/cli-stack';
import { crictl, type ToolResult } from './support/cri-tools';
import { createClient } from '@berth/kit';
import { skopeoCopy, startRegistry } from '../libs/images/src/testing/registry';
import type { engineV1, runtimeV1 } from '@berth/proto';

const SUBNET = 248; // 10.219.248.0/24 all-in-one, 249 split: this file's

const ok = (r: ToolResult): string => {
  if (r.code !== 0) throw new Error(`crictl failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
};

describe.each([
  ['all-in-one', false, SUBNET],
  ['split', true, SUBNET + 1],
] as const)('CRI with crictl (%s)', (_layout, split, subnet) => {
  let s: CliStack;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-cri-'));
    s = await startCliStack(split, subnet);
    await until('busybox image', async () => ((await s.berth(['image', 'inspect', 'busybox'])).code === 0 ? true : undefined), 30_000);
  }, 150_000);

  afterAll(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('version and status answer as a CRI runtime that is ready', async () => {
    expect(ok(await crictl(s, ['version']))).toMatch(/RuntimeName:\s+berth[\s\S]*RuntimeApiVersion:\s+v1/);
    const info = JSON.parse(ok(await crictl(s, ['info']))) as { status: { conditions: { type: string; status: boolean }[] } };
    expect(info.status.conditions.map((c) => [c.type, c.status])).toEqual([['RuntimeReady', true], ['NetworkReady', true]]);
  });

  it('runs a pod with a container: logs in the CRI format, exec, stats, berth ps, and teardown', async () => {
    const logs = join(dir, 'logs');
    const pod = join(dir, 'pod.json');
    writeFileSync(pod, JSON.stringify({
      metadata: { name: 'web', namespace: 'default', uid: `uid-${subnet}`, attempt: 0 },
      hostname: 'webhost', log_directory: logs, labels: { app: 'web' },
      dns_config: { servers: ['10.0.0.10'], searches: ['default.svc.cluster.local'], options: ['ndots:5'] },
    }));
    const ctr = join(dir, 'ctr.json');
    writeFileSync(ctr, JSON.stringify({
      metadata: { name: 'app' }, image: { image: 'busybox:latest' }, log_path: 'app/0.log',
      command: ['sh', '-c', 'echo started; echo oops >&2; hostname; exec sleep 1000'],
      envs: [{ key: 'GREETING', value: 'hello' }],
      labels: { 'io.kubernetes.container.name': 'app', 'io.kubernetes.pod.name': 'web' },
    }));
    const podId = ok(await crictl(s, ['runp', pod]));
    expect(podId).toMatch(/^[0-9a-f]{64}$/);
    const podStatus = JSON.parse(ok(await crictl(s, ['inspectp', podId]))) as { status: { state: string; network: { ip: string } } };
    expect(podStatus.status.state).toBe('SANDBOX_READY');
    expect(podStatus.status.network.ip).toMatch(new RegExp(`^10\\.219\\.${subnet}\\.\\d+$`));
    expect(ok(await crictl(s, ['pods', '--label', 'app=web', '-q']))).toBe(podId);

    // kubelet makes the log directory (and here the log_path's own subdirectory).
    mkdirSync(join(logs, 'app'), { recursive: true });
    const cid = ok(await crictl(s, ['create', podId, ctr, pod]));
    ok(await crictl(s, ['start', cid]));
    const status = JSON.parse(ok(await crictl(s, ['inspect', cid]))) as { status: { state: string; logPath: string } };
    expect(status.status.state).toBe('CONTAINER_RUNNING');
    expect(status.status.logPath).toBe(join(logs, 'app/0.log'));

    // The log file is kubelet's: CRI lines (time, stream, P/F tag, text) at log_directory/log_path.
    const lines = await until('three log lines', () => {
      const l = readFileSync(join(logs, 'app/0.log'), 'utf8').split('\n').filter(Boolean);
      return l.length >= 3 ? l : undefined;
    });
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z stdout F started$/);
    expect(lines.some((l) => / stderr F oops$/.test(l))).toBe(true);
    // The container shares the pod's UTS namespace: the pod's hostname.
    expect(lines.some((l) => / stdout F webhost$/.test(l))).toBe(true);
    expect(ok(await crictl(s, ['logs', cid]))).toContain('started');

    // exec -s: output, exit code, the container's env and the pod's network and resolv.conf.
    expect(ok(await crictl(s, ['exec', '-s', cid, 'sh', '-c', 'echo $GREETING']))).toBe('hello');
    const failed = await crictl(s, ['exec', '-s', cid, 'sh', '-c', 'exit 3']);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/exited with 3/);
    expect(ok(await crictl(s, ['exec', '-s', cid, 'cat', '/etc/resolv.conf']))).toMatch(/nameserver 10\.0\.0\.10[\s\S]*search default\.svc\.cluster\.local[\s\S]*ndots:5/);
    expect(ok(await crictl(s, ['exec', '-s', cid, 'ip', 'addr']))).toContain(podStatus.status.network.ip);
    // The pod's files, as kubelet expects them: hostname, HOSTNAME, and /etc/hosts naming the pod at its address.
    expect(ok(await crictl(s, ['exec', '-s', cid, 'cat', '/etc/hostname']))).toBe('webhost');
    expect(ok(await crictl(s, ['exec', '-s', cid, 'sh', '-c', 'echo $HOSTNAME']))).toBe('webhost');
    expect(ok(await crictl(s, ['exec', '-s', cid, 'cat', '/etc/hosts']))).toMatch(new RegExp(`^${podStatus.status.network.ip.replace(/\./g, '\\.')}\\s+webhost\\b`, 'm'));
    // kubelet's own /etc/hosts (a mount of the request) wins over the pod's.
    const kubeletHosts = join(dir, 'etc-hosts');
    writeFileSync(kubeletHosts, '10.9.9.9\tkubelet-managed\n');
    const ctr2 = join(dir, 'ctr-hosts.json');
    writeFileSync(ctr2, JSON.stringify({
      metadata: { name: 'side' }, image: { image: 'busybox:latest' }, command: ['sleep', '1000'],
      mounts: [{ container_path: '/etc/hosts', host_path: kubeletHosts }],
    }));
    const side = ok(await crictl(s, ['create', podId, ctr2, pod]));
    ok(await crictl(s, ['start', side]));
    expect(ok(await crictl(s, ['exec', '-s', side, 'cat', '/etc/hosts']))).toBe('10.9.9.9\tkubelet-managed');
    expect(ok(await crictl(s, ['exec', '-s', side, 'cat', '/etc/hostname']))).toBe('webhost');

    // exec without -s goes through the streaming server (an SPDY URL from Exec).
    const streamed = await crictl(s, ['exec', cid, 'sh', '-c', 'echo out-$GREETING; exit 5']);
    expect(streamed.stdout.trim()).toBe('out-hello');
    expect(streamed.stderr).toMatch(/exit code 5/);

    const stats = JSON.parse(ok(await crictl(s, ['stats', '-o', 'json', cid]))) as { stats: { attributes: { id: string }; memory: { workingSetBytes: { value: string } } }[] };
    expect(stats.stats[0]?.attributes.id).toBe(cid);
    expect(Number(stats.stats[0]?.memory.workingSetBytes.value)).toBeGreaterThan(0);

    // berth ps shows the pod's containers with the kubelet labels.
    const ps = (await s.berth(['ps', '--format', '{{.ID}} {{.Names}} {{.Label "io.kubernetes.pod.name"}}', '--no-trunc'])).stdout;
    expect(ps).toContain(`${cid} k8s_app_web_default_uid-${subnet}_0 web`);
    expect(ps).toContain(`${podId} k8s_POD_web_default_uid-${subnet}_0`);
    // --pod: each container with its pod's id and name.
    const podPs = (await s.berth(['ps', '--pod', '--no-trunc'])).stdout.split('\n');
    expect(podPs[0]).toMatch(/PORTS +POD ID +PODNAME +NAMES$/);
    expect(podPs.find((l) => l.startsWith(cid))).toMatch(new RegExp(`${podId} +web +k8s_app_web_default_uid-${subnet}_0$`));
    expect(podPs.find((l) => l.startsWith(podId))).toMatch(new RegExp(`${podId} +web +k8s_POD_web_default_uid-${subnet}_0$`));

    ok(await crictl(s, ['stopp', podId]));
    expect(JSON.parse(ok(await crictl(s, ['inspect', cid]))).status.state).toBe('CONTAINER_EXITED');
    ok(await crictl(s, ['rmp', podId]));
    expect(ok(await crictl(s, ['pods', '-q']))).toBe('');
    expect((await s.berth(['ps', '-aq'])).stdout.trim()).toBe('');
  }, 180_000);

  it("places the pod and its containers under kubelet's cgroup_parent inside berth's, refuses '..', and leaves no cgroup level behind", async () => {
    const uid = `cg-${subnet}`;
    const podParent = `/kubepods/besteffort/pod${uid}`;
    const pod = join(dir, 'pod-cg.json');
    writeFileSync(pod, JSON.stringify({ metadata: { name: 'cg', namespace: 'default', uid, attempt: 0 }, linux: { cgroup_parent: podParent } }));
    const ctr = join(dir, 'ctr-cg.json');
    writeFileSync(ctr, JSON.stringify({ metadata: { name: 'c' }, image: { image: 'busybox:latest' }, command: ['sleep', '1000'] }));
    const since = Date.now() - 1000;
    const podId = ok(await crictl(s, ['runp', pod]));
    const cid = ok(await crictl(s, ['create', podId, ctr, pod]));
    ok(await crictl(s, ['start', cid]));
    // The host's view of each process's cgroup (inside, a private cgroup namespace shows "/").
    const cgroupOf = async (id: string): Promise<string> => {
      const pid = (await s.berth(['inspect', '-f', '{{.State.Pid}}', id])).stdout.trim();
      const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
      return (lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l)) ?? lines.find((l) => l.startsWith('0::')) ?? '').replace(/^[^:]*:[^:]*:/, '');
    };
    // crictl sets no kubelet labels: the CRI gives the engine containers kubelet's (what cAdvisor's
    // pod/namespace/container metric labels and `berth events --filter label=...` go by).
    const labels = JSON.parse((await s.berth(['inspect', '-f', '{{json .Config.Labels}}', cid])).stdout) as Record<string, string>;
    expect(labels).toMatchObject({ 'io.kubernetes.pod.name': 'cg', 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': uid, 'io.kubernetes.container.name': 'c' });
    const started: string[] = [];
    const call = s.engine.Events({ since: (since / 1000).toFixed(3), until: (Date.now() / 1000 + 1).toFixed(3), filters: { label: { values: ['io.kubernetes.pod.name=cg'] }, event: { values: ['started'] } } });
    for await (const ev of call as AsyncIterable<engineV1.Event__Output>) started.push(ev.id);
    expect(started.sort()).toEqual([podId, cid].sort());
    const nested = `/${s.cgroupParent}${podParent}`;
    expect(await cgroupOf(podId)).toBe(`${nested}/${podId}`);
    expect(await cgroupOf(cid)).toBe(`${nested}/${cid}`);
    const dirs = [`/sys/fs/cgroup/memory/${s.cgroupParent}/kubepods`, `/sys/fs/cgroup/${s.cgroupParent}/kubepods`];
    expect(dirs.some((d) => existsSync(d))).toBe(true);
    ok(await crictl(s, ['stopp', podId]));
    ok(await crictl(s, ['rmp', podId]));
    for (const d of dirs) expect(existsSync(d)).toBe(false);

    // A path that climbs out of berth's parent is refused by name, and nothing is made.
    writeFileSync(pod, JSON.stringify({ metadata: { name: 'cg2', namespace: 'default', uid, attempt: 0 }, linux: { cgroup_parent: '/kubepods/../../system.slice' } }));
    const bad = await crictl(s, ['runp', pod]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/InvalidArgument desc = config\.linux\.cgroup_parent .*\.\.\\?" is not allowed/);
    expect((await s.berth(['ps', '-aq'])).stdout.trim()).toBe('');
  }, 120_000);

  it('streams container events (evented PLEG) with the pod status and the pod containers\' statuses, and PodSandboxStatus has them too', async () => {
    // The gRPC server behind cri.sock's authority proxy: what kubelet's evented PLEG calls.
    const cri = createClient<runtimeV1.RuntimeServiceDefinition, runtimeV1.RuntimeServiceHandlers>('runtime.v1.RuntimeService', [`unix:${join(s.paths.run, 'cri.sock.grpc')}`]);
    const ac = new AbortController();
    const seen: runtimeV1.ContainerEventResponse__Output[] = [];
    const stream = (async () => {
      try {
        for await (const ev of cri.GetContainerEvents({}, { signal: ac.signal }) as AsyncIterable<runtimeV1.ContainerEventResponse__Output>) seen.push(ev);
      } catch {
        // cancelled at the end
      }
    })();
    try {
      const pod = join(dir, 'pod-ev.json');
      writeFileSync(pod, JSON.stringify({ metadata: { name: 'ev', namespace: 'default', uid: `ev-${subnet}`, attempt: 0 }, hostname: 'evhost' }));
      const ctr = join(dir, 'ctr-ev.json');
      writeFileSync(ctr, JSON.stringify({ metadata: { name: 'c' }, image: { image: 'busybox:latest' }, command: ['sleep', '1000'] }));
      // The stream is live from the call on: wait until it is (an event of a throwaway pod arrives).
      const probe = join(dir, 'pod-probe.json');
      writeFileSync(probe, JSON.stringify({ metadata: { name: 'probe', namespace: 'default', uid: `probe-${subnet}`, attempt: 0 } }));
      let probeId = '';
      await until('the event stream', async () => {
        if (!probeId) probeId = ok(await crictl(s, ['runp', probe]));
        return seen.some((e) => e.containerId === probeId) ? true : undefined;
      }, 60_000);
      ok(await crictl(s, ['rmp', '-f', probeId]));

      // Each step waits for its event, so the statuses an event carries are the ones after that step.
      const eventOf = (id: string, type: string) => until(`${type} of ${id}`, () => (seen.some((e) => e.containerId === id && e.containerEventType === type) ? true : undefined), 30_000);
      const podId = ok(await crictl(s, ['runp', pod]));
      const cid = ok(await crictl(s, ['create', podId, ctr, pod]));
      await eventOf(cid, 'CONTAINER_CREATED_EVENT');
      ok(await crictl(s, ['start', cid]));
      await eventOf(cid, 'CONTAINER_STARTED_EVENT');
      const status = await cri.PodSandboxStatus({ podSandboxId: podId, verbose: true });
      expect(status.containersStatuses.map((c) => [c.id, c.state, c.metadata?.name])).toEqual([[cid, 'CONTAINER_RUNNING', 'c']]);
      expect(Number(status.timestamp)).toBeGreaterThan(Number(status.status?.createdAt));
      expect(JSON.parse(status.info['info'] ?? '{}')).toMatchObject({ processStatus: 'running', image: 'berth.local/pause:3.9' });
      ok(await crictl(s, ['stop', cid]));
      await eventOf(cid, 'CONTAINER_STOPPED_EVENT');
      ok(await crictl(s, ['rm', cid]));
      ok(await crictl(s, ['rmp', '-f', podId]));

      const ofContainer = await until('the container deleted event', () => {
        const evs = seen.filter((e) => e.containerId === cid);
        return evs.some((e) => e.containerEventType === 'CONTAINER_DELETED_EVENT') ? evs : undefined;
      }, 30_000);
      expect(ofContainer.map((e) => e.containerEventType)).toEqual(['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']);
      for (const e of ofContainer) {
        expect(e.podSandboxStatus?.id).toBe(podId);
        expect(e.podSandboxStatus?.metadata?.name).toBe('ev');
        expect(Number(e.createdAt)).toBeGreaterThan(0);
      }
      const stateIn = (e: runtimeV1.ContainerEventResponse__Output) => e.containersStatuses.find((c) => c.id === cid)?.state;
      expect(ofContainer.map(stateIn)).toEqual(['CONTAINER_CREATED', 'CONTAINER_RUNNING', 'CONTAINER_EXITED', undefined]);
      // The sandbox's own events, its DELETED one with what its labels said.
      const ofPod = await until('the sandbox deleted event', () => {
        const evs = seen.filter((e) => e.containerId === podId);
        return evs.some((e) => e.containerEventType === 'CONTAINER_DELETED_EVENT') ? evs : undefined;
      }, 30_000);
      expect(ofPod[0]?.containerEventType).toBe('CONTAINER_CREATED_EVENT');
      expect(ofPod.at(-1)?.podSandboxStatus).toMatchObject({ id: podId, state: 'SANDBOX_NOTREADY', metadata: { name: 'ev', namespace: 'default' } });
    } finally {
      ac.abort();
      await stream;
      cri.close();
    }
  }, 180_000);

  it("pulls with the request's registry credentials (crictl --creds and --auth), which are not kept", async () => {
    const open = await startRegistry();
    const priv = await startRegistry({ htpasswd: { user: 'alice', password: 's3cret' } });
    try {
      ok(await s.berth(['tag', 'busybox', `${open.host}/cri/bb:1`]));
      const pushed = await s.berth(['push', `${open.host}/cri/bb:1`]);
      if (pushed.code !== 0) throw new Error(pushed.stderr);
      await skopeoCopy(`docker://${open.host}/cri/bb:1`, `docker://${priv.host}/cri/bb:1`, ['--dest-creds', 'alice:s3cret']);
      const ref = `${priv.host}/cri/bb:1`;
      const anonymous = await crictl(s, ['pull', ref]);
      expect(anonymous.code).not.toBe(0);
      expect(anonymous.stderr).toMatch(/PermissionDenied/);
      const wrong = await crictl(s, ['pull', '--creds', 'alice:nope', ref]);
      expect(wrong.code).not.toBe(0);
      expect(ok(await crictl(s, ['pull', '--creds', 'alice:s3cret', ref]))).toMatch(/Image is up to date for sha256:[0-9a-f]{64}/);
      ok(await crictl(s, ['rmi', ref]));
      // Nothing of them was kept: the next anonymous pull is refused again; --auth (base64 user:password) works too.
      expect((await crictl(s, ['pull', ref])).code).not.toBe(0);
      ok(await crictl(s, ['pull', '--auth', Buffer.from('alice:s3cret').toString('base64'), ref]));
      ok(await crictl(s, ['rmi', ref]));
    } finally {
      await s.berth(['rmi', `${open.host}/cri/bb:1`]);
      await open.stop();
      await priv.stop();
    }
  }, 120_000);

  it('refuses a container in a pod that does not exist, naming it, and leaves nothing', async () => {
    const pod = join(dir, 'pod2.json');
    writeFileSync(pod, JSON.stringify({ metadata: { name: 'p2', namespace: 'default', uid: 'u2', attempt: 0 } }));
    const ctr = join(dir, 'ctr2.json');
    writeFileSync(ctr, JSON.stringify({ metadata: { name: 'c' }, image: { image: 'busybox:latest' } }));
    const r = await crictl(s, ['create', 'f'.repeat(64), ctr, pod]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/pod sandbox f{64} not found/);
    expect((await s.berth(['ps', '-aq'])).stdout.trim()).toBe('');
  });
});
