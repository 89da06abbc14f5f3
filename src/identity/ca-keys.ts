import { KeyObject, X509Certificate, createPrivateKey, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import { IdentityError } from '../errors.js';
import { invalidOption } from '../options/validate.js';
import { nodeCrypto, x509 } from './x509.js';

// The key material of a small CA: generating and exporting key pairs, opening a CA's key and
// certificate for signing, the signature algorithm, random serial numbers. Used by the
// certificate issuer (ca.ts) and the CRL signer (crl.ts).

/** A private key (PKCS#8 PEM) and its certificate (PEM). */
export interface PemPair {
  keyPem: string;
  certPem: string;
}

/**
 * A CA's key and certificate. The optional paths only make error messages name the files the
 * PEM came from (`ca issue` reads `DIR/ca.key.pem`).
 */
export interface CaMaterial extends PemPair {
  keyPath?: string;
  certPath?: string;
}

/** `ec` = ECDSA P-256 (cheaper handshakes, RELIABILITY §4 item 7), `rsa` = RSA-2048. */
export type KeyType = 'ec' | 'rsa';

// @peculiar/x509's typings use the DOM's CryptoKey types; Node's are structurally the same.
export type CryptoKeyX509 = x509.X509CertificateCreateWithKeyParams['signingKey'];
export type PublicKeyX509 = x509.X509CertificateCreateWithKeyParams['publicKey'];
export type CryptoKeyPairX509 = x509.X509CertificateCreateSelfSignedParams['keys'];
export type NodeCryptoKey = webcrypto.CryptoKey;

/** A CA opened for signing. */
export interface OpenedCa {
  cert: x509.X509Certificate;
  signingKey: NodeCryptoKey;
  /** Hex key id for the authority key identifier: the CA's own SKI when it has one. */
  keyId: string;
}

/** The key type, defaulted to ec. @throws RestpipeError `invalid_option` for another. */
export function checkKeyType(keyType: KeyType | undefined): KeyType {
  const t = keyType ?? 'ec';
  if (t !== 'ec' && t !== 'rsa') throw invalidOption(`key type must be 'ec' or 'rsa', got ${JSON.stringify(t)}`);
  return t;
}

/** @throws RestpipeError `invalid_option` unless `d` is a valid Date. */
export function checkDate(what: string, d: Date): void {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw invalidOption(`${what} must be a valid Date`);
}

/** A new extractable key pair: ECDSA P-256 or RSA-2048. */
export async function generateKeys(keyType: KeyType): Promise<webcrypto.CryptoKeyPair> {
  const subtle = webcrypto.subtle;
  if (keyType === 'rsa') {
    return subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['sign', 'verify'],
    );
  }
  return subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
}

/** An existing private key, to be certified again ({@link importKeyPair}). */
export interface ImportedKey {
  /** Its public key, for the certificate. */
  publicKey: NodeCryptoKey;
  /** The private key as PKCS#8 PEM. */
  keyPem: string;
  keyType: KeyType;
}

/**
 * Reads a private key in any form OpenSSL reads (PKCS#8, SEC1, PKCS#1) for `ca renew
 * --keep-key`. @throws IdentityError naming `keyPath` when it does not parse or is neither EC
 * (P-256, P-384, P-521) nor RSA.
 */
export async function importKeyPair(keyPem: string, keyPath = 'private key'): Promise<ImportedKey> {
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new IdentityError(keyPath, `private key does not parse: ${reason(err)}`, { cause: err });
  }
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  let algorithm: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  let keyType: KeyType;
  if (key.asymmetricKeyType === 'ec') {
    const curve = CURVE_HASH[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (curve === undefined) throw new IdentityError(keyPath, `unsupported key curve ${String(key.asymmetricKeyDetails?.namedCurve)}`);
    algorithm = { name: 'ECDSA', namedCurve: curve.namedCurve };
    keyType = 'ec';
  } else if (key.asymmetricKeyType === 'rsa') {
    algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    keyType = 'rsa';
  } else {
    throw new IdentityError(keyPath, `unsupported key type ${String(key.asymmetricKeyType)} (use EC or RSA)`);
  }
  const publicKey = await webcrypto.subtle.importKey('spki', spki, algorithm, true, ['verify']);
  return { publicKey, keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(), keyType };
}

