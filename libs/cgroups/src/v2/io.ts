// v2 io controller. Weights: io.bfq.weight takes the blkio scale (10..1000)
// unchanged when BFQ is present; otherwise io.weight (1..10000) gets runc's
// conversion. Throttles: io.max lines "MAJ:MIN rbps=N wbps=N riops=N wiops=N"
// ("max" = no limit, so an OCI rate of 0 clears it). Stats: io.stat.
import type { LinuxBlockIO, LinuxThrottleDevice } from '../resources';
import type { BlkioDeviceStats } from '../stats';
import { writeCgroupFile, readOptional, existsSync } from '../cgroupfs';
import { blkioWeightToIoWeight } from '../convert';
import { join } from 'node:path';

const THROTTLES: [keyof LinuxBlockIO, string][] = [
  ['throttleReadBpsDevice', 'rbps'],
  ['throttleWriteBpsDevice', 'wbps'],
  ['throttleReadIOPSDevice', 'riops'],
  ['throttleWriteIOPSDevice', 'wiops'],
];

export function applyIoV2(dir: string, bio: LinuxBlockIO): void {
  const bfq = existsSync(join(dir, 'io.bfq.weight'));
  if (bio.weight) {
    if (bfq) writeCgroupFile(dir, 'io.bfq.weight', String(bio.weight));
    else writeCgroupFile(dir, 'io.weight', `default ${blkioWeightToIoWeight(bio.weight)}`);
  }
  for (const d of bio.weightDevice ?? []) {
    if (bfq) writeCgroupFile(dir, 'io.bfq.weight', `${d.major}:${d.minor} ${d.weight}`);
    else writeCgroupFile(dir, 'io.weight', `${d.major}:${d.minor} ${blkioWeightToIoWeight(d.weight)}`);
  }
  for (const [field, key] of THROTTLES) {
    for (const d of (bio[field] as LinuxThrottleDevice[] | undefined) ?? []) {
      writeCgroupFile(dir, 'io.max', `${d.major}:${d.minor} ${key}=${d.rate === 0 ? 'max' : d.rate}`);
    }
  }
}

/** Parses io.stat: "254:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per line. */
export function parseIoStat(text: string): BlkioDeviceStats[] {
  const out: BlkioDeviceStats[] = [];
  for (const line of text.split('\n')) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    if (!dev || !dev.includes(':')) continue;
    const [major, minor] = dev.split(':').map(Number);
    const kv = new Map(kvs.map((p) => p.split('=') as [string, string]));
    const n = (k: string) => Number(kv.get(k) ?? 0);
    out.push({ major: major ?? 0, minor: minor ?? 0, readBytes: n('rbytes'), writeBytes: n('wbytes'), reads: n('rios'), writes: n('wios') });
  }
  return out.sort((a, b) => a.major - b.major || a.minor - b.minor);
}

export function readIoV2(dir: string): BlkioDeviceStats[] {
  return parseIoStat(readOptional(dir, 'io.stat') ?? '');
}
