// Every apiserver's own URL from the `kubernetes` Service's EndpointSlices (what the apiservers
// write there: their advertise addresses and the secure port).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiserverUrlsFromSlices } from '../../../shared/domain/apiserver-endpoints.ts';

// the shape kube-apiserver's endpoint reconciler writes for the `kubernetes` Service
const kubernetesSlice = (addresses: string[], port = 6443, addressType = 'IPv4') => ({
  addressType,
  ports: [{ name: 'https', port, protocol: 'TCP' }],
  endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
});

describe('apiserverUrlsFromSlices', () => {
  it('gives one https URL per apiserver address, on the slice port', () => {
    assert.deepEqual(apiserverUrlsFromSlices([kubernetesSlice(['10.0.0.12', '10.0.0.11'])]), [
      'https://10.0.0.11:6443',
      'https://10.0.0.12:6443',
    ]);
  });

  it('brackets IPv6 addresses and merges dual-stack slices', () => {
    const urls = apiserverUrlsFromSlices([
      kubernetesSlice(['10.0.0.11'], 443),
      kubernetesSlice(['fd00::11'], 443, 'IPv6'),
    ]);
    assert.deepEqual(urls, ['https://10.0.0.11:443', 'https://[fd00::11]:443']);
  });

  it('skips endpoints marked not ready, but an unset ready counts as ready', () => {
    const slice = {
      addressType: 'IPv4',
      ports: [{ name: 'https', port: 6443 }],
      endpoints: [
        { addresses: ['10.0.0.11'], conditions: { ready: false } },
        { addresses: ['10.0.0.12'], conditions: {} },
        { addresses: ['10.0.0.13'] },
      ],
    };
    assert.deepEqual(apiserverUrlsFromSlices([slice]), [
      'https://10.0.0.12:6443',
      'https://10.0.0.13:6443',
    ]);
  });

  it('prefers the port named https, else the first', () => {
    const named = {
      ...kubernetesSlice(['10.0.0.11']),
      ports: [{ port: 80 }, { name: 'https', port: 8443 }],
    };
    const unnamed = { ...kubernetesSlice(['10.0.0.11']), ports: [{ port: 6443 }] };
    assert.deepEqual(apiserverUrlsFromSlices([named]), ['https://10.0.0.11:8443']);
    assert.deepEqual(apiserverUrlsFromSlices([unnamed]), ['https://10.0.0.11:6443']);
  });

  it('finds nothing in FQDN slices, slices without ports, or none at all', () => {
    assert.deepEqual(apiserverUrlsFromSlices([]), []);
    assert.deepEqual(apiserverUrlsFromSlices([kubernetesSlice(['api.example'], 6443, 'FQDN')]), []);
    assert.deepEqual(
      apiserverUrlsFromSlices([{ ...kubernetesSlice(['10.0.0.11']), ports: null }]),
      [],
    );
  });

  it('lists an address found twice once', () => {
    const s = kubernetesSlice(['10.0.0.11']);
    assert.deepEqual(apiserverUrlsFromSlices([s, s]), ['https://10.0.0.11:6443']);
  });
});
