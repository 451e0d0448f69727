// berth-networks: the networks service alone in its own process.
import { mainOf, runApp } from '@berth/daemon';
import { networksModule } from '@berth/networks';

mainOf(() => runApp([networksModule]));
