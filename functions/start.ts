// Starts function(s) as a process: settings from the environment (a bad one exits 2 with the
// variable named), the runtime, the routes, and a server that drains in-flight work on SIGTERM.
import { ConfigError, loadConfig } from '../shared/config/config.ts';
import { serveWithGracefulShutdown } from '../shared/http/graceful.ts';
import { type FunctionName, mountFunction } from './mount-all.ts';
import { buildRuntime } from './runtime.ts';

export function startFunctions(
  name: string,
  functions: readonly FunctionName[],
  env: Record<string, string | undefined>,
): void {
  let config: ReturnType<typeof loadConfig>;
  let rt: ReturnType<typeof buildRuntime>;
  try {
    config = loadConfig(env);
    // a function that only hands its steps off reads nothing of the apiservers (hand-off.ts)
    const readsAdoption =
      config.REKEY_STEP_MODE === 'local' ||
      functions.some((f) => f === 'reconcile' || f === 'webhook');
    // an unreadable kubeconfig is a configuration error too: exit 2 naming it, not a crash
    rt = buildRuntime(config, { name, readsAdoption });
    // a webhook secret that can never verify is one too
    for (const f of functions) mountFunction(rt, f);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`rekey ${name}: ${err.message}\n`);
    process.exit(2);
  }
  const server = serveWithGracefulShutdown(rt.app, {
    port: config.PORT,
    log: rt.logger,
    onShutdown: () => rt.close(),
  });
  void server.listening.then((addr) =>
    rt.logger.info({ port: addr.port, functions, provider: config.REKEY_PROVIDER }, 'serving'),
  );
}
