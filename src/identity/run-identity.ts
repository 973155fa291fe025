/**
 * Who is asking: the verified claims of a run token. Produced only by `verifyRunToken`.
 */
export interface RunIdentity {
  run: string;
  subject: string;
  tokenId: string;
  policy: string;
  /** The policy digest the token was minted against. */
  policySha256: string;
  issuedAt: number; // seconds since epoch
  expiresAt: number; // seconds since epoch
  /** Optional tighter budget set at mint time. */
  maxQueries?: number;
  kid: string;
}
