// The layer check (docs/architecture.md, "Layers"): reads the imports of every module under shared/
// and functions/ and fails, naming the file and the import, when a layer imports one it must not.
// It also keeps shared/domain pure: no I/O module, no SDK, so every decision stays testable on data,
// and keeps shared/app the one composition root: nothing else under shared/ may import it.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path/posix';
import { describe, it } from 'node:test';

const ROOT = new URL('../../../', import.meta.url);

const LAYERS = [
  'shared/domain',
  'shared/ports',
  'shared/core',
  'shared/adapters',
  'shared/http',
  'shared/config',
  'shared/observability',
  'shared/app',
  'functions',
] as const;
type Layer = (typeof LAYERS)[number];

/** The layers each layer must not import (relative imports). Everything else is allowed. */
const FORBIDDEN: Record<Layer, readonly Layer[]> = {
  // pure: only other domain modules (its packages are checked below)
  'shared/domain': LAYERS.filter((l) => l !== 'shared/domain'),
  // interfaces over domain types, implementable in memory as well as against a cluster
  'shared/ports': LAYERS.filter((l) => l !== 'shared/domain' && l !== 'shared/ports'),
  // use cases get their ports passed in: no adapter, no HTTP, no face, no composition
  'shared/core': ['shared/adapters', 'shared/http', 'shared/app', 'functions'],
  // requests and answers only: the faces connect them to the use cases
  'shared/http': ['shared/core', 'shared/adapters', 'shared/app', 'functions'],
  // I/O translates at its own boundary, never through HTTP or a face
  'shared/adapters': ['shared/http', 'shared/app', 'functions'],
  'shared/config': ['shared/app', 'functions'],
  'shared/observability': ['shared/app', 'functions'],
  // the composition root: may import anything under shared/, never a face
  'shared/app': ['functions'],
  // the faces and entry points may import any layer
  functions: [],
};

