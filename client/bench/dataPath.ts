// Benchmark of the data path against a deployment (the lab: real MySQL, SoftHSM2 token).
//   npx tsx client/bench/dataPath.ts --outputs .ztmysql/lab-ck/outputs.json [--reads 10000] [--ops 500]
// 1. Wrapper (KMS/token) unwrap calls per N record reads vs the number of distinct DEKs
//    in the cache window: rows are fetched from the DB once, then each read decrypts a
//    record's three PII fields through the Keyring (cache -> key vault -> token on a miss).
// 2. Per-field encryption overhead, as a ratio, end to end through the procedures:
//    users.create (encrypt 3 fields + CALL) vs the same CALL with pre-encrypted constant
//    blobs; users.get (CALL + decrypt) vs the same CALL without decrypting.
// It creates tenants and users in the target database: run it against a lab.
import { randomUUID } from 'node:crypto';
import * as api from '../dataApi';
import { ZtClient } from '../ztClient';

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined && fallback === undefined) {
    console.error(`usage: npx tsx client/bench/dataPath.ts --outputs FILE [--reads N] [--ops N]`);
    process.exit(2);
  }
  return v ?? (fallback as string);
}

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

async function seedTenants(zt: ZtClient, n: number): Promise<{ tenant: string; row: api.EncryptedUserRow }[]> {
  const out: { tenant: string; row: api.EncryptedUserRow }[] = [];
  for (let i = 0; i < n; i++) {
    const tenant = await zt.tenants.create(`bench-${randomUUID()}`);
    const id = await zt.users.create(tenant, { name: `Bench User ${i}`, role: 'member', email: `bench${i}@example.test`, phone: '+1 555 0100' });
    out.push({ tenant, row: await zt.users.getEncrypted(tenant, id) });
  }
  return out;
}

async function kmsCallsPerReads(outputs: string, seeded: { tenant: string; row: api.EncryptedUserRow }[], deks: number, reads: number,
  cache: { maxAgeMs: number; maxUses: number }): Promise<{ unwraps: number; msPerRead: number }> {
  let now = 0;
  // A simulated clock advancing 1 ms per read makes maxAge a number of reads, reproducibly.
  const zt = await ZtClient.fromOutputs(outputs, 'app', { cache: { ...cache, now: () => now } });
  try {
    const rows = seeded.slice(0, deks);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < reads; i++) {
      const r = rows[i % rows.length];
      await zt.decryptUser(r.tenant, r.row);
      now += 1;
    }
    return { unwraps: zt.kmsCalls?.unwrap ?? -1, msPerRead: ms(t0) / reads };
  } finally {
    await zt.close();
  }
}

/** Interleaves the two arms op by op (same DB state, same noise) and returns their median ms/op. */
async function timePair(n: number, a: (i: number) => Promise<unknown>, b: (i: number) => Promise<unknown>): Promise<[number, number]> {
  for (let i = 0; i < Math.min(50, n); i++) {
    await a(i);
    await b(i);
  }
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < n; i++) {
    for (const [f, out] of (i % 2 ? [[a, ta], [b, tb]] : [[b, tb], [a, ta]]) as [(i: number) => Promise<unknown>, number[]][]) {
      const t0 = process.hrtime.bigint();
      await f(i);
      out.push(ms(t0));
    }
  }
  const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  return [median(ta), median(tb)];
}

