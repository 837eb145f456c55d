// The sink MX for the relay benches, in its own process (as for Postfix, the relay under test
// does not share its CPU with the sink): smtp-server that discards. Forked with IPC; it sends
// {port} when listening, answers 'stats' with {sunk, connections}.
import { SMTPServer } from 'smtp-server';
import { makeSelfSigned } from '../dist/src/tls/tls.js';

const TLS = process.argv.includes('--tls');
let sunk = 0;
let connections = 0;
const tlsMat = TLS ? await makeSelfSigned('sink.bench.test') : null;
const sink = new SMTPServer({
  logger: false, disableReverseLookup: true, authOptional: true, disabledCommands: TLS ? ['AUTH'] : ['AUTH', 'STARTTLS'], size: 64 * 1024 * 1024,
  ...(tlsMat ? { key: tlsMat.key, cert: tlsMat.cert } : {}),
  onConnect(_s, cb) { connections++; cb(); },
  onData(stream, _s, cb) { stream.on('data', () => {}); stream.on('end', () => { sunk++; cb(null, 'discarded'); }); },
});
sink.on('error', () => {});
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
process.send({ port: sink.server.address().port });
process.on('message', (m) => { if (m === 'stats') process.send({ sunk, connections }); });
process.on('disconnect', () => process.exit(0));
