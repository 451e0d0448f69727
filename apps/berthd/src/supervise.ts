// berth's supervisor: started by `berth daemon up`, it starts the stack's
// service processes and restarts any that dies, with backoff
// (libs/daemon/src/supervisor.ts says why it is a process of its own).
// Only node builtins are loaded: @berth/daemon/supervisor imports no gRPC.
import { superviseMain } from '@berth/daemon/supervisor';

const run = process.env.BERTH_RUN;
if (!run) {
  process.stderr.write('berth supervisor: BERTH_RUN is not set; it is started by `berth daemon up`\n');
  process.exit(2);
}
superviseMain(run);
