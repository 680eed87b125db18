import { runCorpus } from './harness.js';
import { databaseCases } from './cases/database.js';

runCorpus('the database', databaseCases);
