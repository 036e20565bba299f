// Defines the custom resources a sandbox encrypts (`up --encrypt widgets.example.com`) as CRDs and
// waits until every apiserver serves them, so a test's first create cannot race the definition.
import {
  ApiextensionsV1Api,
  type KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { apiserverGet } from './apiserver-http.ts';
import type { CustomResourceName } from './encrypt-resources.ts';
import type { ApiserverEnv } from './env-file.ts';
import { waitFor } from './net.ts';

/** A namespaced CRD, v1 served and stored, that accepts any object. */
export function crdManifest(c: CustomResourceName): V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: c.name },
    spec: {
      group: c.group,
      scope: 'Namespaced',
      names: { plural: c.plural, singular: c.singular, kind: c.kind, listKind: `${c.kind}List` },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          // client-node's model name; it goes on the wire as x-kubernetes-preserve-unknown-fields
          schema: {
            openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true },
          },
        },
      ],
    },
  };
}

function established(crd: V1CustomResourceDefinition): boolean {
  return (crd.status?.conditions ?? []).some(
    (c) => c.type === 'Established' && c.status === 'True',
  );
}

/** Whether this apiserver's discovery lists the resource (each apiserver learns CRDs on its own). */
async function serves(a: ApiserverEnv, c: CustomResourceName, token: string): Promise<boolean> {
  const r = await apiserverGet(a, `/apis/${c.group}/v1`, token);
  if (r.status !== 200) return false;
  const list = JSON.parse(r.body) as { resources?: { name?: string }[] };
  return (list.resources ?? []).some((x) => x.name === c.plural);
}

/** Creates each CRD (an existing one is left as it is), then waits until it is Established and served. */
export async function installCrds(
  kc: KubeConfig,
  crds: readonly CustomResourceName[],
  { apiservers, adminToken }: { apiservers: readonly ApiserverEnv[]; adminToken: string },
): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  for (const c of crds) {
    try {
      await api.createCustomResourceDefinition({ body: crdManifest(c) });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }
  for (const c of crds) {
    await waitFor(`CRD ${c.name} Established`, async () =>
      established(await api.readCustomResourceDefinition({ name: c.name })) ? true : undefined,
    );
    for (const a of apiservers) {
      await waitFor(`${a.name} to serve ${c.name}`, async () =>
        (await serves(a, c, adminToken)) ? true : undefined,
      );
    }
  }
}
