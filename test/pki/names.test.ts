import { describe, expect, it } from 'vitest';
import { diffSans } from '../../src/pki/names.js';

describe('diffSans', () => {
  it('finds nothing when the certificate carries exactly the requested names, in any order and case', () => {
    expect(
      diffSans(
        { dnsSans: ['B.example.com', 'a.example.com.'], ipSans: ['10.0.0.1'] },
        { commonName: 'node', dnsSans: ['a.example.com', 'b.example.com'], ipSans: ['10.0.0.1'] },
      ),
    ).toEqual({ missing: [], extra: [] });
  });

  it('reports missing names in request order, IPs in canonical form, and extra names once', () => {
    expect(
      diffSans(
        { dnsSans: ['old.example.com', 'old.example.com'], ipSans: ['10.0.0.9'] },
        { commonName: 'node', dnsSans: ['new.example.com'], ipSans: ['0:0:0:0:0:0:0:1'] },
      ),
    ).toEqual({ missing: ['new.example.com', '::1'], extra: ['old.example.com', '10.0.0.9'] });
  });

  it('compares IPs by value', () => {
    expect(
      diffSans(
        { dnsSans: [], ipSans: ['::1'] },
        { commonName: 'n', dnsSans: [], ipSans: ['0:0:0:0:0:0:0:1'] },
      ),
    ).toEqual({ missing: [], extra: [] });
  });

  it('does not count the common name Vault copied into the SANs as extra', () => {
    expect(
      diffSans(
        { dnsSans: ['node-1.example.com'], ipSans: ['10.1.2.3'] },
        { commonName: 'Node-1.example.com', dnsSans: [], ipSans: [] },
      ),
    ).toEqual({ missing: [], extra: ['10.1.2.3'] });
    expect(
      diffSans({ dnsSans: [], ipSans: ['10.1.2.3'] }, { commonName: '10.1.2.3', dnsSans: [], ipSans: [] }),
    ).toEqual({ missing: [], extra: [] });
  });
});
