/** The approvals suite (approval-suite.ts) in direct mode: the CLI runs the pipeline and `hoopq review` works on the state store. */
import { defineApprovalSuite } from './approval-suite.js';

defineApprovalSuite('direct');
