// Mail clients that set themselves up from an address alone (Thunderbird, Thunderbird for
// Android/K-9, Evolution, KMail) ask http://autoconfig.DOMAIN/mail/config-v1.1.xml or
// https://DOMAIN/.well-known/autoconfig/mail/config-v1.1.xml: Mozilla's autoconfiguration format
// (wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat). The HTTP listener answers
// both paths with the listeners that are on, implicit TLS first: point those names (or a proxy on
// port 80/443) at it. The login name is the whole address (%EMAILADDRESS%).
import type { Ports } from '../config/config.js';

export interface AutoconfigInput {
  hostname: string;
  domains: string[];
  listeners: { name: keyof Ports; port: number; state: 'listening' | 'disabled' }[];
}

const esc = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The servers in the order a client should prefer them: implicit TLS, then STARTTLS. */
const SERVERS: { listener: keyof Ports; tag: 'incomingServer' | 'outgoingServer'; type: string; socket: 'SSL' | 'STARTTLS' }[] = [
  { listener: 'imaps', tag: 'incomingServer', type: 'imap', socket: 'SSL' },
  { listener: 'imap', tag: 'incomingServer', type: 'imap', socket: 'STARTTLS' },
  { listener: 'pop3s', tag: 'incomingServer', type: 'pop3', socket: 'SSL' },
  { listener: 'pop3', tag: 'incomingServer', type: 'pop3', socket: 'STARTTLS' },
  { listener: 'smtps', tag: 'outgoingServer', type: 'smtp', socket: 'SSL' },
  { listener: 'submission', tag: 'outgoingServer', type: 'smtp', socket: 'STARTTLS' },
];

export function autoconfigXml(o: AutoconfigInput): string {
  const host = esc(o.hostname);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<clientConfig version="1.1">',
    `  <emailProvider id="${esc(o.domains[0] ?? o.hostname)}">`,
    ...o.domains.map((d) => `    <domain>${esc(d)}</domain>`),
    `    <displayName>postoffice at ${host}</displayName>`,
    '    <displayShortName>postoffice</displayShortName>',
  ];
  for (const s of SERVERS) {
    const l = o.listeners.find((x) => x.name === s.listener && x.state === 'listening');
    if (!l) continue;
    lines.push(
      `    <${s.tag} type="${s.type}">`,
      `      <hostname>${host}</hostname>`,
      `      <port>${l.port}</port>`,
      `      <socketType>${s.socket}</socketType>`,
      '      <username>%EMAILADDRESS%</username>',
      '      <authentication>password-cleartext</authentication>',
      `    </${s.tag}>`,
    );
  }
  lines.push('  </emailProvider>', '</clientConfig>', '');
  return lines.join('\n');
}

/**
 * Outlook's "POX" Autodiscover (the answer to a POST of <EMailAddress> to
 * /autodiscover/autodiscover.xml, which Outlook asks over HTTPS: put a TLS proxy in front):
 * the same servers, with the address as login name. `postoffice dns` prints the names it looks up.
 */
export function autodiscoverXml(o: Omit<AutoconfigInput, 'domains'>, email: string): string {
  const host = esc(o.hostname);
  const login = esc(email);
  const out = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">',
    '  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">',
    '    <Account>',
    '      <AccountType>email</AccountType>',
    '      <Action>settings</Action>',
  ];
  for (const s of SERVERS) {
    const l = o.listeners.find((x) => x.name === s.listener && x.state === 'listening');
    if (!l) continue;
    out.push(
      '      <Protocol>',
      `        <Type>${s.type.toUpperCase()}</Type>`,
      `        <Server>${host}</Server>`,
      `        <Port>${l.port}</Port>`,
      '        <DomainRequired>off</DomainRequired>',
      `        <LoginName>${login}</LoginName>`,
      '        <SPA>off</SPA>',
      // implicit TLS is SSL=on; STARTTLS is Encryption=TLS
      s.socket === 'SSL' ? '        <SSL>on</SSL>' : '        <Encryption>TLS</Encryption>',
      '        <AuthRequired>on</AuthRequired>',
      ...(s.type === 'smtp' ? ['        <UsePOPAuth>off</UsePOPAuth>', '        <SMTPLast>off</SMTPLast>'] : []),
      '      </Protocol>',
    );
  }
  out.push('    </Account>', '  </Response>', '</Autodiscover>', '');
  return out.join('\n');
}

/** The address in an Autodiscover request body (<EMailAddress>), or null. */
export function autodiscoverEmail(body: string): string | null {
  const m = /<EMailAddress>\s*([^<\s]{1,320})\s*<\/EMailAddress>/i.exec(body);
  return m ? m[1] : null;
}
