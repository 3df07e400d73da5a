#!/usr/bin/env node
require('../../bin/run')('client/src/cli');
