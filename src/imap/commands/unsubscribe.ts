import { subscription } from './subscribe.js';

// RFC 3501 §6.3.7 UNSUBSCRIBE: remove a mailbox from the subscribed list.
export const unsubscribe = subscription(false, 'UNSUBSCRIBE');
