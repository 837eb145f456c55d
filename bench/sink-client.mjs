// Fork bench/sink.mjs and talk to it.
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export async function startSink(tls = false) {
  const child = fork(path.join(path.dirname(fileURLToPath(import.meta.url)), 'sink.mjs'), tls ? ['--tls'] : [], { stdio: 'inherit' });
  const port = await new Promise((resolve) => child.once('message', (m) => resolve(m.port)));
  return {
    port,
    stats: () => new Promise((resolve) => { child.once('message', resolve); child.send('stats'); }),
    close: () => child.disconnect(),
  };
}
