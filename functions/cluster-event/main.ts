// Composition root of the cluster-event function (one Knative Service).
import { startFunctions } from '../start.ts';

startFunctions('cluster-event', ['cluster-event'], process.env);
