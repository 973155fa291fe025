/** The black-box query suite (test/cli/query-suite.ts) through `hoopq gateway`, from an empty folder. */
import { defineQuerySuite } from '../cli/query-suite.js';

defineQuerySuite('gateway');
