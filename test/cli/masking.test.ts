/** The black-box masking suite (masking-suite.ts) in direct mode. */
import { defineMaskingSuite } from './masking-suite.js';

defineMaskingSuite('direct');
