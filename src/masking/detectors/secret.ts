/**
 * secret: credentials with a recognisable shape: PEM private-key blocks, AWS access key
 * ids (and secret keys when labelled `aws_secret_access_key`), Google API keys, GitHub
 * tokens, Slack tokens and JWTs. A private-key header with no END line is redacted to the
 * end of the text (a cut-off key is still a key).
 */
import { redactMatches, type Detector } from './detector.js';

const SECRET = new RegExp(
  [
    String.raw`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)`,
    String.raw`(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])`,
    // an AWS secret access key has no shape of its own; caught only when labelled as one
    String.raw`(?<=(?:secret_access_key|SECRET_ACCESS_KEY|SecretAccessKey)["']?\s*[:=]\s*["']?)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])`,
    String.raw`(?<![\w-])AIza[\w-]{35}(?![\w-])`,
    String.raw`(?<!\w)gh[pousr]_[A-Za-z0-9]{36,251}(?!\w)`,
    String.raw`(?<!\w)github_pat_\w{22,244}(?!\w)`,
    String.raw`(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}`,
    // header.payload.signature; an empty signature (alg "none") still carries the claims
    String.raw`(?<![\w-])eyJ[\w-]{2,}\.eyJ[\w-]{2,}\.[\w-]*`,
  ].join('|'),
  'g',
);

const SECRET_PREFIX = /-----BEGIN|AKIA|ASIA|AIza|gh[pousr]_|github_pat_|xox[abposr]-|eyJ|ECRET_ACCESS_KEY|ecret_access_key|ecretAccessKey/;

export const secretDetector: Detector = {
  name: 'secret',
  replacement: '[SECRET]',
  // the shortest shapes (an AWS key id, a Slack token) have 15+ characters
  admits: (t) => t.length >= 15,
  // every shape starts with one of these literals; a literal search is far cheaper than SECRET
  redact: (text) => (SECRET_PREFIX.test(text) ? redactMatches(text, SECRET, () => '[SECRET]') : { text, count: 0 }),
};
