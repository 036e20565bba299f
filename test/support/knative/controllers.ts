// What Knative's controllers would write, written by the harness (the controllers cannot run
// here: they need cluster DNS and Endpoints). Serving: each Knative Service's address (the local
// URL of the process that serves it). Eventing, as the channel-based Broker's controllers do:
// the Broker's address (the real ingress) and its channel (an InMemoryChannel served by the
// real dispatcher), one channel subscriber per Trigger (the real filter's /triggers/<ns>/<name>/
// <uid> path, reply to the Broker, the Trigger's own delivery policy with its dead-letter sink
// resolved), each Trigger's subscriber URI resolved from its ref + uri, and each source's sink URI.
// Without sender identity (Knative's default), no Subscription objects are needed by the data plane.
import type { SandboxEnv } from '../sandbox/env-file.ts';
import { kubectl, writeStatus } from './kubectl.ts';

export const BROKER_NAMESPACE = 'rekey-system';

/**
 * The namespaces an ApiServerSource's adapter watches, as Knative's controller resolves them: the
 * one its namespaceSelector names by `kubernetes.io/metadata.name`, else the source's own.
 */
export function sourceNamespaces(spec: {
  namespaceSelector?: { matchLabels?: Record<string, string> };
}): string[] {
  const named = spec.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];
  return [named ?? BROKER_NAMESPACE];
}
export const BROKER_NAME = 'rekey';
/** The name the channel-based Broker gives its trigger channel. */
export const CHANNEL_NAME = `${BROKER_NAME}-kne-trigger`;

export interface EventingAddresses {
  ingress: string;
  filter: string;
  dispatcher: string;
  /** Knative Service name (in rekey-system) -> the URL of the process serving it. */
  services: Record<string, string>;
}

interface Ref {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}
export interface Destination {
  ref?: Ref;
  uri?: string;
}
export interface Delivery {
  retry?: number;
  backoffPolicy?: string;
  backoffDelay?: string;
  timeout?: string;
  deadLetterSink?: Destination;
}
interface Meta {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
}
export interface TriggerObject {
  metadata: Meta;
  spec: {
    broker: string;
    filter?: { attributes?: Record<string, string> };
    subscriber: Destination;
    delivery?: Delivery;
  };
}
interface BrokerObject {
  metadata: Meta;
  spec: { delivery?: Delivery };
}

export const brokerUrl = (a: EventingAddresses) =>
  `${a.ingress}/${BROKER_NAMESPACE}/${BROKER_NAME}`;
export const channelUrl = (a: EventingAddresses) =>
  `${a.dispatcher}/${BROKER_NAMESPACE}/${CHANNEL_NAME}`;

/** A Destination's URL, resolved as Knative does: the ref's address, then `uri` against it. */
export function resolveDestination(dest: Destination, a: EventingAddresses): string {
  const { ref, uri } = dest;
  if (!ref) {
    if (!uri) throw new Error('a destination needs a ref or a uri');
    return uri;
  }
  let base: string;
  if (ref.kind === 'Service' && ref.apiVersion?.startsWith('serving.knative.dev/')) {
    const url = ref.name ? a.services[ref.name] : undefined;
    if (!url) throw new Error(`no address for Knative Service ${ref.name}`);
    base = url;
  } else if (ref.kind === 'Broker' && ref.name === BROKER_NAME) {
    base = brokerUrl(a);
  } else {
    throw new Error(`cannot resolve a ${ref.kind} ${ref.name}`);
  }
  return uri ? new URL(uri, base).toString() : base;
}

function ready(generation: number, types: readonly string[]) {
  const lastTransitionTime = new Date().toISOString();
  return {
    observedGeneration: generation,
    conditions: [...types, 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime })),
  };
}

function getJson<T>(env: SandboxEnv, args: string[]): T {
  return JSON.parse(kubectl(env, ['get', ...args, '-o', 'json'])) as T;
}

/** Serving's part: each Knative Service of rekey-system gets the address of its process. */
export function writeServiceStatuses(env: SandboxEnv, a: EventingAddresses): void {
  for (const [name, url] of Object.entries(a.services)) {
    const svc = getJson<{ metadata: Meta }>(env, [
      'services.serving.knative.dev',
      name,
      '-n',
      BROKER_NAMESPACE,
    ]);
    writeStatus(env, 'services.serving.knative.dev', BROKER_NAMESPACE, name, {
      ...ready(svc.metadata.generation, ['ConfigurationsReady', 'RoutesReady']),
      url,
      address: { url },
    });
  }
}

/** The channel subscriber a Trigger gets: the filter's path for it, its delivery resolved. */
export function channelSubscriber(t: TriggerObject, b: BrokerObject, a: EventingAddresses) {
  const delivery = t.spec.delivery ?? b.spec.delivery;
  return {
    uid: t.metadata.uid,
    generation: t.metadata.generation,
    subscriberUri: `${a.filter}/triggers/${t.metadata.namespace}/${t.metadata.name}/${t.metadata.uid}`,
    replyUri: brokerUrl(a),
    ...(delivery
      ? {
          delivery: {
            ...delivery,
            ...(delivery.deadLetterSink
              ? { deadLetterSink: { uri: resolveDestination(delivery.deadLetterSink, a) } }
              : {}),
          },
        }
      : {}),
  };
}

