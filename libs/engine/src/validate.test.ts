// Every field of CreateContainer, UpdateContainer and Exec's start the engine
// refuses, through the wire mapping the gRPC handler uses: INVALID_ARGUMENT
// naming the field as the proto spells it. One table row per rule; the good
// rows show the same fields pass with a sane value.
import { describe, expect, it } from 'vitest';
import { isInvalidArgument, type BerthError } from '@berth/errors';
import { createRequestFromWire, execRequestFromWire, updateRequestFromWire, type WireContainerConfig, type WireCreateContainerRequest, type WireExecStart, type WireHostConfig } from './wire';
import { statsIntervalFromWire, stopTimeoutFromWire, validateContainerPath, validateCreateRequest, validateSignal, validateVolumeName } from './validate';

const host = { cpus: 2 };
const req = (config: WireContainerConfig = {}, hostConfig: WireHostConfig = {}, name = ''): WireCreateContainerRequest => ({
  name, config: { image: 'busybox', ...config }, hostConfig,
});

function refusal(f: () => unknown): BerthError | undefined {
  try {
    f();
  } catch (e) {
    return e as BerthError;
  }
  return undefined;
}

const MiB = 1024 * 1024;

// [what, request, field the error names]
const BAD_CREATE: Array<[string, WireCreateContainerRequest, string]> = [
  ['a name of 10,000 characters', req({}, {}, 'a'.repeat(10_000)), 'name'],
  ['a name with a slash inside', req({}, {}, 'a/b'), 'name'],
  ['a one-character name', req({}, {}, 'a'), 'name'],
  ['a hostname with a newline (a line injected into /etc/hosts)', req({ hostname: 'web\n6.6.6.6 bank' }), 'config.hostname'],
  ['a hostname of 65 characters', req({ hostname: 'a'.repeat(65) }), 'config.hostname'],
  ['a hostname label starting with "-"', req({ hostname: '-web' }), 'config.hostname'],
  ['a domainname with a space', req({ domainname: 'example com' }), 'config.domainname'],
  ['a user with three parts', req({ user: 'a:b:c' }), 'config.user'],
  ['a user with a newline', req({ user: 'root\nx' }), 'config.user'],
  ['an env entry without a name', req({ env: ['=x'] }), 'config.env[0]'],
  ['an env entry with a NUL', req({ env: ['A=1', 'B=x\0y'] }), 'config.env[1]'],
  ['an env name with a space', req({ env: ['A B=1'] }), 'config.env[0]'],
  ['a cmd argument with a NUL', req({ cmd: { values: ['echo', 'a\0b'] } }), 'config.cmd.values[1]'],
  ['an entrypoint with a NUL', req({ entrypoint: { values: ['/bin/sh\0'] } }), 'config.entrypoint.values[0]'],
  ['a relative working dir', req({ workingDir: 'tmp' }), 'config.working_dir'],
  ['a working dir with a NUL', req({ workingDir: '/tmp\0' }), 'config.working_dir'],
  ['an exposed port out of range', req({ exposedPorts: ['70000/tcp'] }), 'config.exposed_ports[0]'],
  ['an exposed port with an unknown protocol', req({ exposedPorts: ['80/icmp'] }), 'config.exposed_ports[0]'],
  ['a relative anonymous volume', req({ volumes: ['data'] }), 'config.volumes[0]'],
  ['an empty label name', req({ labels: { '': 'x' } }), 'config.labels[""]'],
  ['an unknown stop signal', req({ stopSignal: 'SIGFOO' }), 'config.stop_signal'],
  ['a stop signal number out of range', req({ stopSignal: '65' }), 'config.stop_signal'],
  ['a stop timeout below -1', req({ stopTimeout: -5 }), 'config.stop_timeout'],
  ['negative memory', req({}, { memory: -1 }), 'host_config.memory'],
  ['memory below 6 MiB', req({}, { memory: 1024 }), 'host_config.memory'],
  ['memory_swap below -1', req({}, { memory: 64 * MiB, memorySwap: -2 }), 'host_config.memory_swap'],
  ['memory_swap without memory', req({}, { memorySwap: 64 * MiB }), 'host_config.memory_swap'],
  ['memory_swap below memory', req({}, { memory: 64 * MiB, memorySwap: 32 * MiB }), 'host_config.memory_swap'],
  ['negative nano_cpus', req({}, { nanoCpus: -1 }), 'host_config.nano_cpus'],
  ['nano_cpus below 0.01 CPU', req({}, { nanoCpus: 1000 }), 'host_config.nano_cpus'],
  ['more CPUs than the host has', req({}, { nanoCpus: 3e9 }), 'host_config.nano_cpus'],
  ['negative cpu_shares', req({}, { cpuShares: -2 }), 'host_config.cpu_shares'],
  ['cpu_shares above the kernel bound', req({}, { cpuShares: 262145 }), 'host_config.cpu_shares'],
  ['a cpuset that is not a list', req({}, { cpusetCpus: '0-' }), 'host_config.cpuset_cpus'],
  ['a cpuset CPU the host lacks', req({}, { cpusetCpus: '0,5' }), 'host_config.cpuset_cpus'],
  ['a cpuset range past the host', req({}, { cpusetCpus: '0-99999' }), 'host_config.cpuset_cpus'],
  ['a cpuset list of 1025 characters', req({}, { cpusetCpus: `0${',0'.repeat(512)}` }), 'host_config.cpuset_cpus'],
  ['pids_limit below -1', req({}, { pidsLimit: -5 }), 'host_config.pids_limit'],
  ['a network mode with a space', req({}, { networkMode: 'my net' }), 'host_config.network_mode'],
  ['container: without a name', req({}, { networkMode: 'container:' }), 'host_config.network_mode'],
  ['a hostname with container: networking', req({ hostname: 'web' }, { networkMode: 'container:db' }), 'config.hostname'],
  ['published ports with container: networking', req({}, { networkMode: 'container:db', portBindings: [{ containerPort: 80 }] }), 'host_config.port_bindings'],
  ['container port 0', req({}, { portBindings: [{ containerPort: 0 }] }), 'host_config.port_bindings[0].container_port'],
  ['an unknown protocol', req({}, { portBindings: [{ containerPort: 80, protocol: 'icmp' }] }), 'host_config.port_bindings[0].protocol'],
  ['a host IP that is a name (it went to iptables as is)', req({}, { portBindings: [{ containerPort: 80, hostIp: 'localhost' }] }), 'host_config.port_bindings[0].host_ip'],
  ['an IPv6 host IP (publishing is IPv4 only: it failed only at start)', req({}, { portBindings: [{ containerPort: 80, hostIp: '::1' }] }), 'host_config.port_bindings[0].host_ip'],
  ['host port 2^32-1', req({}, { portBindings: [{ containerPort: 80 }, { containerPort: 81, hostPort: 2 ** 32 - 1 }] }), 'host_config.port_bindings[1].host_port'],
  ['a host port range ending below its start', req({}, { portBindings: [{ containerPort: 80, hostPort: 8010, hostPortEnd: 8000 }] }), 'host_config.port_bindings[0].host_port_end'],
  ['a host port range without a start', req({}, { portBindings: [{ containerPort: 80, hostPortEnd: 8000 }] }), 'host_config.port_bindings[0].host_port_end'],
  ['an unknown mount type', req({}, { mounts: [{ type: 'nfs', target: '/x' }] }), 'host_config.mounts[0].type'],
  ['a relative mount target', req({}, { mounts: [{ type: 'tmpfs', target: 'x' }] }), 'host_config.mounts[0].target'],
  ['a mount on /', req({}, { mounts: [{ type: 'tmpfs', target: '/.' }] }), 'host_config.mounts[0].target'],
  ['a mount target with a NUL', req({}, { mounts: [{ type: 'tmpfs', target: '/x\0' }] }), 'host_config.mounts[0].target'],
  ['a relative bind source', req({}, { mounts: [{ type: 'bind', source: 'data', target: '/x' }] }), 'host_config.mounts[0].source'],
  ['a volume name with a slash', req({}, { mounts: [{ type: 'volume', source: 'a/b', target: '/x' }] }), 'host_config.mounts[0].source'],
  ['a tmpfs with a source', req({}, { mounts: [{ type: 'tmpfs', source: '/etc', target: '/x' }] }), 'host_config.mounts[0].source'],
  ['a mount option smuggling another', req({}, { mounts: [{ type: 'tmpfs', target: '/x', options: ['size=1m,exec'] }] }), 'host_config.mounts[0].options[0]'],
  ['two mounts on one target', req({}, { mounts: [{ type: 'tmpfs', target: '/x' }, { type: 'tmpfs', target: '/x/' }] }), 'host_config.mounts[1].target'],
  ['an unknown restart policy', req({}, { restartPolicy: { name: 'sometimes' } }), 'host_config.restart_policy.name'],
  ['a negative retry count', req({}, { restartPolicy: { name: 'on-failure', maximumRetryCount: -1 } }), 'host_config.restart_policy.maximum_retry_count'],
  ['auto_remove with a restart policy', req({}, { autoRemove: true, restartPolicy: { name: 'always' } }), 'host_config.restart_policy.name'],
  ['an unknown capability', req({}, { capAdd: ['CAP_FLY'] }), 'host_config.cap_add[0]'],
  ['an unknown dropped capability', req({}, { capDrop: ['NET_ADMIN', 'x'] }), 'host_config.cap_drop[1]'],
  ['an unknown userns mode', req({}, { usernsMode: 'private' }), 'host_config.userns_mode'],
  ['an unknown log driver', req({}, { logConfig: { type: 'syslog', config: {} } }), 'host_config.log_config'],
  ['a missing image', { config: { image: '' } }, 'config.image'],
  ['an unknown pull policy', { ...req(), pull: 'sometimes' }, 'pull'],
];

