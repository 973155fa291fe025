/** The black-box masking suite (test/cli/masking-suite.ts) with queries sent through `hoopq gateway`. */
import { defineMaskingSuite } from '../cli/masking-suite.js';

defineMaskingSuite('gateway');
