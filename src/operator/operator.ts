/** A named person acting as an operator: who approves, denies and revokes, as the audit log names them. */
export interface Operator {
  name: string;
  /** How they proved it: a personal key (`hoopq operator add`) or an OIDC login. */
  auth: 'key' | 'oidc';
}

/** The audit log's view of an operator, with where they acted. */
export function operatorRef(operator: Operator, via: 'cli' | 'api' | 'console'): { name: string; auth: string; via: string } {
  return { name: operator.name, auth: operator.auth, via };
}
