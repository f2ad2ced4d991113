// The off-host anchor: anchors are there, recent, on cadence, from this server, and
// the latest one matches a checkpoint in the database.
import { statSync } from 'node:fs';
import { Check } from '../check';
import { NotRun } from '../types';
import { ProveContext } from '../context';
import { AnchorEntry, listAnchorObjects, readAnchors } from '../../anchorSource';

/** Anchor cadence is 60 s; allow the timer's accuracy and delivery some slack. */
export const MAX_ANCHOR_GAP_SECONDS = 90;
export const MAX_ANCHOR_AGE_SECONDS = 150;

async function anchors(ctx: ProveContext): Promise<{ entries: AnchorEntry[]; malformed: number }> {
  const source = ctx.outputs.anchors?.source;
  if (!source) throw new NotRun('the deployment outputs name no anchor source');
  const entries: AnchorEntry[] = [];
  let malformed = 0;
  for await (const item of readAnchors(source)) {
    if (item.kind === 'anchor') entries.push(item.entry);
    else malformed++;
  }
  entries.sort((a, b) => Date.parse(a.record.emitted_at) - Date.parse(b.record.emitted_at));
  return { entries, malformed };
}

export const anchorChecks: Check[] = [
  {
    control: 'anchor-worm', name: `the latest anchor is at most ${MAX_ANCHOR_AGE_SECONDS} s old and comes from this server`,
    ran: 'read every anchor from the anchor source; SELECT @@server_uuid (as auditor)',
    expected: `latest emitted_at within ${MAX_ANCHOR_AGE_SECONDS} s; server_uuid equal`,
    async run(ctx) {
      const { entries, malformed } = await anchors(ctx);
      if (entries.length === 0) return { observed: 'no anchors', pass: false };
      const latest = entries[entries.length - 1];
      const age = (Date.now() - Date.parse(latest.record.emitted_at)) / 1000;
      const [r] = await ctx.query('auditor', 'SELECT @@server_uuid AS u');
      const evidence = ctx.evidence('anchors-latest.json', JSON.stringify({ count: entries.length, malformed, latest }, null, 2));
      return {
        observed: `${entries.length} anchors (${malformed} malformed); latest ${age.toFixed(0)} s old from ${latest.record.server_uuid}`,
        pass: age <= MAX_ANCHOR_AGE_SECONDS && latest.record.server_uuid === r.u && malformed === 0, evidence: [evidence],
      };
    },
  },
  {
    control: 'anchor-worm', name: `consecutive anchors are at most ${MAX_ANCHOR_GAP_SECONDS} s apart`,
    ran: 'emitted_at of consecutive anchors',
    expected: `largest gap <= ${MAX_ANCHOR_GAP_SECONDS} s`,
    async run(ctx) {
      const { entries } = await anchors(ctx);
      if (entries.length < 2) throw new NotRun(`only ${entries.length} anchor(s) so far; cadence needs two`);
      let largest = 0;
      for (let i = 1; i < entries.length; i++) {
        largest = Math.max(largest, (Date.parse(entries[i].record.emitted_at) - Date.parse(entries[i - 1].record.emitted_at)) / 1000);
      }
      return { observed: `${entries.length} anchors, largest gap ${largest.toFixed(1)} s`, pass: largest <= MAX_ANCHOR_GAP_SECONDS };
    },
  },
  {
    control: 'anchor-worm', name: 'the latest anchored checkpoint exists in the database with the same root',
    ran: 'SELECT root, checkpoint_hash FROM audit_checkpoints WHERE tree_size = <anchored tree size> (as auditor)',
    expected: 'same root and checkpoint hash (or tree size 0 with the empty-tree root)',
    async run(ctx) {
      const { entries } = await anchors(ctx);
      if (entries.length === 0) return { observed: 'no anchors', pass: false };
      const a = entries[entries.length - 1].record;
      const rows = await ctx.query('auditor', `SELECT LOWER(HEX(root)) AS root, LOWER(HEX(checkpoint_hash)) AS ch FROM \`${ctx.outputs.database}\`.audit_checkpoints WHERE tree_size = ?`, [a.tree_size]);
      if (rows.length === 0) return { observed: `no checkpoint of tree size ${a.tree_size} in the database`, pass: a.tree_size === 0 };
      const ok = rows[0].root === a.root && rows[0].ch === a.checkpoint_hash;
      return { observed: `tree size ${a.tree_size}: database root ${rows[0].root.slice(0, 16)}…, anchored ${a.root.slice(0, 16)}…`, pass: ok };
    },
  },
  {
    control: 'anchor-worm', name: 'closed anchor files are read-only',
    ran: 'mode of every anchor file but the newest (directory sources; a GCS bucket is protected by its retention lock)',
    expected: 'no write bit on closed files',
    async run(ctx) {
      const source = ctx.outputs.anchors?.source;
      if (!source?.startsWith('file://')) throw new NotRun('the anchor source is not a directory; the bucket retention lock is checked by the policy pack');
      const files = await listAnchorObjects(source);
      const closed = files.slice(0, -1);
      const writable = closed.filter((f) => (statSync(f).mode & 0o222) !== 0);
      if (closed.length === 0) throw new NotRun('no closed anchor file yet');
      return { observed: `${closed.length} closed files, ${writable.length} writable`, pass: writable.length === 0 };
    },
  },
];
