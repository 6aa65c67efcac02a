// The whole worker file a user writes for `hess-vggt/worker` (here importing the built entry from the repo).
import { attachVggtWorker } from '../../../dist/browser/worker.js';

attachVggtWorker(self);
