// The process around HTTP functions: settings from the environment (a bad one exits 2 with the
// variable named), the caller's composition (shared/app, and the routes it mounts), and a server
// that drains in-flight work on SIGTERM before closing what was composed. The drain outlasts a
// step in flight: it is derived from REKEY_BUDGET_SECONDS (the step's hard deadline plus time to
// answer), which the Knative Services' timeoutSeconds (and so the pods' termination grace
// period) must exceed.
import type { Functions } from '../shared/app/compose.ts';
import { ConfigError, loadConfig, type RekeyConfig } from '../shared/config/config.ts';
import { stepDeadlineMs } from '../shared/core/step-stop.ts';
import { drainMsFor, serveWithGracefulShutdown } from '../shared/http/graceful.ts';

/** How long a function process drains on SIGTERM: longer than any step it may be running. */
export function shutdownDrainMs(config: Pick<RekeyConfig, 'REKEY_BUDGET_SECONDS'>): number {
  return drainMsFor(stepDeadlineMs(config.REKEY_BUDGET_SECONDS * 1000));
}

export function startFunctions(
  name: string,
  env: Record<string, string | undefined>,
  compose: (config: RekeyConfig) => Functions,
): void {
  let fns: Functions;
  try {
    // an unreadable kubeconfig, or a webhook secret that can never verify, is a configuration
    // error too: exit 2 naming it, not a crash
    fns = compose(loadConfig(env));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`rekey ${name}: ${err.message}\n`);
    process.exit(2);
  }
  const server = serveWithGracefulShutdown(fns.http, {
    port: fns.config.PORT,
    drainMs: shutdownDrainMs(fns.config),
    log: fns.logger,
    onShutdown: () => fns.close(),
  });
  void server.listening.then((addr) =>
    fns.logger.info(
      { port: addr.port, functions: fns.served, provider: fns.config.REKEY_PROVIDER },
      'serving',
    ),
  );
}