/** A private key as PKCS#8 PEM. */
export function exportPkcs8(key: NodeCryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();
}

const CURVE_HASH: Record<string, { namedCurve: string; hash: string }> = {
  prime256v1: { namedCurve: 'P-256', hash: 'SHA-256' },
  secp384r1: { namedCurve: 'P-384', hash: 'SHA-384' },
  secp521r1: { namedCurve: 'P-521', hash: 'SHA-512' },
};

/** The signature algorithm of a signing key: ECDSA with its curve's hash, or RSA with SHA-256. */
export function signingAlgorithmFor(key: NodeCryptoKey): { name: string; hash: string } {
  const alg = key.algorithm as { name: string; namedCurve?: string };
  if (alg.name === 'ECDSA') {
    const hash = Object.values(CURVE_HASH).find((c) => c.namedCurve === alg.namedCurve)?.hash ?? 'SHA-256';
    return { name: 'ECDSA', hash };
  }
  return { name: alg.name, hash: 'SHA-256' };
}

/**
 * Parses the CA material and turns its key into a WebCrypto signing key. The key may be in any
 * form OpenSSL reads (PKCS#8, SEC1, PKCS#1), so a CA made with the openssl tool works too.
 */
export async function openCa(ca: CaMaterial): Promise<OpenedCa> {
  const keyFile = ca.keyPath ?? 'CA key';
  const certFile = ca.certPath ?? 'CA certificate';
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(ca.keyPem);
  } catch (err) {
    throw new IdentityError(keyFile, `CA private key does not parse: ${reason(err)}`, { cause: err });
  }
  let nodeCert: X509Certificate;
  let cert: x509.X509Certificate;
  try {
    nodeCert = new X509Certificate(ca.certPem);
    cert = new x509.X509Certificate(nodeCert.raw);
  } catch (err) {
    throw new IdentityError(certFile, `CA certificate does not parse: ${reason(err)}`, { cause: err });
  }
  if (!nodeCert.ca) throw new IdentityError(certFile, 'not a CA certificate (basicConstraints CA:TRUE missing)');
  if (!nodeCert.checkPrivateKey(keyObject)) {
    throw new IdentityError(keyFile, `CA private key does not match the CA certificate ${certFile}`);
  }

  const der = keyObject.export({ type: 'pkcs8', format: 'der' });
  let signingKey: NodeCryptoKey;
  if (keyObject.asymmetricKeyType === 'ec') {
    const curve = CURVE_HASH[keyObject.asymmetricKeyDetails?.namedCurve ?? ''];
    if (curve === undefined) {
      throw new IdentityError(keyFile, `unsupported CA key curve ${String(keyObject.asymmetricKeyDetails?.namedCurve)}`);
    }
    signingKey = await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: curve.namedCurve }, false, [
      'sign',
    ]);
  } else if (keyObject.asymmetricKeyType === 'rsa') {
    signingKey = await webcrypto.subtle.importKey('pkcs8', der, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, [
      'sign',
    ]);
  } else {
    throw new IdentityError(keyFile, `unsupported CA key type ${String(keyObject.asymmetricKeyType)} (use EC or RSA)`);
  }

  // OpenSSL checks an authority key id against the issuer's subject key id, so reuse the CA's.
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const keyId =
    ski?.keyId ?? (await x509.SubjectKeyIdentifierExtension.create(cert.publicKey, false, nodeCrypto)).keyId;
  return { cert, signingKey, keyId };
}

/** 16 random bytes, top bit clear (positive) and first byte non-zero (minimal DER). */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

function reason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

