// The dead-letter sink of the Knative tier: stands where infra/'s rekey-dead-letters Service
// (Knative's event_display) runs in a cluster, and does what that does: logs each event that no
// retry could deliver, attributes only (with the knativeerror* extensions Knative adds), one JSON
// line each, on stdout (the process's log file). Answers 202.
import { createServer } from 'node:http';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port < 1) {
  process.stderr.write('PORT is required\n');
  process.exit(2);
}
createServer((req, res) => {
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.startsWith('ce-') && typeof v === 'string') attributes[k.slice(3)] = v;
  }
  req.resume();
  req.on('end', () => {
    process.stdout.write(`${JSON.stringify({ deadLetter: attributes })}\n`);
    res.writeHead(202).end();
  });
}).listen(port, '127.0.0.1');
