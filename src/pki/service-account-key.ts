/**
 * The service-account key pair every control-plane node shares (kube-apiserver signs tokens with the
 * private key; every apiserver verifies with the public keys). Stored only in Vault, in a KV v2 secret:
 * `private_key` (PKCS#8 PEM, the current signing key) and `previous_public_keys` (PEM bundle, the public keys
 * of earlier signing keys still accepted during a rotation's overlap; may be empty). Pure: no I/O here.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';

export interface ServiceAccountSecret {
  privateKeyPem: string;
  previousPublicKeysPem: string[];
}

/** The secret's name in the cluster's KV mount. */
export const SERVICE_ACCOUNT_SECRET = 'service-account';

/** Default KV v2 mount of a cluster's shared control-plane secrets. */
export const defaultKvMount = (cluster: string) => `k8s/${cluster}/kv`;

export const serviceAccountDataPath = (mount: string) => `${mount}/data/${SERVICE_ACCOUNT_SECRET}`;

/** RSA 2048, as kubeadm makes `sa.key` (every Kubernetes version and client library verifies RS256). */
export function generateServiceAccountKey(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

const PUBLIC_BLOCK = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g;

export function splitPublicKeys(bundle: string): string[] {
  return [...bundle.matchAll(PUBLIC_BLOCK)].map((m) => `${m[0].trim()}\n`);
}

/** SPKI PEM of a key (private or public), normalised so that the same key always gives the same text. */
export function publicKeyPem(pem: string): string {
  const key = pem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem);
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

/** The secret's fields, as read from Vault; throws with a message naming the field when one is unusable. */
export function parseServiceAccountSecret(data: Record<string, unknown>): ServiceAccountSecret {
  const privateKeyPem = data.private_key;
  if (typeof privateKeyPem !== 'string' || !privateKeyPem.includes('PRIVATE KEY')) {
    throw new Error('field private_key holds no PEM private key');
  }
  try {
    createPrivateKey(privateKeyPem);
  } catch {
    throw new Error('field private_key is not a usable private key');
  }
  const previous = data.previous_public_keys ?? '';
  if (typeof previous !== 'string') throw new Error('field previous_public_keys is not a PEM bundle');
  const previousPublicKeysPem = splitPublicKeys(previous);
  for (const key of previousPublicKeysPem) {
    try {
      createPublicKey(key);
    } catch {
      throw new Error('field previous_public_keys holds a key that is not a usable public key');
    }
  }
  return { privateKeyPem, previousPublicKeysPem };
}

/**
 * The files a control-plane node writes: the signing key (kube-apiserver
 * `--service-account-signing-key-file`, controller-manager `--service-account-private-key-file`) and the
 * verification bundle (kube-apiserver `--service-account-key-file`): the current public key first, then the
 * previous ones, each once.
 */
export function serviceAccountFiles(secret: ServiceAccountSecret): { key: string; publicKeys: string } {
  const keys: string[] = [];
  for (const pem of [secret.privateKeyPem, ...secret.previousPublicKeysPem]) {
    const pub = publicKeyPem(pem);
    if (!keys.includes(pub)) keys.push(pub);
  }
  const key = secret.privateKeyPem.endsWith('\n') ? secret.privateKeyPem : `${secret.privateKeyPem}\n`;
  return { key, publicKeys: keys.join('') };
}

/** The secret after a rotation: a new signing key; the old one's public key joins the verification set. */
export function rotatedSecret(
  current: ServiceAccountSecret,
  newPrivateKeyPem: string,
): Record<string, string> {
  const previous = serviceAccountFiles(current).publicKeys;
  return { private_key: newPrivateKeyPem, previous_public_keys: previous };
}
