/**
 * Whether a node-postgres failure's code is a SQLSTATE (five characters: the server answered,
 * with an error) rather than a socket error code (ECONNREFUSED and friends: it was not reached).
 */
export function isSqlState(code: string | undefined): boolean {
  return code !== undefined && /^[0-9A-Z]{5}$/.test(code);
}