/**
 * Eventing's part, for the Broker and every Trigger on it as they are now: run again after a
 * Trigger is added or changed, as the controllers would react to it.
 */
export function writeEventingStatuses(env: SandboxEnv, a: EventingAddresses): void {
  const broker = getJson<BrokerObject>(env, [
    'brokers.eventing.knative.dev',
    BROKER_NAME,
    '-n',
    BROKER_NAMESPACE,
  ]);
  const triggers = getJson<{ items: TriggerObject[] }>(env, [
    'triggers.eventing.knative.dev',
    '-n',
    BROKER_NAMESPACE,
  ]).items.filter((t) => t.spec.broker === BROKER_NAME);
  const dls = (d?: Delivery) =>
    d?.deadLetterSink ? { deadLetterSinkUri: resolveDestination(d.deadLetterSink, a) } : {};

  for (const t of triggers) {
    writeStatus(env, 'triggers.eventing.knative.dev', BROKER_NAMESPACE, t.metadata.name, {
      ...ready(t.metadata.generation, [
        'BrokerReady',
        'DeadLetterSinkResolved',
        'DependencyReady',
        'SubscriberResolved',
        'SubscriptionReady',
        'OIDCIdentityCreated',
      ]),
      subscriberUri: resolveDestination(t.spec.subscriber, a),
      ...dls(t.spec.delivery ?? broker.spec.delivery),
    });
  }

  const channel = {
    apiVersion: 'messaging.knative.dev/v1',
    kind: 'InMemoryChannel',
    metadata: {
      name: CHANNEL_NAME,
      namespace: BROKER_NAMESPACE,
      labels: { 'eventing.knative.dev/broker': BROKER_NAME },
      ownerReferences: [
        {
          apiVersion: 'eventing.knative.dev/v1',
          kind: 'Broker',
          name: BROKER_NAME,
          uid: broker.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: { subscribers: triggers.map((t) => channelSubscriber(t, broker, a)) },
  };
  kubectl(
    env,
    ['apply', '--server-side', '--force-conflicts', '--field-manager=knative-broker', '-f', '-'],
    JSON.stringify(channel),
  );
  const imc = getJson<{ metadata: Meta }>(env, [
    'inmemorychannels.messaging.knative.dev',
    CHANNEL_NAME,
    '-n',
    BROKER_NAMESPACE,
  ]);
  writeStatus(env, 'inmemorychannels.messaging.knative.dev', BROKER_NAMESPACE, CHANNEL_NAME, {
    ...ready(imc.metadata.generation, [
      'Addressable',
      'ChannelServiceReady',
      'DeadLetterSinkResolved',
      'DispatcherReady',
      'EndpointsReady',
      'ServiceReady',
      'EventPoliciesReady',
    ]),
    address: { url: channelUrl(a) },
  });

  writeStatus(env, 'brokers.eventing.knative.dev', BROKER_NAMESPACE, BROKER_NAME, {
    ...ready(broker.metadata.generation, [
      'Addressable',
      'FilterReady',
      'IngressReady',
      'TriggerChannelReady',
      'DeadLetterSinkResolved',
      'EventPoliciesReady',
    ]),
    address: { name: 'http', url: brokerUrl(a) },
    addresses: [{ name: 'http', url: brokerUrl(a) }],
    annotations: {
      'knative.dev/channelAddress': channelUrl(a),
      'knative.dev/channelAPIVersion': 'messaging.knative.dev/v1',
      'knative.dev/channelKind': 'InMemoryChannel',
      'knative.dev/channelName': CHANNEL_NAME,
    },
    ...dls(broker.spec.delivery),
  });
}

/** The sources' sink URIs (the PingSource adapter reads its from there). */
export function writeSourceStatuses(env: SandboxEnv, a: EventingAddresses): void {
  for (const [resource, types] of [
    ['pingsources.sources.knative.dev', ['Deployed', 'SinkProvided', 'OIDCIdentityCreated']],
    [
      'apiserversources.sources.knative.dev',
      ['Deployed', 'SinkProvided', 'SufficientPermissions', 'OIDCIdentityCreated'],
    ],
  ] as const) {
    const list = getJson<{ items: { metadata: Meta; spec: { sink: Destination } }[] }>(env, [
      resource,
      '-n',
      BROKER_NAMESPACE,
    ]);
    for (const s of list.items) {
      writeStatus(env, resource, BROKER_NAMESPACE, s.metadata.name, {
        ...ready(s.metadata.generation, types),
        sinkUri: resolveDestination(s.spec.sink, a),
        ...(resource.startsWith('apiserversources')
          ? { namespaces: sourceNamespaces(s.spec as Parameters<typeof sourceNamespaces>[0]) }
          : {}),
      });
    }
  }
}
