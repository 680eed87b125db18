import { runCorpus } from './harness.js';
import { dbUrlCases } from './cases/db-url.js';

runCorpus('--db URLs', dbUrlCases);
