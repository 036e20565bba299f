// Composition root of the cluster-event function (one Knative Service): settings from the
// environment, every port and use case from shared/app, and this Service serves /cluster-event
// only (ApiServerSource deliveries about key-id reports and revisions).
import { composeApp } from '../../shared/app/compose.ts';
import { startFunctions } from '../start.ts';
import { mountClusterEvent } from './route.ts';

startFunctions('cluster-event', process.env, (config) => {
  const fns = composeApp(config).functions('cluster-event', ['cluster-event']);
  mountClusterEvent(fns.http, fns.clusterEvent);
  return fns;
});
