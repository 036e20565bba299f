// Imported first by a test file that runs the Knative tier: the file then runs in a network
// namespace of its own (../sandbox/private-network.ts), because Knative's InMemoryChannel
// dispatcher always listens on ports 8080 and 8443, so one Knative tier fits in one network.
// The programs are built before entering (inside there is no route to the Go module proxy).
import { enterPrivateNetwork, privateAddresses } from '../sandbox/private-network.ts';
import { ensureKnativePrograms, knativeEventingSource } from './build.ts';

if (!privateAddresses()) {
  ensureKnativePrograms({ log: (line) => process.stderr.write(`${line}\n`) });
  knativeEventingSource();
}
await enterPrivateNetwork();
