// The auditor's report: one self-contained HTML page (no scripts, no external
// resources) with the control matrix first and every check's evidence below it.
import type { Manifest } from './runner';

const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

const badge = (status: string): string => `<span class="badge ${esc(status)}">${status === 'not-run' ? 'not run' : esc(status)}</span>`;

export function renderReport(m: Manifest): string {
  const counts = { pass: 0, fail: 0, 'not-run': 0 } as Record<string, number>;
  for (const c of m.controls) counts[c.status]++;
  const verdict = counts.fail > 0 ? 'fail' : 'pass';
  const controlRows = m.controls.map((c) => `<tr><td class="layer">${esc(c.layer)}</td><td>${esc(c.title)}</td><td>${esc(c.standard)}</td><td>${c.checks}</td><td>${badge(c.status)}</td></tr>`).join('\n');
  const checkRows = m.checks.map((k) => `<tr class="${esc(k.status)}"><td>${badge(k.status)}</td><td><b>${esc(k.check)}</b><div class="muted">${esc(k.control)}</div></td><td><code>${esc(k.ran)}</code></td><td>${esc(k.expected)}</td><td>${esc(k.observed)}</td><td>${k.evidence.map((e) => `<code>${esc(e)}</code>`).join('<br>')}</td></tr>`).join('\n');
  const fileRows = m.files.map((f) => `<tr><td><code>${esc(f.path)}</code></td><td>${f.bytes}</td><td><code class="hash">${esc(f.sha256)}</code></td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ztmysql proof · ${esc(m.deployment.serverName)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#111827;color:#fff;padding:24px 32px}
header h1{margin:0 0 4px;font-size:22px}
header .meta{color:#c7cdd8}
main{padding:24px 32px;max-width:1300px}
.verdict{display:inline-block;margin-top:12px;padding:6px 14px;border-radius:6px;font-weight:600}
.verdict.pass{background:#16a34a}.verdict.fail{background:#dc2626}
.tiles{display:flex;gap:12px;margin:18px 0}
.tile{background:#fff;border:1px solid #e3e6eb;border-radius:8px;padding:12px 18px;min-width:120px}
.tile b{font-size:24px;display:block}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #e3e6eb;margin-bottom:28px}
th,td{padding:8px 10px;border-bottom:1px solid #eef0f3;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}
tr.fail td{background:#fff5f5}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;font-size:12px;font-weight:600;text-transform:uppercase}
.badge.pass{background:#dcfce7;color:#166534}.badge.fail{background:#fee2e2;color:#991b1b}.badge.not-run{background:#e5e7eb;color:#374151}
.layer{text-transform:capitalize;font-weight:600}
.muted{color:#6b7280;font-size:12px}
code{font-family:ui-monospace,Menlo,monospace;font-size:12px;word-break:break-word}
.hash{font-size:11px}
h2{margin-top:8px}
table.checks{table-layout:fixed}
table.checks td{overflow-wrap:anywhere}
table.checks col.s{width:84px}table.checks col.c{width:20%}table.checks col.r{width:22%}table.checks col.e{width:17%}table.checks col.o{width:23%}
</style></head>
<body>
<header><h1>ztmysql proof of controls</h1>
<div class="meta">${esc(m.deployment.serverName)} (${esc(m.deployment.host)}:${m.deployment.port}) · generated ${esc(m.generatedAt)} · ${esc(m.format)}</div>
<div class="verdict ${verdict}">${verdict === 'pass' ? 'All controls that ran hold' : `${counts.fail} control(s) fail`}</div></header>
<main>
<div class="tiles"><div class="tile"><b>${counts.pass}</b>controls pass</div><div class="tile"><b>${counts.fail}</b>controls fail</div><div class="tile"><b>${counts['not-run']}</b>not run</div><div class="tile"><b>${m.checks.length}</b>checks</div></div>
<h2>Control matrix</h2>
<table><thead><tr><th>Layer</th><th>Control</th><th>Standard</th><th>Checks</th><th>Status</th></tr></thead><tbody>
${controlRows}
</tbody></table>
<h2>Checks</h2>
<table class="checks"><colgroup><col class="s"><col class="c"><col class="r"><col class="e"><col class="o"><col></colgroup><thead><tr><th>Status</th><th>Check</th><th>What was run</th><th>Expected</th><th>Observed</th><th>Evidence</th></tr></thead><tbody>
${checkRows}
</tbody></table>
<h2>Files in this bundle</h2>
<p class="muted">SHA-256 of every evidence file; manifest.json carries the same list.</p>
<table><thead><tr><th>File</th><th>Bytes</th><th>SHA-256</th></tr></thead><tbody>
${fileRows}
</tbody></table>
</main></body></html>
`;
}
