// ESLint 9 flat config, run by `npm run lint` (then `prettier --check`: Prettier owns the layout).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const UNUSED = { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true };

export default tseslint.config(
  {
    // Installed, generated or local-only output, and test inputs (as in .prettierignore).
    ignores: [
      'node_modules/',
      'dist/',
      'out/',
      'docs/api/',
      '.cache/',
      '.gpukit/',
      'scratch/',
      'data/',
      'notebooks/',
      'test/fixtures/',
      'kernel/typings/',
    ],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  js.configs.recommended,
  {
    // Everything here runs in Node (lib, kernel, bin, scripts, tests, benchmarks).
    languageOptions: { globals: { ...globals.node } },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
  {
    // typescript-eslint's recommended set, not the type-checked one: fast enough for every run.
    files: ['**/*.{ts,mts,cts}'],
    extends: [tseslint.configs.recommended],
    rules: {
      // `any` is deliberate where the code reaches into tfjs internals (kernel registries, backends),
      // patches globals, or reads untyped JSON and native modules; those are checked by tests.
      '@typescript-eslint/no-explicit-any': 'off',
      // require() is deliberate: lazy loading of optional backends and native or heavy modules only
      // when used, and loading through module objects that tests mock.
      '@typescript-eslint/no-require-imports': 'off',
      // `Function` is the honest type where the code wraps or swaps methods of any signature
      // (process.exit and friends in the kernel's guard, tfjs registries in backend reset).
      '@typescript-eslint/no-unsafe-function-type': 'off',
      // @ts-ignore is kept where the two compilers (tslab's TS 5.0, the project's 5.9) disagree, so
      // @ts-expect-error would fail on one of them; it must say which error it silences.
      '@typescript-eslint/ban-ts-comment': ['error', { 'ts-ignore': 'allow-with-description' }],
    },
  },
  {
    // A leading underscore marks a deliberately unused binding; rest siblings strip keys from a copy.
    files: ['**/*.{ts,mts,cts}'],
    rules: { '@typescript-eslint/no-unused-vars': ['error', UNUSED] },
  },
  {
    files: ['**/*.{js,mjs,cjs}'],
    rules: { 'no-unused-vars': ['error', UNUSED] },
  },
  {
    rules: {
      // Tests and the doctor match column-aligned text, where the spaces in a regex are the layout.
      'no-regex-spaces': 'off',
      // ESC (\x1b) in a regex is deliberate: it matches or strips ANSI colour codes in terminal output.
      'no-control-regex': 'off',
    },
  },
);
