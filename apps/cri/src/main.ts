// berth-cri: the Kubernetes CRI gateway alone in its own process.
import { mainOf, runApp } from '@berth/daemon';
import { criModule } from '@berth/cri';

mainOf(() => runApp([criModule]));
