/** The black-box bq face suite (bq-suite.ts) in direct mode. */
import { defineBqSuite } from './bq-suite.js';

defineBqSuite('direct');
