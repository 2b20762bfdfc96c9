import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildChain,
  certificateLabel,
  isIssuedBy,
  isSelfSigned,
  uniqueCertificates,
} from '../../src/pki/chain.js';
import { createTestCa, makeTempDir } from '../support/openssl-ca.js';

const temp = makeTempDir('vpa-chain-');
let root: X509Certificate;
let intermediate: X509Certificate;
let leaf: X509Certificate;
let otherRoot: X509Certificate;
/** A root with the same name as `root` but another key: names match, the signature does not. */
let impostor: X509Certificate;

beforeAll(() => {
  const rootCa = createTestCa(temp.dir, 'Chain Root');
  const interCa = createTestCa(temp.dir, 'Chain Intermediate', { parent: rootCa });
  const leafCa = createTestCa(temp.dir, 'Chain Leaf', { parent: interCa });
  root = new X509Certificate(rootCa.certPem);
  intermediate = new X509Certificate(interCa.certPem);
  leaf = new X509Certificate(leafCa.certPem);
  otherRoot = new X509Certificate(createTestCa(temp.dir, 'Other Root').certPem);
  impostor = new X509Certificate(createTestCa(temp.dir, 'Chain Root').certPem);
});
afterAll(() => temp.cleanup());

describe('isIssuedBy and isSelfSigned', () => {
  it('needs both the name match and the signature', () => {
    expect(isIssuedBy(intermediate, root)).toBe(true);
    expect(isIssuedBy(leaf, intermediate)).toBe(true);
    expect(isIssuedBy(leaf, root)).toBe(false);
    expect(isIssuedBy(intermediate, otherRoot)).toBe(false);
    expect(isIssuedBy(intermediate, impostor)).toBe(false);
    // Asked twice (the answer is cached per pair): the same answer.
    expect(isIssuedBy(intermediate, impostor)).toBe(false);
    expect(isSelfSigned(root)).toBe(true);
    expect(isSelfSigned(intermediate)).toBe(false);
  });
});

describe('buildChain', () => {
  it('follows the pool up to an anchor, anchor last', () => {
    const result = buildChain(leaf, [root], [otherRoot, intermediate]);
    expect(result.ok).toBe(true);
    expect(result.ok && result.path.map(certificateLabel)).toEqual(['Chain Intermediate', 'Chain Root']);
  });

  it('trusts an intermediate given as the anchor', () => {
    const result = buildChain(leaf, [intermediate]);
    expect(result.ok && result.path.map(certificateLabel)).toEqual(['Chain Intermediate']);
  });

  it('says where it got stuck: a missing intermediate, a wrong anchor, a CA checked against itself', () => {
    const missing = buildChain(leaf, [root]);
    expect(missing.ok).toBe(false);
    expect(!missing.ok && certificateLabel(missing.stuckAt)).toBe('Chain Leaf');
    const wrong = buildChain(leaf, [otherRoot, impostor], [intermediate]);
    expect(!wrong.ok && certificateLabel(wrong.stuckAt)).toBe('Chain Intermediate');
    expect(buildChain(root, [root]).ok).toBe(false);
  });
});

describe('certificateLabel and uniqueCertificates', () => {
  it('labels by CN and drops repeated certificates, first kept', () => {
    expect(certificateLabel(leaf)).toBe('Chain Leaf');
    const again = new X509Certificate(root.raw);
    const unique = uniqueCertificates([root, intermediate, again, impostor]);
    expect(unique).toHaveLength(3);
    expect(unique[0]).toBe(root);
    expect(unique[2]).toBe(impostor);
  });
});
