// Every file under infra/ parses: YAML objects name apiVersion, kind and metadata.name; JSON is
// JSON; shell examples pass `sh -n`; the EncryptionConfiguration examples are KMS v2 as
// kube-apiserver requires it; the Dockerfile builds a non-root production image (issue 6).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { CONFIG_KINDS } from '../support/infra/build-checks.ts';
import {
  describeRun,
  filesUnder,
  INFRA_DIR,
  type Manifest,
  parseYamlDocs,
  REPO_DIR,
  run,
} from '../support/infra/manifests.ts';

describe('infra/ files', () => {
  it('every YAML file parses, and every object names apiVersion, kind and metadata.name', () => {
    const files = filesUnder(INFRA_DIR, ['.yaml', '.yml']);
    assert.ok(files.length >= 25, `found only ${files.length} YAML files under infra/`);
    for (const f of files) {
      const where = relative(REPO_DIR, f);
      let docs: unknown[] = [];
      assert.doesNotThrow(() => {
        docs = parseYamlDocs(readFileSync(f, 'utf8'));
      }, `${where} does not parse`);
      assert.ok(docs.length > 0, `${where} has no YAML document`);
      for (const [i, doc] of docs.entries()) {
        const at = `${where} document ${i + 1}`;
        assert.ok(doc && typeof doc === 'object' && !Array.isArray(doc), `${at}: not a mapping`);
        const o = doc as Manifest & Record<string, unknown>;
        if (basename(f) === 'kustomization.yaml') {
          // kustomize files: infra/base's has no kind on purpose (see the comment in it)
          assert.ok(
            o.resources || o.components || o.patches || o.configMapGenerator,
            `${at}: a kustomization that lists nothing`,
          );
          assert.ok(
            o.kind === undefined || o.kind === 'Kustomization' || o.kind === 'Component',
            `${at}: kind ${o.kind}`,
          );
        } else if (basename(dirname(f)) === 'kustomizeconfig') {
          assert.ok(o.nameReference, `${at}: a kustomize transformer configuration`);
        } else {
          assert.equal(typeof o.apiVersion, 'string', `${at}: apiVersion`);
          assert.equal(typeof o.kind, 'string', `${at}: kind`);
          if (!CONFIG_KINDS.has(o.kind as string)) {
            assert.equal(typeof o.metadata?.name, 'string', `${at}: metadata.name`);
            assert.ok((o.metadata?.name ?? '').length > 0, `${at}: metadata.name`);
          }
        }
      }
    }
  });

  it('every JSON file parses and every shell example passes `sh -n`', () => {
    const json = filesUnder(INFRA_DIR, ['.json']);
    assert.ok(json.length > 0);
    for (const f of json) {
      assert.doesNotThrow(() => JSON.parse(readFileSync(f, 'utf8')), relative(REPO_DIR, f));
    }
    const sh = filesUnder(INFRA_DIR, ['.sh']);
    assert.ok(sh.length >= 3);
    for (const f of sh) {
      const r = run('sh', ['-n', f]);
      assert.equal(r.status, 0, describeRun(`sh -n ${relative(REPO_DIR, f)}`, r));
    }
  });

  it('the EncryptionConfiguration examples use KMS v2 the way kube-apiserver requires', () => {
    const files = filesUnder(join(INFRA_DIR, 'examples', 'encryption-config'), ['.yaml']);
    assert.deepEqual(
      files.map((f) => basename(f)),
      ['aws.yaml', 'azure.yaml', 'gcp.yaml', 'vault.yaml'],
    );
    for (const f of files) {
      const [doc] = parseYamlDocs(readFileSync(f, 'utf8')) as {
        apiVersion: string;
        kind: string;
        resources: { resources: string[]; providers: Record<string, Record<string, unknown>>[] }[];
      }[];
      assert.ok(doc);
      assert.equal(doc.apiVersion, 'apiserver.config.k8s.io/v1', f);
      assert.equal(doc.kind, 'EncryptionConfiguration', f);
      const names = new Set<string>();
      for (const r of doc.resources) {
        assert.ok(r.resources.includes('secrets'), `${f}: encrypts secrets`);
        assert.ok(r.providers[0]?.kms, `${f}: a KMS provider encrypts writes (first)`);
        for (const p of r.providers) {
          if (!p.kms) continue;
          const kms = p.kms as { apiVersion?: string; name?: string; endpoint?: string };
          assert.equal(kms.apiVersion, 'v2', `${f}: KMS v1 is disabled since 1.29`);
          assert.ok(kms.name && !kms.name.includes(':'), `${f}: v2 names have no ':'`);
          assert.ok(!names.has(kms.name), `${f}: provider names are unique`);
          names.add(kms.name);
          assert.match(kms.endpoint ?? '', /^unix:\/\/\//, `${f}: unix socket endpoint`);
          assert.ok(!('cachesize' in kms), `${f}: cachesize is rejected for v2`);
        }
      }
    }
  });

  it('the Dockerfile: Node 24 slim, production dependencies only, non-root, no build step', () => {
    const text = readFileSync(join(INFRA_DIR, 'Dockerfile'), 'utf8');
    const lines = text.split('\n').filter((l) => !l.trimStart().startsWith('#'));
    const froms = lines.filter((l) => l.startsWith('FROM '));
    assert.ok(froms.length >= 2, 'multi-stage');
    // every stage on BASE, whose default is the public Node 24 slim image (a local build may
    // pass another base with the same layout)
    assert.ok(lines.includes('ARG BASE=node:24-bookworm-slim'), 'BASE defaults to Node 24 slim');
    for (const f of froms) assert.match(f, /^FROM \$\{BASE\}(\s|$)/);
    assert.ok(
      lines.some((l) => /npm (ci|install)\b.*--omit=dev/.test(l)),
      'production deps only',
    );
    const copies = lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from='));
    const sources = copies.flatMap((l) => l.split(/\s+/).slice(1, -1));
    assert.deepEqual([...new Set(sources)].sort(), [
      'functions',
      'package-lock.json',
      'package.json',
      'shared',
    ]);
    const user = lines.filter((l) => l.startsWith('USER ')).at(-1);
    assert.match(user ?? '', /^USER [1-9]\d*(:[1-9]\d*)?$/, 'a numeric non-root user');
  });
});
