// Benchmark: KMS calls per 10,000 reads with the DEK cache (vs the number of distinct
// DEKs), and the per-field cost of encryptField against a plain buffer copy.
// Run: npx tsx client/bench/kmsCalls.ts   (uses the in-process fake KMS, no network)
import { randomBytes, randomUUID } from 'node:crypto';
import { InMemoryDekStore } from '../dekStore';
import { encryptField, FieldContext } from '../envelope';
import { Keyring } from '../keyring';
import { GcpKmsKeyWrapper } from '../kms/gcpKms';
import { FakeKmsServer } from '../testing/fakeKmsServer';

const READS = 10_000;
const KEY = 'projects/bench/locations/l/keyRings/r/cryptoKeys/k';

async function kmsCallsPerReads(kms: FakeKmsServer, wrapper: GcpKmsKeyWrapper, distinctDeks: number, maxUses: number) {
  const keyring = new Keyring({ store: new InMemoryDekStore(), wrapper, cache: { maxAgeMs: 300_000, maxUses } });
  const rows: { c: FieldContext; blob: Buffer }[] = [];
  for (let i = 0; i < distinctDeks; i++) {
    const c: FieldContext = { tenantId: randomUUID(), table: 'users', column: 'email', rowId: i };
    rows.push({ c, blob: await keyring.encryptField(c, `user${i}@example.com`) });
  }
  keyring.cache.clear(); // cold cache: count only read-path unwraps
  const before = kms.calls.decrypt;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < READS; i++) {
    const r = rows[i % rows.length];
    await keyring.decryptField(r.c, r.blob);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { calls: kms.calls.decrypt - before, ms };
}

function perOp(fn: () => unknown, iterations: number): number {
  for (let i = 0; i < 2000; i++) fn(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - t0) / iterations;
}

async function main(): Promise<void> {
  const kms = await FakeKmsServer.start();
  kms.createKey(KEY);
  const wrapper = new GcpKmsKeyWrapper({ keyName: KEY, client: kms.client() });
  try {
    console.log(`KMS Decrypt calls per ${READS} reads (cache maxAge 300 s):`);
    for (const [deks, maxUses] of [
      [1, 100_000],
      [100, 100_000],
      [1000, 100_000],
      [1, 1000],
      [100, 1],
    ] as const) {
      const { calls, ms } = await kmsCallsPerReads(kms, wrapper, deks, maxUses);
      console.log(
        `  distinct DEKs ${String(deks).padStart(5)}  maxUses ${String(maxUses).padStart(6)}  ->  KMS calls ${String(calls).padStart(5)}  ` +
          `(calls/distinct DEKs = ${(calls / deks).toFixed(2)}, ${(ms / READS).toFixed(3)} ms/read)`,
      );
    }
    const dek = { id: randomUUID(), key: randomBytes(32) };
    const ctx: FieldContext = { tenantId: randomUUID(), table: 'users', column: 'email', rowId: 123456 };
    for (const size of [32, 256, 4096]) {
      const pt = randomBytes(size);
      const n = 50_000;
      const enc = perOp(() => encryptField(dek, ctx, pt), n);
      const copy = perOp(() => Buffer.from(pt), n);
      console.log(`encryptField ${String(size).padStart(4)} B: ${(enc / 1000).toFixed(2)} us/field vs copy ${(copy / 1000).toFixed(3)} us  ->  ratio ${(enc / copy).toFixed(1)}x`);
    }
  } finally {
    await wrapper.close();
    await kms.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : 'benchmark failed');
  process.exit(1);
});
