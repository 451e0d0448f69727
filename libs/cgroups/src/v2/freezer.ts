// v2 freezer: cgroup.freeze (0/1) requests the state, cgroup.events "frozen"
// reports when it is reached (kernel 5.2+). Waiting polls cgroup.events.
import { FailedPreconditionError, makeError, ErrorCode } from '@berth/errors';
import { writeCgroupFile, readFlatKeyed, existsSync, sleep } from '../cgroupfs';
import { join } from 'node:path';

function requireFreezer(dir: string): void {
  if (!existsSync(join(dir, 'cgroup.freeze'))) {
    throw new FailedPreconditionError(`freeze ${dir}: this kernel has no cgroup.freeze (cgroup v2 freezer needs Linux 5.2+)`);
  }
}

export function isFrozenV2(dir: string): boolean {
  return readFlatKeyed(dir, 'cgroup.events').get('frozen') === 1;
}

export async function freezeV2(dir: string, timeoutMs: number): Promise<void> {
  requireFreezer(dir);
  writeCgroupFile(dir, 'cgroup.freeze', '1');
  const deadline = Date.now() + timeoutMs;
  while (!isFrozenV2(dir)) {
    if (Date.now() > deadline) {
      writeCgroupFile(dir, 'cgroup.freeze', '0');
      throw makeError(ErrorCode.DeadlineExceeded, `freeze ${dir}: cgroup.events did not report frozen within ${timeoutMs} ms; thawed it again`);
    }
    await sleep(10);
  }
}

export async function thawV2(dir: string): Promise<void> {
  requireFreezer(dir);
  writeCgroupFile(dir, 'cgroup.freeze', '0');
  for (let i = 0; i < 500 && isFrozenV2(dir); i++) await sleep(10);
}
