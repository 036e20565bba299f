// Composition root of the reconcile function (one Knative Service).
import { startFunctions } from '../start.ts';

startFunctions('reconcile', ['reconcile'], process.env);
