export { startSmtp, type SmtpListenerHandle } from './server.js';
export type { SmtpContext, SmtpListener } from './context.js';
