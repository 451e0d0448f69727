import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { loadProtos, serviceDefinition, serviceNames } from './load';

describe('proto loading', () => {
  it('loads every contract and finds services', () => {
    const { pkg } = loadProtos();
    expect(pkg['berth.types.v1.ContainerSpec']).toBeDefined();
    expect(serviceDefinition('grpc.health.v1.Health')).toHaveProperty('Check');
    expect(() => serviceDefinition('berth.types.v1.Mount')).toThrow(/not defined/);
    expect(serviceNames('grpc.')).toContain('grpc.health.v1.Health');
  });

  it('generated types are not stale', () => {
    const script = resolve(__dirname, '..', '..', '..', 'scripts', 'gen-protos.sh');
    const out = execFileSync('bash', [script, '--check'], { encoding: 'utf8' });
    expect(out).toContain('up to date');
  });
});
