import { afterAll } from 'vitest';
import { removeTempDirs } from './helpers/tmp.js';

// Every test file removes the directories it made with tempDir() when it ends.
afterAll(removeTempDirs);
