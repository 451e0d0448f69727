// The CNI datapath (cni/datapath.ts) through the datapath conformance suite.
import { runDatapathSuite } from './testing/datapath-suite';

runDatapathSuite('cni');
