// The native datapath (native/datapath.ts) through the datapath conformance suite.
import { runDatapathSuite } from './testing/datapath-suite';

runDatapathSuite('native');
