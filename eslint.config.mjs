import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// Lint finds dead code and real mistakes; formatting is prettier's job and
// the import floors are dependency-cruiser's (.dependency-cruiser.js).
export default tseslint.config(
    { ignores: ['build/**', 'dist/**', 'node_modules/**', 'temp/**', 'coverage/**'] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        languageOptions: { globals: { require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly', console: 'readonly', Buffer: 'readonly' } },
        linterOptions: { reportUnusedDisableDirectives: 'error' },
        rules: {
            '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
            '@typescript-eslint/no-require-imports': 'off',
            // OpenAI request and response objects pass through as JSON the SDK does not own;
            // tests and benchmarks poke at raw answers on purpose.
            '@typescript-eslint/no-explicit-any': 'off',
        },
    },
    // The pages under web/ run in the browser, as ES modules.
    { files: ['web/**/*.js'], languageOptions: { sourceType: 'module', globals: globals.browser } },
);
