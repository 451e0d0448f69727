// berth-layers: the layers service alone in its own process.
import { mainOf, runApp } from '@berth/daemon';
import { layersModule } from '@berth/layers';

mainOf(() => runApp([layersModule]));
