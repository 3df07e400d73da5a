#!/usr/bin/env node
require('../../bin/run')('devnet/cli');
