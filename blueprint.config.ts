import { Config } from '@ton/blueprint';
import { reportErrorsInOneLine } from './scripts/lib/errors';

reportErrorsInOneLine();

export const config: Config = {};
