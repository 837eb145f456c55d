// Exit 0 when ADDRESS's stored password is `change-me`, the example of earlier docker-compose.yml
// files (so docker/entrypoint.sh replaces it); 1 when it is not or there is no such user.
// Only the store's hash is read and checked (scrypt), as a login would.
const [address] = process.argv.slice(2);
const app = process.env.POSTOFFICE_APP ?? '/app';
const { openToolStore } = await import(`${app}/dist/src/store/index.js`);
const { verifyPassword } = await import(`${app}/dist/src/auth/password.js`);
// the server's store: the SQLite file in the data dir, or the PostgreSQL database several nodes share
const store = await openToolStore(process.env.POSTOFFICE_DATA_DIR ?? '/data', { storeUrl: process.env.POSTOFFICE_STORE_URL || null });
try {
  const row = address ? await store.users.passwordHash(address) : null;
  process.exitCode = row && (await verifyPassword('change-me', row.hash)) ? 0 : 1;
} finally {
  await store.close();
}
