// berth-docker-api: the Docker Engine API gateway alone in its own process.
import { mainOf, runApp } from '@berth/daemon';
import { dockerApiModule } from '@berth/docker-api';

mainOf(() => runApp([dockerApiModule]));