describe('validateCreateRequest (through the wire mapping)', () => {
  it.each(BAD_CREATE)('refuses %s', (_what, w, field) => {
    // The host's CPU count bounds nano_cpus and the cpuset: check those rows against a 2-CPU host.
    const e = refusal(() => validateCreateRequest(createRequestFromWire(w), host)) ?? refusal(() => createRequestFromWire(w));
    expect(e, 'accepted').toBeDefined();
    expect(isInvalidArgument(e)).toBe(true);
    expect(e!.field).toEqual(field.startsWith('host_config.log_config') ? expect.stringMatching(/^host_config\.log_config/) : field);
  });

  it('names the value, escaped and cut when long', () => {
    expect(refusal(() => createRequestFromWire(req({ hostname: 'web\n6.6.6.6 bank' })))?.message).toContain('"web\\n6.6.6.6 bank"');
    const long = refusal(() => createRequestFromWire(req({}, {}, 'a'.repeat(10_000))))!;
    expect(long.message.length).toBeLessThan(400);
    expect(long.message).toContain('10000 characters');
  });

  it('accepts sane values of the same fields', () => {
    const ok = createRequestFromWire(req(
      {
        hostname: 'web.example', domainname: 'example.com', user: '1000:1000', env: ['A=1', 'B', 'C=x=y'], workingDir: '/srv',
        exposedPorts: ['80/tcp', '53/udp', '8080'], volumes: ['/data'], labels: { 'com.example.role': 'front' }, stopSignal: 'sigquit',
        stopTimeout: -1, cmd: { values: ['echo', ''] }, entrypoint: { values: [''] },
      },
      {
        memory: 64 * MiB, memorySwap: -1, nanoCpus: 1.5e9, cpuShares: 512, cpusetCpus: '0-1', pidsLimit: -1, networkMode: 'my-net',
        portBindings: [
          { containerPort: 80, hostIp: '127.0.0.1', hostPort: 8080 }, { containerPort: 81, hostIp: '127.0.0.2' },
          { containerPort: 82, hostPort: 9000, hostPortEnd: 9000 }, { containerPort: 83, hostPort: 9001, hostPortEnd: 9010 },
        ],
        mounts: [{ type: 'bind', source: '/srv', target: '/srv', options: ['rprivate'] }, { type: 'volume', source: 'data', target: '/v' }, { type: 'tmpfs', target: '/t', options: ['size=1m', 'mode=1777'] }],
        restartPolicy: { name: 'on-failure', maximumRetryCount: 3 }, capAdd: ['net_admin', 'ALL'], capDrop: ['CAP_CHOWN'], usernsMode: 'auto',
      },
      '/web-1',
    ));
    expect(() => validateCreateRequest(ok, host)).not.toThrow();
    // A range of one port is that port.
    expect(ok.hostConfig.portBindings[2]).toEqual({ containerPort: 82, protocol: 'tcp', hostIp: '', hostPort: 9000 });
    expect(ok.hostConfig.portBindings[3]?.hostPortEnd).toBe(9010);
  });
});

