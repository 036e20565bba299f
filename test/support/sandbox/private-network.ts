// Runs a test file inside a network namespace of its own, where the sandbox's apiservers get
// non-loopback addresses. The `kubernetes` Service's Endpoints and EndpointSlices reject loopback
// addresses, so on 127.0.0.x the apiservers cannot list themselves there and rekey's endpoint
// discovery has nothing to find; inside the namespace they advertise 10.77.0.x instead, as a real
// HA control plane advertises its nodes' addresses. The host's network is left as it is: the
// addresses live on the namespace's own loopback interface, and the namespace (with the
// sandbox's etcd, plugins, apiservers and the test's rekey, all started from the test process)
// goes away with its last process.
import { spawn } from 'node:child_process';
import { ensureBinaries } from './build.ts';

/** Set inside the namespace: the addresses the sandbox's apiservers take, comma-separated. */
export const PRIVATE_ADDRESSES_VAR = 'SANDBOX_PRIVATE_ADDRESSES';
/** One per apiserver the sandbox may run (up to 5), outside --service-cluster-ip-range. */
const ADDRESSES = ['10.77.0.2', '10.77.0.3', '10.77.0.4', '10.77.0.5', '10.77.0.6'];

/** The apiservers' addresses when running inside the private network, else undefined. */
export function privateAddresses(): string[] | undefined {
  const v = process.env[PRIVATE_ADDRESSES_VAR];
  return v ? v.split(',') : undefined;
}

/**
 * Makes the rest of this process run inside a fresh network namespace: when not there yet, runs
 * this same process (same Node flags, same arguments, same stdout for the test runner) under
 * `unshare --net` with the addresses set up, and exits with its status. Inside, returns at once.
 */
export async function enterPrivateNetwork(): Promise<void> {
  if (privateAddresses()) return;
  // inside there is no route out: build the control plane (Go modules) before entering
  ensureBinaries({ log: (line) => process.stderr.write(`${line}\n`) });
  const setup = [
    'ip link set lo up',
    ...ADDRESSES.map((a) => `ip addr add ${a}/32 dev lo`),
    'exec "$@"',
  ].join(' && ');
  // root may make a network namespace directly; anyone else through a user namespace
  const asRoot = process.getuid?.() === 0;
  const child = spawn(
    'unshare',
    [
      ...(asRoot ? [] : ['--user', '--map-root-user']),
      '--net',
      '--',
      'sh',
      '-c',
      setup,
      'sh',
      process.execPath,
      ...process.execArgv,
      ...process.argv.slice(1),
    ],
    { stdio: 'inherit', env: { ...process.env, [PRIVATE_ADDRESSES_VAR]: ADDRESSES.join(',') } },
  );
  // a runner that cancels this file signals this process: pass it on, so nothing is orphaned
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(s, forward(s));
  const code = await new Promise<number>((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(
        `cannot enter a private network namespace (unshare --net): ${err.message}\n`,
      );
      resolve(1);
    });
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  process.exit(code);
}