async function main(): Promise<void> {
  const outputs = arg('outputs');
  const reads = Number(arg('reads', '10000'));
  const ops = Number(arg('ops', '500'));
  const seedClient = await ZtClient.fromOutputs(outputs, 'app');
  try {
    console.log(`seeding 100 tenants (one DEK and one user each) ...`);
    const seeded = await seedTenants(seedClient, 100);

    console.log(`\n1. token unwrap calls per ${reads} record reads (3 encrypted fields each = ${reads * 3} field decrypts)`);
    const configs: [number, { maxAgeMs: number; maxUses: number }, string][] = [
      [1, { maxAgeMs: 3_600_000, maxUses: 1_000_000 }, 'no limit reached'],
      [10, { maxAgeMs: 3_600_000, maxUses: 1_000_000 }, 'no limit reached'],
      [100, { maxAgeMs: 3_600_000, maxUses: 1_000_000 }, 'no limit reached'],
      [10, { maxAgeMs: 3_600_000, maxUses: 300 }, 'maxUses 300 field uses'],
      [10, { maxAgeMs: 1000, maxUses: 1_000_000 }, 'maxAge = 1000 reads'],
    ];
    for (const [deks, cache, what] of configs) {
      const { unwraps, msPerRead } = await kmsCallsPerReads(outputs, seeded, deks, reads, cache);
      // Expected: distinct DEKs x number of cache windows each DEK goes through.
      const usesPerDek = (reads * 3) / deks;
      const windows = Math.max(Math.ceil(usesPerDek / cache.maxUses), Math.ceil(reads / cache.maxAgeMs));
      console.log(`   distinct DEKs ${String(deks).padStart(3)}  ${what.padEnd(24)} -> unwraps ${String(unwraps).padStart(5)}` +
        `  (distinct DEKs x windows = ${deks * windows}; ${(unwraps / deks).toFixed(2)} per DEK; ${(msPerRead * 1000).toFixed(1)} us/read)`);
    }

    console.log(`\n2. per-field encryption overhead through the procedures (median of ${ops} interleaved ops per arm, after warm-up)`);
    const { tenant } = seeded[0];
    const zt = seedClient;
    const dekId = await zt.keys.active(tenant);
    // Constant envelopes under the tenant's active DEK (the procedure checks magic, length and DEK id).
    const constant = await zt.encryptUser(tenant, randomUUID(), { name: 'Bench User X', role: 'member', email: 'benchx@example.test', phone: '+1 555 0100' });
    // Records made by users.create (the constant-blob rows decrypt nowhere: the row id is in the AAD).
    const ids: string[] = [];
    const [encCreate, plainCreate] = await timePair(ops,
      async (i) => { ids.push(await zt.users.create(tenant, { name: `Bench User ${i}`, role: 'member', email: `b${i}@example.test`, phone: '+1 555 0100' })); },
      () => zt.sessions.run(tenant, (c) => api.createUserEncrypted(c, {
        userId: randomUUID(), role: 'member', nameCt: constant.nameCt, emailCt: constant.emailCt, phoneCt: constant.phoneCt, dekId,
      })));
    const [decGet, plainGet] = await timePair(ops, (i) => zt.users.get(tenant, ids[i % ids.length]), (i) => zt.users.getEncrypted(tenant, ids[i % ids.length]));
    const line = (what: string, a: number, b: number) =>
      console.log(`   ${what.padEnd(46)} ${a.toFixed(3)} ms vs ${b.toFixed(3)} ms  -> ratio ${(a / b).toFixed(3)}x (+${((a - b) * 1000 / 3).toFixed(1)} us per field)`);
    line('create user: encrypt 3 fields + CALL vs CALL', encCreate, plainCreate);
    line('get user: CALL + decrypt 3 fields vs CALL', decGet, plainGet);
    const row = await zt.users.getEncrypted(tenant, ids[0]);
    const cpuN = 20_000;
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < cpuN / 3; i++) await zt.encryptUser(tenant, ids[0], { name: 'Bench User X', role: 'member', email: 'benchx@example.test', phone: '+1 555 0100' });
    const encUs = (ms(t0) * 1000) / cpuN;
    t0 = process.hrtime.bigint();
    for (let i = 0; i < cpuN / 3; i++) await zt.decryptUser(tenant, row);
    const decUs = (ms(t0) * 1000) / cpuN;
    console.log(`   client-side cost alone (no DB): encrypt ${encUs.toFixed(1)} us/field, decrypt ${decUs.toFixed(1)} us/field (cache hit, AES-256-GCM)`);
    console.log(`\n   kms calls of the overhead run: ${JSON.stringify(zt.kmsCalls)} (cache warm: no unwraps per op)`);
  } finally {
    await seedClient.close();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}${(e as { code?: string }).code ? ` ${(e as { code?: string }).code}` : ''}: ${e.message}` : 'benchmark failed');
  process.exit(1);
});
