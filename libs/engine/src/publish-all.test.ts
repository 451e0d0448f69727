// -P: the exposed ports without a binding get a free host port; bound ones keep theirs.
import { describe, expect, it } from 'vitest';
import { portBindingsOf } from './publish-all';
import { defaultContainerConfig, defaultHostConfig } from './types';

describe('publish all', () => {
  it('adds a free host port for each exposed port -p does not bind', () => {
    const h = { ...defaultHostConfig(), publishAllPorts: true, portBindings: [{ containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8080 }] };
    const merged = { ...defaultContainerConfig('x'), exposedPorts: ['80/tcp', '443/tcp', '53/udp'] };
    expect(portBindingsOf(h, merged)).toEqual([
      { containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8080 },
      { containerPort: 443, protocol: 'tcp', hostIp: '', hostPort: 0 },
      { containerPort: 53, protocol: 'udp', hostIp: '', hostPort: 0 },
    ]);
    expect(portBindingsOf({ ...h, publishAllPorts: false }, merged)).toEqual(h.portBindings);
  });
});
