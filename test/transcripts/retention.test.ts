// Retention: the config keys (transcripts, transcriptRetention, transcriptMaxBytes, journeyRetention)
// and the pruner that applies them to the store.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { silentLogger } from '../../src/log/log.js';
import { startPruner } from '../../src/store/retention.js';
import { labEnv, startLab } from '../helpers/lab.js';

test('config: transcripts defaults off, retention keys parsed, bad values are one-line errors', () => {
  const c = loadConfig(labEnv('/tmp/x'));
  assert.equal(c.transcripts, 'off');
  assert.equal(c.transcriptRetention, '7d');
  assert.equal(c.transcriptMaxBytes, 100 * 1024 * 1024);
  assert.equal(c.journeyRetention, '30d');
  assert.equal(loadConfig(labEnv('/tmp/x', { POSTOFFICE_TRANSCRIPTS: 'on' })).transcripts, 'on');
  assert.throws(() => loadConfig(labEnv('/tmp/x', { POSTOFFICE_TRANSCRIPTS: 'yes' })), (e: Error) => e instanceof ConfigError && /transcripts \(POSTOFFICE_TRANSCRIPTS\): expected on or off/.test(e.message));
  assert.throws(() => loadConfig(labEnv('/tmp/x', { POSTOFFICE_JOURNEY_RETENTION: 'a month' })), (e: Error) => e instanceof ConfigError && /journeyRetention/.test(e.message));
  assert.throws(() => loadConfig(labEnv('/tmp/x', { POSTOFFICE_TRANSCRIPT_MAX_BYTES: '-1' })), ConfigError);
});

test('the pruner applies the configured retention to transcripts and the journey', async (t) => {
  const lab = await startLab(t, { env: { POSTOFFICE_TRANSCRIPT_RETENTION: '2d', POSTOFFICE_JOURNEY_RETENTION: '10d', POSTOFFICE_TRANSCRIPT_MAX_BYTES: '1000000' } });
  const { store } = lab.po;
  const day = 86_400_000;
  const now = Date.now();
  const session = (sid: string, started: number) => ({ sid, protocol: 'smtp', local: null, remote: null, user: null, tls: null, started, ended: started + 1, msgIds: [] });
  await store.transcripts.write(session('old', now - 3 * day), [{ t: now - 3 * day, dir: 'S', text: '220 old' }]);
  await store.transcripts.write(session('new', now - day), [{ t: now - day, dir: 'S', text: '220 new' }]);
  await store.journey.record([
    { msgId: 'x.1', agent: 'MTA in', step: 'received', time: now - 11 * day, details: {} },
    { msgId: 'x.2', agent: 'MTA in', step: 'received', time: now - 9 * day, details: {} },
  ]);
  const pruner = startPruner(store, lab.config, silentLogger);
  t.after(() => pruner.stop());
  await pruner.run();
  assert.deepEqual((await store.transcripts.list({ limit: 10 })).map((s) => s.sid), ['new']);
  assert.deepEqual(await store.journey.trace('x.1'), []);
  assert.equal((await store.journey.trace('x.2')).length, 1);
  await pruner.stop();
  await pruner.run(); // stopped: does nothing, and does not fail
});
