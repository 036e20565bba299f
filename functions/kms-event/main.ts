// Composition root of the kms-event function (one Knative Service): settings from the environment,
// every port and use case from shared/app, and this Service serves /kms-event only (CloudEvents of
// the clouds' KMS, raw EventBridge posts, the Azure Event Grid handshake).
import { composeApp } from '../../shared/app/compose.ts';
import { startFunctions } from '../start.ts';
import { mountKmsEvent } from './route.ts';

startFunctions('kms-event', process.env, (config) => {
  const fns = composeApp(config).functions('kms-event', ['kms-event']);
  mountKmsEvent(fns.http, fns.kmsEvent);
  return fns;
});
