#!/usr/bin/env node
// The published entry: the bundled build (npm run build). Kept tiny so start-up is node's own.
import { run } from '../dist/cli.js';

run();
