/** The black-box bq face suite (test/cli/bq-suite.ts) against a running gateway: same output, same exit codes. */
import { defineBqSuite } from '../cli/bq-suite.js';

defineBqSuite('gateway');