/** The only packages shared/domain may import: hashing and pure parsers, no I/O. */
const DOMAIN_PACKAGES = [/^node:crypto$/, /^zod$/, /^yaml$/, /^protobufjs\//];

/**
 * Imports that break a rule today, as `<file> -> <specifier>`, so the check passes while they are
 * fixed; remove an entry together with its import. An entry whose import is gone fails the check.
 */
const KNOWN_OFFENDERS: ReadonlySet<string> = new Set([
  // adapters -> http: the event-delivery adapters throw shared/http's TransientError instead of an
  // error of their own that declares itself retryable (shared/ports/retryable.ts)
  'shared/adapters/events/cloudevent-sink.ts -> ../../http/errors.ts',
  'shared/adapters/events/http-delivery.ts -> ../../http/errors.ts',
]);

const STATIC_IMPORT =
  /^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;
const DYNAMIC_IMPORT = /\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every module specifier a source names: static imports and re-exports, then dynamic ones. */
function specifiers(source: string): { spec: string; dynamic: boolean }[] {
  return [
    ...[...source.matchAll(STATIC_IMPORT)].map((m) => ({
      spec: m[1] ?? m[2] ?? '',
      dynamic: false,
    })),
    ...[...source.matchAll(DYNAMIC_IMPORT)].map((m) => ({ spec: m[1] ?? '', dynamic: true })),
  ];
}

/** The layer a repository path belongs to, or undefined outside shared/ and functions/. */
function layerOf(path: string): Layer | undefined {
  if (path.startsWith('functions/')) return 'functions';
  return LAYERS.find((l) => path.startsWith(`${l}/`));
}

/** One broken rule: `at` is `<file> -> <specifier>` (the allow-list's form), `why` the rule. */
interface Violation {
  at: string;
  why: string;
}

/** What is wrong with one module's imports, one entry per offending import. */
function violations(file: string, source: string): Violation[] {
  const from = layerOf(file);
  if (!from) return [{ at: file, why: 'not in any layer' }];
  const out: Violation[] = [];
  for (const { spec, dynamic } of specifiers(source)) {
    const at = `${file} -> ${spec}`;
    if (spec.startsWith('.')) {
      const target = normalize(join(dirname(file), spec));
      const to = layerOf(target);
      if (!to) out.push({ at, why: `leaves shared/ and functions/ (${target})` });
      else if (FORBIDDEN[from].includes(to)) out.push({ at, why: `${from} must not import ${to}` });
    } else if (from === 'shared/domain' && !DOMAIN_PACKAGES.some((p) => p.test(spec))) {
      out.push({ at, why: 'shared/domain imports no I/O module or SDK' });
    } else if (from === 'shared/ports') {
      out.push({ at, why: 'shared/ports imports no package' });
    }
    if (dynamic && from === 'shared/domain') {
      out.push({ at, why: 'shared/domain has no dynamic import' });
    }
  }
  return out;
}

const show = (v: Violation) => `${v.at}: ${v.why}`;

function modules(): { file: string; source: string }[] {
  const found: { file: string; source: string }[] = [];
  for (const top of ['shared', 'functions']) {
    for (const f of readdirSync(new URL(`${top}/`, ROOT), { recursive: true, encoding: 'utf8' })) {
      if (!f.endsWith('.ts')) continue;
      const file = `${top}/${f.split('\\').join('/')}`;
      found.push({ file, source: readFileSync(new URL(file, ROOT), 'utf8') });
    }
  }
  return found;
}

describe('layers', () => {
  const all = modules();
  const found = all.flatMap(({ file, source }) => violations(file, source));

  it('reads modules of every layer', () => {
    for (const layer of LAYERS) {
      assert.ok(
        all.some((m) => layerOf(m.file) === layer),
        `no module found in ${layer}`,
      );
    }
  });

  it('no module imports a layer it must not (beyond the known offenders)', () => {
    const fresh = found.filter((v) => !KNOWN_OFFENDERS.has(v.at)).map(show);
    assert.deepEqual(fresh, []);
  });

  it('every known offender still exists (otherwise remove its entry)', () => {
    const present = new Set(found.map((v) => v.at));
    assert.deepEqual(
      [...KNOWN_OFFENDERS].filter((k) => !present.has(k)),
      [],
    );
  });

  it('catches each kind of forbidden import', () => {
    const cases: [file: string, source: string, expected: string][] = [
      [
        'shared/core/a.ts',
        "import { x } from '../adapters/k8s/b.ts';",
        'must not import shared/adapters',
      ],
      [
        'shared/core/a.ts',
        "import type { H } from '../http/app.ts';",
        'must not import shared/http',
      ],
      [
        'shared/core/a.ts',
        "import { f } from '../../functions/start.ts';",
        'must not import functions',
      ],
      [
        'shared/http/a.ts',
        "import { s } from '../core/reconcile-step.ts';",
        'must not import shared/core',
      ],
      [
        'shared/http/a.ts',
        "export * from '../adapters/memory/revision-store.ts';",
        'must not import shared/adapters',
      ],
      [
        'shared/adapters/k8s/a.ts',
        "import {\n  T,\n} from '../../http/errors.ts';",
        'must not import shared/http',
      ],
      [
        'shared/ports/a.ts',
        "import type { C } from '../core/deps.ts';",
        'must not import shared/core',
      ],
      ['shared/ports/a.ts', "import type { Hono } from 'hono';", 'imports no package'],
      ['shared/domain/a.ts', "import { readFile } from 'node:fs';", 'no I/O module or SDK'],
      ['shared/domain/a.ts', "import { KMS } from '@aws-sdk/client-kms';", 'no I/O module or SDK'],
      [
        'shared/domain/a.ts',
        "import type { L } from '../ports/lock.ts';",
        'must not import shared/ports',
      ],
      ['shared/domain/a.ts', "const m = await import('./b.ts');", 'no dynamic import'],
      ['shared/config/a.ts', "import '../../functions/start.ts';", 'must not import functions'],
      [
        'shared/core/a.ts',
        "import { composeApp } from '../app/compose.ts';",
        'must not import shared/app',
      ],
      [
        'shared/adapters/k8s/a.ts',
        "import type { Functions } from '../../app/functions.ts';",
        'must not import shared/app',
      ],
      [
        'shared/http/a.ts',
        "import { handOff } from '../app/hand-off.ts';",
        'must not import shared/app',
      ],
      ['shared/config/a.ts', "export * from '../app/compose.ts';", 'must not import shared/app'],
      [
        'shared/observability/a.ts',
        "import { composeApp } from '../app/compose.ts';",
        'must not import shared/app',
      ],
      ['shared/ports/a.ts', "import type { H } from '../app/hand-off.ts';", 'must not import'],
      ['shared/domain/a.ts', "import type { F } from '../app/functions.ts';", 'must not import'],
      [
        'shared/app/a.ts',
        "import { mountKmsEvent } from '../../functions/kms-event/route.ts';",
        'must not import functions',
      ],
      [
        'functions/a.ts',
        "import { s } from '../test/support/kube.ts';",
        'leaves shared/ and functions/',
      ],
    ];
    for (const [file, source, expected] of cases) {
      const got = violations(file, source).map(show);
      assert.equal(got.length, 1, `${file}: ${source}: ${got.join('; ')}`);
      assert.match(got[0] ?? '', new RegExp(expected), `${file}: ${source}`);
    }
  });

  it('lets each layer import what it may', () => {
    const allowed: [file: string, source: string][] = [
      ['shared/domain/a.ts', "import { createHash } from 'node:crypto';\nimport { z } from 'zod';"],
      ['shared/domain/events/a.ts', "import { keyIdHash } from '../key-id.ts';"],
      ['shared/ports/a.ts', "import type { Revision } from '../domain/revision.ts';"],
      [
        'shared/core/a.ts',
        "import type { Lock } from '../ports/lock.ts';\nimport pLimit from 'p-limit';",
      ],
      ['shared/adapters/a.ts', "import type { ReconcileDeps } from '../core/deps.ts';"],
      ['shared/http/a.ts', "import { isRetryable } from '../ports/retryable.ts';"],
      ['functions/x/main.ts', "import { composeApp } from '../../shared/app/compose.ts';"],
      [
        'shared/app/a.ts',
        "import { createRestClient } from '../adapters/k8s/rest-client.ts';\n" +
          "import { createApp } from '../http/app.ts';\n" +
          "import { reconcileStep } from '../core/reconcile-step.ts';\n" +
          "import { loadConfig } from '../config/config.ts';",
      ],
    ];
    for (const [file, source] of allowed) assert.deepEqual(violations(file, source), [], file);
  });
});
