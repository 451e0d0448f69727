// The port contract (testing/port-contract.ts) on the engine's gRPC adapters
// (grpc-ports/) over the real images, layers and cgroups services, started in
// this process on the test's own names (testing/e2e-stack.test-support.ts);
// port-contract.test.ts runs the same suite on the recording doubles.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { cgroupsModule } from '@berth/cgroups';
import { imagesModule } from '@berth/images';
import { socketPath } from '@berth/kit';
import { layersModule } from '@berth/layers';
import { createGrpcPorts, type GrpcPorts } from './grpc-ports';
import { describePortContract } from './testing/port-contract';
import { useE2eStack } from './testing/e2e-stack.test-support';

const s = useE2eStack(async () => [layersModule, imagesModule, cgroupsModule], { letter: 'p', subnets: [155, 156, 157, 158, 159] });
let grpc: GrpcPorts | undefined;
const stateDir = mkdtempSync(join(tmpdir(), 'berth-engine-contract-'));
afterAll(async () => {
  await grpc?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

describePortContract('gRPC adapters over the real services', async () => {
  if (!grpc) {
    await s.busybox();
    grpc = createGrpcPorts({ addressesOf: (name) => [`unix:${socketPath(name, s.paths)}`] }, stateDir);
  }
  return { ports: grpc.ports, image: 'busybox:latest' };
});
