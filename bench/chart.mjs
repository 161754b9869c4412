// A small SVG bar chart of the report: requests/s per scenario, the service beside the reference, p99 as text.

/** @param {unknown} s */
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** @param {import('./report.mjs').FinishedReport & { scenarios: import('./report.mjs').ScenarioReport[] }} report */
export function chartSvg(report) {
  const rows = report.scenarios.flatMap((s) => [
    { scenario: s.name, target: 'service', ...s.service },
    ...(s.reference ? [{ scenario: s.name, target: 'reference', ...s.reference }] : []),
  ]);
  const max = Math.max(1, ...rows.map((r) => r.rps));
  const left = 150;
  const barWidth = 560;
  const barHeight = 16;
  const gap = 10;
  let y = 50;
  const parts = [];
  let last = '';
  for (const row of rows) {
    if (row.scenario !== last) {
      if (last) y += gap;
      parts.push(`<text x="10" y="${y + 12}" font-weight="bold">${esc(row.scenario)}</text>`);
      last = row.scenario;
    }
    const w = (row.rps / max) * barWidth;
    const color = row.target === 'service' ? '#4361ee' : '#adb5bd';
    parts.push(
      `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${color}"/>`,
      `<text x="${left + w + 6}" y="${y + 12}">${Math.round(row.rps)} req/s · p50 ${row.p50.toFixed(1)} ms · p99 ${row.p99.toFixed(1)} ms${row.target === 'reference' ? ' (reference)' : ''}</text>`,
    );
    y += barHeight + 3;
  }
  const height = y + 40;
  const { machine } = report;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="15" font-weight="bold">Threat Assessment Service — npm run bench (${esc(report.settings.connections)} connections, median of ${esc(report.settings.rounds)} rounds of ${esc(report.settings.duration)} s)</text>
<text x="10" y="38" fill="#555">${esc(`${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGb} GB, ${machine.postgres.split(' on ')[0]}, Node ${machine.node}, ${report.finishedAt}`)}</text>
<rect x="${left}" y="${height - 28}" width="12" height="12" fill="#4361ee"/><text x="${left + 16}" y="${height - 18}">service (NestJS + TypeORM)</text>
<rect x="${left + 220}" y="${height - 28}" width="12" height="12" fill="#adb5bd"/><text x="${left + 236}" y="${height - 18}">reference (bare Fastify + pg, bench/reference-server.mjs)</text>
${parts.join('\n')}
</svg>
`;
}
