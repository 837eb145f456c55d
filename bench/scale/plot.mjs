// The plots of `npm run bench:scale`, drawn with Vega-Lite (rendered to SVG in Node, no canvas) from
// results files: postoffice and the anchor on the same axes, the machine's load in each subtitle.
//   node bench/scale/plot.mjs [--out DIR] [[LABEL=]RESULTS.jsonl ...]
// Default: the newest bench/results/scale/scale-*.jsonl. Several files are drawn together (e.g. the anchor
// from one run, postoffice from a later one), into --out or else the first file's folder. LABEL= names
// the targets of that file's records "TARGET (LABEL)", so two runs of one target (before and after)
// are two lines: `node bench/scale/plot.mjs --out docs/perf/x anchor.jsonl before=old.jsonl new.jsonl`.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as vega from 'vega';
import * as vl from 'vega-lite';

const OUT = path.resolve(process.env.BENCH_SCALE_OUT ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'results', 'scale'));

function newest() {
  const files = readdirSync(OUT).filter((f) => /^scale-.*\.jsonl$/.test(f)).sort();
  if (!files.length) throw new Error(`no scale-*.jsonl in ${OUT}`);
  return path.join(OUT, files[files.length - 1]);
}

const range = (rows, k) => {
  const xs = rows.map((r) => r[k]).filter((x) => typeof x === 'number');
  return xs.length ? `${Math.min(...xs)}–${Math.max(...xs)}` : '?';
};
const loadOf = (rows) => `load avg ${range(rows, 'loadavg_1m')}, host busy ${range(rows, 'host_busy_frac')}, load generator ${range(rows, 'loadgen_core_share')} cores`;
/** The machine's load over the points, per target when there are several (each may come from another run). */
const loadNote = (rows) => {
  const targets = [...new Set(rows.map((r) => r.target))];
  if (targets.length < 2) return loadOf(rows);
  return targets.map((t) => `${t}: ${loadOf(rows.filter((r) => r.target === t))}`);
};

async function render(file, spec) {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  writeFileSync(file, await view.toSVG());
  await view.finalize();
  return file;
}

// postoffice blue, the anchor red, other labelled runs (postoffice (before), ...) in further colours (not grey: the target rules are)
let COLOR = null;
function colorFor(rows) {
  const named = { postoffice: '#1f77b4', anchor: '#d62728' };
  const more = ['#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#17becf', '#e377c2'];
  const domain = [...new Set(rows.map((r) => r.target).filter(Boolean))].sort((a, b) => (a in named ? 0 : 1) - (b in named ? 0 : 1) || a.localeCompare(b));
  let k = 0;
  return { field: 'target', type: 'nominal', title: null, scale: { domain, range: domain.map((t) => named[t] ?? more[k++ % more.length]) } };
}
const line = (rows, title, x, y, extra = {}) => ({
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  title: { text: title, subtitle: loadNote(rows), subtitleFontSize: 10 },
  width: 420, height: 260, background: 'white', config: { legend: { labelLimit: 400 } },
  data: { values: rows },
  mark: { type: 'line', point: true },
  encoding: { x, y, color: COLOR, ...extra },
});
// ticks at the powers of ten the data spans (Vega drops the last label, 1,000,000, on its own)
const decades = (rows, field) => {
  const xs = rows.map((r) => r[field]).filter((x) => x > 0);
  if (!xs.length) return undefined;
  const out = [];
  for (let v = 10 ** Math.floor(Math.log10(Math.min(...xs))); v <= Math.max(...xs) * 1.0001; v *= 10) out.push(v);
  return out;
};
const logx = (field, title, rows = null) => ({ field, type: 'quantitative', title, scale: { type: 'log' },
  axis: { grid: true, ...(rows ? { values: decades(rows, field), format: '~s', labelFlush: true } : {}) } });
const linY = (field, title) => ({ field, type: 'quantitative', title, scale: { zero: true } });
const logY = (field, title) => ({ field, type: 'quantitative', title, scale: { type: 'log' } });

/** Records of one results file; `label` renames its targets "TARGET (label)". */
function readResults(file, label) {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
    .map((r) => (label && r.target ? { ...r, target: `${r.target} (${label})` } : r));
}
/** "LABEL=FILE" or "FILE" -> { file, label } */
function parseArg(a) {
  const m = /^([^=/]+)=(.+)$/.exec(a);
  return m ? { file: path.resolve(m[2]), label: m[1] } : { file: path.resolve(a), label: null };
}

/** Draws the plots of one or more results files (paths, or "LABEL=path") into outDir (default: beside the first). */
// issue 15's targets for postoffice (a 1M-message mailbox, 10,000 idle sessions), drawn as grey dashed
// rules (BENCH_SCALE_PLOT_GOALS=0: none)
const GOALS = process.env.BENCH_SCALE_PLOT_GOALS === '0' ? {} : {
  'SELECT cold': 1000, 'SELECT warm': 100, STATUS: 10, 'UID FETCH newest 100 headers': 50, 'SEARCH SUBJECT word': 2000,
  mailbox_mb: 200, idle_rss_mb: 300, new_client_ms: 50,
};
const GOAL_NOTE = 'grey dashed: the issue 15 target for postoffice (at 1M messages / 10,000 sessions)';
const RULE = { type: 'rule', color: '#888', strokeDash: [6, 4], strokeWidth: 1.5 };
/** A line spec with a horizontal target rule at `value` (the same y scale), when there is a goal. */
function withGoal(spec, value) {
  if (value == null) return spec;
  const { mark, encoding, ...rest } = spec;
  const sub = Array.isArray(rest.title?.subtitle) ? rest.title.subtitle : [rest.title?.subtitle].filter(Boolean);
  return { ...rest, title: { ...rest.title, subtitle: [...sub, GOAL_NOTE] },
    layer: [{ mark, encoding }, { mark: RULE, encoding: { y: { datum: value, type: 'quantitative' } } }] };
}

