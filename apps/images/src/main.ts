// berth-images: the images service alone in its own process.
import { mainOf, runApp } from '@berth/daemon';
import { imagesModule } from '@berth/images';

mainOf(() => runApp([imagesModule]));
