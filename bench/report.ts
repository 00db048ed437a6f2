// Writes a run's results: JSON (stable keys, read by other tools), a markdown
// summary, and a hand-written SVG chart (time-to-Available distribution and
// scale behaviour). No dependencies.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Results } from './results.js';

const fmtPlain = (v: number | null | undefined, unit = ''): string => (v === null || v === undefined ? '–' : `${v}${unit}`);
/** Milliseconds as "850 ms" or, from 10 s up, "12.3 s". */
const fmt = (v: number | null | undefined, unit = ''): string =>
  unit === ' ms' && typeof v === 'number' && v >= 10_000 ? `${Math.round(v / 100) / 10} s` : fmtPlain(v, unit);

export function summaryMarkdown(r: Results, name = r.smoke ? 'smoke' : 'latest'): string {
  const lines: string[] = [];
  lines.push(`# Benchmark results${r.smoke ? ' (smoke)' : ''}`, '');
  lines.push(
    `${r.date} · commit \`${r.commit.slice(0, 12)}\` · ${r.machine.cores} cores, ${Math.round(r.machine.memoryMB / 1024)} GiB · load average at start ${r.machine.loadAverage.join(' ')} · ` +
      `local kwok cluster, ha profile · \`--max-concurrent-reconciles=${r.operator.maxConcurrentReconciles}\` (the floor uses the same) · run took ${Math.round(r.durationSeconds / 60)} min`,
    '',
  );
  lines.push('## Convergence (N objects created at once, until all Available)', '');
  lines.push('| N | operator | floor | ratio | saturating floor | ratio | objects/s | p50 | p90 | p99 | floor p50 / p99 |');
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of r.convergence) {
    lines.push(
      `| ${c.n} | ${c.seconds} s | ${c.floorSeconds} s | **${fmt(c.ratio)}** | ${fmtPlain(c.saturatedFloorSeconds, ' s')} (×${fmtPlain(c.saturatedFloorConcurrency)}) | **${fmt(c.saturatedRatio)}** | ${fmt(c.throughput)} | ${fmt(c.p50Ms, ' ms')} | ${fmt(c.p90Ms, ' ms')} | ${fmt(c.p99Ms, ' ms')} | ${fmt(c.floorP50Ms, ' ms')} / ${fmt(c.floorP99Ms, ' ms')} |`,
    );
  }
  const peers = r.peers ?? [];
  if (r.convergence.length > 0 && peers.length > 0) {
    const last = r.convergence[r.convergence.length - 1];
    const n = last.n;
    const fp = (list: Array<{ n: number; rssMB: number; cpuSeconds: number }>, at: number) => list.find((f) => f.n === at);
    lines.push('', `## Side by side at N=${n} (same cluster, same run)`, '');
    lines.push(`| | this operator | floor (×${r.operator.maxConcurrentReconciles}) | saturating floor (×${fmtPlain(last.saturatedFloorConcurrency)}) | ${peers.map((p) => esc(p.name)).join(' | ')} |`);
    lines.push(`|---|---:|---:|---:|${peers.map(() => '---:|').join('')}`);
    const pc = (p: (typeof peers)[number]) => p.convergence.find((c) => c.n === n);
    lines.push(`| all Available | ${last.seconds} s | ${last.floorSeconds} s | ${last.saturatedFloorSeconds} s | ${peers.map((p) => fmtPlain(pc(p)?.seconds, ' s')).join(' | ')} |`);
    lines.push(`| ratio to floor / saturating floor | ${fmt(last.ratio)} / ${fmt(last.saturatedRatio)} | 1 | – | ${peers.map((p) => `${fmt(pc(p)?.floorRatio)} / ${fmt(pc(p)?.saturatedFloorRatio)}`).join(' | ')} |`);
    const ours = r.apiCost.find((a) => a.n === n);
    lines.push(`| writes per object | ${fmtPlain(ours?.writesPerObject)} | ${fmtPlain(ours?.floorWritesPerObject)} | ${fmtPlain(r.floorSweep?.find((f) => f.n === n && f.concurrency === last.saturatedFloorConcurrency)?.writesPerObject)} | ${peers.map((p) => fmtPlain(pc(p)?.writesPerObject)).join(' | ')} |`);
    lines.push(`| RSS after converging | ${fmtPlain(fp(r.footprint, n)?.rssMB, ' MB')} | – | – | ${peers.map((p) => fmtPlain(fp(p.footprint, n)?.rssMB, ' MB')).join(' | ')} |`);
    lines.push(`| RSS at N=0 | ${fmtPlain(fp(r.footprint, 0)?.rssMB, ' MB')} | – | – | ${peers.map((p) => fmtPlain(fp(p.footprint, 0)?.rssMB, ' MB')).join(' | ')} |`);
    lines.push(`| CPU seconds to converge | ${fmtPlain(fp(r.footprint, n)?.cpuSeconds, ' s')} | – | – | ${peers.map((p) => fmtPlain(fp(p.footprint, n)?.cpuSeconds, ' s')).join(' | ')} |`);
    const st = r.operatorStats?.find((x) => x.n === n);
    const ps = (p: (typeof peers)[number]) => p.stats.find((x) => x.n === n);
    lines.push(`| reconciles / queue adds per object | ${st ? `${round1(st.reconciles / n)} / ${round1(st.queueAdds / n)}` : '–'} | – | – | ${peers.map((p) => (ps(p) ? `${round1(ps(p)!.reconciles / n)} / ${round1(ps(p)!.queueAdds / n)}` : '–')).join(' | ')} |`);
    lines.push(`| writes at idle (${r.idle?.windowSeconds ?? '–'} s) | ${fmtPlain(r.idle?.writes)} | – | – | ${peers.map((p) => fmtPlain(p.idle?.writes)).join(' | ')} |`);
    lines.push(`| churn lag p50 / p99 | ${r.churn ? `${fmt(r.churn.p50Ms, ' ms')} / ${fmt(r.churn.p99Ms, ' ms')}` : '–'} | – | – | ${peers.map((p) => (p.churn ? `${fmt(p.churn.p50Ms, ' ms')} / ${fmt(p.churn.p99Ms, ' ms')}` : '–')).join(' | ')} |`);
  }
  if (r.floorSweep?.length) {
    const concurrencies = [...new Set(r.floorSweep.map((f) => f.concurrency))].sort((a, b) => a - b);
    lines.push('', '## Floor sweep (the floor\'s same writes at each concurrency: seconds until all Available)', '');
    lines.push(`| N | ${concurrencies.map((c) => `×${c}`).join(' | ')} |`, `|---:|${concurrencies.map(() => '---:|').join('')}`);
    for (const n of [...new Set(r.floorSweep.map((f) => f.n))]) {
      lines.push(`| ${n} | ${concurrencies.map((c) => { const f = r.floorSweep.find((x) => x.n === n && x.concurrency === c); return f ? `${f.seconds} s${f.complete ? '' : ' (incomplete)'}` : '–'; }).join(' | ')} |`);
    }
  }
  lines.push('', '## API cost per converged object (writes in the audit log, by client)', '');
  lines.push('| N | operator writes/object | floor writes/object | ratio | all clients, requests/object |');
  lines.push('|---:|---:|---:|---:|---:|');
  for (const a of r.apiCost) lines.push(`| ${a.n} | ${a.writesPerObject} | ${a.floorWritesPerObject} | ${fmt(a.ratio)} | ${a.allClientRequestsPerObject} |`);
  const biggest = r.apiCost[r.apiCost.length - 1];
  if (biggest) {
    lines.push('', `Operator writes at N=${biggest.n}: ${Object.entries(biggest.writesByResource).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
    lines.push(`Floor writes at N=${biggest.n}: ${Object.entries(biggest.floorWritesByResource).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  }
  if (r.idle) {
    lines.push('', `## Idle (N=${r.idle.n} converged, ${r.idle.windowSeconds} s window)`, '');
    lines.push(`- Writes by the operator: **${r.idle.writes}** (target 0)${r.idle.writes ? ': ' + Object.entries(r.idle.writesByResource).map(([k, v]) => `${k} ${v}`).join(', ') : ''}.`);
    lines.push(
      `- API requests/minute attributable to the operator: **${fmt(r.idle.requestsPerMinute)}** (apiserver_request_total: ${r.idle.requestsPerMinuteAllClients}/min with it running, ${r.idle.requestsPerMinuteWithoutOperator}/min without it).`,
    );
  }
  if (r.churn) {
    lines.push('', `## Churn (N=${r.churn.n}: ${r.churn.perSecond} spec.size changes per second for ${r.churn.seconds} s)`, '');
    lines.push(`- ${r.churn.reflected}/${r.churn.changes} changes were reflected in status (observedGeneration); lag p50 ${fmt(r.churn.p50Ms, ' ms')}, p90 ${fmt(r.churn.p90Ms, ' ms')}, p99 ${fmt(r.churn.p99Ms, ' ms')}, max ${fmt(r.churn.maxMs, ' ms')}.`);
    lines.push(`- A restarted operator on ${r.churn.n} converged objects wrote ${r.churn.restartWrites} times in its first seconds (target 0).`);
  }
  lines.push('', '## Footprint (a fresh operator process after converging N objects)', '');
  lines.push('| N | RSS | CPU seconds |', '|---:|---:|---:|');
  for (const f of r.footprint) lines.push(`| ${f.n} | ${f.rssMB} MB | ${f.cpuSeconds} s |`);
  if (r.operatorStats?.length) {
    lines.push('', '## Where the operator spends its time (its own /metrics after converging N)', '');
    lines.push('| N | reconciles | per object | errors | queue adds | per object | mean queue wait | mean reconcile | event-loop lag p99 |');
    lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of r.operatorStats) {
      lines.push(`| ${s.n} | ${s.reconciles} | ${round1(s.reconciles / s.n)} | ${s.reconcileErrors} | ${s.queueAdds} | ${round1(s.queueAdds / s.n)} | ${fmt(s.meanQueueWaitMs, ' ms')} | ${fmt(s.meanReconcileMs, ' ms')} | ${fmt(s.eventLoopLagP99Ms, ' ms')} |`);
    }
    lines.push('', 'Keys handed to the queue per object, by watch and event (before the queue dedups or coalesces them):', '');
    for (const s of r.operatorStats) {
      const parts = Object.entries(s.enqueuesBySource ?? {})
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${k} ${round1(v / s.n)}`);
      lines.push(`- N=${s.n}: ${parts.length ? parts.join(', ') : '–'}`);
    }
  }
  lines.push('', '## Failover (time from the fault until a new leader has written a change)', '');
  lines.push('| fault | runs | min | median | max |', '|---|---:|---:|---:|---:|');
  for (const [kind, f] of Object.entries(r.failover)) lines.push(`| ${kind} | ${f.runs} | ${fmt(f.minMs, ' ms')} | ${fmt(f.medianMs, ' ms')} | ${fmt(f.maxMs, ' ms')} |`);
  for (const p of peers) {
    lines.push('', `## Peer: ${esc(p.name)}`, '', `\`${p.command}\` (converged: ${p.mode === 'memcached' ? 'the Memcached\'s Available condition' : 'its Deployment\'s Available condition'})`, '');
    lines.push('| N | seconds | ratio to floor | to saturating floor | p50 | p90 | p99 | writes/object | reconciles | queue adds |');
    lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const c of p.convergence) {
      const s = p.stats.find((x) => x.n === c.n);
      lines.push(
        `| ${c.n} | ${c.seconds} s${c.complete ? '' : ' (incomplete)'} | ${fmt(c.floorRatio)} | ${fmt(c.saturatedFloorRatio)} | ${fmt(c.p50Ms, ' ms')} | ${fmt(c.p90Ms, ' ms')} | ${fmt(c.p99Ms, ' ms')} | ${c.writesPerObject} | ${fmtPlain(s?.reconciles)} | ${fmtPlain(s?.queueAdds)} |`,
      );
    }
    const big = p.convergence[p.convergence.length - 1];
    if (big) lines.push('', `Writes at N=${big.n}: ${Object.entries(big.writesByResource).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
    lines.push('', `Footprint: ${p.footprint.map((f) => `N=${f.n} ${f.rssMB} MB / ${f.cpuSeconds} s`).join(', ')}.`);
    if (p.idle) lines.push('', `Idle (N=${p.idle.n}, ${p.idle.windowSeconds} s): ${p.idle.writes} writes, ~${fmt(p.idle.requestsPerMinute)} requests/min.`);
    if (p.churn) {
      lines.push(
        '',
        `Churn (N=${p.churn.n}, ${p.churn.perSecond}/s for ${p.churn.seconds} s): ${p.churn.reflected}/${p.churn.changes} reflected; lag p50 ${fmt(p.churn.p50Ms, ' ms')}, p99 ${fmt(p.churn.p99Ms, ' ms')}; a restart wrote ${p.churn.restartWrites} times.`,
      );
    }
  }
  if (r.notes.length > 0) lines.push('', '## Notes', '', ...r.notes.map((n) => `- ${n}`));
  lines.push('', `![time to Available and scale](${name}.svg)`, '');
  return lines.join('\n');
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

/** Two panels: the CDF of per-object time-to-Available (operator solid, floor dashed) and total convergence time by N. */
export function chartSvg(r: Results): string {
  const W = 960;
  const H = 450;
  const panelW = 400;
  const top = 50;
  const plotH = 280;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">memcached-operator vs the floors and peers (${esc(r.date.slice(0, 10))}, ${r.machine.cores} cores${r.smoke ? ', smoke' : ''})</text>`);

  // Panel 1: CDF, log time axis (N=1 and N=1000 differ by orders of magnitude).
  const x1 = 70;
  const firstPeer = (r.peers ?? [])[0];
  const peerMs = (n: number): number[] => firstPeer?.timesMs?.find((t) => t.n === n)?.ms ?? [];
  const all = r.timeToAvailable.flatMap((t) => [...t.operatorMs, ...t.floorMs, ...peerMs(t.n)]).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.max(1, Math.min(...all, 100))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(lo * 10, ...all)));
  const sx = (ms: number): number => x1 + (Math.log10(Math.max(lo, ms) / lo) / Math.log10(hi / lo)) * panelW;
  const sy = (f: number): number => top + plotH - f * plotH;
  out.push(`<text x="${x1 + panelW / 2}" y="${top - 10}" text-anchor="middle" font-weight="bold">Time to Available per object (CDF)</text>`);
  out.push(`<rect x="${x1}" y="${top}" width="${panelW}" height="${plotH}" fill="none" stroke="#999"/>`);
  for (let i = 0; i <= 4; i++) {
    const f = i / 4;
    out.push(`<line x1="${x1}" x2="${x1 + panelW}" y1="${sy(f)}" y2="${sy(f)}" stroke="#eee"/><text x="${x1 - 6}" y="${sy(f) + 4}" text-anchor="end">${Math.round(f * 100)}%</text>`);
  }
  for (let ms = lo; ms <= hi; ms *= 10) {
    out.push(`<line x1="${sx(ms)}" x2="${sx(ms)}" y1="${top}" y2="${top + plotH}" stroke="#eee"/>`);
    out.push(`<text x="${sx(ms)}" y="${top + plotH + 16}" text-anchor="middle">${ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`}</text>`);
  }
  out.push(`<text x="${x1 + panelW / 2}" y="${top + plotH + 34}" text-anchor="middle">from creation to Available (log scale)</text>`);
  r.timeToAvailable.forEach((t, i) => {
    const color = COLORS[i % COLORS.length];
    for (const [series, dash] of [
      [t.operatorMs, ''],
      [t.floorMs, ' stroke-dasharray="5,3"'],
      [peerMs(t.n), ' stroke-dasharray="1,3"'],
    ] as const) {
      if (series.length === 0) continue;
      const pts: string[] = [];
      const step = Math.max(1, Math.floor(series.length / 400));
      for (let k = 0; k < series.length; k += step) {
        pts.push(`${sx(series[k]).toFixed(1)},${sy(k / series.length).toFixed(1)}`, `${sx(series[k]).toFixed(1)},${sy((k + 1) / series.length).toFixed(1)}`);
      }
      pts.push(`${sx(series[series.length - 1]).toFixed(1)},${sy(1).toFixed(1)}`);
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8"${dash} points="${pts.join(' ')}"/>`);
    }
    const ly = top + 30 + i * 16;
    out.push(`<line x1="${x1 + 10}" x2="${x1 + 30}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/><text x="${x1 + 35}" y="${ly + 4}">N=${t.n}</text>`);
  });
  out.push(`<text x="${x1 + 10}" y="${top + 16}" font-size="11">solid: operator, dashed: floor${firstPeer ? `, dotted: ${esc(firstPeer.name)}` : ''}</text>`);

  // Panel 2: time until all N are Available, by N (log scale), operator and floor side by side.
  const x2 = x1 + panelW + 90;
  const groups = r.convergence;
  const peer = (r.peers ?? [])[0];
  const peerSeconds = (n: number): number | undefined => peer?.convergence.find((c) => c.n === n)?.seconds;
  const secs = groups.flatMap((c) => [c.seconds, c.floorSeconds, c.saturatedFloorSeconds ?? 0, peerSeconds(c.n) ?? 0]).filter((v) => v > 0);
  const slo = 10 ** Math.floor(Math.log10(Math.max(0.01, Math.min(...secs, 1))));
  const shi = 10 ** Math.ceil(Math.log10(Math.max(slo * 10, ...secs)));
  const by = (v: number): number => top + plotH - (Math.log10(Math.max(slo, v) / slo) / Math.log10(shi / slo)) * plotH;
  out.push(`<text x="${x2 + panelW / 2}" y="${top - 10}" text-anchor="middle" font-weight="bold">Time until all N are Available (log scale)</text>`);
  out.push(`<rect x="${x2}" y="${top}" width="${panelW}" height="${plotH}" fill="none" stroke="#999"/>`);
  for (let v = slo; v <= shi; v *= 10) {
    out.push(`<line x1="${x2}" x2="${x2 + panelW}" y1="${by(v)}" y2="${by(v)}" stroke="#eee"/><text x="${x2 - 6}" y="${by(v) + 4}" text-anchor="end">${round1(v) || v} s</text>`);
  }
  const gw = panelW / Math.max(1, groups.length);
  groups.forEach((c, i) => {
    const gx = x2 + i * gw;
    const bars: Array<[number | undefined, string]> = [
      [c.seconds, '#1f77b4'],
      [c.floorSeconds, '#aec7e8'],
      [c.saturatedFloorSeconds, '#c7c7c7'],
      [peerSeconds(c.n), '#ff7f0e'],
    ];
    const bw = Math.min(24, gw / 5);
    bars.forEach(([v, fill], k) => {
      if (v === undefined || v <= 0) return;
      const bx = gx + gw / 2 - 2 * (bw + 2) + k * (bw + 2);
      out.push(`<rect x="${bx}" y="${by(v)}" width="${bw}" height="${top + plotH - by(v)}" fill="${fill}"/>`);
    });
    out.push(`<text x="${gx + gw / 2}" y="${top + plotH + 16}" text-anchor="middle">N=${c.n}</text>`);
    out.push(`<text x="${gx + gw / 2}" y="${Math.min(...bars.filter(([v]) => v !== undefined && v > 0).map(([v]) => by(v!))) - 6}" text-anchor="middle" font-size="11">×${c.ratio ?? '–'}</text>`);
    out.push(`<text x="${gx + gw / 2}" y="${top + plotH + 30}" text-anchor="middle" font-size="10">${c.throughput ?? '–'} obj/s</text>`);
  });
  const ly = top + plotH + 52;
  const legend: Array<[string, string]> = [
    ['#1f77b4', 'operator'],
    ['#aec7e8', 'floor (×ratio above the bars)'],
    ['#c7c7c7', 'saturating floor'],
    ...(peer ? [['#ff7f0e', peer.name] as [string, string]] : []),
  ];
  let lx = x2 - 220;
  for (const [fill, label] of legend) {
    out.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${fill}"/><text x="${lx + 17}" y="${ly + 10}">${esc(label)}</text>`);
    lx += 30 + label.length * 6.5;
  }
  out.push(`<text x="${W / 2}" y="${H - 12}" text-anchor="middle" font-size="11" fill="#555">Same cluster, same clock; concurrency ${r.operator.maxConcurrentReconciles} (the saturating floor: its fastest of the sweep); shared ${r.machine.cores}-core machine: read ratios, not absolute times.</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

export function writeResults(dir: string, name: string, r: Results): string[] {
  mkdirSync(dir, { recursive: true });
  const files = [path.join(dir, `${name}.json`), path.join(dir, `${name}.md`), path.join(dir, `${name}.svg`)];
  writeFileSync(files[0], JSON.stringify(r, null, 2) + '\n');
  writeFileSync(files[1], summaryMarkdown(r, name));
  writeFileSync(files[2], chartSvg(r));
  return files;
}
