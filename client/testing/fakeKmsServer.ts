// In-process Cloud KMS for tests and benchmarks: a real gRPC server speaking
// google.cloud.kms.v1.KeyManagementService from the protos shipped in
// @google-cloud/kms, doing real AES-256-GCM with its own per-version keys.
// Listens on 127.0.0.1 only. Faults can be injected to exercise the client checks.
import * as path from 'node:path';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import { crc32c } from '../kms/crc32c';

type Level = 'HSM' | 'SOFTWARE';
interface Version {
  n: number;
  key: Buffer;
  state: 'ENABLED' | 'DISABLED' | 'DESTROYED';
}
interface FakeKey {
  versions: Version[];
  primary: number;
  protectionLevel: Level;
}

export interface FakeKmsFaults {
  /** Flip one byte of the received plaintext/ciphertext before the server checks its CRC32C (bit rot on the way in). */
  corruptRequestInTransit?: boolean;
  /** Answer Encrypt without the verified_*_crc32c flags, like a server that never checked. */
  skipRequestVerification?: boolean;
  /** Send a wrong ciphertext_crc32c / plaintext_crc32c in responses (corruption on the way out). */
  corruptResponseCrc32c?: boolean;
  /** Report this protection level in responses regardless of the key's real one. */
  reportProtectionLevel?: Level;
  /** Fail this many upcoming calls with UNAVAILABLE. */
  unavailableCalls?: number;
}

type Call = grpc.ServerUnaryCall<Record<string, unknown>, unknown>;
type Callback = grpc.sendUnaryData<unknown>;
type WrapperValue = { value?: string | number | null } | null | undefined;

function protoDirs(): string[] {
  const kmsRoot = path.dirname(require.resolve('@google-cloud/kms/package.json'));
  // google-gax (a dependency of @google-cloud/kms) ships google/api/*.proto that service.proto imports.
  const gaxRoot = path.resolve(path.dirname(require.resolve('google-gax')), '..', '..');
  return [path.join(kmsRoot, 'build', 'protos'), path.join(gaxRoot, 'build', 'protos')];
}

function fail(cb: Callback, code: grpc.status, details: string): void {
  cb({ code, details, name: 'Error', message: details } as grpc.ServiceError, null);
}

export class FakeKmsServer {
  readonly calls = { encrypt: 0, decrypt: 0, getCryptoKey: 0, getCryptoKeyVersion: 0 };
  faults: FakeKmsFaults = {};
  private readonly keys = new Map<string, FakeKey>();
  private server?: grpc.Server;
  port = 0;

  static async start(): Promise<FakeKmsServer> {
    const s = new FakeKmsServer();
    await s.listen();
    return s;
  }

  private async listen(): Promise<void> {
    const def = protoLoader.loadSync('google/cloud/kms/v1/service.proto', {
      includeDirs: protoDirs(),
      keepCase: false,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      google: { cloud: { kms: { v1: { KeyManagementService: { service: grpc.ServiceDefinition } } } } };
    };
    const server = new grpc.Server();
    server.addService(pkg.google.cloud.kms.v1.KeyManagementService.service, {
      Encrypt: (c: Call, cb: Callback) => this.guard('encrypt', c, cb, () => this.encrypt(c.request, cb)),
      Decrypt: (c: Call, cb: Callback) => this.guard('decrypt', c, cb, () => this.decrypt(c.request, cb)),
      GetCryptoKey: (c: Call, cb: Callback) => this.guard('getCryptoKey', c, cb, () => this.getCryptoKey(c.request, cb)),
      GetCryptoKeyVersion: (c: Call, cb: Callback) =>
        this.guard('getCryptoKeyVersion', c, cb, () => this.getCryptoKeyVersion(c.request, cb)),
    });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.server = server;
  }

  /** A real KeyManagementServiceClient pointed at this server over plaintext loopback gRPC. */
  client(): KeyManagementServiceClient {
    // universeDomain stops google-auth probing the GCE metadata server for it.
    return new KeyManagementServiceClient({
      apiEndpoint: '127.0.0.1',
      port: this.port,
      sslCreds: grpc.credentials.createInsecure(),
      universeDomain: 'googleapis.com',
    });
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.tryShutdown(() => r()));
  }

  createKey(name: string, protectionLevel: Level = 'HSM'): void {
    this.keys.set(name, { versions: [{ n: 1, key: randomBytes(32), state: 'ENABLED' }], primary: 1, protectionLevel });
  }

  /** New primary version (like CreateCryptoKeyVersion + UpdateCryptoKeyPrimaryVersion). */
  rotate(name: string): string {
    const k = this.mustKey(name);
    const n = k.versions.length + 1;
    k.versions.push({ n, key: randomBytes(32), state: 'ENABLED' });
    k.primary = n;
    return `${name}/cryptoKeyVersions/${n}`;
  }

  disableVersion(name: string, n: number): void {
    this.mustKey(name).versions[n - 1].state = 'DISABLED';
  }

  private mustKey(name: string): FakeKey {
    const k = this.keys.get(name);
    if (!k) throw new Error(`no fake key ${name}`);
    return k;
  }

  private guard(method: keyof FakeKmsServer['calls'], _c: Call, cb: Callback, fn: () => void): void {
    this.calls[method]++;
    if ((this.faults.unavailableCalls ?? 0) > 0) {
      this.faults.unavailableCalls = (this.faults.unavailableCalls ?? 0) - 1;
      return fail(cb, grpc.status.UNAVAILABLE, 'fake KMS: injected unavailability');
    }
    try {
      fn();
    } catch (e) {
      fail(cb, grpc.status.INTERNAL, `fake KMS internal error: ${(e as Error).message}`);
    }
  }

  private level(k: FakeKey): Level {
    return this.faults.reportProtectionLevel ?? k.protectionLevel;
  }

