// berth-engine: the engine service alone in its own process.
import { mainOf, runApp } from '@berth/daemon';
import { engineModule } from '@berth/engine';

mainOf(() => runApp([engineModule]));
