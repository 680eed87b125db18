import { runCorpus } from './harness.js';
import { accountCases } from './cases/accounts.js';

runCorpus('accounts, modules and flags', accountCases);
