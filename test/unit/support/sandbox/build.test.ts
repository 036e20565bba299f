// The sandbox's kube-apiserver reports a semver version (clients such as Knative's programs refuse
// the module build's placeholder), stamped from the pinned k8s.io/kubernetes, and the stamp is
// part of the pin, so cached builds without it are rebuilt.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { versionLdflags } from '../../../support/sandbox/build.ts';

describe('sandbox control-plane build', () => {
  it('stamps the pinned k8s.io/kubernetes release as the version kube-apiserver reports', () => {
    const flags = versionLdflags('require (\n\tk8s.io/kubernetes v1.34.4\n)\n');
    assert.match(flags, /-X k8s\.io\/component-base\/version\.gitVersion=v1\.34\.4(\s|$)/);
    assert.match(flags, /-X k8s\.io\/component-base\/version\.gitMajor=1(\s|$)/);
    assert.match(flags, /-X k8s\.io\/component-base\/version\.gitMinor=34(\s|$)/);
  });

  it('reads the pin from the real go.mod', () => {
    assert.match(versionLdflags(), /gitVersion=v1\.\d+\.\d+ /);
  });

  it('refuses a go.mod without a k8s.io/kubernetes release', () => {
    assert.throws(() => versionLdflags('module x\n'), /k8s\.io\/kubernetes/);
  });
});
