// Composition root of the webhook function (one Knative Service): settings from the environment,
// every port and use case from shared/app, and this Service serves /webhook only (signed
// commands), when REKEY_WEBHOOK_SECRETS is set; without it only the probes answer.
import { composeApp } from '../../shared/app/compose.ts';
import { startFunctions } from '../start.ts';
import { mountWebhook } from './route.ts';

startFunctions('webhook', process.env, (config) => {
  const fns = composeApp(config).functions('webhook', ['webhook']);
  if (fns.webhook) mountWebhook(fns.http, fns.webhook.deps, fns.webhook.verify);
  return fns;
});
