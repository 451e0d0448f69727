import { describe, expect, it } from 'vitest';
import { historyRows } from './history';

describe('historyRows', () => {
  const items = [
    { created: '2026-01-01T00:00:00Z', createdBy: 'ADD file:abc in /', comment: '', emptyLayer: false },
    { created: '2026-01-01T00:00:00Z', createdBy: 'ENV A=b', comment: '', emptyLayer: true },
    { created: '2026-01-02T00:00:00Z', createdBy: 'RUN /bin/sh -c apk add --no-cache a-rather-long-package-name another', comment: 'c', emptyLayer: false },
  ];
  it('lists newest first, sizes matched to the entries that made a layer, the ID on the top row only', () => {
    const rows = historyRows(`sha256:${'ab'.repeat(32)}`, items, [1000, 2048], Date.parse('2026-01-02T01:00:00Z'), { noTrunc: false, human: true });
    expect(rows.map((r) => [r.ID, r.Size, r.CreatedSince])).toEqual([
      ['abababababab', '2.05kB', 'About an hour ago'], ['<missing>', '0B', '25 hours ago'], ['<missing>', '1kB', '25 hours ago'],
    ]);
    expect(rows[0]!.CreatedBy).toBe('RUN /bin/sh -c apk add --no-cache a-rather-l…');
    expect([...(rows[0]!.CreatedBy as string)].length).toBe(45);
  });
  it('keeps everything with --no-trunc and raw values with -H=false', () => {
    const rows = historyRows('sha256:ff', items, [1000, 2048], 0, { noTrunc: true, human: false });
    expect(rows[0]).toMatchObject({ ID: 'sha256:ff', Size: '2048', CreatedSince: '2026-01-02T00:00:00Z', CreatedBy: items[2]!.createdBy });
  });
});
