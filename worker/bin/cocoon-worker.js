#!/usr/bin/env node
require('../../bin/run')('worker/src/cli');
