// berth-namespaces: the namespaces service alone in its own process.
import { mainOf, runApp } from '@berth/daemon';
import { namespacesModule } from '@berth/namespaces';

mainOf(() => runApp([namespacesModule]));
