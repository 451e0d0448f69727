import { runSnapshotDriverSuite } from './testing/suite';

runSnapshotDriverSuite('copy');
