import { describe, expect, it } from 'vitest';
import { defaultSubnetCandidates, formatCidr, parseCidr, pickFreeSubnet } from './ipv4';
import { parseProcRoutes } from './routes';

describe('subnets', () => {
  it('parses /proc/net/route and skips taken candidates', () => {
    const routes = parseProcRoutes(
      'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n' +
      'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n' +
      'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n' +
      'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n');
    expect(routes.map(formatCidr)).toEqual(['192.0.2.0/24', '172.17.0.0/16']);
    const pick = pickFreeSubnet(defaultSubnetCandidates(), [...routes, parseCidr('172.18.5.0/24')]);
    expect(formatCidr(pick!)).toBe('172.19.0.0/16');
  });
  it('refuses host bits', () => {
    expect(() => parseCidr('10.213.0.1/24')).toThrow(/host bits/);
  });
});
