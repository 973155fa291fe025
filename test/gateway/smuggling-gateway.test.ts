/** The black-box smuggling suite (test/cli/smuggling-suite.ts) with queries sent through `hoopq gateway`. */
import { defineSmugglingSuite } from '../cli/smuggling-suite.js';

defineSmugglingSuite('gateway');
