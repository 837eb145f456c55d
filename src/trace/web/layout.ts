// The frame of every dashboard page: the top bar (sections, who is signed in, sign out, the live
// indicator) and the one small inline script: it listens to /events (Server-Sent Events) and, when
// something new happened, fetches the page again and swaps its live part without a reload.
import { html, trusted, type Html } from './html.js';
import type { WebSession } from './session.js';

export interface PageOptions {
  title: string;
  session: WebSession | null;
  /** the current section, for the top bar */
  section?: string;
  /** the CSP nonce of this response (the inline script) */
  nonce: string;
  /** refresh the element #live when new journey steps or sessions appear */
  live?: boolean;
  flash?: { text: string; error?: boolean } | null;
}

const ADMIN_NAV: [string, string][] = [
  ['/', 'Overview'], ['/messages', 'Messages'], ['/sessions', 'Sessions'], ['/queue', 'Queue'],
  ['/accounts', 'Accounts'], ['/connect', 'Connect a client'], ['/inbox', 'My inbox'],
];
const USER_NAV: [string, string][] = [['/inbox', 'My inbox'], ['/connect', 'Connect a client']];

// fetches the page again and replaces #live; rows whose data-key is new are flashed
const SCRIPT = `
(() => {
  const box = document.getElementById('live');
  const dot = document.getElementById('live-dot');
  if (!box || !window.EventSource) return;
  let timer = null, busy = false, again = false;
  const refresh = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const old = new Set([...box.querySelectorAll('[data-key]')].map((e) => e.dataset.key));
      const r = await fetch(location.href, { headers: { accept: 'text/html' }, credentials: 'same-origin' });
      if (r.ok) {
        const doc = new DOMParser().parseFromString(await r.text(), 'text/html');
        const fresh = doc.getElementById('live');
        if (fresh) {
          box.innerHTML = fresh.innerHTML;
          for (const e of box.querySelectorAll('[data-key]')) if (!old.has(e.dataset.key)) e.classList.add('new');
          document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
        }
      }
    } finally { busy = false; if (again) { again = false; refresh(); } }
  };
  const es = new EventSource('/events');
  es.onopen = () => { dot.classList.add('on'); dot.textContent = 'live'; };
  es.onerror = () => { dot.classList.remove('on'); dot.textContent = 'reconnecting'; };
  const later = () => { clearTimeout(timer); timer = setTimeout(refresh, 150); };
  es.addEventListener('journey', later);
  es.addEventListener('session', later);
})();
`;

export function page(o: PageOptions, body: Html): string {
  const user = o.session?.user ?? null;
  const nav = user ? (user.admin ? ADMIN_NAV : USER_NAV) : [];
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · postoffice</title><link rel="stylesheet" href="/dashboard.css"></head>
<body>
<header class="top">
  <a class="brand" href="${user ? (user.admin ? '/' : '/inbox') : '/login'}">✉ postoffice<small>watch the mail travel</small></a>
  <nav>${nav.map(([href, label]) => html`<a href="${href}" class="${o.section === href ? 'on' : ''}">${label}</a>`)}</nav>
  ${user ? html`<div class="who">${o.live ? html`<span class="live" id="live-dot">live</span>` : ''}
    <span>${user.address}${user.admin ? html` <span class="tag plain">admin</span>` : ''}</span>
    <form class="inline" method="post" action="/logout"><input type="hidden" name="_csrf" value="${o.session!.csrf}"><button>Sign out</button></form></div>` : ''}
</header>
<main>
${o.flash ? html`<div class="flash ${o.flash.error ? 'error' : ''}" role="status">${o.flash.text}</div>` : ''}
${body}
</main>
${o.live ? html`<script nonce="${o.nonce}">${trusted(SCRIPT)}</script>` : ''}
</body></html>`.value;
}
