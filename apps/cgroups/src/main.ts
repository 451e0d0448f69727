// berth-cgroups: the cgroups service alone in its own process.
import { mainOf, runApp } from '@berth/daemon';
import { cgroupsModule } from '@berth/cgroups';

mainOf(() => runApp([cgroupsModule]));
