import { runCorpus } from './harness.js';
import { configurationPhpCases } from './cases/configuration-php.js';

runCorpus('configuration.php', configurationPhpCases);
