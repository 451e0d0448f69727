// v1 blkio controller. Weights need a proportional-share I/O scheduler: CFQ
// (blkio.weight, gone since 5.0) or BFQ (blkio.bfq.weight, present only while
// BFQ is some device's scheduler); throttles work on any scheduler.
// Statistics: with CFQ gone, blkio.io_service_bytes* no longer exist and the
// throttle.* files are what the kernel fills for every bio that passes the
// throttle layer (whether or not a limit is set); bfq.* only count I/O
// scheduled by BFQ. So the reader tries throttle first, then CFQ, then BFQ.
import { FailedPreconditionError } from '@berth/errors';
import type { LinuxBlockIO, LinuxThrottleDevice } from '../resources';
import type { BlkioDeviceStats } from '../stats';
import { writeCgroupFile, readOptional, existsSync } from '../cgroupfs';
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';

const THROTTLES: [keyof LinuxBlockIO, string][] = [
  ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
  ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
  ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
  ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
];

function weightFile(dir: string, base: 'weight' | 'weight_device'): string {
  for (const f of [`blkio.${base}`, `blkio.bfq.${base}`]) if (existsSync(join(dir, f))) return f;
  throw new FailedPreconditionError(
    `blockIO.${base === 'weight' ? 'weight' : 'weightDevice'}: this kernel has neither blkio.${base} nor blkio.bfq.${base} (block I/O weights need the BFQ scheduler on the device); leave it unset or switch the scheduler to bfq`,
    { field: 'blockIO.weight' },
  );
}

export function applyBlkioV1(dir: string, bio: LinuxBlockIO): void {
  if (bio.weight) writeCgroupFile(dir, weightFile(dir, 'weight'), String(bio.weight));
  for (const d of bio.weightDevice ?? []) writeCgroupFile(dir, weightFile(dir, 'weight_device'), `${d.major}:${d.minor} ${d.weight}`);
  for (const [field, file] of THROTTLES) {
    for (const d of (bio[field] as LinuxThrottleDevice[] | undefined) ?? []) writeCgroupFile(dir, file, `${d.major}:${d.minor} ${d.rate}`);
  }
}

/** Parses "MAJ:MIN Op value" lines (blkio *_recursive files) into per-device read/write sums. */
export function parseBlkioRecursive(text: string): Map<string, { read: number; write: number }> {
  const out = new Map<string, { read: number; write: number }>();
  for (const line of text.split('\n')) {
    const [dev, op, value] = line.trim().split(/\s+/);
    if (!dev || !op || value === undefined || !dev.includes(':')) continue;
    const e = out.get(dev) ?? { read: 0, write: 0 };
    if (op === 'Read') e.read += Number(value);
    else if (op === 'Write') e.write += Number(value);
    out.set(dev, e);
  }
  return out;
}

const SOURCES: [bytes: string, ops: string][] = [
  ['blkio.throttle.io_service_bytes_recursive', 'blkio.throttle.io_serviced_recursive'],
  ['blkio.io_service_bytes_recursive', 'blkio.io_serviced_recursive'],
  ['blkio.bfq.io_service_bytes_recursive', 'blkio.bfq.io_serviced_recursive'],
];

function readSource(dir: string, file: string, missingFiles: Set<string>): string | undefined {
  if (missingFiles.has(file)) return undefined;
  const text = readOptional(dir, file);
  if (text === undefined) missingFiles.add(file);
  return text;
}

/**
 * Per-device I/O from the first statistics source that counted anything.
 * `missingFiles` remembers which files the hierarchy lacks (a property of the
 * kernel: CFQ gone, BFQ built in or not), so a scrape of many containers does
 * not pay for the same ENOENT again and again; the driver keeps one per
 * hierarchy.
 */
export function readBlkioV1(dir: string, missingFiles: Set<string> = new Set()): BlkioDeviceStats[] {
  let fallback: BlkioDeviceStats[] | undefined;
  for (const [bytesFile, opsFile] of SOURCES) {
    const bytesText = readSource(dir, bytesFile, missingFiles);
    if (bytesText === undefined) continue;
    const bytes = parseBlkioRecursive(bytesText);
    const ops = parseBlkioRecursive(readSource(dir, opsFile, missingFiles) ?? '');
    const devices = [...new Set([...bytes.keys(), ...ops.keys()])].sort();
    const stats = devices.map((dev) => {
      const [major, minor] = dev.split(':').map(Number);
      return {
        major: major ?? 0,
        minor: minor ?? 0,
        readBytes: bytes.get(dev)?.read ?? 0,
        writeBytes: bytes.get(dev)?.write ?? 0,
        reads: ops.get(dev)?.read ?? 0,
        writes: ops.get(dev)?.write ?? 0,
      };
    });
    // The first source that counted anything wins; an all-zero source is
    // kept only in case no other one counted either.
    if (stats.some((d) => d.readBytes + d.writeBytes > 0)) return stats;
    fallback ??= stats;
  }
  return fallback ?? [];
}

const primed = new Set<string>();

/**
 * Since Linux 6.x blk-throttle is set up on a disk's request queue only when
 * some cgroup first configures a throttle on it, and until then the
 * blkio.throttle.io_service* files count nothing (measured on 6.18: a cgroup
 * writing 16 MiB with fsync showed "Total 0"). Configuring and then removing a
 * rule once per disk switches accounting on for every cgroup, so the driver
 * does that in berth's own parent cgroup (never outside it) before the first
 * container. Best effort: a disk that refuses simply keeps reporting zeros.
 */
export function primeThrottleAccounting(parentDir: string, sysBlock = '/sys/block'): void {
  let disks: string[];
  try {
    disks = readdirSync(sysBlock);
  } catch {
    return;
  }
  for (const disk of disks) {
    try {
      if (Number(readFileSync(join(sysBlock, disk, 'size'), 'utf8')) <= 0) continue;
      const dev = readFileSync(join(sysBlock, disk, 'dev'), 'utf8').trim();
      if (primed.has(dev)) continue;
      writeCgroupFile(parentDir, 'blkio.throttle.read_bps_device', `${dev} ${2 ** 50}`);
      writeCgroupFile(parentDir, 'blkio.throttle.read_bps_device', `${dev} 0`);
      primed.add(dev);
    } catch {
      /* not a throttleable disk */
    }
  }
}
