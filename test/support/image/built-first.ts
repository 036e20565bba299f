// Imported by an image test before ../knative/in-private-network.ts: builds the image (or finds it
// cached) while the test still runs on the host's network, since inside the private network
// there is no route to the package mirrors the build needs. Inside, does nothing.
import { privateAddresses } from '../sandbox/private-network.ts';
import { ensureImage } from './build.ts';

if (!privateAddresses()) ensureImage();
