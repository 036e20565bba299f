// STYLE.md: shared/domain imports nothing with I/O. This check reads every domain module's imports.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const dir = new URL('../../shared/domain/', import.meta.url);
const ALLOWED_NODE = new Set(['node:crypto']);
const ALLOWED_PACKAGES = [/^protobufjs\//, /^zod$/];
const IMPORT =
  /^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;

function specifiers(source: string): string[] {
  return [...source.matchAll(IMPORT)].map((m) => m[1] ?? m[2] ?? '');
}

function allowed(spec: string, inSubfolder = false): boolean {
  if (spec.startsWith('./')) return !spec.includes('/', 2) && spec.endsWith('.ts');
  // modules one folder down (domain/events) may import the domain modules above them
  if (inSubfolder && spec.startsWith('../')) return !spec.includes('/', 3) && spec.endsWith('.ts');
  if (spec.startsWith('node:')) return ALLOWED_NODE.has(spec);
  return ALLOWED_PACKAGES.some((p) => p.test(spec));
}

describe('shared/domain purity', () => {
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('.ts'),
  );

  it('has modules to check', () => assert.ok(files.length >= 10));

  for (const file of files) {
    it(`${file} imports no I/O`, () => {
      const source = readFileSync(new URL(file, dir), 'utf8');
      const bad = specifiers(source).filter((s) => !allowed(s, file.includes('/')));
      assert.deepEqual(bad, []);
      assert.doesNotMatch(source, /\b(?:require|import)\s*\(/, 'no dynamic imports');
    });
  }

  it('the check catches an I/O import', () => {
    const found = specifiers("import { readFile } from 'node:fs';\nimport x from 'hono';\n");
    assert.deepEqual(
      found.filter((s) => !allowed(s)),
      ['node:fs', 'hono'],
    );
    assert.equal(allowed('../adapters/k8s/client.ts'), false);
  });
});
