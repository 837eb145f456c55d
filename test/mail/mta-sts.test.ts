// RFC 8461 vocabulary: the policy file (§3.2) parsed and written, the TXT record (§3.1), MX
// patterns (§4.1). Tables of input -> result.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_AGE_LIMIT, mxMatches, parsePolicy, parseStsTxt, policyId, policyText, stsTxt } from '../../src/mail/mta-sts.js';

test('parsePolicy: valid policies (CRLF or LF, unknown keys ignored, max_age capped at a year)', () => {
  const cases: [string, ReturnType<typeof parsePolicy>][] = [
    ['version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n', { mode: 'enforce', mx: ['mail.example.com', '*.example.net'], maxAge: 604800 }],
    ['version: STSv1\nmode: testing\nmx: MX1.Example.COM.\nmax_age: 86400\nextension: ignored\n', { mode: 'testing', mx: ['mx1.example.com'], maxAge: 86400 }],
    ['version: STSv1\r\nmode: none\r\nmax_age: 9999999999\r\n', { mode: 'none', mx: [], maxAge: MAX_AGE_LIMIT }],
  ];
  for (const [body, want] of cases) assert.deepEqual(parsePolicy(body), want, body);
});

test('parsePolicy: invalid policies say why', () => {
  const cases: [string, RegExp][] = [
    ['version: STSv2\r\nmode: enforce\r\nmx: a.example\r\nmax_age: 1\r\n', /version is "STSv2"/],
    ['version: STSv1\r\nmode: strict\r\nmx: a.example\r\nmax_age: 1\r\n', /mode "strict"/],
    ['version: STSv1\r\nmode: enforce\r\nmx: a.example\r\n', /no valid max_age/],
    ['version: STSv1\r\nmode: enforce\r\nmax_age: 10\r\n', /names no mx/],
    ['<html>not a policy</html>', /not "key: value"/],
  ];
  for (const [body, re] of cases) assert.throws(() => parsePolicy(body), re, body);
});

test('policyText round-trips, and its id is 1-32 alphanumerics that change with the text', () => {
  const p = { mode: 'enforce' as const, mx: ['mail.example.org'], maxAge: 604800 };
  const text = policyText(p);
  assert.equal(text, 'version: STSv1\r\nmode: enforce\r\nmx: mail.example.org\r\nmax_age: 604800\r\n');
  assert.deepEqual(parsePolicy(text), p);
  assert.match(policyId(text), /^[A-Za-z0-9]{1,32}$/);
  assert.notEqual(policyId(text), policyId(policyText({ ...p, mode: 'testing' })));
  assert.equal(parseStsTxt(stsTxt(policyId(text))), policyId(text));
});

test('parseStsTxt: §3.1 records', () => {
  const cases: [string, string | null][] = [
    ['v=STSv1; id=20160831085700Z', '20160831085700Z'],
    ['v=STSv1;id=abc;', 'abc'],
    ['v=STSv1; id=abc; ext=1', 'abc'],
    ['v=STSv1', null],
    ['v=spf1 mx -all', null],
    ['id=abc; v=STSv1', null],
    ['v=STSv1; id=has-dash', null],
    ['v=STSv1; id=' + 'a'.repeat(33), null],
  ];
  for (const [txt, want] of cases) assert.equal(parseStsTxt(txt), want, txt);
});

test('mxMatches: §4.1 exact names and one-label wildcards', () => {
  const cases: [string, string[], boolean][] = [
    ['mail.example.com', ['mail.example.com'], true],
    ['MAIL.example.com.', ['mail.example.com'], true],
    ['mx1.example.com', ['*.example.com'], true],
    ['a.b.example.com', ['*.example.com'], false],
    ['example.com', ['*.example.com'], false],
    ['mail.example.net', ['mail.example.com', '*.example.org'], false],
  ];
  for (const [host, patterns, want] of cases) assert.equal(mxMatches(host, patterns), want, `${host} vs ${patterns.join(',')}`);
});
