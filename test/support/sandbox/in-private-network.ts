// Imported first by a test file that needs the sandbox's apiservers on non-loopback addresses
// (endpoint discovery): the file then runs inside a network namespace of its own
// (./private-network.ts). A side-effect import, so it runs before the file's tests are declared.
import { enterPrivateNetwork } from './private-network.ts';

await enterPrivateNetwork();
