// Finds every apiserver's own endpoint from the `kubernetes` Service's EndpointSlices in `default`
// (shared/domain/apiserver-endpoints.ts says why those), so that the default install scrapes each
// apiserver without REKEY_APISERVER_URLS. Needs `list endpointslices` in `default` only
// (infra/base/rbac-reconcile.yaml).
//
// TLS: the endpoints are IP addresses, so each apiserver's serving certificate must cover its
// advertise address. kubeadm's does (it puts the advertise address in the SANs); a certificate
// issued for a load balancer's name only fails verification here, and REKEY_APISERVER_URLS with
// names that certificate covers is the way out.
import {
  type ApiserverEndpointSlice,
  apiserverUrlsFromSlices,
  SERVICE_NAME_LABEL,
} from '../../domain/apiserver-endpoints.ts';
import { oneLine } from '../../domain/format.ts';
import type { RestClient } from '../k8s/rest-client.ts';

export const KUBERNETES_SLICES_PATH = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices';

/** The apiservers' URLs, or why none were found (never throws). */
export type Discovered = { urls: string[] } | { problem: string };

export async function discoverApiserverUrls(
  rest: RestClient,
  { timeoutMs = 10_000 }: { timeoutMs?: number } = {},
): Promise<Discovered> {
  try {
    const r = await rest.request({
      path: KUBERNETES_SLICES_PATH,
      query: { labelSelector: `${SERVICE_NAME_LABEL}=kubernetes` },
      timeoutMs,
    });
    if (r.status !== 200) {
      return {
        problem:
          `listing EndpointSlices in default: HTTP ${r.status} ${oneLine(r.body, { max: 120 })}`.trim(),
      };
    }
    const items = (JSON.parse(r.body) as { items?: ApiserverEndpointSlice[] }).items ?? [];
    const urls = apiserverUrlsFromSlices(items);
    return urls.length > 0
      ? { urls }
      : { problem: 'the `kubernetes` Service has no EndpointSlice address in default' };
  } catch (err) {
    return { problem: `listing EndpointSlices in default: ${(err as Error).message}` };
  }
}
