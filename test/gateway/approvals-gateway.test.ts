/** The approvals suite (test/approval/approval-suite.ts) through `hoopq gateway`: the agent and `hoopq review` from an empty folder. */
import { defineApprovalSuite } from '../approval/approval-suite.js';

defineApprovalSuite('gateway');
