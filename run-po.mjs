import { startLab } from './dist/test/helpers/lab.js';
import { spawn } from 'node:child_process';
const lab = await startLab(null, { users: { 'bob@example.test': 'secret' } });
const c = spawn('python3', [process.argv[2], String(lab.port('imap')), 'bob@example.test', 'secret']);
let out = ''; c.stdout.on('data', d => out += d); c.stderr.on('data', d => out += d);
await new Promise(r => c.on('close', r));
console.log(out);
await lab.close();
