// v2 pids controller: the same pids.max / pids.current files as v1.
export { applyPids as applyPidsV2, readPidsStats as readPidsStatsV2 } from '../v1/pids';
