import { runCorpus } from './harness.js';
import { ntpCases } from './cases/ntp.js';

runCorpus('NTP garbage', ntpCases);
