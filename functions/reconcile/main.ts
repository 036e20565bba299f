// Composition root of the reconcile function (one Knative Service): settings from the environment,
// every port and use case from shared/app, and this Service serves /reconcile only (PingSource
// ticks, continuation events, the trigger functions' step requests).
import { composeApp } from '../../shared/app/compose.ts';
import { startFunctions } from '../start.ts';
import { mountReconcile } from './route.ts';

startFunctions('reconcile', process.env, (config) => {
  const fns = composeApp(config).functions('reconcile', ['reconcile']);
  mountReconcile(fns.http, fns.reconcile);
  return fns;
});
