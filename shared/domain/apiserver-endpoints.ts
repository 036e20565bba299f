// Every apiserver's own endpoint, from the `kubernetes` Service's EndpointSlices in `default`.
// The apiservers maintain those slices themselves (each writes its --advertise-address), so they
// list every live apiserver on kubeadm-style clusters without any configuration, where the
// kubeconfig or in-cluster server is one load-balanced address that reaches whichever apiserver
// the balancer picks. Scraping each endpoint on its own is what makes "every apiserver adopted
// the key" provable (docs/kms-facts.md §3, §4).

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** The fields of a discovery.k8s.io/v1 EndpointSlice that locate the apiservers. */
export interface ApiserverEndpointSlice {
  addressType?: string;
  ports?: readonly { name?: string | null; port?: number | null }[] | null;
  endpoints?: readonly {
    addresses?: readonly string[];
    conditions?: { ready?: boolean | null } | null;
  }[];
}

/**
 * `https://<address>:<port>` for every ready endpoint of the slices, each once, sorted. The port
 * is the one named `https` (the `kubernetes` Service's only port), else the slice's first. FQDN
 * slices and endpoints marked not ready are skipped; an unset `ready` counts as ready, as the API
 * defines it.
 */
export function apiserverUrlsFromSlices(slices: readonly ApiserverEndpointSlice[]): string[] {
  const urls = new Set<string>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const ports = slice.ports ?? [];
    const port = (ports.find((p) => p.name === 'https') ?? ports[0])?.port;
    if (!port) continue;
    for (const e of slice.endpoints ?? []) {
      if (e.conditions?.ready === false) continue;
      for (const address of e.addresses ?? []) {
        const host = slice.addressType === 'IPv6' ? `[${address}]` : address;
        urls.add(`https://${host}:${port}`);
      }
    }
  }
  return [...urls].sort();
}
