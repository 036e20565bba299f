// Composition root of the webhook function (one Knative Service).
import { startFunctions } from '../start.ts';

startFunctions('webhook', ['webhook'], process.env);
