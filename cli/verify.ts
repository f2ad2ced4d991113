// `ztmysql verify`: the audit log against its WORM anchors (docs/verifying.md).
// Exit codes: 0 all hold, 1 a finding (or a proof that does not check), 2 usage or connection error.
import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { connectionOptions } from '../client/connection';
import { DeploymentOutputs, loadDeploymentOutputs } from '../client/deploymentOutputs';
import { loadAnchors } from '../audit/anchors';
import { checkInclusionProof, InclusionProofFile } from '../audit/inclusion';
import { buildInclusionProof, DEFAULTS, ProofError, verifyDeployment, VerifyProgress } from '../audit/verifyDb';
import type { VerifyStreamReport } from '../audit/verifyStream';
import { ParsedArgs, parseArgs, stringOption, UsageError } from './args';

export const VERIFY_USAGE = 'ztmysql verify [--outputs FILE] [--anchors SOURCE] [--json] [--max-unsealed-age S] [--max-anchor-age S] [--max-anchor-gap S] [--accept-fingerprint HEX[,HEX]] | --event ID | --check-proof FILE';

export const VERIFY_ARGS = {
  flags: ['json'],
  values: ['outputs', 'anchors', 'max-unsealed-age', 'max-anchor-age', 'max-anchor-gap', 'accept-fingerprint', 'event', 'check-proof'],
} as const;

