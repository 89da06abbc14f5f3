// @peculiar/x509 registers its algorithms with tsyringe decorators when it loads, and tsyringe
// throws at load time unless a Reflect metadata polyfill is already installed (the library's
// README says so). ES modules evaluate their imports in order, so this import must stay first.
// reflect-metadata adds its functions to the global Reflect object; nothing else here uses them.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

/** The WebCrypto type @peculiar/x509 takes (its typings assume the DOM's `Crypto`). */
export type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;

/**
 * Node's WebCrypto, passed to every @peculiar/x509 call rather than installed with
 * `cryptoProvider.set()`, so that this module changes no other user's provider.
 */
export const nodeCrypto = webcrypto as unknown as X509Crypto;

export { x509 };
