// What a gRPC client hands the engine and the networks service on the real
// stack (every service through its real gRPC server, as `berth` reaches
// them): each bad value is INVALID_ARGUMENT naming the field, from
// CreateContainer and RunContainer alike, and leaves nothing behind — no
// container record, no writable root, no cgroup, no network attachment, no
// network. Before the engine validated, these were accepted (and a hostname
// with a newline went into /etc/hosts, "localhost" into an iptables rule,
// 127.0.0.0/8 onto a bridge) or answered INTERNAL.
import { describe, expect, it } from 'vitest';
import { cgroupsModule } from '@berth/cgroups';
import { isInvalidArgument, type BerthError } from '@berth/errors';
import { imagesModule } from '@berth/images';
import { layersModule } from '@berth/layers';
import { namespacesModule } from '@berth/namespaces';
import { networksModule } from '@berth/networks';
import type { cgroupsV1, engineV1, layersV1, networksV1 } from '@berth/proto';
import { engineModule } from './service';
import { useE2eStack } from './testing/e2e-stack.test-support';

type Create = engineV1.CreateContainerRequest;
const MiB = 1024 * 1024;

describe('bad values through the gRPC API, on the real stack', () => {
  const s = useE2eStack(async () => [layersModule, imagesModule, cgroupsModule, namespacesModule, networksModule, engineModule], {
    letter: 'v', subnets: [150, 151, 152, 153, 154],
  });

  const create = (config: Create['config'] = {}, hostConfig: Create['hostConfig'] = {}, name = ''): Create => ({
    name, config: { image: 'busybox:latest', cmd: { values: ['true'] }, ...config }, hostConfig: { networkMode: 'bridge', ...hostConfig }, pull: 'never',
  });
  const BAD: Array<[string, Create, string]> = [
    ['negative memory', create({}, { memory: -1 }), 'host_config.memory'],
    ['negative pids limit', create({}, { pidsLimit: -7 }), 'host_config.pids_limit'],
    ['negative cpu shares', create({}, { cpuShares: -1 }), 'host_config.cpu_shares'],
    ['negative nano-cpus', create({}, { nanoCpus: -1 }), 'host_config.nano_cpus'],
    ['a CPU the host does not have', create({}, { cpusetCpus: '63' }), 'host_config.cpuset_cpus'],
    ['a 10,000-character name', create({}, {}, 'n'.repeat(10_000)), 'name'],
    ['a hostname with a newline', create({ hostname: 'web\n203.0.113.7 bank.example' }), 'config.hostname'],
    ['an unknown stop signal', create({ stopSignal: 'SIGBOGUS' }), 'config.stop_signal'],
    ['a host IP that is not an address', create({}, { portBindings: [{ containerPort: 80, hostIp: 'localhost', hostPort: 18080 }] }), 'host_config.port_bindings[0].host_ip'],
    ['host port 2^32-1', create({}, { portBindings: [{ containerPort: 80, hostPort: 2 ** 32 - 1 }] }), 'host_config.port_bindings[0].host_port'],
    ['an env entry with a NUL', create({ env: ['A=x\0y'] }), 'config.env[0]'],
    ['a relative working dir', create({ workingDir: 'srv' }), 'config.working_dir'],
    ['a tmpfs option smuggling another', create({}, { mounts: [{ type: 'tmpfs', target: '/t', options: ['size=1m,exec'] }] }), 'host_config.mounts[0].options[0]'],
    ['an unknown capability', create({}, { capAdd: ['CAP_BOGUS'] }), 'host_config.cap_add[0]'],
    ['an unknown restart policy', create({}, { restartPolicy: { name: 'sometimes', maximumRetryCount: 0 } }), 'host_config.restart_policy.name'],
  ];

  it('refuses each with INVALID_ARGUMENT naming the field, and leaves nothing behind', async () => {
    const engine = s.client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
    const layers = s.client<layersV1.LayersDefinition, layersV1.LayersHandlers>('berth.layers.v1.Layers', 'layers');
    const cgroups = s.client<cgroupsV1.CgroupsDefinition, cgroupsV1.CgroupsHandlers>('berth.cgroups.v1.Cgroups', 'cgroups');
    const networks = s.client<networksV1.NetworksDefinition, networksV1.NetworksHandlers>('berth.networks.v1.Networks', 'networks');
    try {
      await s.busybox();
      for (const [what, req, field] of BAD) {
        for (const call of [() => engine.CreateContainer(req), () => engine.RunContainer({ create: req })]) {
          const e = await call().then(() => undefined, (x: unknown) => x as BerthError);
          expect(e, `${what}: accepted`).toBeDefined();
          expect(isInvalidArgument(e), `${what}: ${String(e)}`).toBe(true);
          expect(e!.field, what).toBe(field);
        }
      }
      // UpdateContainer on a real container.
      const ok = await engine.CreateContainer(create({}, { networkMode: 'none' }, `bt-v-${s.tag}`));
      for (const [u, field] of [[{ memory: -1 }, 'memory'], [{ nanoCpus: -5 }, 'nano_cpus'], [{ pidsLimit: -3 }, 'pids_limit'], [{ cpuShares: -1 }, 'cpu_shares']] as const) {
        const e = await engine.UpdateContainer({ id: ok.id, ...u }).then(() => undefined, (x: unknown) => x as BerthError);
        expect(isInvalidArgument(e), `update ${field}: ${String(e)}`).toBe(true);
        expect(e!.field).toBe(field);
      }
      await engine.RemoveContainer({ id: ok.id, force: true });

      // network create --subnet 127.0.0.0/8, and friends.
      for (const [req, field] of [
        [{ name: `bt-lo-${s.tag}`, subnet: '127.0.0.0/8' }, 'subnet'],
        [{ name: `bt-mc-${s.tag}`, subnet: '224.0.0.0/4' }, 'subnet'],
        [{ name: `bt-gw-${s.tag}`, subnet: '10.219.155.0/24', gateway: '10.219.156.1' }, 'gateway'],
      ] as const) {
        const e = await networks.CreateNetwork(req).then(() => undefined, (x: unknown) => x as BerthError);
        expect(isInvalidArgument(e), `${req.subnet}: ${String(e)}`).toBe(true);
        expect(e!.field).toBe(field);
      }

      // Nothing left behind.
      expect((await engine.ListContainers({ all: true })).containers).toEqual([]);
      expect((await layers.List({})).snapshots.filter((x) => x.kind === 'SNAPSHOT_KIND_ACTIVE')).toEqual([]);
      expect((await cgroups.List({})).cgroups).toEqual([]);
      expect((await networks.ListAttachments({})).attachments).toEqual([]);
      expect((await networks.ListNetworks({})).networks.map((n) => n.name).filter((n) => n.startsWith('bt-'))).toEqual([]);
    } finally {
      for (const c of [engine, layers, cgroups, networks]) c.close();
    }
  }, 180_000);
});
