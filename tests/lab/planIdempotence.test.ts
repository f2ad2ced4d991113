// Applying the whole plan a second time changes nothing and leaves the server serving.
import mysql from 'mysql2/promise';
import { applyPlan } from '../../lab/runner';
import { labInputs, labPlan } from '../../lab/lab';
import { connectAs, testLab } from './support/testLab';

test('the plan applied again reports every step unchanged and the server still answers', async () => {
  const lab = testLab();
  const plan = labPlan(lab.inst);
  // globalSetup applied it once already; run it twice more to be sure of a steady state.
  await applyPlan(plan, labInputs(lab.pki, lab.passwords), lab.target, { quiet: true });
  const outcomes = await applyPlan(plan, labInputs(lab.pki, lab.passwords), lab.target, { quiet: true });
  expect(outcomes.map((o) => `${o.id}:${o.result}`)).toEqual(plan.steps.map((s) => `${s.id}:unchanged`));
  const conn = await connectAs('app', { database: undefined });
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT 1 AS one');
    expect(rows[0].one).toBe(1);
  } finally {
    await conn.end();
  }
});

test('a bad input is refused before anything touches the host', async () => {
  const lab = testLab();
  const inputs = labInputs(lab.pki, lab.passwords);
  delete inputs['pki.crl'];
  // Port 1 on the test host is closed: had the runner connected first, the error would be SSH's.
  const unreachable = { ...lab.target, port: 1 };
  await expect(applyPlan(labPlan(lab.inst), inputs, unreachable, { quiet: true })).rejects.toThrow(/pki\.crl: missing/);
  await expect(applyPlan(labPlan(lab.inst), labInputs(lab.pki, lab.passwords), unreachable, { quiet: true })).rejects.toThrow(/ssh|ECONNREFUSED|connect/i);
});