export async function plot(results = newest(), more = [], outDir = null) {
  const inputs = [results, ...more].map((a) => parseArg(String(a)));
  const rows = inputs.flatMap(({ file, label }) => readResults(file, label));
  COLOR = colorFor(rows);
  const dir = outDir ? path.resolve(outDir) : path.join(path.dirname(inputs[0].file), path.basename(inputs[0].file, '.jsonl'));
  mkdirSync(dir, { recursive: true });
  const written = [];
  const of = (w) => rows.filter((r) => r.workload === w);

  const sess = of('delivery_sessions');
  if (sess.length) written.push(await render(path.join(dir, 'delivery-sessions.svg'),
    line(sess, 'Delivery against concurrent SMTP sessions (end to end)', logx('sessions', 'concurrent SMTP sessions'), linY('e2e_msgs_per_s', 'messages/s delivered'))));
  const size = of('delivery_size');
  if (size.length) {
    written.push(await render(path.join(dir, 'delivery-size.svg'),
      line(size, 'Delivery against message size (end to end)', logx('msg_bytes', 'message size (bytes)'), logY('e2e_msgs_per_s', 'messages/s delivered'))));
    written.push(await render(path.join(dir, 'delivery-size-mbps.svg'),
      line(size, 'Delivery throughput against message size', logx('msg_bytes', 'message size (bytes)'), linY('e2e_mb_per_s', 'MB/s delivered'))));
  }
  const mb = of('mailbox');
  if (mb.length) {
    const metrics = { select_cold_ms: 'SELECT cold', select_warm_ms: 'SELECT warm', status_ms: 'STATUS', fetch_newest100_ms: 'UID FETCH newest 100 headers', search_header_ms: 'SEARCH SUBJECT word' };
    const long = mb.flatMap((r) => Object.entries(metrics).filter(([k]) => r[k] != null).map(([k, label]) => ({ ...r, metric: label, ms: Math.max(r[k], 0.01), goal: GOALS[label] ?? null })));
    const spec = line(long, 'IMAP time against mailbox size', logx('mailbox_messages', 'messages in the mailbox', mb), logY('ms', 'ms'));
    delete spec.width; delete spec.height; delete spec.encoding.color;
    if (Object.keys(GOALS).length) spec.title.subtitle = [...(Array.isArray(spec.title.subtitle) ? spec.title.subtitle : [spec.title.subtitle]), GOAL_NOTE];
    written.push(await render(path.join(dir, 'mailbox-times.svg'), {
      ...spec, data: { values: long },
      facet: { field: 'metric', type: 'nominal', title: null, sort: Object.values(metrics) }, columns: 3,
      spec: { width: 240, height: 180, layer: [
        { mark: { type: 'line', point: true }, encoding: { ...line(long, '', logx('mailbox_messages', 'messages in the mailbox', mb), logY('ms', 'ms')).encoding } },
        ...(Object.keys(GOALS).length ? [{ mark: RULE, encoding: { y: { field: 'goal', type: 'quantitative', aggregate: 'max' } } }] : []),
      ] },
      resolve: { scale: { y: 'independent' } },
      mark: undefined, encoding: undefined,
    }));
    const mem = mb.flatMap((r) => [
      { ...r, what: `${r.target}: after SELECT`, phase: 'after SELECT (dashed)', mb: r.server_anon_mb_after_select },
      { ...r, what: `${r.target}: after FETCH + SEARCH`, phase: 'after FETCH + SEARCH (solid)', mb: r.server_anon_mb },
    ]).filter((r) => r.mb != null);
    written.push(await render(path.join(dir, 'mailbox-memory.svg'), withGoal(line(mem, 'Server memory (anonymous RSS, file pages left out) against mailbox size',
      logx('mailbox_messages', 'messages in the mailbox', mb), linY('mb', 'MB'), { strokeDash: { field: 'phase', type: 'nominal', title: null, scale: { domain: ['after SELECT (dashed)', 'after FETCH + SEARCH (solid)'], range: [[5, 4], [1, 0]] } }, detail: { field: 'what' } }), GOALS.mailbox_mb)));
  }
  const idle = of('idle_connections');
  if (idle.length) {
    written.push(await render(path.join(dir, 'idle-memory.svg'),
      withGoal(line(idle, 'Server memory against idle IMAP sessions (LOGIN, SELECT, IDLE)', logx('connections', 'idle IMAP sessions'), logY('server_pss_mb', 'server memory, MB (PSS, log scale)')), GOALS.idle_rss_mb)));
    written.push(await render(path.join(dir, 'idle-new-client.svg'),
      withGoal(line(idle, 'A new client (LOGIN+SELECT+FETCH 1) while the sessions are held', logx('connections', 'idle IMAP sessions'), linY('new_client_ms', 'ms (median)')), GOALS.new_client_ms)));
  }
  return written;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  let out = null;
  const o = args.indexOf('--out');
  if (o >= 0) { out = args[o + 1]; args.splice(o, 2); if (!out) throw new Error('--out DIR'); }
  const [first, ...more] = args;
  for (const f of await plot(first ?? newest(), more, out)) console.log(f);
}
