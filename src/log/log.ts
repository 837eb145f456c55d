// pino: JSON lines, pretty when stdout is a terminal. A child logger per session {sid, proto, remote}.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, opts: { pretty?: boolean } = {}): Logger {
  const pretty = opts.pretty ?? process.stdout.isTTY;
  return pino({
    level,
    base: undefined,
    // never log secrets, even by accident
    redact: { paths: ['password', '*.password', 'pass', '*.pass', 'auth.password'], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}

/** A logger that writes nothing: for tests and CLI one-shots. */
export const silentLogger: Logger = pino({ level: 'silent' });
