import { describe, expect, it } from 'vitest';
import { formatHosts, formatResolvConf, parseResolvConf } from './files';

describe('container files', () => {
  it('parses resolv.conf and keeps search/options', () => {
    const r = parseResolvConf('# c\nnameserver 127.0.0.53\nnameserver 10.0.0.2 # x\nsearch a.example b.example\noptions ndots:2 edns0\n');
    expect(r).toEqual({ nameservers: ['127.0.0.53', '10.0.0.2'], search: ['a.example', 'b.example'], options: ['ndots:2', 'edns0'] });
    expect(formatResolvConf({ nameservers: ['10.0.0.2'], search: [], options: ['ndots:0'] })).toBe('nameserver 10.0.0.2\noptions ndots:0\n');
  });
  it('writes localhost lines then own addresses without duplicate names', () => {
    const h = formatHosts([{ ip: '10.213.0.2', names: ['web', 'web', ''] }]);
    expect(h.split('\n')[0]).toBe('127.0.0.1\tlocalhost');
    expect(h).toContain('10.213.0.2\tweb\n');
  });
});
