// "Connect your client": the exact settings for Thunderbird, Outlook, Foxmail and the phones'
// mail apps, taken from the listeners that are on, and a QR code of the autoconfiguration URL.
import type { FastifyInstance } from 'fastify';
import qrcode from 'qrcode';
import { type Dashboard, type DashboardOffice } from './context.js';
import { html, trusted, type Html } from './html.js';

interface Server { kind: 'IMAP' | 'POP3' | 'SMTP'; port: number; security: 'SSL/TLS' | 'STARTTLS'; listener: string }

/** The servers to offer, implicit TLS first (as autoconfig lists them). */
function servers(o: DashboardOffice): Server[] {
  const on = (name: string) => o.listeners().find((l) => l.name === name && l.state === 'listening')?.port ?? 0;
  const all: Server[] = [
    { kind: 'IMAP', port: on('imaps'), security: 'SSL/TLS', listener: 'imaps' }, { kind: 'IMAP', port: on('imap'), security: 'STARTTLS', listener: 'imap' },
    { kind: 'POP3', port: on('pop3s'), security: 'SSL/TLS', listener: 'pop3s' }, { kind: 'POP3', port: on('pop3'), security: 'STARTTLS', listener: 'pop3' },
    { kind: 'SMTP', port: on('smtps'), security: 'SSL/TLS', listener: 'smtps' }, { kind: 'SMTP', port: on('submission'), security: 'STARTTLS', listener: 'submission' },
  ];
  return all.filter((s) => s.port);
}

export function registerConnect(app: FastifyInstance, dash: Dashboard): void {
  app.get('/connect', { config: { access: 'user' } }, async (req, reply) => {
    const me = req.web!.user!;
    // admins see every post office; a user sees their own
    const offices = me.admin ? dash.offices : dash.offices.filter((o) => o.name === me.office);
    const base = `${req.protocol}://${req.headers.host ?? `${req.hostname}`}`;
    const sections: Html[] = [];
    for (const o of offices) {
      const s = servers(o);
      const first = (k: Server['kind']) => s.find((x) => x.kind === k);
      const imap = first('IMAP');
      const pop = first('POP3');
      const smtp = first('SMTP');
      const address = me.office === o.name ? me.address : `you@${(await o.store.domains.list())[0]?.name ?? o.name}`;
      const url = `${base}/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(address)}`;
      const svg = await qrcode.toString(url, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
      const host = o.hostname;
      const row = (x: Server | undefined, what: string) => x ? html`<tr><td><b>${what}</b></td><td>${x.kind}</td><td class="mono">${host}</td><td class="mono">${x.port}</td><td>${x.security}</td></tr>` : '';
      sections.push(html`<section class="panel">
<h2 style="margin-top:0">${o.name}</h2>
<div class="grid">
<div>
<table><thead><tr><th></th><th>Protocol</th><th>Server</th><th>Port</th><th>Security</th></tr></thead><tbody>
${row(imap, 'Incoming (IMAP)')}${row(pop, 'Incoming (POP3)')}${row(smtp, 'Outgoing (SMTP)')}
${s.filter((x) => x !== imap && x !== pop && x !== smtp).map((x) => html`<tr class="muted"><td>also</td><td>${x.kind}</td><td class="mono">${host}</td><td class="mono">${x.port}</td><td>${x.security}</td></tr>`)}
</tbody></table>
<p><b>User name:</b> the whole address (<code>${address}</code>) · <b>Password:</b> the account's password ("normal password", no OAuth) · the same for incoming and outgoing.</p>
${o.listen ? html`<p class="muted">The name <code>${host}</code> may not resolve on your machine: use the address <code>${o.listen}</code> as server, or add <code>${o.listen} ${host}</code> to your hosts file.</p>` : ''}
<p class="muted">The certificate is self-signed unless <code>tlsCert</code> is set: accept it once when the client asks.</p>
</div>
<div class="qr"><b>Automatic set-up (Mozilla autoconfig)</b><br>${trusted(svg)}<br><a class="mono" href="${url}">${url}</a></div>
</div>
<h3>Step by step</h3>
<ul>
<li><b>Thunderbird</b> (and Thunderbird for Android / K-9, Evolution, KMail): Add account, enter the address and password. They ask <code>autoconfig.${address.split('@')[1]}/mail/config-v1.1.xml</code> — this dashboard answers it: point that name at it, or pick <i>Configure manually</i> and enter the table above.</li>
<li><b>Outlook</b>: File → Add account → Advanced options → <i>Let me set up my account manually</i> → ${imap ? 'IMAP' : 'POP'}: incoming <code>${host}</code> port ${imap?.port ?? pop?.port ?? ''} (${imap?.security ?? pop?.security ?? ''}), outgoing <code>${host}</code> port ${smtp?.port ?? ''} (${smtp?.security ?? ''}). Outlook's Autodiscover (<code>/autodiscover/autodiscover.xml</code>) is answered too, over HTTPS behind a proxy.</li>
<li><b>Foxmail</b>: New account → <i>Manual</i> → type ${imap ? 'IMAP' : 'POP3'}; enter the servers and ports above and tick SSL for the SSL/TLS ports.</li>
<li><b>iPhone / iPad Mail</b>: Settings → Mail → Accounts → Add account → Other → Add Mail Account; then choose IMAP and enter host name, user name (the whole address) and password for both servers; SSL on.</li>
<li><b>Android (Gmail app)</b>: Add account → Other → Personal (IMAP) → the address, then the servers above; security SSL/TLS or STARTTLS as listed.</li>
</ul>
</section>`);
    }
    return dash.send(req, reply, { title: 'Connect a client', section: '/connect' }, html`
<h1>Connect your mail client</h1>
<p class="lead">A mail client (an MUA) sends through the submission port with your password, and reads with IMAP (the mail stays on the server) or POP3 (it is downloaded). These are the exact settings of ${offices.length > 1 ? 'these post offices' : 'this post office'}.</p>
${sections}`);
  });
}
