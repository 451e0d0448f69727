// Both drivers run the same conformance suite: the host's own hierarchy
// (cgroup v1 on the development VM, v2 on a unified host) and the v2 driver
// against a cgroup2-shaped temp tree.
import { cgroupDriverConformance } from './testing/driver-suite';
import { FakeCgroup2 } from './testing/fake-cgroup2';
import { FakeCgroup1 } from './testing/fake-cgroup1';
import { Harness, layout } from './testing/harness';
import { V1Driver, V2Driver } from './index';

cgroupDriverConformance(`host hierarchy (${layout.version})`, () => {
  const h = new Harness();
  const driver = layout.version === 'v1' ? new V1Driver({ mounts: layout.v1Mounts }) : new V2Driver({ root: layout.unifiedRoot! });
  return { driver, base: h.parent, cleanup: () => h.cleanup() };
});

cgroupDriverConformance('v2 on a cgroup2-shaped temp tree', () => {
  const fake = new FakeCgroup2();
  return { driver: new V2Driver({ root: fake.root }), base: 'berth', cleanup: () => fake.close() };
});

cgroupDriverConformance('v1 on cgroup-v1-shaped temp trees', () => {
  const fake = new FakeCgroup1();
  return { driver: new V1Driver({ mounts: fake.mounts }), base: 'berth', cleanup: () => fake.close() };
});
