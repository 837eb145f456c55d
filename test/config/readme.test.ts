// The README's configuration table must name every setting the code knows.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { KEYS } from '../../src/config/config.js';
import { ROOT } from '../helpers/lab.js';

test('README documents every config key and env var', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  for (const k of KEYS) {
    assert.ok(readme.includes(`\`${k.env}\``), `README lacks ${k.env}`);
    assert.ok(readme.includes(`\`${k.key}\``), `README lacks ${k.key}`);
  }
  assert.match(readme, /npm test/);
  assert.match(readme, /npm start/);
});
