// Small pure pieces of the SMTP client side.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enhancedStatus, sourceAddress } from '../../src/relay/smtp-client.js';
import { parseDuration } from '../../src/relay/queue-runner.js';

test('RFC 3463 enhanced status from a reply, or from its class', () => {
  const table: [string, string][] = [
    ['550 5.1.1 no such user', '5.1.1'], ['451-4.7.1 greylisted', '4.7.1'], ['250 2.6.0 Ok', '2.6.0'],
    ['554 go away', '5.0.0'], ['421 closing', '4.0.0'], ['connection refused', '4.4.1'],
  ];
  for (const [reply, want] of table) assert.equal(enhancedStatus(reply), want, reply);
});

test('outbound connections leave from the listen address only where that can work', () => {
  assert.equal(sourceAddress('127.0.0.2', '127.0.0.3'), '127.0.0.2');
  assert.equal(sourceAddress('127.0.0.1', '192.0.2.1'), undefined, 'loopback cannot reach the world');
  assert.equal(sourceAddress('0.0.0.0', '192.0.2.1'), undefined);
  assert.equal(sourceAddress('203.0.113.5', '192.0.2.1'), '203.0.113.5');
  assert.equal(sourceAddress('203.0.113.5', '2001:db8::1'), undefined, 'not across address families');
});

test('durations for the retry schedule', () => {
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('4h'), 14_400_000);
  assert.equal(parseDuration('5d'), 432_000_000);
  assert.equal(parseDuration('90'), 90_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.throws(() => parseDuration('soon'), /not a duration/);
});
