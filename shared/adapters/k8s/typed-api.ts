// The few typed Kubernetes API calls rekey's adapters make (its revision Secrets, key-id report
// ConfigMaps, Leases, TokenReviews), with client-node's method names, parameters and types, on
// rekey's RestClient: the types come from @kubernetes/client-node at compile time only, so its
// ~70 MB runtime never loads. Differences from client-node, on purpose and few:
//   - timestamps in answers stay RFC 3339 strings (client-node makes Dates): read them with
//     `new Date(x)`, which takes both;
//   - a failed call throws a KubeApiError whose `code` is the HTTP status, as client-node's
//     ApiException does, so `err.code === 409` checks work unchanged; it also declares whether a
//     retry may succeed (shared/ports/retryable.ts), with the apiserver's Retry-After.
import type {
  AuthenticationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  V1MicroTime,
} from '@kubernetes/client-node';
import { isRetryableStatus, type Retryable } from '../../ports/retryable.ts';
import { type RestClient, type RestRequest, retryAfterSecondsOf } from './rest-client.ts';

export type CoreApi = Pick<
  CoreV1Api,
  | 'listNamespacedSecret'
  | 'readNamespacedSecret'
  | 'createNamespacedSecret'
  | 'replaceNamespacedSecret'
  | 'deleteNamespacedSecret'
  | 'listNamespacedConfigMap'
  | 'createNamespacedConfigMap'
  | 'replaceNamespacedConfigMap'
>;
export type CoordinationApi = Pick<
  CoordinationV1Api,
  | 'listNamespacedLease'
  | 'readNamespacedLease'
  | 'createNamespacedLease'
  | 'replaceNamespacedLease'
  | 'deleteNamespacedLease'
>;
export type AuthenticationApi = Pick<AuthenticationV1Api, 'createTokenReview'>;

export class KubeApiError extends Error implements Retryable {
  override name = 'KubeApiError';
  /** The HTTP status, as client-node's ApiException has it (0: no answer). */
  readonly code: number;
  /** The apiserver's answer (a Status object). */
  readonly body: string;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;
  constructor(code: number, body: string, what: string, retryAfterSeconds?: number) {
    // the status line and the apiserver's reason, never the object sent
    const reason = (() => {
      try {
        return (JSON.parse(body) as { message?: string }).message ?? '';
      } catch {
        return body.slice(0, 200);
      }
    })();
    super(`${what}: HTTP ${code}${reason ? `: ${reason}` : ''}`);
    this.code = code;
    this.body = body;
    this.retryable = isRetryableStatus(code);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * A 2xx answer that is not the JSON object asked for (a proxy's page, a body cut off, `null`): the
 * apiserver, or what stands in front of it, failed, and another attempt may succeed. The answer's
 * text is neither quoted nor kept as a cause (a parser's error quotes it, and it may be a Secret).
 */
export class UnreadableAnswerError extends Error implements Retryable {
  override name = 'UnreadableAnswerError';
  readonly retryable = true;
  readonly retryAfterSeconds = undefined;
  constructor(what: string, status: number) {
    super(`${what}: HTTP ${status} with an answer that is not a JSON object (not shown)`);
  }
}

/** A 2xx answer's body as the JSON object it must be, or an {@link UnreadableAnswerError}. */
export function parseAnswer<T>(body: string, what: string, status = 200): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UnreadableAnswerError(what, status);
  }
  return parsed as T;
}

/**
 * A Lease time: Kubernetes wants MicroTime (six fractional digits); a plain Date serialises with
 * three and the apiserver rejects it.
 */
export function microTime(ms: number): V1MicroTime {
  const t = new Date(ms) as V1MicroTime;
  const iso = `${t.toISOString().slice(0, -1)}000Z`;
  t.toISOString = () => iso;
  return t;
}

type Call = Pick<RestRequest, 'method' | 'path' | 'query' | 'body'>;

/** The list parameters rekey uses, as the apiserver spells them. */
const listQuery = (p: { labelSelector?: string; limit?: number; _continue?: string }) => ({
  labelSelector: p.labelSelector,
  limit: p.limit,
  continue: p._continue,
});

export function typedApi(rest: RestClient): {
  core: CoreApi;
  coordination: CoordinationApi;
  authentication: AuthenticationApi;
} {
  const call = async <T>(c: Call): Promise<T> => {
    const res = await rest.request(c);
    if (res.status < 200 || res.status >= 300) {
      throw new KubeApiError(
        res.status,
        res.body,
        `${c.method ?? 'GET'} ${c.path}`,
        retryAfterSecondsOf(res),
      );
    }
    return parseAnswer<T>(res.body, `${c.method ?? 'GET'} ${c.path}`, res.status);
  };
  const ns = (namespace: string, resource: string, group = 'api/v1') =>
    `/${group}/namespaces/${encodeURIComponent(namespace)}/${resource}`;
  const one = (namespace: string, resource: string, name: string, group?: string) =>
    `${ns(namespace, resource, group)}/${encodeURIComponent(name)}`;
  const LEASES = 'apis/coordination.k8s.io/v1';

  const core: CoreApi = {
    listNamespacedSecret: (p) =>
      call({
        path: ns(p.namespace, 'secrets'),
        query: listQuery(p),
      }),
    readNamespacedSecret: (p) => call({ path: one(p.namespace, 'secrets', p.name) }),
    createNamespacedSecret: (p) =>
      call({ method: 'POST', path: ns(p.namespace, 'secrets'), body: p.body }),
    replaceNamespacedSecret: (p) =>
      call({ method: 'PUT', path: one(p.namespace, 'secrets', p.name), body: p.body }),
    deleteNamespacedSecret: (p) =>
      call({
        method: 'DELETE',
        path: one(p.namespace, 'secrets', p.name),
        ...(p.body ? { body: p.body } : {}),
      }),
    listNamespacedConfigMap: (p) =>
      call({
        path: ns(p.namespace, 'configmaps'),
        query: listQuery(p),
      }),
    createNamespacedConfigMap: (p) =>
      call({ method: 'POST', path: ns(p.namespace, 'configmaps'), body: p.body }),
    replaceNamespacedConfigMap: (p) =>
      call({ method: 'PUT', path: one(p.namespace, 'configmaps', p.name), body: p.body }),
  };
  const coordination: CoordinationApi = {
    listNamespacedLease: (p) =>
      call({
        path: ns(p.namespace, 'leases', LEASES),
        query: listQuery(p),
      }),
    readNamespacedLease: (p) => call({ path: one(p.namespace, 'leases', p.name, LEASES) }),
    createNamespacedLease: (p) =>
      call({ method: 'POST', path: ns(p.namespace, 'leases', LEASES), body: p.body }),
    replaceNamespacedLease: (p) =>
      call({ method: 'PUT', path: one(p.namespace, 'leases', p.name, LEASES), body: p.body }),
    deleteNamespacedLease: (p) =>
      call({
        method: 'DELETE',
        path: one(p.namespace, 'leases', p.name, LEASES),
        ...(p.body ? { body: p.body } : {}),
      }),
  };
  const authentication: AuthenticationApi = {
    createTokenReview: (p) =>
      call({ method: 'POST', path: '/apis/authentication.k8s.io/v1/tokenreviews', body: p.body }),
  };
  return { core, coordination, authentication };
}
