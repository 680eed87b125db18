import { runCorpus } from './harness.js';
import { ccHashCases } from './cases/cc-hash.js';

runCorpus('cc_encryption_hash', ccHashCases);
