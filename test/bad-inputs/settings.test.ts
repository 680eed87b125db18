import { runCorpus } from './harness.js';
import { settingsCases } from './cases/settings.js';

runCorpus('2fasettings', settingsCases);
