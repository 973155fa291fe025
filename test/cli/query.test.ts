/** The black-box query suite (query-suite.ts) in direct mode. */
import { defineQuerySuite } from './query-suite.js';

defineQuerySuite('direct');
