// The port contract (testing/port-contract.ts) on the recording doubles the
// engine's unit tests run over; port-contract.e2e.test.ts runs the same suite
// on the gRPC adapters over the real services.
import { describePortContract } from './testing/port-contract';
import { addTestImage, recordingPorts } from './testing/recording-ports';

describePortContract('recording doubles', () => {
  const ports = recordingPorts();
  addTestImage(ports, 'alpine', { cmd: ['/bin/sh'] });
  return { ports, image: 'alpine' };
});
