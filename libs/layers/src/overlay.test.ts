import { runSnapshotDriverSuite } from './testing/suite';

runSnapshotDriverSuite('overlay');
