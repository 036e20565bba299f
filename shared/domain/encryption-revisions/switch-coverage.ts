// Which requested resource patterns the finished switches did not switch. A switch covers a
// pattern it named itself (`secrets`, `deployments.apps`), or every pattern of a group it named
// with a wildcard (`*.apps`; `*.` for the core group) or everything (`*.*`). A request is reported
// completed by finished switches only when they cover every pattern it names.
import { formatGroupResource, parseGroupResource } from '../group-resource.ts';
import type { ConfigRevisionRecord } from './switch-state.ts';

const norm = (pattern: string) => formatGroupResource(parseGroupResource(pattern.trim()));

function covers(switched: readonly string[], pattern: string): boolean {
  const gr = parseGroupResource(pattern.trim());
  const wanted = formatGroupResource(gr);
  return switched.some((s) => {
    const got = parseGroupResource(s.trim());
    if (s.trim() === '*.*') return true;
    if (got.resource === '*') return got.group === gr.group;
    return formatGroupResource(got) === wanted;
  });
}

/** The requested patterns (normalized, each once) that the switched ones do not cover. */
export function uncoveredResources(
  switched: readonly string[],
  requested: readonly string[],
): string[] {
  const out: string[] = [];
  for (const p of requested) {
    if (p.trim() === '') continue;
    const n = norm(p);
    if (!out.includes(n) && !covers(switched, p)) out.push(n);
  }
  return out;
}

/**
 * The requested patterns no finished switch to `target` accounts for: a pattern counts as switched
 * when a switch to `target` whose last stage is applied covered it and the running configuration
 * still writes it with that switch's write key (`writeKeyOf`), so two switches of different
 * resources to the same target together complete a request for both, and a later switch of the
 * pattern elsewhere undoes it.
 */
export function unswitchedResources(
  records: readonly ConfigRevisionRecord[],
  target: string,
  requested: readonly string[],
  writeKeyOf: (pattern: string) => string,
): string[] {
  const finished = records.filter(
    (r) => r.stage === 'remove-old' && r.state === 'applied' && r.switch?.target === target,
  );
  return uncoveredResources([], requested).filter(
    (p) =>
      !finished.some(
        (r) =>
          r.switch !== undefined &&
          uncoveredResources(r.switch.resources, [p]).length === 0 &&
          writeKeyOf(p) === r.switch.to,
      ),
  );
}
