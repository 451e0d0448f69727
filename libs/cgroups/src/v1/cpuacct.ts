// v1 cpuacct controller: CPU time used. cpuacct.usage_user/usage_sys are in
// nanoseconds (3.x+ kernels); cpuacct.stat is the fallback, in USER_HZ ticks.
import type { CpuStats } from '../stats';
import { readNumber, readOptionalNumber, readFlatKeyed } from '../cgroupfs';

// USER_HZ is 100 on every Linux ABI Node runs on (sysconf(_SC_CLK_TCK)).
const NS_PER_TICK = 1e9 / 100;

export function readCpuUsageV1(dir: string): Pick<CpuStats, 'usageTotalNs' | 'usageUserNs' | 'usageSystemNs'> {
  const total = readNumber(dir, 'cpuacct.usage');
  let user = readOptionalNumber(dir, 'cpuacct.usage_user');
  let system = readOptionalNumber(dir, 'cpuacct.usage_sys');
  if (user === undefined || system === undefined) {
    const s = readFlatKeyed(dir, 'cpuacct.stat');
    user = (s.get('user') ?? 0) * NS_PER_TICK;
    system = (s.get('system') ?? 0) * NS_PER_TICK;
  }
  return { usageTotalNs: total, usageUserNs: user, usageSystemNs: system };
}