function seconds(args: ParsedArgs, name: string, fallback: number): number {
  const v = args.options[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name} needs a number of seconds`);
  return n;
}

const DEFAULT_OUTPUTS = '.ztmysql/lab/outputs.json';

function anchorSource(args: ParsedArgs, outputs?: DeploymentOutputs): string {
  const s = stringOption(args, 'anchors', outputs?.anchors?.source ?? '');
  if (!s) throw new UsageError('no anchor source: pass --anchors file:///DIR or gs://BUCKET/PREFIX (the outputs name none)');
  return s;
}

const PHASES: Record<VerifyProgress['phase'], string> = {
  log: 'reading the log', unsealed: 'unsealed events', state: 'current table state', checks: 'final checks',
};

/**
 * Progress on stderr (stdout stays the report): rewritten in place on a terminal; in a
 * log, once the run has taken 2 s, a line per phase and one every 10 s (a quick run
 * prints nothing there).
 */
export function progressPrinter(out: NodeJS.WriteStream): (p: VerifyProgress) => void {
  let lastPhase = '';
  let lastLine = 0;
  return (p) => {
    const rate = p.elapsedMs > 0 ? ` (${Math.round(p.leaves / (p.elapsedMs / 1000)).toLocaleString('en-US')}/s)` : '';
    const line = `verify: ${PHASES[p.phase]}: ${p.leaves.toLocaleString('en-US')} leaves${rate}, ${(p.elapsedMs / 1000).toFixed(0)} s`;
    if (out.isTTY) {
      out.write(`\r${line}\x1b[K${p.phase === 'checks' ? '\n' : ''}`);
    } else if (p.elapsedMs >= 2_000 && (p.phase !== lastPhase || p.elapsedMs - lastLine >= 10_000)) {
      out.write(`${line}\n`);
      lastLine = p.elapsedMs;
      lastPhase = p.phase;
    }
  };
}

export async function verifyCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, { flags: [...VERIFY_ARGS.flags], values: [...VERIFY_ARGS.values] });
  if (args.positional.length) throw new UsageError(`unexpected argument ${args.positional[0]}`);
  const json = args.options.json === true;
  const proofFile = args.options['check-proof'];
  if (typeof proofFile === 'string') return checkProof(args, proofFile);

  const outputs = loadDeploymentOutputs(stringOption(args, 'outputs', DEFAULT_OUTPUTS));
  const source = anchorSource(args, outputs);
  const eventId = args.options.event;
  const loaded = await loadAnchors(source);
  let conn: mysql.Connection;
  try {
    conn = await mysql.createConnection(connectionOptions(outputs, 'auditor'));
  } catch (e) {
    throw new Error(`cannot connect as the auditor to ${outputs.host}:${outputs.port}: ${(e as Error).message}`);
  }
  try {
    if (typeof eventId === 'string') {
      try {
        const proof = await buildInclusionProof(conn, loaded.anchors, eventId);
        console.log(JSON.stringify(proof, null, 2));
        return 0;
      } catch (e) {
        if (!(e instanceof ProofError)) throw e;
        console.error(`ztmysql verify: ${e.message}`);
        return /^no event/.test(e.message) ? 2 : 1;
      }
    }
    const report = await verifyDeployment(conn, outputs.database, loaded, {
      maxUnsealedAgeS: seconds(args, 'max-unsealed-age', DEFAULTS.maxUnsealedAgeS),
      maxAnchorAgeS: seconds(args, 'max-anchor-age', DEFAULTS.maxAnchorAgeS),
      maxAnchorGapS: seconds(args, 'max-anchor-gap', DEFAULTS.maxAnchorGapS),
      acceptFingerprints: stringOption(args, 'accept-fingerprint', '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean),
      stateConnection: () => mysql.createConnection(connectionOptions(outputs, 'auditor')),
      onProgress: progressPrinter(process.stderr),
    });
    if (json) console.log(JSON.stringify({ exitCode: report.ok ? 0 : 1, anchorSource: source, ...report }, null, 2));
    else printSummary(report, source);
    return report.ok ? 0 : 1;
  } finally {
    await conn.end().catch(() => undefined);
  }
}

async function checkProof(args: ParsedArgs, file: string): Promise<number> {
  let proof: InclusionProofFile;
  try {
    proof = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read proof ${file}: ${(e as Error).message}`);
  }
  let outputs: DeploymentOutputs | undefined;
  if (typeof args.options.anchors !== 'string') outputs = loadDeploymentOutputs(stringOption(args, 'outputs', DEFAULT_OUTPUTS));
  const { anchors } = await loadAnchors(anchorSource(args, outputs), { fileChecks: false });
  const result = checkInclusionProof(proof, anchors.map((a) => ({
    tree_size: a.treeSize, root: a.root.toString('hex'), emitted_at: a.emittedAt, source: a.source, line: a.line,
  })));
  if (args.options.json === true) console.log(JSON.stringify({ exitCode: result.ok ? 0 : 1, ...result }, null, 2));
  else {
    for (const c of result.checks) console.log(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(12)} ${c.detail}`);
    console.log(result.ok ? `event ${proof.event_id} is in the anchored log` : 'the proof does not hold');
  }
  return result.ok ? 0 : 1;
}

function printSummary(r: VerifyStreamReport, source: string): void {
  const lines = [
    `audit log: ${r.treeSize} sealed leaves (root ${r.root.slice(0, 16)}…), ${r.checkpoints} checkpoints, ${r.unsealedEvents} unsealed event(s)${r.oldestUnsealed ? ` (oldest ${r.oldestUnsealed})` : ''}`,
    `anchors:   ${r.anchors.count} from ${source}; ${r.anchors.matched} match the database, ${r.anchors.consistencyProofs} consistency proofs checked${r.anchors.latest ? `; latest ${r.anchors.latest} (size ${r.anchors.latestTreeSize})` : ''}`,
    `coverage:  fingerprint ${r.coverage.fingerprint}; state ${r.coverage.state}`,
  ];
  console.log(lines.join('\n'));
  if (r.ok) {
    console.log('\nOK: every check holds');
    return;
  }
  console.log(`\nFAIL: ${r.findingCount} finding(s): ${r.kinds.join(', ')}`);
  for (const f of r.findings) console.log(`  ${f.kind.padEnd(16)} ${f.code.padEnd(26)} ${f.message}`);
  for (const [code, n] of Object.entries(r.suppressed)) console.log(`  … ${n} more ${code}`);
}
