// Port: which resources the cluster serves (API discovery), for turning the EncryptionConfiguration's
// resource names and wildcards into the concrete resources rekey rewrites and proves.

/** One served resource (never a subresource). */
export interface ServedResource {
  /** '' for the core group. */
  group: string;
  /** The plural name, e.g. `secrets`. */
  resource: string;
  namespaced: boolean;
  verbs: string[];
  /** Served by an aggregated API server (an APIService with a service): stored elsewhere. */
  aggregated: boolean;
}

/** Lists served resources. Guarantees: read-only; the preferred version of each group. */
export interface ServedResources {
  list(): Promise<ServedResource[]>;
}