describe('UpdateContainer and Exec', () => {
  it.each([
    [{ memory: -1 }, 'memory'], [{ memory: 100 }, 'memory'], [{ memorySwap: -3 }, 'memory_swap'], [{ nanoCpus: -1 }, 'nano_cpus'],
    [{ cpuShares: -1 }, 'cpu_shares'], [{ cpusetCpus: 'x' }, 'cpuset_cpus'], [{ pidsLimit: -2 }, 'pids_limit'],
    [{ restartPolicy: { name: 'often' } }, 'restart_policy.name'],
  ] as const)('refuses update %j', (w, field) => {
    const e = refusal(() => updateRequestFromWire(w));
    expect(isInvalidArgument(e)).toBe(true);
    expect(e!.field).toBe(field);
  });

  it.each<[WireExecStart, string]>([
    [{ args: [] }, 'start.args'], [{ args: ['sh', 'a\0'] }, 'start.args[1]'], [{ args: ['sh'], env: ['=1'] }, 'start.env[0]'],
    [{ args: ['sh'], workingDir: 'rel' }, 'start.working_dir'], [{ args: ['sh'], user: 'a b' }, 'start.user'],
  ])('refuses exec %j', (w, field) => {
    const e = refusal(() => execRequestFromWire(w));
    expect(isInvalidArgument(e)).toBe(true);
    expect(e!.field).toBe(field);
  });

  it('bounds Stats interval_ms (a negative one was a busy loop), stop timeouts (a huge one killed at once) and volume names', () => {
    expect(statsIntervalFromWire(0)).toBe(1000);
    expect(statsIntervalFromWire(250)).toBe(250);
    for (const ms of [-5, 1, 99, 3_600_001]) expect(refusal(() => statsIntervalFromWire(ms))?.field).toBe('interval_ms');
    expect(stopTimeoutFromWire(undefined)).toBeUndefined();
    expect(stopTimeoutFromWire(-1)).toBe(-1);
    for (const t of [-2, 2 ** 31 - 1]) expect(refusal(() => stopTimeoutFromWire(t))?.field).toBe('timeout_seconds');
    expect(validateContainerPath('path', '/etc/hosts')).toBe('/etc/hosts');
    for (const p of ['', '/etc/passwd\0.txt', `/${'a'.repeat(4096)}`]) expect(refusal(() => validateContainerPath('path', p))?.field).toBe('path');
    expect(() => validateVolumeName('data-1')).not.toThrow();
    expect(refusal(() => validateVolumeName('v'.repeat(256)))?.field).toBe('name');
    expect(refusal(() => validateVolumeName('../x'))?.field).toBe('name');
  });

  it('normalises signals and names the field of a bad one', () => {
    expect(validateSignal('signal', 'hup')).toBe('SIGHUP');
    expect(validateSignal('signal', '40')).toBe('SIGRTMIN+6');
    expect(refusal(() => validateSignal('signal', 'SIGNOPE'))?.field).toBe('signal');
  });
});
