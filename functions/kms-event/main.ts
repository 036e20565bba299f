// Composition root of the kms-event function (one Knative Service).
import { startFunctions } from '../start.ts';

startFunctions('kms-event', ['kms-event'], process.env);
