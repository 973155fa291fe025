/** The black-box smuggling suite (smuggling-suite.ts) in direct mode. */
import { defineSmugglingSuite } from './smuggling-suite.js';

defineSmugglingSuite('direct');