  private checkCrc(field: string, data: Buffer, given: WrapperValue): boolean {
    if (!given || given.value === null || given.value === undefined) return true; // optional field not sent
    void field;
    return Number(given.value) === crc32c(data);
  }

  private received(b: unknown): Buffer {
    const buf = Buffer.from(b as Buffer);
    if (this.faults.corruptRequestInTransit && buf.length > 0) buf[0] ^= 0x01;
    return buf;
  }

  private encrypt(req: Record<string, unknown>, cb: Callback): void {
    const name = String(req.name);
    const k = this.keys.get(name);
    if (!k) return fail(cb, grpc.status.NOT_FOUND, `CryptoKey ${name} not found`);
    const pt = this.received(req.plaintext);
    const aad = Buffer.from(req.additionalAuthenticatedData as Buffer);
    if (!this.checkCrc('plaintext', pt, req.plaintextCrc32c as WrapperValue)) {
      return fail(cb, grpc.status.INVALID_ARGUMENT, 'The checksum in field plaintext_crc32c did not match the data in field plaintext.');
    }
    if (!this.checkCrc('aad', aad, req.additionalAuthenticatedDataCrc32c as WrapperValue)) {
      return fail(cb, grpc.status.INVALID_ARGUMENT, 'The checksum in field additional_authenticated_data_crc32c did not match.');
    }
    const v = k.versions[k.primary - 1];
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', v.key, nonce);
    c.setAAD(aad);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(v.n, 0);
    const ct = Buffer.concat([head, nonce, c.update(pt), c.final(), c.getAuthTag()]);
    const verified = !this.faults.skipRequestVerification;
    const crc = crc32c(ct) ^ (this.faults.corruptResponseCrc32c ? 1 : 0);
    cb(null, {
      name: `${name}/cryptoKeyVersions/${v.n}`,
      ciphertext: ct,
      ciphertextCrc32c: { value: String(crc >>> 0) },
      verifiedPlaintextCrc32c: verified && req.plaintextCrc32c != null,
      verifiedAdditionalAuthenticatedDataCrc32c: verified && req.additionalAuthenticatedDataCrc32c != null,
      protectionLevel: this.level(k),
    });
  }

  private decrypt(req: Record<string, unknown>, cb: Callback): void {
    const name = String(req.name);
    const k = this.keys.get(name);
    if (!k) return fail(cb, grpc.status.NOT_FOUND, `CryptoKey ${name} not found`);
    const ct = this.received(req.ciphertext);
    const aad = Buffer.from(req.additionalAuthenticatedData as Buffer);
    if (!this.checkCrc('ciphertext', ct, req.ciphertextCrc32c as WrapperValue)) {
      return fail(cb, grpc.status.INVALID_ARGUMENT, 'The checksum in field ciphertext_crc32c did not match the data in field ciphertext.');
    }
    if (!this.checkCrc('aad', aad, req.additionalAuthenticatedDataCrc32c as WrapperValue)) {
      return fail(cb, grpc.status.INVALID_ARGUMENT, 'The checksum in field additional_authenticated_data_crc32c did not match.');
    }
    if (ct.length < 4 + 12 + 16) return fail(cb, grpc.status.INVALID_ARGUMENT, 'Decryption failed: the ciphertext is invalid.');
    const v = k.versions[ct.readUInt32BE(0) - 1];
    if (!v) return fail(cb, grpc.status.INVALID_ARGUMENT, 'Decryption failed: the ciphertext is invalid.');
    if (v.state !== 'ENABLED') return fail(cb, grpc.status.FAILED_PRECONDITION, `${name}/cryptoKeyVersions/${v.n} is not enabled`);
    let pt: Buffer;
    try {
      const d = createDecipheriv('aes-256-gcm', v.key, ct.subarray(4, 16));
      d.setAAD(aad);
      d.setAuthTag(ct.subarray(ct.length - 16));
      pt = Buffer.concat([d.update(ct.subarray(16, ct.length - 16)), d.final()]);
    } catch {
      return fail(cb, grpc.status.INVALID_ARGUMENT, 'Decryption failed: the ciphertext is invalid.');
    }
    const crc = crc32c(pt) ^ (this.faults.corruptResponseCrc32c ? 1 : 0);
    cb(null, {
      plaintext: pt,
      plaintextCrc32c: { value: String(crc >>> 0) },
      usedPrimary: v.n === k.primary,
      protectionLevel: this.level(k),
    });
  }

  private versionObj(name: string, k: FakeKey, v: Version): Record<string, unknown> {
    return {
      name: `${name}/cryptoKeyVersions/${v.n}`,
      state: v.state,
      protectionLevel: this.level(k),
      algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION',
    };
  }

  private getCryptoKey(req: Record<string, unknown>, cb: Callback): void {
    const name = String(req.name);
    const k = this.keys.get(name);
    if (!k) return fail(cb, grpc.status.NOT_FOUND, `CryptoKey ${name} not found`);
    cb(null, {
      name,
      purpose: 'ENCRYPT_DECRYPT',
      primary: this.versionObj(name, k, k.versions[k.primary - 1]),
      versionTemplate: { protectionLevel: this.level(k), algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION' },
    });
  }

  private getCryptoKeyVersion(req: Record<string, unknown>, cb: Callback): void {
    const full = String(req.name);
    const m = /^(.*)\/cryptoKeyVersions\/(\d+)$/.exec(full);
    const k = m ? this.keys.get(m[1]) : undefined;
    const v = m && k ? k.versions[Number(m[2]) - 1] : undefined;
    if (!m || !k || !v) return fail(cb, grpc.status.NOT_FOUND, `CryptoKeyVersion ${full} not found`);
    cb(null, this.versionObj(m[1], k, v));
  }
}
