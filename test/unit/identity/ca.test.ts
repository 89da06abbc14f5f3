import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { hasErrorCode } from '../../../src/errors.js';
import {
  type PemPair,
  createCa,
  createCrl,
  IP_NAME_PROBLEM,
  NODE_NAME_RULE,
  isIpLiteral,
  isValidNodeName,
  nodeNameProblem,
  issueCertificate,
  normalizeSerialHex,
  verifyIdentity,
} from '../../../src/identity/index.js';
import { x509 } from '../../../src/identity/x509.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

function files(leaf: PemPair, ca: PemPair): Parameters<typeof verifyIdentity>[0] {
  return { key: { path: 'k.pem', pem: leaf.keyPem }, cert: { path: 'c.pem', pem: leaf.certPem }, ca: { path: 'ca.pem', pem: ca.certPem } };
}

function isInvalidOption(err: unknown): boolean {
  return hasErrorCode(err, 'invalid_option');
}

describe('createCa', () => {
  let ecCa: PemPair;
  before(async () => {
    ecCa = await createCa();
  });

  it('gives two CAs made with the defaults different names', async () => {
    const other = await createCa();
    assert.notEqual(new X509Certificate(other.certPem).subject, new X509Certificate(ecCa.certPem).subject);
  });

  it('makes an ECDSA P-256 CA with the CA extensions by default', () => {
    assert.match(ecCa.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(ecCa.keyPem);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const cert = new X509Certificate(ecCa.certPem);
    assert.match(cert.subject, /^CN=restpipe-ca-[0-9a-f]{8}$/);
    assert.equal(cert.issuer, cert.subject);
    assert.equal(cert.ca, true);
    assert.ok(cert.checkPrivateKey(key));
    assert.ok(cert.verify(cert.publicKey), 'self-signed');

    const parsed = new x509.X509Certificate(ecCa.certPem);
    const bc = parsed.getExtension(x509.BasicConstraintsExtension);
    assert.ok(bc?.ca);
    assert.equal(bc?.critical, true);
    const ku = parsed.getExtension(x509.KeyUsagesExtension);
    assert.equal(ku?.critical, true);
    assert.equal(ku?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    assert.ok(parsed.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
  });

  it('lasts 3650 days by default and takes cn, days and explicit dates', async () => {
    const cert = new X509Certificate(ecCa.certPem);
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    assert.ok(days > 3649 && days <= 3650, `about 3650 days, got ${days}`);

    const custom = await createCa({ cn: 'Acme, Inc. CA', days: 10 });
    const c = new X509Certificate(custom.certPem);
    assert.match(c.subject, /^CN=Acme\\, Inc\. CA$/);
    assert.ok((Date.parse(c.validTo) - Date.now()) / 86_400_000 <= 10);

    const fixed = await createCa({ notBefore: new Date('2030-01-01T00:00:00Z'), notAfter: new Date('2031-01-01T00:00:00Z') });
    const f = new X509Certificate(fixed.certPem);
    assert.equal(new Date(f.validFrom).toISOString(), '2030-01-01T00:00:00.000Z');
    assert.equal(new Date(f.validTo).toISOString(), '2031-01-01T00:00:00.000Z');
  });

  it('makes an RSA-2048 CA on request', async () => {
    const ca = await createCa({ keyType: 'rsa' });
    const key = createPrivateKey(ca.keyPem);
    assert.equal(key.asymmetricKeyType, 'rsa');
    assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
    assert.ok(new X509Certificate(ca.certPem).ca);
  });

  it('rejects bad options with invalid_option', async () => {
    await assert.rejects(createCa({ cn: '' }), isInvalidOption);
    await assert.rejects(createCa({ days: 0 }), isInvalidOption);
    await assert.rejects(createCa({ days: Number.NaN }), isInvalidOption);
    await assert.rejects(createCa({ keyType: 'dsa' as 'ec' }), isInvalidOption);
    await assert.rejects(createCa({ notBefore: new Date('2030-01-01'), notAfter: new Date('2029-01-01') }), isInvalidOption);
  });
});

describe('issueCertificate', () => {
  let ca: PemPair;
  let rsaCa: PemPair;
  before(async () => {
    [ca, rsaCa] = await Promise.all([createCa(), createCa({ keyType: 'rsa' })]);
  });

  it('round-trips an EC node certificate through verifyIdentity', async () => {
    const leaf = await issueCertificate({ ca, name: 'client1' });
    assert.match(leaf.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(leaf.certPem, /^-----BEGIN CERTIFICATE-----\n/);
    const info = verifyIdentity(files(leaf, ca), { purpose: 'client' });
    assert.equal(info.cn, 'client1');
    assert.equal(`CN=${info.issuerCn}`, new X509Certificate(ca.certPem).subject);
    assert.equal(info.serialHex, leaf.serialHex);
    assert.deepEqual(verifyIdentity(files(leaf, ca), { purpose: 'server' }).cn, 'client1');

    const cert = new X509Certificate(leaf.certPem);
    assert.equal(cert.ca, false);
    assert.deepEqual(cert.keyUsage, [SERVER_AUTH, CLIENT_AUTH]);
    const days = (info.notAfter.getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 824 && days <= 825, `825 days by default, got ${days}`);
    assert.ok(info.notBefore.getTime() <= Date.now(), 'valid at once');

    const parsed = new x509.X509Certificate(leaf.certPem);
    assert.equal(parsed.getExtension(x509.BasicConstraintsExtension)?.ca, false);
    assert.equal(parsed.getExtension(x509.KeyUsagesExtension)?.usages, x509.KeyUsageFlags.digitalSignature);
    const aki = parsed.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
    const caSki = new x509.X509Certificate(ca.certPem).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    assert.ok(aki !== undefined && aki === caSki, 'AKI equals the CA SKI');
  });

  it('round-trips RSA leaves under an RSA CA and an EC CA', async () => {
    const [underRsa, rsaUnderEc] = await Promise.all([
      issueCertificate({ ca: rsaCa, name: 'server', keyType: 'rsa' }),
      issueCertificate({ ca, name: 'client2', keyType: 'rsa' }),
    ]);
    assert.equal(verifyIdentity(files(underRsa, rsaCa)).cn, 'server');
    assert.equal(verifyIdentity(files(rsaUnderEc, ca)).cn, 'client2');
    assert.equal(createPrivateKey(underRsa.keyPem).asymmetricKeyType, 'rsa');
    const ku = new x509.X509Certificate(underRsa.certPem).getExtension(x509.KeyUsagesExtension)?.usages;
    assert.equal(ku, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
  });

  it('puts the name, the extra SANs and the loopback names in the SANs, once each', async () => {
    const leaf = await issueCertificate({ ca, name: 'node-1.example.com', sans: ['10.1.2.3', 'alias.example.com', 'LOCALHOST', '10.1.2.3', '::1', ' '] });
    const info = verifyIdentity(files(leaf, ca));
    assert.deepEqual(info.sans, ['DNS:node-1.example.com', 'IP:10.1.2.3', 'DNS:alias.example.com', 'DNS:localhost', 'IP:::1', 'IP:127.0.0.1']);
    const cert = new X509Certificate(leaf.certPem);
    assert.equal(cert.checkHost('node-1.example.com'), 'node-1.example.com');
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkIP('10.1.2.3'), '10.1.2.3');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
  });

  it('leaves a name that is no DNS name out of the SANs', async () => {
    const odd = await issueCertificate({ ca, name: 'a..b' });
    assert.deepEqual(verifyIdentity(files(odd, ca)).sans, ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
    const only = await issueCertificate({ ca, name: 'other.example', loopbackSans: false });
    assert.deepEqual(verifyIdentity(files(only, ca)).sans, ['DNS:other.example']);
  });

  it('sets the extended key usage from usage', async () => {
    const [client, server] = await Promise.all([
      issueCertificate({ ca, name: 'c', usage: 'client' }),
      issueCertificate({ ca, name: 's', usage: 'server' }),
    ]);
    assert.deepEqual(new X509Certificate(client.certPem).keyUsage, [CLIENT_AUTH]);
    assert.deepEqual(new X509Certificate(server.certPem).keyUsage, [SERVER_AUTH]);
  });

  it('uses a random positive serial that matches Node', async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const leaf = await issueCertificate({ ca, name: `n${i}` });
      assert.match(leaf.serialHex, /^[4-7][0-9a-f]{31}$/);
      assert.equal(new X509Certificate(leaf.certPem).serialNumber.toLowerCase(), leaf.serialHex);
      serials.add(leaf.serialHex);
    }
    assert.equal(serials.size, 5);
  });

  it('honours notBefore/notAfter (expired and not-yet-valid certificates)', async () => {
    const expired = await issueCertificate({
      ca,
      name: 'expired1',
      notBefore: new Date('2020-01-01T00:00:00Z'),
      notAfter: new Date('2020-02-01T00:00:00Z'),
    });
    const cert = new X509Certificate(expired.certPem);
    assert.equal(new Date(cert.validFrom).toISOString(), '2020-01-01T00:00:00.000Z');
    assert.equal(new Date(cert.validTo).toISOString(), '2020-02-01T00:00:00.000Z');

    const later = await issueCertificate({ ca, name: 'notyet1', notBefore: new Date('2099-01-01T00:00:00Z'), days: 30 });
    assert.equal(new Date(new X509Certificate(later.certPem).validTo).toISOString(), '2099-01-31T00:00:00.000Z', 'days count from notBefore');
  });

  it('caps a lifetime in days at the CA’s own expiry, and says so', async () => {
    const shortCa = await createCa({ days: 10 });
    const caTo = new Date(new X509Certificate(shortCa.certPem).validTo).getTime();
    const leaf = await issueCertificate({ ca: shortCa, name: 'n1' });
    assert.equal(leaf.cappedAtCaExpiry, true);
    assert.equal(new Date(new X509Certificate(leaf.certPem).validTo).getTime(), caTo, 'not after the CA');
    assert.equal(leaf.notAfter.getTime(), caTo);
    assert.equal(verifyIdentity(files(leaf, shortCa)).cn, 'n1');

    const inside = await issueCertificate({ ca: shortCa, name: 'n2', days: 5 });
    assert.equal(inside.cappedAtCaExpiry, false);
    assert.ok(inside.notAfter.getTime() < caTo);
    assert.equal(new Date(new X509Certificate(inside.certPem).validTo).getTime(), inside.notAfter.getTime());
  });

  it('leaves the lifetime alone when the CA has already expired (verification reports the CA)', async () => {
    const oldCa = await createCa({ notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-06-01T00:00:00Z') });
    const leaf = await issueCertificate({ ca: oldCa, name: 'n3', days: 30 });
    assert.equal(leaf.cappedAtCaExpiry, false);
    assert.ok(leaf.notAfter.getTime() > Date.now());
  });

  it('signs with a CA key in SEC1 or PKCS#1 form (a CA made by openssl)', async () => {
    const sec1 = { ...ca, keyPem: createPrivateKey(ca.keyPem).export({ type: 'sec1', format: 'pem' }).toString() };
    assert.match(sec1.keyPem, /BEGIN EC PRIVATE KEY/);
    const leaf = await issueCertificate({ ca: sec1, name: 'from-sec1' });
    assert.equal(verifyIdentity(files(leaf, ca)).cn, 'from-sec1');
    const pkcs1 = { ...rsaCa, keyPem: createPrivateKey(rsaCa.keyPem).export({ type: 'pkcs1', format: 'pem' }).toString() };
    const leaf2 = await issueCertificate({ ca: pkcs1, name: 'from-pkcs1' });
    assert.equal(verifyIdentity(files(leaf2, rsaCa)).cn, 'from-pkcs1');
  });

  it('rejects invalid node names and SANs with invalid_option', async () => {
    for (const name of ['', '-lead', '.lead', '_lead', 'has space', 'slash/y', 'a'.repeat(65), 'ünïcode', 'colon:x', 'new\nline']) {
      await assert.rejects(issueCertificate({ ca, name }), isInvalidOption, `name ${JSON.stringify(name)}`);
    }
    await assert.rejects(issueCertificate({ ca, name: 'ok', sans: ['not a host'] }), isInvalidOption);
    // An IP address is a SAN, never a name (SPEC §4): as a CN it would capture /client/ADDRESS/….
    for (const name of ['127.0.0.1', '192.168.7.7', '127.1', '2130706433']) {
      await assert.rejects(issueCertificate({ ca, name }), (err: Error) => {
        assert.ok(isInvalidOption(err));
        assert.equal(err.message, `invalid node name ${JSON.stringify(name)}: an IP address; a node name may not be one, since /client/ADDRESS/… on the server routes by address`);
        return true;
      });
    }
    assert.deepEqual(verifyIdentity(files(await issueCertificate({ ca, name: 'ok', sans: ['192.168.7.7'] }), ca)).sans.slice(0, 2), ['DNS:ok', 'IP:192.168.7.7']);
    await assert.rejects(issueCertificate({ ca, name: 'ok', sans: ['-bad.example'] }), isInvalidOption);
    await assert.rejects(issueCertificate({ ca, name: 'ok', days: -1 }), isInvalidOption);
    await assert.rejects(issueCertificate({ ca, name: 'ok', usage: 'both' as 'node' }), isInvalidOption);
  });

  it('refuses CA material that is not a CA, does not parse or does not match', async () => {
    const leaf = await issueCertificate({ ca, name: 'leaf' });
    await assert.rejects(issueCertificate({ ca: { ...leaf }, name: 'x' }), (err: Error) => {
      assert.ok(hasErrorCode(err, 'identity_invalid'));
      assert.match(err.message, /CA certificate: not a CA certificate/);
      return true;
    });
    await assert.rejects(issueCertificate({ ca: { ...ca, keyPem: 'junk', keyPath: '/x/ca.key.pem' }, name: 'x' }), /\/x\/ca\.key\.pem: CA private key does not parse/);
    await assert.rejects(issueCertificate({ ca: { ...ca, keyPem: rsaCa.keyPem }, name: 'x' }), /does not match the CA certificate/);
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await assert.rejects(issueCertificate({ ca: { ...ca, keyPem: ed }, name: 'x' }), /does not match the CA certificate/);
  });
});

describe('isValidNodeName', () => {
  it('accepts 1-64 letters, digits, dot, dash, underscore, led by a letter or digit', () => {
    for (const ok of ['a', 'Z9', 'client1', 'web-01.dc_2', 'a'.repeat(64), '10.0.0.1a', 'v1.2', '0x7g', '1-2-3-4', '1.2.3.4.5']) {
      assert.ok(isValidNodeName(ok), ok);
    }
    for (const bad of ['', '-a', '.a', '_a', 'a b', 'a/b', 'a'.repeat(65), 'é', 'a:b', 'a%2F', 42]) {
      assert.ok(!isValidNodeName(bad), String(bad));
      assert.equal(nodeNameProblem(bad), NODE_NAME_RULE);
    }
  });

  it('refuses IP literals, and whatever a resolver reads as an IPv4 address', () => {
    for (const ip of ['10.0.0.1', '127.0.0.1', '127.0.0.1.', '127.1', '0x7f.0.0.1', '0X7F.1', '2130706433', '0', '999.999.999.999']) {
      assert.ok(isIpLiteral(ip), ip);
      assert.ok(!isValidNodeName(ip), ip);
      assert.equal(nodeNameProblem(ip), IP_NAME_PROBLEM, ip);
    }
    // IPv6 literals are IP literals too; their ':' already fails the syntax.
    for (const ip of ['::1', 'fe80::1', '::ffff:127.0.0.1']) {
      assert.ok(isIpLiteral(ip), ip);
      assert.equal(nodeNameProblem(ip), NODE_NAME_RULE, ip);
    }
    for (const name of ['client1', 'v1.2', 'localhost', '1.2.3.4.5', '10.0.0.1a']) assert.ok(!isIpLiteral(name), name);
  });
});

describe('createCrl', () => {
  let ca: PemPair;
  before(async () => {
    ca = await createCa();
  });

  it('makes a PEM "X509 CRL" signed by the CA, listing the serials', async () => {
    const a = await issueCertificate({ ca, name: 'a' });
    const upper = new X509Certificate(a.certPem).serialNumber; // Node's upper-case form
    const pem = await createCrl({ ca, revoked: [{ serialHex: upper }, { serialHex: 'ff' }, { serialHex: '0f:f0' }], thisUpdate: new Date('2030-01-01T00:00:00Z') });
    assert.match(pem, /^-----BEGIN X509 CRL-----\n[\s\S]+\n-----END X509 CRL-----\n$/);
    const crl = new x509.X509Crl(pem.replace(/X509 CRL/g, 'CRL'));
    assert.equal(crl.thisUpdate.toISOString(), '2030-01-01T00:00:00.000Z');
    assert.equal(crl.nextUpdate?.toISOString(), '2030-01-08T00:00:00.000Z', 'nextUpdate defaults to 7 days later');
    assert.deepEqual(crl.entries.map((e) => e.serialNumber).sort(), [a.serialHex, 'ff', '0ff0'].sort());
    assert.ok(await crl.verify({ publicKey: new x509.X509Certificate(ca.certPem) }));
  });

  it('normalises serials and rejects non-hex ones', async () => {
    assert.equal(normalizeSerialHex('00:0A:bC'), '0abc');
    assert.equal(normalizeSerialHex('00FF'), 'ff');
    assert.equal(normalizeSerialHex('0'), '00');
    assert.throws(() => normalizeSerialHex('xyz'), isInvalidOption);
    await assert.rejects(createCrl({ ca, revoked: [{ serialHex: 'nope' }] }), isInvalidOption);
    await assert.rejects(createCrl({ ca, revoked: [], thisUpdate: new Date('2030-01-02'), nextUpdate: new Date('2030-01-01') }), isInvalidOption);
  });
});
